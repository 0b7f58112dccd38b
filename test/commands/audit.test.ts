/**
 * The audit trail of deleting runs (--audit-log, $SESSIONCTL_AUDIT_LOG, a profile's auditLog) and
 * the --max-sessions guard, as an operator meets them: the built binary against real MariaDB.
 * A line per purge/cleanup that deletes, none for a dry run, never a raw key or a password, written
 * also when the run fails midway or is stopped; a trail that cannot be written stops the run first.
 */
import mysql from 'mysql2/promise'
import assert from 'node:assert/strict'
import {
  existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync,
} from 'node:fs'
import {hostname, tmpdir, userInfo} from 'node:os'
import {join} from 'node:path'

import {fingerprint} from '../../src/sessions/keys.js'
import {type CliResult, sessionctl, startSessionctl} from '../support/cli.js'
import {encodeSigned} from '../support/django-encode.js'
import {djangoSessionDdl, freshDatabase, seededKey as rawKey} from '../support/mysql.js'
import {createMysqlUser} from '../support/servers.js'

const SECRET = 'audit-secret-key-never-logged'
const PASSWORD = 'Aud1t-Pa55word!'
const ENV = {env: {DJANGO_SECRET_KEY: SECRET}}

interface AuditLine {
  [field: string]: unknown
  changed?: number
  command: string
  deleted: number
  durationMs: number
  error?: string
  exitCode: number
  filters: Record<string, unknown>
  gone?: number
  host: string
  keys?: string[]
  matched?: number
  osUser: string
  outcome: string
  pid: number
  reason: null | string
  stores: string[]
  time: string
  user: null | string
}

/** Keys a00000001zzz… (32 characters): the prefix says whose and which state. */
const keySql = (prefix: string): string => `CONCAT('${prefix}', LPAD(seq, 8, '0'), REPEAT('z', 23))`

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => {
    setTimeout(resolve, ms)
  })
}

describe('audit log and --max-sessions (built binary, MariaDB)', function () {
  this.timeout(120_000)
  let admin: mysql.Connection
  let database: string
  /** The tool's URL: a user with a password, which must never reach the audit log. */
  let url: string
  let dir: string

  /** User 42: `live` live (a…) and `expired` expired (x…) sessions; user 7: 5 live (b…) and 5 expired (e…). */
  async function seed(live: number, expired = 0): Promise<void> {
    await admin.query('TRUNCATE TABLE django_session')
    const value = (user: string): string => encodeSigned({_auth_user_id: user}, {secretKey: SECRET})
    const insert = async (prefix: string, user: string, n: number, when: string): Promise<void> => {
      if (n === 0) return
      await admin.query(`INSERT INTO django_session SELECT ${keySql(prefix)}, ?, ${when} FROM seq_1_to_${n}`, [value(user)])
    }

    await insert('a', '42', live, 'UTC_TIMESTAMP(6) + INTERVAL 1 DAY + INTERVAL seq SECOND')
    await insert('x', '42', expired, 'UTC_TIMESTAMP(6) - INTERVAL 1 HOUR - INTERVAL seq SECOND')
    await insert('b', '7', 5, 'UTC_TIMESTAMP(6) + INTERVAL 1 DAY')
    await insert('e', '7', 5, 'UTC_TIMESTAMP(6) - INTERVAL 1 DAY')
  }

  async function count(where: string): Promise<number> {
    const [rows] = await admin.query(`SELECT COUNT(*) AS n FROM django_session WHERE ${where}`)
    return Number((rows as Array<{n: number}>)[0].n)
  }

  /** Every line of the file, each parsed (a line that is not JSON fails the test). */
  function lines(path: string): AuditLine[] {
    const text = readFileSync(path, 'utf8')
    assert.ok(text.endsWith('\n'), 'each line ends with a newline')
    return text.slice(0, -1).split('\n').map(l => JSON.parse(l) as AuditLine)
  }

  /**
   * The one run in `path`: its `finished` line, after its `started` line when it began deleting,
   * with no secret of any kind in the file.
   */
  function onlyLine(path: string): AuditLine {
    const text = readFileSync(path, 'utf8')
    for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), SECRET]) assert.ok(!text.includes(secret), `no secret in the audit log: ${text}`)
    assert.doesNotMatch(text, /[abex]\d{8}z{23}/, 'no raw session key in the audit log')
    const all = lines(path)
    const finished = all.at(-1)!
    assert.equal(finished.event, 'finished', text)
    assert.ok(all.length === 1 || (all.length === 2 && all[0].event === 'started' && all[0].run === finished.run), text)
    return finished
  }

  const purge = (...extra: string[]): string[] => ['sessions', 'purge', '--store', url, '--user', '42', '--yes', ...extra]
  const storeLabel = (): string => `mysql://ops:****@${new URL(url).host}/${database} (table ${database}.django_session)`

  before(async () => {
    const db = await freshDatabase()
    admin = db.conn
    database = db.database
    await admin.query(djangoSessionDdl('django_session'))
    url = await createMysqlUser(db.url, {database, password: PASSWORD, user: 'ops'})
  })

  after(async () => {
    await admin?.end()
  })

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sessionctl-audit-'))
  })

  afterEach(() => {
    rmSync(dir, {force: true, recursive: true})
  })

  describe('purge', () => {
    it('--yes appends exactly one JSON line with who, where, why, what and how it ended; keys masked even with --show-keys', async () => {
      await seed(3, 1)
      const log = join(dir, 'audit.jsonl')
      const r = await sessionctl(
        purge('--audit-log', log, '--reason', 'INC-1234: account taken over', '--show-keys', '--except', rawKey('a', 2)),
        ENV,
      )
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /Deleted 3 sessions of user 42\./)
      assert.ok(r.stdout.includes(rawKey('a', 1)), '--show-keys still shows raw keys on the terminal')
      assert.equal(statSync(log).mode.toString(8).slice(-3), '600', 'created readable by its owner only')
      const line = onlyLine(log)
      assert.equal(line.command, 'sessions purge')
      assert.equal(line.outcome, 'ok')
      assert.equal(line.exitCode, 0)
      assert.equal(line.osUser, userInfo().username)
      assert.equal(line.host, hostname())
      assert.equal(typeof line.pid, 'number')
      assert.equal(line.reason, 'INC-1234: account taken over')
      assert.deepEqual(line.stores, [storeLabel()])
      assert.equal(line.user, '42')
      assert.deepEqual(line.filters, {except: [fingerprint(rawKey('a', 2))], expiredOnly: false})
      assert.equal(line.matched, 3, 'the sessions selected for deletion')
      assert.equal(line.kept, 1, 'the one kept by --except')
      assert.equal(line.deleted, 3)
      assert.equal(line.changed, 0)
      assert.equal(line.gone, 0)
      assert.deepEqual(
        [...line.keys!].sort(),
        [rawKey('a', 1), rawKey('a', 3), rawKey('x', 1)].map(k => fingerprint(k)).sort(),
      )
      assert.ok(line.durationMs >= 0 && line.durationMs < 60_000, String(line.durationMs))
      assert.ok(Math.abs(Date.parse(line.time) - Date.now()) < 60_000, line.time)
      assert.equal(line.error, undefined)
      assert.equal(await count("session_key LIKE 'a%' OR session_key LIKE 'x%'"), 1, 'only the --except session is left')
    })

    it('appends to an existing log (never truncates it); a purge that matched nothing is a line too', async () => {
      await seed(2)
      const log = join(dir, 'audit.jsonl')
      writeFileSync(log, '{"earlier":"line"}\n', {mode: 0o640})
      const first = await sessionctl(purge('--audit-log', log), ENV)
      assert.equal(first.code, 0, first.stderr)
      const again = await sessionctl(purge('--expired-only'), {env: {...ENV.env, SESSIONCTL_AUDIT_LOG: log}})
      assert.equal(again.code, 0, again.stderr)
      const all = lines(log)
      assert.deepEqual(all.map(l => l.event), [undefined, 'started', 'finished', 'finished'], 'no `started` line for a run that deleted nothing')
      assert.deepEqual(all[0], {earlier: 'line'})
      assert.equal(all[1].run, all[2].run)
      assert.equal(all[1].selected, 2)
      assert.equal(all[2].deleted, 2)
      assert.equal(all[2].reason, null)
      assert.equal(all[3].deleted, 0)
      assert.deepEqual(all[3].filters, {except: [], expiredOnly: true})
      assert.equal(statSync(log).mode.toString(8).slice(-3), '640', 'an existing file keeps its mode')
    })

    it('--dry-run writes no line and creates no file', async () => {
      await seed(2)
      const log = join(dir, 'audit.jsonl')
      const r = await sessionctl(purge('--audit-log', log, '--dry-run', '--reason', 'just looking'), ENV)
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /Dry run: would delete 2 sessions/)
      assert.equal(existsSync(log), false)
      assert.equal(await count("session_key LIKE 'a%'"), 2)
    })

    for (const [what, path] of [
      ['a directory', (d: string) => d],
      ['a file in a missing directory', (d: string) => join(d, 'missing', 'audit.jsonl')],
    ] as const) {
      it(`an audit log that cannot be opened (${what}): one-line error, exit 1, nothing deleted`, async () => {
        await seed(3)
        const r = await sessionctl(purge('--audit-log', path(dir)), ENV)
        assert.equal(r.code, 1, r.stderr)
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
        assert.match(r.stderr, /^sessionctl: cannot open the audit log .* for appending \((EISDIR|ENOENT)\); nothing was deleted\n$/)
        assert.equal(await count("session_key LIKE 'a%'"), 3)
      })
    }

    it('--reason "" is a usage error (exit 2), nothing deleted, no line', async () => {
      await seed(1)
      const log = join(dir, 'audit.jsonl')
      const r = await sessionctl(purge('--audit-log', log, '--reason', ' '), ENV)
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, /--reason must not be empty/)
      assert.equal(existsSync(log), false)
      assert.equal(await count("session_key LIKE 'a%'"), 1)
    })

    it('a profile’s auditLog (relative to the config file) is used; --audit-log replaces it', async () => {
      await seed(2)
      const conf = join(dir, 'etc')
      mkdirSync(conf)
      const config = join(conf, 'sessionctl.json')
      writeFileSync(config, JSON.stringify({
        profiles: {
          db: {auditLog: 'db-audit.jsonl', store: url.replace(`:${encodeURIComponent(PASSWORD)}@`, '@'), passwordEnv: 'AUDIT_DB_PASSWORD'},
          prod: {auditLog: 'prod-audit.jsonl', stores: ['db']},
        },
      }))
      const env = {...ENV.env, AUDIT_DB_PASSWORD: PASSWORD, SESSIONCTL_CONFIG: config}
      const viaProfile = await sessionctl(['sessions', 'purge', '--store', 'prod', '--user', '42', '--yes', '--expired-only'], {env})
      assert.equal(viaProfile.code, 0, viaProfile.stderr)
      const line = onlyLine(join(conf, 'db-audit.jsonl'))
      assert.deepEqual(line.stores, [storeLabel()])
      assert.equal(line.deleted, 0)

      const flag = join(dir, 'flag.jsonl')
      const viaFlag = await sessionctl(['sessions', 'purge', '--store', 'db', '--user', '42', '--yes', '--audit-log', flag], {env})
      assert.equal(viaFlag.code, 0, viaFlag.stderr)
      assert.equal(onlyLine(flag).deleted, 2)
      assert.equal(lines(join(conf, 'db-audit.jsonl')).length, 1, 'the flag replaces the profile setting')
      assert.equal(onlyLine(join(conf, 'prod-audit.jsonl')).deleted, 0, 'each profile in use gets the line')

      writeFileSync(config, JSON.stringify({profiles: {db: {auditLog: '', store: url}}}))
      const empty = await sessionctl(['sessions', 'purge', '--store', 'db', '--user', '42', '--yes'], {env})
      assert.equal(empty.code, 2, empty.stderr)
      assert.match(empty.stderr, /"auditLog" must not be empty/)
    })

    it('--max-sessions refuses a larger selection: exit 3, one line saying how many, nothing deleted, a "refused" line', async () => {
      await seed(7)
      const log = join(dir, 'audit.jsonl')
      const r = await sessionctl(purge('--audit-log', log, '--max-sessions', '6', '--reason', 'cleanup script'), ENV)
      assert.equal(r.code, 3, r.stderr)
      // The table's summary line (on stderr, not in the sessions' output), then the one error line.
      assert.match(r.stderr, /^7 sessions of user 42 selected \(scanned 17 in [\d.]+ s\)\nsessionctl: refusing to purge: 7 sessions of user 42 selected, more than --max-sessions 6; nothing was deleted\n$/)
      assert.equal(await count("session_key LIKE 'a%'"), 7)
      const line = onlyLine(log)
      assert.equal(line.outcome, 'refused')
      assert.equal(line.exitCode, 3)
      assert.equal(line.deleted, 0)
      assert.equal(line.matched, 7)
      assert.match(line.error!, /more than --max-sessions 6/)

      const dry = await sessionctl(purge('--max-sessions', '6', '--dry-run'), ENV)
      assert.equal(dry.code, 3, 'a dry run says the guard would refuse')
      const exact = await sessionctl(purge('--max-sessions', '7'), ENV)
      assert.equal(exact.code, 0, exact.stderr)
      assert.equal(await count("session_key LIKE 'a%'"), 0)
    })

    it('a store that refuses the deletes: exit 1, a "failed" line with the count (0) and the error, no password', async () => {
      await seed(3)
      const readOnly = new URL(url)
      readOnly.username = 'audit_ro'
      await admin.query("DROP USER IF EXISTS 'audit_ro'@'%'")
      await admin.query("CREATE USER 'audit_ro'@'%' IDENTIFIED BY ?", [PASSWORD])
      await admin.query(`GRANT SELECT ON \`${database}\`.* TO 'audit_ro'@'%'`)
      const log = join(dir, 'audit.jsonl')
      const r = await sessionctl(['sessions', 'purge', '--store', readOnly.toString(), '--user', '42', '--yes', '--audit-log', log], ENV)
      assert.equal(r.code, 1, r.stderr)
      const line = onlyLine(log)
      assert.equal(line.outcome, 'failed')
      assert.equal(line.deleted, 0)
      assert.equal(line.matched, 3)
      assert.match(line.error!, /denied/)
      assert.ok(!line.error!.includes('\n'))
      assert.equal(await count("session_key LIKE 'a%'"), 3)
    })

    describe('interrupted midway (20,000 sessions, batches of 20)', () => {
      const PURGED = 20_000
      const underWay = async (): Promise<boolean> => (await count("session_key LIKE 'a%'")) < PURGED - 500

      async function waitFor(probe: () => Promise<boolean>): Promise<void> {
        const deadline = Date.now() + 30_000
        while (!(await probe().catch(() => false))) {
          if (Date.now() > deadline) throw new Error('timed out waiting for the purge to delete 500 sessions')
          await sleep(5)
        }
      }

      it('the connection killed: exit 4, a "partial" line with the count the tool reported', async () => {
        await seed(PURGED)
        const log = join(dir, 'audit.jsonl')
        const run = sessionctl(purge('--audit-log', log, '--batch-size', '20'), ENV)
        await waitFor(underWay)
        const [rows] = await admin.query("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = 'ops'")
        for (const {id} of rows as Array<{id: number}>) await admin.query(`KILL CONNECTION ${Number(id)}`).catch(() => {})
        const r: CliResult = await run
        assert.equal(r.code, 4, r.stderr)
        const reported = Number(/; ([\d,]+) of 20,000 sessions were deleted before the failure/.exec(r.stderr)![1].replaceAll(',', ''))
        const line = onlyLine(log)
        assert.equal(line.outcome, 'partial')
        assert.equal(line.exitCode, 4)
        assert.equal(line.matched, PURGED)
        assert.equal(line.deleted, reported)
        assert.ok(reported >= 500 && reported < PURGED, String(reported))
        assert.equal(line.keys!.length, 10_000, 'at most 10,000 fingerprints')
        assert.equal(line.keysOmitted, PURGED - 10_000)
        assert.match(line.error!, /connection/)
        const left = await count("session_key LIKE 'a%'")
        assert.ok(PURGED - left >= reported && PURGED - left <= reported + 20, `left ${left}, reported ${reported}`)
      })

      it('SIGTERM: exit 6, a "stopped" line with what was deleted before', async () => {
        await seed(PURGED)
        const log = join(dir, 'audit.jsonl')
        const run = startSessionctl(purge('--audit-log', log, '--batch-size', '20'), ENV)
        await waitFor(underWay)
        run.kill('SIGTERM')
        const r = await run
        assert.equal(r.code, 6, r.stderr)
        const reported = Number(/\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ Deleted ([\d,]+) sessions of user 42\.\n/.exec(r.stdout)![1].replaceAll(',', ''))
        const line = onlyLine(log)
        assert.equal(line.outcome, 'stopped')
        assert.equal(line.deleted, reported)
        assert.match(line.error!, /stopped by SIGTERM/)
        assert.equal(await count("session_key LIKE 'a%'"), PURGED - reported)
      })

      it('a second SIGTERM (immediate exit): still a "stopped" line, counting the batches done before', async () => {
        await seed(PURGED)
        // Rows a00010001…a00010010 held by another transaction: the batch after the first 10,000 waits on them.
        const locker = await mysql.createConnection({uri: url})
        try {
          await locker.beginTransaction()
          await locker.query("SELECT session_key FROM django_session WHERE session_key BETWEEN 'a00010001' AND 'a00010010zz' FOR UPDATE")
          const log = join(dir, 'audit.jsonl')
          const run = startSessionctl(purge('--audit-log', log, '--batch-size', '20'), ENV)
          await waitFor(async () => (await count("session_key LIKE 'a%'")) === PURGED - 10_000)
          run.kill('SIGTERM')
          // The first one waits for the blocked batch; the second exits at once.
          await sleep(300)
          run.kill('SIGTERM')
          const r = await run
          assert.equal(r.code, 130, r.stderr)
          const line = onlyLine(log)
          assert.equal(line.outcome, 'stopped')
          assert.equal(line.exitCode, 130)
          assert.match(line.error!, /second signal/)
          assert.equal(line.deleted, 10_000)
          await locker.rollback()
          assert.equal(await count("session_key LIKE 'a%'"), PURGED - 10_000, 'the blocked batch did not commit')
        } finally {
          await locker.end().catch(() => {})
        }
      })
    })
  })

  describe('cleanup', () => {
    const cleanup = (...extra: string[]): string[] => ['sessions', 'cleanup', '--store', url, ...extra]

    it('writes one line with the count deleted and no keys; --dry-run writes none', async () => {
      await seed(2, 3)
      const log = join(dir, 'audit.jsonl')
      const dry = await sessionctl(cleanup('--audit-log', log, '--dry-run'), ENV)
      assert.equal(dry.code, 0, dry.stderr)
      assert.equal(existsSync(log), false)

      const r = await sessionctl(cleanup('--audit-log', log, '--reason', 'nightly'), ENV)
      assert.equal(r.code, 0, r.stderr)
      const line = onlyLine(log)
      assert.equal(line.command, 'sessions cleanup')
      assert.equal(line.outcome, 'ok')
      assert.equal(line.reason, 'nightly')
      assert.equal(line.user, null)
      assert.deepEqual(line.stores, [storeLabel()])
      assert.deepEqual(line.filters, {expiredOnly: true, fixNoTtl: false})
      assert.equal(line.deleted, 8)
      assert.equal(line.keys, undefined)
      assert.equal(await count('expire_date <= UTC_TIMESTAMP(6)'), 0)
      assert.equal(await count('TRUE'), 7)
    })

    it('an audit log that cannot be opened: exit 1, nothing deleted', async () => {
      await seed(0, 3)
      const r = await sessionctl(cleanup('--audit-log', dir), ENV)
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, /^sessionctl: cannot open the audit log .* for appending \(EISDIR\); nothing was deleted\n$/)
      assert.equal(await count('expire_date <= UTC_TIMESTAMP(6)'), 8)
    })
  })
})
