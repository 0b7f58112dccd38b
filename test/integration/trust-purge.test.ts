/**
 * Issue 10, the purge and cleanup side: what an operator's environment does to a deleting run
 * (unset shell variables in --except, signals from a dropped SSH session, a full disk behind
 * stdout or the audit log, one store down among several, flags that mean nothing where given),
 * each against the built binary and a real MariaDB. Every case checks what was left in the table.
 */
import mysql from 'mysql2/promise'
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {
  chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {fingerprint} from '../../src/sessions/keys.js'
import {sessionctl, startSessionctl} from '../support/cli.js'
import {encodeSigned} from '../support/django-encode.js'
import {djangoSessionDdl, freshDatabase, seededKey} from '../support/mysql.js'
import {freePort, testRedisUrl} from '../support/servers.js'
import {onTerminal} from '../support/terminal.js'

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
const SECRET = 'trust-secret-key'

interface Line {
  [field: string]: unknown
  deleted?: number
  event?: string
  exitCode?: number
  matched?: number
  outcome?: string
  run?: string
  selected?: number
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => {
    setTimeout(resolve, ms)
  })
}

/** Runs the binary with stdout on `stdoutPath` (e.g. /dev/full): what cron's `>> log` does on a full disk. */
function runWithStdout(args: string[], stdoutPath: string): Promise<{code: null | number; stderr: string}> {
  const fd = openSync(stdoutPath, 'a')
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {env: {...process.env, NO_COLOR: '1'}, stdio: ['ignore', fd, 'pipe']})
    closeSync(fd)
    let stderr = ''
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
    })
    child.on('error', reject)
    child.on('close', code => resolve({code, stderr}))
  })
}

describe('trust: deleting runs in a hostile environment (built binary, MariaDB)', function () {
  this.timeout(120_000)
  let db: {conn: mysql.Connection; database: string; url: string}
  let dir: string

  async function count(where = '1'): Promise<number> {
    const [rows] = await db.conn.query(`SELECT COUNT(*) AS n FROM django_session WHERE ${where}`)
    return Number((rows as Array<{n: number}>)[0].n)
  }

  /** `live` live sessions of user 42 (a…), `expired` expired ones (x…), and 3 live of user 7 (b…). */
  async function seed(live: number, expired = 0): Promise<void> {
    await db.conn.query('TRUNCATE TABLE django_session')
    const insert = async (prefix: string, user: string, n: number, when: string): Promise<void> => {
      if (n === 0) return
      await db.conn.query(
        `INSERT INTO django_session SELECT CONCAT('${prefix}', LPAD(seq, 8, '0'), REPEAT('z', 23)), ?, ${when} FROM seq_1_to_${n}`,
        [encodeSigned({_auth_user_id: user}, {secretKey: SECRET})],
      )
    }

    await insert('a', '42', live, 'UTC_TIMESTAMP(6) + INTERVAL 1 DAY')
    await insert('x', '42', expired, 'UTC_TIMESTAMP(6) - INTERVAL 1 DAY')
    await insert('b', '7', 3, 'UTC_TIMESTAMP(6) + INTERVAL 1 DAY')
  }

  function auditLines(path: string): Line[] {
    return readFileSync(path, 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l) as Line)
  }

  async function waitUntil(probe: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 30_000
    while (!(await probe().catch(() => false))) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the purge to get under way')
      await sleep(5)
    }
  }

  const purge = (...extra: string[]): string[] => ['sessions', 'purge', '--store', db.url, '--user', '42', ...extra]

  /**
   * A tmpfs of `size` at dir/name, `prepare`d (e.g. an audit log written), then filled up: what a
   * full disk looks like to the tool. Unmounted afterwards.
   */
  async function onFullDisk(name: string, size: string, prepare: (mount: string) => void, test: (mount: string) => Promise<void>): Promise<void> {
    const mount = join(dir, name)
    mkdirSync(mount)
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mount])
    assert.equal(mounted.status, 0, `tmpfs mount (root on this machine kind): ${mounted.stderr}`)
    try {
      prepare(mount)
      spawnSync('dd', ['if=/dev/zero', `of=${join(mount, 'filler')}`, 'bs=1k', 'count=64'])
      await test(mount)
    } finally {
      spawnSync('umount', [mount])
    }
  }

  before(async () => {
    db = await freshDatabase()
    await db.conn.query(djangoSessionDdl('django_session'))
  })

  after(async () => {
    await db?.conn.end()
  })

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sessionctl-trust-'))
  })

  afterEach(() => {
    rmSync(dir, {force: true, recursive: true})
  })

  describe('--except', () => {
    const cases: Array<[string, string]> = [
      ['empty (an unset shell variable)', ''],
      ['a space', ' '],
      ['a newline', '\n'],
      ['a bare ellipsis', '…'],
      ['three dots', '...'],
      ['a fingerprint cut after the ellipsis', 'a000…'],
      ['a fingerprint with a short hash', 'a000…1234'],
      ['a fingerprint with a 2-character prefix', 'a0…12345678'],
      ['a key with a trailing space', `${seededKey('a', 1)} `],
      ['a key with a tab inside', `${seededKey('a', 1).slice(0, 10)}\t${seededKey('a', 1).slice(10)}`],
    ]
    for (const [what, value] of cases) {
      it(`${what}: exit 2, one line, no raw key, nothing deleted`, async () => {
        await seed(3)
        const r = await sessionctl(purge('--yes', '--except', value))
        assert.equal(r.code, 2, r.stderr)
        assert.equal(r.stdout, '')
        assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr)
        assert.match(r.stderr, /^sessionctl: .*--except/)
        assert.ok(!r.stderr.includes(seededKey('a', 1).slice(0, 10)), `no key text echoed: ${r.stderr}`)
        assert.equal(await count(), 6)
      })
    }

    it('a well-formed one that names none of the selected sessions: refused (exit 3) for a real run, a dry run and --json; nothing deleted', async () => {
      await seed(3)
      const typo = `${seededKey('a', 1).slice(0, 31)}y`
      for (const extra of [['--yes'], ['--dry-run'], ['--yes', '--json']]) {
        const r = await sessionctl(purge('--except', typo, ...extra))
        assert.equal(r.code, 3, `${extra.join(' ')}: ${r.stderr}`)
        const message = extra.includes('--json') ? (JSON.parse(r.stdout) as {error: {exitCode: number; message: string}}).error : {exitCode: 3, message: r.stderr}
        assert.equal(message.exitCode, 3)
        assert.match(message.message, new RegExp(`--except ${fingerprint(typo)} names none of user 42's selected sessions.*--allow-unmatched-except; nothing was deleted`))
        assert.ok(!`${r.stdout}${r.stderr}`.includes(typo), 'the raw key is not echoed')
      }

      assert.equal(await count(), 6)
      const allowed = await sessionctl(purge('--except', typo, '--yes', '--allow-unmatched-except'))
      assert.equal(allowed.code, 0, allowed.stderr)
      assert.match(allowed.stderr, /warning: --except .* names none of user 42's selected sessions; nothing to keep for it/)
      assert.equal(await count("session_key LIKE 'a%'"), 0)
      assert.equal(await count("session_key LIKE 'b%'"), 3, 'user 7 untouched')
    })

    it('one that matches, beside one that does not, is still refused: a typo is a typo', async () => {
      await seed(3)
      const r = await sessionctl(purge('--yes', '--except', fingerprint(seededKey('a', 1)), '--except', 'zzzz…00000000'))
      assert.equal(r.code, 3, r.stderr)
      assert.match(r.stderr, /--except zzzz…00000000 names none/)
      assert.equal(await count(), 6)
    })

    it('nothing selected: nothing to refuse, a warning, exit 0', async () => {
      await seed(0)
      const r = await sessionctl(purge('--yes', '--except', 'zzzz…00000000'))
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stderr, /names none of user 42's selected sessions; nothing to keep for it/)
    })
  })

  describe('signals and the audit trail', () => {
    const PURGED = 20_000
    const underWay = async (): Promise<boolean> => (await count("session_key LIKE 'a%'")) < PURGED - 200

    for (const signal of ['SIGHUP', 'SIGQUIT', 'SIGINT'] as const) {
      it(`${signal} mid-purge (a dropped SSH session, Ctrl-\\): stops after the batch, exit 6, started and finished lines agree with the table`, async () => {
        await seed(PURGED)
        const log = join(dir, 'audit.jsonl')
        const run = startSessionctl(purge('--yes', '--batch-size', '20', '--audit-log', log))
        await waitUntil(underWay)
        run.kill(signal)
        const r = await run
        assert.equal(r.code, 6, r.stderr)
        assert.match(r.stderr, new RegExp(`stopped by ${signal}`))
        const lines = auditLines(log)
        assert.deepEqual(lines.map(l => l.event), ['started', 'finished'])
        assert.equal(lines[0].run, lines[1].run)
        assert.equal(lines[0].selected, PURGED)
        assert.equal(lines[1].outcome, 'stopped')
        assert.equal(lines[1].exitCode, 6)
        assert.equal(PURGED - await count("session_key LIKE 'a%'"), lines[1].deleted, 'the line counts exactly what went')
        assert.equal(await count("session_key LIKE 'b%'"), 3)
      })
    }

    it('SIGKILL mid-purge (uncatchable): the started line is there, with the run id and the selection', async () => {
      await seed(PURGED)
      const log = join(dir, 'audit.jsonl')
      const run = startSessionctl(purge('--yes', '--batch-size', '20', '--audit-log', log))
      await waitUntil(underWay)
      run.kill('SIGKILL')
      const r = await run
      assert.equal(r.signal, 'SIGKILL')
      const lines = auditLines(log)
      assert.deepEqual(lines.map(l => l.event), ['started'])
      assert.equal(lines[0].selected, PURGED)
      assert.equal(typeof lines[0].run, 'string')
      assert.ok(await count("session_key LIKE 'a%'") < PURGED)
    })

    it('a second signal under --json: exit 130, stdout still one JSON document, the finished line written', async () => {
      await seed(PURGED)
      const log = join(dir, 'audit.jsonl')
      // Rows a00010001…a00010010 held by another transaction: the batch that reaches them waits, so
      // the first signal is still being honoured when the second comes.
      const locker = await mysql.createConnection({uri: db.url})
      try {
        await locker.beginTransaction()
        await locker.query("SELECT session_key FROM django_session WHERE session_key BETWEEN 'a00010001' AND 'a00010010zz' FOR UPDATE")
        const run = startSessionctl(purge('--yes', '--batch-size', '20', '--json', '--audit-log', log))
        await waitUntil(async () => (await count("session_key LIKE 'a%'")) === PURGED - 10_000)
        run.kill('SIGTERM')
        await sleep(300)
        run.kill('SIGTERM')
        const r = await run
        assert.equal(r.code, 130, r.stderr)
        const doc = JSON.parse(r.stdout) as {error: {exitCode: number; message: string}}
        assert.equal(doc.error.exitCode, 130)
        assert.match(doc.error.message, /second signal \(SIGTERM\)/)
        const lines = auditLines(log)
        assert.deepEqual(lines.map(l => l.event), ['started', 'finished'])
        assert.equal(lines[1].exitCode, 130)
        assert.equal(lines[1].deleted, 10_000)
      } finally {
        await locker.rollback().catch(() => {})
        await locker.end().catch(() => {})
      }
    })

    const badLogs: Array<[string, (d: string) => string]> = [
      ['/dev/full', () => '/dev/full'],
      ['/dev/null (not a log)', () => '/dev/null'],
      ['a FIFO with no reader (would block)', d => {
        const path = join(d, 'fifo')
        spawnSync('mkfifo', [path])
        return path
      }],
      ['a symbolic link (placed by someone else)', d => {
        const path = join(d, 'link.jsonl')
        symlinkSync(join(d, 'elsewhere.jsonl'), path)
        return path
      }],
    ]
    for (const [what, make] of badLogs) {
      it(`an audit log that is ${what}: exit 1 at once, one line, nothing deleted`, async () => {
        await seed(3)
        const r = await sessionctl(purge('--yes', '--audit-log', make(dir)), {timeoutMs: 20_000})
        assert.equal(r.code, 1, r.stderr)
        assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr)
        assert.match(r.stderr, /^sessionctl: cannot open the audit log .* for appending \((not a regular file|a symbolic link: name the file itself)\); nothing was deleted\n$/)
        assert.equal(await count(), 6)
        assert.equal(existsSync(join(dir, 'elsewhere.jsonl')), false, 'nothing written through the link')
      })
    }

    it('an audit log on a full disk: the started line fails, exit 1, nothing deleted (purge and cleanup)', async () => {
      await onFullDisk('full', '4k', mount => writeFileSync(join(mount, 'audit.jsonl'), ''), async mount => {
        await seed(3, 2)
        const r = await sessionctl(purge('--yes', '--audit-log', join(mount, 'audit.jsonl')))
        assert.equal(r.code, 1, r.stderr)
        assert.match(r.stderr, /^\d+ sessions of user 42 selected \(scanned \d+ in [\d.]+ s\)\nsessionctl: cannot write the audit log .*audit\.jsonl \(ENOSPC\); nothing was deleted\n$/)
        const c = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--audit-log', join(mount, 'audit.jsonl')])
        assert.equal(c.code, 1, c.stderr)
        assert.match(c.stderr, /cannot write the audit log .* \(ENOSPC\); nothing was deleted/)
        assert.equal(await count(), 8)
      })
    })

    it('an existing log that others may write, or that another user owns: a warning, and the run goes on', async () => {
      await seed(2)
      const log = join(dir, 'shared.jsonl')
      writeFileSync(log, '', {mode: 0o666})
      chmodSync(log, 0o666)
      const r = await sessionctl(purge('--yes', '--audit-log', log))
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stderr, /^sessionctl: warning: the audit log .*shared\.jsonl is writable by others \(mode 666\): chmod go-w it\n\d+ sessions of user 42 selected \(scanned \d+ in [\d.]+ s\)\n$/)
      chownSync(log, 65_534, 65_534)
      chmodSync(log, 0o600)
      await seed(1)
      const owned = await sessionctl(purge('--yes', '--audit-log', log))
      assert.equal(owned.code, 0, owned.stderr)
      assert.match(owned.stderr, /belongs to uid 65534, not to this user: its owner can rewrite it/)
      assert.deepEqual(auditLines(log).map(l => l.event), ['started', 'finished', 'started', 'finished'])
    })

    it('a disk that fills between the started and the finished line: exit 4, and no torn line is left behind', async () => {
      // One page holds the earlier lines and the started line; the finished line needs the second, taken by the filler.
      const earlier = (mount: string): void => writeFileSync(join(mount, 'audit.jsonl'), `${JSON.stringify({earlier: 'x'.repeat(3400)})}\n`)
      await onFullDisk('tight', '8k', earlier, async mount => {
        const log = join(mount, 'audit.jsonl')
        await seed(5)
        const r = await sessionctl(purge('--yes', '--json', '--audit-log', log))
        assert.equal(r.code, 4, r.stderr)
        assert.match(JSON.parse(r.stdout).error.message, /^5 sessions were deleted, but the audit line could not be written to .* \(ENOSPC\)/)
        const text = readFileSync(log, 'utf8')
        assert.ok(text.endsWith('\n'), 'the file ends at a line boundary')
        assert.deepEqual(text.trim().split('\n').map(l => (JSON.parse(l) as Line).event), [undefined, 'started'])
        assert.equal(await count("session_key LIKE 'a%'"), 0)
      })
    })

    it('creates the log 0600 whatever the umask', async () => {
      await seed(1)
      const log = join(dir, 'new.jsonl')
      const r = await sessionctl(purge('--yes', '--audit-log', log))
      assert.equal(r.code, 0, r.stderr)
      assert.equal(statSync(log).mode.toString(8).slice(-3), '600')
    })
  })

  describe('standard output on a full disk (cron: >> cleanup.log)', () => {
    it('cleanup: one line on stderr, no stack trace, exit 4 (sessions were deleted), the audit line says so', async () => {
      await seed(2, 5)
      const log = join(dir, 'audit.jsonl')
      const r = await runWithStdout(['sessions', 'cleanup', '--store', db.url, '--audit-log', log], '/dev/full')
      assert.equal(r.code, 4, r.stderr)
      assert.equal(r.stderr, 'sessionctl: could not write to standard output (ENOSPC): the report is lost; 5 sessions had been deleted (see the audit log)\n')
      const [, finished] = auditLines(log)
      assert.equal(finished.deleted, 5)
      assert.equal(finished.exitCode, 4)
      assert.match(String(finished.error), /report could not be written to standard output \(ENOSPC\)/)
      assert.equal(await count("session_key LIKE 'x%'"), 0)
    })

    it('purge --yes and --json: exit 4; list: exit 1; never a stack trace', async () => {
      await seed(2)
      const p = await runWithStdout(purge('--yes', '--json'), '/dev/full')
      assert.equal(p.code, 4, p.stderr)
      assert.doesNotMatch(p.stderr, /\n\s+at /)
      assert.equal(await count("session_key LIKE 'a%'"), 0)
      const log = join(dir, 'audit.jsonl')
      await seed(3)
      const j = await runWithStdout(purge('--yes', '--json', '--audit-log', log), '/dev/full')
      assert.equal(j.code, 4, j.stderr)
      assert.equal(j.stderr, 'sessionctl: could not write to standard output (ENOSPC): the report is lost; 3 sessions had been deleted (see the audit log)\n')
      assert.equal(auditLines(log).at(-1)!.event, 'finished', 'the audit line is written before the --json document')
      await seed(2)
      const t = await runWithStdout(purge('--yes'), '/dev/full')
      assert.equal(t.code, 4, t.stderr)
      assert.match(t.stderr, /the report is lost; 2 sessions had been deleted/)
      for (const args of [['--version'], ['sessions', 'list', '--help']]) {
        const v = await runWithStdout(args, '/dev/full')
        assert.equal(v.code, 1, v.stderr)
        assert.equal(v.stderr, 'sessionctl: could not write to standard output (ENOSPC): the report is lost\n')
      }

      const l = await runWithStdout(['sessions', 'list', '--store', db.url], '/dev/full')
      assert.equal(l.code, 1, l.stderr)
      // The table's summary line (stderr, still writable), then the one error line.
      assert.match(l.stderr, /^3 live sessions \(scanned 3 in [\d.]+ s\)\nsessionctl: could not write to standard output \(ENOSPC\): the report is lost\n$/)
    })
  })

  describe('one store down among several', () => {
    it('purge: the reachable store is purged, the other named, exit 4; list likewise', async () => {
      await seed(2)
      const down = `mysql://root@127.0.0.1:${await freePort()}/nowhere`
      const r = await sessionctl([...purge('--yes'), '--store', down, '--connect-timeout', '2'])
      assert.equal(r.code, 4, r.stderr)
      assert.match(r.stdout, /Deleted 2 sessions of user 42/)
      assert.match(r.stderr, /127\.0\.0\.1:\d+\/nowhere/)
      assert.equal(await count("session_key LIKE 'a%'"), 0)
      const l = await sessionctl(['sessions', 'list', '--store', db.url, '--store', down, '--user', '7', '--connect-timeout', '2'])
      assert.equal(l.code, 4, l.stderr)
      assert.match(l.stderr, /3 live sessions of user 7/)
    })

    it('a malformed URL among several: exit 2 before any store connects (the first one included)', async () => {
      await seed(2)
      const connections = async (): Promise<number> => {
        const [rows] = await db.conn.query("SHOW GLOBAL STATUS LIKE 'Connections'")
        return Number((rows as Array<{Value: string}>)[0].Value)
      }

      const before = await connections()
      const r = await sessionctl([...purge('--yes'), '--store', 'redis://cache:0/0'])
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, /^sessionctl: invalid store URL "redis:\/\/cache:0\/0": invalid port "0"/)
      assert.equal(await connections(), before, 'no connection was made to the first store')
      assert.equal(await count(), 5)
    })

    it('cleanup: the audit line counts what was deleted and claims no total for the store that failed', async () => {
      await seed(1, 4)
      const log = join(dir, 'audit.jsonl')
      const down = `mysql://root@127.0.0.1:${await freePort()}/nowhere`
      const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--store', down, '--connect-timeout', '2', '--audit-log', log])
      assert.equal(r.code, 4, r.stderr)
      const finished = auditLines(log).at(-1)!
      assert.equal(finished.deleted, 4)
      assert.equal(finished.matched, undefined)
      assert.equal(finished.outcome, 'partial')
    })
  })

  describe('on a terminal, a signal at the confirmation prompt answers "no"', () => {
    for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
      it(`${signal}: exit 3, nothing deleted`, async () => {
        await seed(2)
        const r = await onTerminal(purge(), {signal, waitFor: /Delete 2 sessions/})
        assert.ok(r.answered, r.output)
        assert.equal(r.exitCode, 3, r.output)
        assert.equal(await count(), 5)
      })
    }
  })

  describe('flags that mean nothing where given are refused (exit 2, nothing touched)', () => {
    const cases: Array<[string, () => string[]]> = [
      ['--prefix on MySQL', () => ['sessions', 'purge', '--store', db.url, '--user', '42', '--yes', '--prefix', 'sess:']],
      ['--table on Redis', () => ['sessions', 'purge', '--store', testRedisUrl(), '--user', '42', '--yes', '--table', 'x']],
      ['--time-zone on Redis', () => ['sessions', 'list', '--store', testRedisUrl(), '--time-zone', 'Europe/Paris']],
      ['--time-zone on an express-mysql-session table (Unix seconds)', () => ['sessions', 'list', '--store', db.url, '-f', 'express', '--time-zone', 'Europe/Paris']],
      ['--salt for express', () => ['sessions', 'list', '--store', db.url, '-f', 'express', '--salt', 'x']],
      ['--salt ""', () => ['sessions', 'purge', '--store', db.url, '--user', '42', '--yes', '--salt', '']],
      ['--fix-no-ttl on MySQL', () => ['sessions', 'cleanup', '--store', db.url, '--fix-no-ttl']],
      ['--workers on a Redis cleanup', () => ['sessions', 'cleanup', '--store', testRedisUrl(), '--workers', '2']],
      ['--batch-size on a Redis cleanup', () => ['sessions', 'cleanup', '--store', testRedisUrl(), '--batch-size', '10']],
      ['--target-ms on a Redis cleanup', () => ['sessions', 'cleanup', '--store', testRedisUrl(), '--target-ms', '50']],
      ['--batch-size on list', () => ['sessions', 'list', '--store', db.url, '--batch-size', '10']],
      ['--sleep beyond an hour', () => ['sessions', 'cleanup', '--store', db.url, '--sleep', '3000000000']],
      ['--user with an escape sequence', () => ['sessions', 'purge', '--store', db.url, '--user', '42\u001B[2J', '--yes']],
      ['--user with a bidi override', () => ['sessions', 'purge', '--store', db.url, '--user', '\u202E24', '--yes']],
    ]
    for (const [what, args] of cases) {
      it(what, async () => {
        await seed(2, 2)
        const r = await sessionctl(args())
        assert.equal(r.code, 2, r.stderr)
        assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr)
        // eslint-disable-next-line no-control-regex
        assert.doesNotMatch(r.stderr, /[\u001B\u202E]/, 'no raw control character reaches the terminal')
        assert.equal(await count(), 7)
      })
    }

    it('--workers on a cleanup of MySQL and Redis stores applies to the MySQL one: accepted', async () => {
      await seed(1)
      const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--store', testRedisUrl(), '--workers', '1', '--dry-run'])
      assert.equal(r.code, 0, r.stderr)
    })

    it('--table given for a profile of MySQL and Redis stores applies to the MySQL one: accepted', async () => {
      await seed(1)
      const r = await sessionctl(['sessions', 'list', '--store', db.url, '--store', testRedisUrl(), '--table', 'django_session', '--user', '42'])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stderr, /1 live session of user 42/)
    })
  })

  describe('unknown commands', () => {
    it('one line with the commands there are, spaces not colons, exit 2; JSON under --json', async () => {
      const r = await sessionctl(['sesions', 'list'])
      assert.equal(r.code, 2, r.stderr)
      // every command the source tree holds, and oclif's help, autocomplete and version, in order:
      // a new command cannot be missing from the hint
      const ours = readdirSync(fileURLToPath(new URL('../../src/commands/sessions', import.meta.url)))
      .filter(f => f.endsWith('.ts')).map(f => `sessions ${f.slice(0, -3)}`)
      const commands = [...ours, 'autocomplete', 'help', 'version'].sort()
      assert.ok(commands.length >= 10 && commands.includes('sessions revoke'), commands.join(', '))
      assert.equal(r.stderr, `sessionctl: unknown command "sesions list". Did you mean sessions list? The commands are ${commands.join(', ')} (see sessionctl --help)\n`)
      const j = await sessionctl(['sessions', 'nosuch', '--json'])
      assert.equal(j.code, 2)
      assert.equal((JSON.parse(j.stdout) as {error: {exitCode: number}}).error.exitCode, 2)
      assert.equal(j.stderr, '')
    })
  })
})
