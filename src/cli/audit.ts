/* eslint-disable no-bitwise -- open(2) flags and file modes are bit fields */
import {Flags} from '@oclif/core'
import {randomUUID} from 'node:crypto'
import {
  closeSync, constants, fstatSync, ftruncateSync, openSync, writeSync,
} from 'node:fs'
import {hostname, userInfo} from 'node:os'
import {dirname, resolve} from 'node:path'

import {
  ExitCode, exitCodeOf, SessionctlError, UsageError,
} from '../errors.js'
import {type ConfigFile, loadConfig, profileAuditLogs} from './config.js'
import {deletedSoFar, outputFailure} from './output.js'
import {redact} from './redact.js'
import {plural} from './render.js'
import {printError, warn} from './report.js'

/**
 * The audit trail of deleting runs: one JSON line per `purge`/`cleanup` run without --dry-run,
 * appended to the file(s) the operator asked for (--audit-log, $SESSIONCTL_AUDIT_LOG, or the
 * `auditLog` setting of the profiles in use). The file is opened before anything is read (a regular
 * file only, never through a symbolic link, created 0600), and a `started` line is written right
 * before the first delete: a trail that cannot be written stops the run before anything is deleted,
 * and a run killed with SIGKILL still leaves its `started` line. The `finished` line is written when
 * the run ends, whatever the ending (done, failed midway, stopped by a signal, refused by
 * --max-sessions), and also from an exit handler if the process exits abruptly (a second signal).
 * Both lines of one run carry the same `run` id.
 *
 * The line never holds a raw session key (fingerprints only, even with --show-keys), a password
 * (store labels are already masked; every free-text value passes through redact()) or a secret key.
 */

export type AuditOutcome = 'failed' | 'incomplete' | 'ok' | 'partial' | 'refused' | 'stopped'

/** Fingerprints kept in one line at most; beyond that only the count is written. */
export const MAX_AUDIT_KEYS = 10_000

export interface AuditStart {
  command: string
  filters: Record<string, unknown>
  /** --reason, as given. */
  reason: string | undefined
  stores: string[]
  user: null | string
}

export interface AuditCounts {
  changed?: number
  deleted: number
  gone?: number
  kept?: number
  matched?: number
  /** Rows of deleted sessions' child tables swept by cleanup (SqlLayout.children without a cascade). */
  orphansDeleted?: number
  /** Per-user index members whose session was gone, removed (RedisLayout.userIndex). */
  staleIndexRemoved?: number
}

/**
 * Where the line goes: --audit-log / $SESSIONCTL_AUDIT_LOG if given (it replaces profile settings,
 * as every flag does); else every distinct `auditLog` of the profiles named by --store, and of the
 * profiles they list, so each profile's own trail gets the line. Relative profile paths are relative
 * to the config file. Store URLs given directly bring no audit log.
 */
export function auditLogPaths(
  flag: string | undefined,
  storeValues: readonly string[],
  configFlag: string | undefined,
  configDir: string,
): string[] {
  if (flag !== undefined) {
    if (flag.trim() === '') throw new UsageError('--audit-log must not be empty')
    return [resolve(flag)]
  }

  const needsConfig = configFlag !== undefined || storeValues.some(v => !/^[a-z][\d+.a-z-]*:\/\//i.test(v))
  if (!needsConfig) return []
  const config: ConfigFile | undefined = loadConfig(configFlag, configDir)
  if (!config) return []
  const paths = profileAuditLogs(storeValues, config).map(p => resolve(dirname(config.path), p))
  return [...new Set(paths)]
}

/** The flags both deleting commands take. */
export const auditFlags = {
  'audit-log': Flags.string({
    env: 'SESSIONCTL_AUDIT_LOG',
    summary: 'Append one JSON line per deleting run (not --dry-run) to this file (created 0600), opened before anything is deleted.',
    description: [
      'Replaces the "auditLog" setting of the profiles in use. Without this flag, every profile named by --store,',
      'or listed by one, that sets "auditLog" gets the line (a relative path there is relative to the config file).',
      'A file that cannot be opened for appending stops the run before anything is deleted (exit 1).',
    ].join(' '),
  }),
  reason: Flags.string({summary: 'Why this run deletes (a ticket, an incident): recorded in the audit log.'}),
}

/** --reason must say something; checked before any I/O. */
export function checkReason(reason: string | undefined): void {
  if (reason !== undefined && reason.trim() === '') throw new UsageError('--reason must not be empty')
}

/**
 * Opens every audit log for appending, or says why it cannot: before anything is read. Only a
 * regular file will do: a FIFO would block the run (O_NONBLOCK makes its open fail or return at
 * once, and fstat refuses it), /dev/full or a terminal would swallow or lose the line, and a
 * symbolic link placed by someone else could point the line anywhere (O_NOFOLLOW).
 */
export function openAuditLog(paths: readonly string[], start: AuditStart): AuditRun | undefined {
  if (paths.length === 0) return undefined
  const files: Array<{fd: number; path: string}> = []
  const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK
  for (const path of paths) {
    let fd: number | undefined
    try {
      fd = openSync(path, flags, 0o600)
      const stat = fstatSync(fd)
      if (!stat.isFile()) throw Object.assign(new Error('not a regular file'), {code: 'not a regular file'})
      // Whoever owns or may write the file can rewrite the trail afterwards.
      const uid = process.geteuid?.()
      if (uid !== undefined && stat.uid !== uid) warn(`the audit log ${path} belongs to uid ${stat.uid}, not to this user: its owner can rewrite it`)
      else if ((stat.mode & 0o022) !== 0) warn(`the audit log ${path} is writable by others (mode ${(stat.mode & 0o777).toString(8)}): chmod go-w it`)
      files.push({fd, path})
    } catch (error) {
      if (fd !== undefined) closeSync(fd)
      for (const f of files) closeSync(f.fd)
      const e = error as NodeJS.ErrnoException
      const why = e.code === 'ELOOP' ? 'a symbolic link: name the file itself' : (e.code === 'ENXIO' ? 'not a regular file' : (e.code ?? e.message))
      throw new SessionctlError(`cannot open the audit log ${path} for appending (${why}); nothing was deleted`, ExitCode.ERROR)
    }
  }

  return new AuditRun(files, start)
}

/**
 * Runs a deleting command's work under its audit trail: opened before `run` starts (so nothing is
 * deleted without the trail asked for), its line written when `run` ends, with the exit code it
 * leaves or the error it throws. A final line that cannot be written is an error that says what
 * was deleted (exit 4 when something was, else 1), never a success. Without a trail, a --reason is
 * warned about: it is recorded nowhere else.
 */
export async function audited<T>(
  paths: readonly string[],
  start: AuditStart,
  dryRun: boolean,
  run: (audit: AuditRun | undefined) => Promise<T>,
): Promise<T> {
  const audit = openAuditLog(paths, start)
  if (!audit && !dryRun && start.reason !== undefined) warn('--reason is recorded only in an audit log, and none is set (--audit-log)')
  let result: T
  try {
    result = await run(audit)
  } catch (error) {
    const failed = audit?.finish(exitCodeOf(error) ?? ExitCode.ERROR, error)
    if (failed) printError(failed.message)
    throw error
  }

  // A report lost to a full disk is not a success, and the line says so. (A --json document is
  // printed after the line, so that a line that cannot be written is never followed by success.)
  const lost = await outputFailure()
  if (lost) {
    audit?.noteError(`its report could not be written to standard output (${lost})`)
    if (!process.exitCode) process.exitCode = deletedSoFar() > 0 ? ExitCode.PARTIAL : ExitCode.ERROR
  }

  const failed = audit?.finish(Number(process.exitCode ?? ExitCode.OK))
  if (failed) throw failed
  return result
}

/** The OS account running the tool (and the one behind sudo, if any). */
export function osUser(): string {
  try {
    return userInfo().username
  } catch {
    // A container without a passwd entry for the uid.
    return process.env.USER ?? process.env.LOGNAME ?? `uid ${process.getuid?.() ?? '?'}`
  }
}

/** What the exit code says, in the words of the audit line. */
export function outcomeOf(exitCode: number): AuditOutcome {
  const outcomes: Record<number, AuditOutcome> = {
    [ExitCode.INCOMPLETE]: 'incomplete', [ExitCode.OK]: 'ok', [ExitCode.PARTIAL]: 'partial', [ExitCode.REFUSED]: 'refused', [ExitCode.STOPPED]: 'stopped',
    // The second signal exits at once with 130 (base-command).
    [ExitCode.SIGNALLED]: 'stopped',
  }
  return outcomes[exitCode] ?? 'failed'
}

/**
 * One deleting run. Counts are set as the run goes (`progress` keeps a live per-store count for an
 * abrupt exit); `finish` writes the line once. `skip` drops it (the operator declined the prompt).
 */
export class AuditRun {
  private counts: AuditCounts = {deleted: 0}
  private done = false
  /** An error the run reported without throwing (one store of several failed). */
  private errorText: string | undefined
  /** Ties a run's `started` and `finished` lines together. */
  private readonly id = randomUUID()
  private keys: string[] = []
  private readonly live = new Map<string, number>()
  private readonly onExit = (code: number): void => {
    const deleted = [...this.live.values()].reduce((n, d) => n + d, 0)
    this.counts.deleted = Math.max(this.counts.deleted, deleted)
    // 130: the second signal (base-command), which exits without waiting for the batch under way.
    const failed = this.finish(code === 0 ? ExitCode.STOPPED : code, 'exited at a second signal, without waiting for the batch under way (not counted)')
    if (failed) printError(failed.message)
  }
  private readonly started = Date.now()

  constructor(private readonly files: Array<{fd: number; path: string}>, private readonly start: AuditStart) {
    process.on('exit', this.onExit)
  }

  /** Sessions deleted so far, as the run has counted them. */
  get deleted(): number {
    return Math.max(this.counts.deleted, [...this.live.values()].reduce((n, d) => n + d, 0))
  }

  /**
   * Writes the `started` line, right before the first delete: the proof that the trail takes
   * lines. A trail that refuses it stops the run, nothing deleted (the caller has not begun).
   */
  begin(selected?: number): void {
    const failed = this.write({
      time: new Date().toISOString(), event: 'started', run: this.id, ...this.who(), ...(selected === undefined ? {} : {selected}),
    })
    if (failed.length > 0) {
      this.closeFiles()
      this.done = true
      process.off('exit', this.onExit)
      throw new SessionctlError(redact(`cannot write the audit log ${failed.join(', ')}; nothing was deleted`), ExitCode.ERROR)
    }
  }

  /**
   * Writes the `finished` line (once) and closes the files. Returns the error to report when the
   * line could not be written: the deletes happened, and the trail does not show them.
   */
  finish(exitCode: number, error?: unknown): SessionctlError | undefined {
    if (this.done) return undefined
    this.done = true
    process.off('exit', this.onExit)
    const failed = this.write(this.line(exitCode, error ?? this.errorText))
    this.closeFiles()
    if (failed.length === 0) return undefined
    const {deleted} = this
    return new SessionctlError(
      redact(`${plural(deleted, 'session')} ${deleted === 1 ? 'was' : 'were'} deleted, but the audit line could not be written to ${failed.join(', ')}`),
      deleted > 0 ? ExitCode.PARTIAL : ExitCode.ERROR,
    )
  }

  /** Records what went wrong when the run reports it without throwing (kept if several). */
  noteError(text: string): void {
    this.errorText = this.errorText === undefined ? text : `${this.errorText}; ${text}`
  }

  /** A store's running count of deleted sessions, for a line written at an abrupt exit. */
  progress(store: string, deleted: number): void {
    this.live.set(store, deleted)
  }

  /** The sessions the run selected for deletion, as fingerprints. */
  selected(fingerprints: string[]): void {
    this.keys = fingerprints
  }

  set(counts: AuditCounts): void {
    this.counts = counts
  }

  /** No line: the run deleted nothing by the operator's choice (declined at the prompt). */
  skip(): void {
    if (this.done) return
    this.done = true
    process.off('exit', this.onExit)
    this.closeFiles()
  }

  private closeFiles(): void {
    for (const {fd} of this.files) {
      try {
        closeSync(fd)
      } catch {}
    }
  }

  private line(exitCode: number, error: unknown): Record<string, unknown> {
    const outcome = outcomeOf(exitCode)
    const c = this.counts
    const message = error === undefined ? undefined : (typeof error === 'string' ? error : ((error as Error)?.message ?? String(error)))
    const who = this.who()
    return {
      time: new Date().toISOString(),
      event: 'finished',
      run: this.id,
      command: who.command,
      outcome,
      exitCode,
      ...who,
      ...(c.matched === undefined ? {} : {matched: c.matched}),
      deleted: c.deleted,
      ...(c.kept === undefined ? {} : {kept: c.kept}),
      ...(c.changed === undefined ? {} : {changed: c.changed}),
      ...(c.gone === undefined ? {} : {gone: c.gone}),
      ...(c.staleIndexRemoved === undefined ? {} : {staleIndexRemoved: c.staleIndexRemoved}),
      ...(c.orphansDeleted === undefined ? {} : {orphansDeleted: c.orphansDeleted}),
      // cleanup's lines carry counts, not keys; revoke's (no user) name what it selected.
      ...(this.start.user === null && this.keys.length === 0
        ? {}
        : {keys: this.keys.slice(0, MAX_AUDIT_KEYS), ...(this.keys.length > MAX_AUDIT_KEYS ? {keysOmitted: this.keys.length - MAX_AUDIT_KEYS} : {})}),
      durationMs: Date.now() - this.started,
      ...(message === undefined || outcome === 'ok' ? {} : {error: redact(firstLine(message))}),
    }
  }

  /** Who ran what, where and why: the same in both lines of a run. */
  private who(): Record<string, unknown> {
    const sudoUser = process.env.SUDO_USER
    return {
      command: this.start.command,
      osUser: osUser(),
      ...(sudoUser ? {sudoUser} : {}),
      host: hostname(),
      pid: process.pid,
      reason: this.start.reason === undefined ? null : redact(this.start.reason),
      stores: this.start.stores.map(s => redact(s)),
      user: this.start.user,
      filters: this.start.filters,
    }
  }

  /** Appends one line to every file; the files it could not be written to, with why. */
  private write(record: Record<string, unknown>): string[] {
    const line = Buffer.from(`${JSON.stringify(record)}\n`)
    const failed: string[] = []
    for (const {fd, path} of this.files) {
      let size: number | undefined
      let written = 0
      try {
        size = fstatSync(fd).size
        // One write() of the whole line on an O_APPEND descriptor: concurrent runs never interleave.
        written = writeSync(fd, line)
        while (written < line.length) written += writeSync(fd, line, written)
      } catch (error) {
        // A disk that filled mid-line leaves a torn line the next run would glue onto: cut it
        // off again, unless another run appended meanwhile.
        try {
          if (written > 0 && size !== undefined && fstatSync(fd).size === size + written) ftruncateSync(fd, size)
        } catch {}

        failed.push(`${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
      }
    }

    return failed
  }
}

function firstLine(text: string): string {
  return text.split('\n').map(l => l.trim()).find(Boolean) ?? 'unknown error'
}
