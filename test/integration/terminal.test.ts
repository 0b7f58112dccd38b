import type mysql from 'mysql2/promise'

/**
 * On a real terminal: purge asks before deleting (and "no" deletes nothing), output is
 * coloured unless NO_COLOR. Without a terminal nothing but data reaches the streams.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {fingerprint} from '../../src/sessions/keys.js'
import {sessionctl} from '../support/cli.js'
import {encodeSigned} from '../support/django-encode.js'
import {djangoSessionDdl, freshDatabase, utcDatetime} from '../support/mysql.js'
import {onTerminal} from '../support/terminal.js'

const KEYS = ['k42aaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'k42bbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 'k7cccccccccccccccccccccccccccccc']

describe('on a terminal', function () {
  this.timeout(60_000)
  let db: {conn: mysql.Connection; database: string; url: string}

  async function count(): Promise<number> {
    const [rows] = await db.conn.query('SELECT COUNT(*) AS n FROM django_session')
    return Number((rows as Array<{n: number}>)[0].n)
  }

  beforeEach(async () => {
    db = await freshDatabase()
    await db.conn.query(djangoSessionDdl('django_session'))
    const expires = utcDatetime(new Date(Date.now() + 3_600_000))
    for (const [i, key] of KEYS.entries()) {
      await db.conn.query('INSERT INTO django_session VALUES (?, ?, ?)', [key, encodeSigned({_auth_user_id: i < 2 ? '42' : '7'}, {secretKey: 'k'}), expires])
    }
  })

  afterEach(async () => {
    await db.conn.end()
  })

  it('purge asks with the count, the user and the store; "no" deletes nothing', async () => {
    const r = await onTerminal(['sessions', 'purge', '--store', db.url, '--user', '42'], {answer: 'n\r', waitFor: /Delete 2 sessions/})
    assert.ok(r.answered, r.output)
    assert.match(r.output, new RegExp(`Delete 2 sessions of user 42 from mysql://root@127\\.0\\.0\\.1:\\d+/${db.database} \\(table ${db.database}\\.django_session\\)\\?`))
    assert.ok(r.output.includes(fingerprint(KEYS[0])), 'the sessions are shown before the question')
    assert.match(r.output, /not confirmed: nothing was deleted/)
    assert.equal(r.exitCode, 3)
    assert.equal(await count(), 3)
  })

  it('purge deletes after "yes"', async () => {
    const r = await onTerminal(['sessions', 'purge', '--store', db.url, '--user', '42'], {answer: 'y\r', waitFor: /Delete 2 sessions/})
    assert.equal(r.exitCode, 0, r.output)
    assert.match(r.output, /Deleted 2 sessions of user 42\./)
    assert.equal(await count(), 1)
  })

  it('revoke asks with the count and the store; "no" deletes nothing, "yes" deletes the named session only', async () => {
    const no = await onTerminal(['sessions', 'revoke', '--store', db.url, fingerprint(KEYS[2])], {answer: 'n\r', waitFor: /Delete 1 named session/})
    assert.ok(no.answered, no.output)
    assert.match(no.output, /Delete 1 named session from mysql:\/\/root@127\.0\.0\.1:\d+\/\S+ \(table \S+\.django_session\)\?/)
    assert.equal(no.exitCode, 3)
    assert.equal(await count(), 3)
    const yes = await onTerminal(['sessions', 'revoke', '--store', db.url, fingerprint(KEYS[2])], {answer: 'y\r', waitFor: /Delete 1 named session/})
    assert.equal(yes.exitCode, 0, yes.output)
    assert.match(yes.output, /Deleted 1 named session\./)
    assert.equal(await count(), 2)
  })

  it('revoke - on a terminal (nothing piped) is a usage error, nothing read or deleted', async () => {
    const r = await onTerminal(['sessions', 'revoke', '--store', db.url, '-'])
    assert.equal(r.exitCode, 2, r.output)
    assert.match(r.output, /- reads the names from stdin, but stdin is a terminal/)
    assert.equal(await count(), 3)
  })

  it('colours the table, and not with NO_COLOR', async () => {
    const coloured = await onTerminal(['sessions', 'list', '--store', db.url, '--user', '42'])
    // eslint-disable-next-line no-control-regex
    assert.match(coloured.output, /\u001B\[\d+m/)
    const plain = await onTerminal(['sessions', 'list', '--store', db.url, '--user', '42'], {env: {NO_COLOR: '1'}})
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(plain.output.replaceAll(/\u001B\[\?25[hl]/g, ''), /\u001B\[\d+m/)
    assert.match(plain.output, /2 live sessions of user 42/)
  })

  it('without a terminal, a successful run writes only the summary line to stderr (no spinner, no colour)', async () => {
    const r = await sessionctl(['sessions', 'list', '--store', db.url, '--user', '42'], {env: {NO_COLOR: undefined}})
    assert.equal(r.code, 0)
    // The summary is on stderr, so `list | wc -l` counts the header and the sessions only.
    assert.match(r.stderr, /^2 live sessions of user 42 \(scanned 3 in [\d.]+ s\)\n$/)
    assert.equal(r.stdout.trimEnd().split('\n').length, 3, r.stdout)
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(r.stdout + r.stderr, /\u001B\[/)
  })

  it('a table fits the terminal: the store label is cut with an ellipsis, no row wraps; into a pipe nothing is cut', async () => {
    const r = await onTerminal(['sessions', 'list', '--store', db.url, '--user', '42', '-o', 'wide'], {env: {NO_COLOR: '1'}})
    assert.equal(r.exitCode, 0, r.output)
    // eslint-disable-next-line no-control-regex
    const lines = r.output.replaceAll(/\u001B\[[\d;?]*[A-Za-z]/g, '').split(/\r?\n/)
    const label = `${db.url} (table ${db.database}.django_session)`
    assert.ok(`SESSION  USER  EXPIRES (UTC)                  STATE  SIZE  ${label}`.length > 120, 'the label is long enough to need cutting')
    const rows = lines.filter(l => l.includes(fingerprint(KEYS[0])) || l.includes(fingerprint(KEYS[1])))
    assert.equal(rows.length, 2, r.output)
    for (const line of lines) assert.ok([...line].length <= 120, `${[...line].length} columns: ${line}`)
    for (const row of rows) assert.match(row, / {2}mysql:\/\/.*…$/)
    const piped = await sessionctl(['sessions', 'list', '--store', db.url, '--user', '42', '-o', 'wide'])
    assert.ok(piped.stdout.split('\n')[1].endsWith(label), piped.stdout)
  })

  it('TERM=dumb gets no escape sequence at all: no spinner, no colour, no cursor moves, the prompt included', async () => {
    const list = await onTerminal(['sessions', 'list', '--store', db.url, '--user', '42'], {env: {TERM: 'dumb'}})
    assert.equal(list.exitCode, 0, list.output)
    assert.match(list.output, /2 live sessions of user 42/)
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(list.output, /\u001B/)
    const purge = await onTerminal(['sessions', 'purge', '--store', db.url, '--user', '42'], {answer: 'n\r', env: {TERM: 'dumb'}, waitFor: /Delete 2 sessions/})
    assert.ok(purge.answered, purge.output)
    assert.equal(purge.exitCode, 3, purge.output)
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(purge.output, /\u001B/)
    assert.equal(await count(), 3)
  })

  it('--ask-pass asks for the password on the terminal, never echoes it, and connects with it', async () => {
    const password = 'Typed-S3cret-pw'
    await db.conn.query(`CREATE USER 'askpass'@'%' IDENTIFIED BY '${password}'`)
    await db.conn.query(`GRANT ALL ON \`${db.database}\`.* TO 'askpass'@'%'`)
    try {
      const url = db.url.replace('mysql://root@', 'mysql://askpass@')
      const r = await onTerminal(['sessions', 'list', '--store', url, '--user', '42', '--ask-pass'], {answer: `${password}\r`, waitFor: /Password for mysql:\/\/askpass@127\.0\.0\.1:\d+: $/})
      assert.ok(r.answered, r.output)
      assert.equal(r.exitCode, 0, r.output)
      assert.match(r.output, /2 live sessions of user 42/)
      assert.ok(!r.output.includes(password), 'the typed password is not echoed or printed')
      const wrong = await onTerminal(['sessions', 'list', '--store', url, '--ask-pass'], {answer: 'not-it\r', waitFor: /Password for /})
      assert.equal(wrong.exitCode, 1, wrong.output)
      assert.match(wrong.output, /sessionctl:\S* access denied for user "askpass"/)
      assert.ok(!wrong.output.includes('not-it'))
      // Two stores on one server, as one user: asked once (the pty answers once; a second question would hang).
      const other = await freshDatabase()
      try {
        await other.conn.query(djangoSessionDdl('django_session'))
        await db.conn.query(`GRANT ALL ON \`${other.database}\`.* TO 'askpass'@'%'`)
        const otherUrl = other.url.replace('mysql://root@', 'mysql://askpass@')
        const both = await onTerminal(['sessions', 'list', '--store', url, '--store', otherUrl, '--user', '42', '--ask-pass'], {answer: `${password}\r`, waitFor: /Password for /})
        assert.equal(both.exitCode, 0, both.output)
        assert.equal(both.output.match(/Password for /g)?.length, 1, both.output)
        assert.match(both.output, /2 live sessions of user 42 \(scanned 3 in 2 stores/)
      } finally {
        await other.conn.end()
      }

      // A profile whose passwordEnv is unset: --ask-pass asks instead of refusing the profile.
      const dir = mkdtempSync(join(tmpdir(), 'sessionctl-askpass-'))
      try {
        const config = join(dir, 'sessionctl.json')
        writeFileSync(config, JSON.stringify({profiles: {prod: {passwordEnv: 'SESSIONCTL_TEST_UNSET_PASSWORD', store: url}}}), {mode: 0o600})
        const profile = await onTerminal(['sessions', 'list', '--config', config, '--store', 'prod', '--user', '42', '--ask-pass'], {answer: `${password}\r`, waitFor: /Password for /})
        assert.equal(profile.exitCode, 0, profile.output)
        assert.match(profile.output, /2 live sessions of user 42/)
        const unasked = await sessionctl(['sessions', 'list', '--config', config, '--store', 'prod', '--user', '42'])
        assert.equal(unasked.code, 2, unasked.stderr)
        assert.match(unasked.stderr, /reads its password from \$SESSIONCTL_TEST_UNSET_PASSWORD, which is not set/)
      } finally {
        rmSync(dir, {force: true, recursive: true})
      }

      // Without a terminal: one line, exit 2, nothing asked or connected.
      const none = await sessionctl(['sessions', 'list', '--store', url, '--ask-pass'])
      assert.equal(none.code, 2, none.stderr)
      assert.match(none.stderr, /^sessionctl: --ask-pass needs a terminal to ask on, and there is none: .+\n$/)
    } finally {
      await db.conn.query("DROP USER 'askpass'@'%'")
    }
  })
})
