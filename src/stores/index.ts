import type {SessionStore, StoreOptions} from './contract.js'

import {checkUrlCredentials, safeUrl} from '../cli/redact.js'
import {UsageError} from '../errors.js'

export type {SessionStore, StoreOptions} from './contract.js'

type Opener = (url: string, options: StoreOptions) => Promise<SessionStore>

/** An adapter module: how to open a store, and how to check its URL without connecting. */
interface Adapter {
  open: Opener
  parse?(url: string): unknown
}

const mysql = async (): Promise<Adapter> => {
  const m = await import('./mysql.js')
  return {open: m.openMysqlStore, parse: m.parseMysqlUrl}
}

const redis = async (): Promise<Adapter> => {
  const m = await import('./redis.js')
  return {open: m.openRedisStore, parse: m.parseRedisUrl}
}

/**
 * Adapters load lazily, keyed by URL scheme, so `--store redis://…` never loads mysql2 and
 * `--help` loads neither.
 */
const adapters = new Map<string, () => Promise<Adapter>>([
  ['mariadb:', mysql],
  ['mysql:', mysql],
  ['redis+cluster:', redis],
  ['redis+sentinel:', redis],
  ['redis:', redis],
  ['rediss+cluster:', redis],
  ['rediss:', redis],
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

function loaderFor(url: string): () => Promise<Adapter> {
  checkUrlCredentials(url)
  const scheme = /^[a-z][\d+.a-z-]*:/i.exec(url)?.[0].toLowerCase()
  const registeredOpen = scheme ? registered.get(scheme) : undefined
  const load = scheme ? (adapters.get(scheme) ?? (registeredOpen && (async () => ({open: await registeredOpen()})))) : undefined
  if (!load) {
    throw new UsageError(`unsupported store URL "${safeUrl(url)}": use ${PUBLIC_SCHEMES.map(s => `${s}//`).join(', ')}`)
  }

  return load
}

/**
 * Checks a store URL the way opening it would (exit 2 for anything malformed), without
 * connecting: every store of a run is checked before the first one connects.
 */
export async function checkStoreUrl(url: string): Promise<void> {
  const adapter = await loaderFor(url)()
  adapter.parse?.(url)
}

export async function openStore(url: string, options: StoreOptions): Promise<SessionStore> {
  const adapter = await loaderFor(url)()
  return adapter.open(url, options)
}
