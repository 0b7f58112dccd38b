/**
 * Laravel 8.83 on PostgreSQL, with the real framework as the writer and the oracle: Laravel's stock
 * `pgsql` connection (pdo_pgsql), the 8.x `session:table` migration run by its schema builder on
 * PostgreSQL, Illuminate's Store and DatabaseSessionHandler write the sessions
 * (test/php/oracle.php); the built CLI lists, purges and cleans with `--store postgres://…`;
 * Laravel then says which sessions it still reads, and its own gc() what it would still delete.
 * Users 4, 42, 420, 142 and 4200 are never confused; on PostgreSQL user_id is a bigint.
 */
import assert from 'node:assert/strict'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {sessionctl, sessionctlJson} from '../support/cli.js'
import {
  laravelGc, laravelIds, laravelMigrate, laravelRead, type LaravelSession, type LaravelTarget, laravelWrite, pgsqlParams, requirePhpPgsql,
} from '../support/php.js'
import {createPgDatabase} from '../support/postgres.js'

const auditLog = join(mkdtempSync(join(tmpdir(), 'sessionctl-laravel-pg-')), 'audit.log')

interface Doc {
  deleted?: number
  kept?: number
  sessions: Array<{details?: Record<string, string>; expired: boolean; id: string; userId: string}>
  stores?: Array<{userMismatch?: number; warnings?: string[]}>
}

const cli = (args: string[]): Promise<{code: null | number; doc: Doc; stderr: string}> =>
  sessionctlJson<Doc>(args, {env: {APP_KEY: undefined}})

const ids = (doc: Doc): string[] => doc.sessions.map(s => s.id).sort()

/** 42's sessions and those that must never be taken for 42's. */
const CAST: Array<[string, LaravelSession]> = [
  ['42a', {attrs: {cart: [1, 2, 3]}, ip: '203.0.113.7', user: 42}],
  ['42b', {user: 42}],
  ['42-string', {provider: 'any', user: '42'}],
  ['42-expired', {ageSeconds: 3 * 3600, user: 42}],
  ['42-once', {once: true, user: 42}],
  ['42-admin', {guard: 'admin', user: 42}],
  ['4', {user: 4}],
  ['420', {user: 420}],
  ['142', {user: 142}],
  ['4200', {user: 4200}],
  ['7-expired', {ageSeconds: 5 * 3600, user: 7}],
  ['anonymous', {user: null}],
  ['anonymous-expired', {ageSeconds: 7200 + 60, user: null}],
]
const LIVE_42 = ['42a', '42b', '42-string']

describe('Laravel 8.83 on PostgreSQL (stock pgsql connection, real Illuminate database handler)', function () {
  this.timeout(120_000)
  let url: string
  let n = 0

  before(async function () {
    requirePhpPgsql(this)
    url = await createPgDatabase()
  })

  /** A fresh session table (the 8.x stub on PostgreSQL) holding the cast. */
  async function seed(): Promise<{s: Map<string, string>; store: string[]; target: LaravelTarget}> {
    const table = `sessions_${++n}`
    const target: LaravelTarget = {
      driver: 'database', pgsql: pgsqlParams(url), table, usersTable: `users_${n}`,
    }
    const {columns} = await laravelMigrate({...target, fresh: true})
    assert.deepEqual(columns, {
      id: 'character varying NOT NULL',
      ip_address: 'character varying NULL',
      last_activity: 'integer NOT NULL',
      payload: 'text NOT NULL',
      user_agent: 'text NULL',
      user_id: 'bigint NULL',
    })
    const written = await laravelWrite(target, CAST.map(([, spec]) => spec))
    return {s: new Map(CAST.map(([name], i) => [name, written[i]])), store: ['--store', url, '--format', 'laravel', '--table', table], target}
  }

  it('list --user 42 (live, --all, --expired-only) is exactly what Laravel reads as 42’s, through the bigint user_id index', async () => {
    const {s, store, target} = await seed()
    const answers = await laravelRead(target, [...s.values()])
    const laravel42 = answers.filter(a => a.loaded && a.user === '42').map(a => a.id).sort()
    assert.deepEqual(laravel42, LIVE_42.map(x => s.get(x)).sort())

    const live = await cli(['sessions', 'list', ...store, '--user', '42'])
    assert.equal(live.code, 0, live.stderr)
    assert.deepEqual(ids(live.doc), laravel42)
    // onceUsingId: the column says 42, the payload nobody. Left alone, and reported.
    assert.equal(live.doc.stores![0].userMismatch, 1)
    assert.equal(live.doc.sessions.find(x => x.id === s.get('42a'))!.details?.ip, '203.0.113.7')
    const all = await cli(['sessions', 'list', ...store, '--user', '42', '--all'])
    assert.deepEqual(ids(all.doc), [...laravel42, s.get('42-expired')].sort())
    const expired = await cli(['sessions', 'list', ...store, '--user', '42', '--expired-only'])
    assert.deepEqual(ids(expired.doc), [s.get('42-expired')])
    assert.deepEqual(answers.filter(a => a.id === s.get('42-expired')).map(a => a.loaded), [false], 'Laravel does not serve it')
    for (const user of ['4', '420', '142', '4200']) {
      const other = await cli(['sessions', 'list', ...store, '--user', user])
      assert.deepEqual(ids(other.doc), [s.get(user)], `user ${user}`)
    }

    // Another guard's login leaves user_id NULL: --guard admin reads every payload.
    const admin = await cli(['sessions', 'list', ...store, '--user', '42', '--guard', 'admin'])
    assert.equal(admin.code, 0, admin.stderr)
    assert.deepEqual(ids(admin.doc), [s.get('42-admin')])
    assert.equal((await laravelRead({...target, guard: 'admin'}, [s.get('42-admin')!]))[0].user, '42')
  })

  it('a user id no bigint can hold (alice, a UUID, beyond 2^63) has no sessions: exit 0, nothing listed or deleted, not a database error', async () => {
    const {s, store, target} = await seed()
    const before = (await laravelIds(target)).ids
    for (const user of ['alice', '7c9e6679-7425-40de-944b-e07fc1f69e30', '99999999999999999999', '4.2e1']) {
      const list = await cli(['sessions', 'list', ...store, '--user', user, '--all'])
      assert.equal(list.code, 0, `${user}: ${list.stderr}`)
      assert.deepEqual(list.doc.sessions, [], user)
      assert.match(list.stderr, /user column user_id is bigint, which cannot hold the user id/)
      const purge = await cli(['sessions', 'purge', ...store, '--user', user, '--yes', '--audit-log', auditLog])
      assert.equal(purge.code, 0, `${user}: ${purge.stderr}`)
      assert.equal(purge.doc.deleted, 0)
      assert.doesNotMatch(purge.stderr, /invalid input syntax|out of range/)
    }

    assert.deepEqual((await laravelIds(target)).ids, before)
    // Laravel itself cannot even save a session for such a user: the insert fails on the bigint column.
    await assert.rejects(laravelWrite(target, [{provider: 'any', user: 'alice'}]), /invalid input syntax for type bigint/)
    assert.equal(s.size, CAST.length)
  })

  it('purge --except --dry-run deletes nothing; --yes: Laravel then reads only the kept one of 42’s, and every other session', async () => {
    const {s, store, target} = await seed()
    const dry = await cli(['sessions', 'purge', ...store, '--user', '42', '--except', s.get('42b')!, '--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    assert.equal(dry.doc.deleted, 0)
    assert.deepEqual(ids(dry.doc), ['42a', '42-string', '42-expired'].map(x => s.get(x)).sort())
    assert.equal((await laravelIds(target)).ids.length, CAST.length, 'the dry run deleted nothing')

    const r = await cli(['sessions', 'purge', ...store, '--user', '42', '--except', s.get('42b')!, '--yes', '--audit-log', auditLog])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.doc.deleted, 3)
    assert.equal(r.doc.kept, 1)
    const gone = new Set(['42a', '42-string', '42-expired'].map(x => s.get(x)))
    assert.deepEqual((await laravelIds(target)).ids.sort(), [...s.values()].filter(id => !gone.has(id)).sort())
    const left = await laravelRead(target, [...s.values()])
    assert.deepEqual(left.filter(a => a.loaded && a.user === '42').map(a => a.id), [s.get('42b')])
    // Every session Laravel served before and the purge did not select, it still serves.
    assert.deepEqual(left.filter(a => a.loaded).map(a => a.id).sort(), ['42b', '42-once', '42-admin', '4', '420', '142', '4200', 'anonymous'].map(x => s.get(x)).sort())
  })

  it('purge --expired-only takes 42’s expired one; cleanup deletes what Laravel’s gc() deletes (last_activity <= now - lifetime) and nothing more', async () => {
    const {s, store, target} = await seed()
    const expiredOnly = await cli(['sessions', 'purge', ...store, '--user', '42', '--expired-only', '--yes', '--audit-log', auditLog])
    assert.equal(expiredOnly.code, 0, expiredOnly.stderr)
    assert.deepEqual(ids(expiredOnly.doc), [s.get('42-expired')])
    assert.equal(expiredOnly.doc.deleted, 1)

    const dry = await sessionctl(['sessions', 'cleanup', ...store, '--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    assert.match(dry.stdout, / 2 expired sessions /)
    const clean = await cli(['sessions', 'cleanup', ...store])
    assert.equal(clean.code, 0, clean.stderr)
    assert.equal(clean.doc.deleted, 2)
    const gc = await laravelGc(target)
    assert.equal(gc.deleted, 0, `Laravel's gc() found ${gc.deleted} more to delete`)
    const left = (await laravelIds(target)).ids
    assert.deepEqual(left.sort(), CAST.filter(([name]) => !name.endsWith('expired')).map(([name]) => s.get(name)).sort())
    assert.ok((await laravelRead(target, left)).every(a => a.loaded), 'every session left is one Laravel still serves')
  })
})
