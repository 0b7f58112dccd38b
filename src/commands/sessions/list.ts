import {Flags} from '@oclif/core'

import type {Session, SessionState, UndecodableValue} from '../../stores/contract.js'

import {type BaseFlags, SessionsCommand} from '../../cli/base-command.js'
import {ownerUnknownNote} from '../../cli/owner-unknown.js'
import {
  csvHeader, csvRow, plural, sessionColumns, sessionJson, type SessionJson, storeScanJson, StreamingTable,
  undecodableColumns, undecodableCsvHeader, undecodableCsvRow, undecodableJson, type UndecodableJson,
} from '../../cli/render.js'
import {report, storeFailures, warn} from '../../cli/report.js'
import {scanStores, totals} from '../../sessions/scan.js'

export interface ListResult {
  sessions: SessionJson[]
  stores: Array<Record<string, unknown>>
  summary: {badSignature: number; matched: number; ownerUnknown: number; scanned: number; undecodable: number;}
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
  ]
  static flags = {
    all: Flags.boolean({exclusive: ['expired-only'], summary: 'Live and expired sessions.'}),
    'expired-only': Flags.boolean({exclusive: ['all'], summary: 'Only expired sessions (the store still holds them).'}),
    output: Flags.option({
      exclusive: ['json'],
      options: ['table', 'ndjson', 'csv'] as const,
      summary: 'table (default), or ndjson/csv streamed one session per line.',
    })(),
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
    const stores = await this.openStores(flags as BaseFlags<typeof SessionsCommand>)
    const showKeys = Boolean(flags['show-keys'])
    const json = this.jsonEnabled()
    const output = flags.output ?? 'table'
    const signal = this.stopSignal(() => this.progress.stop())

    const collected: SessionJson[] = []
    let table: StreamingTable<Session> | undefined
    let now = new Date()
    const listUndecodable = Boolean(flags.undecodable)
    if (!json && output === 'csv') this.log(listUndecodable ? undecodableCsvHeader() : csvHeader())
    const rejected: UndecodableJson[] = []
    let rejectTable: StreamingTable<UndecodableValue> | undefined
    const onUndecodable = (values: UndecodableValue[]): void => {
      if (json) {
        for (const v of values) rejected.push(undecodableJson(v, showKeys))
      } else if (output === 'ndjson') {
        for (const v of values) this.log(JSON.stringify(undecodableJson(v, showKeys)))
      } else if (output === 'csv') {
        for (const v of values) this.log(undecodableCsvRow(undecodableJson(v, showKeys)))
      } else {
        this.progress.stop()
        rejectTable ??= new StreamingTable(undecodableColumns(showKeys, stores.length > 1), line => this.log(line))
        rejectTable.push(values)
      }
    }

    const onSessions = (sessions: Session[]): void => {
      if (json) {
        for (const s of sessions) collected.push(sessionJson(s, showKeys))
      } else if (output === 'ndjson') {
        for (const s of sessions) this.log(JSON.stringify(sessionJson(s, showKeys)))
      } else if (output === 'csv') {
        for (const s of sessions) this.log(csvRow(sessionJson(s, showKeys)))
      } else {
        this.progress.stop()
        table ??= new StreamingTable(sessionColumns(now, showKeys, stores.length > 1), line => this.log(line))
        table.push(sessions)
      }
    }

    const started = Date.now()
    this.progress.start('Scanning')
    const filter = {
      signal, state, userId, ...(listUndecodable ? {onUndecodable} : {}),
    }
    const scans = await scanStores(stores, filter, listUndecodable ? () => {} : onSessions, p => {
      now = new Date()
      this.progress.update('Scanned', p.scanned, 'sessions', `, ${p.matched} matched`)
    })
    this.progress.stop()
    table?.end((a, b) => (b.expiresAt?.getTime() ?? 0) - (a.expiresAt?.getTime() ?? 0))
    rejectTable?.end()

    const t = totals(scans)
    const failures = storeFailures(scans)
    const result: ListResult = {
      sessions: collected,
      stores: scans.map(s => storeScanJson(s)),
      summary: {
        scanned: t.scanned, matched: t.matched, undecodable: t.undecodable, ownerUnknown: t.ownerUnknown, badSignature: t.badSignature,
      },
      ...(listUndecodable ? {undecodable: rejected} : {}),
    }

    report(this, {
      failures,
      headline: listUndecodable ? `${plural(t.undecodable, 'undecodable value')}${userId === undefined ? '' : ` not ruled out as user ${userId}'s`}` : listHeadline(t.matched, state, userId),
      output: json ? 'json' : output,
      scans,
      seconds: (Date.now() - started) / 1000,
      stopped: signal.aborted,
      totals: t,
    })
    // Values that may be the user's sessions were not among those listed: say so (exit stays 0).
    const note = userId === undefined || listUndecodable ? undefined : ownerUnknownNote(t, userId, state, 'listed')
    if (note) warn(note)
    return json ? result : undefined
  }
}

function listHeadline(matched: number, state: SessionState, userId: string | undefined): string {
  const what = state === 'all' ? '' : `${state} `
  const whose = userId === undefined ? '' : ` of user ${userId}`
  return `${matched.toLocaleString('en-US')} ${what}session${matched === 1 ? '' : 's'}${whose}`
}
