import assert from 'node:assert/strict'

import type {SqlLayout} from '../../src/stores/contract.js'

import {encodeFieldMap, readFieldMap} from '../../src/formats/field-map.js'
import {parseJavaSerialized, writeJavaString} from '../../src/formats/java-serialization.js'
import {PRINCIPAL_NAME_INDEX_NAME, SPRING_SECURITY_CONTEXT} from '../../src/formats/spring-session.js'
import spring, {createSpringCodec} from '../../src/frameworks/spring.js'
import {SqlExpiry} from '../../src/stores/sql-expiry.js'
import {
  PRINCIPAL_ATTRIBUTE, springFixtures, type SpringJdbcCase, type SpringRedisCase, type SpringValueCase,
} from '../support/java-serialization.js'
import {JDK_SAMPLES} from '../support/jdk-samples.js'

const fixtures = springFixtures()
const values = fixtures.cases.filter((c): c is SpringValueCase => c.family === 'spring-jdk-value')
const redisCases = fixtures.cases.filter((c): c is SpringRedisCase => c.family === 'spring-redis-indexed')
const b64 = (text: string): Buffer => Buffer.from(text, 'base64')
const value = (name: string): Buffer => b64(values.find(v => v.name === name)!.bytesBase64)
/** A Spring Session hash as the Redis adapter hands it to the codec. */
const hash = (fields: Record<string, Buffer>): Buffer => encodeFieldMap(Object.entries(fields).map(([f, v]) => [Buffer.from(f), v]))
const codec = createSpringCodec()

describe('Spring Session: JDK strings written as the JDK writes them', () => {
  it('writes every String fixture byte for byte (TC_STRING, TC_LONGSTRING, modified UTF-8)', () => {
    const strings = values.filter(v => v.javaClass === 'java.lang.String')
    assert.ok(strings.length >= 3)
    for (const s of strings) assert.deepEqual(writeJavaString(s.value as string), b64(s.bytesBase64), s.name)
  })

  it('writes the index and expirations members of every Redis fixture', () => {
    for (const c of redisCases) {
      if (c.indexMemberBase64) assert.deepEqual(writeJavaString(c.sessionId), b64(c.indexMemberBase64), c.name)
      if (c.expirationsMemberBase64) assert.deepEqual(writeJavaString(`expires:${c.sessionId}`), b64(c.expirationsMemberBase64), c.name)
    }
  })

  it('reads back what it writes, for text the reader has to work at', () => {
    for (const text of ['', 'a', '\u0000', 'zoë😀', 'x'.repeat(70_000), '\u07FF\u0800\uFFFF']) assert.equal(parseJavaSerialized(writeJavaString(text)), text)
  })
})

describe('Spring Session: the hash framing', () => {
  it('round-trips, whatever order HGETALL gave the fields in', () => {
    const a = hash({b: Buffer.from([0, 1]), a: Buffer.alloc(0), 'sessionAttr:x': Buffer.from('y:z')})
    const b = hash({'sessionAttr:x': Buffer.from('y:z'), a: Buffer.alloc(0), b: Buffer.from([0, 1])})
    assert.deepEqual(a, b)
    assert.deepEqual([...readFieldMap(a)!.entries()], [['a', Buffer.alloc(0)], ['b', Buffer.from([0, 1])], ['sessionAttr:x', Buffer.from('y:z')]])
  })

  it('refuses bytes that are not the framing (undecodable, never a user)', () => {
    for (const bad of ['x', '5:abc', '3:abc', '3:abc9:', '99999999999:x', ':']) {
      assert.equal(readFieldMap(Buffer.from(bad)), undefined, bad)
      const decoded = codec.decode(Buffer.from(bad))
      assert.equal(decoded.ok, false, bad)
    }
  })
})

describe('Spring Session codec: the Redis hashes of spring.json (written by the real JDK)', () => {
  const withHash = redisCases.filter(c => c.hashFieldsBase64)

  it('has live, expired, anonymous and non-ASCII principals', () => {
    assert.ok(withHash.some(c => c.expect.expired) && withHash.some(c => !c.expect.expired))
    assert.ok(withHash.some(c => c.expect.userId === null) && withHash.some(c => c.expect.userId === 'zoë😀'))
  })

  for (const c of withHash) {
    it(`reads ${c.name}: user ${c.expect.userId}, expiry lastAccessedTime + maxInactiveInterval`, () => {
      const stored = hash(Object.fromEntries(Object.entries(c.hashFieldsBase64!).map(([f, v]) => [f, b64(v)])))
      for (const decoded of [codec.decode(stored), codec.decodeFor!(stored, c.expect.userId ?? 'nobody')]) {
        assert.ok(decoded?.ok, c.name)
        assert.equal(decoded.userId, c.expect.userId)
        assert.equal(decoded.expiresAt?.getTime(), c.expect.expiresAtMs)
      }

      const full = codec.decode(stored)
      assert.ok(full.ok)
      if (c.expect.userId !== null) assert.equal(full.data[PRINCIPAL_ATTRIBUTE], c.expect.userId)
      assert.match(String(full.data.loginTime), /^\d{4}-\d\d-\d\dT/)
    })
  }
})

describe('Spring Session codec: whom Spring names, and what it cannot tell', () => {
  const base = {lastAccessedTime: value('long-epoch-ms'), maxInactiveInterval: value('integer-1800')}
  const context = b64(JDK_SAMPLES['security-context'])

  it('falls back to the SPRING_SECURITY_CONTEXT authentication name, as PrincipalNameIndexResolver does', () => {
    const decoded = codec.decode(hash({...base, [`sessionAttr:${SPRING_SECURITY_CONTEXT}`]: context}))
    assert.ok(decoded.ok)
    assert.equal(decoded.userId, 'alice')
  })

  it('lets the principal attribute win over the security context', () => {
    const decoded = codec.decode(hash({...base, [`sessionAttr:${PRINCIPAL_NAME_INDEX_NAME}`]: writeJavaString('bob'), [`sessionAttr:${SPRING_SECURITY_CONTEXT}`]: context}))
    assert.ok(decoded.ok)
    assert.equal(decoded.userId, 'bob')
  })

  it('reads an explicit --user-path through the decoded attributes', () => {
    const byPath = createSpringCodec({userPath: [SPRING_SECURITY_CONTEXT, 'authentication', 'details', 'remoteAddress']})
    const decoded = byPath.decodeFor!(hash({...base, [`sessionAttr:${SPRING_SECURITY_CONTEXT}`]: context}), '203.0.113.7')
    assert.ok(decoded?.ok)
    assert.equal(decoded.userId, '203.0.113.7')
  })

  it('says owner unknown for a principal attribute that is not a String, or over a limit', () => {
    const odd = codec.decode(hash({...base, [`sessionAttr:${PRINCIPAL_NAME_INDEX_NAME}`]: value('hashmap')}))
    assert.deepEqual(odd, {ok: false, ownerUnknown: true, reason: 'principal attribute not a String'})
    const big = createSpringCodec({maxPayloadBytes: 100}).decode(hash({...base, [`sessionAttr:${PRINCIPAL_NAME_INDEX_NAME}`]: writeJavaString('x'.repeat(200))}))
    assert.equal(big.ok, false)
    assert.equal((big as {ownerUnknown?: true}).ownerUnknown, true)
  })

  it('is anonymous without principal or security context, and never expires with a negative interval', () => {
    const never = codec.decode(hash({lastAccessedTime: value('long-epoch-ms'), maxInactiveInterval: parseInt32(-1)}))
    assert.ok(never.ok)
    assert.equal(never.userId, null)
    assert.equal(never.expiresAt, undefined)
  })

  it('refuses a malformed principal value as nobody\'s (Spring cannot read it either)', () => {
    const broken = codec.decode(hash({...base, [`sessionAttr:${PRINCIPAL_NAME_INDEX_NAME}`]: Buffer.from('aced000574ffff', 'hex')}))
    assert.equal(broken.ok, false)
  })
})

describe('Spring Session framework: the Redis layout', () => {
  const layout = spring.redis!()

  it('names the keys Spring writes, from the fixtures', () => {
    for (const c of redisCases) {
      assert.equal(`${layout.prefixes[0]}${c.sessionId}`, c.hashKey)
      assert.deepEqual(layout.companions!(c.sessionId), [c.shadowKey])
      if (c.indexKey && c.expect.userId) assert.equal(layout.userIndex!.key(c.expect.userId), c.indexKey)
      if (c.indexMemberBase64) assert.equal(layout.userIndex!.sessionOf(b64(c.indexMemberBase64)), c.sessionId)
      if (c.expirationsKey && c.expect.expiresAtMs !== null) {
        assert.deepEqual(layout.memberships!(c.sessionId, new Date(c.expect.expiresAtMs)), [{member: b64(c.expirationsMemberBase64!), set: c.expirationsKey}])
      }
    }
  })

  it('takes --prefix as the namespace, and skips the shadow keys when scanning', () => {
    const custom = spring.redis!('app:s:')
    assert.deepEqual(custom.prefixes, ['app:s:sessions:'])
    assert.ok(custom.userIndex!.key('a').startsWith('app:s:index:'))
    assert.equal(layout.keyPattern.test('expires:215a4a9c-73fa-446e-92e0-a2e1aadd425b'), false)
    assert.equal(layout.keyPattern.test('215a4a9c-73fa-446e-92e0-a2e1aadd425b'), true)
    assert.equal(layout.userIndex!.sessionOf(Buffer.from('not java')), undefined)
  })
})

describe('Spring Session framework: the JDBC rows of spring.json', () => {
  const jdbc = fixtures.cases.filter((c): c is SpringJdbcCase => c.family === 'spring-jdbc')
  const sql = spring.sql as SqlLayout
  // The fixtures were written at about their latest LAST_ACCESS_TIME: their `expired` is as of then.
  const written = Math.max(...jdbc.map(c => Number(c.row.LAST_ACCESS_TIME)))
  const clock = {now: new Date(written + 1000), timeZone: 'UTC', wallNow: ''}
  const expiry = new SqlExpiry(sql.expiry, 'unix-ms', '`EXPIRY_TIME`', false)

  it('has live, expired, never-expiring, anonymous and mixed-case rows', () => {
    assert.ok(jdbc.length >= 10)
    assert.ok(jdbc.some(c => c.row.MAX_INACTIVE_INTERVAL === -1) && jdbc.some(c => c.row.PRINCIPAL_NAME === null) && jdbc.some(c => c.row.PRINCIPAL_NAME === 'Alice'))
  })

  for (const c of jdbc) {
    it(`reads ${c.name}: owner ${c.expect.userId}, expired ${c.expect.expired}`, () => {
      assert.equal(c.row[sql.ownerColumn!], c.expect.userId)
      assert.equal(expiry.isExpired(String(c.row[sql.expiry.column]), clock), c.expect.expired)
      const at = expiry.expiresAt(String(c.row[sql.expiry.column]), clock)
      if (c.row.MAX_INACTIVE_INTERVAL === -1) assert.equal(at, null)
      else assert.equal(at?.getTime(), Number(c.row.LAST_ACCESS_TIME) + (Number(c.row.MAX_INACTIVE_INTERVAL) * 1000))
    })
  }
})

/** A JDK Integer with another value: the fixture's bytes with the last 4 replaced. */
function parseInt32(n: number): Buffer {
  const bytes = Buffer.from(value('integer-1800'))
  bytes.writeInt32BE(n, bytes.length - 4)
  return bytes
}
