import {Args, Flags, type Interfaces} from '@oclif/core'

import type {SessionStore} from '../../stores/contract.js'

import {
  audited, auditFlags, auditLogPaths, type AuditRun, checkReason,
} from '../../cli/audit.js'
import {
  type BaseFlags, secretKeyFlag, SessionsCommand, storeFlag,
} from '../../cli/base-command.js'
import {
  concludeDeletion, deletionCounts, type DeletionCounts, type DeletionUi, onDeleted, reviewDeletion,
} from '../../cli/deletion.js'
import {readNames, REVOKE_NAME, STDIN} from '../../cli/names.js'
import {canPrompt} from '../../cli/prompt.js'
import {plural} from '../../cli/render.js'
import {printError, storeFailures, warn} from '../../cli/report.js'
import {type OutputChoice, outputChoice, outputFlags} from '../../cli/session-output.js'
import {ExitCode, SessionctlError} from '../../errors.js'
import {KeepList, type NameReport} from '../../sessions/keys.js'
import {revokeStores, type StoresSelection} from '../../sessions/purge.js'

export interface RevokeResult extends DeletionCounts {
  /** Each name given, masked: what it matched as, and the stored key its cookie or key form stands for. */
  names: NameReport[]
  /** The names that matched nothing, masked. */
  unmatched: string[]
}

/** revoke's flags: the base flags, with its own --store and --secret-key (non-greedy) in place of theirs. */
type RevokeFlags = Interfaces.InferredFlags<(typeof Revoke)['flags'] & Omit<(typeof SessionsCommand)['baseFlags'], 'secret-key' | 'store'>>

export default class Revoke extends SessionsCommand {
  static args = {
    name: Args.string({
      description: [
        'A session key, the fingerprint list printed, or the cookie value (express s:<sid>.<sig>, Rails public id,',
        'Flask-Session, Spring or Laravel cookie); - reads them from stdin, one per line. Repeatable.',
      ].join(' '),
      required: false,
    }),
  }
  static description = `Deletes the sessions named, whoever owns them (a leaked cookie, a stolen device), live or expired. \
Each name is a raw session key, a fingerprint as list prints it, or the cookie value where the framework derives the key \
from it: express's signed s:<sid>.<sig> (or its URL-encoded s%3A…), a Rails public id (hashed to 2::<sha256>), a \
Flask-Session sid or signed <sid>.<sig>, Spring's base64 SESSION cookie, Laravel's encrypted cookie (with --app-key or \
APP_KEY); Django's cookie is the key. It says which \
form each name matched. With --secret-key a signed cookie's signature is checked, and one that does not match names nothing.

Only the named sessions are decoded; a named value that cannot be decoded is deleted too (the operator named it). \
Confirmation, --dry-run, --yes, compare-and-delete, the audit line and exit codes are purge's. A name that matches \
nothing is reported (masked); when no name matches anything, nothing is deleted and the exit code is 3.

"-" reads the names from stdin, one per line (blank lines ignored), so cookies stay out of shell history and ps; \
the confirmation then cannot be asked on stdin: add --yes (or --dry-run).`
  static examples = [
    {command: '<%= config.bin %> <%= command.id %> --store prod fg6g…bf667b60', description: 'Revoke the session list printed as fg6g…bf667b60'},
    {command: 'pbpaste | <%= config.bin %> <%= command.id %> --store redis://cache:6379/0 --format express --yes --reason INC-1234 -', description: "A leaked express cookie (s:<sid>.<sig>), read from stdin so it stays out of ps and the shell's history"},
    {
      command: 'DJANGO_SECRET_KEY="$(cat /run/secrets/express_secret)" <%= config.bin %> <%= command.id %> --store prod-express --dry-run - < cookies.txt',
      description: 'Check each cookie’s signature with express-session’s secret (from the environment, out of ps); a dry run deletes nothing',
    },
    {command: '<%= config.bin %> <%= command.id %> --store redis://cache:6379/0 --format rails a65a64af7b7a83688770c6b688881ade', description: 'A Rails cookie’s public id: revokes _session_id:2::<sha256>'},
  ]
  static flags = {
    ...auditFlags,
    ...outputFlags,
    // Names follow the flags: a repeatable flag must not swallow them (`--store prod KEY` is one store and one name).
    'secret-key': Flags.string({
      ...secretKeyFlag,
      multipleNonGreedy: true,
      summary: 'Check signatures with this secret (Django’s SECRET_KEY, express-session’s secret, Flask’s SECRET_KEY; repeatable): a signed cookie that matches none names nothing.',
    }),
    store: Flags.string({...storeFlag, multipleNonGreedy: true}),
    'batch-size': Flags.integer({
      default: 500, max: 10_000, min: 1, summary: 'Sessions deleted per batch (each batch is one short transaction).',
    }),
    'dry-run': Flags.boolean({summary: 'Print what would be deleted; delete nothing.'}),
    yes: Flags.boolean({char: 'y', summary: 'Do not ask for confirmation.'}),
  }
  static strict = false
  static summary = 'Delete the sessions named by key, fingerprint or cookie value, whoever owns them.'

  async run(): Promise<RevokeResult | undefined> {
    const {argv, flags} = await this.parse(Revoke)
    const choice = outputChoice(flags)
    const dryRun = Boolean(flags['dry-run'])
    checkReason(flags.reason)
    // Checked before any I/O: every name must be one, and stdin is read now (nothing connects first).
    const given = argv as string[]
    const names = await readNames(given, this.argv, process.stdin)
    if (!dryRun && !flags.yes && !canPrompt()) {
      const why = given.includes(STDIN) ? 'the names come from stdin (-), so there is no terminal to ask on' : 'there is no terminal to ask on'
      throw new SessionctlError(`refusing to delete without confirmation: ${why}; add --yes, or --dry-run to preview`, ExitCode.REFUSED)
    }

    const auditPaths = dryRun ? [] : auditLogPaths(flags['audit-log'], [flags.store ?? []].flat(), flags.config, this.config.configDir)
    const stores = await this.openStores(flags as BaseFlags<typeof SessionsCommand>)
    const keep = new KeepList(names, this.keyAliases, REVOKE_NAME)
    const start = {
      command: 'sessions revoke',
      filters: {names: keep.report().map(r => r.name)},
      reason: flags.reason,
      stores: stores.map(s => s.label),
      user: null,
    }
    return audited(auditPaths, start, dryRun, audit => this.revoke(flags, choice, stores, keep, audit))
  }

  /** One line per name: what it matched as (masked), the key a cookie stood for, and why a form named nothing. */
  private printNames(ui: DeletionUi, reports: readonly NameReport[]): void {
    const width = Math.max('NAME'.length, ...reports.map(r => r.name.length))
    ui.log(`${'NAME'.padEnd(width)}  MATCHED AS`)
    for (const r of reports) ui.log(`${r.name.padEnd(width)}  ${describeName(r)}`)
  }

  private async revoke(flags: RevokeFlags, choice: OutputChoice, stores: SessionStore[], names: KeepList, audit: AuditRun | undefined): Promise<RevokeResult | undefined> {
    const dryRun = Boolean(flags['dry-run'])
    const showKeys = Boolean(flags['show-keys'])
    const ui = this.deletionUi(choice)
    let stoppedBy: string | undefined
    const signal = this.stopSignal(s => {
      stoppedBy = s
      this.progress.stop()
    })
    const started = Date.now()
    this.progress.start('Selecting')
    const review = async (selection: StoresSelection): Promise<boolean> => {
      const selected = selection.sessions.length
      const reports = names.report()
      if (!ui.json) {
        this.progress.stop()
        this.printNames(ui, reports)
      }

      const unmatched = names.unmatched()
      return reviewDeletion(ui, selection, {
        audit, dryRun, showKeys, signal, started, stoppedBy: () => stoppedBy, stores, yes: Boolean(flags.yes),
      }, {
        check() {
          if (unmatched.length === 0) return
          const which = `${plural(unmatched.length, 'name')} matched no session (${unmatched.join(', ')})`
          if (selected === 0) {
            // A store that could not be read may hold them: the run is partial (exit 4, as report set it), not refused.
            const failed = storeFailures(selection.scans).map(f => f.store)
            if (failed.length > 0) {
              printError(`nothing revoked: ${which}, and ${failed.join(', ')} could not be read and may hold them; rerun when it can be; nothing was deleted`)
              return
            }

            throw new SessionctlError(`nothing to revoke: ${which}; check them with "sessions list --all" on the same store options; nothing was deleted`, ExitCode.REFUSED)
          }

          warn(`${which}: left out; only the sessions the others name are selected`)
        },
        headline: `${plural(selected, 'named session')} selected${unmatched.length > 0 ? `, ${plural(unmatched.length, 'name')} matched nothing` : ''}`,
        named: true,
        question: where => `Delete ${plural(selected, 'named session')} from ${where}?`,
      })
    }

    const revoked = await revokeStores(stores, names, {
      batchSize: flags['batch-size'],
      dryRun,
      onDeleteProgress: onDeleted(ui, audit),
      onScanProgress: p => this.progress.update('Scanned', p.scanned, 'sessions', `, ${p.matched} named`),
      signal,
    }, review)
    const result = (): RevokeResult => ({
      ...deletionCounts(revoked, revoked.deletions, {dryRun, showKeys}), names: names.report(), unmatched: names.unmatched(),
    })
    if (!revoked.proceeded) return ui.json ? this.document(choice, result()) : undefined
    const final = result()
    concludeDeletion(ui, revoked, final, {
      audit, noun: 'named session', stoppedBy: () => stoppedBy, whose: '',
    })
    return this.document(choice, final)
  }
}

/** "express signed cookie: session jm94…b1c3992a (signature not checked …)", "fingerprint", "matched nothing". */
function describeName(r: NameReport): string {
  const parts = r.matchedAs.map(as => {
    const forms = r.forms.filter(f => f.as === as && !f.refused)
    if (forms.length === 0) return as
    return `${as}: session ${forms.map(f => f.key).join(', ')}${forms[0].note ? ` (${forms[0].note})` : ''}`
  })
  for (const f of r.forms) {
    if (f.refused && f.key === '') parts.push(`${f.as}: ${f.refused}, so it names nothing`)
    else if (f.refused) parts.push(`${f.as}: ${f.refused}, so it names nothing (session ${f.key} left alone; pass that key itself to revoke it)`)
  }

  if (r.matchedAs.length === 0) parts.unshift('matched nothing')
  return parts.join('; ')
}
