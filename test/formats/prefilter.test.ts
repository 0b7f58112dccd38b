/**
 * The scan prefilter (Codec.decodeFor) skips a value only when a full decode could not give the
 * user: for every value and user id below, "skipped" must imply "not the user's", and a value
 * that is not skipped must decode exactly as decode() does. Values: the golden fixtures, and
 * payloads crafted to hide a user id from a byte search (duplicate, escaped and nested keys,
 * numbers in other spellings, pickled ints and floats in every opcode).
 */
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {deflateSync} from 'node:zlib'

import type {Codec} from '../../src/formats/codec.js'

import {shapedRow, shapedUserId} from '../../scripts/bench/seed-shaped.js'
import {createDjangoCacheCodec} from '../../src/frameworks/django-cache.js'
import {createDjangoCodec} from '../../src/frameworks/django.js'
import {createExpressCodec} from '../../src/frameworks/express.js'
import {createFlaskCodec} from '../../src/frameworks/flask.js'
import {caseValue, djangoFixtures} from '../support/fixtures.js'

const USERS = ['42',
  '4',
  '420',
  '0',
  '-1',
  '1',
  '7',
  '60872',
  '70000',
  '1099511627776',
  '4.2e1',
  '1e+21',
  'NaN',
  'Infinity',
  '7c9e6679-7425-40de-944b-e07fc1f69e30',
  'alice',
  'jösé',
  'a"b',
  'a/b',
  String.raw`a\b`,
  ' 42',
  '100',
  '-42',
  '-0',
  '9007199254740993',
  '']

/** Django's signed format without a signature check: what the codec reads for a payload. */
function signed(payload: Buffer, compress = false): Buffer {
  const body = compress ? `.${deflateSync(payload).toString('base64url')}` : payload.toString('base64url')
  return Buffer.from(`${body}:1tFbUn:c2lnbmF0dXJl`)
}

const JSON_PAYLOADS = [
  '{"_auth_user_id":"42"}',
  '{"_auth_user_id": 42}',
  '{"_auth_user_id" :\t"42" }',
  '{"_auth_user_id":4.2e1}',
  '{"_auth_user_id":42.0}',
  '{"_auth_user_id":"1","_auth_user_id":"42"}',
  String.raw`{"\u005fauth_user_id":"42"}`,
  String.raw`{"_auth_user_id":"\u0034\u0032"}`,
  '{"cart":{"_auth_user_id":"7"},"_auth_user_id":"42"}',
  '{"cart":{"_auth_user_id":"42"}}',
  '{"note":"_auth_user_id","x":1}',
  '{"_auth_user_id":["42"]}',
  '{"_auth_user_id":null}',
  '{"_auth_user_id":"42"',
  '{"_auth_user_id":"jösé"}',
  '{"_auth_user_id":1e21}',
  '["_auth_user_id", "42"]',
  '{"_auth_user_id"\n:\r"42"}',
  '{"x":NaN,"_auth_user_id":"42"}',
  '{"_auth_user_id":"42","x":-Infinity}',
  '{"_auth_user_id":"7","note":"_auth_user_id","_auth_user_id":"42"}',
  '{"a":"_auth_user_id","_auth_user_id":"7"}',
  '{"_auth_user_id":"42 "}',
  '{"_auth_user_id":"420"}',
  '{"_auth_user_id":"","cart":[42,"42"]}',
  '{"_auth_user_id":{"id":"42"}}',
  '{"_auth_user_id":true}',
  String.raw`{"_messages":"[[\"__json_message\",0,25,\"hi\"]]","_auth_user_id":"42"}`,
  '{"_auth_user_id":"42"} trailing',
  '{"_auth_user_id:"42"}',
  '{"_auth_user_id":"7","cart":{"items":[{"sku":"SKU-42","qty":42}]},"_auth_user_hash":"42ab"}',
  String.raw`{"a":"\"_auth_user_id\":\"42\"","_auth_user_id":"7"}`,
  String.raw`{"a":"\\","_auth_user_id":"42"}`,
  String.raw`{"a\\":"_auth_user_id","_auth_user_id":"42"}`,
  String.raw`{"_auth_user_id":"4\u0032"}`,
  String.raw`{"_auth_user_id":"\/42"}`,
  String.raw`{"_auth_user_id":"42\"","x":"\""}`,
  String.raw`{"m":"\t\n","_auth_user_id" : "42"}`,
  String.raw`{"m":"\"","_auth_user_id":"4"}`,
  String.raw`{"_auth_user_id":"a\/b"}`,
  '{"_auth_user_id":"a/b"}',
  '{"_auth_user_id":420e-1}',
  '{"_auth_user_id":4.20e+1}',
  '{"_auth_user_id" \n : \t 4.2E1 }',
  '{"_auth_user_id":0.42e2}',
  '{"_auth_user_id":-0}',
  '{"_auth_user_id":-0.0}',
  '{"_auth_user_id":1e2}',
  '{"_auth_user_id":-42}',
  '{"_auth_user_id":042}',
  '{"_auth_user_id":9007199254740993}',
  '{"_auth_user_id":9007199254740993.0}',
  '{"_auth_user_id":42,"_auth_user_id":"7"}',
  '{"_auth_user_id":"7","_auth_user_id":4.2e1}',
  '{"a":{"_auth_user_id":42},"_auth_user_id":"7"}',
  '{"a":[{"b":{"_auth_user_id":4.2e1}}],"_auth_user_id":7}',
  String.raw`{"_auth_user_id":4.2e1,"x":"\"q\""}`,
  String.raw`{"x":"\"_auth_user_id\":42","_auth_user_id":7}`,
  '{"_auth_user_id":42 ,"x":1}',
  '{"_auth_user_id":[42]}',
  '{"_auth_user_id":{"_auth_user_id":"42"}}',
  String.raw`{"m":"\u201c","_auth_user_id":"42"}`,
  String.raw`{"m":"\u201c","_auth_user_id":"7"}`,
  String.raw`{"m":"\u201c","\u005fauth_user_id":"42"}`,
  String.raw`{"m":"\u201c","_auth_user_i\u0064":"42"}`,
  String.raw`{"m":"\u00e9","_auth_user_i\u0044":"42"}`,
  String.raw`{"m":"\\u005f","_auth_user_id":"7"}`,
  String.raw`{"m":"\u201c","_auth_user_id":"\u0034\u0032"}`,
  String.raw`{"m":"\u201c","_auth_user_id":4.2e1}`,
  String.raw`{"m":"\u20","_auth_user_id":"42"}`,
]

/** Pickles written by CPython, including hand-assembled opcode streams it reads as session dicts. */
function pickles(): Buffer[] {
  const script = String.raw`
import pickle, sys, base64
values = [{'_auth_user_id': v} for v in ['42', 42, 0, -1, 70000, 2**40, 42.0, 4.2e1, 1e21, 60872, 'jösé', 'a"b']]
out = [pickle.dumps(v, protocol=p) for v in values for p in (2, 4, 5)]
key = b'\x8c\r_auth_user_id'
out += [
  b'\x80\x05}' + key + b'\x8a\x02*\x00s.',          # LONG1 with a padding byte: 42
  b'\x80\x05}' + key + b'\x8b\x01\x00\x00\x00*s.',  # LONG4: 42
  b'\x80\x05}' + key + b'I4_2\ns.',                 # INT text with an underscore: 42
  b'\x80\x05}' + key + b'F4.2e1\ns.',               # FLOAT text: 42.0
  b'\x80\x05}' + key + b'V\\u0034\\u0032\ns.',      # raw-unicode-escape: "42"
  b'\x80\x05}' + key + b'M*\x00s.',                 # BININT2: 42
  b'\x80\x05}' + key + b'J*\x00\x00\x00s.',         # BININT: 42
  b'\x80\x02}' + key + b'U\x0242s.',               # SHORT_BINSTRING: "42"
  b'\x80\x02}' + key + b'T\x02\x00\x00\x0042s.',     # BINSTRING: "42"
  b'\x80\x04}' + key + b'\x8d\x02\x00\x00\x00\x00\x00\x00\x0042s.',  # BINUNICODE8: "42"
  b'\x80\x04}\x8c\x0242\x940' + key + b'h\x00s.',   # "42" memoized before, then BINGET
  b"(dS'_auth_user_id'\nS'4\\x32'\ns.",            # protocol 0 STRING with an escape: "42"
  b'(dV_auth_user_id\nI 42 \ns.',                  # INT with spaces: 42
  b'(dV_auth_user_id\nL42L\ns.',                   # LONG: 42
  b'(dV_auth_user_id\nF42.0\ns.',                  # FLOAT: 42.0
  b'(dV_auth_user_id\nI01\ns.',                    # INT 01: True, nobody
]
for b in out: print(base64.b64encode(b).decode())
`
  return execFileSync('/usr/bin/python3', ['-c', script], {encoding: 'utf8'}).trim().split('\n').map(line => Buffer.from(line, 'base64'))
}

/** A decode as a scan reads it: lite decodes (decodeFor, decodeLite) may leave `data` empty. */
function scanView(d: ReturnType<Codec['decode']> | undefined): unknown {
  return d?.ok ? {...d, data: undefined} : d
}

function check(codec: Codec, values: Buffer[]): {skipped: number; values: number} {
  let skipped = 0
  for (const value of values) {
    const full = codec.decode(value)
    for (const user of USERS) {
      const fast = codec.decodeFor!(value, user)
      if (fast === undefined) {
        skipped++
        assert.ok(!(full.ok && full.signature !== 'invalid' && full.userId === user), `skipped ${value.toString('latin1')} for user ${user}, which it belongs to`)
      } else {
        assert.deepEqual(scanView(fast), scanView(full))
      }
    }

    if (codec.decodeLite) assert.deepEqual(scanView(codec.decodeLite(value)), scanView(full), `decodeLite of ${value.toString('latin1')}`)
  }

  return {skipped, values: values.length}
}

/**
 * Pickles whose user id no token spells: a REDUCE (or NEWOBJ, BUILD) that the reader normalises
 * into text or a number (timedelta → its seconds, UUID → its canonical text, date → ISO text),
 * CPython's own output and hand-assembled opcode streams. decode() attributes each to a user;
 * decodeFor() for that user must not skip it.
 */
function reducedPickles(): Buffer[] {
  const script = String.raw`
import pickle, sys, base64, uuid, datetime
key = b'\x8c\r_auth_user_id'
td = b'\x8c\x08datetime\x8c\ttimedelta\x93'
out = [
  b'\x80\x04}' + key + td + b'K\x00K\x00J\x80\xde\x80\x02\x87Rs.',                     # timedelta(0, 0, 42000000)
  b'\x80\x02}' + key + b'cdatetime\ntimedelta\nK\x00K\x15J\x40\x6f\x40\x01\x87Rs.',    # GLOBAL: timedelta(0, 21, 21000000)
  b'\x80\x04}' + key + b'\x8c\x08datetime\x94\x8c\ttimedelta\x94\x93J\xff\xff\xff\xffJ\xaa\x51\x01\x00\x86Rs.',  # timedelta(-1, 86442), memoized names
  b'\x80\x04\x95' + (51).to_bytes(8, 'little') + b'}' + key + td + b'K\x00K\x00J\x80\xde\x80\x02\x87Rs.',  # the same inside a FRAME
  b'(dV_auth_user_id\n(I0\nI0\nI42000000\nidatetime\ntimedelta\ns.',                    # INST, protocol 0
]
out += [pickle.dumps({'_auth_user_id': v}, p) for p in (2, 4, 5) for v in (
  uuid.UUID('7c9e6679-7425-40de-944b-e07fc1f69e30'), datetime.timedelta(seconds=42), datetime.timedelta(days=1),
  datetime.date(2026, 1, 2), datetime.datetime(2026, 1, 2, 3, 4, 5), datetime.time(4, 2))]
for b in out:
  pickle.loads(b)
  print(base64.b64encode(b).decode())
`
  return execFileSync('/usr/bin/python3', ['-c', script], {encoding: 'utf8'}).trim().split('\n').map(line => Buffer.from(line, 'base64'))
}

describe('scan prefilter (decodeFor)', () => {
  const fixtures = djangoFixtures().cases
  const pickled = pickles()

  it('django: never skips a session of the user it is asked for, and skips the others', () => {
    const codec = createDjangoCodec()
    const values = [
      ...fixtures.filter(c => c.family === 'django-signed').map(c => caseValue(c)),
      ...JSON_PAYLOADS.flatMap(p => [signed(Buffer.from(p, 'utf8')), signed(Buffer.from(p, 'utf8'), true)]),
      ...pickled.map(p => signed(p, true)),
    ]
    const r = check(codec, values)
    assert.ok(r.skipped > r.values, `the prefilter should skip most (value, other user) pairs; it skipped ${r.skipped}`)
  })

  it('django-cache: the same for pickled and JSON cache values, compressed or not', () => {
    const codec = createDjangoCacheCodec()
    const values = [
      ...fixtures.filter(c => c.family === 'django-cache').map(c => caseValue(c)),
      ...pickled,
      ...pickled.map(p => deflateSync(p)),
      ...JSON_PAYLOADS.map(p => Buffer.from(p, 'utf8')),
    ]
    const r = check(codec, values)
    assert.ok(r.skipped > r.values, `the prefilter should skip most (value, other user) pairs; it skipped ${r.skipped}`)
  })

  it('django: on the benchmark’s production-shaped sessions, never skips the owner’s and skips most others', () => {
    const codec = createDjangoCodec()
    const now = Date.now()
    let skipped = 0
    let others = 0
    for (let i = 0; i < 3000; i++) {
      const value = Buffer.from(shapedRow(i, now).data)
      const owner = shapedUserId(i)
      const full = codec.decode(value)
      assert.ok(full.ok, `row ${i} decodes`)
      assert.equal(full.userId, owner ?? null)
      if (owner !== null) assert.deepEqual(scanView(codec.decodeFor!(value, owner)), scanView(full), `row ${i}: its own user ${owner} gets the full decode`)
      assert.deepEqual(scanView(codec.decodeLite!(value)), scanView(full), `row ${i}: decodeLite`)
      for (const user of ['42', '1', '7', '2', '1000', '234572']) {
        if (user === owner) continue
        others++
        const fast = codec.decodeFor!(value, user)
        if (fast === undefined) skipped++
        else assert.deepEqual(scanView(fast), scanView(full))
      }
    }

    // Flash messages hold escaped quotes, and are skipped too; those with a \u escape are parsed.
    assert.ok(skipped > 0.9 * others, `skipped ${skipped} of ${others} (value, other user) pairs`)
  })

  it('never skips a pickle whose REDUCE the reader normalises into the user id (timedelta, UUID, date)', () => {
    const codec = createDjangoCacheCodec()
    const values = reducedPickles()
    for (const value of [...values, ...values.map(v => deflateSync(v))]) {
      const full = codec.decode(value)
      assert.ok(full.ok && full.userId !== null, `${value.toString('latin1')} decodes to a user`)
      assert.deepEqual(scanView(codec.decodeFor!(value, full.userId)), scanView(full), `decodeFor(${full.userId}) of ${value.toString('latin1')}`)
    }

    const djangoCodec = createDjangoCodec()
    for (const value of values.map(v => signed(v, true))) {
      const full = djangoCodec.decode(value)
      assert.ok(full.ok && full.userId !== null)
      assert.deepEqual(scanView(djangoCodec.decodeFor!(value, full.userId)), scanView(full))
    }

    assert.ok(check(codec, values).values > 0)
  })

  it('skips pickles where the id is only text inside other text, a FRAME length or another number', () => {
    const script = String.raw`
import pickle, base64
key = b'\x8c\r_auth_user_id'
body = lambda pad: b'}' + key + b'\x8c\x017s\x8c\x03padX' + pad.to_bytes(4, 'little') + b'p' * pad + b's.'
pad = 0x2A4B - len(body(0))
out = [
  b'\x80\x04\x95' + (0x2A4B).to_bytes(8, 'little') + body(pad),   # FRAME length 4B 2A: "K*", not BININT1 42
  b'(dV_auth_user_id\nV7\nsVn\nI420\ns.',                          # INT 420
  b'(dV_auth_user_id\nV7\nsVn\nF42.5\ns.',                         # FLOAT 42.5
]
out += [pickle.dumps(d, p) for p in (2, 4, 5) for d in (
  {'_auth_user_id': '7', 'sku': 'SKU-42', 'hash': '42ab' * 16, 'ok': 'OK*', 'price': '42.00'},
  {'_auth_user_id': '7', 'qty': 4200, 'rate': 42.5, 'ids': [420, 1042], 'note': 'K*' * 3},
  {'_auth_user_id': '7', 'x': 'a' * 42},
)]
# Bytes (protocol 2 writes them as _codecs.encode of a str, which is a str token).
out += [pickle.dumps({'_auth_user_id': '7', 'y': b'42', 'z': bytearray(b'42')}, p) for p in (4, 5)]
for b in out:
  assert pickle.loads(b)['_auth_user_id'] == '7'
  print(base64.b64encode(b).decode())
`
    const values = execFileSync('/usr/bin/python3', ['-c', script], {encoding: 'utf8'}).trim().split('\n').map(line => Buffer.from(line, 'base64'))
    const codec = createDjangoCacheCodec()
    for (const value of values) {
      const full = codec.decode(value)
      assert.ok(full.ok && full.userId === '7', `${value.toString('latin1')} is user 7's`)
      assert.equal(codec.decodeFor!(value, '42'), undefined, `skipped for 42: ${value.toString('latin1')}`)
      assert.deepEqual(scanView(codec.decodeFor!(value, '7')), scanView(full))
    }
  })

  it('express: the same property on JSON documents, the user key at any depth', () => {
    const codec = createExpressCodec({userPath: ['_auth_user_id']})
    const r = check(codec, JSON_PAYLOADS.map(p => Buffer.from(p, 'utf8')))
    assert.ok(r.skipped > r.values, `the prefilter should skip most (value, other user) pairs; it skipped ${r.skipped}`)
    const passport = createExpressCodec()
    const docs = ['42', '"42"', '4.2e1', '"7"', '7', '{"id":42}', 'null'].map(u => Buffer.from(`{"cookie":{"path":"/"},"passport":{"user":${u}}}`))
    check(passport, docs)
    assert.equal(passport.decodeFor!(docs[3], '42'), undefined)
    assert.equal((passport.decodeFor!(docs[2], '42') as {userId: string}).userId, '42')
    // An empty value is counted, never skipped.
    assert.deepEqual(passport.decodeFor!(Buffer.alloc(0), '42'), {ok: false, reason: 'empty'})
  })

  it('flask (msgpack): parses only when a str, int or float token is the id, or a timestamp could be', () => {
    const codec = createFlaskCodec()
    const str = (text: string): Buffer => {
      const bytes = Buffer.from(text, 'utf8')
      return Buffer.concat([bytes.length < 32 ? Buffer.from([0xA0 + bytes.length]) : Buffer.from([0xD9, bytes.length]), bytes])
    }

    const map = (...pairs: Array<[string, Buffer]>): Buffer => Buffer.concat([Buffer.from([0x80 + pairs.length]), ...pairs.flatMap(([k, v]) => [str(k), v])])
    const forms = [
      Buffer.from([0x2A]),
      Buffer.from([0xCC, 42]),
      Buffer.from([0xCD, 0, 42]),
      Buffer.from([0xCE, 0, 0, 0, 42]),
      Buffer.from([0xCF, 0, 0, 0, 0, 0, 0, 0, 42]),
      Buffer.from([0xD0, 42]),
      Buffer.from([0xD1, 0, 42]),
      Buffer.from([0xD2, 0, 0, 0, 42]),
      Buffer.from([0xD3, 0, 0, 0, 0, 0, 0, 0, 42]),
      Buffer.from([0xCA, 0x42, 0x28, 0, 0]),
      Buffer.from([0xCB, 0x40, 0x45, 0, 0, 0, 0, 0, 0]),
      str('42'),
      Buffer.from([0xDA, 0, 2, 0x34, 0x32]),
      Buffer.from([0xDB, 0, 0, 0, 2, 0x34, 0x32]),
      Buffer.from([0xFF]),
      Buffer.from([0xCF, 0x00, 0x20, 0, 0, 0, 0, 0, 1]), // 2^53 + 1, a bigint
      Buffer.from([0xD6, 0xFF, 0x69, 0x57, 0xA0, 0x80]), // timestamp: ISO text
    ]
    const values = forms.map(v => map(['_fresh', Buffer.from([0xC3])], ['_user_id', v]))
    for (const value of values) {
      const full = codec.decode(value)
      assert.ok(full.ok && full.userId !== null, `${value.toString('hex')} decodes to a user`)
      assert.deepEqual(scanView(codec.decodeFor!(value, full.userId)), scanView(full), `decodeFor(${full.userId}) of ${value.toString('hex')}`)
    }

    check(codec, values)
    const others = [
      map(['_user_id', str('7')], ['sku', str('SKU-42')], ['h', str('42ab'.repeat(10))]),
      map(['_user_id', str('7')], ['qty', Buffer.from([0xCD, 0x01, 0xA4])], ['b', Buffer.from([0xC4, 2, 0x34, 0x32])]),
      map(['_user_id', str('7')], ['x', Buffer.from([0xD4, 0x05, 0x2A])]), // an extension that is no timestamp
    ]
    for (const value of others) {
      assert.equal((codec.decode(value) as {userId: string}).userId, '7')
      assert.equal(codec.decodeFor!(value, '42'), undefined, `skipped for 42: ${value.toString('hex')}`)
    }

    // Truncated: left to the parser, which says so.
    assert.deepEqual(codec.decodeFor!(values[11].subarray(0, -1), '7'), codec.decode(values[11].subarray(0, -1)))
  })

  it('skips a typical session of another user without parsing it, and finds the user’s own', () => {
    const codec = createDjangoCacheCodec()
    const [mine] = pickles()
    assert.equal(codec.decodeFor!(mine, '7'), undefined)
    const own = codec.decodeFor!(mine, '42')
    assert.ok(own?.ok)
    assert.equal(own.userId, '42')
  })
})
