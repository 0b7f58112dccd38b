/**
 * What the SQL adapters (MySQL, PostgreSQL) do alike with the rows they read: detail columns as
 * text, compare-and-delete's decision, what an indexed user lookup adds to a scan's summary, and
 * the orphan sweep's walk.
 */
import type {
  CleanupSummary, DeleteSummary, DetailColumn, ExpiryUnit, ScanSummary, SqlLayout,
} from './contract.js'

import {UsageError} from '../errors.js'

/** Detail column values as list shows them: Unix times as ISO-8601, the rest as text. */
export function detailsOf(columns: readonly DetailColumn[], values: ReadonlyArray<null | number | string | undefined>): Record<string, null | string> {
  const details: Record<string, null | string> = {}
  for (const [i, d] of columns.entries()) {
    const value = values[i]
    if (value === null || value === undefined) details[d.label] = null
    else if (d.unit !== undefined && Number.isFinite(new Date(Number(value) * (d.unit === 'unix-ms' ? 1 : 1000)).getTime())) {
      details[d.label] = new Date(Number(value) * (d.unit === 'unix-ms' ? 1 : 1000)).toISOString()
    } else details[d.label] = String(value)
  }

  return details
}

/**
 * Compare-and-delete's decision for one batch: the keys whose row is still the selected version
 * (to delete), counting in `outcome` those gone meanwhile and those changed (kept).
 */
export function stillSelected(wanted: ReadonlyMap<string, string>, current: ReadonlyMap<string, string>, outcome: Pick<DeleteSummary, 'changed' | 'gone'>): string[] {
  const doomed: string[] = []
  for (const [key, version] of wanted) {
    const now = current.get(key)
    if (now === undefined) outcome.gone++
    else if (now === version) doomed.push(key)
    else outcome.changed++
  }

  return doomed
}

/**
 * A scan through a user column: rows the column gave to the user but the owner or payload did
 * not. Owner columns (Spring's PRINCIPAL_NAME) compared by collation are a warning; user columns
 * kept by the app are `userMismatch`.
 */
export function noteIndexedLookup(summary: ScanSummary, o: {column: string; owner: boolean; userId: string; warnings: string[]}): void {
  if (o.owner) {
    // The column's collation matched them (`Alice`, `alice ` for `alice`); the owner did not.
    const others = summary.scanned - summary.matched - summary.kept
    if (others > 0) o.warnings.push(`${others} session${others === 1 ? '' : 's'} of another user equal to "${o.userId}" only under ${o.column}'s collation (case or trailing spaces) left out: users are compared exactly`)
  } else {
    summary.userMismatch = summary.scanned - summary.matched - summary.kept - summary.badSignature - Object.values(summary.undecodable).reduce((a, b) => a + b, 0)
  }
}

/** The identifiers a layout names, with what each is (for messages): every one is validated before it reaches SQL. */
export function layoutIdentifiers(layout: SqlLayout, userColumn: string | undefined): Array<[what: string, name: string]> {
  return [
    ['key column', layout.keyColumn],
    ['data column', layout.dataColumn],
    ['expiry column', layout.expiry.column],
    ...(userColumn === undefined ? [] : [['user column', userColumn] as [string, string]]),
    ...(layout.keyAliasColumn === undefined ? [] : [['key column', layout.keyAliasColumn] as [string, string]]),
    ...(layout.children === undefined ? [] : [['column', layout.children.column], ['column', layout.children.references]] as Array<[string, string]>),
  ]
}

/** An integer expiry column's unit: stated (never guessed), and not `datetime`. */
export function integerExpiryUnit(unit: ExpiryUnit, column: string): 'unix-ms' | 'unix-seconds' {
  if (unit === 'datetime') throw new UsageError(`${column} is an integer column, not a datetime: use --expiry-unit unix-seconds or unix-ms`)
  if (unit === 'auto') throw new UsageError(`${column} is an integer column: say whether it holds unix-seconds or unix-ms (--expiry-unit)`)
  return unit
}

/** Child rows per range of the orphan sweep. */
export const ORPHAN_RANGE = 2000

/**
 * The sweep both SQL adapters run after a cleanup where no cascading foreign key removes a
 * session's child rows (Spring's attributes): rows whose session is gone, however it went. The
 * child table is walked in the order of its session column, ORPHAN_RANGE rows at a time
 * (`rangeEnd`: the last value of the range after `after`, null at the end), and each range's
 * orphans are counted and, unless a dry run, deleted while still orphans (`sweep`); a signal
 * stops it between ranges. Adds to `out`.
 */
export async function sweepOrphanRanges(
  o: {dryRun: boolean; signal?: AbortSignal},
  out: NonNullable<CleanupSummary['orphans']>,
  rangeEnd: (after: null | string) => Promise<null | string>,
  sweep: (after: null | string, end: string) => Promise<{deleted: number; found: number}>,
): Promise<NonNullable<CleanupSummary['orphans']>> {
  let after: null | string = null
  while (!o.signal?.aborted) {
    const end: null | string = await rangeEnd(after)
    if (end === null) break
    const {deleted, found} = await sweep(after, end)
    out.found += found
    out.deleted += deleted
    after = end
  }

  return out
}
