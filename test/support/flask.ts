import type {Context} from 'mocha'

/**
 * Real Flask-Session 0.3.2 (Debian's python3-flask-session, with Flask 2.2, Flask-Login 0.6 and
 * Flask-SQLAlchemy 3.0) as the writer and the oracle of the Flask integration tests:
 * test/flask/oracle.py, one fresh /usr/bin/python3 process per call, parameters as JSON on stdin,
 * one JSON document on stdout.
 *
 * Values cross as JSON; a bigint (or {__int: '…'}) is a Python int beyond 2^53. In answers bytes are
 * {__bytes: base64}, datetimes {__datetime: iso}, anything else {__repr}.
 */
import {execFileSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {runOracle} from './oracle.js'
import {
  type PgsqlParams, pgsqlParams, mysqlParams as phpMysqlParams, redisParams as phpRedisParams,
} from './php.js'

/** Debian's interpreter, where the python3-flask* packages are (not a pyenv python3 on PATH). */
const PYTHON = '/usr/bin/python3'
const ORACLE = fileURLToPath(new URL('../flask/oracle.py', import.meta.url))
const TIMEOUT_MS = 60_000
const FLASK_PACKAGES = [
  'python3-flask',
  'python3-flask-session',
  'python3-flask-sqlalchemy',
  'python3-flask-login',
  'python3-msgpack',
  'python3-redis',
  'python3-mysqldb',
]
export const FLASK_APT_LINE = `sudo apt-get install -y ${FLASK_PACKAGES.join(' ')}`
/** SQLAlchemy's postgresql+psycopg2 dialect. */
export const FLASK_PG_APT_LINE = 'sudo apt-get install -y python3-psycopg2'

// ---------------------------------------------------------------------------------------------
// Parameters and answers
// ---------------------------------------------------------------------------------------------

export type PyValue = bigint | boolean | null | number | PyValue[] | string | {[key: string]: PyValue}

export interface MysqlParams {
  database: string
  host: string
  password?: string
  port: number
  user?: string
}

export interface RedisParams {
  db?: number
  host: string
  password?: string
  port: number
}

/**
 * Where the app keeps its sessions: SESSION_TYPE 'redis' (a redis.Redis(host, port, db)) or
 * 'sqlalchemy' (store 'sql': Flask-SQLAlchemy over mysql+mysqldb, table `table`).
 */
interface TargetBase {
  /** SESSION_KEY_PREFIX, default 'session:' */
  keyPrefix?: string
  /**
   * the session interface's serializer: 'pickle' (0.3.2's own, the default); 'msgpack' or 'json'
   * (Flask-Session ≥ 0.7's formats); 'any' reads all three
   */
  serializer?: 'any' | 'json' | 'msgpack' | 'pickle'
}

export interface FlaskSqlTarget extends TargetBase {
  mysql: MysqlParams
  store: 'sql'
  /** SESSION_SQLALCHEMY_TABLE, default 'sessions' */
  table?: string
}

/** SESSION_TYPE 'sqlalchemy' over PostgreSQL (postgresql+psycopg2). */
export interface FlaskPgTarget extends TargetBase {
  postgres: PgsqlParams
  store: 'sql'
  /** SESSION_SQLALCHEMY_TABLE, default 'sessions' */
  table?: string
}

export interface FlaskRedisTarget extends TargetBase {
  redis: RedisParams
  store: 'redis'
}

export type FlaskTarget = FlaskPgTarget | FlaskRedisTarget | FlaskSqlTarget

export interface FlaskSession {
  /** logged in with Flask-Login's login_user(), the user's get_id() returning this (a str: `_user_id` is that str) */
  user?: null | string
  /** session['_user_id'] set directly, e.g. an int */
  rawUserId?: PyValue
  /** extra values, session[k] = v */
  attrs?: Record<string, PyValue>
  /** session.permanent (default: SESSION_PERMANENT); false: SQL expiry NULL, Redis TTL still 31 days */
  permanent?: boolean
  /** SESSION_PERMANENT of the app (default true) */
  configPermanent?: boolean
  /** login_user(remember=True) */
  remember?: boolean
  /**
   * SQL only: afterwards, by direct SQL, expiry = now + this many seconds (negative: past), or NULL
   * (null); what Flask-Session never writes for a permanent session but a store holds (≥ 0.7 rows,
   * a clock moved on)
   */
  expiresInSeconds?: null | number
}

/** A value stored directly, as Flask-Session ≥ 0.7 stores it (no Flask request). */
export interface RawSession {
  /** default a new uuid4 */
  sid?: string
  data?: Record<string, PyValue>
  /** 'msgpack' (default: msgpack.packb(dict)), 'json' (json.dumps(dict), compact like msgspec), 'pickle' (protocol 4), 'bytes' */
  encoding?: 'bytes' | 'json' | 'msgpack' | 'pickle'
  /** encoding 'bytes' */
  valueBase64?: string
  /** Redis: the key's TTL (default 31 days; 0: none) */
  ttlSeconds?: number
  /** SQL: expiry = now + this (default 31 days; negative: past; null: NULL) */
  expiresInSeconds?: null | number
}

export interface FlaskReadAnswer {
  id: string
  /** the key / row existed before Flask-Session read it */
  stored: boolean
  /** Flask-Session found a value for the sid and its serializer decoded it */
  loaded: boolean
  /** Flask-Login's current_user.get_id() (as text) when authenticated */
  user: null | string
  /** Python type of session['_user_id'] */
  userType: null | string
  rawUserId: unknown
  data: unknown
  /** the exception the request died of (0.3.2 over a NULL expiry: TypeError), or the serializer's error */
  error: null | string
}

export interface FlaskRedisKey {
  key: string
  /** the key without the prefix: the sid */
  id: string
  /** seconds; -1 no TTL */
  ttl: number
}

export interface FlaskRow {
  /** the session_id column: `session:<sid>` */
  sessionId: string
  /** the sid (null when the column lacks the prefix) */
  id: null | string
  /** naive UTC ISO, or null */
  expiry: null | string
  size: number
}

export interface FlaskListing {
  ids: Array<null | string>
  keys?: FlaskRedisKey[]
  rows?: FlaskRow[]
}

// ---------------------------------------------------------------------------------------------
// Availability
// ---------------------------------------------------------------------------------------------

let available: boolean | undefined

export function flaskAvailable(): boolean {
  if (available === undefined) {
    try {
      execFileSync(PYTHON, ['-c', 'import flask, flask_session, flask_sqlalchemy, flask_login, msgpack, redis, MySQLdb\nassert flask_session.__version__ == "0.3.2"'], {stdio: 'ignore'})
      available = true
    } catch {
      available = false
    }
  }

  return available && existsSync(ORACLE)
}

/** Skips the calling suite when Flask-Session 0.3.2 and its friends are missing, except in CI (SESSIONCTL_TEST_REQUIRE_ALL=1). */
export function requireFlask(context: Context): void {
  if (flaskAvailable()) return
  skipOrFail(context, `Flask-Session 0.3.2 with Flask-Login, Flask-SQLAlchemy, msgpack, redis-py and mysqlclient is not installed (in ${PYTHON}); the Flask tests need: ${FLASK_APT_LINE}`)
}

let psycopgAvailable: boolean | undefined

/** requireFlask, and psycopg2 for Flask-SQLAlchemy over PostgreSQL. */
export function requireFlaskPostgres(context: Context): void {
  requireFlask(context)
  if (psycopgAvailable === undefined) {
    try {
      execFileSync(PYTHON, ['-c', 'import psycopg2'], {stdio: 'ignore'})
      psycopgAvailable = true
    } catch {
      psycopgAvailable = false
    }
  }

  if (!psycopgAvailable) skipOrFail(context, `psycopg2 is not installed (in ${PYTHON}); the Flask PostgreSQL tests need: ${FLASK_PG_APT_LINE}`)
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
export const mysqlParams = (url: string): MysqlParams => {
  const {database, host, password, port, user} = phpMysqlParams(url)
  return {
    database, host, password, port, user,
  }
}

/** postgres://user@host:port/db (a createPgDatabase() URL) → the oracle's `postgres` params. */
export const postgresParams = (url: string): PgsqlParams => pgsqlParams(url)

/** redis://host:port[/db] → the oracle's connection params (`db` overrides the URL's). */
export const redisParams = (url: string, db?: number): RedisParams => {
  const {db: urlDb, host, password, port} = phpRedisParams(url)
  return {
    db: db ?? urlDb, host, port, ...(password ? {password} : {}),
  }
}

/** One operation in a fresh python process; rejects with the oracle's one-line error. */
export function flaskOracle<T>(op: string, params: object): Promise<T> {
  return runOracle('flask', PYTHON, [ORACLE, op], params, {env: {...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONPATH: undefined}, timeoutMs: TIMEOUT_MS})
}

/**
 * Creates the table Flask-Session 0.3.2 maps (it never creates it); answers SHOW CREATE TABLE. On
 * PostgreSQL SQLAlchemy creates it from Flask-Session's model itself; answers its columns (name →
 * `type NULL|NOT NULL`, format_type's spelling) and index definitions.
 */
export function flaskMigrate(target: FlaskSqlTarget & {fresh?: boolean}): Promise<{ddl: string; table: string}>
export function flaskMigrate(target: FlaskPgTarget & {fresh?: boolean}): Promise<{columns: Record<string, string>; indexes: string[]; table: string}>
export function flaskMigrate(target: (FlaskPgTarget | FlaskSqlTarget) & {fresh?: boolean}): Promise<unknown> {
  return flaskOracle('migrate', target)
}

/** Sessions written by the real app through Flask's test client; the uuid4 sids, in order. */
export const flaskWrite = async (target: FlaskTarget, sessions: FlaskSession[]): Promise<string[]> =>
  (await flaskOracle<{ids: string[]}>('write', {...target, sessions})).ids

/** Values stored directly in the shapes Flask-Session ≥ 0.7 leaves; the sids. */
export const flaskRaw = async (target: FlaskTarget, sessions: RawSession[]): Promise<string[]> =>
  (await flaskOracle<{ids: string[]}>('raw', {...target, sessions})).ids

/**
 * What Flask-Session makes of a request carrying each sid's cookie. Flask-Session's own side effect
 * included: reading an SQL row past its expiry deletes it.
 */
export const flaskRead = async (target: FlaskTarget, ids: string[]): Promise<FlaskReadAnswer[]> =>
  (await flaskOracle<{sessions: FlaskReadAnswer[]}>('read', {...target, ids})).sessions

/** Every Redis key under the prefix (with TTLs), or every row of the table. */
export const flaskIds = (target: FlaskTarget): Promise<FlaskListing> => flaskOracle('ids', target)
