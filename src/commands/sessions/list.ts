import {Flags} from '@oclif/core'

import type {Session, SessionState, UndecodableValue} from '../../stores/contract.js'

import {type BaseFlags, SessionsCommand} from '../../cli/base-command.js'
import {columnNames, detailColumnsIn, parseColumns} from '../../cli/columns.js'
import {ownerUnknownNote} from '../../cli/owner-unknown.js'
import {
  chosenColumns, type Column, csvHeader, csvRow, detailLabels, plural, sessionColumns, sessionJson, type SessionJson, storeScanJson,
  StreamingTable, undecodableColumns, undecodableCsvHeader, undecodableCsvRow, undecodableJson, type UndecodableJson,
} from '../../cli/render.js'
import {report, storeFailures, warn} from '../../cli/report.js'
import {UsageError} from '../../errors.js'
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
    {
      command: '<%= config.bin %> <%= command.id %> --store mysql://app@db/app --table qsessions_session --user 42 --columns id,ip,userAgent,lastActivity',
      description: 'django-qsessions: where user 42 is logged in from',
    },
  ]
  static flags = {
    all: Flags.boolean({exclusive: ['expired-only'], summary: 'Live and expired sessions.'}),
    columns: Flags.string({
      description: `Names: ${columnNames().join(', ')} (the JSON fields; the table's headers work too). A detail column the store does not keep stays empty, with a warning. --json and ndjson always carry every field.`,
      exclusive: ['undecodable'],
      summary: 'The table’s (or CSV’s) columns, comma-separated, in order.',
    }),
    'expired-only': Flags.boolean({exclusive: ['all'], summary: 'Only expired sessions (the store still holds them).'}),
    output: Flags.option({
      exclusive: ['json'],
      options: ['table', 'ndjson', 'csv'] as const,
      summary: 'table (default), or ndjson/csv streamed one session per line.',
    })(),
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
    const chosen = flags.columns === undefined ? undefined : parseColumns(flags.columns)
    if (chosen && (this.jsonEnabled() || flags.output === 'ndjson')) {
      throw new UsageError(`--columns applies to the table and CSV; ${this.jsonEnabled() ? '--json' : '--output ndjson'} carries every field: drop --columns`)
    }

    const stores = await this.openStores(
      flags as BaseFlags<typeof SessionsCommand>,
      state === 'all' ? undefined : {purpose: 'to tell live sessions from expired ones', otherwise: 'or pass --all to list every session without its expiry'},
    )
    const showKeys = Boolean(flags['show-keys'])
    const json = this.jsonEnabled()
    const output = flags.output ?? 'table'
    const signal = this.stopSignal(() => this.progress.stop())

    let now = new Date()
    const listUndecodable = Boolean(flags.undecodable)
    if (!json && output === 'csv') this.log(listUndecodable ? undecodableCsvHeader() : csvHeader(chosen))
    const multiStore = stores.length > 1
    const kept = detailLabels(stores)
    const chosenDetails = detailColumnsIn(chosen ?? [])
    const missing = chosenDetails.filter(name => !kept.includes(name))
    if (missing.length > 0) warn(`--columns ${missing.join(', ')}: ${stores.length > 1 ? 'no store keeps' : `${stores[0].label} does not keep`} ${missing.length === 1 ? 'it' : 'them'}, so the column is empty`)
    const columns = (): Array<Column<Session>> => (chosen ? chosenColumns(sessionColumns(now, showKeys, true, chosenDetails), chosen) : sessionColumns(now, showKeys, multiStore, kept))
    const sessions = this.emitter(json, output, (s: Session) => sessionJson(s, showKeys), (row: SessionJson) => csvRow(row, chosen), columns)
    const rejected = this.emitter(json, output, (v: UndecodableValue) => undecodableJson(v, showKeys), undecodableCsvRow, () => undecodableColumns(showKeys, multiStore))

    const started = Date.now()
    this.progress.start('Scanning')
    const filter = {
      signal, state, userId, ...(listUndecodable ? {onUndecodable: rejected.push} : {}), ...(flags['strict-counts'] ? {strictCounts: true as const} : {}),
    }
    const scans = await scanStores(stores, filter, listUndecodable ? () => {} : sessions.push, p => {
      now = new Date()
      this.progress.update('Scanned', p.scanned, 'sessions', `, ${p.matched} matched`)
    })
    this.progress.stop()
    sessions.end((a, b) => (b.expiresAt?.getTime() ?? 0) - (a.expiresAt?.getTime() ?? 0))
    rejected.end()

    const t = totals(scans)
    const failures = storeFailures(scans)
    const result: ListResult = {
      sessions: sessions.collected,
      stores: scans.map(s => storeScanJson(s)),
      summary: {
        scanned: t.scanned, matched: t.matched, undecodable: t.undecodable, ownerUnknown: t.ownerUnknown, badSignature: t.badSignature,
      },
      ...(listUndecodable ? {undecodable: rejected.collected} : {}),
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

  /**
   * Streams items to the chosen output: kept for the --json document, one line each for ndjson
   * and csv, a table (started at the first item, so the spinner stops then) on a terminal.
   */
  private emitter<T, J>(
    json: boolean,
    output: string,
    toJson: (item: T) => J,
    csvLine: (item: J) => string,
    columns: () => Array<Column<T>>,
  ): {collected: J[]; end(order?: (a: T, b: T) => number): void; push(items: T[]): void} {
    const collected: J[] = []
    let table: StreamingTable<T> | undefined
    return {
      collected,
      end: order => table?.end(order),
      push: items => {
        if (json) {
          for (const item of items) collected.push(toJson(item))
        } else if (output === 'ndjson') {
          for (const item of items) this.log(JSON.stringify(toJson(item)))
        } else if (output === 'csv') {
          for (const item of items) this.log(csvLine(toJson(item)))
        } else {
          this.progress.stop()
          table ??= new StreamingTable(columns(), line => this.log(line))
          table.push(items)
        }
      },
    }
  }
}

function listHeadline(matched: number, state: SessionState, userId: string | undefined): string {
  const what = state === 'all' ? '' : `${state} `
  const whose = userId === undefined ? '' : ` of user ${userId}`
  return `${matched.toLocaleString('en-US')} ${what}session${matched === 1 ? '' : 's'}${whose}`
}
