/**
 * What an operator sees when a PostgreSQL store is wrong: one line naming the problem, exit 1
 * (the store) or 2 (the command line, refused before connecting), nothing on stdout, no password
 * anywhere, no stack, and all of it within the connect timeout. Nothing is deleted on the way.
 * Runs the built binary against a server of its own that asks for passwords (SCRAM), as a real
 * one does: the shared test server trusts every client, so a wrong password would go unnoticed.
 */
import type pg from 'pg'

import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {type CliResult, sessionctl} from '../support/cli.js'
import {encodeSigned} from '../support/django-encode.js'
import {seededKey as key} from '../support/mysql.js'
import {
  createPgDatabase, createPgRole, djangoSessionPgDdl, pgClient, requirePasswords,
} from '../support/postgres.js'
import {registerSecret, registerSessionKeys} from '../support/secrets.js'
import {
  freePort, type PostgresServer, startPostgres, testRedisUrl,
} from '../support/servers.js'

/** URL-special characters, so both the raw and the percent-encoded forms are checked. */
const PASSWORD = 'Pg/Err:S3cret@pw#'
const WRONG = `${PASSWORD}x`
const SECRET = 'pg-errors-django-secret'
const ENV = {DJANGO_SECRET_KEY: SECRET}
/** User 42's sessions (a…), user 7's (b…): what every case must leave in place. */
const SEEDED = 6
/** What a purge that failed at its first delete prints on stdout, after the selection. */
const NONE_DELETED = /\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ Deleted 0 sessions of user 42\.\n$/
/** The table's summary line, which precedes the error on stderr. */
const SELECTED = /^[1-4] sessions? of user 42 (\(expired only\) )?selected \(scanned [1-6] in [\d.]+ s\)$/

/**
 * The one line of an error: exit `code`, no stack, no password, fast; nothing on stdout, or (a
 * purge that failed once it had selected) what `stdout` says.
 */
function assertOneLineError(r: CliResult, code: number, message: RegExp, o: {stdout?: RegExp; summary?: RegExp; withinMs?: number} = {}): string {
  const withinMs = o.withinMs ?? 5000
  const all = r.stdout + r.stderr
  for (const form of [PASSWORD, encodeURIComponent(PASSWORD), WRONG, encodeURIComponent(WRONG), 'S3cret@pw', 'S3cret%40pw']) {
    assert.ok(!all.includes(form), `the password (or part of it) is printed:\n${all}`)
  }

  assert.equal(r.code, code, r.stderr)
  if (o.stdout) assert.match(r.stdout, o.stdout)
  else assert.equal(r.stdout, '', 'nothing on stdout')
  const lines = r.stderr.trim().split('\n')
  if (o.summary) assert.match(lines.shift() ?? '', o.summary, r.stderr)
  assert.equal(lines.length, 1, `one line on stderr:\n${r.stderr}`)
  assert.match(lines[0], /^sessionctl: \S/)
  assert.match(lines[0], message)
  assert.doesNotMatch(r.stderr, /\n\s+at |The following errors? occurred/, 'no stack, no oclif boilerplate')
  assert.ok(r.ms < withinMs, `took ${r.ms} ms`)
  return lines[0]
}

describe('PostgreSQL store errors (built binary, a server that asks for passwords)', function () {
  this.timeout(60_000)
  let server: PostgresServer
  /** The database, as postgres (trusted): for setting up and checking. */
  let adminUrl: string
  let admin: pg.Client
  let database: string
  /** ops: every privilege the tool needs on django_session. */
  let url: string
  let host: string

  const list = (store: string, ...extra: string[]): string[] => ['sessions', 'list', '--store', store, '--user', '42', ...extra]
  const purge = (store: string, ...extra: string[]): string[] => ['sessions', 'purge', '--store', store, '--user', '42', '--yes', ...extra]
  const cleanup = (store: string, ...extra: string[]): string[] => ['sessions', 'cleanup', '--store', store, ...extra]
  const withoutPassword = (u: string): string => u.replace(`:${encodeURIComponent(PASSWORD)}@`, '@')

  /** Every table of the database with its row count and a checksum of django_session. */
  async function state(): Promise<string> {
    const {rows: tables} = await admin.query(`SELECT string_agg(table_schema || '.' || table_name, ',' ORDER BY 1) AS t FROM information_schema.tables
      WHERE table_schema NOT IN ('pg_catalog', 'information_schema')`)
    const {rows} = await admin.query("SELECT count(*) AS n, md5(string_agg(session_key || session_data || expire_date::text, '|' ORDER BY session_key)) AS h FROM django_session")
    return JSON.stringify({rows, tables})
  }

  /** The session table is as seeded. */
  async function untouched(): Promise<void> {
    const {rows} = await admin.query('SELECT count(*) AS n FROM django_session')
    assert.equal(Number(rows[0].n), SEEDED, 'nothing was deleted')
  }

  before(async () => {
    server = await startPostgres()
    await requirePasswords(server)
    host = `127.0.0.1:${server.port}`
    adminUrl = await createPgDatabase(server.url)
    database = new URL(adminUrl).pathname.slice(1)
    admin = await pgClient(adminUrl)
    await admin.query(djangoSessionPgDdl('django_session'))
    const keys: string[] = []
    for (let i = 1; i <= SEEDED; i++) {
      const user = i <= 4 ? '42' : '7'
      const k = key(user === '42' ? 'a' : 'b', i)
      keys.push(k)
      await admin.query("INSERT INTO django_session VALUES ($1, $2, now() + interval '1 day' * $3)", [k, encodeSigned({_auth_user_id: user}, {secretKey: SECRET}), i === 4 ? -1 : 1])
    }

    registerSessionKeys(keys)
    url = await createPgRole(adminUrl, {grants: ['GRANT SELECT, INSERT, UPDATE, DELETE ON django_session TO ops'], password: PASSWORD, user: 'ops'})
  })

  after(async () => {
    await admin?.end()
    await server?.stop()
  })

  afterEach(async function () {
    // Every case leaves the seeded sessions (a failure here names the case that deleted some).
    if (this.currentTest?.state === 'passed') await untouched()
  })

  it('works with the right password (the baseline for the cases below)', async () => {
    const r = await sessionctl(list(url), {env: ENV})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /\b3 live sessions of user 42\b/)
    assert.ok(!(r.stdout + r.stderr).includes(PASSWORD))
  })

  describe('authentication', () => {
    it('a wrong password (28P01): access denied, the password never printed', async () => {
      const wrong = url.replace(encodeURIComponent(PASSWORD), encodeURIComponent(WRONG))
      assert.notEqual(wrong, url)
      for (const args of [list(wrong), purge(wrong), cleanup(wrong)]) {
        assertOneLineError(await sessionctl(args, {env: ENV}), 1, new RegExp(`^sessionctl: access denied for user "ops" on ${host}: check the user and password$`))
      }
    })

    it('a wrong password under --json and SESSIONCTL_DEBUG: one JSON error, no password either', async () => {
      const wrong = url.replace(encodeURIComponent(PASSWORD), encodeURIComponent(WRONG))
      const r = await sessionctl([...list(wrong), '--json'], {env: {...ENV, SESSIONCTL_DEBUG: '1'}})
      for (const form of [PASSWORD, WRONG, encodeURIComponent(WRONG)]) assert.ok(!(r.stdout + r.stderr).includes(form), r.stdout + r.stderr)
      assert.equal(r.code, 1)
      const doc = JSON.parse(r.stdout) as {error: {exitCode: number; message: string}}
      assert.deepEqual(doc, {error: {exitCode: 1, message: `access denied for user "ops" on ${host}: check the user and password`}})
    })

    it('a user that does not exist gets the same answer (the server does not say which)', async () => {
      const u = new URL(url)
      u.username = 'nosuchuser'
      assertOneLineError(await sessionctl(list(u.toString()), {env: ENV}), 1, /^sessionctl: access denied for user "nosuchuser" on /)
    })

    it('PGPASSWORD is used when the URL has none', async () => {
      const r = await sessionctl(list(withoutPassword(url)), {env: {...ENV, PGPASSWORD: PASSWORD}})
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stderr, /\b3 live sessions of user 42\b/)
      assert.ok(!(r.stdout + r.stderr).includes(PASSWORD))
    })

    it('a wrong PGPASSWORD: access denied, not printed', async () => {
      registerSecret(WRONG)
      assertOneLineError(await sessionctl(list(withoutPassword(url)), {env: {...ENV, PGPASSWORD: WRONG}}), 1, /access denied for user "ops"/)
    })

    it('the URL’s password wins over PGPASSWORD', async () => {
      const r = await sessionctl(list(url), {env: {...ENV, PGPASSWORD: WRONG}})
      assert.equal(r.code, 0, r.stderr)
      const wrong = await sessionctl(list(url.replace(encodeURIComponent(PASSWORD), encodeURIComponent(WRONG))), {env: {...ENV, PGPASSWORD: PASSWORD}})
      assertOneLineError(wrong, 1, /access denied/)
    })

    it('no password at all (no PGPASSWORD, no ~/.pgpass): says where to put one', async () => {
      const home = mkdtempSync(join(tmpdir(), 'sessionctl-nopgpass-'))
      try {
        const r = await sessionctl(list(withoutPassword(url)), {
          env: {
            ...ENV, HOME: home, PGPASSFILE: join(home, 'none'), PGPASSWORD: undefined,
          },
        })
        assertOneLineError(r, 1, new RegExp(`^sessionctl: ${host} asks for a password and none was given: put it in the URL or in PGPASSWORD$`))
      } finally {
        rmSync(home, {force: true, recursive: true})
      }
    })
  })

  describe('the database and the table', () => {
    it('a database that does not exist (3D000)', async () => {
      const u = new URL(url)
      u.pathname = '/no_such_db'
      assertOneLineError(await sessionctl(list(u.toString()), {env: ENV}), 1, new RegExp(`^sessionctl: database "no_such_db" does not exist on ${host}$`))
    })

    it('a database name full of SQL is a name, never SQL', async () => {
      const u = new URL(url)
      u.pathname = `/${encodeURIComponent('app"; DROP TABLE django_session; --')}`
      assertOneLineError(await sessionctl(purge(u.toString()), {env: ENV}), 1, /^sessionctl: database "app"; DROP TABLE django_session; --" does not exist on /)
    })

    it('a missing table: names the search_path and says to use --table', async () => {
      assertOneLineError(
        await sessionctl(list(url, '--table', 'sessions_old'), {env: ENV}),
        1,
        new RegExp(`^sessionctl: table sessions_old does not exist in the search_path of database ${database} on postgres://ops:\\*\\*\\*\\*@${host}/${database} \\(search_path: public\\); use --table to name the session table \\(schema\\.table\\)$`),
      )
    })

    it('--table schema.table in a schema that does not exist, and a table missing from one that does', async () => {
      assertOneLineError(
        await sessionctl(purge(url, '--table', 'nosuch.django_session'), {env: ENV}),
        1,
        /^sessionctl: table nosuch\.django_session does not exist in schema nosuch of database \w+ on .*; use --table/,
      )
      assertOneLineError(await sessionctl(purge(url, '--table', 'public.django_sessions'), {env: ENV}), 1, /^sessionctl: table public\.django_sessions does not exist in schema public of database/)
    })

    it('a table without the format’s columns', async () => {
      await admin.query('CREATE TABLE not_sessions (id int PRIMARY KEY, payload text)')
      try {
        assertOneLineError(
          await sessionctl(purge(url, '--table', 'not_sessions'), {env: ENV}),
          1,
          /^sessionctl: table public\.not_sessions has no key column "session_key" \(it has id, payload\); check --format or the column options$/,
        )
      } finally {
        await admin.query('DROP TABLE not_sessions')
      }
    })

    it('a view over the session table is refused, never deleted through', async () => {
      await admin.query('CREATE VIEW session_view AS SELECT * FROM django_session')
      await admin.query('GRANT SELECT, DELETE ON session_view TO ops')
      try {
        for (const args of [list(url, '--table', 'session_view'), purge(url, '--table', 'session_view'), cleanup(url, '--table', 'session_view')]) {
          assertOneLineError(await sessionctl(args, {env: ENV}), 1, /^sessionctl: public\.session_view is not a table \(it is a view\): name the session table with --table$/)
        }
      } finally {
        await admin.query('DROP VIEW session_view')
      }
    })

    it('a materialized view is refused too', async () => {
      await admin.query('CREATE MATERIALIZED VIEW session_copy AS SELECT * FROM django_session')
      try {
        assertOneLineError(await sessionctl(list(url, '--table', 'session_copy'), {env: ENV}), 1, /is not a table \(it is a view\)/)
      } finally {
        await admin.query('DROP MATERIALIZED VIEW session_copy')
      }
    })

    it('two tables that differ only by case: a name that is neither is ambiguous and refused; the exact spelling is used', async () => {
      await admin.query(`${djangoSessionPgDdl('Sessions')} ${djangoSessionPgDdl('SESSIONS')}`)
      await admin.query('GRANT SELECT, UPDATE, DELETE ON "Sessions", "SESSIONS" TO ops')
      await admin.query('INSERT INTO "SESSIONS" VALUES ($1, $2, now() + interval \'1 day\')', [key('u', 1), encodeSigned({_auth_user_id: '42'}, {secretKey: SECRET})])
      registerSessionKeys([key('u', 1)])
      try {
        for (const args of [list(url, '--table', 'sessions'), purge(url, '--table', 'sessions'), purge(url, '--table', 'public.SESSIONs')]) {
          assertOneLineError(
            await sessionctl(args, {env: ENV}),
            1,
            /^sessionctl: several tables match "\w+" in (the search_path|schema public) up to case \((SESSIONS, Sessions|Sessions, SESSIONS)\): name the one with --table "public\.NAME" as/,
          )
        }

        const {rows} = await admin.query('SELECT count(*) AS n FROM "SESSIONS"')
        assert.equal(Number(rows[0].n), 1, 'nothing deleted from either')
        const exact = await sessionctl(purge(url, '--table', 'SESSIONS'), {env: ENV})
        assert.equal(exact.code, 0, exact.stderr)
        assert.match(exact.stdout, /Deleted 1 session of user 42\./)
      } finally {
        await admin.query('DROP TABLE "Sessions", "SESSIONS"')
      }
    })

    it('a column of the wrong type: an expiry column of type text, a data column of type integer', async () => {
      await admin.query('CREATE TABLE text_expiry (session_key varchar(40) PRIMARY KEY, session_data text NOT NULL, expire_date text NOT NULL)')
      await admin.query('CREATE TABLE int_data (session_key varchar(40) PRIMARY KEY, session_data integer NOT NULL, expire_date timestamptz NOT NULL)')
      await admin.query('GRANT SELECT, DELETE ON text_expiry, int_data TO ops')
      try {
        for (const args of [list(url, '--table', 'text_expiry'), cleanup(url, '--table', 'text_expiry')]) {
          assertOneLineError(await sessionctl(args, {env: ENV}), 1, /^sessionctl: text_expiry\.expire_date has type text, which cannot hold an expiry time$/)
        }

        assertOneLineError(
          await sessionctl(purge(url, '--table', 'int_data'), {env: ENV}),
          1,
          /^sessionctl: public\.int_data\.session_data has type integer, which cannot hold a session \(text, varchar, json, jsonb or bytea\)$/,
        )
      } finally {
        await admin.query('DROP TABLE text_expiry, int_data')
      }
    })

    it('--expiry-unit unix-seconds on a timestamp column; --expiry-unit datetime, or the format’s datetime, on an integer one', async () => {
      await admin.query('CREATE TABLE int_expiry (k varchar(40) PRIMARY KEY, d text NOT NULL, e bigint NOT NULL)')
      await admin.query('GRANT SELECT, DELETE ON int_expiry TO ops')
      const columns = ['--table', 'int_expiry', '--key-column', 'k', '--data-column', 'd', '--expiry-column', 'e']
      try {
        assertOneLineError(
          await sessionctl(purge(url, '--expiry-unit', 'unix-seconds'), {env: ENV}),
          2,
          /^sessionctl: django_session\.expire_date is a timestamp with time zone column, not unix-seconds: drop --expiry-unit/,
        )
        assertOneLineError(
          await sessionctl(cleanup(url, ...columns, '--expiry-unit', 'datetime'), {env: ENV}),
          2,
          /^sessionctl: int_expiry\.e is an integer column, not a datetime: use --expiry-unit unix-seconds or unix-ms$/,
        )
        // The django format says its expiry is a datetime: without --expiry-unit that is what is checked.
        assertOneLineError(await sessionctl(cleanup(url, ...columns), {env: ENV}), 2, /^sessionctl: int_expiry\.e is an integer column, not a datetime: use --expiry-unit unix-seconds or unix-ms$/)
      } finally {
        await admin.query('DROP TABLE int_expiry')
      }
    })

    it('--time-zone on a timestamp with time zone column (its times are absolute)', async () => {
      assertOneLineError(
        await sessionctl(purge(url, '--time-zone', 'Europe/Berlin'), {env: ENV}),
        2,
        /^sessionctl: --time-zone: django_session\.expire_date is a timestamp with time zone, whose times are absolute; drop --time-zone$/,
      )
    })
  })

  describe('privileges', () => {
    let readerUrl: string
    let updaterUrl: string
    let blindUrl: string

    before(async () => {
      readerUrl = await createPgRole(adminUrl, {grants: ['GRANT SELECT ON django_session TO reader'], password: PASSWORD, user: 'reader'})
      updaterUrl = await createPgRole(adminUrl, {grants: ['GRANT SELECT, UPDATE ON django_session TO updater'], password: PASSWORD, user: 'updater'})
      blindUrl = await createPgRole(adminUrl, {password: PASSWORD, user: 'blind'})
    })

    it('a role that may only read: list works; purge and cleanup fail in one line, nothing deleted', async () => {
      const listed = await sessionctl(list(readerUrl), {env: ENV})
      assert.equal(listed.code, 0, listed.stderr)
      const before = await state()
      const denied = /^sessionctl: permission denied on postgres:\/\/reader:\*\*\*\*@.* \(table public\.django_session\): permission denied for table django_session\b/
      // A purge shows what it selected, then says it deleted nothing.
      for (const args of [purge(readerUrl), purge(readerUrl, '--expired-only')]) assertOneLineError(await sessionctl(args, {env: ENV}), 1, denied, {stdout: NONE_DELETED, summary: SELECTED})
      assertOneLineError(await sessionctl(cleanup(readerUrl), {env: ENV}), 1, denied)

      assert.equal(await state(), before)
    })

    it('a role with SELECT and UPDATE but no DELETE: the locked batch rolls back, nothing deleted', async () => {
      const before = await state()
      const denied = /^sessionctl: permission denied on postgres:\/\/updater:\*\*\*\*@.*: permission denied for table django_session\b/
      assertOneLineError(await sessionctl(purge(updaterUrl), {env: ENV}), 1, denied, {stdout: NONE_DELETED, summary: SELECTED})
      assertOneLineError(await sessionctl(cleanup(updaterUrl), {env: ENV}), 1, denied)

      assert.equal(await state(), before)
    })

    it('a role whose transactions are read-only (as on a hot standby): list works; purge and cleanup fail in one line, nothing deleted', async () => {
      const readOnlyUrl = await createPgRole(adminUrl, {
        grants: ['GRANT SELECT, UPDATE, DELETE ON django_session TO readonly', 'ALTER ROLE readonly SET default_transaction_read_only = on'], password: PASSWORD, user: 'readonly',
      })
      const listed = await sessionctl(list(readOnlyUrl), {env: ENV})
      assert.equal(listed.code, 0, listed.stderr)
      const before = await state()
      const readOnly = /^sessionctl: postgres:\/\/readonly:\*\*\*\*@\S+ \(table public\.django_session\): cannot execute SELECT( FOR UPDATE)? in a read-only transaction \(a hot standby, or default_transaction_read_only\): point --store at the primary; 0 of [14] sessions? /
      assertOneLineError(await sessionctl(purge(readOnlyUrl), {env: ENV}), 1, readOnly, {stdout: NONE_DELETED, summary: SELECTED})
      assertOneLineError(await sessionctl(cleanup(readOnlyUrl), {env: ENV}), 1, readOnly)
      assert.equal(await state(), before)
    })

    it('a role limited to one connection: cleanup (two workers by default) fails in one line before deleting; --workers 1 works', async () => {
      const oneUrl = await createPgRole(adminUrl, {
        grants: ['GRANT SELECT, UPDATE, DELETE ON django_session TO single', 'ALTER ROLE single CONNECTION LIMIT 1'], password: PASSWORD, user: 'single',
      })
      const before = await state()
      const tooMany = new RegExp(`^sessionctl: ${host} refused the connection: too many connections \\(too many connections for role "single"\\): cleanup deletes on 2 connections \\(--workers\\); rerun with --workers 1; 0 of 1 sessions were deleted`)
      assertOneLineError(await sessionctl(cleanup(oneUrl), {env: ENV}), 1, tooMany)
      assert.equal(await state(), before)
      await admin.query('CREATE TEMP TABLE expired_copy AS SELECT * FROM django_session WHERE expire_date < now()')
      const one = await sessionctl(cleanup(oneUrl, '--workers', '1'), {env: ENV})
      assert.equal(one.code, 0, one.stderr)
      assert.match(one.stdout, /: deleted 1 expired session in /)
      // Put it back for the cases that follow.
      await admin.query('INSERT INTO django_session SELECT * FROM expired_copy; DROP TABLE expired_copy')
      assert.equal(await state(), before)
    })

    it('a role without SELECT: list, purge and cleanup fail in one line', async () => {
      for (const args of [list(blindUrl), purge(blindUrl), cleanup(blindUrl), cleanup(blindUrl, '--dry-run')]) {
        assertOneLineError(await sessionctl(args, {env: ENV}), 1, /^sessionctl: permission denied on postgres:\/\/blind:\*\*\*\*@.*: permission denied for table django_session\b/)
      }
    })
  })

  describe('row-level security', () => {
    let rlsUrl: string
    let bypassUrl: string

    before(async () => {
      const grant = (role: string): string => `GRANT SELECT, UPDATE, DELETE ON django_session TO ${role}`
      rlsUrl = await createPgRole(adminUrl, {grants: [grant('rls')], password: PASSWORD, user: 'rls'})
      bypassUrl = await createPgRole(adminUrl, {grants: [grant('bypass'), 'ALTER ROLE bypass BYPASSRLS'], password: PASSWORD, user: 'bypass'})
      // The policy lets rls see two of user 42's four sessions, and none of user 7's.
      await admin.query('ALTER TABLE django_session ENABLE ROW LEVEL SECURITY')
      await admin.query(`CREATE POLICY some_rows ON django_session TO rls USING (session_key IN ('${key('a', 1)}', '${key('a', 4)}'))`)
    })

    after(async () => {
      await admin.query('DROP POLICY some_rows ON django_session')
      await admin.query('ALTER TABLE django_session DISABLE ROW LEVEL SECURITY')
    })

    it('hiding some of the user’s sessions from the role: list, purge and cleanup refuse in one line, nothing deleted', async () => {
      const before = await state()
      for (const args of [list(rlsUrl), purge(rlsUrl), purge(rlsUrl, '--dry-run'), cleanup(rlsUrl), cleanup(rlsUrl, '--dry-run')]) {
        assertOneLineError(
          await sessionctl(args, {env: ENV}),
          1,
          /^sessionctl: postgres:\/\/rls:\*\*\*\*@\S+ \(table public\.django_session\): row-level security hides rows from this role, .* \(.*\); use a role that bypasses it/,
        )
      }

      assert.equal(await state(), before)
    })

    it('a role that bypasses it sees every session', async () => {
      const r = await sessionctl([...list(bypassUrl), '--all'], {env: ENV})
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stderr, /^4 sessions of user 42 \(scanned 6 in /m)
    })
  })

  describe('identifiers: validated before connecting, never interpolated (exit 2)', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['--table', 'x"; DROP TABLE django_session; --', /invalid table name "x"; DROP TABLE django_session; --": use 1-63 letters/],
      ['--table', "django_session' OR '1'='1", /invalid table name/],
      ['--table', '"django_session"', /invalid table name/],
      ['--table', 'django_session;', /invalid table name/],
      ['--table', 'public.django_session; DROP TABLE x', /invalid table name/],
      ['--table', 'public"."django_session', /invalid (schema|table) name/],
      ['--table', 'pub lic.django_session', /invalid schema name "pub lic": use 1-63 letters/],
      ['--table', 'db.public.django_session', /invalid table name "db\.public\.django_session": use table or schema\.table \(the database is the URL's\)/],
      ['--table', '', /invalid table name|--table must not be empty/],
      ['--table', ' django_session', /invalid table name/],
      ['--table', `x${'y'.repeat(63)}`, /invalid table name/],
      ['--table', 'djangö_session', /invalid table name/],
      ['--key-column', 'session_key"; DROP TABLE django_session; --', /invalid key column "session_key"; DROP TABLE django_session; --": use 1-63 letters/],
      ['--key-column', 'session"key', /invalid key column/],
      ['--data-column', 'session_data, pg_sleep(5)', /invalid data column/],
      ['--expiry-column', 'expire_date /*', /invalid expiry column/],
      ['--expiry-column', 'expire_date)--', /invalid expiry column/],
      ['--user-column', 'user_id" OR 1=1', /invalid user column/],
    ]
    for (const [flag, value, says] of cases) {
      it(`${flag} ${JSON.stringify(value)}`, async () => {
        const before = await state()
        assertOneLineError(await sessionctl(purge(url, flag, value), {env: ENV}), 2, says)
        assert.equal(await state(), before)
      })
    }

    it('each of them is refused before connecting (a closed port would be exit 1)', async () => {
      const port = await freePort()
      const closed = `postgres://ops:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/${database}`
      for (const [flag, value, says] of cases) {
        assertOneLineError(await sessionctl(purge(closed, flag, value), {env: ENV}), 2, says)
      }
    })
  })

  describe('servers that cannot be reached (within the connect timeout)', () => {
    it('nothing listening (ECONNREFUSED)', async () => {
      const port = await freePort()
      const r = await sessionctl(list(`postgres://ops:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/${database}`), {env: ENV})
      assertOneLineError(r, 1, new RegExp(`^sessionctl: cannot connect to 127\\.0\\.0\\.1:${port}: connection refused \\(is the PostgreSQL server running there\\?\\)$`))
    })

    it('a host that does not resolve', async () => {
      const r = await sessionctl(purge(`postgres://ops:${encodeURIComponent(PASSWORD)}@no-such-host.invalid:5432/app`), {env: ENV})
      assertOneLineError(r, 1, /^sessionctl: cannot connect to no-such-host\.invalid:5432: unknown host$/)
    })

    it('a server that accepts and never answers: timed out after --connect-timeout', async () => {
      const silent = net.createServer(() => {})
      await new Promise<void>(resolve => {
        silent.listen(0, '127.0.0.1', resolve)
      })
      const {port} = silent.address() as net.AddressInfo
      try {
        for (const args of [list(`postgres://ops:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/app`, '--connect-timeout', '2'), cleanup(`postgres://ops@127.0.0.1:${port}/app`, '--connect-timeout', '1')]) {
          const r = await sessionctl(args, {env: ENV})
          const line = assertOneLineError(r, 1, new RegExp(`^sessionctl: cannot connect to 127\\.0\\.0\\.1:${port}: timed out$`))
          const timeout = Number(args.at(-1)) * 1000
          assert.ok(r.ms >= timeout - 100 && r.ms < timeout + 2500, `${line}: took ${r.ms} ms with --connect-timeout ${timeout / 1000}`)
        }
      } finally {
        silent.close()
      }
    })

    it('a server that answers and hangs up at once', async () => {
      const rude = net.createServer(socket => socket.destroy())
      await new Promise<void>(resolve => {
        rude.listen(0, '127.0.0.1', resolve)
      })
      const {port} = rude.address() as net.AddressInfo
      try {
        assertOneLineError(await sessionctl(list(`postgres://ops:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/app`), {env: ENV}), 1, new RegExp(`^sessionctl: .*127\\.0\\.0\\.1:${port}`))
      } finally {
        rude.close()
      }
    })

    it('a port where something else answers (Redis): one line, no garbage', async () => {
      const redis = new URL(testRedisUrl())
      assertOneLineError(await sessionctl(list(`postgres://ops:${encodeURIComponent(PASSWORD)}@${redis.host}/app`, '--connect-timeout', '2'), {env: ENV}), 1, new RegExp(`^sessionctl: .*${redis.host.replaceAll('.', String.raw`\.`)}`))
    })

    it('sslmode=require against a server without TLS', async () => {
      for (const mode of ['require', 'verify-full']) {
        assertOneLineError(await sessionctl(list(`${url}?sslmode=${mode}`), {env: ENV}), 1, new RegExp(`^sessionctl: ${host} does not accept TLS connections: drop sslmode, or use sslmode=disable$`))
      }

      const r = await sessionctl(list(`${url}?sslmode=disable`), {env: ENV})
      assert.equal(r.code, 0, r.stderr)
    })
  })

  describe('flags that mean nothing, or something else, for this store (exit 2, nothing touched)', () => {
    const cases: Array<[string, () => string[], RegExp]> = [
      ['--format rails without --lifetime (list)', () => list(url, '--format', 'rails'), /^sessionctl: --format rails on postgres:\/\/ops:\*\*\*\*@\S+ needs --lifetime MINUTES to tell live/],
      ['--format rails without --lifetime (cleanup)', () => cleanup(url, '--format', 'rails'), /needs --lifetime MINUTES to know which sessions are expired/],
      ['--lifetime with django', () => list(url, '--lifetime', '60'), /^sessionctl: --lifetime applies to --format laravel and --format rails only, and it is given for postgres:\/\/ops:\*\*\*\*@/],
      ['--prefix (Redis only)', () => purge(url, '--prefix', 'sess:'), /^sessionctl: --prefix applies to Redis stores only, and it is given for postgres:/],
      ['--fix-no-ttl (Redis only)', () => cleanup(url, '--fix-no-ttl'), /^sessionctl: --fix-no-ttl applies to Redis stores only \(SQL stores keep an expiry per row\)$/],
      [
        '--user-column with spring (its owner column is the user)',
        () => purge(url, '--format', 'spring', '--user-column', 'uid'),
        /^sessionctl: --user-column: the spring format records the user in PRINCIPAL_NAME itself; drop --user-column$/,
      ],
      ['a format that keeps nothing in PostgreSQL', () => list(url, '--format', 'django-cache'), /^sessionctl: the django-cache format keeps no sessions in PostgreSQL$/],
      [
        '--replica of another kind',
        () => cleanup(url, '--replica', `mysql://ops:${encodeURIComponent(PASSWORD)}@127.0.0.1:1/app`),
        /^sessionctl: invalid --replica "mysql:\/\/ops:\*\*\*\*@127\.0\.0\.1:1\/app": expected postgres:\/\/user@host:5432\/database$/,
      ],
      ['--replica without a database', () => cleanup(url, '--replica', 'postgres://ops@127.0.0.1:1'), /^sessionctl: invalid store URL "postgres:\/\/ops@127\.0\.0\.1:1\/?": no database/],
      ['--replica with sslmode=prefer', () => cleanup(url, '--replica', 'postgres://ops@127.0.0.1:1/app?sslmode=prefer'), /invalid sslmode=prefer/],
    ]
    for (const [what, args, says] of cases) {
      it(what, async () => {
        const before = await state()
        assertOneLineError(await sessionctl(args(), {env: ENV}), 2, says)
        assert.equal(await state(), before)
      })
    }
  })

  describe('URLs: refused before connecting (exit 2), the password masked', () => {
    const P = encodeURIComponent(PASSWORD)
    const cases: Array<[string, () => string, RegExp]> = [
      ['no database', () => `postgres://ops:${P}@${host}`, /^sessionctl: invalid store URL "postgres:\/\/ops:\*\*\*\*@127\.0\.0\.1:\d+\/?": no database: name it in the path/],
      ['two hosts', () => `postgres://ops:${P}@${host},127.0.0.1:1/${database}`, /names several hosts: give one server per URL/],
      ['sslmode=prefer (silently unencrypted)', () => `${url}?sslmode=prefer`, /invalid sslmode=prefer \(prefer falls back to an unencrypted connection without saying so\)/],
      ['an unknown option', () => `${url}?connect_timeout=1`, /unknown option "connect_timeout"/],
      ['options that are not -c settings', () => `${url}?options=${encodeURIComponent("'; DROP TABLE x")}`, /invalid options=/],
      ['the password typed unencoded', () => `postgres://ops:${PASSWORD}@${host}/${database}`, /^sessionctl: the store URL "postgres:\/\/\*\*\*\*@127\.0\.0\.1:\d+\/\w+" has an "@" after its host: percent-encode the user and password/],
      ['a port out of range', () => `postgres://ops:${P}@127.0.0.1:99999/${database}`, /invalid port "99999": use a number from 1 to 65535/],
    ]
    for (const [what, make, says] of cases) {
      it(what, async () => {
        assertOneLineError(await sessionctl(purge(make()), {env: ENV}), 2, says)
      })
    }
  })
})
