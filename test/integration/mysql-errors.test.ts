import type mysql from 'mysql2/promise'

/**
 * What an operator sees when the store is wrong: one line naming the problem, a non-zero exit,
 * no password anywhere, and all of it within 5 seconds. Runs the built binary.
 */
import assert from 'node:assert/strict'

import {sessionctl} from '../support/cli.js'
import {djangoSessionDdl, freshDatabase} from '../support/mysql.js'
import {createMysqlUser, freePort} from '../support/servers.js'

const PASSWORD = 'Sup3r-S3cret-pw!'

function assertOneLineError(r: {code: null | number; ms: number; stderr: string; stdout: string}, code: number, message: RegExp): void {
  assert.equal(r.code, code, r.stderr)
  assert.equal(r.stdout, '')
  const lines = r.stderr.trim().split('\n')
  assert.equal(lines.length, 1, r.stderr)
  assert.match(lines[0], /^sessionctl: /)
  assert.match(lines[0], message)
  assert.ok(r.ms < 5000, `took ${r.ms} ms`)
  assert.ok(!r.stderr.includes(PASSWORD) && !r.stderr.includes(encodeURIComponent(PASSWORD)), 'the password is never printed')
}

describe('store errors (built binary)', function () {
  this.timeout(60_000)
  let db: {conn: mysql.Connection; database: string; url: string}
  let userUrl: string

  before(async () => {
    db = await freshDatabase()
    await db.conn.query(djangoSessionDdl('django_session'))
    userUrl = await createMysqlUser(db.url, {database: db.database, password: PASSWORD, user: 'ops'})
  })

  after(async () => {
    await db?.conn.end()
  })

  it('works with the right password (the baseline for the cases below)', async () => {
    const r = await sessionctl(['sessions', 'list', '--store', userUrl, '--user', '42'])
    assert.equal(r.code, 0, r.stderr)
    assert.ok(!r.stdout.includes(PASSWORD))
    assert.match(r.stderr, /0 live sessions of user 42/)
  })

  it('a wrong password', async () => {
    const wrong = userUrl.replace(encodeURIComponent(PASSWORD), encodeURIComponent(`${PASSWORD}x`))
    assert.notEqual(wrong, userUrl)
    const r = await sessionctl(['sessions', 'list', '--store', wrong, '--user', '42'])
    assertOneLineError(r, 1, /access denied for user "ops" on 127\.0\.0\.1:\d+: check the user and password/)
  })

  it('a password from MYSQL_PWD, wrong, is not printed either', async () => {
    const noPassword = userUrl.replace(`:${encodeURIComponent(PASSWORD)}@`, '@')
    const r = await sessionctl(['sessions', 'list', '--store', noPassword, '--user', '42'], {env: {MYSQL_PWD: PASSWORD + 'x'}})
    assertOneLineError(r, 1, /access denied/)
    assert.ok(!r.stderr.includes(`${PASSWORD}x`))
  })

  it('an unreachable server', async () => {
    const port = await freePort()
    const r = await sessionctl(['sessions', 'list', '--store', `mysql://ops:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/app`, '--user', '42'])
    assertOneLineError(r, 1, new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}: connection refused`))
  })

  it('a server that never answers (connect timeout)', async () => {
    // A listening socket that accepts and stays silent: the MySQL handshake never comes.
    const net = await import('node:net')
    const silent = net.createServer(() => {})
    await new Promise<void>(resolve => {
      silent.listen(0, '127.0.0.1', resolve)
    })
    const {port} = silent.address() as {port: number}
    try {
      const r = await sessionctl(['sessions', 'list', '--store', `mysql://ops@127.0.0.1:${port}/app`, '--user', '42', '--connect-timeout', '2'])
      assertOneLineError(r, 1, /timed out/)
    } finally {
      silent.close()
    }
  })

  it('a database that does not exist', async () => {
    const url = new URL(db.url)
    url.pathname = '/no_such_db'
    const r = await sessionctl(['sessions', 'list', '--store', url.toString(), '--user', '42'])
    assertOneLineError(r, 1, /database "no_such_db" does not exist/)
  })

  it('a missing table', async () => {
    const r = await sessionctl(['sessions', 'list', '--store', userUrl, '--table', 'sessions_old', '--user', '42'])
    assertOneLineError(r, 1, new RegExp(`table ${db.database}\\.sessions_old does not exist .*\\(use --table`))
  })

  it('a table without the format’s columns', async () => {
    await db.conn.query('CREATE TABLE not_sessions (id int primary key, payload text)')
    const r = await sessionctl(['sessions', 'list', '--store', userUrl, '--table', 'not_sessions', '--user', '42'])
    assertOneLineError(r, 1, /has no key column "session_key" \(it has id, payload\)/)
  })

  for (const table of ['x`; DROP TABLE django_session; --', 'a b', "t'", 'db.t.x', '']) {
    it(`a bad --table name ${JSON.stringify(table)}, rejected before connecting`, async () => {
      const r = await sessionctl(['sessions', 'purge', '--store', userUrl, '--table', table, '--user', '42', '--yes'])
      assertOneLineError(r, 2, /invalid table name|invalid database name/)
      const [rows] = await db.conn.query('SHOW TABLES LIKE "django_session"')
      assert.equal((rows as unknown[]).length, 1)
    })
  }
})
