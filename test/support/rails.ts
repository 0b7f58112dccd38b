import type {Context} from 'mocha'

/**
 * Real Rails 6.1 components (Debian's actionpack, activesupport and activerecord 6.1.7.10, rack 2.2,
 * redis-rb 4.8, mysql2 0.5) as the writers and oracles of the Rails integration tests:
 * test/rails/oracle.rb, one fresh `/usr/bin/ruby` process per call, parameters as JSON on stdin, one
 * JSON document on stdout. Sessions are written and read through the real session middleware,
 * driven with Rack::MockRequest; the ids handed back are the cookie values (public ids).
 *
 * Stores: `cache` (ActionDispatch::Session::CacheStore over RedisCacheStore, keys
 * `_session_id:2::<sha256>`), `rack` (redis-rack's shape: Marshal.dump of the session Hash under
 * `rack:session:2::<sha256>`, Rack's 64-hex ids, or Rails' 32-hex ones with `actionpack`), `ar`
 * (activerecord-session_store's table and model, Base64 Marshal in `data`).
 *
 * Values cross as JSON; {__sym: 'x'} is a Symbol and {__time: unix} a Time both ways, and in answers
 * an Integer beyond ±(2^53-1) is {__int: '…'}, any other object {__class, inspect}.
 */
import {execFileSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import {runOracle} from './oracle.js'
import {type PgsqlParams, pgsqlParams, mysqlParams as phpMysqlParams} from './php.js'

const RUBY = '/usr/bin/ruby'
const ORACLE = fileURLToPath(new URL('../rails/oracle.rb', import.meta.url))
const TIMEOUT_MS = 60_000
const RAILS_PACKAGES = ['ruby', 'ruby-actionpack', 'ruby-activerecord', 'ruby-rack', 'ruby-redis', 'ruby-mysql2']
export const RAILS_APT_LINE = `sudo apt-get install -y ${RAILS_PACKAGES.join(' ')}`
/** ActiveRecord's postgresql adapter: ruby-pg. */
export const RAILS_PG_APT_LINE = 'sudo apt-get install -y ruby-pg'

// ---------------------------------------------------------------------------------------------
// Parameters and answers
// ---------------------------------------------------------------------------------------------

export type RubyValue = boolean | null | number | RubyValue[] | string | {[key: string]: RubyValue}

export interface RedisParams {
  db?: number
  host: string
  password?: string
  port: number
}

export interface MysqlParams {
  database: string
  host: string
  password?: string
  port: number
  user?: string
}

export interface CacheTarget {
  /** the session middleware's expire_after in seconds (default 14 days); a session's own `expireAfter` wins */
  expireAfter?: number
  /** the cache's namespace: keys `<namespace>:_session_id:…` */
  namespace?: string
  /**
   * The cache's race_condition_ttl in seconds (default none). With it, RedisCacheStore keeps a key
   * 5 minutes longer than its Entry lives: an expired session stays in Redis, unreadable to Rails.
   */
  raceConditionTtl?: number
  redis: RedisParams
}

export interface RackTarget {
  /** redis-actionpack's ActionDispatch::Session::RedisStore (Rails ids, 32 hex) instead of plain Rack (64 hex) */
  actionpack?: boolean
  expireAfter?: number
  /** default 'rack:session:' */
  prefix?: string
  redis: RedisParams
}

export interface ArTarget {
  mysql: MysqlParams
}

/** The app's database is PostgreSQL (ActiveRecord's postgresql adapter, ruby-pg) instead. */
export interface ArPgTarget {
  postgres: PgsqlParams
}

type AnyArTarget = ArPgTarget | ArTarget

export interface RailsSession {
  /** Devise login of the `admin` scope: warden.user.admin.key = [[admin], salt] */
  admin?: number | string
  /** seconds the request happened in the past (ar only: created_at and updated_at, through travel_to) */
  ageSeconds?: number
  /** further session keys */
  attrs?: Record<string, RubyValue>
  /** request.session_options[:expire_after] for this request (cache and rack stores) */
  expireAfter?: number
  /**
   * cache only: written as Rails < 5.2's CacheStore did (before CVE-2019-16782), under
   * `_session_id:<public id>` through the same cache; 6.1 still loads it by its fallback
   */
  legacyKey?: true
  /** Devise login of the `user` scope: warden.user.user.key = [[user], salt]; a number is an Integer, a string a String */
  user?: number | string
}

export interface RailsWritten {
  /** the cookie values (public ids) */
  ids: string[]
  /** the stored keys: Redis keys with their prefix, or the `session_id` column (`2::<sha256>`) */
  keys: string[]
}

export interface RailsReadAnswer {
  /** the session Hash Rails loaded ({} when none) */
  data: unknown
  id: string
  /** whether the middleware found a non-empty session for the cookie */
  loaded: boolean
  /** ar: whether Session.find_by(session_id: private id) finds the row */
  row?: boolean
  /** warden.user.<scope>.key[0][0] as text */
  user: null | string
  userType: null | string
}

export interface CacheEntryAnswer {
  compressed: boolean | null
  /** Entry#expired? */
  expired: boolean | null
  /** Entry#expires_at (Unix seconds) */
  expiresAt: null | number
  id: string
  key: string
  /** the key exists in Redis */
  present: boolean
  pttlMs: number
}

export interface ArRow {
  createdAt: string
  sessionId: string
  updatedAt: string
}

export interface ArTrimAnswer {
  deleted: number
  /** the rows `updated_at < lifetimeMinutes.minutes.ago` selects */
  sessionIds: string[]
}

// ---------------------------------------------------------------------------------------------
// Availability
// ---------------------------------------------------------------------------------------------

const PROBE = `require "action_dispatch"; require "action_dispatch/middleware/session/cache_store"; require "active_record"
require "active_support/cache/redis_cache_store"; require "redis"; require "mysql2"; require "rack"
exit(ActionPack::VERSION::MAJOR == 6 && ActiveRecord::VERSION::MAJOR == 6 ? 0 : 1)`

let available: boolean | undefined

export function railsAvailable(): boolean {
  if (available === undefined) {
    try {
      execFileSync(RUBY, ['-e', PROBE], {stdio: 'ignore', timeout: TIMEOUT_MS})
      available = true
    } catch {
      available = false
    }
  }

  return available
}

/** Skips the calling suite when Ruby/Rails 6.1 are missing, except in CI (SESSIONCTL_TEST_REQUIRE_ALL=1). */
export function requireRails(context: Context): void {
  if (railsAvailable()) return
  skipOrFail(context, `Ruby with Rails 6.1 (actionpack, activerecord), redis-rb and mysql2 is not installed; the Rails tests need: ${RAILS_APT_LINE}`)
}

let pgAvailable: boolean | undefined

/** requireRails, and ruby-pg for ActiveRecord's postgresql adapter. */
export function requireRailsPostgres(context: Context): void {
  requireRails(context)
  if (pgAvailable === undefined) {
    try {
      execFileSync(RUBY, ['-e', 'require "pg"; require "active_record"; require "active_record/connection_adapters/postgresql_adapter"'], {stdio: 'ignore', timeout: TIMEOUT_MS})
      pgAvailable = true
    } catch {
      pgAvailable = false
    }
  }

  if (!pgAvailable) skipOrFail(context, `ruby-pg is not installed; the Rails PostgreSQL tests need: ${RAILS_PG_APT_LINE}`)
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
export function mysqlParams(url: string): MysqlParams {
  return phpMysqlParams(url)
}

/** postgres://user@host:port/db (a createPgDatabase() URL) → the oracle's `postgres` params. */
export const postgresParams = (url: string): PgsqlParams => pgsqlParams(url)

/** redis://[:pass@]host:port[/db] → the oracle's connection params. */
export function redisParams(url: string, db?: number): RedisParams {
  const u = new URL(url)
  return {
    db: db ?? Number(u.pathname.slice(1) || 0),
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.password ? {password: decodeURIComponent(u.password)} : {}),
  }
}

/** One operation in a fresh ruby process; rejects with Ruby's one-line error. */
export function railsOracle<T>(op: string, params: object): Promise<T> {
  return runOracle('rails', RUBY, [ORACLE, op], params, {timeoutMs: TIMEOUT_MS})
}

export const cacheWrite = (target: CacheTarget, sessions: RailsSession[]): Promise<RailsWritten> => railsOracle('cache.write', {...target, sessions})

/**
 * What CacheStore loads for each cookie. Rails' cache read deletes an Entry it finds expired: read
 * an expired session only after the CLI has looked at it.
 */
export const cacheRead = async (target: CacheTarget & {scope?: string}, ids: string[]): Promise<RailsReadAnswer[]> =>
  (await railsOracle<{sessions: RailsReadAnswer[]}>('cache.read', {...target, ids})).sessions

/** The Entry behind each cookie, straight from Redis (no expiry handling, nothing deleted). */
export const cacheEntries = async (target: CacheTarget, ids: string[]): Promise<CacheEntryAnswer[]> =>
  (await railsOracle<{entries: CacheEntryAnswer[]}>('cache.entries', {...target, ids})).entries

export const rackWrite = (target: RackTarget, sessions: RailsSession[]): Promise<RailsWritten> => railsOracle('rack.write', {...target, sessions})

export const rackRead = async (target: RackTarget & {scope?: string}, ids: string[]): Promise<RailsReadAnswer[]> =>
  (await railsOracle<{sessions: RailsReadAnswer[]}>('rack.read', {...target, ids})).sessions

/**
 * The activerecord-session_store migration at [6.1]; answers SHOW CREATE TABLE on MariaDB, and on
 * PostgreSQL the columns (name → `type NULL|NOT NULL`, format_type's spelling) and index definitions.
 */
export function arMigrate(target: ArTarget & {fresh?: boolean}): Promise<{createTable: string}>
export function arMigrate(target: ArPgTarget & {fresh?: boolean}): Promise<{columns: Record<string, string>; indexes: string[]}>
export function arMigrate(target: AnyArTarget & {fresh?: boolean}): Promise<unknown> {
  return railsOracle('ar.migrate', target)
}

export const arWrite = (target: AnyArTarget, sessions: RailsSession[]): Promise<RailsWritten> => railsOracle('ar.write', {...target, sessions})

export const arRead = async (target: AnyArTarget & {scope?: string}, ids: string[]): Promise<RailsReadAnswer[]> =>
  (await railsOracle<{sessions: RailsReadAnswer[]}>('ar.read', {...target, ids})).sessions

export const arRows = async (target: AnyArTarget): Promise<ArRow[]> => (await railsOracle<{rows: ArRow[]}>('ar.rows', target)).rows

/** The gem's `db:sessions:trim` query with the threshold in minutes; dryRun: what it would delete. */
export const arTrim = (target: AnyArTarget & {dryRun?: boolean; lifetimeMinutes: number}): Promise<ArTrimAnswer> => railsOracle('ar.trim', target)
