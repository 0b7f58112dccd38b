/**
 * The flask and rails frameworks' codecs, keys and expiry rules on every golden fixture written by
 * real Flask-Session 0.3.2 and Rails 6.1.7 (test/fixtures/MORE-FIXTURES.md): the user (users 42,
 * 420, 042, u-42 and another Devise scope's 42 never confused), the expiry (Rails' cache entry,
 * Flask's `expiry` column, activerecord-session_store's `updated_at` + --lifetime), the stored
 * keys and what an operator may name them by; and Flask-Session ≥ 0.7's msgpack and JSON values.
 */
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'

import {FLASK_USER_PATH} from '../../src/frameworks/flask.js'
import {
  frameworkCodec, getFramework, layoutFor, userPathFor,
} from '../../src/frameworks/index.js'
import {railsPrivateId} from '../../src/frameworks/rails.js'
import {SqlExpiry} from '../../src/stores/sql-expiry.js'
import {flaskFixtures, railsFixtures, railsStored} from '../support/ruby-python-fixtures.js'

const flask = getFramework('flask')
const rails = getFramework('rails')
const flaskCodec = frameworkCodec(flask, {secretKeys: [], userPath: FLASK_USER_PATH})
const railsCodec = (scope = 'user') => frameworkCodec(rails, {secretKeys: [], userPath: userPathFor(rails, undefined, {scope})})
// When the fixtures were written: Flask's expiry is now + 31 days, Rails' entries were created then.
const FLASK_NOW = new Date('2026-12-02T02:12:08Z')
const RAILS_NOW = new Date('2026-12-02T02:17:00Z')

function clockAt(now: Date) {
  return {now, timeZone: 'UTC', wallNow: now.toISOString().replace('T', ' ').replace('Z', '').padEnd(26, '0')}
}

describe('flask framework on the golden fixtures (Flask-Session 0.3.2)', () => {
  const layout = layoutFor(flask, {})
  for (const c of flaskFixtures().cases) {
    it(`${c.family} ${c.name}: user ${c.expect.userId ?? 'none'}`, () => {
      const decoded = flaskCodec.decode(Buffer.from(c.valueBase64, 'base64'))
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason)
      assert.equal(decoded.userId, c.expect.userId)
      assert.equal(decoded.variant, 'pickle')
      if (c.expect.dataKeys) assert.deepEqual(Object.keys(decoded.data), c.expect.dataKeys)
      // The prefilter never skips a session for its own user.
      if (c.expect.userId !== null) assert.notEqual(flaskCodec.decodeFor!(Buffer.from(c.valueBase64, 'base64'), c.expect.userId), undefined)
      if (c.family === 'flask-redis') {
        const [prefix] = layout.redis!.prefixes
        assert.ok(c.redisKey!.startsWith(prefix))
        assert.match(c.redisKey!.slice(prefix.length), layout.redis!.keyPattern)
      }
    })
  }

  it('the SQL expiry: NULL and past expiries are expired, cleanup takes both', () => {
    const sql = layout.sql!
    assert.deepEqual([sql.table, sql.keyColumn, sql.dataColumn, sql.expiry.column], ['sessions', 'session_id', 'data', 'expiry'])
    const expiry = new SqlExpiry(sql.expiry, 'datetime', '`expiry`', true)
    const clock = clockAt(FLASK_NOW)
    const rows = flaskFixtures().cases.filter(c => c.family === 'flask-sqlalchemy')
    assert.ok(rows.some(c => c.expiry === null) && rows.some(c => c.expect.expired && c.expiry !== null))
    for (const c of rows) assert.equal(expiry.isExpired(c.expiry ?? null, clock), c.expect.expired, c.name)
    // open_session serves `expiry > utcnow()` only: a row expiring this second is gone.
    assert.equal(expiry.isExpired('2026-12-02 02:12:08', clock), true)
    assert.deepEqual(expiry.cleanupCondition(clock), ['(`expiry` <= ? OR `expiry` IS NULL)', ['2026-12-02 02:12:08.000000']])
    assert.deepEqual(expiry.condition('live', clock), ['`expiry` > ?', ['2026-12-02 02:12:08.000000']])
  })

  it('the sid the cookie carries names the SQL row, which holds the key prefix', () => {
    const row = flaskFixtures().cases.find(c => c.family === 'flask-sqlalchemy')!
    const sid = row.sessionId!.slice('session:'.length)
    assert.deepEqual(flask.keyForms!(sid), [row.sessionId])
    // In Redis the key is the sid: the stored SQL form names it too.
    assert.deepEqual(flask.keyForms!(row.sessionId!), [sid])
  })

  it('reads Flask-Session ≥ 0.7 values: msgpack (str or int id) and JSON', () => {
    const str = (s: string) => Buffer.concat([Buffer.from([0xA0 + s.length]), Buffer.from(s)])
    const map = (...pairs: Buffer[]) => Buffer.concat([Buffer.from([0x80 + (pairs.length / 2)]), ...pairs])
    const cases: Array<[Buffer, null | string, string]> = [
      [map(str('_permanent'), Buffer.from([0xC3]), str('_user_id'), str('42')), '42', 'msgpack'],
      [map(str('_user_id'), Buffer.from([0x2A])), '42', 'msgpack'],
      [map(str('_user_id'), Buffer.from([0xCD, 0x01, 0xA4])), '420', 'msgpack'],
      [map(str('_user_id'), str('042')), '042', 'msgpack'],
      [map(str('_permanent'), Buffer.from([0xC3])), null, 'msgpack'],
      [Buffer.from('{"_permanent": true, "_user_id": "42"}'), '42', 'json'],
      [Buffer.from('{"_user_id": 4200}'), '4200', 'json'],
    ]
    for (const [bytes, userId, variant] of cases) {
      const decoded = flaskCodec.decode(bytes)
      assert.ok(decoded.ok, `${bytes.toString('hex')}: ${JSON.stringify(decoded)}`)
      assert.equal(decoded.userId, userId)
      assert.equal(decoded.variant, variant)
    }

    // A truncated msgpack map is nobody's session; a map this reader refuses by its limits may be anyone's.
    assert.deepEqual(flaskCodec.decode(Buffer.from([0x82, 0xA8])), {ok: false, reason: 'bad msgpack'})
    const deep = Buffer.concat([Buffer.alloc(300, 0x81).map((_, i) => (i % 2 === 0 ? 0x81 : 0xA1)), Buffer.from([0xC0])])
    assert.equal(flaskCodec.decode(Buffer.concat([Buffer.from([0x81, 0xA1, 0x78]), deep])).ok, false)
  })
})

describe('rails framework on the golden fixtures (Rails 6.1.7)', () => {
  const layout = layoutFor(rails, {}, {lifetimeMinutes: 1440})
  for (const c of railsFixtures().cases) {
    it(`${c.family} ${c.name}: user ${c.expect.userId ?? 'none'}`, () => {
      const stored = railsStored(c) ?? Buffer.from(c.data!)
      // The text column as MySQL returns it: Base64.encode64's lines, newlines included.
      const value = c.data === undefined ? stored : Buffer.from(c.data)
      const decoded = railsCodec().decode(value)
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason)
      assert.equal(decoded.userId, c.expect.userId)
      if (c.family === 'rails-cache-redis') {
        assert.equal(decoded.variant, c.expect.compressed ? 'cache-entry+zlib' : 'cache-entry')
        assert.equal(decoded.expiresAt!.getTime(), Math.ceil((c.expect.entryCreatedAt! + c.expect.entryExpiresIn!) * 1000))
        assert.equal(decoded.expiresAt!.getTime() <= RAILS_NOW.getTime(), c.expect.expired)
        const [prefix] = layout.redis!.prefixes
        const key = c.redisKey!.slice(prefix.length)
        assert.match(key, layout.redis!.keyPattern)
        // --except with the cookie's public id names the stored key (the legacy key is the public id itself).
        assert.ok(key === c.publicId || rails.keyForms!(c.publicId!).includes(key), c.name)
      } else {
        assert.equal(decoded.variant, c.data!.startsWith('{') ? 'json' : 'marshal+base64')
        if (c.publicId) assert.ok(c.sessionId === c.publicId || rails.keyForms!(c.publicId).includes(c.sessionId!), c.name)
      }
    })
  }

  it('--scope admin reads warden.user.admin.key', () => {
    const byName = new Map(railsFixtures().cases.map(c => [c.name, c]))
    const admin = railsCodec('admin')
    for (const [name, user] of [['admin-42', '42'], ['user-7-admin-42', '42'], ['login-42', null], ['ar-admin-42', '42']] as const) {
      const c = byName.get(name)!
      const decoded = admin.decode(c.data === undefined ? railsStored(c)! : Buffer.from(c.data))
      assert.ok(decoded.ok)
      assert.equal(decoded.userId, user, name)
    }
  })

  it('the private id is 2:: + sha256 of the public id, as Rack computes it', () => {
    const id = 'a65a64af7b7a83688770c6b688881ade'
    assert.equal(railsPrivateId(id), `2::${createHash('sha256').update(id).digest('hex')}`)
    assert.equal(railsPrivateId(id), railsFixtures().cases.find(c => c.name === 'ar-login-42')!.sessionId)
    assert.deepEqual(rails.keyForms!(railsPrivateId(id)), [])
  })

  it('activerecord-session_store: expired when updated_at is older than --lifetime; unknown without it', () => {
    const sql = layout.sql!
    assert.deepEqual([sql.table, sql.keyColumn, sql.dataColumn, sql.expiry.column], ['sessions', 'session_id', 'data', 'updated_at'])
    const expiry = new SqlExpiry(sql.expiry, 'datetime', '`updated_at`', false)
    const clock = clockAt(RAILS_NOW)
    for (const c of railsFixtures().cases.filter(k => k.expect.expiredWithLifetimeMinutes1440 !== undefined)) {
      const updated = c.updatedAt!.replace('T', ' ').replace('Z', '')
      assert.equal(expiry.isExpired(updated, clock), c.expect.expiredWithLifetimeMinutes1440, c.name)
    }

    assert.deepEqual(expiry.cleanupCondition(clock), ['`updated_at` < ?', ['2026-12-01 02:17:00.000000']])
    const unknown = new SqlExpiry(layoutFor(rails, {}).sql!.expiry, 'datetime', '`updated_at`', false)
    assert.equal(unknown.unknown, '--lifetime MINUTES')
    assert.equal(unknown.isExpired('2000-01-01 00:00:00', clock), false)
    assert.equal(unknown.expiresAt('2000-01-01 00:00:00', clock), null)
    assert.deepEqual(unknown.condition('all', clock), ['', []])
    assert.throws(() => unknown.condition('live', clock), /--lifetime/)
    assert.throws(() => unknown.cleanupCondition(clock), /--lifetime/)
  })

  it('reads the other shapes: raw Marshal (redis-rack), JSON without a wrapper, a compressed entry; refuses what is not a session', () => {
    const c = railsFixtures().cases.find(k => k.name === 'ar-login-42')!
    const dump = railsStored(c)!
    const raw = railsCodec().decode(dump)
    assert.ok(raw.ok)
    assert.deepEqual([raw.userId, raw.variant], ['42', 'marshal'])
    const json = railsCodec().decode(Buffer.from('{"warden.user.user.key":[["42"],"salt"]}'))
    assert.ok(json.ok)
    assert.equal(json.userId, '42')
    assert.deepEqual(railsCodec().decode(Buffer.alloc(0)), {ok: false, reason: 'empty'})
    assert.equal(railsCodec().decode(Buffer.from('not base64!')).ok, false)
    assert.notEqual((railsCodec().decode(Buffer.from('not base64!')) as {ownerUnknown?: true}).ownerUnknown, true)
    // Truncated Marshal: Ruby cannot load it either.
    assert.deepEqual(railsCodec().decode(dump.subarray(0, 40)), {ok: false, reason: 'bad marshal'})
    // A compressed entry whose deflated bytes are corrupt.
    const entry = railsFixtures().cases.find(k => k.expect.compressed)!
    const bytes = railsStored(entry)!
    const at = bytes.indexOf(Buffer.from([0x78, 0x9C]))
    const corrupt = Buffer.from(bytes)
    corrupt.fill(0xFF, at + 10, at + 12)
    assert.equal(railsCodec().decode(corrupt).ok, false)
    // Rails 7's cache coders: Rails reads them, this reader does not: owner unknown, never "nobody's".
    assert.deepEqual(railsCodec().decode(Buffer.from([0x00, 0x11, 0x01, 0x02])), {ok: false, ownerUnknown: true, reason: 'newer Rails cache format (unsupported)'})
  })
})
