import type {Connection, ResultSetHeader, RowDataPacket} from 'mysql2/promise'

import {createHash} from 'node:crypto'

import type {CleanupOptions, CleanupSummary} from './contract.js'
import type {Columns} from './mysql.js'

import {LockHeldError, PartialFailureError} from '../errors.js'
import {openMysqlReplica} from './mysql-replicas.js'
import {leadingIndex, quote, storeError} from './mysql.js'
import {
  type Batch, estimateBatches, newCleanupSummary, runWorkers, sleep,
} from './pacing.js'
import {ReplicaWatch} from './replica-watch.js'

const MAX_RETRIES = 5
/** Above this share of expired rows, walking the table in key order beats walking the expiry index. */
const KEY_WALK_SHARE = 0.05
/**
 * Workers of a key-order walk (each its own connection, taking key ranges from a queue). Four keep
 * InnoDB busy between one worker's statements, each statement still short (npm run bench, 2
 * cores: 0.9–1.2× a single DELETE, against 1.25–1.38× with two).
 */
const WORKERS = 4
/**
 * Key ranges per worker, so that a range richer in expired rows does not leave the other
 * workers idle at the end.
 */
const RANGES_PER_WORKER = 16
const RANGE_SAMPLE = 4000

export interface CleanupContext {
  conn: Connection
  /** Opens another connection to the same server (for parallel workers). */
  open(): Promise<Connection>
  label: string
  name: {database: string; table: string}
  columns: Columns
  /** SQL that is true for an expired row, by the framework's rule, and its parameters. */
  condition: string
  params: unknown[]
  now: Date
  expiryDate(value: unknown): Date | null
  connectTimeoutMs?: number
}

/**
 * The MySQL/MariaDB expired-session cleanup: many short transactions instead of one DELETE,
 * under a named lock, paced, watching replicas, stopping between batches.
 *
 * How a batch picks its rows depends on how many are expired and on the binary log:
 * - key walk (5% or more of the rows expired): the table in primary-key order, `DELETE … WHERE
 *   key > last AND key <= next AND expired`, where next is some rows further (an index probe), on
 *   several key ranges in parallel (--workers). Like the single DELETE (a table scan), it touches
 *   each page once, and its statements are deterministic (safe for any binary log format).
 * - expiry walk (few expired rows): `DELETE … WHERE expired ORDER BY expiry LIMIT n`, down the
 *   expiry index.
 * - key list (few expired rows, statement-based binary log, where DELETE … LIMIT is unsafe to
 *   replicate): the next keys by a keyset walk of the expiry index, then `DELETE … WHERE key IN
 *   (…) AND expired`.
 * Every delete states the expiry predicate itself, so a session extended meanwhile survives.
 */
export class MysqlCleanup {
  private readonly table: string

  constructor(private readonly c: CleanupContext) {
    this.table = `${quote(c.name.database)}.${quote(c.name.table)}`
  }

  async run(o: CleanupOptions): Promise<CleanupSummary> {
    const started = Date.now()
    const {conn} = this.c
    const expiry = quote(this.c.columns.expiry)
    const summary = newCleanupSummary(this.c.label)
    if (!(await this.expiryIndexed())) {
      const {database, table} = this.c.name
      o.onWarning?.(`${this.c.label}: the expiry column ${this.c.columns.expiry} has no index, so every batch scans the table; add one: CREATE INDEX ${table}_${this.c.columns.expiry} ON ${database}.${table} (${this.c.columns.expiry})`)
    }

    const [stats] = await conn.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n, MIN(${expiry}) AS oldest, MAX(${expiry}) AS newest FROM ${this.table} WHERE ${this.c.condition}`,
      this.c.params,
    )
    summary.expired = Number(stats[0].n)
    summary.oldestExpiry = this.c.expiryDate(stats[0].oldest)
    summary.newestExpiry = this.c.expiryDate(stats[0].newest)
    if (o.dryRun && summary.expired > 0) summary.batchEstimate = await this.estimate(summary.expired, o)
    if (o.dryRun || summary.expired === 0) return {...summary, seconds: (Date.now() - started) / 1000}

    const lock = await this.lock()
    const workers: Batch[] = []
    const extra: Connection[] = []
    let replicas: ReplicaWatch | undefined
    try {
      replicas = o.replicas?.length ? await ReplicaWatch.open(o.replicas, o.maxReplicaLagS ?? 1, url => openMysqlReplica(url, this.c.connectTimeoutMs)) : undefined
      const strategy = await this.strategy(summary.expired)
      if (strategy.kind === 'key-walk') {
        // Workers take ranges from one queue, so a range richer in expired rows does not leave
        // the other worker idle.
        const count = o.workers ?? WORKERS
        const queue = await this.keyRanges(count * RANGES_PER_WORKER)
        for (let i = 0; i < count; i++) {
          const c = i === 0 ? conn : await this.c.open()
          if (i > 0) extra.push(c)
          workers.push(this.keyWalk(c, queue, summary, strategy.share))
        }
      } else {
        workers.push(strategy.kind === 'expiry-walk' ? this.expiryWalk(summary) : this.keyList(summary))
      }

      // A worker that fails stops the others; the run counts once their statements under way are done.
      await runWorkers(workers, o, summary, replicas)
      if (o.signal?.aborted) summary.stoppedBy = 'signal'
    } catch (error) {
      throw PartialFailureError.during(storeError(error, this.c.label), summary.deleted, summary.expired)
    } finally {
      await replicas?.close()
      await Promise.allSettled(extra.map(c => c.end()))
      await lock.release()
    }

    return {...summary, seconds: (Date.now() - started) / 1000}
  }

  /**
   * The dry run's batch count, from what the run itself would do: the same strategy, and for the
   * key walk the same key ranges (each takes a batch at least), sized as runWorkers sizes them.
   */
  private async estimate(expired: number, o: CleanupOptions): Promise<{max: number; min: number}> {
    const strategy = await this.strategy(expired)
    if (strategy.kind !== 'key-walk') return estimateBatches(expired, {batchSize: o.batchSize, targetMs: o.targetMs, workers: 1})
    const workers = o.workers ?? WORKERS
    const ranges = (await this.keyRanges(workers * RANGES_PER_WORKER)).length
    return estimateBatches(expired, {
      batchSize: o.batchSize, ranges, targetMs: o.targetMs, workers,
    })
  }

  /** Whether some index starts with the expiry column. */
  private async expiryIndexed(): Promise<boolean> {
    return (await leadingIndex(this.c.conn, this.c.name, this.c.columns.expiry)) !== undefined
  }

  private expiryWalk(summary: CleanupSummary): Batch {
    const sql = `DELETE FROM ${this.table} WHERE ${this.c.condition} ORDER BY ${quote(this.c.columns.expiry)} LIMIT ?`
    return async size => {
      const [result, ms] = await this.timed(summary, () => this.c.conn.query<ResultSetHeader>(sql, [...this.c.params, size]))
      return {deleted: result.affectedRows === 0 ? undefined : result.affectedRows, longestMs: ms}
    }
  }

  private keyList(summary: CleanupSummary): Batch {
    const e = quote(this.c.columns.expiry)
    const k = quote(this.c.columns.key)
    const {condition, params} = this.c
    const first = `SELECT ${k} AS k, ${e} AS e FROM ${this.table} WHERE ${condition} ORDER BY ${e}, ${k} LIMIT ?`
    const next = `SELECT ${k} AS k, ${e} AS e FROM ${this.table} WHERE ${condition} AND (${e} > ? OR (${e} = ? AND ${k} > ?)) ORDER BY ${e}, ${k} LIMIT ?`
    // Where a NULL expiry counts as expired (ExpiryRule.nullMeans), NULLs sort first and compare with nothing.
    const afterNull = `SELECT ${k} AS k, ${e} AS e FROM ${this.table} WHERE ${condition} AND (${e} IS NOT NULL OR ${k} > ?) ORDER BY ${e}, ${k} LIMIT ?`
    const remove = `DELETE FROM ${this.table} WHERE ${k} IN (?) AND ${condition}`
    let position: [unknown, string] | undefined
    return async size => {
      const [rows, selectMs] = await this.timed(summary, () => {
        if (!position) return this.c.conn.query<RowDataPacket[]>(first, [...params, size])
        if (position[0] === null) return this.c.conn.query<RowDataPacket[]>(afterNull, [...params, position[1], size])
        return this.c.conn.query<RowDataPacket[]>(next, [...params, position[0], position[0], position[1], size])
      })
      if (rows.length === 0) return {deleted: undefined, longestMs: selectMs}
      const last = rows.at(-1)!
      position = [last.e, String(last.k)]
      const [result, deleteMs] = await this.timed(summary, () => this.c.conn.query<ResultSetHeader>(remove, [rows.map(r => r.k), ...params]))
      return {deleted: result.affectedRows, longestMs: Math.max(selectMs, deleteMs)}
    }
  }

  /**
   * Key ranges holding about equal numbers of expired rows, from quantiles of a sample of the
   * expired keys (read from the expiry index, cheap). Together they cover every key.
   */
  private async keyRanges(count: number): Promise<Array<[string | undefined, string | undefined]>> {
    const key = quote(this.c.columns.key)
    const [rows] = await this.c.conn.query<RowDataPacket[]>(
      `SELECT k FROM (SELECT ${key} AS k FROM ${this.table} WHERE ${this.c.condition} ORDER BY ${quote(this.c.columns.expiry)} LIMIT ${RANGE_SAMPLE}) s ORDER BY k`,
      this.c.params,
    )
    const bounds: Array<string | undefined> = [undefined]
    for (let i = 1; i < count; i++) {
      const q = rows[Math.floor((rows.length * i) / count)]
      if (q && String(q.k) !== bounds.at(-1)) bounds.push(String(q.k))
    }

    bounds.push(undefined)
    return bounds.slice(1).map((to, i) => [bounds[i], to])
  }

  /**
   * One worker of the key walk. A batch is two statements: an index probe for the key some rows
   * further along the range, then `DELETE … WHERE key > last AND key <= that AND expired`.
   * The delete thus scans a known number of rows, and has no LIMIT, ORDER BY or RETURNING: like the
   * single DELETE, it is deterministic, so a MIXED (default) binary log records it as a statement
   * rather than every deleted row (row events cost a quarter more), and STATEMENT logging is safe.
   */
  private keyWalk(conn: Connection, queue: Array<[string | undefined, string | undefined]>, summary: CleanupSummary, share: number): Batch {
    const key = quote(this.c.columns.key)
    let range: [string | undefined, string | undefined] | undefined
    let last: string | undefined
    const bounds = (from: string | undefined, to: string | undefined): [string[], string[]] => [
      [...(from === undefined ? [] : [`${key} > ?`]), ...(to === undefined ? [] : [`${key} <= ?`])],
      [...(from === undefined ? [] : [from]), ...(to === undefined ? [] : [to])],
    ]
    return async size => {
      if (!range) {
        range = queue.shift()
        if (!range) return {deleted: undefined, longestMs: 0}
        last = range[0]
      }

      const [probeWhere, probeParams] = bounds(last, range[1])
      const probe = `SELECT ${key} AS k FROM ${this.table}${probeWhere.length > 0 ? ` WHERE ${probeWhere.join(' AND ')}` : ''} ORDER BY ${key} LIMIT 1 OFFSET ?`
      // `size` counts rows to delete, as in the other strategies: about size / share rows to scan.
      const span = Math.max(1, Math.round(size / share))
      const [ahead, probeMs] = await this.timed(summary, () => conn.query<RowDataPacket[]>(probe, [...probeParams, span - 1]))
      // Fewer than `size` rows left: this batch finishes the range.
      const end = ahead.length > 0 ? String(ahead[0].k) : range[1]
      const [where, params] = bounds(last, end)
      const sql = `DELETE FROM ${this.table} WHERE ${[...where, `(${this.c.condition})`].join(' AND ')}`
      const [result, ms] = await this.timed(summary, () => conn.query<ResultSetHeader>(sql, [...params, ...this.c.params]))
      if (ahead.length === 0) range = undefined
      else last = end
      return {deleted: result.affectedRows, longestMs: Math.max(probeMs, ms)}
    }
  }

  /**
   * A named server lock (GET_LOCK) held for the connection's life, so two cleanups of the same
   * table never overlap, whichever hosts they run on.
   */
  private async lock(): Promise<{release(): Promise<void>}> {
    const name = cleanupLockName(this.c.name)
    const [rows] = await this.c.conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, 0) AS got', [name])
    if (Number(rows[0].got) !== 1) {
      throw new LockHeldError(`another cleanup of ${this.c.label} is running (lock "${name}" is held); nothing was done`)
    }

    return {
      release: async () => {
        await this.c.conn.query('SELECT RELEASE_LOCK(?)', [name]).catch(() => {})
      },
    }
  }

  /** The strategy, and the share of the table's rows that are expired (from the row estimate). */
  private async strategy(expired: number): Promise<{kind: 'expiry-walk' | 'key-list' | 'key-walk'; share: number}> {
    const [rows] = await this.c.conn.query<RowDataPacket[]>(
      'SELECT @@log_bin AS logBin, @@binlog_format AS format, TABLE_ROWS AS estimate FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [this.c.name.database, this.c.name.table],
    )
    const r = rows[0]
    const share = expired / Math.max(1, Number(r.estimate ?? 0), expired)
    if (share >= KEY_WALK_SHARE) return {kind: 'key-walk', share}
    return {kind: Number(r.logBin) === 1 && String(r.format).toUpperCase() === 'STATEMENT' ? 'key-list' : 'expiry-walk', share}
  }

  /** Runs one statement, retrying deadlocks and lock-wait timeouts with backoff, and times it. */
  private async timed<T>(summary: CleanupSummary, statement: () => Promise<[T, unknown]>): Promise<[T, number]> {
    for (let attempt = 0; ; attempt++) {
      const t0 = performance.now()
      try {
        const [result] = await statement()
        const ms = performance.now() - t0
        summary.maxStatementMs = Math.max(summary.maxStatementMs, ms)
        return [result, ms]
      } catch (error) {
        const {code} = (error as {code?: string})
        if ((code !== 'ER_LOCK_DEADLOCK' && code !== 'ER_LOCK_WAIT_TIMEOUT') || attempt >= MAX_RETRIES) throw error
        summary.retries++
        await sleep(100 * (2 ** attempt))
      }
    }
  }
}

/** The GET_LOCK name cleanup holds for a table (doctor checks that it can be taken). */
export function cleanupLockName(o: {database: string; table: string}): string {
  const name = `sessionctl-cleanup:${o.database}.${o.table}`
  // GET_LOCK names are limited to 64 characters.
  return name.length <= 64 ? name : `sessionctl-cleanup:${createHash('sha1').update(name).digest('hex')}`
}
