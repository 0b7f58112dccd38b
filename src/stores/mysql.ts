import type {Connection as PromiseConnection, ResultSetHeader, RowDataPacket} from 'mysql2/promise'
import type net from 'node:net'

import mysql from 'mysql2'
import {userInfo} from 'node:os'

import type {
  Check,
  CleanupOptions,
  CleanupSummary,
  DeleteOptions,
  DeleteSummary,
  DetailColumn,
  DiagnoseOptions,
  ExpiryRule,
  ExpiryUnit,
  PurgeOptions,
  PurgeSummary,
  ScanSummary,
  Session,
  SessionFilter,
  SessionSink,
  SessionStore,
  SqlLayout,
  StoreCapabilities,
  StoreOptions,
} from './contract.js'

import {registerSecret} from '../cli/redact.js'
import {
  SessionctlError, StoreError, UsageError,
} from '../errors.js'
import {purgeBySelection} from '../sessions/purge.js'
import {type RawSession, Selector, sessionVersion} from '../sessions/select.js'
import {deleteInBatches} from './delete-batches.js'
import {MysqlCleanup} from './mysql-cleanup.js'
import {type ExpiryClock, type ExpiryKind, SqlExpiry} from './sql-expiry.js'
import {
  detailsOf, integerExpiryUnit, layoutIdentifiers, noteIndexedLookup, ORPHAN_RANGE, stillSelected, sweepOrphanRanges,
} from './sql-rows.js'
import {formatNaive, normalizeNaive, parseNaive} from './sql-time.js'
import {
  decodePart, type ParamKind, parseStoreUrl, readCaFile,
} from './url.js'

const SCAN_BATCH = 1000
const DEFAULT_DELETE_BATCH = 500
const DEFAULT_CONNECT_TIMEOUT_MS = 3000
// A purge waits at most this long for a row another transaction holds, then reports and stops.
const LOCK_WAIT_TIMEOUT_S = 10
// A command with no reply for this long makes the connection check that the server still
// answers (see watchForStall).
const STALL_CHECK_MS = 5000
const STALLED = 'SESSIONCTL_SERVER_STALLED'

/** `mysql://user:password@host:port/database?socket=/path&ssl=true` (also `mariadb://`). */
export interface MysqlTarget {
  config: mysql.ConnectionOptions
  database: string | undefined
  label: string
}

const URL_PARAMS: Record<string, ParamKind> = {socket: 'value', ssl: 'value', 'ssl-ca': 'value'}
const SSL_MODES = new Set(['false', 'skip-verify', 'true'])

/**
 * Exactly one server: a host (default port 3306), or a local socket (`?socket=`, with no host
 * or `localhost` and no port). The database is the one path segment, or absent (then --table
 * must say database.table).
 */
export function parseMysqlUrl(raw: string, connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): MysqlTarget {
  const url = parseStoreUrl(raw, URL_PARAMS)
  const fail = (why: string): never => {
    throw new UsageError(`invalid store URL ${JSON.stringify(url.shown)}: ${why}`)
  }

  if (url.scheme !== 'mysql' && url.scheme !== 'mariadb') fail('expected mysql:// or mariadb://')
  const socket = url.params.get('socket')
  if (url.hosts.length > 1) fail('it names several hosts: give one server per URL (repeat --store for several)')
  const [server] = url.hosts
  if (socket === undefined && server === undefined) {
    fail('no host (an unset variable?): name the server, mysql://user@HOST:3306/database, or a local socket with ?socket=/path')
  }

  if (socket !== undefined && server !== undefined && (server.host !== 'localhost' || server.port !== undefined)) {
    fail(`?socket= connects through a local socket, so the host ${server.host}${server.port === undefined ? '' : `:${server.port}`} would be ignored: drop one of them`)
  }

  if (url.user === undefined && url.password !== undefined) fail('a password but no user before ":"')
  const segments = url.segments ?? []
  if (segments.length > 1) fail('the path must be one database name, e.g. /app')
  const database = segments[0] ? decodePart(segments[0], 'the database', url.shown) : undefined
  if (database !== undefined) checkIdentifier(database, 'database name')
  const password = url.password ?? process.env.MYSQL_PWD
  registerSecret(password)
  const ssl = url.params.get('ssl')
  const sslCa = url.params.get('ssl-ca')
  if (ssl !== undefined && !SSL_MODES.has(ssl)) fail(`invalid ssl=${ssl}: use ssl=true, ssl=skip-verify or ssl=false`)
  if (sslCa !== undefined && (ssl === 'false' || ssl === 'skip-verify')) {
    fail(`ssl-ca has no effect with ssl=${ssl}: drop one of them`)
  }

  const config: mysql.ConnectionOptions = {
    bigNumberStrings: true,
    charset: 'utf8mb4',
    connectTimeout: connectTimeoutMs,
    database,
    dateStrings: true,
    password,
    supportBigNumbers: true,
    user: url.user ?? userInfo().username,
  }
  if (socket === undefined) {
    config.host = server!.host
    config.port = server!.port ?? 3306
  } else {
    config.socketPath = socket
  }

  if (ssl === 'true' || ssl === 'skip-verify' || sslCa !== undefined) {
    config.ssl = {rejectUnauthorized: ssl !== 'skip-verify'}
    // The driver takes PEM text, not a path: a path given as is never verifies anything.
    if (sslCa !== undefined) config.ssl.ca = readCaFile(sslCa, 'ssl-ca').toString()
  }

  return {config, database, label: url.shown}
}

const IDENTIFIER = /^[\w$]{1,64}$/

/** Identifiers are validated against a strict alphabet, then quoted: never built from raw input. */
export function checkIdentifier(name: string, what: string): string {
  if (!IDENTIFIER.test(name)) {
    throw new UsageError(`invalid ${what} "${name}": use 1-64 letters, digits, _ or $`)
  }

  return name
}

export function quote(name: string): string {
  return `\`${name}\``
}

/** `table` or `database.table`, validated. */
function splitTable(table: string, database: string | undefined): {database: string; table: string} {
  const parts = table.split('.')
  if (parts.length > 2) throw new UsageError(`invalid table name "${table}": use table or database.table`)
  const [db, name] = parts.length === 2 ? parts : [database, parts[0]]
  checkIdentifier(name, 'table name')
  if (db === undefined) {
    throw new UsageError(`no database given: add it to the store URL (mysql://host:3306/DATABASE) or use --table DATABASE.${name}`)
  }

  checkIdentifier(db, 'database name')
  return {database: db, table: name}
}

export interface Columns {
  /** The data column, or the owner column (SqlLayout.ownerColumn) where the row holds no payload. */
  data: string
  /** `data` is the owner column: rows are not decoded. */
  owner: boolean
  /** SqlLayout.keyAliasColumn, where the table has it. */
  alias?: string
  /** SqlLayout.children, as found: its table, and whether a foreign key deletes its rows with the session's. */
  children?: {cascade: boolean; column: string; references: string; size?: string; table: string}
  expiry: string
  expiryKind: ExpiryKind
  /** Whether the expiry column can hold NULL. */
  expiryNullable: boolean
  key: string
  /** --user-column, and whether an index starts with it. */
  user?: {indexed: boolean; name: string}
  /** The layout's detail columns this table has. */
  details: DetailColumn[]
}

export async function openMysqlStore(url: string, options: StoreOptions): Promise<SessionStore> {
  const target = parseMysqlUrl(url, options.connectTimeoutMs)
  const layout = options.layout.sql
  if (!layout) throw new UsageError(`the ${options.codec.name} format keeps no sessions in MySQL`)
  const {database, table} = splitTable(layout.table, target.database)
  // The operator's --user-column, else the column the framework keeps (Laravel's user_id, Spring's PRINCIPAL_NAME).
  if (layout.ownerColumn !== undefined && options.layout.userColumn !== undefined && options.layout.userColumn !== layout.ownerColumn) {
    throw new UsageError(`--user-column: the ${options.codec.name} format records the user in ${layout.ownerColumn} itself; drop --user-column`)
  }

  const userColumn = layout.ownerColumn ?? options.layout.userColumn ?? layout.userColumn
  for (const [what, name] of layoutIdentifiers(layout, userColumn)) checkIdentifier(name, what)

  const label = `${target.label} (table ${database}.${table})`
  const core = await connect(target, label)
  try {
    const columns = await inspectTable(core.promise(), database, table, {...layout, userColumn}, label)
    return new MysqlStore({
      columns, core, label, name: {database, table}, options, rule: layout.expiry, target,
    })
  } catch (error) {
    core.destroy()
    // Ours already say what is wrong (a missing table: 1; an --expiry-unit the column contradicts: 2).
    throw error instanceof SessionctlError ? error : storeError(error, label, target)
  }
}

async function connect(target: MysqlTarget, label: string): Promise<mysql.Connection> {
  const core = mysql.createConnection(target.config)
  const conn = core.promise()
  forwardFatalErrors(core)
  try {
    await conn.connect()
    watchForStall(core, target)
    // The session defaults can be minutes (row locks) or a year (table metadata locks, e.g. behind
    // an ALTER TABLE): a purge or a cleanup must not hang behind a long transaction.
    await conn.query(`SET SESSION innodb_lock_wait_timeout = ${LOCK_WAIT_TIMEOUT_S}, lock_wait_timeout = ${LOCK_WAIT_TIMEOUT_S}`)
    return core
  } catch (error) {
    core.destroy()
    throw storeError(error, label, target)
  }
}

type DriverConnection = mysql.Connection & {_command?: (NodeJS.EventEmitter & {onResult?: unknown}) | null; stream: net.Socket}

/**
 * A connection lost during a streamed query (the scan) is reported by mysql2 on the connection,
 * not on the query, whose stream then never ends: unhandled, the event crashed the process with
 * a stack trace. Hand it to the query, so the scan fails with one line like any other command.
 */
function forwardFatalErrors(core: mysql.Connection): void {
  const driver = core as DriverConnection
  // The handshake command reports its error on the connection again: forward each error once.
  let forwarding = false
  driver.on('error', (error: Error) => {
    const command = driver._command
    if (forwarding || !command || command.onResult || command.listenerCount('error') === 0) return
    forwarding = true
    try {
      command.emit('error', error)
    } finally {
      forwarding = false
    }
  })
}

/**
 * A frozen server (SIGSTOP, a hung host, a dead network path) keeps its TCP connections open, so
 * a query would wait for ever. When a command has had no reply for STALL_CHECK_MS, check with a
 * new connection that the server still answers (it does at once, however busy): if it does, the
 * statement is merely slow (a lock wait, a long scan) and we keep waiting; if it does not answer
 * within the connect timeout, the connection is closed with a "stopped answering" error.
 */
function watchForStall(core: mysql.Connection, target: MysqlTarget): void {
  const driver = core as DriverConnection
  const socket = driver.stream
  if (typeof socket?.setTimeout !== 'function') return
  let checking = false
  const busy = (): boolean => driver._command !== null
  socket.setTimeout(STALL_CHECK_MS, async () => {
    if (checking || !busy()) return
    checking = true
    const alive = await answers(target)
    checking = false
    if (alive || !busy() || socket.destroyed) {
      socket.setTimeout(STALL_CHECK_MS) // re-arm: the statement still runs silently
      return
    }

    socket.destroy(Object.assign(new Error('the server stopped answering'), {code: STALLED}))
  })
}

/**
 * Whether the server still answers a new connection within the connect timeout. A full login,
 * not a bare TCP probe: handshakes left unfinished count against max_connect_errors, and enough
 * of them would get this host blocked. Any reply from the server (even "too many connections")
 * means it is alive.
 */
function answers(target: MysqlTarget): Promise<boolean> {
  return new Promise(resolve => {
    const probe = mysql.createConnection({...target.config, database: undefined})
    probe.on('error', () => {})
    probe.connect(error => {
      if (error) probe.destroy()
      else probe.end(() => probe.destroy())
      resolve(!error || String((error as {code?: string}).code).startsWith('ER_'))
    })
  })
}

/** The name of an index that starts with `column` (so lookups and ranges on it use it), or undefined. */
export async function leadingIndex(conn: PromiseConnection, name: {database: string; table: string}, column: string): Promise<string | undefined> {
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ? AND SEQ_IN_INDEX = 1 ORDER BY NON_UNIQUE, INDEX_NAME LIMIT 1',
    [name.database, name.table, column],
  )
  return rows.length > 0 ? String(rows[0].name) : undefined
}

async function inspectTable(
  conn: PromiseConnection,
  database: string,
  table: string,
  layout: SqlLayout & {userColumn?: string},
  label: string,
): Promise<Columns> {
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT COLUMN_NAME AS name, DATA_TYPE AS type, IS_NULLABLE AS nullable FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [database, table],
  )
  if (rows.length === 0) {
    throw new StoreError(`table ${database}.${table} does not exist on ${label.replace(/ \(table .*\)$/, '')} (use --table to name the session table)`)
  }

  const types = new Map(rows.map(r => [String(r.name).toLowerCase(), String(r.type).toLowerCase()]))
  const nullable = new Set(rows.filter(r => String(r.nullable).toUpperCase() === 'YES').map(r => String(r.name).toLowerCase()))
  const find = (name: string, what: string): string => {
    if (!types.has(name.toLowerCase())) {
      throw new StoreError(`table ${database}.${table} has no ${what} "${name}" (it has ${[...types.keys()].join(', ')}); check --format or the column options`)
    }

    return name
  }

  const key = find(layout.keyColumn, 'key column')
  const owner = layout.ownerColumn !== undefined
  const data = owner ? find(layout.ownerColumn!, 'user column') : find(layout.dataColumn, 'data column')
  const alias = layout.keyAliasColumn !== undefined && types.has(layout.keyAliasColumn.toLowerCase()) ? layout.keyAliasColumn : undefined
  const children = layout.children ? await inspectChildren(conn, database, table, layout.children, find(layout.children.references, 'column'), label) : undefined
  const expiry = find(layout.expiry.column, 'expiry column')
  const type = types.get(expiry.toLowerCase())!
  let user: Columns['user']
  if (layout.userColumn !== undefined) {
    const name = find(layout.userColumn, 'user column')
    user = {indexed: (await leadingIndex(conn, {database, table}, name)) !== undefined, name}
  }

  return {
    data,
    owner,
    ...(alias === undefined ? {} : {alias}),
    ...(children === undefined ? {} : {children}),
    // Only those the table has: an older schema may lack some.
    details: (layout.detailColumns ?? []).filter(d => types.has(d.column.toLowerCase())),
    expiry,
    expiryKind: expiryKind(type, layout.expiry.unit, `${table}.${expiry}`),
    expiryNullable: nullable.has(expiry.toLowerCase()),
    key,
    ...(user ? {user} : {}),
  }
}

/**
 * The table of a session's rows (SqlLayout.children): it must exist with its column (a session
 * table without it is not this framework's), and a foreign key that cascades deletes decides
 * whether deleting a session must delete them itself.
 */
async function inspectChildren(
  conn: PromiseConnection,
  database: string,
  table: string,
  spec: NonNullable<SqlLayout['children']>,
  references: string,
  label: string,
): Promise<Columns['children']> {
  const name = checkIdentifier(`${table}${spec.suffix}`, 'table name')
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT COLUMN_NAME AS name, DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [database, name],
  )
  if (rows.length === 0) {
    throw new StoreError(`table ${database}.${name}, which holds the sessions' attributes, does not exist on ${label.replace(/ \(table .*\)$/, '')}`)
  }

  const columns = new Map(rows.map(r => [String(r.name).toLowerCase(), String(r.name)]))
  const column = columns.get(spec.column.toLowerCase())
  if (column === undefined) throw new StoreError(`table ${database}.${name} has no column "${spec.column}" (it has ${[...columns.values()].join(', ')})`)
  const size = rows.find(r => /blob|binary/.test(String(r.type).toLowerCase()))?.name as string | undefined
  const [fks] = await conn.query<RowDataPacket[]>(
    `SELECT 1 FROM information_schema.REFERENTIAL_CONSTRAINTS r
     JOIN information_schema.KEY_COLUMN_USAGE k ON k.CONSTRAINT_SCHEMA = r.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = r.CONSTRAINT_NAME AND k.TABLE_NAME = r.TABLE_NAME
     WHERE r.CONSTRAINT_SCHEMA = ? AND r.TABLE_NAME = ? AND r.REFERENCED_TABLE_NAME = ? AND r.DELETE_RULE = 'CASCADE' AND k.COLUMN_NAME = ? LIMIT 1`,
    [database, name, table, column],
  )
  return {
    cascade: fks.length > 0, column, references, table: name, ...(size === undefined ? {} : {size}),
  }
}

const DATETIME_TYPES = new Set(['datetime', 'timestamp'])
const INTEGER_TYPES = new Set(['bigint', 'decimal', 'int', 'integer', 'mediumint'])

function expiryKind(type: string, unit: ExpiryUnit, column: string): ExpiryKind {
  if (DATETIME_TYPES.has(type)) {
    if (unit !== 'auto' && unit !== 'datetime') throw new UsageError(`${column} is a ${type} column, not ${unit}: drop --expiry-unit, or use --expiry-unit datetime`)
    return 'datetime'
  }

  if (INTEGER_TYPES.has(type)) return integerExpiryUnit(unit, column)

  throw new StoreError(`${column} has type ${type}, which cannot hold an expiry time`)
}

class MysqlStore implements SessionStore {
  readonly capabilities: StoreCapabilities
  readonly label: string
  private readonly columns: Columns
  private readonly conn: PromiseConnection
  private readonly core: mysql.Connection
  private readonly expiry: SqlExpiry
  private readonly name: {database: string; table: string}
  private readonly options: StoreOptions
  private readonly table: string
  private readonly target: MysqlTarget

  constructor(parts: {
    core: mysql.Connection
    target: MysqlTarget
    label: string
    name: {database: string; table: string}
    columns: Columns
    options: StoreOptions
    rule: ExpiryRule
  }) {
    this.core = parts.core
    this.target = parts.target
    this.label = parts.label
    this.name = parts.name
    this.columns = parts.columns
    this.capabilities = {keepsExpired: true, ...(parts.columns.details.length > 0 ? {details: parts.columns.details.map(d => d.label)} : {})}
    this.options = parts.options
    this.expiry = new SqlExpiry(parts.rule, parts.columns.expiryKind, quote(parts.columns.expiry), parts.columns.expiryNullable)
    this.conn = parts.core.promise()
    this.table = `${quote(parts.name.database)}.${quote(parts.name.table)}`
  }

  async cleanupExpired(o: CleanupOptions): Promise<CleanupSummary> {
    const clock = await this.clock()
    const [condition, params] = this.expiry.cleanupCondition(clock)
    const cleanup = new MysqlCleanup({
      columns: this.columns,
      condition,
      conn: this.conn,
      connectTimeoutMs: this.options.connectTimeoutMs,
      expiryDate: value => this.expiry.expiresAt(value, clock),
      label: this.label,
      name: this.name,
      now: clock.now,
      open: async () => (await connect(this.target, this.label)).promise(),
      params,
    })
    try {
      const summary = await cleanup.run(o)
      const {children} = this.columns
      if (children && !children.cascade) {
        summary.orphans = await sweepOrphans({
          child: this.childTable(), column: children.column, conn: this.conn, dryRun: o.dryRun, parent: this.table, references: children.references, signal: o.signal, table: children.table,
        })
      }

      return summary
    } catch (error) {
      throw error instanceof SessionctlError ? error : storeError(error, this.label)
    }
  }

  async close(): Promise<void> {
    try {
      await this.conn.end()
    } catch {
      this.core.destroy()
    }
  }

  async deleteSessions(sessions: readonly Session[], options: DeleteOptions = {}): Promise<DeleteSummary> {
    const {data, expiry, key} = this.columns
    const select = `SELECT ${quote(key)}, ${quote(data)} AS ${DATA_ALIAS}, ${quote(expiry)} FROM ${this.table} WHERE ${quote(key)} IN (?) FOR UPDATE`
    const remove = `DELETE FROM ${this.table} WHERE ${quote(key)} IN (?)`
    return deleteInBatches(this.label, sessions, options, DEFAULT_DELETE_BATCH, async batch => {
      const outcome = {changed: 0, deleted: 0, gone: 0}
      const wanted = new Map(batch.map(s => [s.key, s.version]))
      try {
        await this.conn.beginTransaction()
        // Lock the selected rows, re-read them and delete only those still identical.
        const [rows] = await this.conn.query({
          rowsAsArray: true, sql: select, typeCast: bufferSecondColumn, values: [[...wanted.keys()]],
        })
        const current = new Map<string, string>()
        for (const row of rows as unknown as Array<[string, Buffer | null, null | number | string]>) {
          current.set(row[0], sessionVersion(row[1] ?? Buffer.alloc(0), expiryToken(row[2])))
        }

        const doomed = stillSelected(wanted, current, outcome)

        if (doomed.length > 0) {
          const {children} = this.columns
          // No foreign key to cascade: the session's rows go in the same transaction.
          if (children && !children.cascade) {
            await this.conn.query(`DELETE FROM ${this.childTable()} WHERE ${quote(children.column)} IN (SELECT ${quote(children.references)} FROM ${this.table} WHERE ${quote(key)} IN (?))`, [doomed])
          }

          await this.conn.query(remove, [doomed])
        }

        await this.conn.commit()
        outcome.deleted = doomed.length
        return outcome
      } catch (error) {
        await this.conn.rollback().catch(() => {})
        throw error
      }
    }, error => storeError(error, this.label))
  }

  async diagnose(o: DiagnoseOptions): Promise<Check[]> {
    const {diagnoseMysql} = await import('./mysql-doctor.js')
    try {
      return await diagnoseMysql({
        columns: this.columns, conn: this.conn, connectTimeoutMs: this.options.connectTimeoutMs, name: this.name,
      }, o)
    } catch (error) {
      throw storeError(error, this.label)
    }
  }

  async listSessions(filter: SessionFilter, sink: SessionSink = {}): Promise<ScanSummary> {
    const clock = await this.clock()
    const selector = new Selector(this.options.codec, filter, this.label, clock.now, {
      expiryOf: raw => this.expiry.expiresAt(raw.expiryToken === '' ? null : raw.expiryToken, clock),
      onSessions: sink.onSessions,
      onTally: sink.onTally,
    })
    const {data, expiry, key, user} = this.columns
    let [where, params] = this.expiry.condition(filter.state, clock)
    if (where) where = ` WHERE ${where}`
    const warnings: string[] = []
    if (this.expiry.unknown !== undefined) warnings.push(`expiry unknown without ${this.expiry.unknown}: sessions are shown without one, live or not`)
    const indexed = user !== undefined && filter.userId !== undefined
    const {alias, children, owner} = this.columns
    if (indexed) {
      where = `${where ? `${where} AND` : ' WHERE'} ${quote(user.name)} = ?`
      params = [...params, filter.userId]
      if (!user.indexed) {
        const {database, table} = this.name
        warnings.push(`the user column ${user.name} has no index, so this lookup scans the table; add one: CREATE INDEX ${table}_${user.name} ON ${database}.${table} (${user.name})`)
      }
    }

    let extra = this.columns.details.map(d => `, ${quote(d.column)}`).join('')
    if (alias !== undefined) extra += `, ${quote(alias)}`
    // A session's size is its attributes' where it keeps them in another table.
    if (children?.size !== undefined) {
      extra += `, (SELECT COALESCE(SUM(LENGTH(c.${quote(children.size)})), 0) FROM ${this.childTable()} c WHERE c.${quote(children.column)} = s.${quote(children.references)})`
    }

    const sql = `SELECT ${quote(key)}, ${quote(data)} AS ${DATA_ALIAS}, ${quote(expiry)}${extra} FROM ${this.table} s${where}`
    const query = this.core.query({
      rowsAsArray: true, sql, typeCast: bufferSecondColumn, values: params,
    })
    const rows = rowBatches<ScanRow>(query, this.core, row => row[0].length + (row[1]?.length ?? 0))
    try {
      for await (const batch of rows) {
        await selector.submit(batch.map(row => this.toRaw(row, clock, filter.state)))
        sink.onProgress?.({matched: selector.summary.matched, scanned: selector.summary.scanned, store: this.label})
        if (filter.signal?.aborted) break
      }

      const summary = await selector.finish()
      if (indexed) noteIndexedLookup(summary, {
        column: user.name, owner, userId: filter.userId!, warnings,
      })
      if (warnings.length > 0) summary.warnings = warnings
      return summary
    } catch (error) {
      throw storeError(error, this.label)
    } finally {
      // Leaving the loop early (abort) must not leave the connection mid-result.
      await rows.return()
    }
  }

  async purgeUser(userId: string, options: PurgeOptions): Promise<PurgeSummary> {
    return purgeBySelection(this, userId, options)
  }

  private childTable(): string {
    return `${quote(this.name.database)}.${quote(this.columns.children!.table)}`
  }

  /** The server's clock, so a skewed client clock cannot turn live sessions into expired ones. */
  private async clock(): Promise<ExpiryClock> {
    try {
      const [rows] = await this.conn.query<RowDataPacket[]>('SELECT UTC_TIMESTAMP(6) AS now')
      const utc = String(rows[0].now)
      const now = parseNaive(utc, 'UTC')!
      const timeZone = this.options.timeZone ?? 'UTC'
      const micros = Number(utc.slice(23, 26) || 0)
      return {now, timeZone, wallNow: timeZone === 'UTC' ? normalizeNaive(utc) : formatNaive(now, timeZone, micros)}
    } catch (error) {
      throw storeError(error, this.label)
    }
  }

  /**
   * A row as the selector takes it. The expiry is parsed only for selected rows (expiryOf):
   * on a scan of a million rows for one user, parsing every date would cost more than the
   * query. The state filter ran in SQL, so only --all compares each row's expiry here.
   */
  private toRaw(row: ScanRow, clock: ExpiryClock, state: SessionFilter['state']): RawSession {
    const [key, value, expiry] = row
    // The state filter ran in SQL; only --all decides each row here, by the same rule.
    const expired = state === 'all' ? this.expiry.isExpired(expiry, clock) : state === 'expired'

    const raw: RawSession = {
      expired, expiryToken: expiryToken(expiry), key: String(key), value: value ?? EMPTY,
    }
    if (this.expiry.unknown !== undefined) raw.expiryUnknown = true
    const {alias, children, details, owner} = this.columns
    if (details.length > 0) raw.details = detailsOf(details, row.slice(3) as Array<null | number | string>)
    let at = 3 + details.length
    if (owner) raw.owner = value === null ? null : value.toString('utf8')
    if (alias !== undefined) {
      const other = row[at++]
      if (other !== null && other !== undefined) raw.aliases = [String(other)]
    }

    if (children?.size !== undefined) raw.size = Number(row[at]) + (value?.length ?? 0)
    return raw
  }
}

/**
 * Rows of a child table whose session is gone (sweepOrphanRanges): each range's orphans counted,
 * then deleted only while still orphans.
 */
async function sweepOrphans(o: {
  child: string; column: string; conn: PromiseConnection; dryRun: boolean; parent: string; references: string; signal?: AbortSignal; table: string
}): Promise<NonNullable<CleanupSummary['orphans']>> {
  const col = quote(o.column)
  const ref = quote(o.references)
  const orphan = `NOT EXISTS (SELECT 1 FROM ${o.parent} p WHERE p.${ref} = c.${col})`
  const inRange = (after: null | string, end: string): [string, string[]] => [`${after === null ? '' : `c.${col} > ? AND `}c.${col} <= ?`, after === null ? [end] : [after, end]]
  return sweepOrphanRanges(o, {deleted: 0, found: 0, table: o.table}, async after => {
    const [ends] = await o.conn.query<RowDataPacket[]>(
      `SELECT MAX(k) AS k FROM (SELECT ${col} AS k FROM ${o.child} WHERE ${after === null ? '1' : `${col} > ?`} ORDER BY ${col} LIMIT ${ORPHAN_RANGE}) r`,
      after === null ? [] : [after],
    )
    return (ends[0]?.k as null | string | undefined) ?? null
  }, async (after, end) => {
    const [range, params] = inRange(after, end)
    const [found] = await o.conn.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${o.child} c WHERE ${range} AND ${orphan}`, params)
    const n = Number(found[0].n)
    if (n === 0 || o.dryRun) return {deleted: 0, found: n}
    const [result] = await o.conn.query<ResultSetHeader>(`DELETE c FROM ${o.child} c WHERE ${range} AND ${orphan}`, params)
    return {deleted: result.affectedRows, found: n}
  })
}

type ScanRow = [string, Buffer | null, null | number | string, ...Array<null | number | string>]

/** Rows per scan batch, and about how many bytes: a row larger than that is a batch alone. */
const SCAN_BATCH_BYTES = 8 * 1024 * 1024

/**
 * The rows of a streamed query in batches of at most SCAN_BATCH rows or about SCAN_BATCH_BYTES.
 * While the consumer works on a batch of small rows the next is read; once that one is full the
 * connection is paused. A batch that is full by bytes is worked on before anything more is
 * read: large rows are in memory one batch at a time. Memory then follows bytes, not rows: a stream with a high-water mark in rows held
 * a thousand rows of any size (a few tens of 20 MB sessions took a scan above 1 GB).
 */
async function * rowBatches<T>(query: mysql.Query, core: mysql.Connection, size: (row: T) => number): AsyncGenerator<T[], void, undefined> {
  const ready: Array<{bytes: number; rows: T[]}> = []
  let current: T[] = []
  let bytes = 0
  let ended = false
  let failure: unknown
  let wake: (() => void) | undefined
  const notify = (): void => {
    const w = wake
    wake = undefined
    w?.()
  }

  const onResult = (row: T): void => {
    current.push(row)
    bytes += size(row)
    if (current.length >= SCAN_BATCH || bytes >= SCAN_BATCH_BYTES) {
      ready.push({bytes, rows: current})
      current = []
      bytes = 0
      core.pause()
      notify()
    }
  }

  const onEnd = (): void => {
    ended = true
    notify()
  }

  const onError = (error: unknown): void => {
    failure ??= error
    onEnd()
  }

  query.on('result', onResult)
  query.on('end', onEnd)
  query.on('error', onError)
  try {
    for (;;) {
      if (failure) throw failure
      const batch = ready.shift()
      if (batch) {
        const small = batch.bytes < SCAN_BATCH_BYTES
        // Small rows: read the next batch while this one is worked on.
        if (small && ready.length === 0) core.resume()
        yield batch.rows
        if (!small && ready.length === 0) core.resume()
      } else if (ended) {
        if (failure) throw failure
        if (current.length > 0) yield current
        return
      } else {
        await new Promise<void>(resolve => {
          wake = resolve
        })
      }
    }
  } finally {
    // Stopped early: let the rest of the result through unread, as the driver's stream does.
    query.removeListener('result', onResult)
    query.removeListener('end', onEnd)
    query.removeListener('error', onError)
    if (!ended) query.on('error', () => {})
    core.resume()
  }
}

const EMPTY = Buffer.alloc(0)

function expiryToken(value: null | number | string): string {
  return value === null ? '' : String(value)
}

const DATA_ALIAS = '__sessionctl_data'

/** Reads the data column as raw bytes: payloads are decoded by the codec, not by the driver. */
function bufferSecondColumn(field: {buffer(): Buffer | null; name: string}, next: () => unknown): unknown {
  return field.name === DATA_ALIAS ? field.buffer() : next()
}

/** Driver errors rewritten as one line that names the problem and never carries a password. */
export function storeError(error: unknown, label: string, target?: MysqlTarget): StoreError {
  if (error instanceof StoreError) return error
  const e = error as {code?: string; errno?: number; message?: string; sqlMessage?: string}
  const where = target ? (target.config.socketPath ?? `${target.config.host}:${target.config.port}`) : label
  const user = target?.config.user
  switch (e.code) {
  case 'ER_ACCESS_DENIED_ERROR': {
    return new StoreError(`access denied for user "${user ?? '?'}" on ${where}: check the user and password`, {cause: error})
  }

  case 'ER_DBACCESS_DENIED_ERROR': {
    return new StoreError(`user "${user ?? '?'}" may not use database "${target?.database}" on ${where}`, {cause: error})
  }

  case 'ER_BAD_DB_ERROR': {
    return new StoreError(`database "${target?.database}" does not exist on ${where}`, {cause: error})
  }

  case 'ECONNREFUSED': {
    return new StoreError(`cannot connect to ${where}: connection refused (is the MySQL/MariaDB server running there?)`, {cause: error})
  }

  case 'ETIMEDOUT': {
    return new StoreError(`cannot connect to ${where}: timed out`, {cause: error})
  }

  case 'ENOENT': {
    return new StoreError(`cannot connect to ${where}: no such socket`, {cause: error})
  }

  case 'EAI_AGAIN':
  case 'ENOTFOUND': {
    return new StoreError(`cannot connect to ${where}: unknown host`, {cause: error})
  }

  case 'ECONNRESET':
  case 'EPIPE':
  case 'PROTOCOL_CONNECTION_LOST': {
    return new StoreError(`lost the connection to ${label}`, {cause: error})
  }

  case STALLED: {
    return new StoreError(`${label} stopped answering: no reply for ${STALL_CHECK_MS / 1000} s, and no answer to a new connection`, {cause: error})
  }

  case 'ER_LOCK_WAIT_TIMEOUT': {
    return new StoreError(`rows of ${label} stayed locked by another transaction for ${LOCK_WAIT_TIMEOUT_S} s`, {cause: error})
  }

  case 'ER_TABLEACCESS_DENIED_ERROR': {
    return new StoreError(`permission denied on ${label}: ${e.sqlMessage ?? e.message}`, {cause: error})
  }

  default: {
    const message = e.sqlMessage ?? e.message ?? String(error)
    // A command on a connection lost earlier, while idle (e.g. at the confirmation prompt).
    if (/connection is in closed state/.test(message)) return new StoreError(`lost the connection to ${label}`, {cause: error})
    return new StoreError(`${label}: ${message}`, {cause: error})
  }
  }
}
