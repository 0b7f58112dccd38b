/**
 * `cleanup --metrics-file`: the run's figures as a Prometheus text file, for node_exporter's
 * textfile collector (which reads `*.prom` files from one directory at every scrape). The file is
 * written whole or not at all: a temp file in the same directory (a name node_exporter ignores),
 * then rename(2), so a scrape never reads half a file.
 */
import {
  closeSync, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync,
} from 'node:fs'
import {
  basename, dirname, join, resolve,
} from 'node:path'

import {UsageError} from '../errors.js'
import {redact} from './redact.js'

/** One store's figures; those left undefined (a store that failed) are not written. */
export interface StoreMetrics {
  store: string
  deleted: number
  expired?: number
  batches?: number
  durationSeconds?: number
  longestStatementSeconds?: number
  /** The store's cleanup ran to its end or to the --max-runtime cap, without an error. */
  succeeded: boolean
}

const METRICS: ReadonlyArray<{help: string; name: string; pick: (s: StoreMetrics) => number | undefined}> = [
  {help: 'Expired sessions deleted by the last cleanup run.', name: 'sessionctl_cleanup_deleted_sessions', pick: s => s.deleted},
  {help: 'Expired sessions found when the last cleanup run started.', name: 'sessionctl_cleanup_expired_sessions', pick: s => s.expired},
  {help: 'Delete batches of the last cleanup run.', name: 'sessionctl_cleanup_batches', pick: s => s.batches},
  {help: 'Duration of the last cleanup run, in seconds.', name: 'sessionctl_cleanup_duration_seconds', pick: s => s.durationSeconds},
  {help: 'Longest single statement of the last cleanup run, in seconds.', name: 'sessionctl_cleanup_longest_statement_seconds', pick: s => s.longestStatementSeconds},
]
const LAST_RUN = 'sessionctl_cleanup_last_run_timestamp_seconds'
const LAST_SUCCESS = 'sessionctl_cleanup_last_success_timestamp_seconds'
const EXIT_CODE = 'sessionctl_cleanup_exit_code'

/**
 * The store label: the store as cleanup names it, without any password (not even masked: a label
 * value is a series' identity, and the same store must keep one identity whatever the URL held).
 */
export function storeLabel(store: string): string {
  return redact(store).replace(/^([a-z][\d+.a-z-]*:\/\/[^:@/]*):[^@/]*@/i, '$1@')
}

/** A label value as the text format wants it: backslash, double quote and newline escaped. */
function labelValue(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('"', String.raw`\"`).replaceAll('\n', String.raw`\n`)
}

function number(n: number): string {
  if (Number.isNaN(n)) return 'NaN'
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf'
  return String(Number.isInteger(n) ? n : Number(n.toFixed(6)))
}

/**
 * The metrics file, checked before anything is deleted: its directory exists and takes a new file
 * (a temp file is created and removed), and the path is not a directory. A path that does not end
 * in .prom is refused too: node_exporter would never read it.
 */
export class MetricsFile {
  readonly path: string
  private readonly previousSuccess: Map<string, number>

  constructor(given: string) {
    if (given.trim() === '') throw new UsageError('--metrics-file must not be empty: e.g. --metrics-file /var/lib/node_exporter/textfile/sessionctl.prom')
    this.path = resolve(given)
    if (!this.path.endsWith('.prom')) {
      throw new UsageError(`--metrics-file ${given}: node_exporter's textfile collector reads only files named *.prom: e.g. ${join(dirname(this.path), 'sessionctl.prom')}`)
    }

    let isDirectory = false
    try {
      isDirectory = statSync(this.path).isDirectory()
    } catch {}

    if (isDirectory) throw new UsageError(`--metrics-file ${given} is a directory: name a file in it, e.g. ${join(this.path, 'sessionctl.prom')}`)
    const probe = this.tempPath()
    try {
      closeSync(openSync(probe, 'wx', 0o644))
      unlinkSync(probe)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message
      throw new UsageError(`--metrics-file ${given}: cannot create a file in ${dirname(this.path)} (${code}); nothing was deleted`)
    }

    this.previousSuccess = readLastSuccess(this.path)
  }

  /**
   * Writes every store's figures, the run's exit code and time, and each store's last success
   * (this run's, else the one the previous file held). Throws on failure (the caller reports it).
   */
  write(stores: readonly StoreMetrics[], exitCode: number, now = new Date()): void {
    const seconds = Math.floor(now.getTime() / 1000)
    const lines: string[] = []
    const series = (name: string, help: string, values: ReadonlyArray<[string, number | undefined]>): void => {
      const known = values.filter((v): v is [string, number] => v[1] !== undefined)
      if (known.length === 0) return
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`)
      for (const [store, value] of known) lines.push(`${name}{store="${labelValue(store)}"} ${number(value)}`)
    }

    const labelled = stores.map(s => ({...s, store: storeLabel(s.store)}))
    for (const m of METRICS) series(m.name, m.help, labelled.map(s => [s.store, m.pick(s)]))
    series(EXIT_CODE, 'Exit code of the last cleanup run (0 done; 5 lock held; 6 stopped early; see the README), before --exit-zero-on.', labelled.map(s => [s.store, exitCode]))
    series(LAST_RUN, 'When the last cleanup run ended (Unix time).', labelled.map(s => [s.store, seconds]))
    series(LAST_SUCCESS, 'When a cleanup run last completed without error on the store (Unix time).', labelled.map(s => [s.store, s.succeeded ? seconds : this.previousSuccess.get(s.store)]))
    const text = `${lines.join('\n')}\n`
    const temp = this.tempPath()
    let fd: number | undefined
    try {
      fd = openSync(temp, 'wx', 0o644)
      // Readable by node_exporter whatever the umask (systemd's UMask=0077): it holds no secret.
      fchmodSync(fd, 0o644)
      writeSync(fd, text)
      fsyncSync(fd)
      closeSync(fd)
      fd = undefined
      renameSync(temp, this.path)
    } catch (error) {
      if (fd !== undefined) closeSync(fd)
      try {
        unlinkSync(temp)
      } catch {}

      throw new Error(`cannot write the metrics file ${this.path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
    }
  }

  /** In the same directory (rename(2) is atomic only within a file system), not named *.prom. */
  private tempPath(): string {
    return join(dirname(this.path), `.${basename(this.path)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`)
  }
}

/** The last-success times a previous file holds, by store label; nothing when there is none or it is unreadable. */
function readLastSuccess(path: string): Map<string, number> {
  const found = new Map<string, number>()
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return found
  }

  for (const line of text.split('\n')) {
    const m = /^sessionctl_cleanup_last_success_timestamp_seconds\{store="((?:[^"\\]|\\.)*)"\} (\d+(?:\.\d+)?)$/.exec(line)
    if (m) found.set(m[1].replaceAll(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)), Number(m[2]))
  }

  return found
}
