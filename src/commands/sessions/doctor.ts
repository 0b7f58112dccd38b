import {Flags} from '@oclif/core'

import type {Check} from '../../stores/contract.js'

import {type BaseFlags, SessionsCommand} from '../../cli/base-command.js'
import {plural} from '../../cli/render.js'
import {documentOutputFlag, outputChoice} from '../../cli/session-output.js'
import {ExitCode} from '../../errors.js'
import {diagnoseStores} from '../../sessions/doctor.js'
import {checkReplicaUrls} from '../../stores/index.js'

export interface DoctorResult {
  stores: Array<{checks: Check[]; store: string}>
  summary: {fail: number; ok: number; warn: number}
}

/** Django's SESSION_COOKIE_AGE: two weeks. */
const DEFAULT_MAX_AGE_S = 1_209_600

export default class Doctor extends SessionsCommand {
  static description = `Checks what matters for cleanup and purge on each store, one line each: ok, warn or fail, and what to do.

SQL stores: the expiry column's index; the user column's index (or the DDL to add one: without it every purge reads every \
row); the store's clock against this host's; whether the account may DELETE from the table and take cleanup's lock \
(proved by a DELETE that matches nothing, rolled back, and a lock released at once); a read-only server; MySQL's binary \
log format; replicas given with --replica.
Redis: the clock, a maxmemory-policy that evicts session keys, every cluster master, session keys without a TTL, Spring's \
stale index members.
Every store: it reads every session once (--sample N: about N) and counts undecodable values, signatures that fail with \
the given --secret-key (a wrong key?), expiries implausibly far ahead (Django's USE_TZ=False read as UTC?) or behind, and \
expired rows nobody deletes.

Nothing is changed. Exit 0 when nothing fails (warnings included), 1 otherwise.`
  static examples = [
    {command: '<%= config.bin %> <%= command.id %> --store prod', description: 'Every check on the "prod" profile\'s stores'},
    {command: 'DJANGO_SECRET_KEY="$(cat /run/secrets/django_key)" <%= config.bin %> <%= command.id %> --store mysql://sessionctl@db:3306/app', description: 'Also count the sessions whose signature fails with the app\'s key'},
    {command: '<%= config.bin %> <%= command.id %> --store prod --replica mysql://monitor@replica1/app --json', description: 'With a replica\'s lag, as one JSON document'},
    {command: '<%= config.bin %> <%= command.id %> --store redis://cache:6379/0 --format django-cache --sample 100000', description: 'A large Redis: read about 100,000 sessions, not all'},
  ]
  static flags = {
    output: documentOutputFlag,
    'max-age': Flags.integer({
      default: DEFAULT_MAX_AGE_S,
      max: 10 * 366 * 86_400,
      min: 60,
      summary: 'Longest session lifetime the app gives, in seconds (SESSION_COOKIE_AGE; default two weeks): later expiries are implausible.',
    }),
    replica: Flags.string({multiple: true, summary: 'MySQL or PostgreSQL replica URL whose lag to check (repeatable), as cleanup --replica takes.'}),
    sample: Flags.integer({min: 1, summary: 'Read about this many sessions per store instead of all (the lines say how many were read).'}),
  }
  static summary = 'Check a session store for what cleanup and purge need (indexes, clock, privileges, TTLs, keys).'

  async run(): Promise<DoctorResult | undefined> {
    const {flags} = await this.parse(Doctor)
    const choice = outputChoice(flags)
    const replicas = [flags.replica ?? []].flat()
    // Each URL valid and of one kind before anything connects; that it is the stores' kind once they are open.
    if (replicas.length > 0) {
      await checkReplicaUrls(replicas, replicas)
      // Stores given as URLs (not profiles) are of a kind known without connecting.
      const given = [flags.store ?? []].flat()
      if (given.every(v => /^[a-z][\d+.a-z-]*:\/\//i.test(v))) await checkReplicaUrls(given, replicas)
    }

    const stores = await this.openStores(flags as BaseFlags<typeof SessionsCommand>)
    if (replicas.length > 0) await checkReplicaUrls(stores.map(s => s.label), replicas)
    const signal = this.stopSignal(() => this.progress.stop())
    this.progress.start('Checking')
    const diagnoses = await diagnoseStores(stores, {
      maxAgeMs: flags['max-age'] * 1000,
      replicas,
      ...(flags.sample === undefined ? {} : {sample: flags.sample}),
      showKeys: Boolean(flags['show-keys']),
      signal,
      signatures: this.signatureChecks,
    })
    this.progress.stop()
    const all = diagnoses.flatMap(d => d.checks)
    const summary = {
      fail: all.filter(c => c.status === 'fail').length, ok: all.filter(c => c.status === 'ok').length, warn: all.filter(c => c.status === 'warn').length,
    }
    if (summary.fail > 0) process.exitCode = ExitCode.ERROR
    if (signal.aborted) process.exitCode = ExitCode.STOPPED
    if (choice.document) return this.document(choice, {stores: diagnoses, summary})
    for (const d of diagnoses) {
      if (diagnoses.length > 1) this.log(d.store)
      for (const check of d.checks) this.log(`${diagnoses.length > 1 ? '  ' : ''}${checkLine(check)}`)
    }

    const where = diagnoses.length === 1 ? diagnoses[0].store : `${diagnoses.length} stores`
    this.log(`${where}: ${summary.ok} ok, ${plural(summary.warn, 'warning')}, ${plural(summary.fail, 'failure')}`)
    if (signal.aborted) this.logToStderr('sessionctl: warning: stopped by signal: the checks above are incomplete')
    return undefined
  }
}

function checkLine(check: Check): string {
  return `${check.status.padEnd(4)}  ${check.summary}${check.hint ? `: ${check.hint}` : ''}`
}
