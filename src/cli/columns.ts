/**
 * `list --columns a,b,c`: which session columns the table and CSV show, in which order. Names are
 * the JSON fields (`id`, `userId`, `expiresAt`, `state`, `size`, `store`, and the detail labels the
 * frameworks' layouts declare: `ip`, `userAgent`, `created`, `lastActivity`); the table headers
 * (`session`, `user`, `expires`, `user agent`) are accepted too, in any case.
 */
import {UsageError} from '../errors.js'
import {declaredDetailLabels} from '../frameworks/index.js'

const BASE = ['id', 'userId', 'expiresAt', 'state', 'size', 'store'] as const
/** Header words that name a base column. */
const HEADERS: Record<string, (typeof BASE)[number]> = {expires: 'expiresAt', session: 'id', user: 'userId'}

/** The chosen names that are detail columns (Session.details labels). */
export function detailColumnsIn(chosen: readonly string[]): string[] {
  return chosen.filter(name => !(BASE as readonly string[]).includes(name))
}

/** Every name --columns takes, as the JSON fields. */
export function columnNames(): string[] {
  return [...BASE, ...declaredDetailLabels()]
}

/** The names given, as JSON field names; a usage error (listing the valid ones) for anything else. Before any I/O. */
export function parseColumns(text: string): string[] {
  const valid = columnNames()
  const byKey = new Map<string, string>(valid.map(name => [squash(name), name]))
  for (const [header, name] of Object.entries(HEADERS)) byKey.set(header, name)
  const chosen: string[] = []
  for (const given of text.split(',')) {
    const name = byKey.get(squash(given))
    if (given.trim() === '') throw new UsageError(`--columns ${JSON.stringify(text)} has an empty name: list columns separated by commas, e.g. --columns id,userId,ip`)
    if (name === undefined) throw new UsageError(`--columns: unknown column ${JSON.stringify(given.trim())}; use ${valid.join(', ')}`)
    if (chosen.includes(name)) throw new UsageError(`--columns names ${name} twice: name each column once`)
    chosen.push(name)
  }

  return chosen
}

/** `User Agent`, `user_agent`, `user-agent` and `userAgent` are one name. */
function squash(name: string): string {
  return name.toLowerCase().replaceAll(/[\s_-]/g, '')
}
