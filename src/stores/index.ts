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

const postgres = async (): Promise<Adapter> => {
  const m = await import('./postgres.js')
  return {open: m.openPostgresStore, parse: m.parsePostgresUrl}
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
  ['postgres:', postgres],
  ['postgresql:', postgres],
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

/** The kind of store a URL names: 'sql' (MySQL/MariaDB, PostgreSQL), 'redis', or undefined for another scheme. */
export function storeKindOf(url: string): 'redis' | 'sql' | undefined {
  const family = familyOf(url)
  if (family === undefined) return undefined
  return family === 'redis' ? 'redis' : 'sql'
}

function familyOf(url: string): 'mysql' | 'postgres' | 'redis' | undefined {
  if (/^(?:mysql|mariadb):/i.test(url)) return 'mysql'
  if (/^postgres(?:ql)?:/i.test(url)) return 'postgres'
  if (/^rediss?(?:\+(?:cluster|sentinel))?:/i.test(url)) return 'redis'
  return undefined
}

/**
 * cleanup --replica: the replicas must be of the stores' kind (MySQL/MariaDB or PostgreSQL, one
 * kind per run), and each URL valid; refused with one line before anything is deleted.
 */
export async function checkReplicaUrls(storeLabels: readonly string[], urls: readonly string[]): Promise<void> {
  const families = new Set(storeLabels.map(label => familyOf(label)))
  const [family] = families
  if (families.size !== 1 || (family !== 'mysql' && family !== 'postgres')) {
    throw new UsageError('--replica applies to MySQL/MariaDB or PostgreSQL stores only, one kind per run')
  }

  if (family === 'mysql') (await import('./mysql-replicas.js')).checkMysqlReplicas(urls)
  else (await import('./postgres-cleanup.js')).checkPostgresReplicas(urls)
}

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
