import type mysql from 'mysql2/promise'

/**
 * `sessions list … | head -1`: once the reader has gone, the scan stops (EPIPE on stdout aborts it
 * through the command's stop signal) instead of reading the whole store for nobody, and the run
 * ends as one whose reader went away: exit 0, no "stopped by signal". Built binary, MariaDB, a
 * store big enough that a full scan is far from over when head exits (compared by rows scanned).
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import {encodeSigned} from '../support/django-encode.js'
import {djangoSessionDdl, freshDatabase} from '../support/mysql.js'

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
const ROWS = 300_000

describe('list into a pipe that closes (MariaDB, built binary)', function () {
  this.timeout(180_000)
  let db: {conn: mysql.Connection; database: string; url: string}

  before(async () => {
    db = await freshDatabase()
    await db.conn.query(djangoSessionDdl('django_session'))
    const value = encodeSigned({_auth_user_id: '42'}, {secretKey: 'pipe-secret'})
    await db.conn.query(`INSERT INTO django_session SELECT CONCAT('p', LPAD(seq, 8, '0'), REPEAT('z', 23)), ?, UTC_TIMESTAMP(6) + INTERVAL 1 DAY FROM seq_1_to_${ROWS}`, [value])
  })

  after(async () => {
    await db.conn.end()
  })

  function piped(args: string[]): {exitCode: number; first: string; stderr: string} {
    // bash: the exit code of sessionctl itself (PIPESTATUS), its stderr kept apart.
    // eslint-disable-next-line no-template-curly-in-string -- a bash script, not a template
    const script = '"$NODE" "$BIN" "$@" 2>"$ERR" | head -1; echo "exit=${PIPESTATUS[0]}"; cat "$ERR"'
    const err = `/tmp/sessionctl-pipe-${process.pid}.err`
    const r = spawnSync('/bin/bash', ['-c', script, 'piped', ...args], {
      encoding: 'utf8', env: {
        ...process.env, BIN, ERR: err, NODE: process.execPath, NO_COLOR: '1',
      }, timeout: 120_000,
    })
    const [first, exitLine, ...rest] = r.stdout.split('\n')
    return {exitCode: Number(/^exit=(\d+)$/.exec(exitLine)?.[1] ?? -1), first, stderr: rest.join('\n')}
  }

  for (const output of ['table', 'ndjson']) {
    it(`-o ${output} | head -1 stops the scan well before the end of the store, exit 0`, () => {
      const r = piped(['sessions', 'list', '--store', db.url, '-o', output])
      assert.ok(output === 'table' ? /^SESSION +USER/.test(r.first) : r.first.startsWith('{"id":'), r.first)
      assert.equal(r.exitCode, 0, r.stderr)
      assert.doesNotMatch(r.stderr, /stopped by signal|could not write/)
      if (output === 'table') {
        // The summary line is on stderr: how many rows were read.
        const scanned = Number(/\(scanned ([\d,]+) in/.exec(r.stderr)?.[1].replaceAll(',', '') ?? Number.NaN)
        assert.ok(scanned < ROWS / 2, `scanned ${scanned} of ${ROWS}: ${r.stderr}`)
      }
    })
  }

  it('without a reader going away, the same list reads every row', () => {
    const r = spawnSync(process.execPath, [BIN, 'sessions', 'list', '--store', db.url, '--no-headers'], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}, maxBuffer: 256 * 1024 * 1024})
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trimEnd().split('\n').length, ROWS)
    assert.match(r.stderr, new RegExp(`^${ROWS.toLocaleString('en-US')} live sessions \\(scanned ${ROWS.toLocaleString('en-US')} in`, 'm'))
  })
})
