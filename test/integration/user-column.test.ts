/**
 * --user-column: a table that keeps the user id in its own column is read through that column
 * (an index lookup, not a scan), and each row's payload must still name the same user.
 * Runs the built binary against a real MariaDB and a real PostgreSQL.
 */
import assert from 'node:assert/strict'

import {sessionctl} from '../support/cli.js'
import {encodeSigned} from '../support/django-encode.js'
import {djangoSessionDdl, freshDatabase, utcDatetime} from '../support/mysql.js'
import {djangoSessionPgDdl, freshPgDatabase} from '../support/postgres.js'
import {testRedisUrl} from '../support/servers.js'

const SECRET = 'user-column-secret'
const live = utcDatetime(new Date(Date.now() + 3_600_000))
const old = utcDatetime(new Date(Date.now() - 3_600_000))

// [key, user_id column, payload user (null: anonymous), expire_date]
const ROWS: Array<[string, null | string, null | string, string]> = [
  ['a42live1xxxxxxxxxxxxxxxxxxxxxxxx', '42', '42', live],
  ['a42live2xxxxxxxxxxxxxxxxxxxxxxxx', '42', '42', live],
  ['a42oldxxxxxxxxxxxxxxxxxxxxxxxxxx', '42', '42', old],
  ['a42butpayload7xxxxxxxxxxxxxxxxxx', '42', '7', live],
  ['a42butanonymousxxxxxxxxxxxxxxxxx', '42', null, live],
  ['a420xxxxxxxxxxxxxxxxxxxxxxxxxxxx', '420', '420', live],
  ['a7xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', '7', '7', live],
  ['anonxxxxxxxxxxxxxxxxxxxxxxxxxxxx', null, null, live],
]

/** A SQL store of the test run, as this suite needs it. */
interface SqlTarget {
  url: string
  /** Runs statements (`?` placeholders become the server's). */
  exec(sql: string, params?: unknown[]): Promise<void>
  keys(): Promise<string[]>
  end(): Promise<void>
}

const TARGETS: Record<string, {dropIndex: string; open(): Promise<SqlTarget>; setup: string}> = {
  MariaDB: {
    dropIndex: 'ALTER TABLE django_session DROP INDEX django_session_user_id',
    async open() {
      const db = await freshDatabase()
      return {
        end: () => db.conn.end(),
        async exec(sql, params) {
          await db.conn.query(sql, params)
        },
        async keys() {
          const [rows] = await db.conn.query('SELECT session_key FROM django_session ORDER BY session_key')
          return (rows as Array<{session_key: string}>).map(r => r.session_key)
        },
        url: db.url,
      }
    },
    setup: `${djangoSessionDdl('django_session')}\nALTER TABLE django_session ADD COLUMN user_id varchar(40) NULL, ADD INDEX django_session_user_id (user_id)`,
  },
  PostgreSQL: {
    dropIndex: 'DROP INDEX django_session_user_id',
    async open() {
      const db = await freshPgDatabase()
      // The rows' naive UTC times, read as UTC.
      await db.client.query("SET TIME ZONE 'UTC'")
      return {
        end: () => db.client.end(),
        async exec(sql, params) {
          let n = 0
          await db.client.query(sql.replaceAll('?', () => `$${++n}`), params)
        },
        async keys() {
          const {rows} = await db.client.query<{session_key: string}>('SELECT session_key FROM django_session ORDER BY session_key')
          return rows.map(r => r.session_key)
        },
        url: db.url,
      }
    },
    setup: `${djangoSessionPgDdl('django_session')}\nALTER TABLE django_session ADD COLUMN user_id varchar(40) NULL; CREATE INDEX django_session_user_id ON django_session (user_id)`,
  },
}

for (const [name, target] of Object.entries(TARGETS)) describe(`--user-column (indexed lookup), ${name}`, function () {
  this.timeout(60_000)
  let db: SqlTarget

  const keys = (): Promise<string[]> => db.keys()

  beforeEach(async () => {
    db = await target.open()
    await db.exec(target.setup)
    for (const [key, column, payloadUser, expires] of ROWS) {
      const data = encodeSigned(payloadUser === null ? {cart: [1]} : {_auth_user_id: payloadUser}, {secretKey: SECRET})
      await db.exec('INSERT INTO django_session VALUES (?, ?, ?, ?)', [key, data, expires, column])
    }
  })

  afterEach(async () => {
    await db.end()
  })

  it('lists the user’s sessions through the index, reading only that user’s rows', async () => {
    const r = await sessionctl(['sessions', 'list', '--store', db.url, '--user-column', 'user_id', '--user', '42', '--all', '--json', '--show-keys'])
    assert.equal(r.code, 0, r.stderr)
    const doc = JSON.parse(r.stdout) as {sessions: Array<{id: string}>; stores: Array<{scanned: number; userMismatch: number}>}
    assert.deepEqual(doc.sessions.map(s => s.id).sort(), ['a42live1xxxxxxxxxxxxxxxxxxxxxxxx', 'a42live2xxxxxxxxxxxxxxxxxxxxxxxx', 'a42oldxxxxxxxxxxxxxxxxxxxxxxxxxx'])
    // Five rows carry user_id 42; the table has eight: the lookup never read the others.
    assert.equal(doc.stores[0].scanned, 5)
    // The payload decides: a row whose column says 42 but whose session is user 7's or nobody's is left alone.
    assert.equal(doc.stores[0].userMismatch, 2)
    assert.match(r.stderr, /2 sessions whose user column names the user but whose payload does not/)
  })

  it('gives the same live answer as a full scan when column and payload agree', async () => {
    const indexed = await sessionctl(['sessions', 'list', '--store', db.url, '--user-column', 'user_id', '--user', '7', '--json', '--show-keys'])
    const scanned = await sessionctl(['sessions', 'list', '--store', db.url, '--user', '7', '--json', '--show-keys'])
    assert.equal(indexed.code, 0, indexed.stderr)
    const ids = (out: string): string[] => (JSON.parse(out) as {sessions: Array<{id: string}>}).sessions.map(s => s.id).sort()
    assert.deepEqual(ids(indexed.stdout), ['a7xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'])
    // The scan also finds the row whose column says 42 but whose payload is user 7's.
    assert.deepEqual(ids(scanned.stdout), ['a42butpayload7xxxxxxxxxxxxxxxxxx', 'a7xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'])
  })

  it('purges through the index: only the user’s rows whose payload agrees go', async () => {
    const r = await sessionctl(['sessions', 'purge', '--store', db.url, '--user-column', 'user_id', '--user', '42', '--yes'])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(await keys(), ROWS.map(r => r[0]).filter(k => !/^a42(live|old)/.test(k)).sort())
  })

  it('warns when the user column has no index, and still answers', async () => {
    await db.exec(target.dropIndex)
    const r = await sessionctl(['sessions', 'list', '--store', db.url, '--user-column', 'user_id', '--user', '420', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal((JSON.parse(r.stdout) as {sessions: unknown[]}).sessions.length, 1)
    assert.match(r.stderr, /warning: .*user column user_id has no index.*CREATE INDEX/)
  })

  it('refuses a column the table does not have, touching nothing', async () => {
    const r = await sessionctl(['sessions', 'purge', '--store', db.url, '--user-column', 'owner', '--user', '42', '--yes'])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /^sessionctl: .*has no user column "owner"/)
    assert.equal((await keys()).length, ROWS.length)
  })

  it('is a usage error on a Redis store', async () => {
    const r = await sessionctl(['sessions', 'list', '--store', testRedisUrl(), '--format', 'django-cache', '--user-column', 'user_id', '--user', '42'])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /--user-column applies to SQL stores/)
  })
})
