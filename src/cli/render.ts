import chalk from 'chalk'
import {format, inspect} from 'node:util'

import type {ScanTotals, StoreScan} from '../sessions/scan.js'
import type {Session, UndecodableValue} from '../stores/contract.js'

import {displayKey} from '../sessions/keys.js'

/**
 * Characters that act on a terminal instead of printing: C0 and C1 controls (ESC starts cursor
 * moves and screen clears, CR/LF forge lines), DEL, line/paragraph separators, lone surrogates,
 * and invisible format characters (bidi overrides U+202A–202E and isolates U+2066–2069, zero-width
 * characters, the BOM, tag characters): category Cf.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu
const NAMED: Record<string, string> = {'\n': String.raw`\n`, '\r': String.raw`\r`, '\t': String.raw`\t`}
/** The only escape sequences let through, and only with colour on: chalk's bold/dim and foreground colours (not black, not conceal). */
// eslint-disable-next-line no-control-regex -- ESC is what this matches
const OUR_COLOURS = /\u001B\[(?:[12]|22|3[1-79]|9[1-7])m/y

/**
 * Text made safe to print on a terminal: every character above shown as a visible escape
 * (`\n`, `\x1b`, `\u202e`; astral ones as their two `\uXXXX` halves), everything else as is.
 * Idempotent, so layers may apply it twice. Characters from DEL up use `\uXXXX`, which is also a
 * JSON string escape: a JSON line stays valid and decodes to the same value (JSON.stringify
 * already escapes C0 controls). `keepColours` lets our own colour codes through, nothing else.
 */
export function terminalSafe(text: string, keepColours = false): string {
  return text.replaceAll(UNSAFE, (ch: string, offset: number) => {
    if (keepColours && ch === '\u001B') {
      OUR_COLOURS.lastIndex = offset
      if (OUR_COLOURS.test(text)) return ch
    }

    if (NAMED[ch]) return NAMED[ch]
    const code = ch.charCodeAt(0)
    if (code < 0x20) return `\\x${code.toString(16).padStart(2, '0')}`
    let escaped = ''
    for (let i = 0; i < ch.length; i++) escaped += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`
    return escaped
  })
}

/** What oclif's log() prints (format() only with arguments: it turns "%%" into "%"), terminal-safe, our colours kept. */
export function terminalLine(message: unknown, args: unknown[] = []): string {
  const text = args.length > 0 ? format(message, ...args) : (typeof message === 'string' ? message : inspect(message))
  return terminalSafe(text, chalk.level > 0)
}

/** A session as printed in JSON, NDJSON and CSV: the key masked unless --show-keys. */
export interface SessionJson {
  /** What the store keeps beside the session (Laravel: ip, userAgent, lastActivity). */
  details?: Record<string, null | string>
  /** null: unknown (the expiry needs a setting that was not given, e.g. Rails' --lifetime). */
  expired: boolean | null
  expiresAt: null | string
  id: string
  size: number
  state: 'expired' | 'live' | 'unknown'
  store: string
  /** Selected by name though it cannot be decoded (revoke): why. */
  undecodable?: string
  userId: null | string
}

export function sessionJson(session: Session, showKeys: boolean): SessionJson {
  return {
    id: displayKey(session.key, showKeys),
    userId: session.userId,
    expiresAt: session.expiresAt ? session.expiresAt.toISOString() : null,
    expired: session.expiryUnknown ? null : session.expired,
    state: stateOf(session),
    size: session.size,
    store: session.store,
    ...(session.details ? {details: session.details} : {}),
    ...(session.undecodable === undefined ? {} : {undecodable: session.undecodable}),
  }
}

export function storeScanJson(scan: StoreScan): Record<string, unknown> {
  if (scan.error) return {error: scan.error.message, store: scan.store}
  const s = scan.summary!
  return {
    store: s.store,
    scanned: s.scanned,
    matched: s.matched,
    kept: s.kept,
    undecodable: s.undecodable,
    ownerUnknown: Object.values(s.ownerUnknown ?? {}).reduce((a, b) => a + b, 0),
    badSignature: s.badSignature,
    ...(s.undecodableCounted === undefined ? {} : {undecodableCounted: s.undecodableCounted}),
    ...(s.userMismatch === undefined ? {} : {userMismatch: s.userMismatch}),
    ...(s.warnings === undefined ? {} : {warnings: s.warnings}),
    ...(s.staleIndex === undefined ? {} : {staleIndex: s.staleIndex}),
  }
}

const CSV_COLUMNS: Array<keyof SessionJson> = ['id', 'userId', 'expiresAt', 'state', 'size', 'store']

/** The CSV header: the default columns, or those `list --columns` chose (JSON field names, details by label). */
export function csvHeader(columns: readonly string[] = CSV_COLUMNS): string {
  return columns.join(',')
}

export function csvRow(row: SessionJson, columns: readonly string[] = CSV_COLUMNS): string {
  return columns.map(c => csvField(Object.hasOwn(row, c) ? row[c as keyof SessionJson] : row.details?.[c])).join(',')
}

/**
 * CSV is read by people and spreadsheets, and printed on terminals: control and invisible
 * characters are shown as escapes (\n, \x1b…) rather than embedded; --json and --output ndjson
 * keep every value exact. Fields are quoted as RFC 4180 says (commas, quotes, line breaks).
 */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return ''
  const text = terminalSafe(String(value))
  // Leading = + - @ would be formulas in a spreadsheet; quote-and-prefix them.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text
  return /[\n\r",]/.test(safe) || safe !== text ? `"${safe.replaceAll('"', '""')}"` : safe
}

/** "in 13d", "5h ago": how far an expiry is from the store's clock. */
export function relative(date: Date | null, now: Date): string {
  if (!date) return 'no expiry'
  const diff = date.getTime() - now.getTime()
  const abs = Math.abs(diff)
  const units: Array<[number, string]> = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1000, 's'],
  ]
  let text = 'now'
  for (const [size, unit] of units) {
    if (abs >= size) {
      text = `${Math.floor(abs / size)}${unit}`
      break
    }
  }

  if (text === 'now') return text
  return diff >= 0 ? `in ${text}` : `${text} ago`
}

/** live, expired, or unknown where the expiry needs a setting that was not given (Session.expiryUnknown). */
export function stateOf(session: Session): 'expired' | 'live' | 'unknown' {
  if (session.expiryUnknown) return 'unknown'
  return session.expired ? 'expired' : 'live'
}

export function isoMinute(date: Date | null): string {
  if (!date) return '-'
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`
}

export interface Column<T> {
  align?: 'left' | 'right'
  /** The name `list --columns` knows it by (the JSON field). */
  name?: string
  color?(text: string, row: T): string
  header: string
  /** Free text that may be cut with an ellipsis to fit the terminal (the store label first, then the widest such column). */
  shrink?: 'first' | true
  value(row: T): string
}

export interface TableOptions {
  /** Rows buffered to fix the widths (default 500). */
  bufferRows?: number
  /** Print the header line (default true; --no-headers). */
  headers?: boolean
  /** The terminal's width: rows never wrap, the shrinkable columns are cut with an ellipsis. Undefined: nothing is cut. */
  maxWidth?: number
}

/** A shrinkable column is never cut below this (or its header). */
const MIN_SHRUNK = 8
const GAP = 2

/**
 * A table that streams: the first rows fix the column widths, later rows follow them. Without a
 * width limit a longer value widens its own line rather than being cut, so nothing is hidden; on
 * a terminal (maxWidth) the store label, then the widest free-text column, is cut with an
 * ellipsis so that no row wraps.
 */
export class StreamingTable<T> {
  private buffered: T[] = []
  private readonly options: TableOptions
  private widths: number[] | undefined

  constructor(
    private readonly columns: Array<Column<T>>,
    private readonly write: (line: string) => void,
    options: number | TableOptions = {},
  ) {
    this.options = typeof options === 'number' ? {bufferRows: options} : options
  }

  get started(): boolean {
    return this.widths !== undefined || this.buffered.length > 0
  }

  /** Writes what is buffered; `sort` applies only when every row is in the buffer. */
  end(sort?: (a: T, b: T) => number): void {
    if (!this.widths && sort) this.buffered.sort(sort)
    this.flush()
  }

  push(rows: readonly T[]): void {
    if (this.widths) {
      for (const row of rows) this.writeRow(row)
      return
    }

    this.buffered.push(...rows)
    if (this.buffered.length >= (this.options.bufferRows ?? 500)) this.flush()
  }

  private flush(): void {
    if (!this.widths) {
      this.widths = fitWidths(this.columns, this.columns.map(c => Math.max(c.header.length, ...this.buffered.map(r => cell(c, r).length))), this.options.maxWidth)
      if (this.options.headers ?? true) this.write(this.columns.map((c, i) => chalk.bold(this.pad(c.header, i, c.align))).join(' '.repeat(GAP)).trimEnd())
    }

    for (const row of this.buffered) this.writeRow(row)
    this.buffered = []
  }

  private pad(text: string, i: number, align: 'left' | 'right' = 'left'): string {
    const width = this.widths![i]
    const fitted = this.options.maxWidth !== undefined && text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text
    return align === 'right' ? fitted.padStart(width) : fitted.padEnd(width)
  }

  private writeRow(row: T): void {
    const cells = this.columns.map((c, i) => {
      const text = this.pad(cell(c, row), i, c.align)
      return c.color ? c.color(text, row) : text
    })
    this.write(cells.join(' '.repeat(GAP)).trimEnd())
  }
}

/**
 * The widths that fit `maxWidth`: the excess taken from the store label first, then from the
 * widest shrinkable column, each down to MIN_SHRUNK at most. Columns that are not free text (keys,
 * times, sizes) are never cut; a terminal too narrow even then gets the narrowest table possible.
 */
export function fitWidths<T>(columns: ReadonlyArray<Column<T>>, natural: readonly number[], maxWidth?: number): number[] {
  const widths = [...natural]
  if (maxWidth === undefined) return widths
  const total = (): number => widths.reduce((n, w) => n + w, 0) + (GAP * (widths.length - 1))
  const floor = (i: number): number => Math.min(natural[i], Math.max(MIN_SHRUNK, columns[i].header.length))
  for (const i of columns.flatMap((c, j) => (c.shrink === 'first' ? [j] : []))) {
    if (total() > maxWidth) widths[i] = Math.max(floor(i), widths[i] - (total() - maxWidth))
  }

  while (total() > maxWidth) {
    const candidates = columns.flatMap((c, j) => (c.shrink && widths[j] > floor(j) ? [j] : []))
    if (candidates.length === 0) break
    const widest = candidates.reduce((a, b) => (widths[b] > widths[a] ? b : a))
    const others = candidates.filter(j => j !== widest).map(j => widths[j])
    const next = Math.max(floor(widest), ...others, widths[widest] - (total() - maxWidth))
    widths[widest] = next === widths[widest] ? widths[widest] - 1 : next
  }

  return widths
}

/** A cell as printed: payload text (user ids, keys, store labels) can never act on the terminal, and widths count what is shown. */
function cell<T>(column: Column<T>, row: T): string {
  return terminalSafe(column.value(row))
}

/** The detail columns any of the stores carries, in order (StoreCapabilities.details). */
export function detailLabels(stores: ReadonlyArray<{capabilities: {details?: readonly string[]}}>): string[] {
  return [...new Set(stores.flatMap(s => s.capabilities.details ?? []))]
}

/** A detail label as people read it: `userAgent` → `user Agent` (headers upper-case it). */
export function detailHeader(label: string): string {
  return label.replaceAll(/([a-z])([A-Z])/g, '$1 $2')
}

export function sessionColumns(now: Date, showKeys: boolean, showStore: boolean, details: readonly string[] = []): Array<Column<Session>> {
  const columns: Array<Column<Session>> = [
    {header: 'SESSION', name: 'id', value: s => displayKey(s.key, showKeys)},
    {
      header: 'USER', name: 'userId', shrink: true, value: s => (s.undecodable === undefined ? (s.userId ?? '(anonymous)') : `(undecodable: ${s.undecodable})`),
    },
    {header: 'EXPIRES (UTC)', name: 'expiresAt', value: s => (s.expiryUnknown ? '- (unknown)' : `${isoMinute(s.expiresAt)} (${relative(s.expiresAt, now)})`)},
    {
      color: (text, s) => (s.expiryUnknown ? text : (s.expired ? chalk.yellow(text) : chalk.green(text))),
      header: 'STATE',
      name: 'state',
      value: s => stateOf(s),
    },
    {
      align: 'right', header: 'SIZE', name: 'size', value: s => `${s.size}`,
    },
  ]
  for (const label of details) {
    columns.push({
      header: detailHeader(label).toUpperCase(),
      name: label,
      shrink: true,
      value: s => s.details?.[label] ?? '',
    })
  }

  if (showStore) columns.push({
    header: 'STORE', name: 'store', shrink: 'first', value: s => s.store,
  })
  return columns
}

/** The session columns `list --columns` names, in its order (every name is one sessionColumns makes). */
export function chosenColumns(all: ReadonlyArray<Column<Session>>, names: readonly string[]): Array<Column<Session>> {
  const byName = new Map(all.map(c => [c.name, c]))
  return names.map(name => byName.get(name)!)
}

/** "2 undecodable (bad zlib: 1, not JSON: 1)", or undefined when there were none. */
export function undecodableNote(t: ScanTotals): string | undefined {
  if (t.undecodable === 0) return undefined
  const reasons = Object.entries(t.undecodableReasons)
  .map(([reason, n]) => `${reason}: ${n}`)
  .join(', ')
  return `${plural(t.undecodable, 'undecodable value')} skipped (${reasons}); never matched, never deleted`
}

export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? noun : nouns}`
}

/** An undecodable value as printed by list --undecodable (JSON, NDJSON, CSV): the key masked unless --show-keys. */
export interface UndecodableJson {
  id: string
  /** The framework could read it: it may be anyone's session. False: nobody's (the framework cannot read it either). */
  ownerUnknown: boolean
  reason: string
  size: number
  store: string
}

export function undecodableJson(value: UndecodableValue, showKeys: boolean): UndecodableJson {
  return {
    id: displayKey(value.key, showKeys), reason: value.reason, ownerUnknown: value.ownerUnknown, size: value.size, store: value.store,
  }
}

const UNDECODABLE_CSV: Array<keyof UndecodableJson> = ['id', 'reason', 'ownerUnknown', 'size', 'store']

export function undecodableCsvHeader(): string {
  return UNDECODABLE_CSV.join(',')
}

export function undecodableCsvRow(row: UndecodableJson): string {
  return UNDECODABLE_CSV.map(c => csvField(row[c])).join(',')
}

export function undecodableColumns(showKeys: boolean, showStore: boolean): Array<Column<UndecodableValue>> {
  const columns: Array<Column<UndecodableValue>> = [
    {header: 'KEY', value: v => displayKey(v.key, showKeys)},
    {header: 'REASON', shrink: true, value: v => v.reason},
    {
      color: (text, v) => (v.ownerUnknown ? chalk.yellow(text) : text),
      header: 'OWNER',
      value: v => (v.ownerUnknown ? 'unknown' : 'nobody'),
    },
    {align: 'right', header: 'SIZE', value: v => `${v.size}`},
  ]
  if (showStore) columns.push({header: 'STORE', shrink: 'first', value: v => v.store})
  return columns
}
