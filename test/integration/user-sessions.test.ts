/**
 * django-user-sessions and django-qsessions on MariaDB: `--table user_sessions_session` /
 * `--table qsessions_session` picks their layout (user_id read by index and cross-checked with the
 * payload; ip, user agent, created and last activity listed), and `list --columns` chooses what
 * the table and CSV show. The sessions are written by real Django 3.2 through its db SessionStore
 * subclassed as those packages subclass it, into tables Django's schema editor made from the
 * fields of their published migrations (test/django/user_sessions.py: neither package can be
 * installed here).
 */
import assert from 'node:assert/strict'

import {sessionctl} from '../support/cli.js'
import {mysqlTarget, requireDjango, writeUserSessions} from '../support/django-oracle.js'
import {freshDatabase} from '../support/mysql.js'
import {registerSessionKeys} from '../support/secrets.js'

const SECRET = 'user-sessions-secret'
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'

interface Listed {
  sessions: Array<{details?: Record<string, null | string>; id: string; userId: null | string}>
  stores: Array<{userMismatch?: number}>
}

describe('django-user-sessions and django-qsessions tables (real Django 3.2 on MariaDB)', function () {
  this.timeout(120_000)
  let db: Awaited<ReturnType<typeof freshDatabase>>
  const written = new Map<string, string[]>()

  before(async function () {
    requireDjango(this)
    db = await freshDatabase()
    for (const pkg of ['user_sessions', 'qsessions'] as const) {
      const out = await writeUserSessions({
        mysql: mysqlTarget(db.url),
        package: pkg,
        secretKey: SECRET,
        sessions: [
          {
            data: {cart: [1]}, ip: '203.0.113.7', user: '42', userAgent: FIREFOX,
          },
          {ip: '2001:db8::1', user: '42', userAgent: 'curl/8.5.0'},
          {ip: '198.51.100.2', user: '7', userAgent: 'Safari'},
          {ip: '192.0.2.9', user: null, userAgent: 'bot'},
        ],
      })
      written.set(out.table, out.sessions.map(s => s.key))
      registerSessionKeys(out.sessions.map(s => s.key))
    }
  })

  after(async () => {
    await db?.conn.end()
  })

  for (const [table, created, lastActivity] of [
    ['user_sessions_session', null, 'last_activity'],
    ['qsessions_session', 'created_at', 'updated_at'],
  ] as const) {
    it(`${table}: list --user reads user_id by index and shows ip, user agent and times as JSON details`, async () => {
      const r = await sessionctl(['sessions', 'list', '--store', db.url, '--table', table, '--user', '42', '--json', '--show-keys'])
      assert.equal(r.code, 0, r.stderr)
      const doc = JSON.parse(r.stdout) as Listed
      const keys = written.get(table)!
      assert.deepEqual(doc.sessions.map(s => s.id).sort(), keys.slice(0, 2).sort())
      assert.equal(doc.stores[0].userMismatch, 0, 'an indexed lookup through user_id')
      const [rows] = await db.conn.query(`SELECT session_key, ${lastActivity} AS last${created ? `, ${created} AS created` : ''} FROM ${table}`)
      const byKey = new Map((rows as Array<{created?: string; last: string; session_key: string}>).map(row => [row.session_key, row]))
      const first = doc.sessions.find(s => s.id === keys[0])!
      assert.deepEqual(first.details, {
        ip: '203.0.113.7', userAgent: FIREFOX, ...(created ? {created: byKey.get(keys[0])!.created} : {}), lastActivity: byKey.get(keys[0])!.last,
      })
    })
  }

  it('list --columns picks and orders the table’s columns by JSON name or header; CSV follows', async () => {
    const r = await sessionctl(['sessions', 'list', '--store', db.url, '--table', 'qsessions_session', '--columns', 'user,ip,User Agent,created', '--all'])
    assert.equal(r.code, 0, r.stderr)
    const lines = r.stdout.trim().split('\n')
    assert.match(lines[0], /^USER +IP +USER AGENT +CREATED$/)
    // Header and four sessions; the summary is on stderr. Into a pipe nothing is cut (a terminal cuts to its width).
    assert.equal(lines.length, 5, r.stdout)
    assert.ok(lines.some(l => /^42 +203\.0\.113\.7 +Mozilla\/5\.0 \(X11; Linux x86_64; rv:128\.0\) Gecko\/20100101 Firefox\/128\.0 {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/.test(l)), r.stdout)
    assert.ok(lines.some(l => /^\(anonymous\) +192\.0\.2\.9 +bot /.test(l)), r.stdout)
    assert.doesNotMatch(r.stdout, /SESSION|EXPIRES/)
    const csv = await sessionctl(['sessions', 'list', '--store', db.url, '--table', 'user_sessions_session', '--columns', 'id,userAgent,ip', '--output', 'csv', '--user', '7'])
    assert.equal(csv.code, 0, csv.stderr)
    assert.match(csv.stdout, /^id,userAgent,ip\n\S{4}…[\da-f]{8},Safari,198\.51\.100\.2\n$/)
  })

  it('a detail column the table does not keep is empty, with a warning; unknown names are a usage error listing the valid ones', async () => {
    const r = await sessionctl(['sessions', 'list', '--store', db.url, '--table', 'user_sessions_session', '--columns', 'id,created', '--all'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /warning: --columns created: \S+ \(table \S+\.user_sessions_session\) does not keep it, so the column is empty/)
    const unknown = await sessionctl(['sessions', 'list', '--store', 'mysql://root@127.0.0.1:1/x', '--columns', 'id,password'])
    assert.equal(unknown.code, 2)
    assert.equal(unknown.stderr, 'sessionctl: --columns: unknown column "password"; use id, userId, expiresAt, state, size, store, ip, userAgent, created, lastActivity\n')
    const withJson = await sessionctl(['sessions', 'list', '--store', 'mysql://root@127.0.0.1:1/x', '--columns', 'id', '--json'])
    assert.equal(withJson.code, 2)
  })

  it('show on a qsessions row: the row’s client details and the payload’s keys', async () => {
    const [key] = written.get('qsessions_session')!
    const r = await sessionctl(['sessions', 'show', '--store', db.url, '--table', 'qsessions_session', '-', '--reveal'], {env: {COLUMNS: '160'}, input: key})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^User +42$/m)
    assert.match(r.stdout, /^Ip +203\.0\.113\.7$/m)
    assert.match(r.stdout, new RegExp(`^User agent +${FIREFOX.replaceAll(/[().;/]/g, String.raw`\$&`)}$`, 'm'))
    assert.match(r.stdout, /^_qsessions_ip +str +11 +"203\.0\.113\.7"$/m)
    assert.match(r.stdout, /^_auth_user_hash +str +64 +\(masked\)$/m)
  })
})
