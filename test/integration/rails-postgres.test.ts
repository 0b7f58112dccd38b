/**
 * activerecord-session_store on PostgreSQL, with real Rails 6.1 as the writer and the oracle: the
 * gem's [6.1] migration run by ActiveRecord's postgresql adapter (ruby-pg), sessions written and
 * read through the real session middleware (test/rails/oracle.rb); the built CLI lists, purges and
 * cleans with `--store postgres://…`; Rails then says which rows it still finds, and the gem's
 * db:sessions:trim query what it would still delete. The database's TimeZone is Pacific/Chatham
 * (UTC+13:45): ActiveRecord writes updated_at as naive UTC whatever the server's zone.
 */
import assert from 'node:assert/strict'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {sessionctl, sessionctlJson} from '../support/cli.js'
import {createPgDatabase, pgClient} from '../support/postgres.js'
import {
  arMigrate, type ArPgTarget, arRead, arRows, arTrim, arWrite, postgresParams, type RailsReadAnswer, type RailsSession, requireRailsPostgres,
} from '../support/rails.js'
import {registerSessionKeys} from '../support/secrets.js'

const HOUR = 3600
const STRING_ID = '42a1b2c3-5d6e-4f70-8a9b-0c1d2e3f4a5b'
const auditLog = join(mkdtempSync(join(tmpdir(), 'sessionctl-rails-pg-')), 'audit.log')

interface Doc {
  deleted?: number
  kept?: number
  sessions: Array<{expired: boolean | null; id: string; userId: null | string}>
}

const cli = (args: string[]): Promise<{code: null | number; doc: Doc; stderr: string}> => sessionctlJson<Doc>(args)
const ids = (doc: Doc): string[] => doc.sessions.map(s => s.id).sort()

const CAST: Array<[string, RailsSession]> = [
  ['42a', {attrs: {flash: {discard: [], flashes: {notice: 'Signed in successfully.'}}}, user: 42}],
  ['42-string', {user: '42'}],
  ['42-30min', {ageSeconds: HOUR / 2, user: 42}],
  ['42-2h', {ageSeconds: 2 * HOUR, user: '42'}],
  ['42-2d', {ageSeconds: 2 * 24 * HOUR, user: 42}],
  ['4', {attrs: {previous_user_id: 42}, user: 4}],
  ['420', {user: 420}],
  ['142', {user: 142}],
  ['string-id', {user: STRING_ID}],
  ['admin-42', {admin: 42}],
  ['7-2h', {ageSeconds: 2 * HOUR, user: 7}],
  ['anonymous-2d', {ageSeconds: 2 * 24 * HOUR}],
]

/** name → cookie (public) id and the stored session_id (`2::<sha256>`), which sessionctl shows. */
type Cast = Map<string, {id: string; key: string}>
const keysOf = (cast: Cast, names: string[]): string[] => names.map(n => cast.get(n)!.key).sort()
const idsOf = (cast: Cast, names: string[]): string[] => names.map(n => cast.get(n)!.id).sort()
const loadedBy = (answers: RailsReadAnswer[], user: string): string[] => answers.filter(a => a.loaded && a.user === user).map(a => a.id).sort()

describe('Rails 6.1 activerecord-session_store on PostgreSQL (ActiveRecord postgresql adapter, ruby-pg)', function () {
  this.timeout(120_000)
  let url: string
  const target = (): ArPgTarget => ({postgres: postgresParams(url)})
  const store = (): string[] => ['--store', url, '--format', 'rails']

  before(async function () {
    requireRailsPostgres(this)
    url = await createPgDatabase()
    const client = await pgClient(url)
    try {
      await client.query(`ALTER DATABASE "${new URL(url).pathname.slice(1)}" SET timezone = 'Pacific/Chatham'`)
    } finally {
      await client.end()
    }
  })

  async function writeCast(): Promise<Cast> {
    const {columns, indexes} = await arMigrate({...target(), fresh: true})
    assert.deepEqual(columns, {
      created_at: 'timestamp(6) without time zone NOT NULL',
      data: 'text NULL',
      id: 'bigint NOT NULL',
      session_id: 'character varying NOT NULL',
      updated_at: 'timestamp(6) without time zone NOT NULL',
    })
    assert.deepEqual(indexes, [
      'CREATE UNIQUE INDEX index_sessions_on_session_id ON public.sessions USING btree (session_id)',
      'CREATE INDEX index_sessions_on_updated_at ON public.sessions USING btree (updated_at)',
      'CREATE UNIQUE INDEX sessions_pkey ON public.sessions USING btree (id)',
    ])
    const written = await arWrite(target(), CAST.map(([, spec]) => spec))
    registerSessionKeys([...written.ids, ...written.keys])
    return new Map(CAST.map(([name], i) => [name, {id: written.ids[i], key: written.keys[i]}]))
  }

  it('list --user 42 --lifetime 1440 / 60: what Rails loads as 42’s, the rows older than the lifetime expired, in a UTC+13:45 database', async () => {
    const s = await writeCast()
    const rails = await arRead(target(), idsOf(s, CAST.map(([n]) => n)))
    const recent = ['42a', '42-string', '42-30min', '42-2h']
    assert.deepEqual(loadedBy(rails, '42'), idsOf(s, [...recent, '42-2d']), 'the store serves any row it finds')

    const live = await cli(['sessions', 'list', ...store(), '--lifetime', '1440', '--user', '42'])
    assert.equal(live.code, 0, live.stderr)
    assert.deepEqual(ids(live.doc), keysOf(s, recent))
    const all = await cli(['sessions', 'list', ...store(), '--lifetime', '1440', '--user', '42', '--all'])
    assert.deepEqual(ids(all.doc), keysOf(s, [...recent, '42-2d']))
    assert.deepEqual(all.doc.sessions.filter(x => x.expired).map(x => x.id), [s.get('42-2d')!.key])

    // An hour: exactly the rows db:sessions:trim would take (updated_at < 1.hour.ago) are expired.
    const trim = await arTrim({...target(), dryRun: true, lifetimeMinutes: 60})
    assert.deepEqual(trim.sessionIds.sort(), keysOf(s, ['42-2h', '42-2d', '7-2h', 'anonymous-2d']))
    const hour = await cli(['sessions', 'list', ...store(), '--lifetime', '60', '--user', '42', '--all'])
    assert.deepEqual(hour.doc.sessions.filter(x => x.expired).map(x => x.id).sort(), keysOf(s, ['42-2h', '42-2d']))
    assert.deepEqual(hour.doc.sessions.filter(x => !x.expired).map(x => x.id).sort(), keysOf(s, ['42a', '42-string', '42-30min']))

    for (const user of ['4', '420', '142', STRING_ID]) {
      const other = await cli(['sessions', 'list', ...store(), '--lifetime', '1440', '--user', user])
      assert.deepEqual(ids(other.doc), keysOf(s, [user === STRING_ID ? 'string-id' : user]), `user ${user}`)
    }

    const admin = await cli(['sessions', 'list', ...store(), '--lifetime', '1440', '--user', '42', '--scope', 'admin'])
    assert.deepEqual(ids(admin.doc), keysOf(s, ['admin-42']))
  })

  it('purge --except <cookie id> --except <stored key> --dry-run, then --yes: Rails finds only the kept rows of 42’s, and every other row', async () => {
    const s = await writeCast()
    const except = ['--except', s.get('42a')!.id, '--except', s.get('42-2h')!.key]
    const dry = await cli(['sessions', 'purge', ...store(), '--lifetime', '1440', '--user', '42', ...except, '--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    assert.equal(dry.doc.deleted, 0)
    assert.deepEqual(ids(dry.doc), keysOf(s, ['42-string', '42-30min', '42-2d']))
    assert.equal((await arRows(target())).length, CAST.length, 'the dry run deleted nothing')

    const r = await cli(['sessions', 'purge', ...store(), '--lifetime', '1440', '--user', '42', ...except, '--yes', '--audit-log', auditLog])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.doc.deleted, 3)
    assert.equal(r.doc.kept, 2)
    const left = await arRead(target(), idsOf(s, CAST.map(([n]) => n)))
    assert.deepEqual(loadedBy(left, '42'), idsOf(s, ['42a', '42-2h']))
    const gone = idsOf(s, ['42-string', '42-30min', '42-2d'])
    assert.deepEqual(left.filter(a => !a.row).map(a => a.id).sort(), gone)
    assert.ok(left.filter(a => !gone.includes(a.id)).every(a => a.loaded && a.row))
  })

  it('cleanup --lifetime 60 deletes what db:sessions:trim (an hour) deletes and nothing more', async () => {
    const s = await writeCast()
    const dry = await sessionctl(['sessions', 'cleanup', ...store(), '--lifetime', '60', '--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    assert.match(dry.stdout, / 4 expired sessions /)
    const clean = await cli(['sessions', 'cleanup', ...store(), '--lifetime', '60'])
    assert.equal(clean.code, 0, clean.stderr)
    assert.equal(clean.doc.deleted, 4)
    assert.equal((await arTrim({...target(), lifetimeMinutes: 60})).deleted, 0, 'the trim finds nothing more to delete')
    const names = CAST.map(([n]) => n).filter(n => !['7-2h', '42-2d', '42-2h', 'anonymous-2d'].includes(n))
    assert.deepEqual((await arRows(target())).map(r => r.sessionId).sort(), keysOf(s, names))
  })
})
