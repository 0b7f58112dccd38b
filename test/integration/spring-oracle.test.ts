/**
 * A self-test of test/support/spring.ts and test/spring/SpringStore.java only (no sessionctl): the
 * JDK-written Spring Session layouts land in MariaDB and Redis as spring-session@206fb60 lays them
 * out, and the state readers see them.
 */
import {Redis} from 'ioredis'
import assert from 'node:assert/strict'
import {Buffer} from 'node:buffer'
import {randomBytes, randomUUID} from 'node:crypto'

import {PRINCIPAL_ATTRIBUTE, springFixtures} from '../support/java-serialization.js'
import {freshDatabase} from '../support/mysql.js'
import {testRedisUrl} from '../support/servers.js'
import {
  requireSpring, springJdbcFindByPrincipal, springJdbcSchema, springJdbcState, springJdbcWrite, springRedisState, springRedisWrite,
} from '../support/spring.js'

const MIN = 60_000
const roundUp = (ms: number): number => (Math.floor(ms / MIN) + 1) * MIN
const near = (actual: number, expected: number, slackMs = 15_000, what = ''): void =>
  assert.ok(actual <= expected && actual > expected - slackMs, `${what}: ${actual} not within ${slackMs} ms below ${expected}`)

describe('Spring Session oracle (JDK 17 + Connector/J writing Spring’s layouts)', function () {
  this.timeout(120_000)

  before(function () {
    requireSpring(this)
  })

  describe('JDBC (MariaDB)', () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>

    before(async () => {
      db = await freshDatabase()
    })

    after(async () => {
      await db?.conn.end()
    })

    it('creates schema-mysql.sql as is, the legacy scripts and a table without the FK', async () => {
      const ddl = await springJdbcSchema(db.url)
      assert.match(ddl.SPRING_SESSION, /UNIQUE KEY `SPRING_SESSION_IX1` \(`SESSION_ID`\)/)
      assert.match(ddl.SPRING_SESSION, /KEY `SPRING_SESSION_IX3` \(`PRINCIPAL_NAME`\)/)
      assert.match(ddl.SPRING_SESSION_ATTRIBUTES, /CONSTRAINT `SPRING_SESSION_ATTRIBUTES_FK` FOREIGN KEY .* ON DELETE CASCADE/)
      assert.match(ddl.SPRING_SESSION, /ROW_FORMAT=DYNAMIC/)

      const legacy = await springJdbcSchema(db.url, {legacy: true, table: 'OLD_SESSION'})
      assert.match(legacy.OLD_SESSION, /\n {2}KEY `OLD_SESSION_IX1` \(`SESSION_ID`\)/)
      assert.doesNotMatch(legacy.OLD_SESSION, /UNIQUE KEY|PRINCIPAL_NAME`\)/)

      const noFk = await springJdbcSchema(db.url, {foreignKey: false, table: 'NOFK_SESSION'})
      assert.doesNotMatch(noFk.NOFK_SESSION_ATTRIBUTES, /FOREIGN KEY/)
      assert.match(noFk.NOFK_SESSION, /UNIQUE KEY `NOFK_SESSION_IX1`/)
    })

    it('writes sessions as JdbcIndexedSessionRepository does and reads them back', async () => {
      const now = Date.now()
      const written = await springJdbcWrite(db.url, [
        {attributes: {greeting: 'hi'}, principal: 'alice'},
        {principal: 'Alice'},
        {lastAccessAgoMs: 2 * 3_600_000, principal: 'alice'},
        {securityContext: 'bob'},
        {maxInactiveSeconds: -1, principal: 'carol'},
        {},
      ], {nowMs: now})
      assert.equal(written.length, 6)
      assert.deepEqual(written.map(w => w.principal), ['alice', 'Alice', 'alice', 'bob', 'carol', null])
      assert.deepEqual(written.map(w => w.expired), [false, false, true, false, false, false])
      assert.equal(written[0].expiryTime, String(now + 1_800_000))
      assert.equal(written[4].expiryTime, '9223372036854775807')

      const state = await springJdbcState(db.url)
      assert.equal(state.sessions.length, 6)
      assert.equal(state.orphanAttributes, 0)
      const byId = new Map(state.sessions.map(s => [s.id, s]))
      const alice = byId.get(written[0].id)!
      assert.deepEqual(alice.attributes, ['greeting', 'loginTime', PRINCIPAL_ATTRIBUTE])
      assert.equal(alice.principalAttribute, 'alice')
      assert.equal(alice.maxInactive, 1800)
      assert.equal(alice.lastAccessTime - alice.creationTime, 60_000)
      assert.deepEqual(byId.get(written[3].id)!.attributes, ['SPRING_SECURITY_CONTEXT', 'loginTime'])
      assert.equal(byId.get(written[3].id)!.principal, 'bob', 'PRINCIPAL_NAME from authentication.getName()')
      assert.equal(byId.get(written[4].id)!.maxInactive, -1)
      assert.equal(byId.get(written[5].id)!.principal, null)

      // Spring's own lookup: the collation folds case, and expired rows are not dropped.
      const found = await springJdbcFindByPrincipal(db.url, 'alice', {nowMs: now})
      assert.deepEqual(found, [written[0].id, written[1].id, written[2].id].sort())
      assert.deepEqual(await springJdbcFindByPrincipal(db.url, 'alice', {liveOnly: true, nowMs: now}), [written[0].id, written[1].id].sort())
      assert.deepEqual(await springJdbcFindByPrincipal(db.url, 'bob'), [written[3].id])
    })

    it('the FK cascades a deleted session’s attributes; without it they are orphans', async () => {
      const [withFk] = await springJdbcWrite(db.url, [{principal: 'dave'}])
      await db.conn.query('DELETE FROM SPRING_SESSION WHERE SESSION_ID = ?', [withFk.id])
      assert.equal((await springJdbcState(db.url)).orphanAttributes, 0)

      const [a, b] = await springJdbcWrite(db.url, [{attributes: {x: 'y'}, principal: 'erin'}, {principal: 'frank'}], {table: 'NOFK_SESSION'})
      await db.conn.query('DELETE FROM NOFK_SESSION WHERE SESSION_ID = ?', [a.id])
      const state = await springJdbcState(db.url, {table: 'NOFK_SESSION'})
      assert.deepEqual(state.sessions.map(s => s.id), [b.id])
      assert.equal(state.orphanAttributes, 3, 'principal, x and loginTime')
    })

    it('a byte[] attribute up to the BLOB limit fits; beyond 65,535 bytes MariaDB refuses it (strict mode)', async () => {
      const [ok] = await springJdbcWrite(db.url, [{bigAttributeBytes: 60_000, principal: 'gina'}])
      assert.ok((await springJdbcState(db.url)).sessions.find(s => s.id === ok.id)!.attributes.includes('blob'))
      await assert.rejects(springJdbcWrite(db.url, [{bigAttributeBytes: 70_000, principal: 'gina'}]), /too long|ATTRIBUTE_BYTES/i)
    })
  })

  describe('Redis', () => {
    let ns: string
    const url = (): string => testRedisUrl()

    beforeEach(() => {
      ns = `spring:t${randomBytes(4).toString('hex')}:`
    })

    it('indexed: hash, shadow key, principal index and expirations bucket, with Spring’s TTLs', async () => {
      const now = Date.now()
      const [live, grace, gone, ctx, anon] = await springRedisWrite(url(), [
        {attributes: {greeting: 'hi'}, principal: 'alice'},
        {lastAccessAgoMs: 1_900_000, principal: 'alice'},
        {lastAccessAgoMs: 2_200_000, principal: 'alice'},
        {securityContext: 'bob'},
        {maxInactiveSeconds: 86_400},
      ], {namespace: ns, nowMs: now, staleIndexMembers: [{id: 'stale-1', principal: 'alice'}]})
      assert.equal(live.hashKey, `${ns}sessions:${live.id}`)
      assert.equal(live.expiresAtMs, now + 1_800_000)
      assert.deepEqual([live, grace, gone, ctx, anon].map(w => w.stored), [true, true, false, true, true])

      const state = await springRedisState(url(), {namespace: ns})
      const hash = new Map(state.hashes.map(h => [h.id, h]))
      const shadow = new Map(state.shadows.map(s => [s.id, s]))
      assert.deepEqual([...hash.keys()].sort(), [live.id, grace.id, ctx.id, anon.id].sort())
      assert.deepEqual(hash.get(live.id)!.fields, ['creationTime', 'lastAccessedTime', 'maxInactiveInterval', 'sessionAttr:greeting', 'sessionAttr:loginTime', `sessionAttr:${PRINCIPAL_ATTRIBUTE}`])
      assert.equal(hash.get(live.id)!.principal, 'alice')
      assert.equal(hash.get(live.id)!.lastAccessedTime, now)
      assert.equal(hash.get(live.id)!.maxInactiveInterval, 1800)
      assert.equal(hash.get(ctx.id)!.principal, 'bob', 'resolved from SPRING_SECURITY_CONTEXT')
      near(hash.get(live.id)!.pttl, now + 2_100_000 - Date.now() + 1000, 20_000, 'hash TTL maxInactive + 300 s')
      near(shadow.get(live.id)!.pttl, now + 1_800_000 - Date.now() + 1000, 20_000, 'shadow TTL maxInactive')
      assert.equal(shadow.get(live.id)!.value, '')
      // the grace period: expired 100 s ago, the hash lives 200 s more, the shadow key is gone
      near(hash.get(grace.id)!.pttl, 200_000, 20_000, 'grace hash')
      assert.equal(shadow.has(grace.id), false)
      assert.deepEqual(state.shadows.map(s => s.id).sort(), [live.id, ctx.id, anon.id].sort())
      // the index has no TTL: the members of expired, gone and stale sessions stay
      assert.deepEqual(state.index.alice, [live.id, grace.id, gone.id, 'stale-1'].sort())
      assert.deepEqual(state.index.bob, [ctx.id])
      const bucket = `${ns}expirations:${roundUp(now + 1_800_000)}`
      assert.ok(state.expirations[bucket].includes(`expires:${live.id}`), JSON.stringify(state.expirations))
      assert.ok(state.expirations[`${ns}expirations:${roundUp(now - 1_900_000 + 1_800_000)}`].includes(`expires:${grace.id}`))
      assert.deepEqual(state.expirations[`${ns}expirations:${roundUp(now + 86_400_000)}`], [`expires:${anon.id}`])
      assert.deepEqual(state.otherKeys, [])
    })

    it('matches the JDK fixture’s shape: hash TTL − shadow TTL = 300 s, members are JDK strings', async () => {
      const fixture = springFixtures().cases.find(c => c.name === 'redis-alice-live')!
      assert.equal(fixture.family, 'spring-redis-indexed')
      const id = randomUUID()
      await springRedisWrite(url(), [{id, principal: 'alice'}], {namespace: ns})
      const state = await springRedisState(url(), {namespace: ns})
      const diff = state.hashes[0].pttl - state.shadows[0].pttl
      assert.ok(Math.abs(diff - 300_000) < 50, `${diff}`)
      if (fixture.family !== 'spring-redis-indexed') throw new Error('fixture')
      assert.equal(fixture.hashPttlMs - fixture.shadowPttlMs, 300_000)
      assert.deepEqual(state.index.alice, [id])
      // byte for byte what the fixture's JDK wrote, for the values that do not depend on the clock
      const redis = new Redis(url())
      try {
        const b64 = async (key: string, field: string): Promise<string> => (await redis.hgetBuffer(key, field))!.toString('base64')
        const hashKey = `${ns}sessions:${id}`
        assert.equal(await b64(hashKey, 'maxInactiveInterval'), fixture.hashFieldsBase64!.maxInactiveInterval)
        assert.equal(await b64(hashKey, `sessionAttr:${PRINCIPAL_ATTRIBUTE}`), fixture.hashFieldsBase64![`sessionAttr:${PRINCIPAL_ATTRIBUTE}`])
        assert.equal((await redis.getBuffer(`${ns}sessions:expires:${id}`))!.length, 0)
        const member = Buffer.from(fixture.indexMemberBase64!, 'base64')
        const ours = (await redis.smembersBuffer(`${ns}index:${PRINCIPAL_ATTRIBUTE}:alice`))[0]
        assert.deepEqual(ours.subarray(0, 7), member.subarray(0, 7), 'aced0005 74 0024')
        assert.equal(ours.subarray(7).toString('utf8'), id)
      } finally {
        redis.disconnect()
      }
    })

    it('3.4+ leaves a minute’s first expirations set without TTL; 3.3 set one', async () => {
      const now = Date.now()
      const [a] = await springRedisWrite(url(), [{maxInactiveSeconds: 1234}], {namespace: ns, nowMs: now})
      let state = await springRedisState(url(), {namespace: ns})
      const bucket = `${ns}expirations:${roundUp(now + 1_234_000)}`
      assert.deepEqual(state.expirations[bucket], [`expires:${a.id}`])
      assert.equal(state.expirationsPttl[bucket], -1, 'EXPIRE before SADD on a new set')
      const [b] = await springRedisWrite(url(), [{maxInactiveSeconds: 1234}], {namespace: ns, nowMs: now})
      state = await springRedisState(url(), {namespace: ns})
      assert.deepEqual(state.expirations[bucket], [`expires:${a.id}`, `expires:${b.id}`].sort())
      assert.ok(state.expirationsPttl[bucket] > 1_400_000, 'the second save set it')

      const ns33 = `${ns}v33:`
      await springRedisWrite(url(), [{maxInactiveSeconds: 1234}], {layout: '3.3', namespace: ns33, nowMs: now})
      const old = await springRedisState(url(), {namespace: ns33})
      assert.ok(old.expirationsPttl[`${ns33}expirations:${roundUp(now + 1_234_000)}`] > 1_400_000)
    })

    it('a negative interval: 3.4+ ends with a 299 s hash and no shadow key; 3.3 persists both', async () => {
      const now = Date.now()
      const [s] = await springRedisWrite(url(), [{maxInactiveSeconds: -1, principal: 'carol'}], {namespace: ns, nowMs: now})
      assert.equal(s.expiresAtMs, null)
      const state = await springRedisState(url(), {namespace: ns})
      near(state.hashes[0].pttl, 299_000, 20_000, 'hash')
      assert.deepEqual(state.shadows, [])
      assert.deepEqual(state.expirations[`${ns}expirations:${roundUp(now - 1000)}`], [`expires:${s.id}`])

      const ns33 = `${ns}v33:`
      const [s33] = await springRedisWrite(url(), [{maxInactiveSeconds: -1, principal: 'carol'}], {layout: '3.3', namespace: ns33})
      const old = await springRedisState(url(), {namespace: ns33})
      assert.equal(old.hashes[0].pttl, -1)
      assert.deepEqual(old.shadows.map(x => [x.pttl, x.value]), [[-1, '']])
      assert.deepEqual(old.expirations, {})
      assert.deepEqual(old.index.carol, [s33.id])
    })

    it('RedisSessionRepository: only the hash, PEXPIREAT lastAccess + maxInactive', async () => {
      const now = Date.now()
      const written = await springRedisWrite(url(), [
        {principal: 'alice'},
        {lastAccessAgoMs: 1_000_000, maxInactiveSeconds: 1800},
        {lastAccessAgoMs: 1_900_000},
        {maxInactiveSeconds: -1},
      ], {indexed: false, namespace: ns, nowMs: now})
      assert.deepEqual(written.map(w => w.stored), [true, true, false, false], 'a time in the past deletes the key')
      const state = await springRedisState(url(), {namespace: ns})
      assert.deepEqual(state.hashes.map(h => h.id).sort(), [written[0].id, written[1].id].sort())
      const pttl = new Map(state.hashes.map(h => [h.id, h.pttl]))
      near(pttl.get(written[0].id)!, now + 1_800_000 - Date.now() + 1000, 20_000, 'live')
      near(pttl.get(written[1].id)!, now + 800_000 - Date.now() + 1000, 20_000, 'older')
      assert.deepEqual([state.shadows, state.index, state.expirations, state.otherKeys], [[], {}, {}, []])
    })
  })
})
