import mysql from 'mysql2/promise'
/**
 * `sessions cleanup` on MariaDB, as cron runs it (the built binary): every expired session
 * goes, no live one is lost, two runs never overlap, a signal or the run-time cap stops it at a
 * batch boundary and the next run finishes the job, replicas are waited for.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {createDjangoCodec} from '../../src/frameworks/django.js'
import {getFramework, layoutFor} from '../../src/frameworks/index.js'
import {openMysqlStore} from '../../src/stores/mysql.js'
import {type CliResult, sessionctl, startSessionctl} from '../support/cli.js'
import {
  djangoSessionDdl, freshDatabase, type MariaDbReplicaPair, startMariaDbReplicaPair,
} from '../support/mysql.js'
import {type MariaDbServer} from '../support/servers.js'

type Db = Awaited<ReturnType<typeof freshDatabase>>

/** `total` rows, every fifth expired (at various past times), the rest live. */
async function fill(conn: mysql.Connection, table: string, total: number): Promise<void> {
  await conn.query(`INSERT INTO \`${table}\` SELECT CONCAT('k', LPAD(seq, 31, '0')), CONCAT('data-', seq),
       IF(seq % 5 = 0, UTC_TIMESTAMP(6) - INTERVAL seq SECOND, UTC_TIMESTAMP(6) + INTERVAL 1 DAY + INTERVAL seq SECOND)
     FROM seq_1_to_${total}`)
}

async function counts(conn: mysql.Connection, table = 'django_session'): Promise<{expired: number; live: number}> {
  const [rows] = await conn.query(`SELECT SUM(expire_date <= UTC_TIMESTAMP(6)) AS expired, SUM(expire_date > UTC_TIMESTAMP(6)) AS live FROM \`${table}\``)
  const r = (rows as Array<{expired: null | string; live: null | string}>)[0]
  return {expired: Number(r.expired ?? 0), live: Number(r.live ?? 0)}
}

function json(r: CliResult): Record<string, unknown> & {deleted: number; stoppedBy: string} {
  return JSON.parse(r.stdout)
}

describe('sessions cleanup on MariaDB', function () {
  this.timeout(120_000)
  let db: Db

  beforeEach(async () => {
    db = await freshDatabase()
    await db.conn.query(djangoSessionDdl('django_session'))
  })

  afterEach(async () => {
    await db.conn.end()
  })

  it('deletes every expired session and no live one; one line on stdout, nothing on stderr', async () => {
    await fill(db.conn, 'django_session', 20_000)
    const dry = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--dry-run'])
    assert.equal(dry.code, 0)
    assert.match(dry.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ dry run: mysql:\/\/.* 4,000 expired sessions \(expired .* … .*\), about 64 batches; nothing was deleted\n$/)
    assert.deepEqual(await counts(db.conn), {expired: 4000, live: 16_000})
    const r = await sessionctl(['sessions', 'cleanup', '--store', db.url])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, '')
    assert.match(r.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ mysql:\/\/.*: deleted 4,000 expired sessions in \d+ batch(es)?, [\d.]+ s \(longest statement \d+ ms\); done\n$/)
    assert.deepEqual(await counts(db.conn), {expired: 0, live: 16_000})
  })

  it('--workers sets how many connections delete in parallel; any count leaves exactly the live rows', async () => {
    const connections = async (): Promise<number> => {
      const [rows] = await db.conn.query("SHOW GLOBAL STATUS LIKE 'Connections'")
      return Number((rows as Array<{Value: string}>)[0].Value)
    }

    const opened: Record<string, number> = {}
    for (const workers of ['1', '3']) {
      await db.conn.query('DELETE FROM django_session')
      await fill(db.conn, 'django_session', 20_000)
      const before = await connections()
      const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--workers', workers, '--json'])
      opened[workers] = (await connections()) - before
      assert.equal(r.code, 0, r.stderr)
      assert.equal(json(r).deleted, 4000)
      assert.deepEqual(await counts(db.conn), {expired: 0, live: 16_000})
    }

    assert.equal(opened['3'] - opened['1'], 2, JSON.stringify(opened))
    const bad = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--workers', '0'])
    assert.equal(bad.code, 2, bad.stderr)
  })

  it('keeps every session a concurrent writer extends while the cleanup runs', async () => {
    await fill(db.conn, 'django_session', 20_000)
    const writer = await mysql.createConnection({uri: db.url})
    const extended = new Set<string>()
    const activity = {running: true}
    const writing = (async () => {
      let i = 0
      while (activity.running) {
        // Extend an expired session, as Django does when its user comes back.
        const key = `k${String((((i++ * 7919) % 4000) + 1) * 5).padStart(31, '0')}`
        const [result] = await writer.query('UPDATE django_session SET expire_date = UTC_TIMESTAMP(6) + INTERVAL 1 HOUR WHERE session_key = ?', [key])
        if ((result as {affectedRows: number}).affectedRows === 1) extended.add(key)
      }
    })()
    const store = await openMysqlStore(db.url, {codec: createDjangoCodec(), layout: layoutFor(getFramework('django'), {})})
    const summary = await store.cleanupExpired({
      batchSize: 100, dryRun: false, sleepFactor: 0, sleepMs: 2, targetMs: 5,
    })
    activity.running = false
    await writing
    await writer.end()
    await store.close()
    assert.ok(extended.size > 20, `the writer extended only ${extended.size} sessions`)
    const [rows] = await db.conn.query('SELECT session_key FROM django_session WHERE session_key IN (?)', [[...extended]])
    assert.equal((rows as unknown[]).length, extended.size, 'every extended session survived')
    assert.equal(summary.deleted + extended.size >= 4000, true)
    assert.deepEqual(await counts(db.conn), {expired: 0, live: 16_000 + extended.size})
  })

  it('two cleanups started together: one works, the other exits at once with the "lock held" code', async () => {
    await fill(db.conn, 'django_session', 20_000)
    const first = sessionctl(['sessions', 'cleanup', '--store', db.url, '--batch-size', '50', '--target-ms', '5', '--sleep', '300'])
    const watcher = await mysql.createConnection({uri: db.url})
    const name = `sessionctl-cleanup:${db.database}.django_session`
    for (let i = 0; i < 400; i++) {
      const [rows] = await watcher.query('SELECT IS_USED_LOCK(?) AS holder', [name])
      if ((rows as Array<{holder: null | number}>)[0].holder !== null) break
      await new Promise(resolve => {
        setTimeout(resolve, 25)
      })
    }

    await watcher.end()
    const second = await sessionctl(['sessions', 'cleanup', '--store', db.url])
    assert.equal(second.code, 5, second.stderr)
    assert.ok(second.ms < 3000, `${second.ms} ms`)
    assert.match(second.stderr, /^sessionctl: another cleanup of mysql:\/\/.* is running \(lock "sessionctl-cleanup:.*" is held\); nothing was done\n$/)
    const done = await first
    assert.equal(done.code, 0, done.stderr)
    assert.deepEqual(await counts(db.conn), {expired: 0, live: 16_000})
  })

  it('one worker’s connection killed while another waits on a held row: the other’s statement is waited for, and the count reported is what was deleted', async () => {
    await fill(db.conn, 'django_session', 20_000)
    const key = (n: number): string => `k${String(n).padStart(31, '0')}`
    // Two expired rows held, far apart: two of the workers end up waiting on them.
    const lockers = [await mysql.createConnection({uri: db.url}), await mysql.createConnection({uri: db.url})]
    try {
      for (const [i, locker] of lockers.entries()) {
        await locker.query('BEGIN')
        await locker.query('SELECT 1 FROM django_session WHERE session_key = ? FOR UPDATE', [key([10_000, 19_995][i])])
      }

      const run = sessionctl(['sessions', 'cleanup', '--store', db.url, '--workers', '2', '--batch-size', '50', '--target-ms', '5'])
      // Both workers' DELETEs waiting on a held row (MariaDB shows no lock-wait graph: the process list does).
      let waiting: number[] = []
      for (let i = 0; i < 400 && waiting.length < 2; i++) {
        await new Promise(resolve => {
          setTimeout(resolve, 25)
        })
        const [rows] = await db.conn.query(`SELECT ID AS id FROM information_schema.PROCESSLIST
          WHERE DB = ? AND INFO LIKE 'DELETE%' AND STATE = 'Updating' AND TIME >= 1`, [db.database])
        waiting = (rows as Array<{id: number}>).map(r => r.id)
      }

      assert.equal(waiting.length, 2, 'both workers waited on a held row')
      // One worker's connection goes; the rows are released at once, so the other's statement commits after the failure.
      await db.conn.query(`KILL ${Number(waiting[0])}`)
      await Promise.all(lockers.map(l => l.query('COMMIT')))
      const r = await run
      assert.equal(r.code, 4, r.stderr)
      const m = /([\d,]+) of 4,000 sessions were deleted before the failure, the rest are intact/.exec(r.stderr)
      assert.ok(m, r.stderr)
      assert.equal(Number(m[1].replaceAll(',', '')), 4000 - (await counts(db.conn)).expired, 'the count is what was deleted')
    } finally {
      await Promise.all(lockers.map(l => l.end()))
    }
  })

  it('SIGTERM stops it after the current batch with what it deleted; the next run finishes', async () => {
    await fill(db.conn, 'django_session', 20_000)
    const run = startSessionctl(['sessions', 'cleanup', '--store', db.url, '--batch-size', '50', '--target-ms', '5', '--sleep', '30', '--json'])
    while ((await counts(db.conn)).expired > 3500) {
      await new Promise(resolve => {
        setTimeout(resolve, 20)
      })
    }

    const signalled = Date.now()
    run.kill('SIGTERM')
    const r = await run
    assert.ok(Date.now() - signalled < 2000, 'it stops promptly')
    assert.equal(r.code, 6, r.stderr)
    const doc = json(r)
    assert.equal(doc.stoppedBy, 'signal')
    const left = (await counts(db.conn)).expired
    assert.equal(doc.deleted, 4000 - left, 'it reports exactly what it deleted')
    assert.ok(left > 0)
    const again = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--json'])
    assert.equal(again.code, 0)
    assert.equal(json(again).deleted, left)
    assert.deepEqual(await counts(db.conn), {expired: 0, live: 16_000})
  })

  it('--max-runtime stops at a batch boundary with exit 6; --sleep-factor paces the batches', async () => {
    await fill(db.conn, 'django_session', 20_000)
    const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--batch-size', '50', '--target-ms', '5', '--sleep-factor', '3', '--sleep', '300', '--max-runtime', '1', '--json'])
    assert.equal(r.code, 6, r.stderr)
    const doc = json(r)
    assert.equal(doc.stoppedBy, 'deadline')
    assert.ok(doc.deleted > 0 && doc.deleted < 4000, String(doc.deleted))
    assert.ok((doc.seconds as number) < 2)
    assert.equal((await counts(db.conn)).expired, 4000 - doc.deleted)
  })

  it('the dry run\'s batch count covers what the real run on the same data takes (it said "about 4", the run took 64)', async () => {
    // Many expired rows (the key walk on 4 workers, 64 key ranges), few (the expiry walk), and small batches.
    const cases: Array<{args: string[]; expiredEvery: number; total: number}> = [
      {args: [], expiredEvery: 5, total: 20_000},
      {args: ['--batch-size', '100', '--workers', '2'], expiredEvery: 5, total: 20_000},
      {args: ['--batch-size', '100'], expiredEvery: 50, total: 20_000},
    ]
    for (const c of cases) {
      await db.conn.query('DELETE FROM django_session')
      await db.conn.query(`INSERT INTO django_session SELECT CONCAT('k', LPAD(seq, 31, '0')), CONCAT('data-', seq),
           IF(seq % ${c.expiredEvery} = 0, UTC_TIMESTAMP(6) - INTERVAL seq SECOND, UTC_TIMESTAMP(6) + INTERVAL 1 DAY + INTERVAL seq SECOND)
         FROM seq_1_to_${c.total}`)
      await db.conn.query('ANALYZE TABLE django_session')
      const dry = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--dry-run', ...c.args])
      assert.equal(dry.code, 0, dry.stderr)
      const m = /expired sessions \(expired .* … .*\), (?:about ([\d,]+) batch(?:es)?|([\d,]+)–([\d,]+) batches \(sized to --target-ms as they run: fewer when statements are fast\)); nothing was deleted\n$/.exec(dry.stdout)
      assert.ok(m, dry.stdout)
      const [min, max] = m[1] === undefined ? [Number(m[2].replaceAll(',', '')), Number(m[3].replaceAll(',', ''))] : [Number(m[1].replaceAll(',', '')), Number(m[1].replaceAll(',', ''))]
      const real = json(await sessionctl(['sessions', 'cleanup', '--store', db.url, '--json', ...c.args]))
      assert.equal(real.deleted, c.total / c.expiredEvery)
      const batches = real.batches as number
      assert.ok(batches >= min && batches <= max, `${c.args.join(' ') || 'defaults'}: the dry run said ${min}–${max}, the run took ${batches}`)
    }
  })

  it('--progress N prints a timestamped line every N seconds without a terminal, so a slow cleanup is not silent in its log', async () => {
    await fill(db.conn, 'django_session', 4000)
    const t0 = Date.now()
    const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--workers', '1', '--batch-size', '50', '--target-ms', '5', '--sleep', '400', '--max-runtime', '4', '--progress', '1'])
    const seconds = (Date.now() - t0) / 1000
    assert.equal(r.code, 6, r.stderr)
    assert.equal(r.stderr, '', 'the cap is a normal outcome: nothing on stderr')
    const lines = r.stdout.trimEnd().split('\n')
    const progress = lines.filter(l => / progress: /.test(l))
    assert.ok(progress.length >= 2 && progress.length <= Math.ceil(seconds), `${progress.length} progress lines in ${seconds} s:\n${r.stdout}`)
    for (const line of progress) {
      assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ progress: mysql:\/\/.*\(table .*django_session\): (deleted [\d,]+ expired sessions? in [\d,]+ batch(es)?, \d+ s, [\d,]+\/s|no batch done yet \(.*\), \d+ s)$/)
    }

    const counts = progress.map(l => Number(/deleted ([\d,]+)/.exec(l)?.[1].replaceAll(',', '') ?? 0))
    assert.ok(counts.at(-1)! > counts[0], `the count grows: ${counts.join(', ')}`)
    // Then the summary and the cap's line, both timestamped.
    assert.match(lines.at(-2)!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ mysql:\/\/.*: deleted [\d,]+ expired sessions in .*; stopped at --max-runtime$/)
    assert.match(lines.at(-1)!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ stopped at the --max-runtime cap after [\d,]+ deleted sessions; rerun to continue$/)
    // With --json, stdout stays the one JSON line; the progress lines go to stderr.
    const j = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--workers', '1', '--batch-size', '50', '--target-ms', '5', '--sleep', '400', '--max-runtime', '3', '--progress', '1', '--json'])
    assert.equal(j.code, 6, j.stderr)
    assert.equal(j.stdout.split('\n').length, 2, j.stdout)
    assert.equal(JSON.parse(j.stdout).stoppedBy, 'deadline')
    assert.match(j.stderr, /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ progress: .*\n){2,}$/)
    // Without --progress: silent but for the summary.
    const quiet = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--workers', '1', '--batch-size', '50', '--target-ms', '5', '--sleep', '400', '--max-runtime', '2'])
    assert.ok(!/ progress: /.test(quiet.stdout + quiet.stderr))
  })

  it('--max-runtime with --exit-zero-on 6: exit 0, stdout says it stopped at the cap, the metrics file keeps exit code 6', async () => {
    await fill(db.conn, 'django_session', 20_000)
    const dir = mkdtempSync(join(tmpdir(), 'sessionctl-metrics-'))
    try {
      const file = join(dir, 'sessionctl.prom')
      const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--batch-size', '50', '--target-ms', '5', '--sleep', '300', '--max-runtime', '1', '--exit-zero-on', '5,6', '--metrics-file', file])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stderr, '')
      assert.match(r.stdout, /; stopped at --max-runtime\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ stopped at the --max-runtime cap after [\d,]+ deleted sessions?; rerun to continue; exit 0 \(--exit-zero-on 6\)\n$/)
      const text = readFileSync(file, 'utf8')
      assert.match(text, /^sessionctl_cleanup_exit_code\{store="mysql:\/\/root@127\.0\.0\.1:\d+\/\w+ \(table \w+\.django_session\)"\} 6$/m)
      const deleted = Number(/^sessionctl_cleanup_deleted_sessions\{.*\} (\d+)$/m.exec(text)![1])
      assert.equal((await counts(db.conn)).expired, 4000 - deleted, 'the file says what was deleted')
      assert.match(text, /^sessionctl_cleanup_expired_sessions\{.*\} 4000$/m)
      assert.match(text, /^sessionctl_cleanup_last_success_timestamp_seconds\{.*\} \d+$/m, 'a run stopped by its cap succeeded')
    } finally {
      rmSync(dir, {force: true, recursive: true})
    }
  })

  it('warns when the expiry column has no index, and still works', async () => {
    await db.conn.query('DROP INDEX django_session_expire_date_a5c62663 ON django_session')
    await fill(db.conn, 'django_session', 1000)
    const r = await sessionctl(['sessions', 'cleanup', '--store', db.url])
    assert.equal(r.code, 0)
    assert.match(r.stderr, /the expiry column expire_date has no index, so every batch scans the table; add one: CREATE INDEX/)
    assert.deepEqual(await counts(db.conn), {expired: 0, live: 800})
  })

  it('cleans express-mysql-session tables (expires in Unix seconds) by express’s rule', async () => {
    await db.conn.query('CREATE TABLE sessions (session_id varchar(128) COLLATE utf8mb4_bin NOT NULL, expires int(11) unsigned NOT NULL, data mediumtext COLLATE utf8mb4_bin, PRIMARY KEY (session_id)) ENGINE=InnoDB')
    await db.conn.query('INSERT INTO sessions SELECT CONCAT(\'s\', seq), CAST(UNIX_TIMESTAMP() AS SIGNED) + IF(seq % 2 = 0, -100 - CAST(seq AS SIGNED), 100 + seq), \'{}\' FROM seq_1_to_1000')
    const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--format', 'express', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(json(r).deleted, 500)
    const [rows] = await db.conn.query('SELECT COUNT(*) AS n FROM sessions WHERE expires < UNIX_TIMESTAMP()')
    assert.equal(Number((rows as Array<{n: number}>)[0].n), 0)
  })

  it('follows the layout’s expiry rule as data: an offset from the column, and NULL as expired', async () => {
    // A Flask/Laravel-shaped rule no built-in framework declares yet: expired = touched + 1 h
    // passed, or never touched (NULL).
    await db.conn.query('CREATE TABLE rule_as_data (k varchar(40) PRIMARY KEY, v text, touched datetime(6) NULL, KEY (touched))')
    await db.conn.query(`INSERT INTO rule_as_data SELECT CONCAT('k', LPAD(seq, 5, '0')), 'v',
         CASE WHEN seq % 10 = 0 THEN NULL WHEN seq % 10 = 1 THEN UTC_TIMESTAMP(6) - INTERVAL 2 HOUR ELSE UTC_TIMESTAMP(6) - INTERVAL 10 MINUTE END
       FROM seq_1_to_3000`)
    const layout = layoutFor(getFramework('django'), {
      dataColumn: 'v', expiryColumn: 'touched', keyColumn: 'k', table: 'rule_as_data',
    })
    layout.sql!.expiry = {...layout.sql!.expiry, nullMeans: 'expired', offsetSeconds: 3600}
    const store = await openMysqlStore(db.url, {codec: createDjangoCodec(), layout})
    try {
      const dry = await store.cleanupExpired({
        batchSize: 50, dryRun: true, sleepFactor: 0, sleepMs: 0, targetMs: 5,
      })
      assert.equal(dry.expired, 600, 'the 300 NULL rows and the 300 touched 2 h ago')
      assert.ok(dry.oldestExpiry!.getTime() < Date.now() - 3_500_000 && dry.oldestExpiry!.getTime() > Date.now() - 3_700_000, 'expiry shown is touched + 1 h')
      const summary = await store.cleanupExpired({
        batchSize: 50, dryRun: false, sleepFactor: 0, sleepMs: 0, targetMs: 5,
      })
      assert.equal(summary.deleted, 600)
    } finally {
      await store.close()
    }

    const [rows] = await db.conn.query('SELECT SUM(touched IS NULL) AS nulls, SUM(touched < UTC_TIMESTAMP(6) - INTERVAL 1 HOUR) AS old, COUNT(*) AS n FROM rule_as_data')
    assert.deepEqual((rows as Array<Record<string, string>>).map(r => [Number(r.nulls), Number(r.old), Number(r.n)]), [[0, 0, 2400]])
  })

  it('refuses to guess the unit of an integer expiry column', async () => {
    await db.conn.query('CREATE TABLE spring_like (id varchar(36) PRIMARY KEY, data text, expiry bigint NOT NULL)')
    const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--table', 'spring_like', '--key-column', 'id', '--data-column', 'data', '--expiry-column', 'expiry', '--expiry-unit', 'datetime'])
    assert.equal(r.code, 2, r.stderr) // a flag the column contradicts: usage
    assert.match(r.stderr, /spring_like\.expiry is an integer column, not a datetime/)
  })
})

describe('sessions cleanup with a lagging replica', function () {
  this.timeout(120_000)
  let pair: MariaDbReplicaPair
  let primary: MariaDbServer
  let replica: MariaDbServer
  let conn: mysql.Connection
  let replicaConn: mysql.Connection

  before(async () => {
    pair = await startMariaDbReplicaPair('ROW');
    ({conn, primary, replica, replicaConn} = pair)
    await fill(conn, 'django_session', 5000)
  })

  after(async () => {
    await pair?.stop()
  })

  it('waits while the replica is not caught up, then cleans once it is', async () => {
    await replicaConn.query('STOP SLAVE SQL_THREAD')
    const url = `${primary.url}/app`
    const stalled = await sessionctl(['sessions', 'cleanup', '--store', url, '--replica', replica.url, '--max-replica-lag', '1', '--max-runtime', '2', '--json'])
    assert.equal(stalled.code, 6, stalled.stderr)
    const doc = json(stalled)
    assert.equal(doc.deleted, 0, 'nothing is deleted while the replica is behind')
    assert.ok(((doc.stores as Array<{replicaWaitS: number}>)[0].replicaWaitS) >= 1.5)
    await replicaConn.query('START SLAVE SQL_THREAD')
    const r = await sessionctl(['sessions', 'cleanup', '--store', url, '--replica', replica.url, '--max-replica-lag', '1', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(json(r).deleted, 1000)
    for (let i = 0; i < 100 && (await counts(replicaConn, 'app`.`django_session')).expired > 0; i++) {
      await new Promise(resolve => {
        setTimeout(resolve, 50)
      })
    }

    assert.deepEqual(await counts(replicaConn, 'app`.`django_session'), {expired: 0, live: 4000})
  })

  it('binlog_format=STATEMENT, few expired rows: the key-list walk takes NULL-expiry rows too where the rule says they are expired', async () => {
    await conn.query('SET GLOBAL binlog_format = STATEMENT')
    try {
      await conn.query('CREATE TABLE app.nullable_list (k varchar(40) PRIMARY KEY, v text, e datetime(6) NULL, KEY (e))')
      // 2% expired: 60 NULL and 60 past, among 6000.
      await conn.query(`INSERT INTO app.nullable_list SELECT CONCAT('k', LPAD(seq, 5, '0')), 'v',
           CASE WHEN seq % 100 = 0 THEN NULL WHEN seq % 100 = 1 THEN UTC_TIMESTAMP(6) - INTERVAL seq SECOND ELSE UTC_TIMESTAMP(6) + INTERVAL 1 DAY END
         FROM seq_1_to_6000`)
      const layout = layoutFor(getFramework('django'), {
        dataColumn: 'v', expiryColumn: 'e', keyColumn: 'k', table: 'nullable_list',
      })
      layout.sql!.expiry = {...layout.sql!.expiry, nullMeans: 'expired'}
      const store = await openMysqlStore(`${primary.url}/app`, {codec: createDjangoCodec(), layout})
      try {
        // Batches of 7 cross from the NULL rows into the dated ones mid-batch and after.
        const summary = await store.cleanupExpired({
          batchSize: 7, dryRun: false, sleepFactor: 0, sleepMs: 0, targetMs: 1000,
        })
        assert.equal(summary.deleted, 120)
      } finally {
        await store.close()
      }

      const [rows] = await conn.query('SELECT SUM(e IS NULL) AS nulls, SUM(e <= UTC_TIMESTAMP(6)) AS past, COUNT(*) AS n FROM app.nullable_list')
      assert.deepEqual((rows as Array<Record<string, string>>).map(r => [Number(r.nulls), Number(r.past), Number(r.n)]), [[0, 0, 5880]])
    } finally {
      await conn.query('SET GLOBAL binlog_format = ROW')
    }
  })

  for (const format of ['MIXED', 'STATEMENT']) {
    it(`binlog_format=${format}: the key walk logs its deletes as statements, and the replica ends with exactly the live rows`, async () => {
      await conn.query(`SET GLOBAL binlog_format = ${format}`)
      try {
        const table = `walk_${format.toLowerCase()}`
        await conn.query(djangoSessionDdl(table))
        await fill(conn, table, 5000)
        const [[{File: file, Position: position}]] = await conn.query('SHOW MASTER STATUS') as unknown as [[{File: string; Position: number}]]
        const r = await sessionctl(['sessions', 'cleanup', '--store', `${primary.url}/app`, '--table', table, '--json'])
        assert.equal(r.code, 0, r.stderr)
        assert.equal(json(r).deleted, 1000)
        const [events] = await conn.query(`SHOW BINLOG EVENTS IN '${file}' FROM ${position}`) as unknown as [Array<{Event_type: string; Info: string}>]
        // A row event per deleted session is what made a batched cleanup's binary log bloat.
        assert.deepEqual(events.filter(e => /rows/i.test(e.Event_type)).map(e => e.Event_type), [])
        assert.ok(events.some(e => e.Event_type === 'Query' && /DELETE FROM `app`\.`walk_/.test(e.Info)), 'the deletes are in the log, as statements')
        let replicated = await counts(replicaConn, `app\`.\`${table}`).catch(() => ({expired: -1, live: -1}))
        for (let i = 0; i < 200 && (replicated.expired !== 0 || replicated.live !== 4000); i++) {
          await new Promise(resolve => {
            setTimeout(resolve, 50)
          })
          replicated = await counts(replicaConn, `app\`.\`${table}`).catch(() => ({expired: -1, live: -1}))
        }

        assert.deepEqual(replicated, {expired: 0, live: 4000}, 'the replica, replaying the statements, deleted exactly the expired rows')
      } finally {
        await conn.query('SET GLOBAL binlog_format = ROW')
      }
    })
  }
})
