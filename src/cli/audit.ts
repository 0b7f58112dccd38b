import {Flags} from '@oclif/core'
import {closeSync, openSync, writeSync} from 'node:fs'
import {hostname, userInfo} from 'node:os'
import {dirname, resolve} from 'node:path'

import {
  ExitCode, exitCodeOf, SessionctlError, UsageError,
} from '../errors.js'
import {type ConfigFile, loadConfig, profileAuditLogs} from './config.js'
import {redact} from './redact.js'
import {warn} from './report.js'

/**
 * The audit trail of deleting runs: one JSON line per `purge`/`cleanup` run without --dry-run,
 * appended to the file(s) the operator asked for (--audit-log, $SESSIONCTL_AUDIT_LOG, or the
 * `auditLog` setting of the profiles in use). The file is opened before anything is deleted, so a
 * trail that cannot be written stops the run first; the line is written when the run ends, whatever
 * the ending (done, failed midway, stopped by a signal, refused by --max-sessions), and also from an
 * exit handler if the process exits abruptly (a second Ctrl-C).
 *
 * The line never holds a raw session key (fingerprints only, even with --show-keys), a password
 * (store labels are already masked; every free-text value passes through redact()) or a secret key.
 */

export type AuditOutcome = 'failed' | 'ok' | 'partial' | 'refused' | 'stopped'

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

/** Opens every audit log for appending (created 0600), or says why it cannot: before any delete. */
export function openAuditLog(paths: readonly string[], start: AuditStart): AuditRun | undefined {
  if (paths.length === 0) return undefined
  const files: Array<{fd: number; path: string}> = []
  for (const path of paths) {
    try {
      files.push({fd: openSync(path, 'a', 0o600), path})
    } catch (error) {
      for (const f of files) closeSync(f.fd)
      const e = error as NodeJS.ErrnoException
      throw new SessionctlError(
        `cannot open the audit log ${path} for appending (${e.code ?? e.message}); nothing was deleted`,
        ExitCode.ERROR,
      )
    }
  }

  return new AuditRun(files, start)
}

/** The OS account running the tool (and the one behind sudo, if any). */
/**
 * Runs a deleting command's work under its audit trail: opened before `run` starts (so nothing is
 * deleted without the trail asked for), its line written when `run` ends, with the exit code it
 * leaves or the error it throws. Without a trail, a --reason is warned about: it is recorded nowhere else.
 */
export async function audited<T>(
  paths: readonly string[],
  start: AuditStart,
  dryRun: boolean,
  run: (audit: AuditRun | undefined) => Promise<T>,
): Promise<T> {
  const audit = openAuditLog(paths, start)
  if (!audit && !dryRun && start.reason !== undefined) warn('--reason is recorded only in an audit log, and none is set (--audit-log)')
  try {
    const result = await run(audit)
    audit?.finish(Number(process.exitCode ?? ExitCode.OK))
    return result
  } catch (error) {
    audit?.finish(exitCodeOf(error) ?? ExitCode.ERROR, error)
    throw error
  }
}

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
    [ExitCode.OK]: 'ok', [ExitCode.PARTIAL]: 'partial', [ExitCode.REFUSED]: 'refused', [ExitCode.STOPPED]: 'stopped',
    // The second Ctrl-C/SIGTERM exits at once with 130 (base-command).
    130: 'stopped',
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
  private keys: string[] = []
  private readonly live = new Map<string, number>()
  private readonly onExit = (code: number): void => {
    const deleted = [...this.live.values()].reduce((n, d) => n + d, 0)
    this.counts.deleted = Math.max(this.counts.deleted, deleted)
    // 130: the second Ctrl-C/SIGTERM (base-command), which exits without waiting for the batch.
    this.finish(code === 0 ? ExitCode.STOPPED : code, 'exited at a second signal, without waiting for the batch under way (not counted)')
  }
  private readonly started = Date.now()

  constructor(private readonly files: Array<{fd: number; path: string}>, private readonly start: AuditStart) {
    process.on('exit', this.onExit)
  }

  /** Writes the line (once) and closes the files. A line that cannot be written is an error. */
  finish(exitCode: number, error?: unknown): void {
    if (this.done) return
    this.done = true
    process.off('exit', this.onExit)
    const line = Buffer.from(`${JSON.stringify(this.line(exitCode, error ?? this.errorText))}\n`)
    const failed: string[] = []
    for (const {fd, path} of this.files) {
      try {
        // One write() of the whole line on an O_APPEND descriptor: concurrent runs never interleave.
        let written = writeSync(fd, line)
        while (written < line.length) written += writeSync(fd, line, written)
      } catch (error_) {
        failed.push(`${path} (${(error_ as NodeJS.ErrnoException).code ?? (error_ as Error).message})`)
      } finally {
        try {
          closeSync(fd)
        } catch {}
      }
    }

    if (failed.length > 0) {
      process.stderr.write(`sessionctl: ${redact(`could not write the audit line to ${failed.join(', ')}`)}\n`)
      if (!process.exitCode) process.exitCode = ExitCode.ERROR
    }
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
    for (const {fd} of this.files) {
      try {
        closeSync(fd)
      } catch {}
    }
  }

  private line(exitCode: number, error: unknown): Record<string, unknown> {
    const sudoUser = process.env.SUDO_USER
    const outcome = outcomeOf(exitCode)
    const c = this.counts
    const message = error === undefined ? undefined : (typeof error === 'string' ? error : ((error as Error)?.message ?? String(error)))
    return {
      time: new Date().toISOString(),
      command: this.start.command,
      outcome,
      exitCode,
      osUser: osUser(),
      ...(sudoUser ? {sudoUser} : {}),
      host: hostname(),
      pid: process.pid,
      reason: this.start.reason === undefined ? null : redact(this.start.reason),
      stores: this.start.stores.map(s => redact(s)),
      user: this.start.user,
      filters: this.start.filters,
      ...(c.matched === undefined ? {} : {matched: c.matched}),
      deleted: c.deleted,
      ...(c.kept === undefined ? {} : {kept: c.kept}),
      ...(c.changed === undefined ? {} : {changed: c.changed}),
      ...(c.gone === undefined ? {} : {gone: c.gone}),
      ...(this.start.user === null
        ? {}
        : {keys: this.keys.slice(0, MAX_AUDIT_KEYS), ...(this.keys.length > MAX_AUDIT_KEYS ? {keysOmitted: this.keys.length - MAX_AUDIT_KEYS} : {})}),
      durationMs: Date.now() - this.started,
      ...(message === undefined || outcome === 'ok' ? {} : {error: redact(firstLine(message))}),
    }
  }
}

function firstLine(text: string): string {
  return text.split('\n').map(l => l.trim()).find(Boolean) ?? 'unknown error'
}
