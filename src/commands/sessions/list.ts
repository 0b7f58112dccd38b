import {Flags} from '@oclif/core'

import type {Session, SessionState} from '../../stores/contract.js'

import {type BaseFlags, SessionsCommand} from '../../cli/base-command.js'
import {
  csvHeader, csvRow, sessionColumns, sessionJson, type SessionJson, storeScanJson, StreamingTable,
} from '../../cli/render.js'
import {report, storeFailures} from '../../cli/report.js'
import {scanStores, totals} from '../../sessions/scan.js'

export interface ListResult {
  sessions: SessionJson[]
  stores: Array<Record<string, unknown>>
  summary: {badSignature: number; matched: number; scanned: number; undecodable: number;}
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
    if (!json && output === 'csv') this.log(csvHeader())

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
    const scans = await scanStores(stores, {signal, state, userId}, onSessions, p => {
      now = new Date()
      this.progress.update('Scanned', p.scanned, 'sessions', `, ${p.matched} matched`)
    })
    this.progress.stop()
    table?.end((a, b) => (b.expiresAt?.getTime() ?? 0) - (a.expiresAt?.getTime() ?? 0))

    const t = totals(scans)
    const failures = storeFailures(scans)
    const result: ListResult = {
      sessions: collected,
      stores: scans.map(s => storeScanJson(s)),
      summary: {
        scanned: t.scanned, matched: t.matched, undecodable: t.undecodable, badSignature: t.badSignature,
      },
    }

    report(this, {
      failures,
      headline: listHeadline(t.matched, state, userId),
      output: json ? 'json' : output,
      scans,
      seconds: (Date.now() - started) / 1000,
      stopped: signal.aborted,
      totals: t,
    })
    return json ? result : undefined
  }
}

function listHeadline(matched: number, state: SessionState, userId: string | undefined): string {
  const what = state === 'all' ? '' : `${state} `
  const whose = userId === undefined ? '' : ` of user ${userId}`
  return `${matched.toLocaleString('en-US')} ${what}session${matched === 1 ? '' : 's'}${whose}`
}
