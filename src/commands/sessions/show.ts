import {Args, Flags} from '@oclif/core'
import {readFileSync} from 'node:fs'

import type {Session} from '../../stores/contract.js'

import {type BaseFlags, SessionsCommand} from '../../cli/base-command.js'
import {
  payloadEntries, type PayloadEntry, valueLine,
} from '../../cli/payload.js'
import {
  type Column, detailHeader, isoMinute, plural, relative, sessionJson, type SessionJson, stateOf, storeScanJson, StreamingTable, terminalSafe,
} from '../../cli/render.js'
import {failureText, printError, storeFailures} from '../../cli/report.js'
import {documentOutputFlag, outputChoice} from '../../cli/session-output.js'
import {ExitCode, SessionctlError, UsageError} from '../../errors.js'
import {getFramework} from '../../frameworks/index.js'
import {
  checkKeepEntry, displayKey, fingerprint, KeepList,
} from '../../sessions/keys.js'
import {scanStores, type StoreScan} from '../../sessions/scan.js'

export interface ShowSessionJson extends SessionJson {
  /** Seconds from the store's clock to the expiry (negative: expired); null without an expiry. */
  ttlSeconds: null | number
  format?: string
  variant?: string
  signature?: 'invalid' | 'unchecked' | 'valid'
  /** The named value could not be decoded: why. */
  undecodable?: string
  /** The payload's top-level keys; absent when it was not decoded or the row holds none. */
  keys?: PayloadEntry[]
}

export interface ShowResult {
  sessions: ShowSessionJson[]
  stores: Array<Record<string, unknown>>
}

/** A raw key read from stdin (`-`) longer than this is not a session key. */
const MAX_KEY_BYTES = 4096

export default class Show extends SessionsCommand {
  static args = {
    key: Args.string({
      description: 'A session key, or its fingerprint as list prints it (abcd…1a2b3c4d); - reads the key from stdin (it stays out of `ps`).',
    }),
  }
  /** One value per --store / --secret-key, so the KEY after them is the argument, not another store. */
  static baseFlags: typeof SessionsCommand.baseFlags = {
    ...SessionsCommand.baseFlags,
    'secret-key': {...SessionsCommand.baseFlags['secret-key'], multipleNonGreedy: true},
    store: {...SessionsCommand.baseFlags.store, multipleNonGreedy: true},
  }
  static description = `Finds the one session the key or fingerprint names, in every --store, and prints it decoded: store, \
fingerprint, user, expiry, state, size, format and variant, signature state, and the payload's top-level keys with their \
types and sizes. Values are printed only with --reveal (sessions hold personal data and tokens), and even then the values of \
keys that look like secrets (*token*, *csrf*, *password*, *hash*, *secret*, *salt*, *credential*: Django's _auth_user_hash, \
Laravel's _token) stay masked, at any depth.

A raw key given on the command line is visible to every local user in \`ps\`: pass - and the key on stdin, or the fingerprint. \
Nothing is written to the store.

A name that matches nothing exits 3. The same key in several stores (Django's cached_db keeps a session in the database and \
in the cache) shows each. A named value that cannot be decoded is shown with its size and the reason (exit 0).`
  static examples = [
    {command: '<%= config.bin %> <%= command.id %> --store mysql://app@db:3306/app \'fg6g…bf667b60\'', description: 'One Django session, by the fingerprint list printed'},
    {command: 'printf %s "$SESSION_KEY" | <%= config.bin %> <%= command.id %> --store prod -', description: 'By its raw key, read from stdin'},
    {command: '<%= config.bin %> <%= command.id %> --store redis://cache:6379/0 --format express \'sess…0c1d2e3f\' --reveal', description: 'With the values (secrets still masked)'},
    {command: '<%= config.bin %> <%= command.id %> --store prod \'fg6g…bf667b60\' --reveal --json', description: 'As one JSON document'},
  ]
  static flags = {
    output: documentOutputFlag,
    reveal: Flags.boolean({
      summary: 'Also print the values (secret-looking keys stay masked). They may hold personal data.',
    }),
  }
  static summary = 'Show one session decoded: who, when, what it holds.'

  async run(): Promise<ShowResult | undefined> {
    const {args, flags} = await this.parse(Show)
    const choice = outputChoice(flags)
    if (args.key === undefined) throw new UsageError('missing KEY: pass a session key, its fingerprint as list prints it, or - to read the key from stdin')
    const given = args.key === '-' ? keyFromStdin() : args.key
    checkName(given)
    const stores = await this.openStores(flags as BaseFlags<typeof SessionsCommand>)
    const names = new KeepList([given], this.keyAliases)
    const showKeys = Boolean(flags['show-keys'])
    const reveal = Boolean(flags.reveal)
    const signal = this.stopSignal(() => this.progress.stop())
    const found: Session[] = []
    this.progress.start('Looking')
    const scans = await scanStores(stores, {
      inspect: true, names, signal, state: 'all',
    }, sessions => {
      found.push(...sessions)
    }, p => this.progress.update('Scanned', p.scanned, 'sessions'))
    this.progress.stop()
    const failures = storeFailures(scans)
    const named = /…|\.\.\./.test(given) ? given : fingerprint(given)
    if (signal.aborted) throw new SessionctlError('stopped by signal before every store was read: nothing to show', ExitCode.STOPPED)
    if (found.length === 0) {
      if (failures.length > 0) throw new SessionctlError(`no session named ${named} in the stores read; ${failureText(failures)}`)
      throw new SessionctlError(`no session named ${named} in ${stores.map(s => s.label).join(', ')}`, ExitCode.REFUSED)
    }

    const nowOf = new Map(scans.flatMap(s => (s.summary ? [[s.store, s.summary.now] as const] : [])))
    const docs = found.map(s => showJson(s, nowOf.get(s.store) ?? new Date(), showKeys, reveal))
    if (choice.document) {
      if (failures.length > 0) process.exitCode = ExitCode.PARTIAL
      return this.document(choice, {sessions: docs, stores: scans.map(s => storeScanJson(s))})
    }

    for (const [i, session] of found.entries()) {
      if (i > 0) this.log('')
      this.print(session, docs[i], nowOf.get(session.store) ?? new Date(), showKeys, reveal)
    }

    if (found.length > 1) {
      this.log('')
      this.log(`${plural(found.length, 'session')} named ${named}, in ${plural(new Set(found.map(s => s.store)).size, 'store')}`)
    }

    this.finishPartial(failures)
    return undefined
  }

  private finishPartial(failures: StoreScan[]): void {
    if (failures.length === 0) return
    printError(failureText(failures as Array<{error: Error; store: string}>))
    process.exitCode = ExitCode.PARTIAL
  }

  private print(session: Session, doc: ShowSessionJson, now: Date, showKeys: boolean, reveal: boolean): void {
    const lines: Array<[string, string]> = [
      ['Session', displayKey(session.key, showKeys)],
      ['Store', session.store],
      ['User', userText(session)],
      ['Expires', session.expiryUnknown ? '- (unknown)' : (session.expiresAt ? `${isoMinute(session.expiresAt)} (${relative(session.expiresAt, now)})` : 'never (no expiry)')],
      ['State', stateOf(session)],
      ['Size', plural(session.size, 'byte')],
    ]
    for (const [label, value] of Object.entries(session.details ?? {})) {
      const text = detailHeader(label)
      lines.push([`${text.charAt(0).toUpperCase()}${text.slice(1).toLowerCase()}`, value ?? '-'])
    }

    if (session.undecodable) lines.push(['Undecodable', `${session.undecodable}: its payload cannot be read, so its owner is not known`])
    else if (!doc.format) lines.push(['Payload', 'not read: the store records the owner in a column of the row, and the attributes elsewhere'])
    if (doc.format) lines.push(['Format', `${doc.format} (${doc.variant})`], ['Signature', signatureText(doc)])
    const width = Math.max(...lines.map(([label]) => label.length)) + 2
    for (const [label, value] of lines) this.log(`${label.padEnd(width)}${terminalSafe(value)}`)
    if (!doc.keys) return
    if (doc.keys.length === 0) {
      this.log('')
      this.log('The session holds no keys.')
      return
    }

    this.log('')
    const table = new StreamingTable(keyColumns(doc.keys, reveal), line => this.log(line))
    table.push(doc.keys)
    table.end()
    const masked = doc.keys.filter(k => k.masked).length
    if (!reveal) this.log(`${plural(doc.keys.length, 'key')}; values not shown (--reveal shows them, secrets masked)`)
    else if (masked > 0) this.log(`${plural(masked, 'value')} masked: the key looks like a secret`)
  }
}

function showJson(session: Session, now: Date, showKeys: boolean, reveal: boolean): ShowSessionJson {
  const doc: ShowSessionJson = {
    ...sessionJson(session, showKeys),
    ttlSeconds: session.expiresAt && !session.expiryUnknown ? Math.round((session.expiresAt.getTime() - now.getTime()) / 1000) : null,
  }
  if (session.undecodable) doc.undecodable = session.undecodable
  const {inspection} = session
  if (inspection) {
    doc.format = inspection.format
    doc.variant = inspection.variant
    doc.signature = inspection.signature
    const framework = getFramework(inspection.format)
    doc.keys = payloadEntries(inspection.data, framework.language, reveal, framework.secretKeys)
  }

  return doc
}

function userText(session: Session): string {
  if (session.undecodable) return '(unknown: not decoded)'
  const claimed = session.inspection?.userId
  if (session.inspection?.signature === 'invalid') return `nobody: the signature is bad${claimed ? ` (the payload names ${claimed})` : ''}`
  return session.userId ?? '(anonymous)'
}

function signatureText(doc: ShowSessionJson): string {
  if (doc.signature === 'valid') return `valid (checked with ${getFramework(doc.format!).signed ? '--secret-key' : 'the --app-key'})`
  if (doc.signature === 'invalid') return 'bad: the framework ignores this session, it is nobody’s'
  return getFramework(doc.format!).signed ? 'not checked (--secret-key checks it)' : 'none (the format is not signed)'
}

/** KEY, TYPE, SIZE, and with --reveal VALUE cut to what the terminal has left. */
function keyColumns(entries: readonly PayloadEntry[], reveal: boolean): Array<Column<PayloadEntry>> {
  const columns: Array<Column<PayloadEntry>> = [
    {header: 'KEY', value: e => e.key},
    {header: 'TYPE', value: e => e.type},
    {align: 'right', header: 'SIZE', value: e => `${e.size}`},
  ]
  if (!reveal) return columns
  const used = columns.reduce((n, c) => n + Math.max(c.header.length, ...entries.map(e => terminalSafe(c.value(e)).length)) + 2, 0)
  const width = Math.max(20, (process.stdout.columns || 120) - used)
  columns.push({header: 'VALUE', value: e => (e.masked ? '(masked)' : valueLine(e.value, width))})
  return columns
}

/** The key or fingerprint, checked as --except checks its values (before any I/O), in show's words. */
function checkName(name: string): void {
  try {
    checkKeepEntry(name)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    throw new UsageError(error.message.replaceAll('an --except value', 'the KEY argument').replaceAll('--except', 'KEY'))
  }
}

/** `-`: the key on stdin (one line; a trailing newline is not part of it), so it stays out of `ps`. */
function keyFromStdin(): string {
  let text: string
  try {
    text = readFileSync(0, 'utf8')
  } catch (error) {
    throw new UsageError(`KEY -: cannot read the key from stdin (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }

  if (Buffer.byteLength(text) > MAX_KEY_BYTES) throw new UsageError(`KEY -: stdin holds more than ${MAX_KEY_BYTES} bytes, which is no session key: pass the key alone`)
  const key = text.replace(/\r?\n$/, '')
  if (key === '') throw new UsageError('KEY -: stdin is empty: pipe the session key in, e.g. printf %s "$KEY" | sessionctl sessions show --store … -')
  return key
}
