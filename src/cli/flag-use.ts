import {UsageError} from '../errors.js'

/**
 * The flags the operator gave (on the command line or through their env var), not oclif's
 * defaults: oclif's metadata names only the flags it set from a default.
 */
export function givenFlags(flags: object, metadata: {flags: Record<string, undefined | {setFromDefault?: boolean}>}): Set<string> {
  return new Set(Object.keys(flags).filter(name => !metadata.flags[name]?.setFromDefault))
}

/**
 * A flag that only SQL stores use, given for a run whose stores are all Redis, is refused, not
 * ignored: `cleanup --workers 8` on Redis would otherwise look like it did something.
 */
export function refuseSqlOnlyFlags(given: ReadonlySet<string>, names: readonly string[], stores: ReadonlyArray<{label: string}>): void {
  if (!stores.every(s => s.label.startsWith('redis'))) return
  const flag = names.find(name => given.has(name))
  if (flag) {
    throw new UsageError(`--${flag} applies to SQL stores (MySQL/MariaDB, PostgreSQL) only, and it is given for ${stores.map(s => s.label).join(', ')}: drop it`)
  }
}
