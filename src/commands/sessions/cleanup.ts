import {Flags, ux} from '@oclif/core'

import type {CleanupStop, CleanupSummary, SessionStore} from '../../stores/contract.js'

import {
  audited, auditFlags, auditLogPaths, type AuditRun, checkReason,
} from '../../cli/audit.js'
import {type BaseFlags, SessionsCommand} from '../../cli/base-command.js'
import {givenFlags, refuseSqlOnlyFlags} from '../../cli/flag-use.js'
import {MetricsFile, type StoreMetrics} from '../../cli/metrics.js'
import {deletedSoFar, noteDeleted} from '../../cli/output.js'
import {ProgressLog} from '../../cli/progress.js'
import {safeUrl} from '../../cli/redact.js'
import {isoMinute, plural} from '../../cli/render.js'
import {
  failureText, logTime, printError, warn,
} from '../../cli/report.js'
import {
  deletedBefore, ExitCode, exitCodeOf, UsageError,
} from '../../errors.js'
import {checkReplicaUrls} from '../../stores/index.js'

export interface CleanupResult {
  /** When the run ended (ISO 8601, UTC). */
  time: string
  dryRun: boolean
  /** Why the run ended: every store done, or the first reason one stopped early. */
  stoppedBy: 'error' | 'lock-held' | CleanupStop
  deleted: number
  batches: number
  seconds: number
  maxBatchMs: number
  /** The exit code the run ends with (after --exit-zero-on; stoppedBy still says what happened). */
  exitCode?: number
  stores: Array<Record<string, unknown>>
}

type StoreOutcome = {error: Error; store: string} | {store: string; summary: CleanupSummary}

export default class Cleanup extends SessionsCommand {
  static description = `Deletes every expired session of every user, for cron and systemd timers. It never prompts, prints \
one summary line per store (or --json), nothing on stderr unless something is wrong, and exits with a code that tells \
done, lock held, stopped early and error apart.

MySQL/MariaDB: many short statements instead of one unbounded DELETE, each one deleting rows that are expired in the \
same statement that checks it, so a session extended meanwhile survives. With many expired rows (5% or more) it walks \
the table in key order on --workers connections (default 4): DELETE … WHERE key > last AND key <= next AND expired, a \
statement with no LIMIT that replicates deterministically. With few, it walks the expiry index (DELETE … ORDER BY expiry \
LIMIT n), or deletes explicit key lists on a server with binlog_format=STATEMENT. The batch size adapts to keep each \
statement near --target-ms. A GET_LOCK lock keeps two cleanups of one table from overlapping; deadlocks and lock-wait \
timeouts are retried with backoff. --replica/--max-replica-lag pause while a replica is behind.

PostgreSQL: walks the table's pages in short statements (TID ranges; the next expired keys on servers before 14) on \
--workers connections, each deleting a range's expired rows while re-checking the expiry, under lock_timeout 1 s and \
statement_timeout 5 s (retried with backoff). A pg_try_advisory_lock keeps two cleanups of one table from overlapping; \
after a large cleanup it reports the dead tuples left for VACUUM. --replica takes streaming replicas (postgres://…), paused on replay lag.

Redis expires sessions by TTL: cleanup there reports session keys without a TTL whose payload says they expired \
(express cookie.expires); --fix-no-ttl deletes them, and gives live ones their TTL back. --sleep and --sleep-factor pace \
it; --batch-size, --target-ms and --workers apply to SQL stores only.`
  static examples = [
    {command: '<%= config.bin %> <%= command.id %> --store prod', description: 'Delete expired sessions, gently'},
    {command: '<%= config.bin %> <%= command.id %> --store prod --dry-run', description: 'How many, how old, how many batches'},
    {
      command: '<%= config.bin %> <%= command.id %> --store prod --max-runtime 300 --sleep-factor 1 --replica mysql://monitor@replica1/app --max-replica-lag 2',
      description: 'At most 5 minutes, half duty cycle, never more than 2 s ahead of the replica',
    },
  ]
  static flags = {
    ...auditFlags,
    'batch-size': Flags.integer({
      default: 1000, max: 50_000, min: 1, summary: 'Rows in the first batch; later batches follow --target-ms.',
    }),
    'dry-run': Flags.boolean({summary: 'Count what would be deleted (and the batches); delete nothing.'}),
    'exit-zero-on': Flags.string({
      summary: 'Exit 0 on these outcomes, comma-separated: 5 (another run holds the lock), 6 (stopped by --max-runtime or a signal).',
      description: 'For schedulers that count any other exit code as a failure (Kubernetes CronJobs). The output still says what happened; the audit log and --metrics-file keep the real code.',
    }),
    'fix-no-ttl': Flags.boolean({summary: 'Redis: delete expired keys that have no TTL, and give live ones their TTL.'}),
    'json-pretty': Flags.boolean({summary: 'Print the --json document indented (one compact line otherwise, unless stdout is a terminal).'}),
    'max-replica-lag': Flags.integer({min: 0, summary: 'With --replica: pause while a replica is more than this many seconds behind (default 1).'}),
    'max-runtime': Flags.integer({min: 1, summary: 'Stop after this many seconds, at a batch boundary (exit 6: rerun to continue).'}),
    'metrics-file': Flags.string({
      summary: 'Write the run\'s figures to this Prometheus text file (*.prom, for node_exporter\'s textfile collector), atomically, after every run.',
    }),
    progress: Flags.integer({
      max: 86_400, min: 1, summary: 'Without a terminal: print a progress line every this many seconds (to stdout; to stderr with --json).',
    }),
    replica: Flags.string({multiple: true, summary: 'MySQL or PostgreSQL replica URL to watch for lag (repeatable), of the stores’ kind.'}),
    sleep: Flags.integer({
      default: 0, max: 3_600_000, min: 0, summary: 'Pause between batches, in milliseconds (at most an hour).',
    }),
    'sleep-factor': Flags.string({default: '0', summary: 'Also pause this many times the last batch’s duration (1 = at most half the time busy).'}),
    workers: Flags.integer({
      max: 16, min: 1, summary: 'SQL stores: connections deleting in parallel (default: 4 on MySQL\'s key-order walk, 2 on PostgreSQL\'s page walk; 1 is the gentlest).',
    }),
    'target-ms': Flags.integer({
      default: 100, max: 200, min: 5, summary: 'Aim each batch statement at this many milliseconds.',
    }),
  }
  static summary = 'Delete expired sessions in gentle batches (made for cron).'
  private outcomes: StoreOutcome[] = []

  /** JSON on stdout: one compact line (a log line), indented with --json-pretty or on a terminal. */
  override jsonEnabled(): boolean {
    return super.jsonEnabled() || this.beforePassThrough('--json-pretty')
  }

  override logJson(json: unknown): void {
    if (this.beforePassThrough('--json-pretty') || process.stdout.isTTY) super.logJson(json)
    else ux.stdout(JSON.stringify(json))
  }

  async run(): Promise<CleanupResult | undefined> {
    const {flags, metadata} = await this.parse(Cleanup)
    const dryRun = Boolean(flags['dry-run'])
    const zeroOn = exitZeroOn(flags['exit-zero-on'])
    const sleepFactor = Number(flags['sleep-factor'])
    if (!Number.isFinite(sleepFactor) || sleepFactor < 0 || sleepFactor > 100) {
      throw new UsageError(`invalid --sleep-factor "${flags['sleep-factor']}": use a number from 0 to 100`)
    }

    if (dryRun && flags['metrics-file'] !== undefined) throw new UsageError('--metrics-file records deleting runs: drop it for --dry-run')
    // Checked before any store is opened: a bad path is one line, nothing deleted.
    const metrics = flags['metrics-file'] === undefined ? undefined : new MetricsFile(flags['metrics-file'])
    let result: CleanupResult | undefined
    try {
      result = await this.audit(flags, metadata, sleepFactor)
    } catch (error) {
      this.writeMetrics(metrics, flags, exitCodeOf(error) ?? ExitCode.ERROR)
      throw error
    }

    const code = Number(process.exitCode ?? ExitCode.OK)
    let final = zeroOn.has(code) ? ExitCode.OK : code
    // Monitoring that cannot see the run is not a success.
    if (!this.writeMetrics(metrics, flags, code) && final === ExitCode.OK) final = deletedSoFar() > 0 ? ExitCode.PARTIAL : ExitCode.ERROR
    process.exitCode = final
    if (result) result.exitCode = final
    return this.jsonEnabled() ? result : undefined
  }

  private async audit(flags: BaseFlags<typeof Cleanup>, metadata: Parameters<typeof givenFlags>[1], sleepFactor: number): Promise<CleanupResult> {
    const dryRun = Boolean(flags['dry-run'])
    const replicas = [flags.replica ?? []].flat()
    if (flags['max-replica-lag'] !== undefined && replicas.length === 0) throw new UsageError('--max-replica-lag needs at least one --replica')
    checkReason(flags.reason)
    const auditPaths = dryRun ? [] : auditLogPaths(flags['audit-log'], [flags.store ?? []].flat(), flags.config, this.config.configDir)
    const stores = await this.openStores(flags as BaseFlags<typeof SessionsCommand>, {purpose: 'to know which sessions are expired'})
    if (replicas.length > 0) await checkReplicaUrls(stores.map(s => s.label), replicas)
    if (flags['fix-no-ttl'] && !stores.some(s => s.label.startsWith('redis'))) {
      throw new UsageError('--fix-no-ttl applies to Redis stores only (SQL stores keep an expiry per row)')
    }

    // Redis cleanup is one SCAN per node, paced by --sleep/--sleep-factor: no batch size, no workers.
    refuseSqlOnlyFlags(givenFlags(flags, metadata), ['batch-size', 'target-ms', 'workers'], stores)

    const start = {
      command: 'sessions cleanup',
      filters: {expiredOnly: true, fixNoTtl: Boolean(flags['fix-no-ttl'])},
      reason: flags.reason,
      stores: stores.map(s => s.label),
      user: null,
    }
    return audited(auditPaths, start, dryRun, audit => this.clean(flags, stores, replicas, sleepFactor, audit))
  }

  private beforePassThrough(flag: string): boolean {
    const at = this.argv.indexOf(flag)
    const passThrough = this.argv.indexOf('--')
    return at !== -1 && (passThrough === -1 || at < passThrough)
  }

  private async clean(
    flags: BaseFlags<typeof Cleanup>,
    stores: SessionStore[],
    replicas: string[],
    sleepFactor: number,
    audit: AuditRun | undefined,
  ): Promise<CleanupResult> {
    const dryRun = Boolean(flags['dry-run'])
    let stoppedBy: string | undefined
    const signal = this.stopSignal(s => {
      stoppedBy = s
    })
    const started = Date.now()
    const deadline = flags['max-runtime'] === undefined ? undefined : started + (flags['max-runtime'] * 1000)
    const outcomes: StoreOutcome[] = []
    this.outcomes = outcomes
    // Without a terminal the spinner is silent: --progress says where a long run is, in its log.
    const progressLog = flags.progress === undefined || this.progress.onTerminal
      ? undefined
      : new ProgressLog(flags.progress, line => (this.jsonEnabled() ? process.stderr.write(`${line}\n`) : this.log(line)))
    // The trail's `started` line, before the first delete: a trail that cannot take it stops here.
    audit?.begin()
    for (const store of stores) {
      if (signal.aborted) break
      this.progress.start(`Cleaning ${store.label}`)
      const storeStarted = Date.now()
      let done = {batches: 0, deleted: 0}
      progressLog?.start(() => {
        const seconds = (Date.now() - storeStarted) / 1000
        const rate = seconds > 0 ? `, ${Math.round(done.deleted / seconds).toLocaleString('en-US')}/s` : ''
        return done.batches === 0
          ? `${store.label}: no batch done yet (${dryRun ? 'counting' : 'counting, locking or waiting for replicas'}), ${seconds.toFixed(0)} s`
          : `${store.label}: deleted ${plural(done.deleted, 'expired session')} in ${plural(done.batches, 'batch', 'batches')}, ${seconds.toFixed(0)} s${rate}`
      })
      try {
        const summary = await store.cleanupExpired({
          batchSize: flags['batch-size'],
          deadline,
          dryRun,
          fixNoTtl: Boolean(flags['fix-no-ttl']),
          maxReplicaLagS: flags['max-replica-lag'] ?? 1,
          onBatch: p => {
            done = {batches: p.batches, deleted: p.deleted}
            noteDeleted(p.store, p.deleted)
            audit?.progress(p.store, p.deleted)
            this.progress.update('Deleted', p.deleted, 'expired sessions', ` in ${p.batches} batches`)
          },
          onWarning: text => {
            this.progress.stop()
            warn(text)
          },
          replicas,
          signal,
          sleepFactor,
          sleepMs: flags.sleep,
          targetMs: flags['target-ms'],
          workers: flags.workers,
        })
        outcomes.push({store: store.label, summary})
      } catch (error) {
        outcomes.push({error: error as Error, store: store.label})
      } finally {
        progressLog?.stop()
        this.progress.stop()
      }
    }

    const result = this.result(outcomes, dryRun, (Date.now() - started) / 1000)
    const summaries = outcomes.flatMap(o => ('summary' in o ? [o.summary] : []))
    const failures = outcomes.filter((o): o is {error: Error; store: string} => 'error' in o)
    for (const o of outcomes) noteDeleted(o.store, 'summary' in o ? o.summary.deleted : deletedBefore(o.error))
    // A store that failed midway never said how many expired sessions it had: no total then.
    const stale = summaries.reduce((n, s) => n + (s.staleIndex?.removed ?? 0), 0)
    const orphans = summaries.reduce((n, s) => n + (s.orphans?.deleted ?? 0), 0)
    audit?.set({
      deleted: result.deleted,
      ...(failures.length === 0 ? {matched: summaries.reduce((n, s) => n + s.expired, 0)} : {}),
      ...(stale > 0 ? {staleIndexRemoved: stale} : {}),
      ...(orphans > 0 ? {orphansDeleted: orphans} : {}),
    })
    if (failures.length > 0) audit?.noteError(failureText(failures))
    if (result.stoppedBy === 'signal') audit?.noteError(`stopped by ${stoppedBy ?? 'signal'}`)
    if (result.stoppedBy === 'deadline') audit?.noteError('stopped at the --max-runtime cap')
    for (const outcome of outcomes) {
      if ('summary' in outcome) this.log(`${logTime()} ${summaryLine(outcome.summary, dryRun, flags['batch-size'])}`)
    }

    process.exitCode = this.finish(outcomes, result, stoppedBy, exitZeroOn(flags['exit-zero-on']))
    return result
  }

  /**
   * The exit code: error or partial > lock held > stopped early > done. An outcome that
   * --exit-zero-on makes 0 is said on stdout (a normal outcome: no cron mail), as is a stop at
   * the --max-runtime cap, which is the cap doing its job; the code returned is the real one.
   */
  private finish(outcomes: StoreOutcome[], result: CleanupResult, signalName: string | undefined, zeroOn: ReadonlySet<number>): number {
    const failures = outcomes.filter((o): o is {error: Error; store: string} => 'error' in o)
    const locked = failures.filter(f => exitCodeOf(f.error) === ExitCode.LOCKED)
    const broken = failures.filter(f => exitCodeOf(f.error) !== ExitCode.LOCKED)
    const json = this.jsonEnabled()
    if (broken.length > 0) {
      const partial = broken.reduce((n, f) => n + deletedBefore(f.error), 0)
      if (outcomes.length === 1 && !json) throw broken[0].error
      printError(failureText(broken))
      return partial > 0 || result.deleted > 0 ? ExitCode.PARTIAL : ExitCode.ERROR
    }

    if (locked.length > 0) {
      if (zeroOn.has(ExitCode.LOCKED)) {
        if (!json) this.log(`${logTime()} ${failureText(locked)}; exit 0 (--exit-zero-on ${ExitCode.LOCKED})`)
        return ExitCode.LOCKED
      }

      if (outcomes.length === 1 && !json) throw locked[0].error
      printError(failureText(locked))
      return ExitCode.LOCKED
    }

    if (result.stoppedBy === 'signal' || result.stoppedBy === 'deadline') {
      const why = result.stoppedBy === 'signal' ? `stopped by ${signalName ?? 'signal'}` : 'stopped at the --max-runtime cap'
      const line = `${why} after ${plural(result.deleted, 'deleted session')}; rerun to continue`
      if (json) return ExitCode.STOPPED
      if (zeroOn.has(ExitCode.STOPPED)) this.log(`${logTime()} ${line}; exit 0 (--exit-zero-on ${ExitCode.STOPPED})`)
      else if (result.stoppedBy === 'deadline') this.log(`${logTime()} ${line}`)
      else process.stderr.write(`sessionctl: ${line}\n`)
      return ExitCode.STOPPED
    }

    return ExitCode.OK
  }

  private result(outcomes: StoreOutcome[], dryRun: boolean, seconds: number): CleanupResult {
    const summaries = outcomes.flatMap(o => ('summary' in o ? [o.summary] : []))
    const early = summaries.find(s => s.stoppedBy !== 'done')?.stoppedBy
    const failed = outcomes.find((o): o is {error: Error; store: string} => 'error' in o)
    return {
      time: logTime(),
      dryRun,
      stoppedBy: failed ? (exitCodeOf(failed.error) === ExitCode.LOCKED ? 'lock-held' : 'error') : (early ?? 'done'),
      deleted: summaries.reduce((n, s) => n + s.deleted, 0) + outcomes.reduce((n, o) => n + ('error' in o ? deletedBefore(o.error) : 0), 0),
      batches: summaries.reduce((n, s) => n + s.batches, 0),
      seconds,
      maxBatchMs: Math.round(Math.max(0, ...summaries.map(s => s.maxStatementMs))),
      stores: outcomes.map(o =>
        'error' in o
          ? {store: o.store, error: o.error.message, ...(exitCodeOf(o.error) === undefined ? {} : {exitCode: exitCodeOf(o.error)})}
          : {
            ...o.summary,
            maxStatementMs: Math.round(o.summary.maxStatementMs),
            newestExpiry: o.summary.newestExpiry?.toISOString() ?? null,
            oldestExpiry: o.summary.oldestExpiry?.toISOString() ?? null,
          }),
    }
  }

  /** The metrics file, after every run that got past its checks; a failed write is an error, never a silent success. */
  private writeMetrics(metrics: MetricsFile | undefined, flags: BaseFlags<typeof Cleanup>, exitCode: number): boolean {
    if (!metrics) return true
    const stores: StoreMetrics[] = this.outcomes.length > 0
      ? this.outcomes.map(o => ('summary' in o
        ? {
          batches: o.summary.batches,
          deleted: o.summary.deleted,
          durationSeconds: o.summary.seconds,
          expired: o.summary.expired,
          longestStatementSeconds: o.summary.maxStatementMs / 1000,
          store: o.store,
          succeeded: o.summary.stoppedBy === 'done' || o.summary.stoppedBy === 'deadline',
        }
        : {deleted: deletedBefore(o.error), store: o.store, succeeded: false}))
      // No store was opened (unreachable, refused): the stores as given.
      : [flags.store ?? []].flat().map(s => ({deleted: 0, store: safeUrl(s), succeeded: false}))
    try {
      metrics.write(stores, exitCode)
      return true
    } catch (error) {
      printError((error as Error).message)
      return false
    }
  }
}

function summaryLine(s: CleanupSummary, dryRun: boolean, batchSize: number): string {
  const range = s.expired > 0 ? ` (expired ${isoMinute(s.oldestExpiry)} … ${isoMinute(s.newestExpiry)})` : ''
  const ttl = s.noTtl
  const noTtlText = ttl
    ? `; ${plural(ttl.found, 'key')} without TTL: ${ttl.expired} expired${dryRun ? '' : ` (${ttl.deleted} deleted)`}, ${ttl.found - ttl.expired - ttl.noExpiry} live${
      dryRun ? '' : ` (${ttl.ttlSet} given a TTL)`
    }, ${ttl.noExpiry} with no expiry${ttl.found > 0 && !dryRun && ttl.deleted + ttl.ttlSet === 0 ? ' (--fix-no-ttl to fix)' : ''}`
    : ''
  const stale = s.staleIndex
    ? `; ${plural(s.staleIndex.found, 'stale index member')} (session gone) in ${plural(s.staleIndex.sets, 'index set')}${dryRun ? '' : `, ${s.staleIndex.removed} removed`}${
      s.staleIndex.unreadable > 0 ? `, ${plural(s.staleIndex.unreadable, 'unreadable member')} left alone` : ''
    }`
    : ''
  const orphans = s.orphans ? `; ${plural(s.orphans.found, `${s.orphans.table} row`)} of deleted sessions${dryRun ? '' : `, ${s.orphans.deleted} removed`}` : ''
  if (dryRun) {
    const batches = ttl || s.staleIndex || s.expired === 0 ? '' : `, ${batchText(s, batchSize)}`
    return `dry run: ${s.store}: ${plural(s.expired, 'expired session')}${range}${batches}${noTtlText}${stale}${orphans}; nothing was deleted`
  }

  const stop = s.stoppedBy === 'done' ? 'done' : (s.stoppedBy === 'signal' ? 'stopped by signal' : 'stopped at --max-runtime')
  const extra = [
    s.retries > 0 ? plural(s.retries, 'retry', 'retries') : '',
    s.replicaWaitS > 0 ? `${s.replicaWaitS.toFixed(1)} s waiting for replicas` : '',
  ].filter(Boolean).join(', ')
  return `${s.store}: deleted ${plural(s.deleted, 'expired session')} in ${plural(s.batches, 'batch', 'batches')}, ${s.seconds.toFixed(1)} s (longest statement ${Math.round(s.maxStatementMs)} ms${extra ? `; ${extra}` : ''})${noTtlText}${stale}${orphans}; ${stop}`
}

/**
 * The dry run's batches. The run sizes them to --target-ms as the statements go, so the store
 * says the range it would take (fast statements … statements at --target-ms); a store that sizes
 * none adaptively takes --batch-size rows a batch.
 */
function batchText(s: CleanupSummary, batchSize: number): string {
  const e = s.batchEstimate
  if (!e) return `about ${plural(Math.max(1, Math.ceil(s.expired / batchSize)), 'batch', 'batches')}`
  if (e.min === e.max) return `about ${plural(e.min, 'batch', 'batches')}`
  return `${e.min.toLocaleString('en-US')}–${e.max.toLocaleString('en-US')} batches (sized to --target-ms as they run: fewer when statements are fast)`
}

/** What --exit-zero-on may turn into 0: outcomes a scheduler may count as success. Errors never. */
const ZEROABLE: ReadonlyMap<number, string> = new Map([
  [ExitCode.LOCKED, 'lock held'],
  [ExitCode.STOPPED, 'stopped by --max-runtime or a signal'],
])

/** --exit-zero-on 5,6: checked before any I/O; a code that is not sessionctl's, or an error's, is a usage error. */
function exitZeroOn(given: string | undefined): ReadonlySet<number> {
  const codes = new Set<number>()
  if (given === undefined) return codes
  const known = Object.entries(ExitCode).sort((a, b) => a[1] - b[1])
  for (const part of given.split(',')) {
    const text = part.trim()
    if (!/^\d{1,3}$/.test(text)) {
      throw new UsageError(`--exit-zero-on ${JSON.stringify(given)}: give exit codes separated by commas, e.g. --exit-zero-on 5,6`)
    }

    const code = Number(text)
    const name = known.find(([, c]) => c === code)?.[0]
    if (name === undefined) {
      throw new UsageError(`--exit-zero-on: ${code} is not an exit code of sessionctl (${known.map(([n, c]) => `${c} ${n.toLowerCase()}`).join(', ')})`)
    }

    if (!ZEROABLE.has(code)) {
      throw new UsageError(`--exit-zero-on: exit ${code} (${name.toLowerCase()}) cannot be made 0; only ${[...ZEROABLE].map(([c, what]) => `${c} (${what})`).join(' and ')} can`)
    }

    codes.add(code)
  }

  return codes
}
