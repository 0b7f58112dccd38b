/**
 * PostgreSQL going away in the middle of a run, as an operator would meet it: the server killed
 * (SIGKILL) or frozen (SIGSTOP) during list, purge and cleanup, the tool's backend terminated
 * from another session (pg_terminate_backend), rows held by another transaction, and Ctrl-C
 * during a purge (once, twice). Each time the tool says in one line what went wrong and what it
 * completed, exits non-zero, has deleted nothing outside its selection, writes its audit line
 * with the count it reported, and a rerun finishes the job. Runs the built binary against a
 * server of its own (asking for passwords, as a real one does), which it kills and freezes.
 */
import type pg from 'pg'

import assert from 'node:assert/strict'
import {
  existsSync, mkdtempSync, readFileSync, rmSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {type CliResult, sessionctl, startSessionctl} from '../support/cli.js'
import {encodeSigned} from '../support/django-encode.js'
import {seededKey as key} from '../support/mysql.js'
import {
  createPgDatabase, createPgRole, djangoSessionPgDdl, pgClient, requirePasswords,
} from '../support/postgres.js'
import {type PostgresServer, startPostgres} from '../support/servers.js'

const PASSWORD = 'F4ult-Pg-Pa55word!'
const SECRET = 'pg-faults-secret-key-do-not-print'
/** User 42's live sessions (keys a…), the ones a purge selects. */
const PURGED = 10_000
/** User 7's live (b…) and expired (e…) sessions. */
const OTHERS = 5000
const EXPIRED = 5000

let failed = 0
const counters = {
  kill: 0, lock: 0, pause: 0, signal: 0, terminate: 0,
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => {
    setTimeout(resolve, ms)
  })
}

/**
 * A backend terminated (pg_terminate_backend, a fast shutdown) while it ran a statement: the
 * server's reason is in the line. One terminated while idle between statements sends it to a
 * client that is not waiting for a reply: the line then says only that the connection was lost.
 */
const TERMINATED = /^sessionctl: lost the connection to postgres:\/\/\S+ \(table public\.django_session\)(: terminating connection due to administrator command)?(;|$)/
const n = (x: number): string => x.toLocaleString('en-US')
const num = (text: string): number => Number(text.replaceAll(',', ''))
/** Where the middle of user 42's keys, and of the expired ones, begins. */
const MIDDLE_A = (PURGED / 2) + 1
const MIDDLE_E = (EXPIRED / 2) + 1
/** Ten keys in the middle of a prefix's range. */
const middle = (prefix: string, from: number): string[] => Array.from({length: 10}, (_, i) => key(prefix, from + i))

interface AuditLine {
  [field: string]: unknown
  deleted: number
  error?: string
  event: string
  exitCode: number
  outcome: string
  run: string
  selected?: number
}

describe('PostgreSQL faults in the middle of a run (built binary)', function () {
  this.timeout(180_000)
  let server: PostgresServer
  let adminUrl: string
  /** What the tool is given: a role with a password, which must never be printed. */
  let url: string
  let admin: pg.Client
  let database: string
  let dir: string
  /** This test's audit log (SESSIONCTL_AUDIT_LOG): a fresh file per test. */
  let auditLog: string
  let env: {env: Record<string, string>}

  async function connectAdmin(): Promise<void> {
    admin = await pgClient(adminUrl)
    // The server is killed under it: the error comes with the next query, not as an event.
    admin.on('error', () => {})
  }

  async function count(where: string): Promise<number> {
    const {rows} = await admin.query(`SELECT count(*) AS n FROM django_session WHERE ${where}`)
    return Number(rows[0].n)
  }

  /** Count and checksum of every row matching `where`: any row deleted or changed shows. */
  async function snapshot(where: string): Promise<string> {
    const {rows} = await admin.query(`SELECT count(*) AS n, md5(string_agg(session_key || session_data || expire_date::text, '|' ORDER BY session_key)) AS h FROM django_session WHERE ${where}`)
    return `${rows[0].n} rows, checksum ${rows[0].h}`
  }

  /**
   * User 42's a… rows, user 7's live b… and expired e… rows, interleaved in the heap (a, a, b, e,
   * …) so that a cleanup's page walk meets expired rows all along, in many batches.
   */
  async function seed(): Promise<void> {
    await admin.query('TRUNCATE TABLE django_session')
    const value = (user: string): string => encodeSigned({_auth_user_id: user, _auth_user_backend: 'django.contrib.auth.backends.ModelBackend'}, {secretKey: SECRET})
    const rows = (prefix: string, data: string, count: number, expiry: string, order: string): string =>
      `SELECT '${prefix}' || lpad(g::text, 8, '0') || repeat('z', 23) AS k, ${data} AS d, ${expiry} AS x, ${order} AS o FROM generate_series(1, ${count}) g`
    await admin.query(
      `INSERT INTO django_session SELECT k, d, x FROM (
        ${rows('a', '$1', PURGED, "now() + interval '1 day' + g * interval '1 second'", 'g::float8')}
        UNION ALL ${rows('b', '$2', OTHERS, "now() + interval '1 day' + g * interval '1 second'", `g * ${PURGED / OTHERS}.0 + 0.5`)}
        UNION ALL ${rows('e', '$2', EXPIRED, "now() - interval '1 hour' - g * interval '1 second'", `g * ${PURGED / EXPIRED}.0 + 0.7`)}
      ) s ORDER BY o`,
      [value('42'), value('7')],
    )
  }

  /**
   * Polls `probe` every few ms until it is true (the tool is visibly under way); fails with the
   * tool's output if `run` ends first.
   */
  async function waitFor(probe: () => Promise<boolean>, what: string, run?: Promise<CliResult>, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    let ended: CliResult | undefined
    run?.then(r => {
      ended = r
    })
    while (!(await probe().catch(() => false))) {
      if (ended) throw new Error(`the tool ended (exit ${ended.code}) before ${what}: ${ended.stderr}`)
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await sleep(5)
    }
  }

  /** The last stderr line: one clear line naming the store, no password, no session key. */
  function failure(r: CliResult): string {
    const lines = r.stderr.trim().split('\n')
    const last = lines.at(-1)!
    assert.match(last, /^sessionctl: /, r.stderr)
    assert.ok(last.includes(`postgres://ops:****@127.0.0.1:${server.port}/${database} (table public.django_session)`), `names the store: ${last}`)
    for (const text of [r.stderr, r.stdout]) {
      assert.ok(!text.includes(PASSWORD) && !text.includes(encodeURIComponent(PASSWORD)), 'the password is never printed')
      assert.ok(!text.includes(SECRET), 'the secret key is never printed')
    }

    assert.doesNotMatch(r.stderr, /[abe]\d{8}z{23}/, 'no session key on stderr')
    assert.ok(!/\n\s+at /.test(r.stderr), `no stack trace: ${r.stderr}`)
    return last
  }

  /** This test's audit log: its lines, none with a secret or a raw key. */
  function audit(): AuditLine[] {
    const text = readFileSync(auditLog, 'utf8')
    for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), SECRET]) assert.ok(!text.includes(secret), `no secret in the audit log: ${text}`)
    assert.doesNotMatch(text, /[abe]\d{8}z{23}/, 'no raw session key in the audit log')
    return text.trim().split('\n').map(l => JSON.parse(l) as AuditLine)
  }

  /** The one run in the audit log: `started` (with what it selected), then `finished` as `outcome` with `deleted`. */
  function audited(o: {deleted: number; error?: RegExp | string; exitCode: number; outcome: string; selected?: number}): AuditLine {
    const lines = audit()
    assert.deepEqual(lines.map(l => l.event), ['started', 'finished'], JSON.stringify(lines))
    const [started, finished] = lines
    assert.equal(started.run, finished.run)
    if (o.selected !== undefined) assert.equal(started.selected, o.selected)
    assert.equal(finished.outcome, o.outcome)
    assert.equal(finished.exitCode, o.exitCode)
    assert.equal(finished.deleted, o.deleted, 'the line counts what the tool reported')
    if (typeof o.error === 'string') assert.equal(finished.error, o.error, 'the audit line has the error the operator saw')
    else if (o.error) assert.match(finished.error ?? '', o.error)
    assert.ok(!(finished.error ?? '').includes('\n'))
    return finished
  }

  const purgeArgs = (batch: number): string[] => ['sessions', 'purge', '--store', url, '--user', '42', '--yes', '--batch-size', String(batch)]

  before(async () => {
    server = await startPostgres()
    await requirePasswords(server)
    adminUrl = await createPgDatabase(server.url)
    database = new URL(adminUrl).pathname.slice(1)
    await connectAdmin()
    await admin.query(djangoSessionPgDdl('django_session'))
    url = await createPgRole(adminUrl, {grants: ['GRANT SELECT, INSERT, UPDATE, DELETE ON django_session TO ops'], password: PASSWORD, user: 'ops'})
  })

  after(async () => {
    await admin?.end().catch(() => {})
    await server?.stop()
    const injected = Object.values(counters).reduce((a, b) => a + b, 0)
    const kinds = Object.entries(counters).map(([kind, k]) => `${kind} ${k}`).join(', ')
    const outcome = failed === 0 ? 'reruns finished the job' : `${failed} cases FAILED`
    console.log(`      faults: ${injected} injected (${kinds}), ${outcome}`)
  })

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sessionctl-pg-faults-'))
    auditLog = join(dir, 'audit.jsonl')
    env = {env: {DJANGO_SECRET_KEY: SECRET, SESSIONCTL_AUDIT_LOG: auditLog}}
    await seed()
  })

  afterEach(function () {
    rmSync(dir, {force: true, recursive: true})
    if (this.currentTest?.state !== 'passed') failed++
  })

  /** SIGKILL the server (every process of it), restart it on the same port, reconnect the test's own client. */
  async function crashAndRestart(): Promise<void> {
    await server.kill('SIGKILL')
    counters.kill++
    await admin.end().catch(() => {})
    await server.restart()
    await connectAdmin()
  }

  const USER_42 = "session_key LIKE 'a%'"
  const NOT_USER_42 = "session_key NOT LIKE 'a%'"
  const EXPIRED_ROWS = "session_key LIKE 'e%'"
  const LIVE_ROWS = "session_key NOT LIKE 'e%'"
  const listArgs = (): string[] => ['sessions', 'list', '--store', url, '--user', '7', '--all']
  const cleanupArgs = (): string[] => ['sessions', 'cleanup', '--store', url, '--batch-size', '50', '--target-ms', '5', '--sleep', '20']

  /** The tool's scan is running on the server. */
  async function scanning(): Promise<boolean> {
    const {rows} = await admin.query("SELECT 1 FROM pg_stat_activity WHERE usename = 'ops' AND query LIKE 'SELECT s.\"session_key\"%'")
    return rows.length > 0
  }

  /**
   * The tool's backends are gone from the server. A statement it sent before failing may still
   * run (a backend notices a closed socket only when it next reads), so counts wait for this.
   */
  async function settled(): Promise<void> {
    await waitFor(async () => {
      const {rows} = await admin.query("SELECT 1 FROM pg_stat_activity WHERE usename = 'ops'")
      return rows.length === 0
    }, 'the tool\'s backends to exit')
  }

  /** The tool's backend waits for a lock another transaction holds. */
  async function blocked(): Promise<boolean> {
    const {rows} = await admin.query("SELECT 1 FROM pg_stat_activity WHERE usename = 'ops' AND wait_event_type = 'Lock'")
    return rows.length > 0
  }

  /** Waits until the purge `run` is blocked on the held rows; returns how many of user 42's sessions it had deleted (whole batches of `batch`). */
  async function purgeBlocked(run: Promise<CliResult>, batch: number): Promise<number> {
    await waitFor(blocked, 'the purge to reach the held rows', run)
    const gone = PURGED - await count(USER_42)
    assert.ok(gone >= batch && gone % batch === 0, `${gone} deleted before the held rows, in batches of ${batch}`)
    return gone
  }

  const purgeUnderWay = async (): Promise<boolean> => (await count(USER_42)) < PURGED - 500
  const cleanupUnderWay = async (): Promise<boolean> => (await count(EXPIRED_ROWS)) < EXPIRED - 300

  /** A failed purge: exit 4, the count deleted before the failure on stderr and stdout, and in the audit line. */
  function partialPurge(r: CliResult, cause: RegExp): number {
    assert.equal(r.code, 4, r.stderr)
    const line = failure(r)
    const m = new RegExp(`; ([\\d,]+) of ${n(PURGED)} sessions were deleted before the failure, the rest are intact: rerun to finish$`).exec(line)
    assert.ok(m, line)
    assert.match(line, cause)
    assert.match(r.stdout, new RegExp(`\\n\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ Deleted ${m[1]} sessions? of user 42\\.\\n`))
    audited({
      deleted: num(m[1]), error: line.replace(/^sessionctl: /, ''), exitCode: 4, outcome: 'partial', selected: PURGED,
    })
    return num(m[1])
  }

  /** After a purge that failed having reported `reported`: the count is honest, a rerun finishes. */
  async function purgeFinishes(reported: number, outside: string, batch: number): Promise<void> {
    await settled()
    const left = await count(USER_42)
    // A batch the server committed but could not acknowledge is counted short, never long.
    assert.ok(PURGED - left >= reported && PURGED - left <= reported + batch, `left ${left}, reported ${reported}`)
    assert.equal(await snapshot(NOT_USER_42), outside, 'no row outside the selection was touched')
    const again = await sessionctl(purgeArgs(500), env)
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, new RegExp(`\\n\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ Deleted ${n(left)} sessions? of user 42\\.\\n`))
    assert.equal(await count(USER_42), 0)
    assert.equal(await snapshot(NOT_USER_42), outside)
  }

  /** A failed cleanup: exit 4 with the count (in the audit line too); a rerun deletes the rest and no live row. */
  async function cleanupFinishes(r: CliResult, cause: RegExp, live: string): Promise<void> {
    assert.equal(r.code, 4, r.stderr)
    const line = failure(r)
    const m = new RegExp(`; ([\\d,]+) of ${n(EXPIRED)} sessions were deleted before the failure, the rest are intact: rerun to finish$`).exec(line)
    assert.ok(m, line)
    assert.match(line, cause)
    const reported = num(m[1])
    audited({
      deleted: reported, error: line.replace(/^sessionctl: /, ''), exitCode: 4, outcome: 'partial',
    })
    await settled()
    const left = await count(EXPIRED_ROWS)
    assert.ok(EXPIRED - left >= reported && left > 0, `left ${left}, reported ${reported}`)
    assert.equal(await snapshot(LIVE_ROWS), live, 'no live session was touched')
    const again = await sessionctl(cleanupArgs(), env)
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, new RegExp(`: deleted ${n(left)} expired sessions? in `))
    assert.equal(await count(EXPIRED_ROWS), 0)
    assert.equal(await snapshot(LIVE_ROWS), live)
  }

  describe('the server killed (SIGKILL) and restarted', () => {
    it('during list: one line, exit 1, nothing deleted; a rerun lists everything', async () => {
      const before = await snapshot('TRUE')
      const run = sessionctl(listArgs(), env)
      await waitFor(scanning, 'the scan', run)
      await crashAndRestart()
      const r = await run
      assert.equal(r.code, 1, r.stderr)
      assert.match(failure(r), /^sessionctl: lost the connection to postgres:/)
      assert.equal(await snapshot('TRUE'), before)
      const again = await sessionctl(listArgs(), env)
      assert.equal(again.code, 0, again.stderr)
      assert.match(again.stderr, new RegExp(`\\b${n(OTHERS + EXPIRED)} sessions of user 7\\b`))
    })

    it('during a purge\'s selection (its scan): exit 1, nothing deleted, a "failed" audit line', async () => {
      const before = await snapshot('TRUE')
      const run = sessionctl(purgeArgs(20), env)
      await waitFor(scanning, 'the scan', run)
      await crashAndRestart()
      const r = await run
      assert.equal(r.code, 1, r.stderr)
      const line = failure(r)
      assert.match(line, /^sessionctl: lost the connection to postgres:/)
      assert.equal(r.stdout, '')
      const lines = audit()
      assert.deepEqual(lines.map(l => [l.event, l.outcome, l.exitCode, l.deleted]), [['finished', 'failed', 1, 0]], 'no started line: nothing was deleted')
      assert.equal(lines[0].error, line.replace(/^sessionctl: /, ''))
      assert.equal(await snapshot('TRUE'), before)
    })

    it('during purge: exit 4 with the count deleted before; nothing else touched; a rerun finishes', async () => {
      const outside = await snapshot(NOT_USER_42)
      const run = sessionctl(purgeArgs(20), env)
      await waitFor(purgeUnderWay, 'the purge to delete 500 sessions', run)
      await crashAndRestart()
      const reported = partialPurge(await run, /^sessionctl: lost the connection to postgres:/)
      assert.ok(reported >= 500 && reported < PURGED, String(reported))
      await purgeFinishes(reported, outside, 20)
    })

    it('during cleanup: exit 4 with the count deleted before; no live row touched; a rerun finishes', async () => {
      const live = await snapshot(LIVE_ROWS)
      const run = sessionctl(cleanupArgs(), env)
      await waitFor(cleanupUnderWay, 'the cleanup to delete 300 sessions', run)
      await crashAndRestart()
      await cleanupFinishes(await run, /^sessionctl: lost the connection to postgres:/, live)
    })

    it('shut down (fast shutdown, as a service restart does) during purge: exit 4 with the count; a rerun finishes', async () => {
      const outside = await snapshot(NOT_USER_42)
      const run = sessionctl(purgeArgs(20), env)
      await waitFor(purgeUnderWay, 'the purge to delete 500 sessions', run)
      await server.kill('SIGINT')
      counters.kill++
      await admin.end().catch(() => {})
      await server.restart()
      await connectAdmin()
      const reported = partialPurge(await run, TERMINATED)
      await purgeFinishes(reported, outside, 20)
    })
  })

  describe('the server frozen (SIGSTOP): no hang, a clear error within a bounded time', () => {
    /** A new connection to a frozen server is given up after 1 s (the default is 3). */
    const QUICK = ['--connect-timeout', '1']

    /** Freezes the server until `run` ends; resumes it whatever happens. */
    async function frozenUntil(run: Promise<CliResult>): Promise<CliResult> {
      server.pause()
      counters.pause++
      const paused = Date.now()
      try {
        const r = await run
        // About 5 s without a reply, then up to 1 s (--connect-timeout) to answer a new connection.
        assert.ok(Date.now() - paused < 15_000, `took ${Date.now() - paused} ms after the pause`)
        return r
      } finally {
        server.resume()
      }
    }

    it('before the tool connects: exit 1, "timed out", within --connect-timeout, for list, purge and cleanup', async () => {
      const before = await snapshot('TRUE')
      server.pause()
      counters.pause++
      try {
        for (const args of [listArgs(), purgeArgs(500), cleanupArgs()]) {
          const r = await sessionctl([...args, ...QUICK], env)
          assert.equal(r.code, 1, r.stderr)
          assert.equal(r.stdout, '')
          assert.equal(r.stderr, `sessionctl: cannot connect to 127.0.0.1:${server.port}: timed out\n`)
          assert.ok(!r.stderr.includes(PASSWORD))
          assert.ok(r.ms < 4000, `${r.ms} ms`)
        }
      } finally {
        server.resume()
      }

      assert.equal(await snapshot('TRUE'), before)
      // The stores are opened before the audit log: a run that never reached its store writes no line.
      assert.equal(existsSync(auditLog), false)
    })

    it('during list: exit 1, "stopped answering"', async () => {
      const before = await snapshot('TRUE')
      const run = sessionctl([...listArgs(), ...QUICK], env)
      await waitFor(scanning, 'the scan', run)
      const r = await frozenUntil(run)
      assert.equal(r.code, 1, r.stderr)
      assert.match(failure(r), /^sessionctl: postgres:.* stopped answering: no reply for 5 s, and no answer to a new connection$/)
      assert.equal(await snapshot('TRUE'), before)
    })

    it('during purge: exit 4 with the count deleted before; a rerun finishes', async () => {
      const outside = await snapshot(NOT_USER_42)
      const run = sessionctl([...purgeArgs(20), ...QUICK], env)
      await waitFor(purgeUnderWay, 'the purge to delete 500 sessions', run)
      const reported = partialPurge(await frozenUntil(run), /stopped answering/)
      await purgeFinishes(reported, outside, 20)
    })

    it('during cleanup: exit 4 with the count deleted before; a rerun finishes', async () => {
      const live = await snapshot(LIVE_ROWS)
      const run = sessionctl([...cleanupArgs(), ...QUICK], env)
      await waitFor(cleanupUnderWay, 'the cleanup to delete 300 sessions', run)
      await cleanupFinishes(await frozenUntil(run), /stopped answering/, live)
    })
  })

  describe('the tool\'s backend terminated from another session (pg_terminate_backend)', () => {
    async function terminateToolBackend(): Promise<void> {
      const {rows} = await admin.query("SELECT pg_terminate_backend(pid) AS done FROM (SELECT pid FROM pg_stat_activity WHERE usename = 'ops' ORDER BY backend_start LIMIT 1) b")
      assert.equal(rows.length, 1, 'the tool has a backend')
      counters.terminate++
    }

    it('mid-list: exit 1, nothing deleted', async () => {
      const before = await snapshot('TRUE')
      const run = sessionctl(listArgs(), env)
      await waitFor(scanning, 'the scan', run)
      await terminateToolBackend()
      const r = await run
      assert.equal(r.code, 1, r.stderr)
      assert.match(failure(r), TERMINATED)
      assert.equal(await snapshot('TRUE'), before)
    })

    it('mid-purge: exit 4 with the count; a rerun finishes', async () => {
      const outside = await snapshot(NOT_USER_42)
      const run = sessionctl(purgeArgs(20), env)
      await waitFor(purgeUnderWay, 'the purge to delete 500 sessions', run)
      await terminateToolBackend()
      const reported = partialPurge(await run, TERMINATED)
      await purgeFinishes(reported, outside, 20)
    })

    it('mid-cleanup: exit 4 with the count; a rerun finishes', async () => {
      const live = await snapshot(LIVE_ROWS)
      const run = sessionctl(cleanupArgs(), env)
      await waitFor(cleanupUnderWay, 'the cleanup to delete 300 sessions', run)
      await terminateToolBackend()
      await cleanupFinishes(await run, TERMINATED, live)
    })
  })

  describe('rows locked by another transaction (BEGIN; SELECT … FOR UPDATE)', () => {
    let locker: pg.Client

    beforeEach(async () => {
      locker = await pgClient(adminUrl)
      await locker.query('BEGIN')
    })

    afterEach(async () => {
      await locker.query('ROLLBACK').catch(() => {})
      await locker.end().catch(() => {})
    })

    /** Ten of the prefix's rows from `from` on, held by the open transaction. */
    async function hold(prefix: string, from: number): Promise<string[]> {
      const held = middle(prefix, from)
      await locker.query('SELECT session_key FROM django_session WHERE session_key = ANY($1) FOR UPDATE', [held])
      counters.lock++
      return held
    }

    it('purge waits at most its lock_timeout (10 s), reports exactly what it deleted, exits 4; once released a rerun finishes', async () => {
      const outside = await snapshot(NOT_USER_42)
      // Ten of user 42's sessions in the middle of the selection.
      const held = await hold('a', MIDDLE_A)
      const run = sessionctl(purgeArgs(500), env)
      const gone = await purgeBlocked(run, 500)
      const waiting = Date.now()
      const r = await run
      assert.ok(Date.now() - waiting > 9000 && Date.now() - waiting < 15_000, `waited ${Date.now() - waiting} ms`)
      const reported = partialPurge(r, /^sessionctl: a lock on postgres:.* stayed held by another transaction for 10 s \(a long transaction, or an ALTER TABLE\?\): nothing more was done;/)
      assert.equal(reported, gone)
      // The failed batch rolled back as a whole: the count is exact, the locked rows are there.
      assert.equal(await count(USER_42), PURGED - reported)
      const {rows} = await admin.query('SELECT session_key FROM django_session WHERE session_key = ANY($1)', [held])
      assert.equal(rows.length, 10)
      await locker.query('ROLLBACK')
      await purgeFinishes(reported, outside, 0)
    })

    it('purge waits for rows released within lock_timeout and deletes them: exit 0, all gone', async () => {
      const outside = await snapshot(NOT_USER_42)
      await hold('a', MIDDLE_A)
      const run = sessionctl(purgeArgs(500), env)
      await purgeBlocked(run, 500)
      await sleep(2000)
      await locker.query('ROLLBACK')
      const r = await run
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, new RegExp(`\\n\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ Deleted ${n(PURGED)} sessions of user 42\\.\\n$`))
      // Only the table's summary line on stderr.
      assert.match(r.stderr, new RegExp(`^${n(PURGED)} sessions of user 42 selected \\(scanned [\\d,]+ in [\\d.]+ s\\)\\n$`))
      audited({deleted: PURGED, exitCode: 0, outcome: 'ok'})
      assert.equal(await count(USER_42), 0)
      assert.equal(await snapshot(NOT_USER_42), outside)
    })

    it('a held row the other transaction re-writes (the app saved the session) is left and counted as changed, never deleted', async () => {
      const [rewritten] = await hold('a', MIDDLE_A)
      const run = sessionctl(purgeArgs(500), env)
      await purgeBlocked(run, 500)
      await locker.query("UPDATE django_session SET expire_date = expire_date + interval '1 hour' WHERE session_key = $1", [rewritten])
      await locker.query('COMMIT')
      const r = await run
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, new RegExp(`\\n\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ Deleted ${n(PURGED - 1)} sessions of user 42 \\(1 session changed since selection and kept\\)\\.\\n$`))
      audited({deleted: PURGED - 1, exitCode: 0, outcome: 'ok'})
      const {rows} = await admin.query(`SELECT session_key FROM django_session WHERE ${USER_42}`)
      assert.deepEqual(rows.map(row => row.session_key), [rewritten])
    })

    it('cleanup retries expired rows held past its lock_timeout (1 s), and finishes once they are released', async () => {
      const live = await snapshot(LIVE_ROWS)
      await hold('e', MIDDLE_E)
      const run = sessionctl([...cleanupArgs(), '--json'], env)
      // Held past one lock_timeout, so the cleanup has to retry.
      await sleep(3000)
      await locker.query('ROLLBACK')
      const r = await run
      assert.equal(r.code, 0, r.stderr)
      const doc = JSON.parse(r.stdout) as {deleted: number; stores: Array<{retries: number}>}
      assert.ok(doc.stores[0].retries >= 1, r.stdout)
      assert.equal(doc.deleted, EXPIRED)
      audited({deleted: EXPIRED, exitCode: 0, outcome: 'ok'})
      assert.equal(await count(EXPIRED_ROWS), 0)
      assert.equal(await snapshot(LIVE_ROWS), live)
    })

    it('cleanup gives up on rows held through all its retries: exit 4 with the count, the held rows intact; a rerun finishes', async () => {
      const live = await snapshot(LIVE_ROWS)
      const held = await hold('e', MIDDLE_E)
      const r = await sessionctl(cleanupArgs(), env)
      assert.ok(r.ms < 30_000, `${r.ms} ms`)
      const {rows} = await admin.query('SELECT session_key FROM django_session WHERE session_key = ANY($1)', [held])
      assert.equal(rows.length, 10)
      await locker.query('ROLLBACK')
      await cleanupFinishes(r, /^sessionctl: a lock on postgres:.* stayed held by another transaction/, live)
    })
  })

  describe('the table locked by another transaction (ACCESS EXCLUSIVE, as an ALTER TABLE takes)', () => {
    it('list, purge and cleanup wait at most lock_timeout (10 s), fail in one line, delete nothing', async () => {
      const before = await snapshot('TRUE')
      const locker = await pgClient(adminUrl)
      try {
        await locker.query('BEGIN')
        await locker.query('LOCK TABLE django_session IN ACCESS EXCLUSIVE MODE')
        counters.lock++
        const started = Date.now()
        const runs = await Promise.all([sessionctl(listArgs(), env), sessionctl(purgeArgs(500), env), sessionctl(cleanupArgs(), env)])
        assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`)
        for (const r of runs) {
          assert.equal(r.code, 1, r.stderr)
          assert.ok(r.ms > 9000, `${r.ms} ms`)
          assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
          assert.match(failure(r), /^sessionctl: a lock on postgres:.* stayed held by another transaction for 10 s \(a long transaction, or an ALTER TABLE\?\): nothing more was done$/)
        }

        // The purge, which failed selecting, wrote no `started` line (the cleanup writes one before it begins); both say failed, nothing deleted.
        const lines = audit()
        const finished = lines.filter(l => l.event === 'finished').map(l => [l.command, l.outcome, l.exitCode, l.deleted]).sort()
        assert.deepEqual(finished, [['sessions cleanup', 'failed', 1, 0], ['sessions purge', 'failed', 1, 0]])
        assert.deepEqual(lines.filter(l => l.event === 'started').map(l => l.command), ['sessions cleanup'])
      } finally {
        await locker.query('ROLLBACK').catch(() => {})
        await locker.end().catch(() => {})
      }

      assert.equal(await snapshot('TRUE'), before)
    })
  })

  describe('signals to sessionctl', () => {
    it('SIGINT during a purge stops after the current batch with a summary, exit 6; the audit line agrees; a rerun finishes', async () => {
      const outside = await snapshot(NOT_USER_42)
      const run = startSessionctl(purgeArgs(20), env)
      await waitFor(purgeUnderWay, 'the purge to delete 500 sessions', run)
      const signalled = Date.now()
      run.kill('SIGINT')
      counters.signal++
      const r = await run
      assert.ok(Date.now() - signalled < 5000, 'it stops promptly')
      assert.equal(r.code, 6, r.stderr)
      const m = /\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ Deleted ([\d,]+) sessions of user 42\.\n/.exec(r.stdout)
      assert.ok(m, r.stdout.slice(-500))
      assert.match(r.stderr, new RegExp(`^[\\d,]+ sessions of user 42 selected \\(scanned [\\d,]+ in [\\d.]+ s\\)\\nsessionctl: warning: stopped by SIGINT after ${m[1]} deleted sessions; rerun the same command to finish\\n$`))
      audited({
        deleted: num(m[1]), error: /stopped by SIGINT/, exitCode: 6, outcome: 'stopped', selected: PURGED,
      })
      // Stopped at a batch boundary: exactly what it reports is gone.
      await settled()
      assert.equal(await count(USER_42), PURGED - num(m[1]))
      await purgeFinishes(num(m[1]), outside, 0)
    })

    it('SIGINT during a cleanup stops its workers after their batches, exit 6, exactly the count reported gone; a rerun finishes', async () => {
      const live = await snapshot(LIVE_ROWS)
      const run = startSessionctl(cleanupArgs(), env)
      await waitFor(cleanupUnderWay, 'the cleanup to delete 300 sessions', run)
      run.kill('SIGINT')
      counters.signal++
      const r = await run
      assert.equal(r.code, 6, r.stderr)
      const m = /: deleted ([\d,]+) expired sessions in [\d,]+ batch(es)?, .*; stopped by signal\n$/.exec(r.stdout)
      assert.ok(m, r.stdout)
      assert.equal(r.stderr, `sessionctl: stopped by SIGINT after ${m[1]} deleted sessions; rerun to continue\n`)
      const reported = num(m[1])
      audited({
        deleted: reported, error: /stopped by SIGINT/, exitCode: 6, outcome: 'stopped',
      })
      await settled()
      assert.equal(await count(EXPIRED_ROWS), EXPIRED - reported, 'stopped between batches: exactly what it reports is gone')
      assert.equal(await snapshot(LIVE_ROWS), live)
      const again = await sessionctl(cleanupArgs(), env)
      assert.equal(again.code, 0, again.stderr)
      assert.match(again.stdout, new RegExp(`: deleted ${n(EXPIRED - reported)} expired sessions? in `))
      assert.equal(await count(EXPIRED_ROWS), 0)
      assert.equal(await snapshot(LIVE_ROWS), live)
    })

    it('a second SIGINT while the first waits for a blocked batch: exit 130 at once, the batch rolls back, the audit line counts what was done', async () => {
      const outside = await snapshot(NOT_USER_42)
      // Ten of user 42's rows held by another transaction: the batch that reaches them waits,
      // so the first signal is still being honoured when the second comes.
      const locker = await pgClient(adminUrl)
      try {
        await locker.query('BEGIN')
        await locker.query('SELECT session_key FROM django_session WHERE session_key = ANY($1) FOR UPDATE', [middle('a', MIDDLE_A)])
        counters.lock++
        const run = startSessionctl(purgeArgs(20), env)
        const gone = await purgeBlocked(run, 20)
        run.kill('SIGINT')
        await sleep(300)
        run.kill('SIGINT')
        counters.signal += 2
        const r = await run
        assert.equal(r.code, 130, r.stderr)
        assert.ok(!(r.stdout + r.stderr).includes(PASSWORD))
        audited({
          deleted: gone, error: /second signal/, exitCode: 130, outcome: 'stopped', selected: PURGED,
        })
        await locker.query('ROLLBACK')
        await settled()
        assert.equal(await count(USER_42), PURGED - gone, 'the blocked batch did not commit')
        await purgeFinishes(gone, outside, 0)
      } finally {
        await locker.query('ROLLBACK').catch(() => {})
        await locker.end().catch(() => {})
      }
    })

    it('sessionctl SIGKILLed mid-purge: the batch under way rolls back, the started line is there, a rerun finishes', async () => {
      const outside = await snapshot(NOT_USER_42)
      const run = startSessionctl(purgeArgs(20), env)
      await waitFor(purgeUnderWay, 'the purge to delete 500 sessions', run)
      run.kill('SIGKILL')
      counters.signal++
      const r = await run
      assert.equal(r.signal, 'SIGKILL')
      const lines = audit()
      assert.deepEqual(lines.map(l => l.event), ['started'])
      assert.equal(lines[0].selected, PURGED)
      await settled()
      // Whole batches of 20 went, never part of one.
      const gone = PURGED - await count(USER_42)
      assert.equal(gone % 20, 0, `${gone} deleted`)
      await purgeFinishes(gone, outside, 0)
    })
  })
})
