/**
 * The scan prefilter (Codec.decodeFor) as a property over the sessions the benchmark writes and
 * the golden fixtures: for every value, decodeFor with the value's own user gives what decode
 * gives (never a skip), and for any other user a skip implies that decode's user is not that
 * user (and no skip means the same answer as decode). The other users are chosen to be near the
 * value: ids that occur in it as other text (a product id, a quantity, a SKU's digits, a hash's
 * digits), the owner's id with a digit more or less, and short ids such as 42, which occur inside
 * nearly every hash.
 */
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {deflateSync} from 'node:zlib'

import type {Codec, Decoded} from '../../src/formats/codec.js'

import {pickleDumps, type PickleValue} from '../../scripts/bench/pickle-write.js'
import {cacheValue} from '../../scripts/bench/redis-seed.js'
import {shapedRow, shapedSession, shapedUserId} from '../../scripts/bench/seed-shaped.js'
import {seedRow, seedUserId} from '../../scripts/bench/seed.js'
import {createDjangoCacheCodec} from '../../src/frameworks/django-cache.js'
import {createDjangoCodec} from '../../src/frameworks/django.js'
import {createExpressCodec} from '../../src/frameworks/express.js'
import {createFlaskCodec} from '../../src/frameworks/flask.js'
import {caseValue, djangoFixtures} from '../support/fixtures.js'

/** A deterministic sample of row indices over a million rows, with the special rows (anonymous, the heavy user). */
function sample(n: number): number[] {
  const out = [0, 1, 3, 13, 1999, 3999, 999_999]
  for (let k = 0; out.length < n; k++) out.push(((k * 104_729) + 17) % 1_000_000)
  return out
}

const FIXED_USERS = ['42', '1', '2', '7', '0', '-1', '100', '1000', '4.2e1', '60872', '234572', '9007199254740993', 'alice']

/** Other users to try on a value: FIXED_USERS, ids near the owner's, and numbers that occur in the value's text. */
function usersFor(owner: null | string, text: string): string[] {
  const users = new Set(FIXED_USERS)
  if (owner !== null) {
    users.add(owner.slice(1) || '9')
    users.add(owner.slice(0, -1) || '9')
    users.add(`${owner}0`)
    users.add(`0${owner}`)
    if (/^\d+$/.test(owner)) users.add(String(Number(owner) + 1))
  }

  const numbers = text.match(/\d+/g) ?? []
  for (let k = 0; k < numbers.length && k < 40; k += 7) users.add(String(Number(numbers[k])))
  if (owner !== null) users.delete(owner)
  return [...users]
}

/** A decode as a scan reads it: lite decodes may leave `data` empty. */
function scanView(d: Decoded | undefined): unknown {
  return d?.ok ? {...d, data: undefined} : d
}

function isUsers(d: Decoded, user: string): boolean {
  return d.ok && d.signature !== 'invalid' && d.userId === user
}

interface Tally {
  others: number
  skipped: number
  /** Skips of (value, other user) pairs by the other user's id. */
  skippedFor: Map<string, number>
  triedFor: Map<string, number>
  values: number
}

function tally(): Tally {
  return {
    others: 0, skipped: 0, skippedFor: new Map(), triedFor: new Map(), values: 0,
  }
}

/** Checks the property on one value; `owner` is what the generator says (undefined: take decode's word). */
function checkValue(codec: Codec, value: Buffer, owner: null | string | undefined, t: Tally, label: string): void {
  const full = codec.decode(value)
  t.values++
  if (owner !== undefined) {
    assert.ok(full.ok, `${label}: decodes`)
    assert.equal(full.userId, owner, `${label}: decode gives the generator's user`)
  }

  const own = full.ok && full.signature !== 'invalid' ? full.userId : null
  if (own !== null) assert.deepEqual(scanView(codec.decodeFor!(value, own)), scanView(full), `${label}: decodeFor(${own}), its own user`)
  for (const user of usersFor(own, value.toString('latin1'))) {
    const fast = codec.decodeFor!(value, user)
    t.others++
    t.triedFor.set(user, (t.triedFor.get(user) ?? 0) + 1)
    if (fast === undefined) {
      t.skipped++
      t.skippedFor.set(user, (t.skippedFor.get(user) ?? 0) + 1)
      assert.ok(!isUsers(full, user), `${label}: skipped for user ${user}, whose session it is`)
    } else {
      assert.deepEqual(scanView(fast), scanView(full), `${label}: decodeFor(${user}) is decode's answer`)
    }
  }
}

/** The share of (value, user) pairs skipped for one user id. */
function share(t: Tally, user: string): number {
  return (t.skippedFor.get(user) ?? 0) / (t.triedFor.get(user) ?? 1)
}

/** Session dicts pickled by CPython at protocols 2 and 4 (django-redis's default), as base64 lines in, base64 lines out. */
function cpythonPickles(sessions: Array<Record<string, unknown>>): Buffer[] {
  const script = String.raw`
import base64, json, pickle, sys
for line in sys.stdin:
  d = json.loads(line)
  for p in (2, 4):
    print(base64.b64encode(pickle.dumps(d, protocol=p)).decode())
`
  const input = sessions.map(s => JSON.stringify(s)).join('\n') + '\n'
  return execFileSync('/usr/bin/python3', ['-c', script], {encoding: 'utf8', input, maxBuffer: 256 * 1024 * 1024}).trim().split('\n').map(line => Buffer.from(line, 'base64'))
}

/** json.dumps's output (ensure_ascii): what django-redis's JSONSerializer stores. */
function pythonJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value).replaceAll(/[\u0080-\uFFFF]/g, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`), 'latin1')
}

/** An express-session document as connect-redis / express-mysql-session store it, the user as passport.user (a number or a string). */
function expressValue(i: number): {owner: null | string; value: Buffer} {
  const owner = shapedUserId(i)
  const session: Record<string, unknown> = {
    cookie: {
      expires: new Date(1_790_000_000_000 + (i * 1000)).toISOString(), httpOnly: true, originalMaxAge: 86_400_000, path: '/',
    },
    ...shapedSession(i),
  }
  delete session._auth_user_id
  if (owner !== null) session.passport = {user: i % 3 === 0 ? owner : Number(owner)}
  return {owner, value: Buffer.from(JSON.stringify(session), 'utf8')}
}

/** msgpack as msgspec writes a session dict (Flask-Session ≥ 0.7): the smallest form of each value. */
function msgpack(value: unknown): Buffer {
  if (value === null) return Buffer.from([0xC0])
  if (typeof value === 'boolean') return Buffer.from([value ? 0xC3 : 0xC2])
  if (typeof value === 'number' && Number.isInteger(value)) {
    if (value >= 0 && value < 128) return Buffer.from([value])
    if (value >= -32 && value < 0) return Buffer.from([0x1_00 + value])
    const b = Buffer.alloc(9)
    b[0] = value >= 0 ? 0xCF : 0xD3
    if (value >= 0) b.writeBigUInt64BE(BigInt(value), 1)
    else b.writeBigInt64BE(BigInt(value), 1)
    return b
  }

  if (typeof value === 'number') {
    const b = Buffer.alloc(9)
    b[0] = 0xCB
    b.writeDoubleBE(value, 1)
    return b
  }

  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8')
    return Buffer.concat([bytes.length < 32 ? Buffer.from([0xA0 + bytes.length]) : head16(0xDA, bytes.length), bytes])
  }

  if (Array.isArray(value)) return Buffer.concat([head16(0xDC, value.length), ...value.map(v => msgpack(v))])
  const entries = Object.entries(value as Record<string, unknown>)
  return Buffer.concat([head16(0xDE, entries.length), ...entries.flatMap(([k, v]) => [msgpack(k), msgpack(v)])])
}

/** A str16, array16 or map16 header. */
function head16(type: number, n: number): Buffer {
  const b = Buffer.alloc(3)
  b[0] = type
  b.writeUInt16BE(n, 1)
  return b
}

describe('scan prefilter property: the benchmark’s sessions and the fixtures', () => {
  const indices = sample(2500)
  const now = Date.UTC(2026, 11, 3)

  it('django: production-shaped and seed rows, signed; owners never skipped, other users only when not theirs', () => {
    const codec = createDjangoCodec()
    const shaped = tally()
    const seed = tally()
    for (const i of indices) {
      checkValue(codec, Buffer.from(shapedRow(i, now).data), shapedUserId(i), shaped, `shaped row ${i}`)
      checkValue(codec, Buffer.from(seedRow(i, now).data), seedUserId(i), seed, `seed row ${i}`)
    }

    // Flash messages' \u escapes (“) spell no character of the key: those rows are skipped too.
    assert.ok(shaped.skipped > 0.999 * shaped.others, `shaped: skipped ${shaped.skipped} of ${shaped.others}`)
    assert.ok(share(shaped, '42') > 0.999, `shaped, user 42: ${share(shaped, '42')}`)
    assert.ok(seed.skipped > 0.99 * seed.others, `seed: skipped ${seed.skipped} of ${seed.others}`)
  })

  it('django-cache: the shaped and seed sessions pickled (our writer: protocol 5; CPython: 2 and 4), compressed or not, and as JSON', () => {
    const codec = createDjangoCacheCodec()
    const pickled = tally()
    const json = tally()
    for (const i of indices) {
      const shapedPickle = pickleDumps(shapedSession(i) as PickleValue)
      checkValue(codec, shapedPickle, shapedUserId(i), pickled, `shaped pickle ${i}`)
      if (i % 3 === 0) checkValue(codec, deflateSync(shapedPickle), shapedUserId(i), pickled, `shaped pickle+zlib ${i}`)
      checkValue(codec, cacheValue(i), seedUserId(i), pickled, `seed pickle ${i}`)
      if (i % 4 === 0) checkValue(codec, pythonJson(shapedSession(i)), shapedUserId(i), json, `shaped json ${i}`)
    }

    const some = indices.slice(0, 400)
    const cpython = cpythonPickles(some.map(i => shapedSession(i)))
    for (const [k, value] of cpython.entries()) {
      const i = some[Math.floor(k / 2)]
      checkValue(codec, value, shapedUserId(i), pickled, `shaped pickle ${i}, CPython protocol ${k % 2 === 0 ? 2 : 4}`)
    }

    // Whole tokens only: "42" inside a hash, a SKU or a price no longer means a parse. Ids that
    // are quantities (1, 2) occur as int tokens in a cart, and those pickles are parsed.
    assert.ok(pickled.skipped > 0.9 * pickled.others, `pickles: skipped ${pickled.skipped} of ${pickled.others}`)
    for (const user of ['42', '7', '234572']) assert.ok(share(pickled, user) > 0.99, `pickles, user ${user}: ${share(pickled, user)}`)
    assert.ok(json.skipped > 0.999 * json.others, `json: skipped ${json.skipped} of ${json.others}`)
  })

  it('express: shaped sessions with passport.user as a number or a string', () => {
    const codec = createExpressCodec()
    const t = tally()
    for (const i of indices) {
      const {owner, value} = expressValue(i)
      checkValue(codec, value, owner, t, `express ${i}`)
    }

    // passport.user is a number in two of three: only a number whose text is the id is parsed.
    assert.ok(t.skipped > 0.999 * t.others, `skipped ${t.skipped} of ${t.others}`)
    assert.ok(share(t, '42') > 0.999, `user 42: ${share(t, '42')}`)
  })

  it('flask: the shaped sessions as msgpack (Flask-Login’s _user_id), and as pickles', () => {
    const codec = createFlaskCodec()
    const t = tally()
    for (const i of indices) {
      const session = shapedSession(i)
      const owner = shapedUserId(i)
      delete session._auth_user_id
      if (owner !== null) session._user_id = owner
      session._fresh = i % 2 === 0
      checkValue(codec, msgpack(session), owner, t, `flask msgpack ${i}`)
      if (i % 5 === 0) checkValue(codec, pickleDumps(session as PickleValue), owner, t, `flask pickle ${i}`)
    }

    assert.ok(t.skipped > 0.9 * t.others, `skipped ${t.skipped} of ${t.others}`)
    for (const user of ['42', '234572']) assert.ok(share(t, user) > 0.99, `user ${user}: ${share(t, user)}`)
  })

  it('the golden fixtures: Django signed and cache values, django-redis’s serializers and compressors, Flask-Session', () => {
    const django = djangoFixtures().cases
    const t = tally()
    for (const c of django) {
      const codec = c.family === 'django-signed' ? createDjangoCodec() : createDjangoCacheCodec()
      checkValue(codec, caseValue(c), undefined, t, `fixture ${c.name}`)
    }

    const extra = JSON.parse(readFixture('django-cache-extra.json')) as {cases: Array<{name: string; valueBase64: string}>}
    for (const c of extra.cases) checkValue(createDjangoCacheCodec(), Buffer.from(c.valueBase64, 'base64'), undefined, t, `fixture ${c.name}`)
    const flask = JSON.parse(readFixture('flask.json')) as {cases: Array<{family: string; name: string; valueBase64: string}>}
    for (const c of flask.cases) checkValue(createFlaskCodec(), Buffer.from(c.valueBase64, 'base64'), undefined, t, `fixture ${c.name}`)
    assert.ok(t.values > 50 && t.skipped > 0, `${t.values} values, ${t.skipped} skips`)
  })
})

function readFixture(name: string): string {
  return readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')
}
