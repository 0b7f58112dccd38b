/**
 * `-o/--output`, `--no-headers` and `--columns`, as kubectl users know them, for every command
 * that prints sessions (list, purge, revoke): the flags, their checks (before any I/O), and one
 * emitter that streams rows in the chosen form.
 */
import {Flags} from '@oclif/core'

import type {Session} from '../stores/contract.js'

import {UsageError} from '../errors.js'
import {columnNames, detailColumnsIn, parseColumns} from './columns.js'
import {
  chosenColumns, type Column, csvHeader, csvRow, sessionColumns, sessionJson, type SessionJson, StreamingTable,
} from './render.js'
import {toYaml} from './yaml.js'

export const OUTPUT_MODES = ['table', 'wide', 'json', 'ndjson', 'csv', 'yaml'] as const
export type OutputMode = (typeof OUTPUT_MODES)[number]

/** --columns; `exclusive`: the command's flags it cannot go with (list --undecodable). */
export function columnsFlag(exclusive: string[] = []) {
  return Flags.string({
    description: `Names: ${columnNames().join(', ')} (the JSON fields; the table's headers work too). A detail column the store does not keep stays empty, with a warning. json, yaml and ndjson always carry every field.`,
    exclusive,
    summary: 'The table’s (or CSV’s) columns, comma-separated, in order.',
  })
}

export const outputFlags = {
  columns: columnsFlag(),
  'no-headers': Flags.boolean({summary: 'table, wide, csv: print no header line (rows only, e.g. for wc -l or cut).'}),
  output: Flags.option({
    char: 'o',
    options: OUTPUT_MODES,
    summary: 'table (default), wide (with the detail columns and the store), json or yaml (one document), ndjson or csv (one session per line, streamed). -o json is --json.',
  })(),
}

export interface OutputChoice {
  /** --columns, as JSON field names. */
  columns?: string[]
  /** json or yaml: one document at the end, nothing streamed. */
  document: boolean
  headers: boolean
  mode: OutputMode
}

/** The flags' output, checked: combinations that mean nothing are usage errors (before any I/O). */
export function outputChoice(flags: {columns?: string; json?: boolean; 'no-headers'?: boolean; output?: OutputMode}): OutputChoice {
  if (flags.json && flags.output !== undefined && flags.output !== 'json') {
    throw new UsageError(`--json and --output ${flags.output} cannot be used together: drop one`)
  }

  const mode: OutputMode = flags.json ? 'json' : (flags.output ?? 'table')
  const document = mode === 'json' || mode === 'yaml'
  const flag = flags.json ? '--json' : `--output ${mode}`
  if (flags['no-headers'] && (document || mode === 'ndjson')) throw new UsageError(`--no-headers applies to the table, wide and csv outputs; ${flag} has no header line: drop --no-headers`)
  const columns = flags.columns === undefined ? undefined : parseColumns(flags.columns)
  if (columns && (document || mode === 'ndjson')) throw new UsageError(`--columns applies to the table and CSV; ${flag} carries every field: drop --columns`)
  return {
    ...(columns ? {columns} : {}), document, headers: !flags['no-headers'], mode,
  }
}

/**
 * Whether argv asks for JSON through -o/--output (`-o json`, `-ojson`, `--output=json`), as oclif's
 * jsonEnabled() looks for --json: errors raised before parsing are JSON too, and oclif prints the
 * returned document.
 */
export function outputJsonInArgv(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') return false
    if ((arg === '-o' || arg === '--output') && argv[i + 1] === 'json') return true
    if (arg === '-ojson' || arg === '-o=json' || arg === '--output=json') return true
  }

  return false
}

/** How one kind of row is printed in each form. */
export interface RowFormat<T, J> {
  /** The table's columns: `wide` adds the detail columns and the store. */
  columns(wide: boolean): Array<Column<T>>
  csvHeader(): string
  csvRow(row: J): string
  toJson(item: T): J
}

/**
 * Streams rows to the chosen output: kept for the document (json, yaml), one line each for
 * ndjson and csv, a table (started at the first row, so a spinner stops then) otherwise.
 */
export class RowEmitter<T, J> {
  readonly collected: J[] = []
  private csvHeaderDone = false
  private table: StreamingTable<T> | undefined

  constructor(
    private readonly choice: OutputChoice,
    private readonly format: RowFormat<T, J>,
    private readonly write: (line: string) => void,
    private readonly onFirstRow: () => void = () => {},
  ) {}

  /** Writes what a table still buffers (sorted when every row is in the buffer), and a CSV header when no row came. */
  end(order?: (a: T, b: T) => number): void {
    if (this.choice.mode === 'csv') this.csvHeader()
    this.table?.end(order)
  }

  push(items: readonly T[]): void {
    const {mode} = this.choice
    if (this.choice.document) {
      for (const item of items) this.collected.push(this.format.toJson(item))
    } else if (mode === 'ndjson') {
      for (const item of items) this.write(JSON.stringify(this.format.toJson(item)))
    } else if (mode === 'csv') {
      this.csvHeader()
      for (const item of items) this.write(this.format.csvRow(this.format.toJson(item)))
    } else if (items.length > 0) {
      this.onFirstRow()
      this.table ??= new StreamingTable(this.format.columns(mode === 'wide'), this.write, {headers: this.choice.headers, maxWidth: terminalWidth()})
      this.table.push(items)
    }
  }

  private csvHeader(): void {
    if (this.csvHeaderDone) return
    this.csvHeaderDone = true
    if (this.choice.headers) this.write(this.format.csvHeader())
  }
}

/** The document, as --output yaml prints it (json is printed by oclif). */
export function yamlDocument(document: unknown): string {
  return toYaml(document)
}

/** Tables fit the terminal they are printed on; into a pipe or a file they are never cut. */
export function terminalWidth(): number | undefined {
  return process.stdout.isTTY && (process.stdout.columns ?? 0) > 0 ? process.stdout.columns : undefined
}

/** Sessions, as list, purge and revoke print them: `wide` with the stores' detail columns and the store; --columns as chosen. */
export function sessionFormat(o: {
  /** --columns, as JSON field names. */
  columns?: readonly string[]
  /** The detail labels the stores keep (detailLabels). */
  details: readonly string[]
  multiStore: boolean
  /** The clock the "in 13d" column counts from, read when the table starts. */
  now(): Date
  showKeys: boolean
}): RowFormat<Session, SessionJson> {
  const {columns: chosen, showKeys} = o
  return {
    columns(wide) {
      if (chosen) return chosenColumns(sessionColumns(o.now(), showKeys, true, detailColumnsIn(chosen)), chosen)
      return wide ? sessionColumns(o.now(), showKeys, true, o.details) : sessionColumns(o.now(), showKeys, o.multiStore)
    },
    csvHeader: () => csvHeader(chosen),
    csvRow: row => csvRow(row, chosen),
    toJson: session => sessionJson(session, showKeys),
  }
}

/**
 * -o for the commands that print one report rather than rows of sessions (show, stats, doctor):
 * their text, or the document as json (= --json) or yaml. No --columns or --no-headers there.
 */
export const documentOutputFlag = Flags.option({
  char: 'o',
  options: ['table', 'json', 'yaml'] as const,
  summary: 'table (the text report, default), or the document as json (-o json is --json) or yaml.',
})()
