import type {DeleteProgress, Session, SessionStore} from '../stores/contract.js'
import type {AuditRun} from './audit.js'
import type {Progress} from './progress.js'

import {ExitCode, SessionctlError} from '../errors.js'
import {fingerprint} from '../sessions/keys.js'
import {type StoreDeletion, type StoresPurge, type StoresSelection} from '../sessions/purge.js'
import {type ScanTotals, totals} from '../sessions/scan.js'
import {noteDeleted} from './output.js'
import {confirmOnTerminal} from './prompt.js'
import {
  detailLabels, plural, sessionJson, type SessionJson, storeScanJson,
} from './render.js'
import {
  failureText, logTime, printError, report, storeFailures, warn,
} from './report.js'
import {type OutputChoice, RowEmitter, sessionFormat} from './session-output.js'

/**
 * What purge and revoke share once their stores have selected: the review (table, summary,
 * refusals, dry run, the one confirmation, the audit trail's `started` line), and the end (the
 * counts, the per-store lines, partial failures and signals). Each command says only what differs:
 * whose sessions they are and the checks of its own flags.
 */
export interface DeletionUi {
  /** A document (json, yaml) is the output: no human lines. */
  json: boolean
  /** Human lines: stdout with a table, stderr when stdout carries csv or ndjson. */
  log(line: string): void
  /** -o, --no-headers, --columns. */
  output: OutputChoice
  progress: Progress
  /** Data lines (the selection's rows): stdout. */
  write(line: string): void
}

export interface DeletionRun {
  audit: AuditRun | undefined
  dryRun: boolean
  /** --yes */
  yes: boolean
  showKeys: boolean
  signal: AbortSignal
  started: number
  /** The signal's name once one came. */
  stoppedBy(): string | undefined
  stores: readonly SessionStore[]
}

export interface ReviewWording {
  /** The summary line before "(scanned …)": "3 sessions of user 42 selected". */
  headline: string
  /** The prompt, given the count and where: "Delete 3 sessions of user 42 from mysql://…?". */
  question(where: string): string
  /** The selection is of named sessions (revoke): undecodable and bad-signature ones in it are not "skipped". */
  named?: boolean
  /** Right after the report, even when a signal stopped the selection (purge: exit 7 for values it could not read). */
  afterReport?(t: ScanTotals): void
  /** Then, unless stopped, before the dry run ends: the command's own refusals (throw) and warnings. */
  check?(selected: readonly Session[], t: ScanTotals): void
}

/** The deletes' progress: counted for the audit trail and an abrupt exit, shown on the spinner. */
export function onDeleted(ui: DeletionUi, audit: AuditRun | undefined): (p: DeleteProgress) => void {
  return p => {
    noteDeleted(p.store, p.deleted)
    audit?.progress(p.store, p.deleted)
    ui.progress.update('Deleted', p.deleted, `of ${p.total} sessions`)
  }
}

/** The selection, as purge and revoke print it in the chosen output (a table sorted by expiry, latest first). */
export function printSessions(ui: DeletionUi, sessions: readonly Session[], stores: readonly SessionStore[], showKeys: boolean): void {
  const now = new Date()
  const rows = new RowEmitter(ui.output, sessionFormat({
    columns: ui.output.columns, details: detailLabels(stores), multiStore: stores.length > 1, now: () => now, showKeys,
  }), line => ui.write(line))
  rows.push(sessions)
  rows.end((a, b) => (b.expiresAt?.getTime() ?? 0) - (a.expiresAt?.getTime() ?? 0))
}

/**
 * The whole selection, every store's, before anything is deleted: printed and reported, then
 * the refusals and the one confirmation. True to go on and delete; false when there is nothing
 * to delete (a dry run, nothing selected, stopped while selecting); a refusal throws.
 */
export async function reviewDeletion(ui: DeletionUi, selection: StoresSelection, run: DeletionRun, wording: ReviewWording): Promise<boolean> {
  const {audit, signal, stores} = run
  const stoppedBy = run.stoppedBy()
  ui.progress.stop()
  const t = totals(selection.scans)
  const selected = selection.sessions
  audit?.set({deleted: 0, kept: t.kept, matched: t.matched})
  audit?.selected(selected.map(s => fingerprint(s.key)))
  const scanFailures = storeFailures(selection.scans)
  if (scanFailures.length > 0) audit?.noteError(failureText(scanFailures))
  if (!ui.json && selected.length > 0) printSessions(ui, selected, stores, run.showKeys)
  report({
    failures: scanFailures,
    headline: wording.headline,
    named: wording.named,
    output: ui.output.mode,
    scans: selection.scans,
    seconds: (Date.now() - run.started) / 1000,
    stopped: signal.aborted,
    totals: t,
  })
  wording.afterReport?.(t)
  if (signal.aborted) {
    warn(`stopped by ${stoppedBy ?? 'signal'} while selecting: nothing was deleted`)
    audit?.noteError(`stopped by ${stoppedBy ?? 'signal'} while selecting`)
    return false
  }

  wording.check?.(selected, t)
  if (selected.length === 0 || run.dryRun) {
    if (run.dryRun && selected.length > 0) ui.log(`Dry run: would delete ${plural(selected.length, 'session')}; nothing was deleted.`)
    return false
  }

  if (!run.yes) {
    const failed = new Set(scanFailures.map(f => f.store))
    const where = stores.filter(s => !failed.has(s.label)).map(s => s.label).join(', ')
    const missing = failed.size > 0 ? ` (${[...failed].join(', ')} failed and is not included)` : ''
    const ok = await confirmOnTerminal(wording.question(`${where}${missing}`), signal)
    if (!ok) {
      // Declined at the prompt: like a dry run, nothing was attempted; no audit line.
      audit?.skip()
      throw new SessionctlError('not confirmed: nothing was deleted', ExitCode.REFUSED)
    }
  }

  if (signal.aborted) throw new SessionctlError(`stopped by ${run.stoppedBy() ?? 'signal'} before deleting: nothing was deleted`, ExitCode.STOPPED)
  // The trail's `started` line, before the first delete: a trail that cannot take it stops here.
  audit?.begin(selected.length)
  ui.progress.start('Deleting')
  return true
}

/** The counts both commands report (and --json returns), over every store. */
export interface DeletionCounts {
  changed: number
  deleted: number
  dryRun: boolean
  gone: number
  matched: number
  sessions: SessionJson[]
  stores: Array<Record<string, unknown>>
}

export function deletionCounts(selection: StoresSelection, deletions: readonly StoreDeletion[], o: {dryRun: boolean; showKeys: boolean}): DeletionCounts {
  const t = totals(selection.scans)
  const byStore = new Map(deletions.map(d => [d.store, d]))
  const sum = (pick: (d: StoreDeletion) => number): number => deletions.reduce((n, d) => n + pick(d), 0)
  return {
    dryRun: o.dryRun,
    matched: t.matched,
    deleted: sum(d => d.summary?.deleted ?? d.deletedBeforeError ?? 0),
    changed: sum(d => d.summary?.changed ?? 0),
    gone: sum(d => d.summary?.gone ?? 0),
    sessions: selection.sessions.map(s => sessionJson(s, o.showKeys)),
    stores: selection.scans.map(scan => {
      const d = byStore.get(scan.store)
      return {
        ...storeScanJson(scan),
        ...(d ? {deleted: d.summary?.deleted ?? d.deletedBeforeError ?? 0, changed: d.summary?.changed ?? 0, gone: d.summary?.gone ?? 0} : {deleted: 0}),
        ...(d?.error ? {error: d.error.message} : {}),
      }
    }),
  }
}

/**
 * After the deletes: the audit counts, the failures and stop noted, then the lines that say what
 * was deleted (`noun` and `whose`: "sessions" " of user 42", "named sessions" "") and the exit code for a partial failure (4) or a stop (6).
 */
export function concludeDeletion(
  ui: DeletionUi,
  purged: StoresPurge,
  counts: DeletionCounts,
  run: Pick<DeletionRun, 'audit' | 'stoppedBy'> & {extra?: Record<string, number>; noun?: string; whose: string},
): void {
  ui.progress.stop()
  const {deletions} = purged
  const {audit} = run
  for (const d of deletions) noteDeleted(d.store, d.summary?.deleted ?? d.deletedBeforeError ?? 0)
  audit?.set({
    changed: counts.changed, deleted: counts.deleted, gone: counts.gone, kept: totals(purged.scans).kept, matched: counts.matched, ...run.extra,
  })
  const stoppedBy = run.stoppedBy()
  const failures = deletions.filter((d): d is StoreDeletion & {error: Error} => d.error !== undefined)
  if (failures.length > 0) audit?.noteError(failureText(failures))
  const stopped = deletions.some(d => d.summary?.stopped)
  if (stopped) audit?.noteError(`stopped by ${stoppedBy ?? 'signal'}`)
  const notes: string[] = []
  if (counts.changed > 0) notes.push(`${plural(counts.changed, 'session')} changed since selection and kept`)
  if (counts.gone > 0) notes.push(`${plural(counts.gone, 'session')} already gone`)
  // The line that ends the run, as a log keeps it: its time first (as cleanup's summary lines).
  ui.log(`${logTime()} Deleted ${plural(counts.deleted, run.noun ?? 'session')}${run.whose}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}.`)
  if (deletions.length > 1) {
    for (const d of deletions) ui.log(`  ${d.store}: ${d.error ? `failed after deleting ${d.deletedBeforeError ?? 0}` : `deleted ${d.summary!.deleted}`}`)
  }

  if (failures.length > 0) {
    const text = failureText(failures)
    if (counts.deleted === 0 && failures.length === deletions.length) throw new SessionctlError(text)
    printError(text)
    process.exitCode = ExitCode.PARTIAL
  }

  if (stopped) {
    warn(`stopped by ${stoppedBy ?? 'signal'} after ${plural(counts.deleted, 'deleted session')}; rerun the same command to finish`)
    process.exitCode = ExitCode.STOPPED
  }
}
