import {Flags} from '@oclif/core'

import type {Session, SessionState, UndecodableValue} from '../../stores/contract.js'

import {type BaseFlags, SessionsCommand} from '../../cli/base-command.js'
import {detailColumnsIn} from '../../cli/columns.js'
import {ownerUnknownNote} from '../../cli/owner-unknown.js'
import {
  detailLabels, plural, type SessionJson, storeScanJson, undecodableColumns, undecodableCsvHeader, undecodableCsvRow, undecodableJson, type UndecodableJson,
} from '../../cli/render.js'
import {report, storeFailures, warn} from '../../cli/report.js'
import {
  columnsFlag, outputChoice, outputFlags, RowEmitter, sessionFormat,
} from '../../cli/session-output.js'
import {scanStores, totals} from '../../sessions/scan.js'

export interface ListResult {
  sessions: SessionJson[]
  stores: Array<Record<string, unknown>>
  summary: {badSignature: number; matched: number; ownerUnknown: number; scanned: number; undecodable: number; undecodableCounted: 'all' | 'candidates'}
  /** With --undecodable: the values that could not be decoded, instead of sessions. */
  undecodable?: UndecodableJson[]
}

export default class List extends SessionsCommand {
  static description = `Reads every session the store holds, decodes it with the format's codec and prints those of the user. \
Live sessions by default (Django's rule: expire_date after the store's UTC clock); --expired-only or --all for the others. \
Values that cannot be decoded are counted and reported, never listed as anyone's.

Session keys are bearer credentials: they print as fingerprints (abcd…1a2b3c4d) unless --show-keys. \
A fingerprint can be given to "purge --except".`
  static examples = [
    {command: '<%= config.bin %> <%= command.id %> --store mysql://app@db:3306/app --user 42', description: "User 42's live Django sessions"},
    {command: '<%= config.bin %> <%= command.id %> --store prod --user 42 --all --json', description: 'Live and expired, as JSON, using the "prod" profile'},
    {command: '<%= config.bin %> <%= command.id %> --store prod --output ndjson > sessions.ndjson', description: 'Every live session, streamed'},
    {command: '<%= config.bin %> <%= command.id %> --store prod --user 42 -o wide', description: 'With the detail columns the store keeps (ip, user agent…) and the store'},
    {command: '<%= config.bin %> <%= command.id %> --store prod --user 42 --no-headers | wc -l', description: 'How many live sessions user 42 has (the summary line goes to stderr)'},
    {
      command: '<%= config.bin %> <%= command.id %> --store mysql://app@db/app --table qsessions_session --user 42 --columns id,ip,userAgent,lastActivity',
      description: 'django-qsessions: where user 42 is logged in from',
    },
  ]
  static flags = {
    all: Flags.boolean({exclusive: ['expired-only'], summary: 'Live and expired sessions.'}),
    ...outputFlags,
    columns: columnsFlag(['undecodable']),
    'expired-only': Flags.boolean({exclusive: ['all'], summary: 'Only expired sessions (the store still holds them).'}),
    'strict-counts': Flags.boolean({
      summary: 'With --user: decode every value (no prefilter), so the undecodable counts cover all of them, not only those not ruled out as the user’s.',
    }),
    undecodable: Flags.boolean({
      summary: 'List the stored values that could not be decoded (reason, size, whether they may be anyone’s session) instead of sessions.',
    }),
    user: Flags.string({char: 'u', summary: 'Only this user’s sessions (compared as text: 42 matches "42", never 420).'}),
  }
  static summary = 'List the sessions of a user (or of everyone) in one or more stores.'

  async run(): Promise<ListResult | undefined> {
    const {flags} = await this.parse(List)
    const userId = flags.user === undefined ? undefined : this.userId(flags.user)
    const state: SessionState = flags.all ? 'all' : (flags['expired-only'] ? 'expired' : 'live')
    const choice = outputChoice(flags)
    const chosen = choice.columns

    const stores = await this.openStores(
      flags as BaseFlags<typeof SessionsCommand>,
      state === 'all' ? undefined : {purpose: 'to tell live sessions from expired ones', otherwise: 'or pass --all to list every session without its expiry'},
    )
    const showKeys = Boolean(flags['show-keys'])
    // A reader that went away (`list | head -1`) stops the scan as a signal would.
    const signal = this.stopSignal(() => this.progress.stop(), {whenReaderGone: true})

    let now = new Date()
    const listUndecodable = Boolean(flags.undecodable)
    const multiStore = stores.length > 1
    const kept = detailLabels(stores)
    const chosenDetails = detailColumnsIn(chosen ?? [])
    const missing = chosenDetails.filter(name => !kept.includes(name))
    if (missing.length > 0) warn(`--columns ${missing.join(', ')}: ${stores.length > 1 ? 'no store keeps' : `${stores[0].label} does not keep`} ${missing.length === 1 ? 'it' : 'them'}, so the column is empty`)
    const write = (line: string): void => this.log(line)
    const stopProgress = (): void => this.progress.stop()
    const sessions = new RowEmitter<Session, SessionJson>(choice, sessionFormat({
      columns: chosen, details: kept, multiStore, now: () => now, showKeys,
    }), write, stopProgress)
    const rejected = new RowEmitter<UndecodableValue, UndecodableJson>(choice, {
      columns: wide => undecodableColumns(showKeys, wide || multiStore),
      csvHeader: undecodableCsvHeader,
      csvRow: undecodableCsvRow,
      toJson: v => undecodableJson(v, showKeys),
    }, write, stopProgress)

    const started = Date.now()
    this.progress.start('Scanning')
    const filter = {
      signal, state, userId, ...(listUndecodable ? {onUndecodable: (values: UndecodableValue[]) => rejected.push(values)} : {}), ...(flags['strict-counts'] ? {strictCounts: true as const} : {}),
    }
    const scans = await scanStores(stores, filter, listUndecodable ? () => {} : batch => sessions.push(batch), p => {
      now = new Date()
      this.progress.update('Scanned', p.scanned, 'sessions', `, ${p.matched} matched`)
    })
    this.progress.stop()
    if (listUndecodable) rejected.end()
    else sessions.end((a, b) => (b.expiresAt?.getTime() ?? 0) - (a.expiresAt?.getTime() ?? 0))

    const t = totals(scans)
    const failures = storeFailures(scans)
    const result: ListResult = {
      sessions: sessions.collected,
      stores: scans.map(s => storeScanJson(s)),
      summary: {
        scanned: t.scanned, matched: t.matched, undecodable: t.undecodable, ownerUnknown: t.ownerUnknown, badSignature: t.badSignature,
        // 'candidates': with --user, a value ruled out from its bytes is not parsed, so not counted (README: sessions list).
        undecodableCounted: scans.some(s => s.summary?.undecodableCounted === 'candidates') ? 'candidates' : 'all',
      },
      ...(listUndecodable ? {undecodable: rejected.collected} : {}),
    }

    report({
      failures,
      headline: listUndecodable ? `${plural(t.undecodable, 'undecodable value')}${userId === undefined ? '' : ` not ruled out as user ${userId}'s`}` : listHeadline(t.matched, state, userId),
      output: choice.mode,
      scans,
      seconds: (Date.now() - started) / 1000,
      stopped: signal.aborted,
      totals: t,
    })
    // Values that may be the user's sessions were not among those listed: say so (exit stays 0).
    const note = userId === undefined || listUndecodable ? undefined : ownerUnknownNote(t, userId, state, 'listed')
    if (note) warn(note)
    return this.document(choice, result)
  }
}

function listHeadline(matched: number, state: SessionState, userId: string | undefined): string {
  const what = state === 'all' ? '' : `${state} `
  const whose = userId === undefined ? '' : ` of user ${userId}`
  return `${matched.toLocaleString('en-US')} ${what}session${matched === 1 ? '' : 's'}${whose}`
}
