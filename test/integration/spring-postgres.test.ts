/**
 * Spring Session JDBC on PostgreSQL, with the real JDK as the writer and the oracle
 * (test/spring/SpringStore.java over pgJDBC: spring-session-jdbc's schema-postgresql.sql, Spring's
 * INSERTs with PostgreSqlJdbcIndexedSessionRepositoryCustomizer's attribute upsert, JDK-serialized
 * attributes in BYTEA; see test/support/spring.ts): the built CLI lists, purges and cleans with
 * `--store postgres://…`; Spring's own queries (findByPrincipalName, cleanUpExpiredSessions) then
 * say what is left. The script's unquoted names are folded to lower case by PostgreSQL, whose
 * default collation is exact: `Alice` and `alice ` are other principals, for Spring as for the tool.
 */
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {sessionctlJson} from '../support/cli.js'
import {createPgDatabase, pgClient} from '../support/postgres.js'
import {
  requireSpringPostgres, springJdbcCleanup, springJdbcFindByPrincipal, springJdbcState, springJdbcWrite, springPgSchema, type SpringSessionSpec,
} from '../support/spring.js'

const auditLog = join(mkdtempSync(join(tmpdir(), 'sessionctl-spring-pg-')), 'audit.log')
const HOUR_MS = 3_600_000

interface Doc {
  deleted?: number
  sessions: Array<{expiresAt: null | string; id: string; size: number; state: string; userId: null | string}>
  stores: Array<{expired?: number; orphans?: {deleted: number; found: number}; warnings?: string[]}>
}

const cli = (args: string[]): Promise<{code: null | number; doc: Doc; stderr: string}> => sessionctlJson<Doc>(args, {env: {SESSIONCTL_AUDIT_LOG: auditLog}})
const ids = (doc: Doc): string[] => doc.sessions.map(s => s.id).sort()
const sorted = (xs: Iterable<string>): string[] => [...xs].sort()

const CAST: Array<[string, SpringSessionSpec]> = [
  ['alice', {attributes: {cart: 'x'.repeat(3000)}, principal: 'alice'}],
  ['alice-2', {principal: 'alice'}],
  ['alice-context', {securityContext: 'alice'}],
  ['alice-never', {maxInactiveSeconds: -1, principal: 'alice'}],
  ['alice-expired', {lastAccessAgoMs: 2 * HOUR_MS, principal: 'alice'}],
  ['Alice', {principal: 'Alice'}],
  ['alice-space', {principal: 'alice '}],
  ['malice', {principal: 'malice'}],
  ['zoe', {principal: 'zoë😀'}],
  ['anonymous', {attributes: {note: 'alice'}}],
  ['bob-expired', {lastAccessAgoMs: 2 * HOUR_MS, principal: 'bob'}],
]
const ALICE = ['alice', 'alice-2', 'alice-context', 'alice-never', 'alice-expired']
const EXPIRED = ['alice-expired', 'bob-expired']

describe('Spring Session JDBC on PostgreSQL (schema-postgresql.sql, JDK-written over pgJDBC)', function () {
  this.timeout(120_000)
  let url: string
  let table: string
  let names: Map<string, {id: string; primaryId: string}>
  const store = (): string[] => ['--store', url, '--format', 'spring', '--table', table]
  const idsOf = (...which: string[]): string[] => sorted(which.map(n => names.get(n)!.id))
  /** The cast's sessions still in the table, by name. */
  const left = async (): Promise<string[]> => {
    const state = await springJdbcState(url, {table})
    const there = new Set(state.sessions.map(s => s.id))
    return sorted([...names].filter(([, w]) => there.has(w.id)).map(([n]) => n))
  }

  before(async function () {
    requireSpringPostgres(this)
    url = await createPgDatabase()
  })

  async function seed(foreignKey = true): Promise<void> {
    table = `S${randomBytes(4).toString('hex').toUpperCase()}`
    const schema = await springPgSchema(url, {foreignKey, table})
    const lower = table.toLowerCase()
    assert.deepEqual(Object.keys(schema), [lower, `${lower}_attributes`], 'unquoted names fold to lower case')
    assert.ok(schema[`${lower}_attributes`].columns.includes('attribute_bytes bytea NOT NULL'))
    assert.ok(schema[lower].columns.includes('expiry_time bigint NOT NULL'))
    const fk = schema[`${lower}_attributes`].constraints.some(c => / FOREIGN KEY \(session_primary_id\) REFERENCES \w+\(primary_id\) ON DELETE CASCADE$/.test(c))
    assert.equal(fk, foreignKey)
    const written = await springJdbcWrite(url, CAST.map(([, spec]) => spec), {table})
    names = new Map(CAST.map(([name], i) => [name, written[i]]))
  }

  it('list --user alice: Spring’s findByPrincipalName(alice) exactly (all and live); Alice and zoë😀 are their own, `alice ` is Spring’s too', async () => {
    await seed()
    const all = await cli(['sessions', 'list', ...store(), '--user', 'alice', '--all'])
    assert.equal(all.code, 0, all.stderr)
    assert.deepEqual(ids(all.doc), await springJdbcFindByPrincipal(url, 'alice', {table}))
    assert.deepEqual(ids(all.doc), idsOf(...ALICE))
    assert.equal(all.doc.stores[0].warnings, undefined, 'no collation folds principals here')
    const never = all.doc.sessions.find(s => s.id === names.get('alice-never')!.id)!
    assert.deepEqual([never.expiresAt, never.state], [null, 'live'])
    assert.ok(all.doc.sessions.find(s => s.id === names.get('alice')!.id)!.size > 3000, 'the size counts the BYTEA attributes')
    const live = await cli(['sessions', 'list', ...store(), '--user', 'alice'])
    assert.deepEqual(ids(live.doc), await springJdbcFindByPrincipal(url, 'alice', {liveOnly: true, table}))
    assert.deepEqual(ids(live.doc), idsOf('alice', 'alice-2', 'alice-context', 'alice-never'))
    for (const [user, name] of [['Alice', 'Alice'], ['zoë😀', 'zoe']]) {
      const other = await cli(['sessions', 'list', ...store(), '--user', user, '--all'])
      assert.equal(other.code, 0, other.stderr)
      assert.deepEqual(ids(other.doc), await springJdbcFindByPrincipal(url, user, {table}), user)
      assert.deepEqual(ids(other.doc), idsOf(name), user)
    }

    assert.deepEqual(await springJdbcFindByPrincipal(url, 'alice ', {table}), idsOf('alice-space'), 'PostgreSQL keeps the trailing space')
  })

  it('purge alice --except <PRIMARY_ID>: the attributes go with the rows (ON DELETE CASCADE), Spring finds only the kept one, every other principal stays', async () => {
    await seed()
    const kept = names.get('alice-2')!
    const purge = await cli(['sessions', 'purge', ...store(), '--user', 'alice', '--except', kept.primaryId, '--yes'])
    assert.equal(purge.code, 0, purge.stderr)
    assert.equal(purge.doc.deleted, 4)
    assert.equal((await springJdbcState(url, {table})).orphanAttributes, 0)
    assert.deepEqual(await left(), sorted(CAST.map(([n]) => n).filter(n => !ALICE.includes(n) || n === 'alice-2')))
    assert.deepEqual(await springJdbcFindByPrincipal(url, 'alice', {table}), [kept.id])
  })

  it('ids shorter than CHAR(36) (a custom SessionIdGenerator, Spring Session ≥ 3.2) are shown, kept by --except and deleted as Spring wrote them, not blank-padded', async () => {
    await seed()
    const short = await springJdbcWrite(url, [
      {id: 'carol-session-1', primaryId: 'carol-primary-1', principal: 'carol'},
      {id: 'carol-session-2', principal: 'carol'},
      {id: 'carol-session-3', principal: 'carol'},
    ], {table})
    const list = await cli(['sessions', 'list', ...store(), '--user', 'carol'])
    assert.equal(list.code, 0, list.stderr)
    assert.deepEqual(ids(list.doc), ['carol-session-1', 'carol-session-2', 'carol-session-3'])
    const purge = await cli(['sessions', 'purge', ...store(), '--user', 'carol', '--except', 'carol-primary-1', '--except', 'carol-session-2', '--yes'])
    assert.equal(purge.code, 0, purge.stderr)
    assert.equal(purge.doc.deleted, 1)
    assert.deepEqual(ids(purge.doc), ['carol-session-3'])
    // (pgJDBC hands Spring the CHAR(36) value blank-padded; PostgreSQL compares it without the blanks.)
    assert.deepEqual((await springJdbcFindByPrincipal(url, 'carol', {table})).map(id => id.trimEnd()), [short[0].id, short[1].id])
    assert.equal((await springJdbcState(url, {table})).orphanAttributes, 0)
    assert.equal((await left()).length, CAST.length, 'nobody else’s session went')
  })

  it('cleanup deletes what cleanUpExpiredSessions() (EXPIRY_TIME < now) deletes and nothing more; never-expiring sessions stay', async () => {
    await seed()
    const dry = await cli(['sessions', 'cleanup', ...store(), '--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    assert.equal(dry.doc.stores[0].expired, EXPIRED.length)
    assert.equal((await left()).length, CAST.length, 'the dry run deleted nothing')
    const run = await cli(['sessions', 'cleanup', ...store()])
    assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(await left(), sorted(CAST.map(([n]) => n).filter(n => !EXPIRED.includes(n))))
    assert.equal(await springJdbcCleanup(url, {table}), 0, 'Spring finds nothing more to delete')
    assert.equal((await springJdbcState(url, {table})).orphanAttributes, 0)
  })

  it('without the cascading foreign key: purge and cleanup delete the attribute rows themselves', async () => {
    await seed(false)
    const purge = await cli(['sessions', 'purge', ...store(), '--user', 'alice', '--yes'])
    assert.equal(purge.code, 0, purge.stderr)
    assert.equal(purge.doc.deleted, ALICE.length)
    assert.equal((await springJdbcState(url, {table})).orphanAttributes, 0)
    const run = await cli(['sessions', 'cleanup', ...store()])
    assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(await left(), sorted(CAST.map(([n]) => n).filter(n => !ALICE.includes(n) && !EXPIRED.includes(n))))
    assert.equal((await springJdbcState(url, {table})).orphanAttributes, 0)
    assert.equal(await springJdbcCleanup(url, {table}), 0)
    const client = await pgClient(url)
    try {
      const {rows} = await client.query(`SELECT count(*)::int AS n FROM ${table}_ATTRIBUTES`)
      assert.ok(rows[0].n > 0, 'the other sessions keep their attributes')
    } finally {
      await client.end()
    }
  })
})
