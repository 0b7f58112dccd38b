import chalk from 'chalk'

import type {ScanTotals, StoreScan} from '../sessions/scan.js'
import type {OutputMode} from './session-output.js'

import {ExitCode, SessionctlError} from '../errors.js'
import {readerGone} from './output.js'
import {redact} from './redact.js'
import {plural, terminalSafe, undecodableNote} from './render.js'

export function storeFailures(scans: ReadonlyArray<{error?: Error; store: string}>): Array<{error: Error; store: string}> {
  return scans.filter((s): s is {error: Error; store: string} => s.error !== undefined)
}

const warnings: string[] = []

/**
 * A warning on stderr: stdout stays the data (table, JSON, NDJSON, CSV). One line, redacted,
 * terminal-safe. Kept too, for the JSON (and YAML) document's "warnings".
 */
export function warn(text: string): void {
  warnings.push(redact(text))
  process.stderr.write(`${chalk.yellow('sessionctl: warning:')} ${terminalSafe(redact(text))}\n`)
}

/** A new run (the command's init): in-process runs (tests) share the module. */
export function resetWarnings(): void {
  warnings.length = 0
}

/** The warnings said so far in this run, redacted (the document's "warnings"). */
export function warningsSoFar(): readonly string[] {
  return warnings
}

/** A command's document with the run's warnings as "warnings" (when there were any); anything but a plain object as is. */
export function withWarnings<T>(document: T): T {
  if (warnings.length === 0 || typeof document !== 'object' || document === null || Array.isArray(document)) return document
  return {...document, warnings: [...warnings]}
}

export interface ScanReport {
  failures: Array<{error: Error; store: string}>
  headline: string
  /** The scan selected named sessions (revoke): undecodable and bad-signature values in it were selected, not skipped. */
  named?: boolean
  output: OutputMode
  scans: StoreScan[]
  seconds: number
  stopped: boolean
  totals: ScanTotals
}

/**
 * The end of a scan, said the same way by every command: a summary line on stderr (always with a
 * table, so `list | wc -l` counts sessions; on a terminal only for ndjson and csv; never with a
 * document), warnings on stderr, and the exit code. When every store failed this throws the first
 * failure; when some did, the others' results stand and the exit code says "partial". A scan
 * stopped because stdout's reader went away (`| head -1`) is not "stopped": nobody is left to tell.
 */
export function report(r: ScanReport): void {
  const {failures, scans, totals: t} = r
  if (failures.length > 0 && failures.length === scans.length) {
    throw failures.length === 1 ? failures[0].error : new SessionctlError(failureText(failures))
  }

  const stores = scans.length > 1 ? ` in ${scans.length} stores` : ''
  const summary = `${r.headline} (scanned ${t.scanned.toLocaleString('en-US')}${stores} in ${r.seconds.toFixed(1)} s)`
  if (r.output === 'table' || r.output === 'wide' || ((r.output === 'csv' || r.output === 'ndjson') && process.stderr.isTTY)) {
    process.stderr.write(`${terminalSafe(summary)}\n`)
  }

  for (const w of t.warnings) warn(w)
  const note = r.named ? undefined : undecodableNote(t)
  if (note) warn(note)
  if (t.userMismatch > 0) {
    warn(`${plural(t.userMismatch, 'session')} whose user column names the user but whose payload does not (another user or nobody): left alone`)
  }

  if (t.badSignature > 0 && !r.named) {
    warn(`${plural(t.badSignature, 'session')} with a bad signature ignored (Django treats them as empty)`)
  }

  if (failures.length > 0) printError(failureText(failures))
  if (failures.length > 0) process.exitCode = ExitCode.PARTIAL
  if (r.stopped && !readerGone()) {
    warn('stopped by signal before the scan finished: the results above are incomplete')
    process.exitCode = ExitCode.STOPPED
  }
}

export function failureText(failures: ReadonlyArray<{error: Error; store: string}>): string {
  // Adapter messages often name the store already; say it once.
  return failures.map(f => (f.error.message.includes(f.store) ? f.error.message : `${f.store}: ${f.error.message}`)).join('; ')
}

/** An error line on stderr, as the base command prints fatal ones: redacted, terminal-safe. */
export function printError(text: string): void {
  process.stderr.write(`${chalk.red('sessionctl:')} ${terminalSafe(redact(text))}\n`)
}

/**
 * The time a log line starts with: ISO 8601, UTC, to the second (`2026-12-03T03:17:00Z`), so the
 * lines of unattended runs (cron, systemd, a pod) sort and grep by time.
 */
export function logTime(now = new Date()): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z')
}
