import {Flags} from '@oclif/core'

import type {SessionStore} from '../../stores/contract.js'

import {
  audited, auditFlags, auditLogPaths, type AuditRun, checkReason,
} from '../../cli/audit.js'
import {type BaseFlags, SessionsCommand} from '../../cli/base-command.js'
import {
  concludeDeletion, deletionCounts, type DeletionRun, type DeletionUi, onDeleted, reviewDeletion,
} from '../../cli/deletion.js'
import {incompleteIfOwnerUnknown} from '../../cli/owner-unknown.js'
import {canPrompt} from '../../cli/prompt.js'
import {plural, type SessionJson} from '../../cli/render.js'
import {warn} from '../../cli/report.js'
import {type OutputChoice, outputChoice, outputFlags} from '../../cli/session-output.js'
import {ExitCode, SessionctlError} from '../../errors.js'
import {KeepList} from '../../sessions/keys.js'
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
    {command: '<%= config.bin %> <%= command.id %> --store prod --user 42 --dry-run -o csv --columns id,expiresAt', description: 'The same, as CSV for a ticket'},
    {command: '<%= config.bin %> <%= command.id %> --store prod --user 42 --expired-only --yes', description: 'Only the expired leftovers, no prompt'},
  ]
  static flags = {
    ...auditFlags,
    ...outputFlags,
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
  private choice!: OutputChoice

  async run(): Promise<PurgeResult | undefined> {
    const {flags} = await this.parse(Purge)
    this.choice = outputChoice(flags)
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

  private deletionRun(run: PurgeRun): DeletionRun {
    return {
      audit: run.audit,
      dryRun: Boolean(run.flags['dry-run']),
      showKeys: Boolean(run.flags['show-keys']),
      signal: run.signal,
      started: run.started,
      stoppedBy: run.stoppedBy,
      stores: run.stores,
      yes: Boolean(run.flags.yes),
    }
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
      onDeleteProgress: onDeleted(this.ui(), audit),
      onScanProgress: p => this.progress.update('Scanned', p.scanned, 'sessions', `, ${p.matched} of user ${userId}`),
      signal,
    }, selection => this.review(selection, run))
    const json = this.choice.document
    // Nothing was attempted: a dry run, nothing selected, or stopped while selecting.
    if (!purged.proceeded) return json ? this.document(this.choice, this.result(purged, [], {dryRun, showKeys, userId})) : undefined
    const final = this.result(purged, purged.deletions, {dryRun, showKeys, userId})
    const stale = purged.scans.reduce((n, scan) => n + (scan.summary?.staleIndex?.removed ?? 0), 0)
    concludeDeletion(this.ui(), purged, final, {
      audit, extra: stale > 0 ? {staleIndexRemoved: stale} : {}, stoppedBy: () => stoppedBy, whose: ` of user ${userId}`,
    })
    if (stale > 0) this.ui().log(`Removed ${plural(stale, 'stale index member')} of user ${userId} (sessions already gone).`)
    return this.document(this.choice, final)
  }

  private result(
    selection: StoresSelection,
    deletions: StoreDeletion[],
    o: {dryRun: boolean; showKeys: boolean; userId: string},
  ): PurgeResult {
    const t = totals(selection.scans)
    const {changed, deleted, dryRun, gone, matched, sessions, stores} = deletionCounts(selection, deletions, o)
    return {
      dryRun, user: o.userId, matched, deleted, kept: t.kept, ownerUnknown: t.ownerUnknown, changed, gone, sessions, stores,
    }
  }

  /** The shared review (deletion.ts), with purge's wording and its own refusals. */
  private async review(selection: StoresSelection, run: PurgeRun): Promise<boolean> {
    const {flags, keep, userId} = run
    const expiredOnly = Boolean(flags['expired-only'])
    const t = totals(selection.scans)
    const selected = selection.sessions.length
    return reviewDeletion(this.ui(), selection, this.deletionRun(run), {
      // Values that may be the user's sessions but cannot be read: the purge cannot say "done" (exit 7).
      afterReport: () => incompleteIfOwnerUnknown(t, userId, expiredOnly ? 'expired' : 'all'),
      check: () => {
        const max = flags['max-sessions']
        if (max !== undefined && selected > max) {
          throw new SessionctlError(
            `refusing to purge: ${plural(selected, 'session')} of user ${userId} selected, more than --max-sessions ${max.toLocaleString('en-US')}; nothing was deleted`,
            ExitCode.REFUSED,
          )
        }

        this.checkExcept(keep, selected, userId, Boolean(flags['allow-unmatched-except']))
      },
      headline: `${plural(selected, 'session')} of user ${userId}${expiredOnly ? ' (expired only)' : ''} selected${t.kept > 0 ? `, ${t.kept} kept by --except` : ''}`,
      question: where => `Delete ${plural(selected, 'session')} of user ${userId} from ${where}?`,
    })
  }

  private ui(): DeletionUi {
    return this.deletionUi(this.choice)
  }
}
