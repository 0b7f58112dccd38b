/**
 * The benchmark's "postgres" section: 1M production-shaped Django sessions (seed-shaped.ts) in
 * Django 3.2's django_session on PostgreSQL (timestamptz, its indexes), on a server the benchmark
 * starts (data kept in .bench/postgres, seeded once), same run, same server:
 *
 *   scan     `sessionctl sessions list --user U` for a 2-digit id, a 6-digit id and a heavy account
 *            (500 sessions), and `purge --dry-run` for the 2-digit one, against the floor of
 *            streaming the session column with the bare driver (pg + pg-cursor, its own process;
 *            live rows for list, all rows for purge); peak RSS; the keys found checked against the
 *            generator.
 *   cleanup  the single `DELETE … WHERE expire_date < now()` Django's clearsessions runs (timed as a
 *            statement), Django 3.2's clearsessions itself (a process), and `sessionctl sessions
 *            cleanup`, each on an identical copy, order rotating: wall time, ratios,
 *            the longest statement as the server timed it (pg_stat_statements' max_exec_time) and as
 *            the client did, and that both left exactly the live rows.
 */
import {spawn} from 'node:child_process'
import {readdirSync, readFileSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import pg from 'pg'

import {djangoSessionPgDdl} from '../../test/support/postgres.js'
import {type PostgresServer, startPostgres} from '../../test/support/servers.js'
import {
  CLI, fixed, keysOf, log, median, printTargets, processFailed, type ProcessRun, ROOT, runNode, sameKeys, target, timed,
} from './common.js'
import {
  SHAPED_VERSION, shapedExpired, shapedRow, shapedUserId, shapedUsers,
} from './seed-shaped.js'

export interface PostgresBenchOptions {
  benchDir: string
  fresh: boolean
  repeat: number
  rows: number
}

const SCAN_TABLE = 'scan_django_session'
/** Debian's Python, where python3-django and python3-psycopg2 are. */
const DJANGO_PYTHON = '/usr/bin/python3'
const n = (x: number): string => x.toLocaleString('en-US')

function dbUrl(server: PostgresServer, database: string): string {
  const u = new URL(server.url)
  u.pathname = `/${database}`
  return u.toString()
}

/** The 1M-row seed, made once and kept in .bench/postgres (with the time it was made). */
async function ensureSeed(client: pg.Client, rows: number, fresh: boolean): Promise<{seededAt: number; sizes: Record<string, number>}> {
  await client.query('CREATE TABLE IF NOT EXISTS meta (name text PRIMARY KEY, value text)')
  const {rows: meta} = await client.query<{name: string; value: string}>('SELECT name, value FROM meta')
  const m = Object.fromEntries(meta.map(r => [r.name, r.value]))
  if (!fresh && Number(m.rows) === rows && Number(m.version) === SHAPED_VERSION) return {seededAt: Number(m.seededAt), sizes: JSON.parse(m.sizes) as Record<string, number>}
  log(`postgres: seeding ${n(rows)} production-shaped Django sessions (once; kept in .bench/postgres)…`)
  const seededAt = Date.now()
  const started = performance.now()
  await client.query('DROP TABLE IF EXISTS seed_django_session')
  await client.query(djangoSessionPgDdl('seed_django_session'))
  const lengths: number[] = []
  for (let i = 0; i < rows; i += 5000) {
    const keys: string[] = []
    const data: string[] = []
    const expires: string[] = []
    for (let j = i; j < Math.min(rows, i + 5000); j++) {
      const r = shapedRow(j, seededAt)
      keys.push(r.key)
      data.push(r.data)
      expires.push(new Date(r.expires).toISOString())
      lengths.push(r.data.length)
    }

    await client.query('INSERT INTO seed_django_session SELECT * FROM unnest($1::varchar[], $2::text[], $3::timestamptz[])', [keys, data, expires])
    if (i % 100_000 === 0) log(`  ${n(i)} rows (${((performance.now() - started) / 1000).toFixed(0)} s)`)
  }

  lengths.sort((a, b) => a - b)
  const q = (p: number): number => lengths[Math.min(lengths.length - 1, Math.floor(p * lengths.length))]
  const sizes = {
    max: lengths.at(-1) ?? 0, mean: Math.round(lengths.reduce((a, b) => a + b, 0) / lengths.length), p50: q(0.5), p90: q(0.9), p99: q(0.99),
  }
  await client.query('VACUUM ANALYZE seed_django_session')
  await client.query('INSERT INTO meta VALUES ($1, $2), ($3, $4), ($5, $6), ($7, $8) ON CONFLICT (name) DO UPDATE SET value = excluded.value', [
    'rows', String(rows), 'version', String(SHAPED_VERSION), 'seededAt', String(seededAt), 'sizes', JSON.stringify(sizes),
  ])
  log(`postgres: seeded in ${((performance.now() - started) / 1000).toFixed(0)} s`)
  return {seededAt, sizes}
}

/** Seconds to move the seed's dates by so the share of expired rows is what it was at seeding. */
const shiftOf = (seededAt: number): number => Math.round((Date.now() - seededAt) / 1000)

/** A fresh copy of the seed (Django's indexes too), dates moved by `shift` seconds; vacuumed, as a table at rest is. */
async function copySeed(client: pg.Client, table: string, shift: number): Promise<void> {
  await client.query(`DROP TABLE IF EXISTS ${table}`)
  await client.query(djangoSessionPgDdl(table))
  await client.query(`INSERT INTO ${table} SELECT session_key, session_data, expire_date + make_interval(secs => $1) FROM seed_django_session`, [shift])
  await client.query(`VACUUM ANALYZE ${table}`)
}

async function state(client: pg.Client, table: string): Promise<{expired: number; live: number; liveChecksum: string}> {
  const {rows: [r]} = await client.query<{cs: string; expired: string; live: string}>(`SELECT count(*) FILTER (WHERE expire_date < now()) AS expired, count(*) FILTER (WHERE expire_date >= now()) AS live,
    sum(hashtextextended(session_key || session_data || expire_date::text, 0)::numeric) FILTER (WHERE expire_date >= now()) AS cs FROM ${table}`)
  return {expired: Number(r.expired), live: Number(r.live), liveChecksum: String(r.cs)}
}

interface Run {
  cpuS: null | number
  exact: boolean
  ms: number
  rssMb: null | number
}

interface Line {
  floor?: string
  id: string
  label: string
  runs: Run[]
}

/**
 * The server's CPU seconds so far: the postmaster's own and its exited children's (reaped: cutime,
 * cstime), plus its live children's; null where there is no /proc.
 */
function serverCpuSeconds(pid: number): null | number {
  const fields = (p: number): string[] => readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')
  try {
    const own = fields(pid)
    let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14])
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      try {
        const f = fields(Number(entry))
        if (Number(f[1]) === pid) ticks += Number(f[11]) + Number(f[12])
      } catch {
        // gone meanwhile
      }
    }

    return ticks / 100
  } catch {
    return null
  }
}

async function floorRun(url: string, state: 'all' | 'live', expected: number, inflate = false): Promise<Run> {
  const run = await runNode([`${ROOT}scripts/bench/floor-postgres.mjs`, url, SCAN_TABLE, state, ...(inflate ? ['inflate'] : [])])
  if (run.code !== 0) throw processFailed('floor-postgres', run)
  const doc = JSON.parse(run.stdout) as {rows: number}
  return {
    cpuS: run.cpuS, exact: doc.rows === expected, ms: run.ms, rssMb: run.rssMb,
  }
}

async function cliRun(argv: string[], want: string[]): Promise<Run> {
  const run = await runNode([CLI, ...argv])
  const keys = keysOf(`sessionctl ${argv.slice(0, 2).join(' ')}`, run)
  return {
    cpuS: run.cpuS, exact: sameKeys(keys, want), ms: run.ms, rssMb: run.rssMb,
  }
}

/** What `sessions stats` must say of the shaped seed, from the generator. */
interface ExpectedStats {
  anonymous: number
  authenticated: number
  expired: number
  live: number
  perUser: Map<string, number>
  total: number
  users: number
}

function shapedStats(rows: number): ExpectedStats {
  const perUser = new Map<string, number>()
  let live = 0
  let anonymous = 0
  for (let i = 0; i < rows; i++) {
    if (shapedExpired(i)) continue
    live++
    const id = shapedUserId(i)
    if (id === null) anonymous++
    else perUser.set(id, (perUser.get(id) ?? 0) + 1)
  }

  return {
    anonymous, authenticated: live - anonymous, expired: rows - live, live, perUser, total: rows, users: perUser.size,
  }
}

/** `sessions stats --json`, checked against the generator (the distinct users within the estimate's ±2% beyond the exact range). */
async function statsRun(argv: string[], want: ExpectedStats): Promise<Run> {
  const run = await runNode([CLI, ...argv])
  if (run.code !== 0) throw processFailed('sessionctl sessions stats', run)
  const s = JSON.parse(run.stdout).stores[0]
  const users = s.users.exact ? s.users.count === want.users : Math.abs(s.users.count - want.users) <= want.users * 0.02
  // Every listed account's count within the bound, every unlisted one at most othersAtMost, and
  // the heavy account (the generator's largest) listed first.
  const listed = new Map<string, number>(s.top.users.map((u: {count: number; userId: string}) => [u.userId, u.count]))
  const heaviest = [...want.perUser].reduce((a, b) => (b[1] > a[1] ? b : a))
  const heavyFirst = s.top.users[0]?.userId === heaviest[0]
  const listedWithin = [...listed].every(([id, count]) => count <= (want.perUser.get(id) ?? 0) && (want.perUser.get(id) ?? 0) - count <= s.top.maxError)
  const restBounded = [...want.perUser].every(([id, count]) => listed.has(id) || count <= s.top.othersAtMost)
  const top = heavyFirst && listedWithin && restBounded
  const counts = ['total', 'live', 'expired', 'anonymous', 'authenticated'] as const
  const exact = users && top && counts.every(c => s[c] === want[c])
  if (!exact) log(`stats mismatch: ${JSON.stringify({got: {...s, sizes: undefined}, want: {...want, perUser: want.perUser.size}})}`)

  return {
    cpuS: run.cpuS, exact, ms: run.ms, rssMb: run.rssMb,
  }
}

async function scan(o: PostgresBenchOptions, client: pg.Client, server: PostgresServer, url: string, seededAt: number): Promise<{exact: boolean; result: Record<string, unknown>}> {
  const users = shapedUsers(o.rows)
  let liveRows = 0
  for (let i = 0; i < o.rows; i++) if (!shapedExpired(i)) liveRows++
  const expectedStats = shapedStats(o.rows)
  log(`postgres scan: copying the seed into ${SCAN_TABLE}…`)
  await copySeed(client, SCAN_TABLE, shiftOf(seededAt))
  await client.query('CHECKPOINT')
  const lines: Line[] = [
    {id: 'floor.live', label: 'floor: pg + pg-cursor stream, live rows', runs: []},
    {id: 'floor.all', label: 'floor: pg + pg-cursor stream, all rows', runs: []},
    {
      floor: 'floor.live', id: 'floor.inflate', label: 'floor + inflate only, live rows', runs: [],
    },
    ...users.map(u => ({
      floor: 'floor.live', id: `list.${u.userId}`, label: `list --user ${u.userId} (${u.kind}, ${u.live.length} live)`, runs: [],
    })),
    {
      floor: 'floor.all', id: 'purge', label: `purge --dry-run --user ${users[0].userId}`, runs: [],
    },
    {
      floor: 'floor.live', id: 'list.strict', label: `list --user ${users[0].userId} --strict-counts (every value decoded)`, runs: [],
    },
    {
      floor: 'floor.all', id: 'list.strict.all', label: `list --user ${users[0].userId} --all --strict-counts (stats' rows)`, runs: [],
    },
    {
      floor: `list.${users[0].userId}`, id: 'stats', label: `stats (ratio: to list --user ${users[0].userId})`, runs: [],
    },
  ]
  const byId = new Map(lines.map(l => [l.id, l]))
  const serverCpu: number[] = []
  const base = ['--store', url, '--table', SCAN_TABLE, '--json', '--show-keys']
  // Warm-up, not measured: shared buffers, the page cache, Node and the drivers.
  await floorRun(url, 'all', o.rows)
  await runNode([CLI, '--version'])
  for (let round = 0; round < o.repeat; round++) {
    log(`postgres scan: round ${round + 1} of ${o.repeat}`)
    const serverBefore = serverCpuSeconds(server.pid)
    byId.get('floor.live')!.runs.push(await floorRun(url, 'live', liveRows))
    const serverAfter = serverCpuSeconds(server.pid)
    if (serverBefore !== null && serverAfter !== null) serverCpu.push(serverAfter - serverBefore)
    byId.get('floor.inflate')!.runs.push(await floorRun(url, 'live', liveRows, true))
    for (const u of users) byId.get(`list.${u.userId}`)!.runs.push(await cliRun(['sessions', 'list', ...base, '--user', u.userId], u.live))
    byId.get('floor.all')!.runs.push(await floorRun(url, 'all', o.rows))
    byId.get('purge')!.runs.push(await cliRun(['sessions', 'purge', ...base, '--user', users[0].userId, '--dry-run'], [...users[0].live, ...users[0].expired]))
    byId.get('list.strict')!.runs.push(await cliRun(['sessions', 'list', ...base, '--user', users[0].userId, '--strict-counts'], users[0].live))
    byId.get('list.strict.all')!.runs.push(await cliRun(['sessions', 'list', ...base, '--user', users[0].userId, '--all', '--strict-counts'], [...users[0].live, ...users[0].expired]))
    byId.get('stats')!.runs.push(await statsRun(['sessions', 'stats', '--store', url, '--table', SCAN_TABLE, '--json', '--top', '3'], expectedStats))
  }

  await client.query(`DROP TABLE ${SCAN_TABLE}`)
  const seconds = (id: string): number => median(byId.get(id)!.runs.map(r => r.ms)) / 1000
  const summary = lines.map(l => {
    const s = seconds(l.id)
    const rss = l.runs.map(r => r.rssMb).filter((x): x is number => x !== null)
    const cpu = l.runs.map(r => r.cpuS).filter((x): x is number => x !== null)
    return {
      cpuS: cpu.length > 0 ? fixed(median(cpu), 2) : null,
      exact: l.runs.every(r => r.exact),
      id: l.id,
      label: l.label,
      ratio: l.floor ? fixed(s / seconds(l.floor), 3) : null,
      rounds: l.runs.map(r => ({...r, ms: fixed(r.ms, 1)})),
      rssMb: rss.length > 0 ? fixed(Math.max(...rss), 1) : null,
      seconds: fixed(s, 3),
    }
  })
  console.log(`\npostgres scan: finding one user's sessions among ${n(o.rows)} production-shaped Django sessions; medians of ${o.repeat} rounds, whole processes, same run, same server`)
  console.log(`  ${'measurement'.padEnd(52)} ${'seconds'.padStart(8)} ${'ratio'.padStart(8)} ${'peak RSS MB'.padStart(12)} ${'cpu s'.padStart(7)}  exact`)
  for (const s of summary) {
    console.log(`  ${s.label.padEnd(52)} ${s.seconds.toFixed(2).padStart(8)} ${(s.ratio === null ? 'floor' : `${s.ratio.toFixed(2)}×`).padStart(8)} ${(s.rssMb?.toFixed(0) ?? '—').padStart(12)} ${(s.cpuS?.toFixed(2) ?? '—').padStart(7)}  ${s.exact}`)
  }

  const lists = summary.filter(s => s.id.startsWith('list.') || s.id === 'purge' || s.id === 'stats')
  const rssValues = lists.map(s => s.rssMb).filter((x): x is number => x !== null)
  const targets = [
    ...lists.filter(s => s.id.startsWith('list.') && !s.id.startsWith('list.strict')).map(s => target(`${s.label.split(' (')[0]} / floor`, s.ratio, 2.5, '×')),
    target('stats / list --user (same store, same run)', summary.find(x => x.id === 'stats')!.ratio, 1.2, '×'),
    // Like for like: both decode every value (stats must, for its exact undecodable counts).
    target('stats / list --user --strict-counts', fixed(seconds('stats') / seconds('list.strict'), 3), 1.2, '×'),
    // The same work: every row, live and expired, and every value parsed (issue 18: stats always parses in full).
    target('stats / list --user --all --strict-counts (same rows)', fixed(seconds('stats') / seconds('list.strict.all'), 3), 1.2, '×'),
    target('sessionctl peak RSS (every scan run)', rssValues.length > 0 ? Math.max(...rssValues) : null, 150, ' MB', 0),
  ]
  printTargets(targets)
  // The least wall time any exact scan could take here: every compressed value read and inflated
  // (the inflate floor's CPU) while the server spends its own CPU sending the rows, spread perfectly
  // over every core.
  const inflateCpu = summary.find(x => x.id === 'floor.inflate')!.cpuS
  const floorS = seconds('floor.live')
  const bound = inflateCpu === null || serverCpu.length === 0
    ? null
    : {
      clientCpuS: inflateCpu, cores: availableParallelism(), serverCpuS: fixed(median(serverCpu), 2),
      get seconds() {
        return fixed(Math.max(floorS, (this.clientCpuS + this.serverCpuS) / this.cores), 3)
      },
    }
  if (bound) {
    console.log(`  lower bound for any exact scan here: inflating every compressed value takes ${bound.clientCpuS.toFixed(2)} s of CPU with reading, the server ${bound.serverCpuS.toFixed(2)} s;
    on ${bound.cores} cores at least ${bound.seconds.toFixed(2)} s = ${(bound.seconds / floorS).toFixed(2)}× the floor, before any JSON is looked at`)
  }

  const exact = summary.every(s => s.exact)
  if (!exact) console.log('  RESULT: MISMATCH (see exact: false above)')
  return {
    exact,
    result: {
      bound: bound ? {...bound, ratio: fixed(bound.seconds / floorS, 2), seconds: bound.seconds} : null, exact, measurements: summary, targets, users: users.map(u => ({
        expired: u.expired.length, id: u.userId, kind: u.kind, live: u.live.length,
      })),
    },
  }
}

interface CleanupRound {
  batches: number
  cliMs: number
  cleanupMs: number
  clientLongestMs: number
  /** Django's `clearsessions`, the whole process */
  djangoMs: number
  exact: boolean
  expired: number
  live: number
  serverLongestMs: number
  singleMs: number
}

/** A child process's wall time (spawn to exit). */
function timedProcess(command: string, args: string[]): Promise<{code: null | number; ms: number; stderr: string}> {
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr += d
    })
    child.on('error', reject)
    child.on('close', code => resolve({code, ms: performance.now() - t0, stderr}))
  })
}

/**
 * One round: three identical copies; the single DELETE clearsessions runs (timed in-process), Django's own
 * clearsessions (a process, as an operator runs it) and sessionctl cleanup, in an order that rotates.
 */
async function cleanupRound(client: pg.Client, server: PostgresServer, url: string, seededAt: number, round: number): Promise<CleanupRound> {
  // The copies get the same dates.
  const shift = shiftOf(seededAt)
  for (const t of ['clear_a', 'clear_b', 'clear_c']) await copySeed(client, t, shift)
  const before = await state(client, 'clear_a')
  let singleMs = 0
  let djangoMs = 0
  let cli: ProcessRun | undefined
  let serverLongestMs = 0
  const steps: Array<() => Promise<void>> = [
    async () => {
      singleMs = (await timed(() => client.query('DELETE FROM clear_a WHERE expire_date < now()'))).ms
    },
    async () => {
      await client.query('SELECT pg_stat_statements_reset()')
      cli = await runNode([CLI, 'sessions', 'cleanup', '--store', url, '--table', 'clear_b', '--json', ...(process.env.BENCH_CLEANUP_ARGS?.split(' ').filter(Boolean) ?? [])])
      const {rows: [r]} = await client.query<{ms: null | number}>("SELECT max(max_exec_time) AS ms FROM pg_stat_statements WHERE query ILIKE '%DELETE FROM%clear_b%'")
      serverLongestMs = Number(r.ms ?? 0)
    },
    async () => {
      const run = await timedProcess(DJANGO_PYTHON, [`${ROOT}scripts/bench/django-clearsessions.py`, '127.0.0.1', String(server.port), 'bench', 'clear_c'])
      if (run.code !== 0) throw new Error(`Django's clearsessions failed (exit ${run.code}): ${run.stderr.trim().slice(0, 2000)}`)
      djangoMs = run.ms
    },
  ]
  for (let k = 0; k < steps.length; k++) {
    // Each starts from a quiet server: the copies' dirty pages written out.
    await client.query('CHECKPOINT')
    await steps[(k + round) % steps.length]()
  }

  if (!cli || cli.code !== 0) throw processFailed('sessionctl cleanup', cli!)
  const doc = JSON.parse(cli.stdout) as {batches: number; deleted: number; maxBatchMs: number; seconds: number}
  const after = [await state(client, 'clear_a'), await state(client, 'clear_b'), await state(client, 'clear_c')]
  const exact = doc.deleted === before.expired && after.every(a => a.expired === 0 && a.live === before.live && a.liveChecksum === before.liveChecksum)
  await client.query('DROP TABLE clear_a, clear_b, clear_c')
  return {
    batches: doc.batches, cleanupMs: doc.seconds * 1000, cliMs: cli.ms, clientLongestMs: doc.maxBatchMs, djangoMs, exact, expired: before.expired, live: before.live,
    serverLongestMs, singleMs,
  }
}

async function cleanup(o: PostgresBenchOptions, client: pg.Client, server: PostgresServer, url: string, seededAt: number): Promise<{exact: boolean; result: Record<string, unknown>}> {
  const rounds: CleanupRound[] = []
  for (let i = 0; i < o.repeat; i++) {
    log(`postgres cleanup: round ${i + 1} of ${o.repeat} (copying the seed three times…)`)
    rounds.push(await cleanupRound(client, server, url, seededAt, i))
  }

  const single = median(rounds.map(r => r.singleMs))
  const django = median(rounds.map(r => r.djangoMs))
  const cliMs = median(rounds.map(r => r.cliMs))
  const own = median(rounds.map(r => r.cleanupMs))
  const serverLongest = Math.max(...rounds.map(r => r.serverLongestMs))
  const clientLongest = Math.max(...rounds.map(r => r.clientLongestMs))
  const exact = rounds.every(r => r.exact)
  console.log(`
postgres cleanup of ${n(rounds[0].expired)} expired among ${n(o.rows)} production-shaped Django sessions: ${o.repeat} rounds, medians (same run, same server)
  single DELETE (clearsessions' statement) ${(single / 1000).toFixed(2).padStart(6)} s   (one statement, timed by its client)
  Django's clearsessions, whole process ${(django / 1000).toFixed(2).padStart(6)} s   (Python, Django's setup, the DELETE)
  sessionctl cleanup, its own run       ${(own / 1000).toFixed(2).padStart(6)} s   ratio ${(own / single).toFixed(2)}×   ${rounds[0].batches} batches
  sessionctl cleanup, whole process     ${(cliMs / 1000).toFixed(2).padStart(6)} s   ratio ${(cliMs / single).toFixed(2)}× the statement, ${(cliMs / django).toFixed(2)}× Django's process
  longest statement, every round        server ${serverLongest.toFixed(0)} ms (pg_stat_statements), client ${clientLongest.toFixed(0)} ms
  result                                ${exact ? 'exact: every expired row gone, every live row kept, byte for byte, in every round' : 'MISMATCH'}`)
  const targets = [
    target('cleanup own run / single DELETE', own / single, 1.5, '×'),
    target('cleanup whole process / clearsessions process', cliMs / django, 1.5, '×'),
    target('longest statement (server)', serverLongest, 250, ' ms', 0),
  ]
  printTargets(targets)
  return {
    exact,
    result: {
      clientLongestMs: clientLongest, djangoProcessMs: Math.round(django), exact, expiredRows: rounds[0].expired, liveRows: rounds[0].live, ratioOwnRun: fixed(own / single, 3), ratioWholeProcess: fixed(cliMs / single, 3),
      rounds, serverLongestMs: fixed(serverLongest, 1), singleDeleteMs: Math.round(single), targets,
    },
  }
}

export async function benchPostgres(o: PostgresBenchOptions): Promise<{exact: boolean; result: Record<string, unknown>}> {
  const server = await startPostgres({
    // Production-like: durable commits and full-page writes (the test servers turn both off), the
    // table in shared buffers, checkpoints only where the benchmark asks for them.
    extraArgs: [
      ...['fsync=on', 'full_page_writes=on', 'synchronous_commit=on'].flatMap(setting => ['-c', setting]),
      '-c',
      'shared_buffers=2GB',
      '-c',
      'max_wal_size=8GB',
      '-c',
      'checkpoint_timeout=30min',
      '-c',
      'shared_preload_libraries=pg_stat_statements',
      '-c',
      'pg_stat_statements.track=all',
    ],
    keepIn: `${o.benchDir}/postgres`,
  })
  try {
    const admin = new pg.Client({connectionString: server.url})
    await admin.connect()
    const {rowCount} = await admin.query("SELECT 1 FROM pg_database WHERE datname = 'bench'")
    if (!rowCount) await admin.query('CREATE DATABASE bench')
    await admin.end()
    const url = dbUrl(server, 'bench')
    const client = new pg.Client({connectionString: url})
    await client.connect()
    try {
      await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
      const {seededAt, sizes} = await ensureSeed(client, o.rows, o.fresh)
      log(`postgres: session_data sizes as seeded: p50 ${sizes.p50} B, p90 ${sizes.p90} B, p99 ${sizes.p99} B, max ${n(sizes.max)} B`)
      const {rows: [version]} = await client.query<{v: string}>("SELECT current_setting('server_version') AS v")
      const s = await scan(o, client, server, url, seededAt)
      const c = await cleanup(o, client, server, url, seededAt)
      return {
        exact: s.exact && c.exact,
        result: {
          cleanup: c.result, rows: o.rows, scan: s.result, seedVersion: SHAPED_VERSION, server: `PostgreSQL ${version.v}`, sizes,
        },
      }
    } finally {
      await client.end()
    }
  } finally {
    await server.stop()
  }
}
