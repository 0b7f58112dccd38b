import {Flags} from '@oclif/core'

import type {Session, SessionStore} from '../../stores/contract.js'

import {
  audited, auditFlags, auditLogPaths, type AuditRun, checkReason,
} from '../../cli/audit.js'
import {type BaseFlags, SessionsCommand} from '../../cli/base-command.js'
import {noteDeleted} from '../../cli/output.js'
import {incompleteIfOwnerUnknown} from '../../cli/owner-unknown.js'
import {canPrompt, confirmOnTerminal} from '../../cli/prompt.js'
import {
  detailLabels, plural, sessionColumns, sessionJson, type SessionJson, storeScanJson, StreamingTable,
} from '../../cli/render.js'
import {
  failureText, printError, report, storeFailures, warn,
} from '../../cli/report.js'
import {ExitCode, SessionctlError} from '../../errors.js'
import {fingerprint, KeepList} from '../../sessions/keys.js'
import {purgeStores, type StoreDeletion, type StoresSelection} from '../../sessions/purge.js'
import {totals} from '../../sessions/scan.js'

export interface PurgeResult {
  changed: number
  deleted: number
  dryRun: boolean
  gone: number
  kept: number
  matched: number
  /** Values that could not be read and may be the user's sessions: not deleted (exit 7). */
  ownerUnknown: number
  sessions: SessionJson[]
  stores: Array<Record<string, unknown>>
  user: string
}

/** What reviewing the selection needs from the run. */
interface PurgeRun {
  audit: AuditRun | undefined
  flags: BaseFlags<typeof Purge>
  keep: KeepList
  signal: AbortSignal
  started: number
  /** The signal's name once one came. */
  stoppedBy(): string | undefined
  stores: SessionStore[]
  userId: string
}

export default class Purge extends SessionsCommand {
  static description = `Selects the user's sessions exactly as "list --all" does (or only the expired ones), asks for \
confirmation, then deletes them in short batches. Each session is deleted only if it is unchanged since it was selected: \
one re-written, extended or taken over meanwhile survives. Sessions named by --except survive, as do values that cannot \
be decoded.

On a terminal it asks before deleting; without one it refuses unless --yes (or --dry-run). --dry-run prints exactly \
what would be deleted and deletes nothing.`
  static examples = [
    {command: '<%= config.bin %> <%= command.id %> --store prod --user 42 --except abcd…1a2b3c4d', description: 'Log user 42 out everywhere but one session'},
    {command: '<%= config.bin %> <%= command.id %> --store prod --user 42 --dry-run', description: 'What a purge would delete'},
    {command: '<%= config.bin %> <%= command.id %> --store prod --user 42 --expired-only --yes', description: 'Only the expired leftovers, no prompt'},
  ]
  static flags = {
    ...auditFlags,
    'allow-unmatched-except': Flags.boolean({
      summary: 'Go on when an --except value names none of the selected sessions (otherwise refused, exit 3).',
    }),
    'batch-size': Flags.integer({
      default: 500, max: 10_000, min: 1, summary: 'Sessions deleted per batch (each batch is one short transaction).',
    }),
    'dry-run': Flags.boolean({summary: 'Print what would be deleted; delete nothing.'}),
    except: Flags.string({
      description: 'A value that cannot be a key or a fingerprint (empty, blanks, a cut-off fingerprint) is a usage error (exit 2); one that names none of the user’s selected sessions stops the purge (exit 3) unless --allow-unmatched-except: a mistyped key would otherwise keep nothing.',
      multiple: true,
      summary: 'A session key, or its fingerprint as printed by list, that must survive (repeatable).',
    }),
    'expired-only': Flags.boolean({summary: 'Only the user’s expired sessions.'}),
    'max-sessions': Flags.integer({
      min: 0,
      summary: 'Refuse (exit 3, nothing deleted) if the selection holds more than this many sessions; a dry run says so too.',
    }),
    user: Flags.string({char: 'u', required: true, summary: 'The user whose sessions are deleted (compared as text).'}),
    yes: Flags.boolean({char: 'y', summary: 'Do not ask for confirmation.'}),
  }
  static summary = 'Delete the sessions of a user (all, all but some, or only expired ones).'

  async run(): Promise<PurgeResult | undefined> {
    const {flags} = await this.parse(Purge)
    const userId = this.userId(flags.user)
    const dryRun = Boolean(flags['dry-run'])
    checkReason(flags.reason)
    // Checked before any I/O: a value that cannot name a session is a usage error.
    const except = new KeepList(flags.except ?? [])
    if (!dryRun && !flags.yes && !canPrompt()) {
      throw new SessionctlError(
        'refusing to delete without confirmation: there is no terminal to ask on; add --yes, or --dry-run to preview',
        ExitCode.REFUSED,
      )
    }

    const auditPaths = dryRun ? [] : auditLogPaths(flags['audit-log'], [flags.store ?? []].flat(), flags.config, this.config.configDir)
    const stores = await this.openStores(
      flags as BaseFlags<typeof SessionsCommand>,
      flags['expired-only'] ? {purpose: 'to tell expired sessions from live ones (--expired-only)', otherwise: 'or drop --expired-only to delete all of them'} : undefined,
    )
    const start = {
      command: 'sessions purge',
      filters: {except: except.unmatched(), expiredOnly: Boolean(flags['expired-only'])},
      reason: flags.reason,
      stores: stores.map(s => s.label),
      user: userId,
    }
    return audited(auditPaths, start, dryRun, audit => this.purge(flags, stores, userId, audit))
  }

  /**
   * An --except that names none of the selected sessions keeps nothing: the session the operator
   * meant to keep (its key mistyped, or from another store) would be deleted with the rest. Refused,
   * dry run included, unless --allow-unmatched-except; with it, or when nothing is selected, a warning.
   */
  private checkExcept(keep: KeepList, selected: number, userId: string, allowed: boolean): void {
    const unmatched = keep.unmatched()
    if (unmatched.length === 0) return
    const which = `--except ${unmatched.join(', ')} ${unmatched.length === 1 ? 'names' : 'name'} none of user ${userId}'s selected sessions`
    if (selected > 0 && !allowed) {
      throw new SessionctlError(
        `refusing to purge: ${which}, so ${unmatched.length === 1 ? 'it keeps' : 'they keep'} nothing; check the key with "sessions list --user ${userId}", or add --allow-unmatched-except; nothing was deleted`,
        ExitCode.REFUSED,
      )
    }

    warn(`${which}; nothing to keep for ${unmatched.length === 1 ? 'it' : 'them'}`)
  }

  private finish(result: PurgeResult, deletions: StoreDeletion[], stoppedBy: string | undefined): void {
    const failures = deletions.filter(d => d.error)
    const notes: string[] = []
    if (result.changed > 0) notes.push(`${plural(result.changed, 'session')} changed since selection and kept`)
    if (result.gone > 0) notes.push(`${plural(result.gone, 'session')} already gone`)
    this.log(`Deleted ${plural(result.deleted, 'session')} of user ${result.user}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}.`)
    if (deletions.length > 1) {
      for (const d of deletions) this.log(`  ${d.store}: ${d.error ? `failed after deleting ${d.deletedBeforeError ?? 0}` : `deleted ${d.summary!.deleted}`}`)
    }

    if (failures.length > 0) {
      const text = `${failureText(failures as Array<{error: Error; store: string}>)}`
      if (result.deleted === 0 && failures.length === deletions.length) throw new SessionctlError(text)
      printError(text)
      process.exitCode = ExitCode.PARTIAL
    }

    if (deletions.some(d => d.summary?.stopped)) {
      warn(`stopped by ${stoppedBy ?? 'signal'} after ${plural(result.deleted, 'deleted session')}; rerun the same command to finish`)
      process.exitCode = ExitCode.STOPPED
    }
  }

  private printSessions(sessions: Session[], stores: readonly SessionStore[], showKeys: boolean): void {
    const multiStore = stores.length > 1
    const table = new StreamingTable(sessionColumns(new Date(), showKeys, multiStore, detailLabels(stores)), line => this.log(line))
    table.push(sessions)
    table.end((a, b) => (b.expiresAt?.getTime() ?? 0) - (a.expiresAt?.getTime() ?? 0))
  }

  private async purge(
    flags: BaseFlags<typeof Purge>,
    stores: SessionStore[],
    userId: string,
    audit: AuditRun | undefined,
  ): Promise<PurgeResult | undefined> {
    const dryRun = Boolean(flags['dry-run'])
    const showKeys = Boolean(flags['show-keys'])
    let stoppedBy: string | undefined
    const signal = this.stopSignal(s => {
      stoppedBy = s
      this.progress.stop()
    })

    const run: PurgeRun = {
      audit, flags, keep: new KeepList(flags.except ?? [], this.keyAliases), signal, started: Date.now(), stoppedBy: () => stoppedBy, stores, userId,
    }
    this.progress.start('Selecting')
    const purged = await purgeStores(stores, userId, {
      batchSize: flags['batch-size'],
      dryRun,
      except: run.keep,
      expiredOnly: Boolean(flags['expired-only']),
      onDeleteProgress: p => {
        noteDeleted(p.store, p.deleted)
        audit?.progress(p.store, p.deleted)
        this.progress.update('Deleted', p.deleted, `of ${p.total} sessions`)
      },
      onScanProgress: p => this.progress.update('Scanned', p.scanned, 'sessions', `, ${p.matched} of user ${userId}`),
      signal,
    }, selection => this.review(selection, run))
    const json = this.jsonEnabled()
    // Nothing was attempted: a dry run, nothing selected, or stopped while selecting.
    if (!purged.proceeded) return json ? this.result(purged, [], {dryRun, showKeys, userId}) : undefined
    this.progress.stop()
    const {deletions} = purged
    const final = this.result(purged, deletions, {dryRun, showKeys, userId})
    for (const d of deletions) noteDeleted(d.store, d.summary?.deleted ?? d.deletedBeforeError ?? 0)
    const stale = purged.scans.reduce((n, scan) => n + (scan.summary?.staleIndex?.removed ?? 0), 0)
    audit?.set({
      changed: final.changed, deleted: final.deleted, gone: final.gone, kept: final.kept, matched: final.matched, ...(stale > 0 ? {staleIndexRemoved: stale} : {}),
    })
    const deleteFailures = deletions.filter((d): d is StoreDeletion & {error: Error} => d.error !== undefined)
    if (deleteFailures.length > 0) audit?.noteError(failureText(deleteFailures))
    if (deletions.some(d => d.summary?.stopped)) audit?.noteError(`stopped by ${stoppedBy ?? 'signal'}`)
    this.finish(final, deletions, stoppedBy)
    if (stale > 0 && !json) this.log(`Removed ${plural(stale, 'stale index member')} of user ${userId} (sessions already gone).`)
    return json ? final : undefined
  }

  private result(
    selection: StoresSelection,
    deletions: StoreDeletion[],
    o: {dryRun: boolean; showKeys: boolean; userId: string},
  ): PurgeResult {
    const t = totals(selection.scans)
    const byStore = new Map(deletions.map(d => [d.store, d]))
    const sum = (pick: (d: StoreDeletion) => number): number => deletions.reduce((n, d) => n + pick(d), 0)
    return {
      dryRun: o.dryRun,
      user: o.userId,
      matched: t.matched,
      deleted: sum(d => d.summary?.deleted ?? d.deletedBeforeError ?? 0),
      kept: t.kept,
      ownerUnknown: t.ownerUnknown,
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
   * The whole selection, every store's, before anything is deleted: printed and reported, then
   * the refusals and the one confirmation. True to go on and delete; false when there is nothing
   * to delete (a dry run, nothing selected, stopped while selecting); a refusal throws.
   */
  private async review(selection: StoresSelection, run: PurgeRun): Promise<boolean> {
    const {audit, flags, keep, signal, stores, userId} = run
    const dryRun = Boolean(flags['dry-run'])
    const stoppedBy = run.stoppedBy()
    this.progress.stop()
    const t = totals(selection.scans)
    const selected = selection.sessions
    audit?.set({deleted: 0, kept: t.kept, matched: t.matched})
    audit?.selected(selected.map(s => fingerprint(s.key)))
    const scanFailures = storeFailures(selection.scans)
    if (scanFailures.length > 0) audit?.noteError(failureText(scanFailures))
    const json = this.jsonEnabled()
    if (!json && selected.length > 0) this.printSessions(selected, stores, Boolean(flags['show-keys']))
    report(this, {
      failures: scanFailures,
      headline: `${plural(selected.length, 'session')} of user ${userId}${flags['expired-only'] ? ' (expired only)' : ''} selected${
        t.kept > 0 ? `, ${t.kept} kept by --except` : ''
      }`,
      output: json ? 'json' : 'table',
      scans: selection.scans,
      seconds: (Date.now() - run.started) / 1000,
      stopped: signal.aborted,
      totals: t,
    })
    // Values that may be the user's sessions but cannot be read: the purge cannot say "done" (exit 7).
    incompleteIfOwnerUnknown(t, userId, flags['expired-only'] ? 'expired' : 'all')

    if (signal.aborted) {
      warn(`stopped by ${stoppedBy ?? 'signal'} while selecting: nothing was deleted`)
      audit?.noteError(`stopped by ${stoppedBy ?? 'signal'} while selecting`)
      return false
    }

    const max = flags['max-sessions']
    if (max !== undefined && selected.length > max) {
      throw new SessionctlError(
        `refusing to purge: ${plural(selected.length, 'session')} of user ${userId} selected, more than --max-sessions ${max.toLocaleString('en-US')}; nothing was deleted`,
        ExitCode.REFUSED,
      )
    }

    this.checkExcept(keep, selected.length, userId, Boolean(flags['allow-unmatched-except']))
    if (selected.length === 0 || dryRun) {
      if (dryRun && selected.length > 0) this.log(`Dry run: would delete ${plural(selected.length, 'session')}; nothing was deleted.`)
      return false
    }

    if (!flags.yes) {
      const failed = new Set(scanFailures.map(f => f.store))
      const where = stores.filter(s => !failed.has(s.label)).map(s => s.label).join(', ')
      const missing = failed.size > 0 ? ` (${[...failed].join(', ')} failed and is not included)` : ''
      const ok = await confirmOnTerminal(`Delete ${plural(selected.length, 'session')} of user ${userId} from ${where}${missing}?`, signal)
      if (!ok) {
        // Declined at the prompt: like a dry run, nothing was attempted; no audit line.
        audit?.skip()
        throw new SessionctlError('not confirmed: nothing was deleted', ExitCode.REFUSED)
      }
    }

    if (signal.aborted) throw new SessionctlError(`stopped by ${run.stoppedBy() ?? 'signal'} before deleting: nothing was deleted`, ExitCode.STOPPED)
    // The trail's `started` line, before the first delete: a trail that cannot take it stops here.
    audit?.begin(selected.length)
    this.progress.start('Deleting')
    return true
  }
}
