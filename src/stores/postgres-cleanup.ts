import type pg from 'pg'

import type {CleanupOptions, CleanupSummary} from './contract.js'
import type {Replica} from './replica-watch.js'

import {safeUrl} from '../cli/redact.js'
import {
  LockHeldError, PartialFailureError, StoreError, UsageError,
} from '../errors.js'
import {
  type Batch, estimateBatches, newCleanupSummary, runWorkers, sleep,
} from './pacing.js'
import {
  connect, LOCK_TIMEOUT_S, parsePostgresUrl, type PgConnection, pgError, type PostgresStore, type PostgresTarget, quoteIdent,
} from './postgres.js'
import {ReplicaWatch} from './replica-watch.js'

const MAX_RETRIES = 5
const CLEANUP_LOCK_TIMEOUT_S = 1
/** Every cleanup statement runs under these (session settings of the cleanup's connections). */
const CLEANUP_SETTINGS = [`SET lock_timeout = '${CLEANUP_LOCK_TIMEOUT_S}s'`, "SET statement_timeout = '5s'"]
/** Connections deleting page ranges in parallel (--workers). */
const WORKERS = 2
/** TID range scans (the page walk) came with PostgreSQL 14; older servers walk the expiry condition. */
const TID_RANGE_VERSION = 140_000
/** A cleanup that deleted this many rows reports the dead tuples they left and how VACUUM returns the space. */
const VACUUM_HINT_ROWS = 10_000
/** The advisory lock's two keys: our namespace, then the table's name (apps' own one-key locks never collide with it). */
export const LOCK_KEYS = "hashtext('sessionctl'), hashtext($1)"
const STATEMENT_TIMEOUT = '57014'
const TOO_MANY_CONNECTIONS = '53300'
const RETRYABLE = new Set(['40P01', '55P03', '40001', STATEMENT_TIMEOUT])

export interface PgCleanupContext {
  connection: PgConnection
  store: PostgresStore
  label: string
  target: PostgresTarget
  /** SQL that is true for an expired row by the framework's cleanup rule ($1…), and its parameters. */
  condition: string
  params: unknown[]
  expiryDate(value: unknown): Date | null
}

/**
 * The PostgreSQL expired-session cleanup: many short statements instead of one DELETE, under an
 * advisory lock, paced, watching replicas, stopping between batches.
 *
 * The batches walk the table's pages (PostgreSQL ≥ 14, a TID range scan): `DELETE … WHERE ctid
 * >= (a,0) AND ctid < (b,0) AND expired`, on --workers connections taking ranges from one walk.
 * Like the single DELETE (a sequential scan) it reads each page once and needs no index; the page
 * span follows the expired rows per page seen so far and the statement time. Older servers, and
 * partitioned tables, take the next expired keys instead (`key = ANY(… LIMIT n) AND expired`), down
 * the expiry index. Every delete states the expiry predicate itself, so a session extended meanwhile
 * survives; a row another transaction holds is waited for at most lock_timeout (1 s), then the
 * batch is retried.
 */
export class PostgresCleanup {
  constructor(private readonly c: PgCleanupContext) {}

  async run(o: CleanupOptions): Promise<CleanupSummary> {
    const started = Date.now()
    const {client} = this.c.connection
    const {store} = this.c
    const summary = newCleanupSummary(this.c.label)
    const pageWalk = this.c.connection.facts.version >= TID_RANGE_VERSION && store.name.kind === 'r'
    if (!pageWalk && !store.columns.expiryIndexed) {
      const {schema, table} = store.name
      o.onWarning?.(`${this.c.label}: the expiry column ${store.columns.expiry} has no index, so every batch scans the table; add one: CREATE INDEX ON ${schema}.${table} (${store.columns.expiry})`)
    }

    const {rows: stats} = await client.query<{n: string; newest: null | string; oldest: null | string}>(
      `SELECT count(*) AS n, min(${store.expirySelect()}) AS oldest, max(${store.expirySelect()}) AS newest FROM ${store.table} WHERE ${this.c.condition}`,
      this.c.params,
    )
    summary.expired = Number(stats[0].n)
    summary.oldestExpiry = this.c.expiryDate(stats[0].oldest)
    summary.newestExpiry = this.c.expiryDate(stats[0].newest)
    if (o.dryRun && summary.expired > 0) {
      // The run's own sizing: the page walk's workers share the rows; the key walk has one.
      summary.batchEstimate = estimateBatches(summary.expired, {batchSize: o.batchSize, targetMs: o.targetMs, workers: pageWalk ? Math.max(1, o.workers ?? WORKERS) : 1})
    }

    if (o.dryRun || summary.expired === 0) return {...summary, seconds: (Date.now() - started) / 1000}

    await this.lock()
    let replicas: ReplicaWatch | undefined
    const extra: PgConnection[] = []
    try {
      await client.query(CLEANUP_SETTINGS.join('; '))
      replicas = o.replicas?.length ? await ReplicaWatch.open(o.replicas, o.maxReplicaLagS ?? 1, url => openPostgresReplica(url, this.c.target.config.connectionTimeoutMillis)) : undefined
      const batches: Batch[] = []
      if (pageWalk) {
        // Workers take page ranges from one walk, each on its own connection: a DELETE runs on one
        // core, and the single DELETE it is measured against may not.
        const walk = await this.pageWalk(summary)
        const count = Math.max(1, o.workers ?? WORKERS)
        for (let i = 1; i < count; i++) {
          try {
            extra.push(await connect(this.c.target, CLEANUP_SETTINGS))
          } catch (error) {
            // connect() reports a StoreError; the server's code is its cause's.
            if ((error as {cause?: {code?: string}}).cause?.code !== TOO_MANY_CONNECTIONS) throw error
            throw new StoreError(`${(error as Error).message}: cleanup deletes on ${count} connections (--workers); rerun with --workers ${i}`, {cause: error})
          }
        }

        for (const c of [client, ...extra.map(e => e.client)]) batches.push(walk(c))
      } else {
        batches.push(this.keyWalk(summary))
      }

      await runWorkers(batches, o, summary, replicas)
      if (o.signal?.aborted) summary.stoppedBy = 'signal'
    } catch (error) {
      // A batch statement gives up on a held lock only after its retries, each wait cut at the cleanup's own lock_timeout.
      const failure = (error as {code?: string}).code === '55P03'
        ? new StoreError(`a lock on ${this.c.label} stayed held by another transaction through ${MAX_RETRIES + 1} waits of ${CLEANUP_LOCK_TIMEOUT_S} s each (a long transaction, or an ALTER TABLE?): nothing more was done`, {cause: error})
        : pgError(error, this.c.label)
      throw PartialFailureError.during(failure, summary.deleted, summary.expired)
    } finally {
      await replicas?.close()
      await Promise.allSettled(extra.map(e => e.end().catch(() => e.destroy())))
      await client.query(`RESET statement_timeout; SET lock_timeout = '${LOCK_TIMEOUT_S}s'`).catch(() => {})
      await client.query(`SELECT pg_advisory_unlock(${LOCK_KEYS})`, [this.lockName()]).catch(() => {})
    }

    if (summary.deleted >= VACUUM_HINT_ROWS) await this.vacuumHint(summary, o)
    return {...summary, seconds: (Date.now() - started) / 1000}
  }

  /**
   * The statement deleting the expired rows `where` selects, and with them, when no cascading
   * foreign key does, the child rows of the sessions deleted (Spring's attributes): `n` rows
   * deleted, `orphans` child rows. Sets summary.orphans when there are child rows to delete.
   */
  private deleteStatement(where: string, summary: CleanupSummary): string {
    const {store} = this.c
    const {children} = store.columns
    const orphans = children && !children.cascade
    if (orphans) summary.orphans ??= {deleted: 0, found: 0, table: children.table}
    return [
      `WITH d AS (DELETE FROM ${store.table} WHERE ${where} AND ${this.c.condition}`,
      `RETURNING ${orphans ? quoteIdent(children.references) : '1'} AS ref)`,
      orphans ? `, o AS (DELETE FROM ${store.childTable()} WHERE ${quoteIdent(children.column)} IN (SELECT ref FROM d) RETURNING 1)` : '',
      `SELECT (SELECT count(*) FROM d) AS n${orphans ? ', (SELECT count(*) FROM o) AS orphans' : ''}`,
    ].join(' ')
  }

  /** The next expired keys, down the expiry index (servers before 14, partitioned tables). */
  private keyWalk(summary: CleanupSummary): Batch {
    const {store} = this.c
    const {client} = this.c.connection
    const key = quoteIdent(store.columns.key)
    const limit = `$${this.c.params.length + 1}`
    const sql = this.deleteStatement(`${key} = ANY(ARRAY(SELECT ${key} FROM ${store.table} WHERE ${this.c.condition} LIMIT ${limit}))`, summary)
    return async size => {
      const [result, ms] = await retried(summary, () => client.query<{n: string; orphans?: string}>(sql, [...this.c.params, size]), () => {
        size = Math.max(1, Math.floor(size / 2))
      })
      return {deleted: countDeleted(summary, result.rows[0]) || undefined, longestMs: ms}
    }
  }

  /**
   * A session-level advisory lock, held for the connection's life, so two cleanups of the same
   * table never overlap, whichever hosts they run on (released at the end, or by the server when
   * the connection goes).
   */
  private async lock(): Promise<void> {
    const name = this.lockName()
    const {rows} = await this.c.connection.client.query<{got: boolean | string}>(`SELECT pg_try_advisory_lock(${LOCK_KEYS}) AS got`, [name])
    if (String(rows[0].got) !== 't' && String(rows[0].got) !== 'true') {
      throw new LockHeldError(`another cleanup of ${this.c.label} is running (advisory lock on "${name}" is held); nothing was done`)
    }
  }

  private lockName(): string {
    return cleanupLockName(this.c.target.database, this.c.store.name)
  }

  /**
   * Pages in TID ranges. `size` counts rows to delete (as in every strategy): the span is that
   * many rows at the expired rows per page seen so far (from the estimate, then from the batches).
   */
  private async pageWalk(summary: CleanupSummary): Promise<(client: pg.Client) => Batch> {
    const {store} = this.c
    const pagesNow = async (): Promise<number> => {
      const {rows} = await this.c.connection.client.query<{pages: string}>(
        "SELECT pg_relation_size($1::oid) / current_setting('block_size')::int AS pages",
        [store.name.oid],
      )
      return Number(rows[0].pages)
    }

    let pages = await pagesNow()
    let extended = false
    // Expired rows per page: the count over the pages to begin with, then what the batches found (or what is left).
    let density = Math.max(0.01, summary.expired / Math.max(1, pages))
    let seenPages = 0
    let seenRows = 0
    let position = 0
    const sql = this.deleteStatement(`ctid >= $${this.c.params.length + 1}::tid AND ctid < $${this.c.params.length + 2}::tid`, summary)
    // A range whose statement runs into statement_timeout is deleted in halves (a retry of the
    // whole range would time out again); other failures are retried as they are.
    const deleteRange = async (client: pg.Client, from: number, to: number): Promise<[number, number]> => {
      const splittable = to - from > 1
      try {
        const [result, ms] = await retried(
          summary,
          () => client.query<{n: string; orphans?: string}>(sql, [...this.c.params, `(${from},0)`, `(${to},0)`]),
          undefined,
          splittable ? STATEMENT_TIMEOUT : undefined,
        )
        return [countDeleted(summary, result.rows[0]), ms]
      } catch (error) {
        if (!splittable || (error as {code?: string}).code !== STATEMENT_TIMEOUT) throw error
        summary.retries++
        const middle = from + Math.floor((to - from) / 2)
        const [first, firstMs] = await deleteRange(client, from, middle)
        const [second, secondMs] = await deleteRange(client, middle, to)
        return [first + second, Math.max(firstMs, secondMs)]
      }
    }

    return client => async size => {
      if (position >= pages) {
        // Pages added while the walk ran: walk them too, once.
        if (extended) return {deleted: undefined, longestMs: 0}
        extended = true
        pages = await pagesNow()
        if (position >= pages) return {deleted: undefined, longestMs: 0}
      }

      // This worker's range, taken before the statement runs, so the others go on from its end.
      const from = position
      const span = Math.max(1, Math.min(pages - from, Math.round(size / density)))
      position += span
      const [deleted, ms] = await deleteRange(client, from, from + span)
      seenPages += span
      seenRows += deleted
      // What the batches found, but never below the expired rows still to find over the pages
      // still to walk: pages found empty (cleaned by a run that stopped early) must not make the
      // next range span the rest of the table.
      density = Math.max(0.01, seenRows / seenPages, Math.max(0, summary.expired - seenRows) / Math.max(1, pages - position))
      return {deleted, longestMs: ms}
    }
  }

  /** Deleted rows stay as dead tuples until VACUUM: say so, with the figure and the command, after a large cleanup. */
  private async vacuumHint(summary: CleanupSummary, o: CleanupOptions): Promise<void> {
    const {schema, table} = this.c.store.name
    try {
      // The statistics may lag the deletes; the table's own autovacuum_enabled overrides the server's setting.
      const {rows} = await this.c.connection.client.query<{auto: boolean | string; dead: null | string}>(
        `SELECT (SELECT n_dead_tup FROM pg_stat_all_tables WHERE relid = $1::oid) AS dead,
                current_setting('autovacuum') = 'on' AND COALESCE((SELECT option_value FROM pg_options_to_table((SELECT reloptions FROM pg_class WHERE oid = $1::oid))
                WHERE option_name = 'autovacuum_enabled'), 'true') NOT IN ('false', 'off', '0') AS auto`,
        [this.c.store.name.oid],
      )
      const dead = Math.max(Number(rows[0]?.dead ?? 0), summary.deleted)
      const auto = String(rows[0]?.auto) === 't' || String(rows[0]?.auto) === 'true' ? 'autovacuum will do so' : 'autovacuum is off for it'
      summary.deadTuples = dead
      o.onWarning?.(`${this.c.label}: the ${summary.deleted.toLocaleString('en-US')} deleted rows stay as dead tuples (about ${dead.toLocaleString('en-US')}) until VACUUM makes their space reusable; ${auto}, or run VACUUM (ANALYZE) ${schema}.${table}`)
    } catch {
      // The hint is advice: a statistics view we may not read does not fail the cleanup.
    }
  }
}

/** A delete statement's row: the sessions it deleted; its child rows added to summary.orphans. */
function countDeleted(summary: CleanupSummary, row: {n: string; orphans?: string}): number {
  if (summary.orphans && row.orphans !== undefined) {
    summary.orphans.deleted += Number(row.orphans)
    summary.orphans.found += Number(row.orphans)
  }

  return Number(row.n)
}

/**
 * Runs one cleanup statement, timed (summary.maxStatementMs): a lock or statement timeout, a
 * deadlock or a serialization failure is retried after a backoff, with a smaller batch (`shrink`),
 * at most MAX_RETRIES times; an error with the code `notRetried` is thrown at once (the caller
 * handles it otherwise).
 */
async function retried<T>(summary: CleanupSummary, statement: () => Promise<T>, shrink?: () => void, notRetried?: string): Promise<[T, number]> {
  for (let attempt = 0; ; attempt++) {
    const t0 = performance.now()
    try {
      const result = await statement()
      const ms = performance.now() - t0
      summary.maxStatementMs = Math.max(summary.maxStatementMs, ms)
      return [result, ms]
    } catch (error) {
      summary.maxStatementMs = Math.max(summary.maxStatementMs, performance.now() - t0)
      const code = String((error as {code?: string}).code)
      if (!RETRYABLE.has(code) || code === notRetried || attempt >= MAX_RETRIES) throw error
      summary.retries++
      shrink?.()
      await sleep(100 * (2 ** attempt))
    }
  }
}

/** The advisory lock name cleanup takes for a table (LOCK_KEYS; doctor checks that it can be taken). */
export function cleanupLockName(database: string, name: {schema: string; table: string}): string {
  return `sessionctl-cleanup:${database}.${name.schema}.${name.table}`
}

/**
 * Refuses a replica URL that could never connect (not postgres://, unparsable, unknown options)
 * with a usage error, before anything else runs.
 */
export function checkPostgresReplicas(urls: readonly string[]): void {
  for (const url of urls) {
    if (!/^postgres(?:ql)?:\/\//i.test(url)) throw new UsageError(`invalid --replica "${safeUrl(url)}": expected postgres://user@host:5432/database`)
    parsePostgresUrl(url)
  }
}

/**
 * A PostgreSQL streaming replica: its lag is how long ago the last replayed transaction
 * committed on the primary, or 0 when it has replayed everything it received; null when its WAL
 * receiver is not streaming.
 */
export async function openPostgresReplica(url: string, connectTimeoutMs?: number): Promise<Replica> {
  const target = parsePostgresUrl(url, connectTimeoutMs)
  const label = `replica ${target.label}`
  let connection: PgConnection
  try {
    connection = await connect(target)
  } catch (error) {
    // Connection errors name the host and port: say which of the URLs it is.
    const failure = pgError(error, label, target)
    throw failure.message.includes(label) ? failure : new StoreError(`replica ${failure.message}`, {cause: error})
  }

  return {
    async close() {
      await connection.end().catch(() => connection.destroy())
    },
    label: target.label,
    async lag() {
      try {
        const {rows} = await connection.client.query<{lag: null | string; standby: string; streaming: string}>(`SELECT pg_is_in_recovery() AS standby,
          (SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming') AS streaming,
          CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
               ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END AS lag`)
        const [row] = rows
        if (row.standby !== 't' && row.standby !== 'true') throw new StoreError(`${label}: it is not a replica (pg_is_in_recovery() is false)`)
        if (Number(row.streaming) === 0 || row.lag === null) return null
        return Math.max(0, Number(row.lag))
      } catch (error) {
        throw pgError(error, label)
      }
    },
  }
}
