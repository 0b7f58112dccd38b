/**
 * The benchmark's "scan" section: how long `sessionctl sessions list/purge --user U` takes to find
 * one user's sessions among 1M, against the floor of reading every session with the bare driver,
 * in the same run on the same servers; its peak memory; and whether it found exactly the user's
 * sessions (the ground truth comes from the seed generator, not from any store).
 *
 * The data is production-shaped (seed-shaped.ts: carts, flash messages, CSRF tokens, a tail of
 * several KB; product ids and hashes full of short numbers), and every step runs for a 2-digit
 * user id (42) and a 6-digit one: a short id occurs as text in many rows that are not its own.
 *
 *   MySQL   scan_django_session: a copy of the shaped seed, dates moved to now. Floors: a child
 *           process streaming `SELECT session_key, session_data` with mysql2 (live rows, for list;
 *           all rows, for purge, which selects expired ones too). Indexed: scan_django_session_indexed,
 *           the uniform seed (seed.ts) plus `user_id` and an index on it; the raw query timed
 *           in-process, and `list --user-column user_id`.
 *   Redis   1M shaped `:1:django.contrib.sessions.cache<key>` pickles, protocols 4 and 5, half
 *           zlib-compressed (redis-seed.ts). Floor: a child process doing SCAN MATCH … COUNT 1000 +
 *           MGET (Buffers) until the cursor is 0.
 */
import type mysql from 'mysql2/promise'

import {Redis} from 'ioredis'
import {readFileSync} from 'node:fs'
import {availableParallelism} from 'node:os'

import {startRedis} from '../../test/support/servers.js'
import {
  CLI, fixed, fixedOrNull, keysOf, log, median, printTargets, processFailed, ROOT, runNode, sameKeys, settle, target, timed,
} from './common.js'
import {CACHE_PREFIX, ensureRedisSeed} from './redis-seed.js'
import {shapedExpired, type ShapedUser, shapedUsers} from './seed-shaped.js'
import {benchUser} from './seed.js'

const TABLE = 'scan_django_session'
const INDEXED = 'scan_django_session_indexed'

export interface ScanOptions {
  benchDir: string
  conn: mysql.Connection
  fresh: boolean
  /** mysql://root@127.0.0.1:PORT (no database) */
  mysqlUrl: string
  /** the MariaDB server's pid, to read its CPU time (/proc) */
  mysqlPid: number
  repeat: number
  rows: number
  /** when the uniform seed (the indexed copy's) was made */
  seededAt: number
  /** when the shaped seed was made */
  shapedSeededAt: number
}

/** One line of the table. */
interface Row {
  id: string
  label: string
  /** which row is its floor (undefined: it is a floor, or has none) */
  floor?: string
  runs: Array<{cpuS: null | number; exact: boolean | null; ms: number; rssMb: null | number; serverCpuS?: null | number}>
  /** set when the step could not run (e.g. a flag sessionctl does not have yet) */
  unavailable?: string
  note?: string
}

interface Summary {
  cpuS: null | number
  /** the database server's CPU time during the run (median) */
  serverCpuS: null | number
  exact: boolean | null
  id: string
  label: string
  note?: string
  ratio: null | number
  rssMb: null | number
  seconds: null | number
  unavailable?: string
}

/** A process's CPU time so far (user + system), from /proc; null where there is no /proc. */
function cpuSecondsOf(pid: number): null | number {
  try {
    // Fields 14 and 15 (utime, stime), counted after the command name, which may hold spaces.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
  } catch {
    return null
  }
}

/** `run`, with the CPU time the server (its pid) spent meanwhile. */
async function withServerCpu(pid: number, run: () => Promise<Row['runs'][number]>): Promise<Row['runs'][number]> {
  const before = cpuSecondsOf(pid)
  const result = await run()
  const after = cpuSecondsOf(pid)
  return {...result, serverCpuS: before === null || after === null ? null : fixed(after - before, 2)}
}

/** sysconf(_SC_CLK_TCK): 100 on Linux on every architecture Node runs on. */
const CLOCK_TICKS = 100

function maxOrNull(values: Array<null | number>): null | number {
  const known = values.filter((v): v is number => v !== null)
  return known.length > 0 ? Math.max(...known) : null
}

function medianOrNull(values: Array<null | number>): null | number {
  const known = values.filter((v): v is number => v !== null)
  return known.length > 0 ? median(known) : null
}

function summarize(rows: Row[]): Summary[] {
  const seconds = new Map(rows.map(r => [r.id, r.runs.length > 0 ? median(r.runs.map(x => x.ms)) / 1000 : null]))
  return rows.map(r => {
    const s = seconds.get(r.id) ?? null
    const floor = r.floor === undefined ? null : seconds.get(r.floor) ?? null
    return {
      cpuS: fixedOrNull(medianOrNull(r.runs.map(x => x.cpuS)), 2),
      serverCpuS: fixedOrNull(medianOrNull(r.runs.map(x => x.serverCpuS ?? null)), 2),
      exact: r.runs.some(x => x.exact === null) ? null : r.runs.every(x => x.exact),
      id: r.id,
      label: r.label,
      note: r.note,
      ratio: s !== null && floor ? fixedOrNull(s / floor, 3) : null,
      // peak over the rounds: memory is a limit, not a typical value
      rssMb: fixedOrNull(maxOrNull(r.runs.map(x => x.rssMb)), 1),
      seconds: fixedOrNull(s, 4),
      unavailable: r.unavailable,
    }
  })
}

/** Whether the built CLI's manifest lists this flag for the command (e.g. a flag still being written). */
function hasFlag(command: string, flag: string): boolean {
  const manifest = JSON.parse(readFileSync(`${ROOT}oclif.manifest.json`, 'utf8')) as {commands: Record<string, {flags: Record<string, unknown>}>}
  return Boolean(manifest.commands[command]?.flags?.[flag])
}

async function prepareTables(conn: mysql.Connection, o: ScanOptions): Promise<void> {
  // Both copies get their seed's dates moved so the share of expired rows is what it was at seeding.
  const shapedShift = Math.round((Date.now() - o.shapedSeededAt) / 1000)
  const shift = Math.round((Date.now() - o.seededAt) / 1000)
  // Scaffolding, not what is measured: kept out of the binary log (which would only grow).
  await conn.query('SET SESSION sql_log_bin = 0')
  try {
    await conn.query(`DROP TABLE IF EXISTS bench.${TABLE}, bench.${INDEXED}`)
    await conn.query(`CREATE TABLE bench.${TABLE} LIKE bench.seed_shaped_session`)
    await conn.query(`INSERT INTO bench.${TABLE} SELECT session_key, session_data, expire_date + INTERVAL ? SECOND FROM bench.seed_shaped_session`, [shapedShift])
    await conn.query(`CREATE TABLE bench.${INDEXED} LIKE bench.seed_django_session`)
    await conn.query(`ALTER TABLE bench.${INDEXED} ADD COLUMN user_id varchar(40) NULL`)
    await conn.query(`INSERT INTO bench.${INDEXED} SELECT s.session_key, s.session_data, s.expire_date + INTERVAL ? SECOND, u.user_id
      FROM bench.seed_django_session s JOIN bench.seed_user u USING (session_key)`, [shift])
    await conn.query(`ALTER TABLE bench.${INDEXED} ADD INDEX ${INDEXED}_user_id (user_id)`)
  } finally {
    await conn.query('SET SESSION sql_log_bin = 1')
  }
}

async function dropTables(conn: mysql.Connection): Promise<void> {
  await conn.query('SET SESSION sql_log_bin = 0')
  await conn.query(`DROP TABLE IF EXISTS bench.${TABLE}, bench.${INDEXED}`)
  await conn.query('SET SESSION sql_log_bin = 1')
}

interface FloorDoc {
  bytes: number
  keys?: number
  queryMs: number
  rows?: number
}

async function floor(script: string, args: string[], expected: number): Promise<Row['runs'][number] & {doc: FloorDoc}> {
  const run = await runNode([`${ROOT}scripts/bench/${script}`, ...args])
  if (run.code !== 0) throw processFailed(script, run)
  const doc = JSON.parse(run.stdout) as FloorDoc
  return {
    cpuS: fixedOrNull(run.cpuS, 2), doc: {...doc, queryMs: fixed(doc.queryMs, 1)}, exact: (doc.rows ?? doc.keys) === expected, ms: fixed(run.ms, 1), rssMb: fixedOrNull(run.rssMb, 1),
  }
}

async function cliRun(argv: string[], want: string[]): Promise<Row['runs'][number]> {
  const run = await runNode([CLI, ...argv])
  const keys = keysOf(`sessionctl ${argv.slice(0, 2).join(' ')}`, run)
  return {
    cpuS: fixedOrNull(run.cpuS, 2), exact: sameKeys(keys, want), ms: fixed(run.ms, 1), rssMb: fixedOrNull(run.rssMb, 1),
  }
}

/** The users every scan step runs for: the shaped seed's 2-digit and 6-digit ids (not the heavy account). */
function scanUsers(rows: number): ShapedUser[] {
  return shapedUsers(rows).filter(u => u.kind !== 'heavy account')
}

/** "42" → "mysql.list.42": one row per user and step. */
const rowId = (step: string, user: ShapedUser): string => `${step}.${user.userId}`

async function mysqlRows(o: ScanOptions, users: ShapedUser[]): Promise<{indexQuery: Record<string, unknown>; rows: Row[]}> {
  const store = `${o.mysqlUrl}/bench`
  let liveRows = 0
  for (let i = 0; i < o.rows; i++) if (!shapedExpired(i)) liveRows++
  const indexed = benchUser(o.rows)
  const indexedAll = [...indexed.live, ...indexed.expired]
  const indexedFlag = hasFlag('sessions:list', 'user-column')
  const rows: Row[] = [
    {id: 'mysql.floor.live', label: 'MySQL floor: mysql2 stream, live rows', runs: []},
    {id: 'mysql.floor.all', label: 'MySQL floor: mysql2 stream, all rows', runs: []},
    {
      floor: 'mysql.floor.live', id: 'mysql.floor.inflate', label: 'MySQL floor + inflate only, live rows', runs: [],
    },
    ...users.flatMap(u => [
      {
        floor: 'mysql.floor.live', id: rowId('mysql.list', u), label: `MySQL sessionctl list --user ${u.userId}`, runs: [],
      },
      {
        floor: 'mysql.floor.all', id: rowId('mysql.purge', u), label: `MySQL sessionctl purge --user ${u.userId} --dry-run`, runs: [],
      },
    ]),
    {
      id: 'mysql.indexed.query', label: 'MySQL indexed: raw query (in-process)', note: 'SELECT … WHERE user_id = ?', runs: [],
    },
    {
      id: 'mysql.indexed.list', label: 'MySQL indexed: sessionctl list --user-column', runs: [],
      unavailable: indexedFlag ? undefined : 'not available: sessionctl list has no --user-column flag (yet)',
    },
  ]
  const byId = new Map(rows.map(r => [r.id, r]))
  const base = (u: ShapedUser): string[] => ['--store', store, '--table', TABLE, '--user', u.userId, '--json', '--show-keys']
  const indexQuery = `SELECT session_key, session_data, expire_date FROM bench.${INDEXED} WHERE user_id = ?`
  const [explain] = await o.conn.query(`EXPLAIN ${indexQuery}`, [indexed.userId]) as unknown as [Array<{key: null | string; type: string}>]

  // Warm-up, not measured: the buffer pool and the page cache (Node, drivers, oclif).
  await floor('floor-mysql.mjs', [store, TABLE, 'all'], o.rows)
  await runNode([CLI, '--version'])
  for (let round = 0; round < o.repeat; round++) {
    log(`scan: MySQL round ${round + 1} of ${o.repeat}`)
    const server = (run: () => Promise<Row['runs'][number]>): Promise<Row['runs'][number]> => withServerCpu(o.mysqlPid, run)
    byId.get('mysql.floor.live')!.runs.push(await server(() => floor('floor-mysql.mjs', [store, TABLE, 'live'], liveRows)))
    byId.get('mysql.floor.inflate')!.runs.push(await server(() => floor('floor-mysql.mjs', [store, TABLE, 'live', 'inflate'], liveRows)))
    for (const u of users) byId.get(rowId('mysql.list', u))!.runs.push(await server(() => cliRun(['sessions', 'list', ...base(u)], u.live)))
    byId.get('mysql.floor.all')!.runs.push(await server(() => floor('floor-mysql.mjs', [store, TABLE, 'all'], o.rows)))
    for (const u of users) byId.get(rowId('mysql.purge', u))!.runs.push(await server(() => cliRun(['sessions', 'purge', ...base(u), '--dry-run'], [...u.live, ...u.expired])))
    const q = await timed(() => o.conn.query(indexQuery, [indexed.userId]) as unknown as Promise<[Array<{session_key: string}>]>)
    byId.get('mysql.indexed.query')!.runs.push({
      cpuS: null, exact: sameKeys(q.value[0].map(r => r.session_key), indexedAll), ms: fixed(q.ms, 2), rssMb: null,
    })
    if (indexedFlag) {
      byId.get('mysql.indexed.list')!.runs.push(await cliRun(
        ['sessions', 'list', '--store', store, '--table', INDEXED, '--user-column', 'user_id', '--user', indexed.userId, '--json', '--show-keys'],
        indexed.live,
      ))
    }
  }

  return {indexQuery: {explain: explain[0], sql: indexQuery, userId: indexed.userId}, rows}
}

async function redisRows(o: ScanOptions, users: ShapedUser[]): Promise<{redis: Record<string, unknown>; rows: Row[]}> {
  const server = await startRedis({keepIn: `${o.benchDir}/redis`})
  const store = `${server.url}/0`
  const client = new Redis(store, {maxRetriesPerRequest: 1})
  try {
    const seed = await ensureRedisSeed(client, o.rows, o.fresh)
    const memory = /used_memory_human:(\S+)/.exec(await client.info('memory'))?.[1]
    await client.quit()
    const rows: Row[] = [
      {id: 'redis.floor', label: 'Redis floor: SCAN + MGET (ioredis)', runs: []},
      {
        floor: 'redis.floor', id: 'redis.floor.inflate', label: 'Redis floor + inflate only', runs: [],
      },
      ...users.flatMap(u => [
        {
          floor: 'redis.floor', id: rowId('redis.list', u), label: `Redis sessionctl list --user ${u.userId}`, runs: [],
        },
        {
          floor: 'redis.floor', id: rowId('redis.purge', u), label: `Redis sessionctl purge --user ${u.userId} --dry-run`, runs: [],
        },
      ]),
    ]
    const byId = new Map(rows.map(r => [r.id, r]))
    const base = (u: ShapedUser): string[] => ['--store', store, '--format', 'django-cache', '--user', u.userId, '--json', '--show-keys']
    const pattern = `${CACHE_PREFIX}*`
    await floor('floor-redis.mjs', [store, pattern], o.rows)
    for (let round = 0; round < o.repeat; round++) {
      log(`scan: Redis round ${round + 1} of ${o.repeat}`)
      const onServer = (run: () => Promise<Row['runs'][number]>): Promise<Row['runs'][number]> => withServerCpu(server.pid, run)
      byId.get('redis.floor')!.runs.push(await onServer(() => floor('floor-redis.mjs', [store, pattern], o.rows)))
      byId.get('redis.floor.inflate')!.runs.push(await onServer(() => floor('floor-redis.mjs', [store, pattern, 'inflate'], o.rows)))
      for (const u of users) {
        // A cache holds no expired session: every seeded key of the user is there until its TTL.
        const all = [...u.live, ...u.expired]
        byId.get(rowId('redis.list', u))!.runs.push(await onServer(() => cliRun(['sessions', 'list', ...base(u)], all)))
        byId.get(rowId('redis.purge', u))!.runs.push(await onServer(() => cliRun(['sessions', 'purge', ...base(u), '--dry-run'], all)))
      }
    }

    return {
      redis: {
        keys: o.rows, seededAt: new Date(seed.seededAt).toISOString(), seededThisRun: seed.seeded, usedMemory: memory,
      }, rows,
    }
  } finally {
    client.disconnect()
    await server.stop()
  }
}

interface ScanBound {
  clientCpuS: number
  cores: number
  /** cores needed for the bound to reach `ratio` × the floor */
  coresFor: (ratio: number) => number
  ratio: number
  seconds: number
  serverCpuS: number
}

/**
 * The least wall time any exact scan of a store's sessions could take here: the user id is inside
 * the compressed bytes, so every value must at least be read and inflated (the inflate floor's
 * CPU), while the server spends its own CPU sending them (the plain floor's); spread perfectly
 * over every core. `serverCpuS` may be given instead (what sessionctl's own reads cost the server).
 */
function scanBound(rows: Row[], floorId: string, inflateId: string, serverCpuS?: null | number): null | ScanBound {
  const plain = rows.find(r => r.id === floorId)!.runs
  const inflate = rows.find(r => r.id === inflateId)!.runs
  const clientCpuS = medianOrNull(inflate.map(r => r.cpuS))
  const server = serverCpuS ?? medianOrNull(plain.map(r => r.serverCpuS ?? null))
  if (clientCpuS === null || server === null || plain.length === 0) return null
  const floorS = median(plain.map(r => r.ms)) / 1000
  const cores = availableParallelism()
  const seconds = Math.max(floorS, (clientCpuS + server) / cores)
  return {
    clientCpuS, cores, coresFor: ratio => Math.ceil((clientCpuS + server) / (ratio * floorS)), ratio: fixed(seconds / floorS, 2), seconds: fixed(seconds, 3), serverCpuS: server,
  }
}

function fmt(value: null | number, digits: number, suffix = ''): string {
  return value === null ? '—' : `${value.toFixed(digits)}${suffix}`
}

function printTable(title: string, summaries: Summary[]): void {
  console.log(`\n${title}`)
  console.log(`  ${'measurement'.padEnd(46)} ${'seconds'.padStart(8)} ${'ratio'.padStart(8)} ${'peak RSS MB'.padStart(12)} ${'cpu s'.padStart(7)} ${'server cpu s'.padStart(12)}  exact`)
  for (const s of summaries) {
    if (s.unavailable) {
      console.log(`  ${s.label.padEnd(46)} ${s.unavailable}`)
      continue
    }

    const seconds = s.seconds !== null && s.seconds < 0.1 ? fmt(s.seconds, 4) : fmt(s.seconds, 2)
    const exact = s.exact === null ? '—' : String(s.exact)
    const ratio = s.ratio === null && s.id.includes('floor') ? 'floor' : fmt(s.ratio, 2, '×')
    console.log(`  ${s.label.padEnd(46)} ${seconds.padStart(8)} ${ratio.padStart(8)} ${fmt(s.rssMb, 0).padStart(12)} ${fmt(s.cpuS, 2).padStart(7)} ${fmt(s.serverCpuS, 2).padStart(12)}  ${exact}`)
  }
}

export async function benchScan(o: ScanOptions): Promise<{exact: boolean; result: Record<string, unknown>}> {
  const users = scanUsers(o.rows)
  for (const u of users) {
    log(`scan: user ${u.userId} (${u.kind}) has ${u.live.length} live and ${u.expired.length} expired sessions among ${o.rows.toLocaleString('en-US')} (from the seed generator)`)
  }

  log('scan: copying the shaped seed into scan_django_session and the uniform one into scan_django_session_indexed (+ user_id, indexed)…')
  const copy = await timed(() => prepareTables(o.conn, o))
  log(`scan: copied in ${(copy.ms / 1000).toFixed(1)} s; waiting for InnoDB to flush…`)
  await settle(o.conn)
  let mysqlPart: Awaited<ReturnType<typeof mysqlRows>>
  try {
    mysqlPart = await mysqlRows(o, users)
  } finally {
    await dropTables(o.conn)
  }

  const redisPart = await redisRows(o, users)
  const summaries = summarize([...mysqlPart.rows, ...redisPart.rows])
  const get = (id: string): Summary => summaries.find(s => s.id === id)!
  const cliRss = maxOrNull(summaries.filter(s => /list|purge/.test(s.id) && !s.id.includes('query')).map(s => s.rssMb))
  const [short] = users
  const targets = [
    target(`MySQL list --user ${short.userId} / its floor`, get(rowId('mysql.list', short)).ratio, 2.5, '×'),
    ...users.map(u => target(`Redis list --user ${u.userId} / its floor`, get(rowId('redis.list', u)).ratio, 1, '×')),
    target('sessionctl peak RSS (every scan run)', cliRss, 150, ' MB', 0),
    target('indexed: raw query', get('mysql.indexed.query').seconds === null ? null : get('mysql.indexed.query').seconds! * 1000, 50, ' ms', 1),
    target('indexed: sessionctl list --user-column wall', get('mysql.indexed.list').seconds, 1, ' s', 2),
  ]
  const exact = summaries.every(s => s.exact !== false)

  printTable(
    `scan: finding users ${users.map(u => `${u.userId} (${u.live.length} live + ${u.expired.length} expired)`).join(' and ')} among ${o.rows.toLocaleString('en-US')} production-shaped sessions `
    + `(in Redis every one is live); medians of ${o.repeat} rounds, whole processes, same run, same servers`,
    summaries,
  )
  console.log('  (ratio: to the floor reading the same rows; exact: the session keys found are exactly the generator\'s, or the floor read every row)')
  printTargets(targets)
  const bound = scanBound(mysqlPart.rows, 'mysql.floor.live', 'mysql.floor.inflate')
  if (bound) {
    console.log(`  lower bound for any exact scan of these MySQL rows on this machine: reading and inflating every compressed value takes ${bound.clientCpuS.toFixed(2)} s of CPU,
    the server ${bound.serverCpuS.toFixed(2)} s; on ${bound.cores} cores that is at least ${bound.seconds.toFixed(2)} s = ${bound.ratio.toFixed(2)}× the floor (before any JSON is parsed);
    ${bound.coresFor(2.5)} cores would be needed for 2.5×`)
  }

  const redisBound = scanBound(redisPart.rows, 'redis.floor', 'redis.floor.inflate')
  // What the server spends on sessionctl's reads: MGET plus a STRLEN of every key (MGET_WITHIN), so no reply exceeds 8 MiB.
  const [first] = users
  const boundedBound = scanBound(redisPart.rows, 'redis.floor', 'redis.floor.inflate', get(rowId('redis.list', first)).serverCpuS)
  if (redisBound && boundedBound) {
    console.log(`  lower bound for any exact scan of these Redis values on this machine: reading and inflating every compressed value takes ${redisBound.clientCpuS.toFixed(2)} s of CPU,
    the server ${redisBound.serverCpuS.toFixed(2)} s for SCAN + MGET; on ${redisBound.cores} cores at least ${redisBound.seconds.toFixed(2)} s = ${redisBound.ratio.toFixed(2)}× the floor.
    With replies bounded in size (a STRLEN of every key before its MGET, as sessionctl reads) the server spends ${boundedBound.serverCpuS.toFixed(2)} s:
    at least ${boundedBound.seconds.toFixed(2)} s = ${boundedBound.ratio.toFixed(2)}×,
    ${(boundedBound.clientCpuS + boundedBound.serverCpuS).toFixed(2)} s of CPU for ${boundedBound.cores} cores:
    1.0× only with every core busy for the whole floor time (${boundedBound.coresFor(1)} cores for any slack)`)
  }

  if (!exact) console.log('  RESULT: MISMATCH (see exact: false above)')

  return {
    exact,
    result: {
      exact,
      indexedQuery: mysqlPart.indexQuery,
      mysqlBound: bound && {...bound, coresFor25: bound.coresFor(2.5)},
      redisBound: redisBound && boundedBound && {
        bounded: {...boundedBound, coresFor1: boundedBound.coresFor(1)}, plain: redisBound,
      },
      measurements: summaries.map((s, i) => ({...s, rounds: [...mysqlPart.rows, ...redisPart.rows][i].runs})),
      redis: redisPart.redis,
      repeat: o.repeat,
      rows: o.rows,
      targets,
      users: users.map(u => ({
        expired: u.expired.length, id: u.userId, kind: u.kind, live: u.live.length,
      })),
    },
  }
}
