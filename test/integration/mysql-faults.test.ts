/**
 * MariaDB going away in the middle of a run, as an operator would meet it: the server killed
 * (SIGKILL) or frozen (SIGSTOP) during list, purge and cleanup, the tool's connection killed from
 * another session, rows held by another transaction, and Ctrl-C during a purge. Each time the tool
 * says in one line what went wrong and what it completed, exits non-zero, has deleted nothing
 * outside its selection, and a rerun finishes the job. Runs the built binary against its own server.
 */
import mysql from 'mysql2/promise'
import assert from 'node:assert/strict'

import {type CliResult, sessionctl, startSessionctl} from '../support/cli.js'
import {encodeSigned} from '../support/django-encode.js'
import {djangoSessionDdl, seededKey as key} from '../support/mysql.js'
import {
  createDatabase, createMysqlUser, type MariaDbServer, startMariaDb,
} from '../support/servers.js'

const PASSWORD = 'F4ult-Pa55word!'
const SECRET = 'faults-secret-key-do-not-print'
const ENV = {env: {DJANGO_SECRET_KEY: SECRET}}
/** User 42's live sessions (keys a…), the ones a purge selects. */
const PURGED = 20_000
/** User 7's live (b…) and expired (e…) sessions. */
const OTHERS = 10_000
const EXPIRED = 10_000

let failed = 0
const counters = {
  drop: 0, kill: 0, lock: 0, pause: 0, signal: 0,
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => {
    setTimeout(resolve, ms)
  })
}

/** Keys a00000001zzz… (32 characters): the prefix says whose and which state. */
function keySql(prefix: string): string {
  return `CONCAT('${prefix}', LPAD(seq, 8, '0'), REPEAT('z', 23))`
}

const n = (x: number): string => x.toLocaleString('en-US')
/** Ten keys in the middle of a prefix's range. */
const middle = (prefix: string, from: number): string[] => Array.from({length: 10}, (_, i) => key(prefix, from + i))

describe('MariaDB faults in the middle of a run (built binary)', function () {
  this.timeout(180_000)
  let server: MariaDbServer
  let adminUrl: string
  /** What the tool is given: a user with a password, which must never be printed. */
  let url: string
  let admin: mysql.Connection
  let database: string

  async function connectAdmin(): Promise<void> {
    admin = await mysql.createConnection({dateStrings: true, multipleStatements: true, uri: adminUrl})
  }

  async function count(where: string): Promise<number> {
    const [rows] = await admin.query(`SELECT COUNT(*) AS n FROM django_session WHERE ${where}`)
    return Number((rows as Array<{n: number}>)[0].n)
  }

  /** Count and checksum of every row matching `where`: any row deleted or changed shows. */
  async function snapshot(where: string): Promise<string> {
    const [rows] = await admin.query(`SELECT COUNT(*) AS n, BIT_XOR(CRC32(CONCAT_WS('|', session_key, session_data, expire_date))) AS h FROM django_session WHERE ${where}`)
    const r = (rows as Array<{h: string; n: number}>)[0]
    return `${r.n} rows, checksum ${r.h}`
  }

  async function seed(): Promise<void> {
    await admin.query('TRUNCATE TABLE django_session')
    const value = (user: string): string => encodeSigned({_auth_user_id: user, _auth_user_backend: 'django.contrib.auth.backends.ModelBackend'}, {secretKey: SECRET})
    await admin.query(
      `INSERT INTO django_session SELECT ${keySql('a')}, ?, UTC_TIMESTAMP(6) + INTERVAL 1 DAY + INTERVAL seq SECOND FROM seq_1_to_${PURGED}`,
      [value('42')],
    )
    await admin.query(
      `INSERT INTO django_session SELECT ${keySql('b')}, ?, UTC_TIMESTAMP(6) + INTERVAL 1 DAY + INTERVAL seq SECOND FROM seq_1_to_${OTHERS}`,
      [value('7')],
    )
    await admin.query(
      `INSERT INTO django_session SELECT ${keySql('e')}, ?, UTC_TIMESTAMP(6) - INTERVAL 1 HOUR - INTERVAL seq SECOND FROM seq_1_to_${EXPIRED}`,
      [value('7')],
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
    assert.ok(last.includes(`mysql://ops:****@127.0.0.1:${server.port}/${database} (table ${database}.django_session)`), `names the store: ${last}`)
    for (const text of [r.stderr, r.stdout]) {
      assert.ok(!text.includes(PASSWORD) && !text.includes(encodeURIComponent(PASSWORD)), 'the password is never printed')
      assert.ok(!text.includes(SECRET), 'the secret key is never printed')
    }

    assert.doesNotMatch(r.stderr, /[abe]\d{8}z{23}/, 'no session key on stderr')
    assert.ok(!/\n\s+at /.test(r.stderr), `no stack trace: ${r.stderr}`)
    return last
  }

  const purgeArgs = (batch: number): string[] => ['sessions', 'purge', '--store', url, '--user', '42', '--yes', '--batch-size', String(batch)]

  before(async () => {
    server = await startMariaDb({bufferPoolSize: '64M'})
    adminUrl = await createDatabase(server.url)
    database = new URL(adminUrl).pathname.slice(1)
    url = await createMysqlUser(adminUrl, {database, password: PASSWORD, user: 'ops'})
    // PROCESS lets the tests find the tool's connection; the tool itself needs only the database.
    await connectAdmin()
    await admin.query(djangoSessionDdl('django_session'))
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
    await seed()
  })

  afterEach(function () {
    if (this.currentTest?.state !== 'passed') failed++
  })

  /** SIGKILL the server, restart it on the same port, reconnect the test's own connection. */
  async function crashAndRestart(): Promise<void> {
    await server.kill('SIGKILL')
    counters.kill++
    admin.destroy()
    await server.restart()
    await connectAdmin()
  }

  const USER_42 = "session_key LIKE 'a%'"
  const NOT_USER_42 = "session_key NOT LIKE 'a%'"
  const EXPIRED_ROWS = "session_key LIKE 'e%'"
  const LIVE_ROWS = "session_key NOT LIKE 'e%'"
  const listArgs = (): string[] => ['sessions', 'list', '--store', url, '--user', '7', '--all']
  const cleanupArgs = (): string[] => ['sessions', 'cleanup', '--store', url, '--batch-size', '50', '--target-ms', '5', '--sleep', '20']
  const num = (text: string): number => Number(text.replaceAll(',', ''))

  /** The tool's scan is running on the server. */
  async function scanning(): Promise<boolean> {
    const [rows] = await admin.query("SELECT 1 FROM information_schema.PROCESSLIST WHERE USER = 'ops' AND INFO LIKE 'SELECT `session_key`%'")
    return (rows as unknown[]).length > 0
  }

  /**
   * The tool's connections are gone from the server. A statement it sent before failing may
   * still run (the server sees the closed socket only when it answers), so counts wait for this.
   */
  async function settled(): Promise<void> {
    await waitFor(async () => {
      const [rows] = await admin.query("SELECT 1 FROM information_schema.PROCESSLIST WHERE USER = 'ops'")
      return (rows as unknown[]).length === 0
    }, 'the tool\'s connections to close')
  }

  const purgeUnderWay = async (): Promise<boolean> => (await count(USER_42)) < PURGED - 500
  const cleanupUnderWay = async (): Promise<boolean> => (await count(EXPIRED_ROWS)) < EXPIRED - 300

  /** A failed purge: exit 4, the count deleted before the failure on stderr and stdout. */
  function partialPurge(r: CliResult, cause: RegExp): number {
    assert.equal(r.code, 4, r.stderr)
    const line = failure(r)
    const m = /; ([\d,]+) of 20,000 sessions were deleted before the failure, the rest are intact: rerun to finish$/.exec(line)
    assert.ok(m, line)
    assert.match(line, cause)
    assert.match(r.stdout, new RegExp(`\\n\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ Deleted ${m[1]} sessions? of user 42\\.\\n`))
    return num(m[1])
  }

  /** After a purge that failed having reported `reported`: the count is honest, a rerun finishes. */
  async function purgeFinishes(reported: number, outside: string, batch: number): Promise<void> {
    await settled()
    const left = await count(USER_42)
    // A batch the server committed but could not acknowledge is counted short, never long.
    assert.ok(PURGED - left >= reported && PURGED - left <= reported + batch, `left ${left}, reported ${reported}`)
    assert.equal(await snapshot(NOT_USER_42), outside, 'no row outside the selection was touched')
    const again = await sessionctl(purgeArgs(500), ENV)
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, new RegExp(`\\n\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ Deleted ${n(left)} sessions? of user 42\\.\\n`))
    assert.equal(await count(USER_42), 0)
    assert.equal(await snapshot(NOT_USER_42), outside)
  }

  /** A failed cleanup: exit 4 with the count; a rerun deletes the rest and no live row. */
  async function cleanupFinishes(r: CliResult, cause: RegExp, live: string): Promise<void> {
    assert.equal(r.code, 4, r.stderr)
    const line = failure(r)
    const m = /; ([\d,]+) of 10,000 sessions were deleted before the failure, the rest are intact: rerun to finish$/.exec(line)
    assert.ok(m, line)
    assert.match(line, cause)
    const reported = num(m[1])
    await settled()
    const left = await count(EXPIRED_ROWS)
    assert.ok(EXPIRED - left >= reported && left > 0, `left ${left}, reported ${reported}`)
    assert.equal(await snapshot(LIVE_ROWS), live, 'no live session was touched')
    const again = await sessionctl(cleanupArgs(), ENV)
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, new RegExp(`: deleted ${n(left)} expired sessions? in `))
    assert.equal(await count(EXPIRED_ROWS), 0)
    assert.equal(await snapshot(LIVE_ROWS), live)
  }

  describe('the server killed (SIGKILL) and restarted', () => {
    it('during list: one line, exit 1, nothing deleted; a rerun lists everything', async () => {
      const before = await snapshot('TRUE')
      const run = sessionctl(listArgs(), ENV)
      await waitFor(scanning, 'the scan', run)
      await crashAndRestart()
      const r = await run
      assert.equal(r.code, 1, r.stderr)
      assert.match(failure(r), /^sessionctl: lost the connection to mysql:/)
      assert.equal(await snapshot('TRUE'), before)
      const again = await sessionctl(listArgs(), ENV)
      assert.equal(again.code, 0, again.stderr)
      assert.match(again.stderr, new RegExp(`\\b${n(OTHERS + EXPIRED)} sessions of user 7\\b`))
    })

    it('during purge: exit 4 with the count deleted before; nothing else touched; a rerun finishes', async () => {
      const outside = await snapshot(NOT_USER_42)
      const run = sessionctl(purgeArgs(20), ENV)
      await waitFor(purgeUnderWay, 'the purge to delete 500 sessions', run)
      await crashAndRestart()
      const reported = partialPurge(await run, /^sessionctl: lost the connection to mysql:/)
      assert.ok(reported >= 500 && reported < PURGED, String(reported))
      await purgeFinishes(reported, outside, 20)
    })

    it('during cleanup: exit 4 with the count deleted before; no live row touched; a rerun finishes', async () => {
      const live = await snapshot(LIVE_ROWS)
      const run = sessionctl(cleanupArgs(), ENV)
      await waitFor(cleanupUnderWay, 'the cleanup to delete 300 sessions', run)
      await crashAndRestart()
      await cleanupFinishes(await run, /^sessionctl: lost the connection to mysql:/, live)
    })
  })

  describe('the server frozen (SIGSTOP): no hang, a clear error within a bounded time', () => {
    /** Freezes the server until `run` ends; resumes it whatever happens. */
    async function frozenUntil(run: Promise<CliResult>): Promise<CliResult> {
      server.pause()
      counters.pause++
      const paused = Date.now()
      try {
        const r = await run
        // About 5 s without a reply, then up to 3 s (--connect-timeout) to answer a new connection.
        assert.ok(Date.now() - paused < 30_000, `took ${Date.now() - paused} ms after the pause`)
        return r
      } finally {
        server.resume()
      }
    }

    it('during list: exit 1, "stopped answering"', async () => {
      const before = await snapshot('TRUE')
      const run = sessionctl(listArgs(), ENV)
      await waitFor(scanning, 'the scan', run)
      const r = await frozenUntil(run)
      assert.equal(r.code, 1, r.stderr)
      assert.match(failure(r), /^sessionctl: mysql:.* stopped answering: no reply for 5 s, and no answer to a new connection$/)
      assert.equal(await snapshot('TRUE'), before)
    })

    it('during purge: exit 4 with the count deleted before; a rerun finishes', async () => {
      const outside = await snapshot(NOT_USER_42)
      const run = sessionctl(purgeArgs(20), ENV)
      await waitFor(purgeUnderWay, 'the purge to delete 500 sessions', run)
      const reported = partialPurge(await frozenUntil(run), /stopped answering/)
      await purgeFinishes(reported, outside, 20)
    })

    it('during cleanup: exit 4 with the count deleted before; a rerun finishes', async () => {
      const live = await snapshot(LIVE_ROWS)
      const run = sessionctl(cleanupArgs(), ENV)
      await waitFor(cleanupUnderWay, 'the cleanup to delete 300 sessions', run)
      await cleanupFinishes(await frozenUntil(run), /stopped answering/, live)
    })
  })

  describe('the connection killed from another session (KILL CONNECTION)', () => {
    async function killToolConnection(): Promise<void> {
      const [rows] = await admin.query("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = 'ops' ORDER BY ID LIMIT 1")
      const [{id}] = rows as Array<{id: number}>
      await admin.query(`KILL CONNECTION ${Number(id)}`)
      counters.drop++
    }

    it('mid-purge: exit 4 with the count; a rerun finishes', async () => {
      const outside = await snapshot(NOT_USER_42)
      const run = sessionctl(purgeArgs(20), ENV)
      await waitFor(purgeUnderWay, 'the purge to delete 500 sessions', run)
      await killToolConnection()
      const reported = partialPurge(await run, /^sessionctl: lost the connection to mysql:/)
      await purgeFinishes(reported, outside, 20)
    })

    it('mid-cleanup: exit 4 with the count; a rerun finishes', async () => {
      const live = await snapshot(LIVE_ROWS)
      const run = sessionctl(cleanupArgs(), ENV)
      await waitFor(cleanupUnderWay, 'the cleanup to delete 300 sessions', run)
      await killToolConnection()
      await cleanupFinishes(await run, /^sessionctl: lost the connection to mysql:/, live)
    })
  })

  describe('rows locked by another transaction', () => {
    let locker: mysql.Connection

    beforeEach(async () => {
      locker = await mysql.createConnection({uri: adminUrl})
      await locker.beginTransaction()
    })

    afterEach(async () => {
      await locker.rollback().catch(() => {})
      await locker.end().catch(() => {})
    })

    it('purge waits at most its lock-wait timeout, reports, exits 4; once released a rerun finishes', async () => {
      const outside = await snapshot(NOT_USER_42)
      // Ten of user 42's sessions in the middle of the key range, held by an open transaction.
      const held = middle('a', 10_001)
      await locker.query('SELECT session_key FROM django_session WHERE session_key IN (?) FOR UPDATE', [held])
      counters.lock++
      const r = await sessionctl(purgeArgs(500), ENV)
      assert.ok(r.ms < 40_000, `${r.ms} ms`)
      const reported = partialPurge(r, /^sessionctl: rows of mysql:.* stayed locked by another transaction for 10 s;/)
      // The failed batch rolled back as a whole: the count is exact, the locked rows are there.
      assert.equal(await count(USER_42), PURGED - reported)
      const [rows] = await admin.query('SELECT session_key FROM django_session WHERE session_key IN (?)', [held])
      assert.equal((rows as unknown[]).length, 10)
      await locker.rollback()
      await purgeFinishes(reported, outside, 0)
    })

    it('cleanup retries expired rows held past its lock-wait timeout, and finishes once they are released', async () => {
      const live = await snapshot(LIVE_ROWS)
      await locker.query('SELECT session_key FROM django_session WHERE session_key IN (?) FOR UPDATE', [middle('e', 5001)])
      counters.lock++
      const run = sessionctl([...cleanupArgs(), '--json'], ENV)
      // Held past one lock-wait timeout (10 s) from the moment the cleanup waits on them (not from
      // its start: a loaded machine starts Node late), so the cleanup has to retry.
      // Polled gently: INNODB_TRX at a 5 ms pace slows the server's own work several times over.
      await waitFor(async () => {
        await sleep(200)
        const [rows] = await admin.query("SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'")
        return Number((rows as Array<{n: number}>)[0].n) > 0
      }, 'the cleanup to wait on the held rows', run)
      await sleep(11_000)
      await locker.rollback()
      const r = await run
      assert.equal(r.code, 0, r.stderr)
      const doc = JSON.parse(r.stdout) as {deleted: number; stores: Array<{retries: number}>}
      assert.ok(doc.stores[0].retries >= 1, r.stdout)
      assert.equal(doc.deleted, EXPIRED)
      assert.equal(await count(EXPIRED_ROWS), 0)
      assert.equal(await snapshot(LIVE_ROWS), live)
    })
  })

  it('SIGINT during a purge stops after the current batch with a summary, exit 6; a rerun finishes', async () => {
    const outside = await snapshot(NOT_USER_42)
    const run = startSessionctl(purgeArgs(20), ENV)
    await waitFor(purgeUnderWay, 'the purge to delete 500 sessions', run)
    const signalled = Date.now()
    run.kill('SIGINT')
    counters.signal++
    const r = await run
    assert.ok(Date.now() - signalled < 5000, 'it stops promptly')
    assert.equal(r.code, 6, r.stderr)
    const m = /\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ Deleted ([\d,]+) sessions of user 42\.\n/.exec(r.stdout)
    assert.ok(m, r.stdout.slice(-500))
    // The selection's summary line (a table's goes to stderr), then the one warning.
    assert.match(r.stderr, new RegExp(`^[\\d,]+ sessions of user 42 selected \\(scanned [\\d,]+ in [\\d.]+ s\\)\\nsessionctl: warning: stopped by SIGINT after ${m[1]} deleted sessions; rerun the same command to finish\\n$`))
    // Stopped at a batch boundary: exactly what it reports is gone.
    assert.equal(await count(USER_42), PURGED - num(m[1]))
    await purgeFinishes(num(m[1]), outside, 0)
  })
})
