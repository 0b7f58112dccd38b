import type {Context} from 'mocha'

/**
 * Real Laravel 8.83 (Debian's Illuminate components) and real PHP native sessions (phpredis 5.3.7)
 * as the writers and oracles of the PHP integration tests: test/php/oracle.php, one fresh `php`
 * process per call, parameters as JSON on stdin, one JSON document on stdout.
 *
 * Values cross as JSON, with the conventions of the PHP fixtures: a bigint (or {__int: '…'}) is a
 * PHP int beyond 2^53, {__float: 'NAN' | 'INF' | '-INF' | '-0'} a float JSON cannot hold; in answers
 * an object is {__class, props} and an int beyond ±(2^53-1) is {__int: '…'}.
 */
import {execFileSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import {runOracle} from './oracle.js'

const PHP = 'php'
const ORACLE = fileURLToPath(new URL('../php/oracle.php', import.meta.url))
const TIMEOUT_MS = 60_000
const PHP_PACKAGES = [
  'php-cli',
  'php-mysql',
  'php-redis',
  'php-igbinary',
  'php-illuminate-session',
  'php-illuminate-database',
  'php-illuminate-redis',
  'php-illuminate-encryption',
  'php-illuminate-cache',
  'php-illuminate-auth',
]
export const PHP_APT_LINE = `sudo apt-get install -y ${PHP_PACKAGES.join(' ')}`
/** Laravel's pgsql connection: PHP's pdo_pgsql. */
export const PHP_PGSQL_APT_LINE = 'sudo apt-get install -y php-pgsql'

// ---------------------------------------------------------------------------------------------
// Parameters and answers
// ---------------------------------------------------------------------------------------------

export type PhpValue = bigint | boolean | null | number | PhpValue[] | string | {[key: string]: PhpValue}

export interface MysqlParams {
  database: string
  host: string
  password?: string
  port: number
  /** the connection's `strict` (Laravel's default true); false lets MariaDB truncate a UUID user_id */
  strict?: boolean
  user?: string
}

/** Laravel's stock `pgsql` connection (DB_CONNECTION=pgsql, schema public). */
export interface PgsqlParams {
  database: string
  host: string
  password?: string
  port: number
  user: string
}

export interface RedisParams {
  host: string
  port: number
  /** the `default` connection's database (sessions; REDIS_DB) */
  db?: number
  /** the `cache` connection's database (Cache:: items; REDIS_CACHE_DB), default: `db` */
  cacheDb?: number
  password?: string
  /** phpredis client prefix, default 'laravel_database_' */
  prefix?: string
  /** cache prefix, default 'laravel_cache' (8.x RedisStore adds ':') */
  cachePrefix?: string
}

export interface LaravelTarget {
  driver?: 'database' | 'redis'
  mysql?: MysqlParams
  /** the database is PostgreSQL, through Laravel's stock `pgsql` connection (instead of `mysql`) */
  pgsql?: PgsqlParams
  redis?: RedisParams
  /** session table, default 'sessions' */
  table?: string
  /** users table of the database user provider, default 'users' */
  usersTable?: string
  encrypt?: boolean
  cipher?: 'AES-128-CBC' | 'AES-128-GCM' | 'AES-256-CBC' | 'AES-256-GCM'
  /** APP_KEY, `base64:` + 32 bytes (16 for AES-128) */
  appKey?: string
  lifetimeMinutes?: number
  /** Unix time Laravel's clock is pinned to (Carbon::setTestNow), default the real time */
  now?: number
}

export interface LaravelSession {
  /** logged in through the real SessionGuard (loginUsingId); null: anonymous */
  user?: bigint | null | number | string
  guard?: 'admin' | 'web'
  /** Auth::onceUsingId: the user_id column is written, no login key in the payload */
  once?: true
  logoutWithoutInvalidate?: true
  /**
   * 'database' (DatabaseUserProvider over `usersTable`; the row is created) or 'any' (every id is a
   * GenericUser with that exact id). Default: 'database' for a number, 'any' for a string.
   */
  provider?: 'any' | 'database'
  /** last_activity = now - ageSeconds (database driver only) */
  ageSeconds?: number
  /** extra session data, put with Store::put() */
  attrs?: Record<string, PhpValue>
  ip?: string
  userAgent?: string
}

export interface LaravelReadAnswer {
  id: string
  /** Store::isValidId (40 alphanumerics); an invalid id is never read */
  validId: boolean
  /** whether Store::start() loaded a non-empty session (read() honours expiry; decryption failures read as empty) */
  loaded: boolean
  /** the value under login_<guard>_<sha1>, as text */
  user: null | string
  userType: 'int' | 'string' | null | string
  data: unknown
}

export interface LaravelRow {
  id: string
  userId: null | string
  ipAddress: null | string
  userAgent: null | string
  lastActivity: number
}

export interface RedisKeyInfo {
  key: string
  /** the key without the prefix */
  id: string
  /** seconds; -1 no TTL */
  ttl: number
}

export interface LaravelListing {
  ids: string[]
  /** database driver */
  rows?: LaravelRow[]
  /** redis driver: every key under the prefix, cache items included */
  keys?: RedisKeyInfo[]
  prefix?: string
}

export interface LaravelGcAnswer {
  deleted: number
  deletedIds: string[]
  lifetimeSeconds: number
  /** what the handler's gc() itself returned (8.83: null for the database handler, true for the cache one) */
  returned: unknown
}

export interface CacheItem {
  key: string
  value: PhpValue
  /** Cache::put TTL, default 3600 */
  seconds?: number
  /** Cache::forever */
  forever?: true
}

export type SerializeHandler = 'igbinary' | 'php' | 'php_binary' | 'php_serialize'

export interface NativeTarget {
  redis: RedisParams
  /** save_path prefix=, default 'PHPREDIS_SESSION:' */
  prefix?: string
  serializeHandler?: SerializeHandler
  /** session.gc_maxlifetime (the key's TTL), default 1440 */
  gcMaxlifetime?: number
  /** redis.session.locking_enabled */
  locking?: boolean
  sidLength?: number
  sidBitsPerCharacter?: 4 | 5 | 6
}

export interface NativeSession {
  /** session_id() before session_start(); default: PHP makes a new one */
  id?: string
  data: Record<string, PhpValue>
  /** afterwards a worker dies holding the lock: `<prefix><id>_LOCK` stays (value host|pid, no TTL) */
  leaveLock?: true
}

export interface NativeReadAnswer {
  id: string
  /** the key existed before PHP read it */
  stored: boolean
  /** PHP could not decode it and destroyed the session; the oracle put the value back */
  destroyedByPhp: boolean
  /** session_start()'s result */
  started: boolean
  /** $_SESSION non-empty */
  loaded: boolean
  data: unknown
  /** PHP warnings from session_start() */
  warnings: string[]
}

export interface NativeListing {
  prefix: string
  /** session ids (lock keys left out) */
  ids: string[]
  keys: Array<RedisKeyInfo & {lock: boolean}>
}

// ---------------------------------------------------------------------------------------------
// Availability
// ---------------------------------------------------------------------------------------------

const PROBE = `foreach (['redis', 'igbinary', 'pdo_mysql', 'openssl', 'session'] as $e) if (!extension_loaded($e)) exit(1);
foreach (['Auth', 'Cache', 'Database', 'Encryption', 'Redis', 'Session'] as $p) if (!is_file("/usr/share/php/Illuminate/$p/autoload.php")) exit(1);`

let available: boolean | undefined

export function phpAvailable(): boolean {
  if (available === undefined) {
    try {
      execFileSync(PHP, ['-r', PROBE], {stdio: 'ignore'})
      available = true
    } catch {
      available = false
    }
  }

  return available
}

/** Skips the calling suite when PHP/Illuminate are missing, except in CI (SESSIONCTL_TEST_REQUIRE_ALL=1). */
export function requirePhp(context: Context): void {
  if (phpAvailable()) return
  skipOrFail(context, `PHP with Illuminate 8 and phpredis is not installed; the PHP tests need: ${PHP_APT_LINE}`)
}

let pgsqlAvailable: boolean | undefined

/** requirePhp, and PHP's pdo_pgsql for Laravel's pgsql connection. */
export function requirePhpPgsql(context: Context): void {
  requirePhp(context)
  if (pgsqlAvailable === undefined) {
    try {
      execFileSync(PHP, ['-r', "exit(extension_loaded('pdo_pgsql') ? 0 : 1);"], {stdio: 'ignore'})
      pgsqlAvailable = true
    } catch {
      pgsqlAvailable = false
    }
  }

  if (!pgsqlAvailable) skipOrFail(context, `PHP's pdo_pgsql is not installed; the Laravel PostgreSQL tests need: ${PHP_PGSQL_APT_LINE}`)
}

function skipOrFail(context: Context, message: string): void {
  if (process.env.SESSIONCTL_TEST_REQUIRE_ALL === '1') throw new Error(message)
  console.warn(`      skipped: ${message}`)
  context.skip()
}

// ---------------------------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------------------------

/** mysql://user:pass@host:port/db (a freshDatabase() URL) → the oracle's connection params. */
export function mysqlParams(url: string, extra: {strict?: boolean} = {}): MysqlParams {
  const u = new URL(url)
  return {
    database: decodeURIComponent(u.pathname.slice(1)),
    host: u.hostname,
    password: decodeURIComponent(u.password),
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username || 'root'),
    ...extra,
  }
}

/** postgres://user[:pass]@host:port/db (a createPgDatabase() URL) → the oracle's `pgsql` params. */
export function pgsqlParams(url: string): PgsqlParams {
  const u = new URL(url)
  return {
    database: decodeURIComponent(u.pathname.slice(1)),
    host: u.hostname.replaceAll(/^\[|\]$/g, ''),
    password: decodeURIComponent(u.password),
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || 'postgres'),
  }
}

/** redis://host:port[/db] → the oracle's connection params. */
export function redisParams(url: string, extra: Omit<RedisParams, 'host' | 'port'> = {}): RedisParams {
  const u = new URL(url)
  return {
    db: Number(u.pathname.slice(1) || 0), host: u.hostname, port: Number(u.port || 6379), ...extra,
  }
}

/** One operation in a fresh php process; rejects with PHP's one-line error. */
export function phpOracle<T>(op: string, params: object): Promise<T> {
  return runOracle('php', PHP, [ORACLE, op], params, {timeoutMs: TIMEOUT_MS})
}

/** The 8.x session:table stub (and users table) by the schema builder; on PostgreSQL also what it made: column → `type NULL|NOT NULL`. */
export const laravelMigrate = (target: LaravelTarget & {fresh?: boolean}): Promise<{columns?: Record<string, string>; created: string[]}> => phpOracle('laravel.migrate', target)

export const laravelWrite = async (target: LaravelTarget, sessions: LaravelSession[]): Promise<string[]> =>
  (await phpOracle<{ids: string[]}>('laravel.write', {...target, sessions})).ids

export const laravelRead = async (target: LaravelTarget & {guard?: 'admin' | 'web'}, ids: string[]): Promise<LaravelReadAnswer[]> =>
  (await phpOracle<{sessions: LaravelReadAnswer[]}>('laravel.read', {...target, ids})).sessions

export const laravelIds = (target: LaravelTarget): Promise<LaravelListing> => phpOracle('laravel.ids', target)
/** The encrypted session cookies (URL-encoded, as Set-Cookie carries them) Laravel 8 sends for these ids. */
export const laravelCookies = async (target: LaravelTarget, ids: string[], cookieName?: string): Promise<string[]> =>
  (await phpOracle<{cookies: string[]}>('laravel.cookies', {...target, cookieName, ids})).cookies

export const laravelGc = (target: LaravelTarget): Promise<LaravelGcAnswer> => phpOracle('laravel.gc', target)

export const laravelCacheItems = async (target: LaravelTarget, items: CacheItem[]): Promise<string[]> =>
  (await phpOracle<{keys: string[]}>('laravel.cacheItems', {...target, items})).keys

export const phpWrite = async (target: NativeTarget, sessions: NativeSession[]): Promise<string[]> =>
  (await phpOracle<{ids: string[]}>('php.write', {...target, sessions})).ids

export const phpRead = async (target: NativeTarget, ids: string[]): Promise<NativeReadAnswer[]> =>
  (await phpOracle<{sessions: NativeReadAnswer[]}>('php.read', {...target, ids})).sessions

export const phpIds = (target: NativeTarget): Promise<NativeListing> => phpOracle('php.ids', target)
