import type {SessionStore, StoreOptions} from './contract.js'

import {checkUrlCredentials, safeUrl} from '../cli/redact.js'
import {UsageError} from '../errors.js'

export type {SessionStore, StoreOptions} from './contract.js'

type Opener = (url: string, options: StoreOptions) => Promise<SessionStore>

/**
 * Adapters load lazily, keyed by URL scheme, so `--store redis://…` never loads mysql2 and
 * `--help` loads neither.
 */
const adapters = new Map<string, () => Promise<Opener>>([
  ['mariadb:', async () => (await import('./mysql.js')).openMysqlStore],
  ['mysql:', async () => (await import('./mysql.js')).openMysqlStore],
  ['redis+cluster:', async () => (await import('./redis.js')).openRedisStore],
  ['redis+sentinel:', async () => (await import('./redis.js')).openRedisStore],
  ['redis:', async () => (await import('./redis.js')).openRedisStore],
  ['rediss+cluster:', async () => (await import('./redis.js')).openRedisStore],
  ['rediss:', async () => (await import('./redis.js')).openRedisStore],
])

const PUBLIC_SCHEMES = [...adapters.keys()]

// Process-wide, so a test and the command it runs in-process share it even if a TypeScript
// loader gives them separate copies of this module.
const registered: Map<string, () => Promise<Opener>> = ((globalThis as Record<symbol, unknown>)[
Symbol.for('sessionctl.test-adapters')
] ??= new Map()) as Map<string, () => Promise<Opener>>

/** Test seam: command tests register an in-memory adapter under a scheme of their own. */
export function registerAdapter(scheme: string, load: () => Promise<Opener>): void {
  registered.set(scheme, load)
}

function loaderFor(url: string): () => Promise<Opener> {
  checkUrlCredentials(url)
  const scheme = /^[a-z][\d+.a-z-]*:/i.exec(url)?.[0].toLowerCase()
  const load = scheme ? (adapters.get(scheme) ?? registered.get(scheme)) : undefined
  if (!load) {
    throw new UsageError(`unsupported store URL "${safeUrl(url)}": use ${PUBLIC_SCHEMES.map(s => `${s}//`).join(', ')}`)
  }

  return load
}

/** Each adapter's URL parser, loaded the same lazy way: it checks a URL without connecting. */
const parsers = new Map<string, () => Promise<(url: string) => unknown>>([
  ['mariadb:', async () => (await import('./mysql.js')).parseMysqlUrl],
  ['mysql:', async () => (await import('./mysql.js')).parseMysqlUrl],
  ['redis+cluster:', async () => (await import('./redis.js')).parseRedisUrl],
  ['redis+sentinel:', async () => (await import('./redis.js')).parseRedisUrl],
  ['redis:', async () => (await import('./redis.js')).parseRedisUrl],
  ['rediss+cluster:', async () => (await import('./redis.js')).parseRedisUrl],
  ['rediss:', async () => (await import('./redis.js')).parseRedisUrl],
])

/**
 * Checks a store URL the way opening it would (exit 2 for anything malformed), without
 * connecting: every store of a run is checked before the first one connects.
 */
export async function checkStoreUrl(url: string): Promise<void> {
  loaderFor(url)
  const parse = parsers.get(/^[a-z][\d+.a-z-]*:/i.exec(url)![0].toLowerCase())
  if (parse) (await parse())(url)
}

export async function openStore(url: string, options: StoreOptions): Promise<SessionStore> {
  const open = await loaderFor(url)()
  return open(url, options)
}
