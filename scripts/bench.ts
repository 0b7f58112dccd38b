/**
 * `npm run bench`: the project's benchmark. Starts its own MariaDB and Redis (data kept in .bench/
 * so the 1M-session seeds are made once), then measures, in one run on one machine:
 *
 *   cleanup  `DELETE … WHERE expire_date < now` (what Django's clearsessions does) on one copy of
 *            the table and `sessionctl sessions cleanup` on an identical copy: wall time, ratio,
 *            longest single statement, and that both left exactly the live rows.
 *   scan     `sessionctl sessions list/purge --dry-run --user U` for a 2-digit and a 6-digit U on 1M
 *            production-shaped Django sessions in MariaDB and 1M Django cache sessions (pickle 4 and
 *            5, zlib or not) in Redis, against the floor of reading every session with the bare
 *            driver (its own process); peak RSS; the keys found checked against the seed
 *            generator; an indexed `user_id` variant (scripts/bench/scan.ts).
 *   spring   `sessionctl sessions list --format spring --user U --all` on 1M Spring Session sessions,
 *            JDBC (SPRING_SESSION, the exact DDL) and the Redis indexed repository, through the
 *            principal index, for a short id, an email and a heavy user: wall time (target < 1 s),
 *            peak RSS, against the bare driver doing the same lookup; the ids checked against the
 *            seed generator (never a mixed-case twin's, no stale index member); one purge
 *            --dry-run on each store (scripts/bench/spring.ts).
 *   postgres 1M production-shaped Django sessions in PostgreSQL: `list --user` for a 2-digit id, a
 *            6-digit id and a heavy account against the bare driver's streaming floor, peak RSS, and
 *            `cleanup` against clearsessions' single DELETE with the server's longest statement
 *            (scripts/bench/postgres.ts).
 *   startup  `sessionctl --version` and `sessions list --help`: wall time, and whether a database
 *            driver gets loaded (scripts/bench/startup.ts).
 *   cluster  `sessionctl sessions list --user U` on a 3-master Redis Cluster of up to 300k Django
 *            cache sessions: every master read at once against one after another
 *            (SESSIONCTL_REDIS_SCAN_CONCURRENCY=1), peak RSS, exact keys (scripts/bench/cluster.ts).
 *
 * Options: --only cleanup,scan,postgres,spring,startup,cluster (default: all)   --rows 1000000   --repeat 3 (rounds; medians
 * reported)   --fresh (reseed)
 * Results are printed as tables and written to .bench/results/<time>.json (and latest.json). The
 * exit code is 1 if any result is not exact.
 */
import mysql from 'mysql2/promise'
import {mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {parseArgs} from 'node:util'

import {djangoSessionDdl} from '../test/support/mysql.js'
import {
  APT_LINE, type MariaDbServer, missingSystemPackages, startMariaDb,
} from '../test/support/servers.js'
import {benchCluster} from './bench/cluster.js'
import {
  CLI, haveGnuTime, log, median, removeTimeDir, ROOT, runNode, settle, timed, type Timed,
} from './bench/common.js'
import {benchPostgres} from './bench/postgres.js'
import {benchScan} from './bench/scan.js'
import {SHAPED_VERSION, shapedRow} from './bench/seed-shaped.js'
import {SEED_VERSION, seedRow} from './bench/seed.js'
import {benchSpring} from './bench/spring.js'
import {benchStartup} from './bench/startup.js'

const BENCH_DIR = `${ROOT}.bench`
const SECTIONS = ['cleanup', 'scan', 'postgres', 'spring', 'startup', 'cluster']

const {values: args} = parseArgs({
  options: {
    fresh: {default: false, type: 'boolean'},
    only: {type: 'string'},
    repeat: {default: '3', type: 'string'},
    rows: {default: '1000000', type: 'string'},
  },
})
const ROWS = Number(args.rows)
const REPEAT = Number(args.repeat)
const sections = new Set((args.only ?? SECTIONS.join(',')).split(',').filter(Boolean))
const unknown = [...sections].filter(s => !SECTIONS.includes(s))
if (unknown.length > 0 || !(ROWS > 0) || !(REPEAT > 0)) {
  log(`usage: npm run bench -- [--only ${SECTIONS.join(',')}] [--rows N] [--repeat N] [--fresh]${unknown.length > 0 ? ` (unknown section: ${unknown.join(', ')})` : ''}`)
  process.exit(2)
}

/** The 1M-row seed table, made once and kept in .bench/ (with the time it was made). */
async function ensureSeed(conn: mysql.Connection): Promise<number> {
  await conn.query('CREATE DATABASE IF NOT EXISTS bench')
  await conn.query('CREATE TABLE IF NOT EXISTS bench.meta (name varchar(64) PRIMARY KEY, value varchar(255))')
  const [meta] = await conn.query('SELECT name, value FROM bench.meta')
  const m = Object.fromEntries((meta as Array<{name: string; value: string}>).map(r => [r.name, r.value]))
  if (!args.fresh && Number(m.rows) === ROWS && Number(m.version) === SEED_VERSION) return Number(m.seededAt)
  log(`Seeding ${ROWS.toLocaleString('en-US')} Django sessions (once; kept in .bench/)…`)
  const seededAt = Date.now()
  await conn.query('DROP TABLE IF EXISTS bench.seed_django_session, bench.seed_user')
  await conn.query('USE bench')
  for (const statement of djangoSessionDdl('seed_django_session').split(';\n')) await conn.query(statement)
  // Each session's user as the generator made it: the scan benchmark's indexed copy gets its user_id column from here.
  await conn.query('CREATE TABLE bench.seed_user (session_key varchar(40) NOT NULL PRIMARY KEY, user_id varchar(40) NULL)')
  const started = performance.now()
  for (let i = 0; i < ROWS; i += 5000) {
    const rows = []
    const users = []
    for (let j = i; j < Math.min(ROWS, i + 5000); j++) {
      const r = seedRow(j, seededAt)
      rows.push([r.key, r.data, r.expireDate])
      users.push([r.key, r.userId])
    }

    await conn.query('INSERT INTO bench.seed_django_session VALUES ?', [rows])
    await conn.query('INSERT INTO bench.seed_user VALUES ?', [users])
    if (i % 100_000 === 0) log(`  ${i.toLocaleString('en-US')} rows (${((performance.now() - started) / 1000).toFixed(0)} s)`)
  }

  await conn.query('REPLACE INTO bench.meta VALUES (?, ?), (?, ?), (?, ?)', ['rows', String(ROWS), 'version', String(SEED_VERSION), 'seededAt', String(seededAt)])
  await conn.query('RESET MASTER')
  log(`Seeded in ${((performance.now() - started) / 1000).toFixed(0)} s`)
  return seededAt
}

/**
 * The production-shaped seed for cleanup and scan (seed-shaped.ts: the rows the PostgreSQL section uses, 1 in 5
 * expired, p50 ~300 B, a tail of several KB), made once and kept in .bench/ with the time it was made.
 */
async function ensureShapedSeed(conn: mysql.Connection): Promise<number> {
  await conn.query('CREATE DATABASE IF NOT EXISTS bench')
  await conn.query('CREATE TABLE IF NOT EXISTS bench.meta (name varchar(64) PRIMARY KEY, value varchar(255))')
  const [meta] = await conn.query("SELECT name, value FROM bench.meta WHERE name LIKE 'shaped%'")
  const m = Object.fromEntries((meta as Array<{name: string; value: string}>).map(r => [r.name, r.value]))
  if (!args.fresh && Number(m.shapedRows) === ROWS && Number(m.shapedVersion) === SHAPED_VERSION) return Number(m.shapedSeededAt)
  log(`Seeding ${ROWS.toLocaleString('en-US')} production-shaped Django sessions (once; kept in .bench/)…`)
  const seededAt = Date.now()
  await conn.query('DROP TABLE IF EXISTS bench.seed_shaped_session')
  await conn.query('USE bench')
  for (const statement of djangoSessionDdl('seed_shaped_session').split(';\n')) await conn.query(statement)
  const started = performance.now()
  for (let i = 0; i < ROWS; i += 5000) {
    const rows = []
    for (let j = i; j < Math.min(ROWS, i + 5000); j++) {
      const r = shapedRow(j, seededAt)
      rows.push([r.key, r.data, new Date(r.expires).toISOString().replace('T', ' ').replace('Z', '')])
    }

    await conn.query('INSERT INTO bench.seed_shaped_session VALUES ?', [rows])
    if (i % 100_000 === 0) log(`  ${i.toLocaleString('en-US')} rows (${((performance.now() - started) / 1000).toFixed(0)} s)`)
  }

  await conn.query('REPLACE INTO bench.meta VALUES (?, ?), (?, ?), (?, ?)', ['shapedRows', String(ROWS), 'shapedVersion', String(SHAPED_VERSION), 'shapedSeededAt', String(seededAt)])
  await conn.query('RESET MASTER')
  log(`Seeded in ${((performance.now() - started) / 1000).toFixed(0)} s`)
  return seededAt
}

/**
 * The longest statement on `table` the server ran while `run` ran, from MariaDB's slow log (every
 * statement logged for the while: long_query_time 0), not the client's clock: what a lock waiter sees.
 */
async function longestOnServer<T>(conn: mysql.Connection, table: string, run: () => Promise<T>): Promise<{longestDeleteMs: number; longestMs: number; result: T; statements: number}> {
  await conn.query("SET GLOBAL log_output = 'TABLE'")
  await conn.query('TRUNCATE mysql.slow_log')
  await conn.query('SET GLOBAL long_query_time = 0, slow_query_log = 1')
  let result: T
  try {
    result = await run()
  } finally {
    await conn.query('SET GLOBAL slow_query_log = 0, long_query_time = 10')
  }

  const [rows] = await conn.query(
    "SELECT COUNT(*) AS n, MAX(TIME_TO_SEC(query_time)) AS s, MAX(IF(sql_text LIKE 'DELETE%', TIME_TO_SEC(query_time), 0)) AS d FROM mysql.slow_log WHERE sql_text LIKE ?",
    [`%${table}%`],
  )
  const r = (rows as Array<{d: null | number | string; n: number | string; s: null | number | string}>)[0]
  return {
    longestDeleteMs: Math.round(Number(r.d ?? 0) * 1000), longestMs: Math.round(Number(r.s ?? 0) * 1000), result, statements: Number(r.n),
  }
}

/** Bytes in the server's binary logs, all files. */
async function binlogBytes(conn: mysql.Connection): Promise<number> {
  const [rows] = await conn.query('SHOW BINARY LOGS') as unknown as [Array<{File_size: number | string}>]
  return rows.reduce((sum, r) => sum + Number(r.File_size), 0)
}

/** A fresh copy of the seed, its expiry dates moved so 20% are expired now, as when seeded. */
async function copySeed(conn: mysql.Connection, table: string, shift: number, seed = 'seed_shaped_session'): Promise<void> {
  await conn.query(`DROP TABLE IF EXISTS bench.${table}`)
  await conn.query(`CREATE TABLE bench.${table} LIKE bench.${seed}`)
  await conn.query(`INSERT INTO bench.${table} SELECT session_key, session_data, expire_date + INTERVAL ? SECOND FROM bench.${seed}`, [shift])
}

async function state(conn: mysql.Connection, table: string): Promise<{expired: number; live: number; liveChecksum: string}> {
  const [rows] = await conn.query(`SELECT SUM(expire_date < UTC_TIMESTAMP(6)) AS expired, SUM(expire_date >= UTC_TIMESTAMP(6)) AS live,
            BIT_XOR(CRC32(CONCAT(session_key, session_data, expire_date)) * (expire_date >= UTC_TIMESTAMP(6))) AS cs FROM bench.${table}`)
  const r = (rows as Array<Record<string, unknown>>)[0]
  return {expired: Number(r.expired ?? 0), live: Number(r.live ?? 0), liveChecksum: String(r.cs)}
}

interface CleanupRound {
  /** Binary log bytes each one wrote. */
  binlogCleanup: number
  binlogSingle: number
  singleMs: number
  cliMs: number
  cleanupMs: number
  /** By the client's clock (cleanup's own maxBatchMs). */
  longestStatementMs: number
  /** By the server's slow log: any statement on the table, and the DELETEs. */
  longestServerMs: number
  longestServerDeleteMs: number
  batches: number
  exact: boolean
}

/** One round: two identical copies; Django's single DELETE on one, sessionctl on the other. */
async function cleanupRound(server: MariaDbServer, conn: mysql.Connection, seededAt: number, first: 'cli' | 'delete'): Promise<CleanupRound & {expired: number; live: number}> {
  // Both copies get the same dates, moved so the share of expired rows is what it was at seeding.
  const shift = Math.round((Date.now() - seededAt) / 1000)
  await copySeed(conn, 'clear_a', shift)
  await copySeed(conn, 'clear_b', shift)
  const before = await state(conn, 'clear_a')
  await settle(conn)
  const runDelete = async (): Promise<Timed<unknown> & {binlog: number}> => {
    const before = await binlogBytes(conn)
    const run = await timed(() => conn.query('DELETE FROM bench.clear_a WHERE expire_date < UTC_TIMESTAMP(6)'))
    return {...run, binlog: (await binlogBytes(conn)) - before}
  }

  const runCli = async (): Promise<Awaited<ReturnType<typeof runNode>> & {binlog: number; serverDeleteMs: number; serverMs: number}> => {
    const before = await binlogBytes(conn)
    const {longestDeleteMs, longestMs, result: run} = await longestOnServer(conn, 'clear_b', () => runNode([
      CLI, 'sessions', 'cleanup', '--store', `${server.url}/bench`, '--table', 'clear_b', '--json', ...(process.env.BENCH_CLEANUP_ARGS?.split(' ').filter(Boolean) ?? []),
    ]))
    return {
      ...run, binlog: (await binlogBytes(conn)) - before, serverDeleteMs: longestDeleteMs, serverMs: longestMs,
    }
  }

  let single: Awaited<ReturnType<typeof runDelete>>
  let cleanup: Awaited<ReturnType<typeof runCli>>
  // Each measurement starts from a quiet server: dirty pages flushed and the undo history of
  // whatever ran before purged, so neither pays for the other's background work.
  if (first === 'delete') {
    single = await runDelete()
    await settle(conn)
    cleanup = await runCli()
  } else {
    cleanup = await runCli()
    await settle(conn)
    single = await runDelete()
  }

  if (cleanup.code !== 0) throw new Error(`sessionctl cleanup failed (${cleanup.code}): ${cleanup.stderr}`)
  const doc = JSON.parse(cleanup.stdout) as {batches: number; deleted: number; maxBatchMs: number; seconds: number}
  const afterA = await state(conn, 'clear_a')
  const afterB = await state(conn, 'clear_b')
  const checks = [
    afterA.expired === 0,
    afterB.expired === 0,
    afterA.live === before.live,
    afterB.live === before.live,
    afterA.liveChecksum === before.liveChecksum,
    afterB.liveChecksum === before.liveChecksum,
    doc.deleted === before.expired,
  ]
  const exact = checks.every(Boolean)
  await conn.query('DROP TABLE bench.clear_a, bench.clear_b')
  return {
    batches: doc.batches, binlogCleanup: cleanup.binlog, binlogSingle: single.binlog, cleanupMs: doc.seconds * 1000, cliMs: cleanup.ms, exact, expired: before.expired, live: before.live,
    longestServerDeleteMs: cleanup.serverDeleteMs, longestServerMs: cleanup.serverMs, longestStatementMs: doc.maxBatchMs, singleMs: single.ms,
  }
}

async function benchCleanup(server: MariaDbServer, conn: mysql.Connection, seededAt: number): Promise<Record<string, unknown>> {
  const rounds: Array<Awaited<ReturnType<typeof cleanupRound>>> = []
  for (let i = 0; i < REPEAT; i++) {
    log(`cleanup: round ${i + 1} of ${REPEAT} (copying the seed twice…)`)
    rounds.push(await cleanupRound(server, conn, seededAt, i % 2 === 0 ? 'delete' : 'cli'))
  }

  const single = median(rounds.map(r => r.singleMs))
  const cliMs = median(rounds.map(r => r.cliMs))
  const own = median(rounds.map(r => r.cleanupMs))
  const longest = Math.max(...rounds.map(r => r.longestStatementMs))
  const longestServer = Math.max(...rounds.map(r => r.longestServerMs))
  const longestDelete = Math.max(...rounds.map(r => r.longestServerDeleteMs))
  const exact = rounds.every(r => r.exact)
  const n = (x: number): string => x.toLocaleString('en-US')
  const mb = (bytes: number): string => (bytes < 1_048_576 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1_048_576).toFixed(1)} MB`)
  console.log(`
cleanup of ${n(rounds[0].expired)} expired among ${n(ROWS)} production-shaped Django sessions: ${REPEAT} rounds, medians (same run, same server)
  single DELETE (clearsessions)         ${(single / 1000).toFixed(2).padStart(6)} s   longest statement ${n(Math.round(Math.max(...rounds.map(r => r.singleMs))))} ms
  sessionctl cleanup, its own run       ${(own / 1000).toFixed(2).padStart(6)} s   ratio ${(own / single).toFixed(2)}×   ${rounds[0].batches} batches
  longest statement, every round        server: DELETE ${longestDelete} ms, any statement ${longestServer} ms (MariaDB's slow log); client ${longest} ms
  sessionctl cleanup, whole process     ${(cliMs / 1000).toFixed(2).padStart(6)} s   ratio ${(cliMs / single).toFixed(2)}×   (adds Node/oclif start and connecting)
  binary log written                    single DELETE ${mb(median(rounds.map(r => r.binlogSingle)))}, sessionctl cleanup ${mb(median(rounds.map(r => r.binlogCleanup)))} (MIXED format, as MariaDB ships)
  result                                ${exact ? 'exact: every expired row gone, every live row kept, byte for byte, in every round' : 'MISMATCH'}
  targets (shown, not enforced): whole process ≤ 1.3× the single DELETE: ${(cliMs / single).toFixed(2)}× ${cliMs / single <= 1.3 ? 'met' : 'MISSED'}; no statement over 250 ms (server): ${longestServer} ms ${longestServer <= 250 ? 'met' : 'MISSED'}`)
  if (!exact) process.exitCode = 1
  return {
    binlogBytesCleanup: median(rounds.map(r => r.binlogCleanup)), binlogBytesSingle: median(rounds.map(r => r.binlogSingle)),
    exact, expiredRows: rounds[0].expired, liveRows: rounds[0].live, longestServerDeleteMs: longestDelete, longestServerMs: longestServer, longestStatementMs: longest, ratioOwnRun: Number((own / single).toFixed(3)),
    ratioWholeProcess: Number((cliMs / single).toFixed(3)), rounds, rows: ROWS, singleDeleteMs: Math.round(single),
  }
}

async function main(): Promise<void> {
  const missing = missingSystemPackages()
  if (missing.length > 0) {
    log(`The benchmark starts its own MariaDB and Redis and needs: ${missing.join(', ')}\n  ${APT_LINE}`)
    process.exit(1)
  }

  if (!haveGnuTime()) log('note: /usr/bin/time (GNU time) is missing, so no peak RSS or CPU time: sudo apt-get install -y time')
  mkdirSync(`${BENCH_DIR}/results`, {recursive: true})
  if (args.fresh) {
    rmSync(`${BENCH_DIR}/mariadb`, {force: true, recursive: true})
    rmSync(`${BENCH_DIR}/redis`, {force: true, recursive: true})
    rmSync(`${BENCH_DIR}/postgres`, {force: true, recursive: true})
  }

  const results: Record<string, unknown> = {date: new Date().toISOString(), node: process.version, sections: [...sections]}
  let exact = true
  if (sections.has('cleanup') || sections.has('scan') || sections.has('spring')) {
    const server = await startMariaDb({
      bufferPoolSize: '3G',
      // Production-like: binary log on (replicas), durable commits.
      extraArgs: ['--log-bin=bench-bin', '--server-id=1', '--innodb-log-file-size=1G', '--max-allowed-packet=256M'],
      keepIn: `${BENCH_DIR}/mariadb`,
    })
    const conn = await mysql.createConnection({dateStrings: true, uri: server.url})
    try {
      // The Django seed only for the sections that use it.
      const seededAt = sections.has('scan') ? await ensureSeed(conn) : 0
      const shapedSeededAt = sections.has('scan') || sections.has('cleanup') ? await ensureShapedSeed(conn) : 0
      if (sections.has('cleanup')) {
        const cleanup = await benchCleanup(server, conn, shapedSeededAt)
        results.cleanup = cleanup
        exact &&= cleanup.exact === true
      }

      if (sections.has('scan')) {
        const scan = await benchScan({
          benchDir: BENCH_DIR, conn, fresh: Boolean(args.fresh), mysqlPid: server.pid, mysqlUrl: server.url, repeat: REPEAT, rows: ROWS, seededAt, shapedSeededAt,
        })
        results.scan = scan.result
        exact &&= scan.exact
      }

      if (sections.has('spring')) {
        const spring = await benchSpring({
          benchDir: BENCH_DIR, conn, fresh: Boolean(args.fresh), mysqlUrl: server.url, repeat: REPEAT, rows: ROWS,
        })
        results.spring = spring.result
        exact &&= spring.exact
      }
    } finally {
      await conn.end()
      await server.stop()
    }
  }

  if (sections.has('postgres')) {
    const postgres = await benchPostgres({
      benchDir: BENCH_DIR, fresh: Boolean(args.fresh), repeat: REPEAT, rows: ROWS,
    })
    results.postgres = postgres.result
    exact &&= postgres.exact
  }

  if (sections.has('startup')) results.startup = await benchStartup()
  if (sections.has('cluster')) {
    const cluster = await benchCluster({repeat: REPEAT, rows: ROWS})
    results.cluster = cluster.result
    exact &&= cluster.exact
  }

  removeTimeDir()

  const file = `${BENCH_DIR}/results/${new Date().toISOString().replaceAll(':', '-')}.json`
  writeFileSync(file, JSON.stringify(results, null, 2))
  writeFileSync(`${BENCH_DIR}/results/latest.json`, JSON.stringify(results, null, 2))
  log(`\nwritten to ${file}`)
  if (!exact) {
    log('FAILED: a result is not exact (see above)')
    process.exitCode = 1
  }
}

await main()
