import type mysql from 'mysql2/promise'

/**
 * Hostile text in sessions (user ids holding ESC sequences, CR, LF, bidi overrides, C1 controls)
 * must never act on the operator's terminal or forge a table row, while JSON and NDJSON keep the
 * exact value; and a weak password must be masked where it is a credential, not inside every word
 * ("session" must leave "sessions" alone, in warnings and in the audit line). Built binary, MariaDB.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {
  mkdtempSync, readFileSync, rmSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {terminalSafe} from '../../src/cli/render.js'
import {sessionctl} from '../support/cli.js'
import {encodeSigned} from '../support/django-encode.js'
import {djangoSessionDdl, freshDatabase, seededKey} from '../support/mysql.js'
import {registerSessionKeys} from '../support/secrets.js'
import {freePort} from '../support/servers.js'

const SECRET = 'trust-output-django-secret'
const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
/** What must never reach a terminal raw (the line breaks between lines aside). */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u

const HOSTILE = [
  'clr\u001B[2J\u001B[H',
  'cr\rFORGED',
  'nl\nFORGED-ROW  live',
  'bidi\u202Eevil',
  'c1\u009B2J',
  'ls\u2028x',
  'iso\u2066y\u2069',
  'zw\u200Bz',
  'del\u007Fq',
  'tag\u{E0041}',
]
const USERS = ['42', ...HOSTILE]

function assertTerminalSafe(text: string, what: string): void {
  const bad = [...text.replaceAll('\n', '')].find(ch => UNSAFE.test(ch))
  assert.equal(bad, undefined, `${what} holds a raw ${JSON.stringify(bad)}`)
}

describe('trust: output (built binary, MariaDB)', function () {
  this.timeout(60_000)
  let db: {conn: mysql.Connection; database: string; url: string}
  const keys = USERS.map((_, i) => seededKey('h', i))

  before(async () => {
    db = await freshDatabase()
    await db.conn.query(djangoSessionDdl('django_session'))
    registerSessionKeys(keys)
    for (const [i, user] of USERS.entries()) {
      await db.conn.query('INSERT INTO django_session VALUES (?, ?, UTC_TIMESTAMP(6) + INTERVAL ? HOUR)', [keys[i], encodeSigned({_auth_user_id: user}, {secretKey: SECRET}), i + 1])
    }
  })

  after(async () => db?.conn.end())

  const list = (...extra: string[]) => sessionctl(['sessions', 'list', '--store', db.url, ...extra])

  describe('hostile user ids', () => {
    it('table: one line per session, every control shown as an escape, columns aligned', async () => {
      const r = await list()
      assert.equal(r.code, 0, r.stderr)
      assertTerminalSafe(r.stdout, 'stdout')
      assertTerminalSafe(r.stderr, 'stderr')
      const lines = r.stdout.trimEnd().split('\n')
      assert.equal(lines.length, 1 + USERS.length, `header, ${USERS.length} rows:\n${r.stdout}`)
      // The summary is on stderr.
      assert.match(r.stderr, new RegExp(`^${USERS.length} live sessions \\(scanned ${USERS.length} in`))
      for (const user of HOSTILE) assert.ok(r.stdout.includes(terminalSafe(user)), `${JSON.stringify(user)} shown as ${terminalSafe(user)}`)
      assert.ok(r.stdout.includes(String.raw`clr\x1b[2J\x1b[H`) && r.stdout.includes(String.raw`bidi\u202eevil`) && r.stdout.includes(String.raw`nl\nFORGED-ROW`))
      const column = lines[0].indexOf('EXPIRES')
      for (const row of lines.slice(1)) assert.equal(row.search(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/), column, `aligned: ${row}`)
    })

    it('--json and --output ndjson: the exact ids; NDJSON lines are valid JSON and terminal-safe', async () => {
      const json = await list('--json')
      assert.equal(json.code, 0, json.stderr)
      const doc = JSON.parse(json.stdout) as {sessions: Array<{userId: string}>}
      assert.deepEqual(doc.sessions.map(s => s.userId).sort(), [...USERS].sort())

      const nd = await list('--output', 'ndjson')
      assert.equal(nd.code, 0, nd.stderr)
      assertTerminalSafe(nd.stdout, 'ndjson')
      const rows = nd.stdout.trimEnd().split('\n').map(l => JSON.parse(l) as {userId: string})
      assert.deepEqual(rows.map(s => s.userId).sort(), [...USERS].sort())
    })

    it('--output csv: one line per session (no embedded line break), escapes visible', async () => {
      const r = await list('--output', 'csv')
      assert.equal(r.code, 0, r.stderr)
      assertTerminalSafe(r.stdout, 'csv')
      const lines = r.stdout.trimEnd().split('\n')
      assert.equal(lines.length, 1 + USERS.length, r.stdout)
      assert.ok(lines.some(l => l.split(',')[1] === String.raw`nl\nFORGED-ROW  live`), r.stdout)
    })

    it('an error naming hostile text (a database name from the URL): one escaped line', async () => {
      const bad = new URL(db.url)
      bad.pathname = '/no%1B%5B2Jsuch%0Adb'
      const r = await sessionctl(['sessions', 'list', '--store', bad.toString()])
      assert.equal(r.code, 2, r.stderr)
      assertTerminalSafe(r.stderr, 'stderr')
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr)
      assert.ok(r.stderr.includes(String.raw`no\x1b[2Jsuch`), r.stderr)
    })
  })

  describe('terminalSafe (the one function every human output goes through)', () => {
    it('leaves nothing unsafe in any code point, is idempotent, and keeps JSON exact', () => {
      let unsafe = 0
      for (let cp = 0; cp <= 0x10_FF_FF; cp += cp < 0x3_00_00 ? 1 : 97) {
        if (cp >= 0xD8_00 && cp <= 0xDF_FF) continue
        const ch = String.fromCodePoint(cp)
        const shown = terminalSafe(`a${ch}b`)
        if ([...shown].some(c => UNSAFE.test(c)) || terminalSafe(shown) !== shown) unsafe++
        const json = JSON.stringify({v: `x${ch}\uD800`})
        if ((JSON.parse(terminalSafe(json)) as {v: string}).v !== `x${ch}\uD800`) unsafe++
      }

      assert.equal(unsafe, 0)
      assert.equal(terminalSafe(String.raw`plain text, ünïcødé, 表, emoji 😀 and \ backslash`), String.raw`plain text, ünïcødé, 表, emoji 😀 and \ backslash`)
    })

    it('with colour on, only our own colour codes pass: not conceal, cursor moves or clears', () => {
      const ours = '\u001B[1mSESSION\u001B[22m \u001B[32mlive\u001B[39m \u001B[33mexpired\u001B[39m'
      assert.equal(terminalSafe(ours, true), ours)
      assert.equal(terminalSafe('\u001B[8mhidden\u001B[2J\u001B[1;1H\u001B[30m', true), String.raw`\x1b[8mhidden\x1b[2J\x1b[1;1H\x1b[30m`)
      assert.equal(terminalSafe(ours), String.raw`\x1b[1mSESSION\x1b[22m \x1b[32mlive\x1b[39m \x1b[33mexpired\x1b[39m`)
    })
  })

  describe('a weak password ("session") is masked as a credential, not inside words', () => {
    // Run without the harness's recorder: its grep would take every "sessions" for the password.
    // This test checks the password's appearances itself.
    const PASSWORD = 'session'
    let dir: string
    let url: string
    const user = `weak${Date.now().toString(36)}`

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'sessionctl-trust-output-'))
      await db.conn.query('CREATE USER ?@\'%\' IDENTIFIED BY ?', [user, PASSWORD])
      await db.conn.query(`GRANT ALL PRIVILEGES ON \`${db.database}\`.* TO ?@'%'`, [user])
      const u = new URL(db.url)
      u.username = user
      u.password = PASSWORD
      url = u.toString()
      // Two sessions of user 7, and two forged ones for user 7 (a bad signature).
      for (const i of [1, 2]) {
        await db.conn.query('INSERT INTO django_session VALUES (?, ?, UTC_TIMESTAMP(6) + INTERVAL 1 DAY)', [seededKey('w', i), encodeSigned({_auth_user_id: '7'}, {secretKey: SECRET})])
        await db.conn.query('INSERT INTO django_session VALUES (?, ?, UTC_TIMESTAMP(6) + INTERVAL 1 DAY)', [seededKey('f', i), encodeSigned({_auth_user_id: '7'}, {secretKey: 'forger'})])
      }
    })

    after(async () => {
      await db.conn.query('DROP USER IF EXISTS ?@\'%\'', [user])
      rmSync(dir, {force: true, recursive: true})
    })

    function run(args: string[]): {code: null | number; stderr: string; stdout: string} {
      const r = spawnSync(process.execPath, [BIN, ...args], {
        encoding: 'utf8', env: {...process.env, DJANGO_SECRET_KEY: SECRET, NO_COLOR: '1'}, timeout: 30_000,
      })
      return {code: r.status, stderr: r.stderr, stdout: r.stdout}
    }

    const noPasswordInUrls = (text: string): void => assert.doesNotMatch(text, /:session@|:session\b/, text)

    it('purge: "sessions" intact in the warning and the audit line; the URL password masked', () => {
      const log = join(dir, 'audit.jsonl')
      const r = run(['sessions', 'purge', '--store', url, '--user', '7', '--yes', '--audit-log', log, '--reason', 'rotate sessions after INC-9'])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /Deleted 2 sessions of user 7\./)
      assert.match(r.stderr, /warning: 2 sessions with a bad signature ignored/)
      assert.doesNotMatch(r.stderr + r.stdout, /\*\*\*\*s\b/, 'no word cut by a mask')
      noPasswordInUrls(r.stderr + r.stdout)
      const line = JSON.parse(readFileSync(log, 'utf8').trim().split('\n').at(-1)!) as {command: string; reason: string; stores: string[]}
      assert.equal(line.command, 'sessions purge')
      assert.equal(line.reason, 'rotate sessions after INC-9')
      assert.match(line.stores[0], new RegExp(`^mysql://${user}:\\*\\*\\*\\*@`))
      noPasswordInUrls(readFileSync(log, 'utf8'))
    })

    it('a store that cannot be reached, and a wrong database: no password in the error', async () => {
      const closed = new URL(url)
      closed.port = String(await freePort())
      for (const json of [false, true]) {
        const r = run(['sessions', 'list', '--store', closed.toString(), ...(json ? ['--json'] : [])])
        assert.equal(r.code, 1, r.stderr)
        assert.match(r.stderr + r.stdout, /cannot connect to 127\.0\.0\.1/)
        noPasswordInUrls(r.stderr + r.stdout)
      }

      const wrongDb = new URL(url)
      wrongDb.pathname = '/no_such_db_session'
      const r = run(['sessions', 'list', '--store', wrongDb.toString()])
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, /no_such_db_session/, 'the word holding the password is left as it is')
      noPasswordInUrls(r.stderr)
    })
  })
})
