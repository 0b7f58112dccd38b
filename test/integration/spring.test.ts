/**
 * Spring Session with the real JDK as the writer and the oracle (test/spring/SpringStore.java:
 * ObjectOutputStream, MariaDB Connector/J, Spring's JDBC statements and Redis commands, see
 * test/support/spring.ts): the built CLI lists, purges and cleans; the JDK then reads what is left.
 * Principals alice, Alice, `alice ` (the column's collation makes both equal to alice), malice,
 * ali, alice2 and zoë😀 are never confused; no attribute rows, shadow keys or index members of a
 * purged session are left; stale index members are reported and removed, never listed.
 */
import {Redis} from 'ioredis'
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {writeJavaString} from '../../src/formats/java-serialization.js'
import {sessionctl, sessionctlJson} from '../support/cli.js'
import {freshDatabase} from '../support/mysql.js'
import {testRedisUrl} from '../support/servers.js'
import {
  PRINCIPAL_NAME_INDEX_NAME, requireSpring, springJdbcFindByPrincipal, springJdbcSchema, springJdbcState, springJdbcWrite, springRedisState, springRedisWrite, type SpringSessionSpec,
} from '../support/spring.js'

const auditLog = join(mkdtempSync(join(tmpdir(), 'sessionctl-spring-')), 'audit.log')
const HOUR_MS = 3_600_000

interface Doc {
  changed?: number
  deleted?: number
  sessions: Array<{details?: Record<string, string>; expired: boolean; expiresAt: null | string; id: string; size: number; state: string; userId: null | string}>
  stores: Array<Record<string, unknown> & {error?: string; orphans?: {deleted: number; found: number}; staleIndex?: {count: number; fingerprints: string[]; found?: number; removed: number}; warnings?: string[]}>
}

const cli = (args: string[]): Promise<{code: null | number; doc: Doc; stderr: string}> => sessionctlJson<Doc>(args, {env: {SESSIONCTL_AUDIT_LOG: auditLog}})

const ids = (doc: Doc): string[] => doc.sessions.map(s => s.id).sort()
const sorted = (xs: Iterable<string>): string[] => [...xs].sort()

/** The principals that must never be taken for alice's, and alice's own kinds of session. */
const CAST: Array<[string, SpringSessionSpec]> = [
  ['alice', {attributes: {cart: 'x'.repeat(3000)}, principal: 'alice'}],
  ['alice-2', {principal: 'alice'}],
  ['alice-context', {securityContext: 'alice'}],
  ['alice-never', {maxInactiveSeconds: -1, principal: 'alice'}],
  ['alice-expired', {lastAccessAgoMs: 2 * HOUR_MS, principal: 'alice'}],
  ['Alice', {principal: 'Alice'}],
  ['alice-space', {principal: 'alice '}],
  ['malice', {principal: 'malice'}],
  ['ali', {principal: 'ali'}],
  ['alice2', {principal: 'alice2'}],
  ['zoe', {principal: 'zoë😀'}],
  ['anonymous', {attributes: {note: 'alice'}}],
  ['bob-expired', {lastAccessAgoMs: 2 * HOUR_MS, principal: 'bob'}],
]
const ALICE = ['alice', 'alice-2', 'alice-context', 'alice-never', 'alice-expired']

describe('Spring Session (JDK-written) with the built CLI', function () {
  this.timeout(180_000)

  before(function () {
    requireSpring(this)
  })

  describe('JDBC on MariaDB (schema-mysql.sql)', () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>
    let table: string
    let names: Map<string, {id: string; primaryId: string}>
    const store = (): string[] => ['--store', db.url, '--format', 'spring', '--table', table]

    async function seed(schema: Parameters<typeof springJdbcSchema>[1] = {}): Promise<void> {
      table = `S${randomBytes(4).toString('hex').toUpperCase()}`
      await springJdbcSchema(db.url, {...schema, table})
      const written = await springJdbcWrite(db.url, CAST.map(([, spec]) => spec), {table})
      names = new Map(CAST.map(([name], i) => [name, written[i]]))
    }

    const idsOf = (...which: string[]): string[] => sorted(which.map(n => names.get(n)!.id))
    const left = async (): Promise<Map<string, string>> => {
      const state = await springJdbcState(db.url, {table})
      const byId = new Map(state.sessions.map(s => [s.id, s]))
      return new Map([...names].filter(([, w]) => byId.has(w.id)).map(([n, w]) => [n, w.id]))
    }

    before(async () => {
      db = await freshDatabase()
    })

    after(async () => {
      await db?.conn.end()
    })

    it('lists exactly alice\'s sessions, where Spring\'s own query also returns Alice\'s and `alice `\'s', async () => {
      await seed()
      const spring = await springJdbcFindByPrincipal(db.url, 'alice', {table})
      assert.deepEqual(spring, idsOf(...ALICE, 'Alice', 'alice-space'))
      const all = await cli(['sessions', 'list', ...store(), '--user', 'alice', '--all'])
      assert.equal(all.code, 0, all.stderr)
      assert.deepEqual(ids(all.doc), idsOf(...ALICE))
      assert.ok(all.doc.sessions.every(s => s.userId === 'alice'))
      assert.match(all.stderr, /2 sessions of another user equal to "alice" only under PRINCIPAL_NAME's collation/)
      const never = all.doc.sessions.find(s => s.id === names.get('alice-never')!.id)!
      assert.equal(never.expiresAt, null)
      assert.equal(never.state, 'live')
      // The size is the attributes' bytes; created / last activity from the epoch-ms columns.
      const big = all.doc.sessions.find(s => s.id === names.get('alice')!.id)!
      assert.ok(big.size > 3000, String(big.size))
      assert.match(big.details!.lastActivity, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      const live = await cli(['sessions', 'list', ...store(), '--user', 'alice'])
      assert.deepEqual(ids(live.doc), idsOf('alice', 'alice-2', 'alice-context', 'alice-never'))
      assert.deepEqual(ids((await cli(['sessions', 'list', ...store(), '--user', 'Alice'])).doc), idsOf('Alice'))
      assert.deepEqual(ids((await cli(['sessions', 'list', ...store(), '--user', 'zoë😀'])).doc), idsOf('zoe'))
    })

    it('purges alice except one named by PRIMARY_ID, leaving no attribute rows and every other principal', async () => {
      await seed()
      const kept = names.get('alice-2')!
      const purge = await cli(['sessions', 'purge', ...store(), '--user', 'alice', '--except', kept.primaryId, '--yes'])
      assert.equal(purge.code, 0, purge.stderr)
      assert.equal(purge.doc.deleted, 4)
      const state = await springJdbcState(db.url, {table})
      assert.equal(state.orphanAttributes, 0)
      assert.deepEqual(sorted((await left()).keys()), sorted(CAST.map(([n]) => n).filter(n => !ALICE.includes(n) || n === 'alice-2')))
      assert.deepEqual(await springJdbcFindByPrincipal(db.url, 'alice', {liveOnly: true, table}), idsOf('alice-2', 'Alice', 'alice-space'))
    })

    it('cleans up EXPIRY_TIME < now only: never-expiring and live sessions stay, with their attributes', async () => {
      await seed()
      const dry = await cli(['sessions', 'cleanup', ...store(), '--dry-run'])
      assert.equal(dry.code, 0, dry.stderr)
      assert.equal((dry.doc.stores[0] as {expired: number}).expired, 2)
      const run = await cli(['sessions', 'cleanup', ...store()])
      assert.equal(run.code, 0, run.stderr)
      assert.deepEqual(sorted((await left()).keys()), sorted(CAST.map(([n]) => n).filter(n => n !== 'alice-expired' && n !== 'bob-expired')))
      assert.equal((await springJdbcState(db.url, {table})).orphanAttributes, 0)
    })

    it('without the cascading foreign key: a purge deletes the attribute rows itself, cleanup sweeps orphans', async () => {
      await seed({foreignKey: false})
      // Orphans from before (an app deleting the session row only).
      await db.conn.query(`DELETE FROM \`${table}\` WHERE SESSION_ID = ?`, [names.get('malice')!.id])
      assert.ok((await springJdbcState(db.url, {table})).orphanAttributes > 0)
      const purge = await cli(['sessions', 'purge', ...store(), '--user', 'zoë😀', '--yes'])
      assert.equal(purge.doc.deleted, 1)
      const before = (await springJdbcState(db.url, {table})).orphanAttributes
      const dry = await cli(['sessions', 'cleanup', ...store(), '--dry-run'])
      assert.equal(dry.doc.stores[0].orphans!.found, before)
      assert.equal((await springJdbcState(db.url, {table})).orphanAttributes, before, 'the dry run deleted nothing')
      const run = await cli(['sessions', 'cleanup', ...store()])
      assert.equal(run.code, 0, run.stderr)
      assert.ok(run.doc.stores[0].orphans!.deleted >= before)
      assert.equal((await springJdbcState(db.url, {table})).orphanAttributes, 0)
      assert.ok((await left()).has('alice-never'))
    })

    it('works on the older schema without the PRINCIPAL_NAME index, and says so', async () => {
      await seed({legacy: true})
      const list = await cli(['sessions', 'list', ...store(), '--user', 'alice', '--all'])
      assert.equal(list.code, 0, list.stderr)
      assert.deepEqual(ids(list.doc), idsOf(...ALICE))
      assert.match(list.stderr, /user column PRINCIPAL_NAME has no index/)
    })

    it('refuses --user-path and --data-column, which mean nothing here, before reading', async () => {
      for (const extra of [['--user-path', 'SPRING_SECURITY_CONTEXT.authentication.name'], ['--data-column', 'x']]) {
        const r = await sessionctl(['sessions', 'list', ...store(), '--user', 'alice', ...extra])
        assert.equal(r.code, 2, r.stderr)
        assert.match(r.stderr, /records the user in the PRINCIPAL_NAME column itself/)
      }
    })
  })

  describe('Redis, indexed repository', () => {
    let redis: Redis
    let ns: string
    let names: Map<string, string>
    const store = (): string[] => ['--store', testRedisUrl(), '--format', 'spring', '--prefix', ns]
    const STALE = ['dead0000-0000-4000-8000-000000000001', 'dead0000-0000-4000-8000-000000000002']
    const REDIS_CAST: Array<[string, SpringSessionSpec]> = [
      ...CAST.filter(([n]) => n !== 'alice-expired' && n !== 'bob-expired' && n !== 'alice-never'),
      // Expired 2 minutes ago: the shadow key is gone, the hash lives out its 5-minute grace.
      ['alice-grace', {lastAccessAgoMs: (30 * 60_000) + 120_000, principal: 'alice'}],
    ]

    async function seed(indexed = true): Promise<void> {
      ns = `sp${randomBytes(4).toString('hex')}:`
      const written = await springRedisWrite(testRedisUrl(), REDIS_CAST.map(([, s]) => s), {
        indexed, namespace: ns, staleIndexMembers: indexed ? [...STALE.map(id => ({id, principal: 'alice'})), {id: 'dead0000-0000-4000-8000-00000000000b', principal: 'bob'}] : [],
      })
      names = new Map(REDIS_CAST.map(([n], i) => [n, written[i].id]))
    }

    const idsOf = (...which: string[]): string[] => sorted(which.map(n => names.get(n)!))

    before(() => {
      redis = new Redis(testRedisUrl())
    })

    after(async () => {
      await redis?.quit()
    })

    it('lists alice\'s sessions through her index set, reports its stale members and never lists them', async () => {
      await seed()
      // Drift the other way: alice's set naming zoë's session (a principal changed, the set kept it).
      await redis.sadd(`${ns}index:${PRINCIPAL_NAME_INDEX_NAME}:alice`, writeJavaString(names.get('zoe')!))
      const all = await cli(['sessions', 'list', ...store(), '--user', 'alice', '--all'])
      assert.equal(all.code, 0, all.stderr)
      assert.deepEqual(ids(all.doc), idsOf('alice', 'alice-2', 'alice-context', 'alice-grace'))
      assert.equal(all.doc.sessions.find(s => s.id === names.get('alice-grace'))!.state, 'expired')
      assert.equal(all.doc.stores[0].staleIndex!.count, 2)
      assert.equal((all.doc.stores[0] as {scanned: number}).scanned, 5, 'read through the index, not a scan')
      assert.match(all.stderr, /2 stale members of the index set for "alice"/)
      const live = await cli(['sessions', 'list', ...store(), '--user', 'alice'])
      assert.deepEqual(ids(live.doc), idsOf('alice', 'alice-2', 'alice-context'))
      for (const [user, who] of [['Alice', 'Alice'], ['ali', 'ali'], ['zoë😀', 'zoe']]) {
        assert.deepEqual(ids((await cli(['sessions', 'list', ...store(), '--user', user, '--all'])).doc), idsOf(who), user)
      }

      // A principal with a trailing space cannot be named by --user (an unquoted shell variable looks the same): refused.
      assert.equal((await sessionctl(['sessions', 'list', ...store(), '--user', 'alice '])).code, 2)
    })

    it('purges alice: hashes, shadow keys, index members (stale ones too) and expirations members, nobody else\'s', async () => {
      await seed()
      const before = await springRedisState(testRedisUrl(), {namespace: ns})
      const purge = await cli(['sessions', 'purge', ...store(), '--user', 'alice', '--except', names.get('alice-2')!, '--yes'])
      assert.equal(purge.code, 0, purge.stderr)
      assert.equal(purge.doc.deleted, 3)
      assert.equal(purge.doc.stores[0].staleIndex!.removed, 2)
      const after = await springRedisState(testRedisUrl(), {namespace: ns})
      const gone = new Set(idsOf('alice', 'alice-context', 'alice-grace'))
      assert.deepEqual(sorted(after.hashes.map(h => h.id)), sorted(before.hashes.map(h => h.id).filter(id => !gone.has(id))))
      assert.ok(after.shadows.every(s => !gone.has(s.id)))
      assert.deepEqual(after.index.alice, [names.get('alice-2')])
      assert.ok(Object.values(after.expirations).flat().every(m => !gone.has(m.replace(/^expires:/, ''))), JSON.stringify(after.expirations))
      assert.deepEqual(after.index.bob, before.index.bob, 'bob\'s index is not this purge\'s business')
    })

    it('cleanup removes stale index members (a dry run counts them), and only those', async () => {
      await seed()
      const dry = await cli(['sessions', 'cleanup', ...store(), '--dry-run'])
      assert.equal(dry.code, 0, dry.stderr)
      assert.equal(dry.doc.stores[0].staleIndex!.found, 3)
      assert.equal(dry.doc.stores[0].staleIndex!.removed, 0)
      const run = await cli(['sessions', 'cleanup', ...store()])
      assert.equal(run.code, 0, run.stderr)
      assert.equal(run.doc.stores[0].staleIndex!.removed, 3)
      const state = await springRedisState(testRedisUrl(), {namespace: ns})
      assert.deepEqual(sorted(state.index.alice), idsOf('alice', 'alice-2', 'alice-context', 'alice-grace'))
      assert.equal(state.index.bob, undefined)
      assert.equal(state.hashes.length, REDIS_CAST.length)
    })

    it('the plain repository (no index): finds a user by scanning the hashes, principal from the attribute or the security context', async () => {
      await seed(false)
      const all = await cli(['sessions', 'list', ...store(), '--user', 'alice', '--all'])
      assert.equal(all.code, 0, all.stderr)
      // The plain repository sets PEXPIREAT at the expiry: the grace-period session is gone.
      assert.deepEqual(ids(all.doc), idsOf('alice', 'alice-2', 'alice-context'))
      assert.match(all.stderr, /no index set for "alice"/)
      const purge = await cli(['sessions', 'purge', ...store(), '--user', 'alice', '--yes'])
      assert.equal(purge.doc.deleted, 3)
      const state = await springRedisState(testRedisUrl(), {namespace: ns})
      assert.ok(state.hashes.every(h => h.principal !== 'alice'))
      assert.ok(state.hashes.some(h => h.principal === 'Alice'))
    })
  })
})
