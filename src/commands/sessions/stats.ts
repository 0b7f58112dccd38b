import {Flags} from '@oclif/core'

import {type BaseFlags, SessionsCommand} from '../../cli/base-command.js'
import {plural} from '../../cli/render.js'
import {report, storeFailures} from '../../cli/report.js'
import {documentOutputFlag, outputChoice} from '../../cli/session-output.js'
import {statsJson, statsLines} from '../../cli/stats-report.js'
import {type StoreScan, totals} from '../../sessions/scan.js'
import {StatsCollector, type StoreStats} from '../../sessions/stats.js'

export interface StatsResult {
  /** A signal stopped the pass: the figures cover what was read until then. */
  stopped: boolean
  stores: Array<Record<string, unknown>>
}

export default class Stats extends SessionsCommand {
  static description = `Reads every stored value once, streaming, and prints what a capacity review or an incident asks \
first: how many sessions, live and expired (the cleanup backlog and its oldest expiry), signed in or anonymous, how many \
distinct users, the accounts holding the most live sessions (a bot, credential stuffing), session sizes (p50/p95/p99/max \
and the largest sessions), when live sessions expire, Redis keys without a TTL, and the values that cannot be decoded, by \
reason, each with a few fingerprints.

Memory stays bounded whatever the store's size: sizes up to 64 KiB are counted exactly, larger ones within 1%; the top \
users come from a fixed-size summary (65,536 counters): while it holds every user the counts and the distinct-user figure \
are exact, beyond it each top count may be low by the amount printed and the distinct users are estimated (±2%). Every \
value is parsed, so the undecodable counts are exact.`
  static examples = [
    {command: '<%= config.bin %> <%= command.id %> --store prod', description: 'The figures of the "prod" store'},
    {command: '<%= config.bin %> <%= command.id %> --store prod --top 20 --json', description: 'The 20 accounts with the most live sessions, and every figure, as JSON'},
    {command: '<%= config.bin %> <%= command.id %> --store redis://cache:6379/1 --format django-cache', description: 'A Redis store: TTL-less keys are counted too'},
  ]
  static flags = {
    output: documentOutputFlag,
    top: Flags.integer({
      default: 10, max: 1000, min: 0, summary: 'How many of the accounts with the most live sessions to show.',
    }),
  }
  static summary = 'Count, size and age the sessions of one or more stores, in one streaming pass.'

  async run(): Promise<StatsResult | undefined> {
    const {flags} = await this.parse(Stats)
    const choice = outputChoice(flags)
    const stores = await this.openStores(flags as BaseFlags<typeof SessionsCommand>)
    const showKeys = Boolean(flags['show-keys'])
    const json = choice.document
    const signal = this.stopSignal(() => this.progress.stop())
    const started = Date.now()
    const scans: StoreScan[] = []
    const results: StoreStats[] = []
    this.progress.start('Reading')
    for (const store of stores) {
      if (signal.aborted) break
      const scanStart = new Date()
      const collector = new StatsCollector(scanStart, store.capabilities.keepsExpired)
      try {
        const summary = await store.listSessions({
          countOnly: true, onUndecodable: v => collector.addUndecodable(v), signal, state: 'all',
        }, {
          onProgress: p => this.progress.update('Read', p.scanned, 'values'),
          onSessions: batch => collector.addSessions(batch),
          onTally: s => collector.add(s),
        })
        const result = collector.result(summary, flags.top)
        scans.push({store: store.label, summary})
        results.push(result)
      } catch (error) {
        scans.push({error: error as Error, store: store.label})
      }
    }

    this.progress.stop()
    if (!json) {
      const bars = Boolean(process.stdout.isTTY) && process.env.TERM !== 'dumb'
      for (const [i, s] of results.entries()) {
        if (i > 0) this.log('')
        for (const line of statsLines(s, showKeys, bars)) this.log(line)
      }
    }

    const t = totals(scans)
    const failures = storeFailures(scans)
    report({
      failures,
      headline: `Statistics of ${plural(results.length, 'store')}`,
      output: choice.mode,
      scans,
      seconds: (Date.now() - started) / 1000,
      stopped: signal.aborted,
      // The figures above already say what was undecodable or badly signed: no second warning.
      totals: {
        ...t, badSignature: 0, undecodable: 0, undecodableReasons: {},
      },
    })
    return json ? this.document(choice, {stopped: signal.aborted, stores: results.map(s => statsJson(s, showKeys))}) : undefined
  }
}
