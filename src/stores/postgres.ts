import type net from 'node:net'

import {userInfo} from 'node:os'
import pg from 'pg'

import type {
  Check,
  CleanupOptions,
  CleanupSummary,
  DeleteOptions,
  DeleteSummary,
  DetailColumn,
  DiagnoseOptions,
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
import {SessionctlError, StoreError, UsageError} from '../errors.js'
import {purgeBySelection} from '../sessions/purge.js'
import {type RawSession, Selector, sessionVersion} from '../sessions/select.js'
import {deleteInBatches} from './delete-batches.js'
import {PostgresCleanup} from './postgres-cleanup.js'
import {BoundedCursor} from './postgres-cursor.js'
import {type ExpiryClock, type ExpiryKind, SqlExpiry} from './sql-expiry.js'
import {
  detailsOf, integerExpiryUnit, layoutIdentifiers, noteIndexedLookup, ORPHAN_RANGE, stillSelected, sweepOrphanRanges,
} from './sql-rows.js'
import {assertTimeZone, formatNaive, parseNaive} from './sql-time.js'
import {
  decodePart, type ParamKind, parseStoreUrl, readCaFile,
} from './url.js'

const DEFAULT_DELETE_BATCH = 500
const DEFAULT_CONNECT_TIMEOUT_MS = 3000
/** A purge or a scan waits at most this long for a lock another transaction holds (lock_timeout). */
export const LOCK_TIMEOUT_S = 10
const STALL_CHECK_MS = 5000
const STALLED = 'SESSIONCTL_SERVER_STALLED'
/** Rows per cursor read (one Execute), and the bytes at which a batch is handed over before that (BoundedCursor). */
const SCAN_ROWS = 1000
const SCAN_BATCH_BYTES = 8 * 1024 * 1024

/** `postgres://user:password@host:5432/database?sslmode=require&options=-c%20search_path%3Dapp` (also `postgresql://`). */
export interface PostgresTarget {
  config: pg.ClientConfig
  database: string
  label: string
  /** host:port, or the socket directory and port. */
  where: string
  user: string
}

const URL_PARAMS: Record<string, ParamKind> = {
  application_name: 'value', host: 'value', options: 'value', port: 'value', sslmode: 'value', sslrootcert: 'value',
}
const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full']

/** Every value as the server's text: payloads are decoded by the codec, times by the expiry rule. */
const TEXT_TYPES = {getTypeParser: () => (value: string) => value} as unknown as pg.CustomTypesConfig

/**
 * Exactly one server: a host (default port 5432), or a local socket directory (`?host=/path`,
 * with no host in the authority; `?port=` picks the socket's port). The database is the one path
 * segment, and required: libpq would fall back to the user's name, and the tool never guesses
 * which database it reads. Nothing comes from PGHOST, PGPORT, PGDATABASE or PGSSLMODE; the
 * password comes from the URL, else PGPASSWORD (else ~/.pgpass, as the driver reads it).
 */
export function parsePostgresUrl(raw: string, connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): PostgresTarget {
  const url = parseStoreUrl(raw, URL_PARAMS)
  const fail = (why: string): never => {
    throw new UsageError(`invalid store URL ${JSON.stringify(url.shown)}: ${why}`)
  }

  if (url.scheme !== 'postgres' && url.scheme !== 'postgresql') fail('expected postgres:// or postgresql://')
  if (url.hosts.length > 1) fail('it names several hosts: give one server per URL (repeat --store for several)')
  const socket = url.params.get('host')
  const [server] = url.hosts
  if (socket === undefined && server === undefined) {
    fail('no host (an unset variable?): name the server, postgres://user@HOST:5432/database, or a socket directory with ?host=/var/run/postgresql')
  }

  if (socket !== undefined) {
    if (!socket.startsWith('/')) fail(`?host=${socket} must be a socket directory (an absolute path); name a TCP host in the authority: postgres://user@${socket}/database`)
    if (server !== undefined) fail(`?host= connects through the socket in ${socket}, so the host ${server.host}${server.port === undefined ? '' : `:${server.port}`} would be ignored: drop one of them`)
  }

  const portText = url.params.get('port')
  if (portText !== undefined && socket === undefined) fail('?port= applies to a socket (?host=/path) only: give a TCP port as host:PORT')
  if (portText !== undefined && (!/^[1-9]\d{0,4}$/.test(portText) || Number(portText) > 65_535)) fail(`invalid port "${portText}": use a number from 1 to 65535`)
  if (url.user === undefined && url.password !== undefined) fail('a password but no user before ":"')
  const segments = url.segments ?? []
  if (segments.length > 1) fail('the path must be one database name, e.g. /app')
  const database = segments[0] ? decodePart(segments[0], 'the database', url.shown) : undefined
  if (database === undefined) fail('no database: name it in the path, postgres://user@host:5432/DATABASE')
  if (database!.length > 63 || database!.includes('\0')) fail(`invalid database name "${database}"`)
  const password = url.password ?? (process.env.PGPASSWORD || undefined)
  registerSecret(password)
  const sslmode = url.params.get('sslmode')
  if (sslmode !== undefined && !SSL_MODES.includes(sslmode)) {
    const why = sslmode === 'prefer' || sslmode === 'allow' ? ` (${sslmode} falls back to an unencrypted connection without saying so)` : ''
    fail(`invalid sslmode=${sslmode}${why}: use ${SSL_MODES.join(', ')}`)
  }

  const rootCert = url.params.get('sslrootcert')
  if (rootCert !== undefined && (sslmode === undefined || sslmode === 'disable')) {
    fail(`sslrootcert has no effect ${sslmode === 'disable' ? 'with sslmode=disable' : 'without sslmode'}: add sslmode=verify-full (or verify-ca)`)
  }

  const options = url.params.get('options')
  if (options !== undefined && !/^(?:\s*-c\s*[\w.]+=\S+)+\s*$/.test(options)) {
    fail(`invalid options=${options}: give server settings as -c name=value (e.g. options=-c%20search_path%3Dapp)`)
  }

  const user = url.user ?? userInfo().username
  const port = socket === undefined ? (server!.port ?? 5432) : Number(portText ?? 5432)
  const config: pg.ClientConfig = {
    application_name: url.params.get('application_name') ?? 'sessionctl',
    client_encoding: 'utf8',
    connectionTimeoutMillis: connectTimeoutMs,
    database,
    host: socket ?? server!.host,
    keepAlive: true,
    port,
    ssl: sslConfig(sslmode, rootCert),
    types: TEXT_TYPES,
    user,
    ...(options === undefined ? {} : {options}),
    ...(password === undefined ? {} : {password}),
  }
  const where = socket === undefined ? `${server!.host}:${port}` : `${socket}/.s.PGSQL.${port}`
  return {
    config, database: database!, label: url.shown, user, where,
  }
}

/** libpq's modes: require encrypts (verifying the chain only when a root certificate is given, as libpq does), verify-ca checks the chain, verify-full the host name too. */
function sslConfig(mode: string | undefined, rootCert: string | undefined): pg.ClientConfig['ssl'] {
  if (mode === undefined || mode === 'disable') return false
  const ca = rootCert === undefined ? undefined : readCaFile(rootCert, 'sslrootcert').toString()
  if (mode === 'require' && ca === undefined) return {rejectUnauthorized: false}
  return {
    ...(ca === undefined ? {} : {ca}),
    rejectUnauthorized: true,
    ...(mode === 'verify-full' ? {} : {checkServerIdentity: anyHost}),
  }
}

/** verify-ca: the chain is checked, the host name is not. */
function anyHost(): Error | undefined {
  return undefined
}

const IDENTIFIER = /^[A-Z_a-z][\w$]{0,62}$/

/** Identifiers are validated against a strict alphabet, then quoted: never built from raw input. */
export function checkPgIdentifier(name: string, what: string): string {
  if (!IDENTIFIER.test(name)) throw new UsageError(`invalid ${what} "${name}": use 1-63 letters, digits, _ or $, starting with a letter or _`)
  return name
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/**
 * How a column's text is turned into the bytes the codec reads: `json-string`, a json/jsonb column
 * whose JSON-string values hold the session's JSON (SqlLayout.jsonStringHoldsSession).
 */
type ValueKind = 'bytea' | 'json-string' | 'text'

export interface PgColumns {
  data: string
  /** `data` is the owner column (SqlLayout.ownerColumn): rows are not decoded. */
  owner: boolean
  dataKind: ValueKind
  alias?: string
  /**
   * The key (and alias) column is blank-padded `character(n)` (Spring's CHAR(36)): read through
   * rtrim(), as PostgreSQL compares it, so a shorter id is shown, kept and deleted as the app wrote it.
   */
  keyPadded?: true
  aliasPadded?: true
  children?: {cascade: boolean; column: string; references: string; size?: string; table: string}
  expiry: string
  expiryKind: ExpiryKind
  /** The expiry column holds absolute times (timestamp with time zone): read and compared in UTC. */
  expiryAbsolute: boolean
  expiryNullable: boolean
  /** Some index starts with the expiry column. */
  expiryIndexed: boolean
  key: string
  /** `type`: the column's type where it is not text (a bigint user_id), which not every user id can be cast to. */
  user?: {indexed: boolean; name: string; type?: string}
  details: DetailColumn[]
}

/** What the connection learned about the server at open. */
interface ServerFacts {
  /** server_version_num */
  version: number
  /** The TimeZone setting the server gives a session (the apps' connections see it too). */
  timeZone: string
}

export async function openPostgresStore(url: string, options: StoreOptions): Promise<SessionStore> {
  const target = parsePostgresUrl(url, options.connectTimeoutMs)
  const layout = options.layout.postgres ?? options.layout.sql
  if (!layout) throw new UsageError(`the ${options.codec.name} format keeps no sessions in PostgreSQL`)
  if (layout.ownerColumn !== undefined && options.layout.userColumn !== undefined && options.layout.userColumn.toLowerCase() !== layout.ownerColumn.toLowerCase()) {
    throw new UsageError(`--user-column: the ${options.codec.name} format records the user in ${layout.ownerColumn} itself; drop --user-column`)
  }

  const userColumn = layout.ownerColumn ?? options.layout.userColumn ?? layout.userColumn
  const parts = layout.table.split('.')
  if (parts.length > 2) throw new UsageError(`invalid table name "${layout.table}": use table or schema.table (the database is the URL's)`)
  const [schema, table] = parts.length === 2 ? parts : [undefined, parts[0]]
  if (schema !== undefined) checkPgIdentifier(schema, 'schema name')
  checkPgIdentifier(table, 'table name')
  for (const [what, name] of layoutIdentifiers(layout, userColumn)) checkPgIdentifier(name, what)

  const connection = await connect(target)
  try {
    const found = await findTable(connection.client, schema, table, target)
    const label = `${target.label} (table ${found.schema}.${found.table})`
    const columns = await inspectTable(connection.client, found, {...layout, userColumn}, label)
    if (options.timeZone !== undefined && columns.expiryAbsolute) {
      throw new UsageError(`--time-zone: ${found.table}.${columns.expiry} is a timestamp with time zone, whose times are absolute; drop --time-zone`)
    }

    const naiveZone = options.timeZone ?? (layout.expiry.naiveZone === 'session' ? connection.facts.timeZone : 'UTC')
    if (columns.expiryKind === 'datetime' && !columns.expiryAbsolute) checkZone(naiveZone, options.timeZone === undefined)
    return new PostgresStore({
      columns, connection, label, layout, name: found, options, target, zone: columns.expiryAbsolute ? 'UTC' : naiveZone,
    })
  } catch (error) {
    connection.destroy()
    throw error instanceof SessionctlError ? error : pgError(error, target.label, target)
  }
}

function checkZone(zone: string, fromServer: boolean): void {
  try {
    assertTimeZone(zone)
  } catch {
    throw new UsageError(`${fromServer ? `the server's TimeZone setting "${zone}"` : `--time-zone ${zone}`} is not an IANA time zone this tool knows: give the zone the app writes expiry times in with --time-zone (e.g. Europe/Berlin)`)
  }
}

/** A connection and what watches it: every query goes through `query`/`cursor` so a frozen server is noticed. */
export interface PgConnection {
  client: pg.Client
  facts: ServerFacts
  destroy(): void
  end(): Promise<void>
}

/**
 * Connects, reads what the session needs to know, and sets what the tool relies on: UTC for
 * timestamp with time zone text, ISO dates, hex bytea, and a lock_timeout so a purge or a scan
 * never hangs behind a long transaction (an ALTER TABLE's lock, rows another transaction holds).
 */
export async function connect(target: PostgresTarget, settings: readonly string[] = []): Promise<PgConnection> {
  const client = new pg.Client(target.config)
  // An error on an idle connection (the server restarted while the operator read a prompt) is
  // reported by the next query; unhandled, the event would end the process with a stack trace.
  client.on('error', () => {})
  try {
    await client.connect()
    watchForStall(client, target)
    const {rows} = await client.query<{tz: string; version: string}>("SELECT current_setting('TimeZone') AS tz, current_setting('server_version_num') AS version")
    await client.query([
      "SET TIME ZONE 'UTC'",
      "SET DateStyle = 'ISO, YMD'",
      "SET IntervalStyle = 'postgres'",
      "SET bytea_output = 'hex'",
      `SET lock_timeout = '${LOCK_TIMEOUT_S}s'`,
      // Rows a row-level security policy hid would be neither listed nor deleted, and a purge
      // would say done with the user's sessions still there: with this off, a query RLS would
      // filter fails instead (roles that bypass RLS, such as the table's owner, are unaffected).
      'SET row_security = off',
      ...settings,
    ].join('; '))
    return {
      client,
      destroy() {
        (client as unknown as {connection: {stream: net.Socket}}).connection.stream.destroy()
      },
      async end() {
        await client.end()
      },
      facts: {timeZone: rows[0].tz, version: Number(rows[0].version)},
    }
  } catch (error) {
    (client as unknown as {connection: {stream: net.Socket}}).connection.stream.destroy()
    throw pgError(error, target.label, target)
  }
}

type DriverClient = pg.Client & {_activeQuery?: unknown; _queryQueue?: unknown[]; connection: {stream: net.Socket}}

/**
 * A frozen server (SIGSTOP, a hung host, a dead network path) keeps its TCP connections open, so
 * a query would wait for ever. When a query has had no reply for STALL_CHECK_MS, check with a new
 * connection that the server still answers (it does at once, however busy): if it does, the
 * statement is merely slow and we keep waiting; if not within the connect timeout, the
 * connection is closed with a "stopped answering" error.
 */
function watchForStall(client: pg.Client, target: PostgresTarget): void {
  const driver = client as DriverClient
  const socket = driver.connection.stream
  if (typeof socket?.setTimeout !== 'function') return
  let checking = false
  const busy = (): boolean => Boolean(driver._activeQuery) || (driver._queryQueue?.length ?? 0) > 0
  socket.setTimeout(STALL_CHECK_MS, async () => {
    if (checking || !busy()) return
    checking = true
    const alive = await answers(target)
    checking = false
    if (alive || !busy() || socket.destroyed) {
      socket.setTimeout(STALL_CHECK_MS)
      return
    }

    socket.destroy(Object.assign(new Error('the server stopped answering'), {code: STALLED}))
  })
}

/** Whether the server answers a new connection within the connect timeout; any reply from it (even an error) means it is alive. */
async function answers(target: PostgresTarget): Promise<boolean> {
  const probe = new pg.Client(target.config)
  probe.on('error', () => {})
  try {
    await probe.connect()
    await probe.end()
    return true
  } catch (error) {
    (probe as unknown as DriverClient).connection.stream.destroy()
    return /^[\dA-Z]{5}$/.test(String((error as {code?: string}).code))
  }
}

interface FoundTable {
  oid: string
  schema: string
  table: string
  /** 'r' a table, 'p' a partitioned table. */
  kind: string
}

/**
 * The table, as PostgreSQL names it: the layout's names are matched exactly, else
 * case-insensitively (Spring's schema-postgresql.sql creates SPRING_SESSION unquoted, so it is
 * spring_session), in the schema given or the first schema of the search_path that has it.
 */
async function findTable(client: pg.Client, schema: string | undefined, table: string, target: PostgresTarget): Promise<FoundTable> {
  const {rows} = await client.query<{kind: string; nspname: string; oid: string; relname: string}>(
    `SELECT c.oid, n.nspname, c.relname, c.relkind AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE lower(c.relname) = lower($1) AND ${schema === undefined ? 'n.nspname = ANY(current_schemas(false))' : 'lower(n.nspname) = lower($2)'}
     ORDER BY ${schema === undefined ? 'array_position(current_schemas(false), n.nspname), ' : ''}c.relname = $1 DESC`,
    schema === undefined ? [table] : [table, schema],
  )
  const place = schema === undefined ? 'in the search_path' : `in schema ${schema}`
  if (rows.length === 0) {
    const {rows: path} = await client.query<{path: string}>('SELECT array_to_string(current_schemas(false), \', \') AS path')
    const searched = schema === undefined ? ` (search_path: ${path[0].path || 'empty'})` : ''
    throw new StoreError(`table ${schema === undefined ? table : `${schema}.${table}`} does not exist ${place} of database ${target.database} on ${target.label}${searched}; use --table to name the session table (schema.table)`)
  }

  const first = rows[0]
  const twins = rows.filter(r => r.nspname === first.nspname)
  const exact = twins.find(r => r.relname === table)
  if (!exact && twins.length > 1) {
    throw new StoreError(`several tables match "${table}" ${place} up to case (${twins.map(r => r.relname).join(', ')}): name the one with --table "${first.nspname}.NAME" as it is spelled`)
  }

  const chosen = exact ?? first
  if (chosen.kind !== 'r' && chosen.kind !== 'p') {
    throw new StoreError(`${chosen.nspname}.${chosen.relname} is not a table (it is a ${chosen.kind === 'v' || chosen.kind === 'm' ? 'view' : `relation of kind ${chosen.kind}`}): name the session table with --table`)
  }

  return {
    kind: chosen.kind, oid: chosen.oid, schema: chosen.nspname, table: chosen.relname,
  }
}

interface PgColumnInfo {
  name: string
  nullable: boolean
  num: number
  type: string
}

async function columnsOf(client: pg.Client, oid: string): Promise<PgColumnInfo[]> {
  const {rows} = await client.query<{name: string; nullable: boolean; num: string; type: string}>(
    `SELECT a.attname AS name, a.attnum AS num, NOT a.attnotnull AS nullable,
            format_type(COALESCE(NULLIF(t.typbasetype, 0), a.atttypid), NULL) AS type
     FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [oid],
  )
  return rows.map(r => ({
    name: r.name, nullable: String(r.nullable) === 't' || String(r.nullable) === 'true', num: Number(r.num), type: r.type,
  }))
}

/** A layout's column, by its exact name, else its only case-insensitive match. */
function columnNamed(columns: readonly PgColumnInfo[], name: string): PgColumnInfo | undefined {
  return columns.find(c => c.name === name) ?? (columns.filter(c => c.name.toLowerCase() === name.toLowerCase()).length === 1 ? columns.find(c => c.name.toLowerCase() === name.toLowerCase()) : undefined)
}

async function indexedBy(client: pg.Client, oid: string, column: PgColumnInfo): Promise<boolean> {
  const {rows} = await client.query('SELECT 1 FROM pg_index WHERE indrelid = $1 AND indkey[0] = $2 LIMIT 1', [oid, column.num])
  return rows.length > 0
}

const TEXT_TYPES_NAMES = new Set(['character', 'character varying', 'json', 'jsonb', 'text'])

async function inspectTable(client: pg.Client, found: FoundTable, layout: SqlLayout & {userColumn?: string}, label: string): Promise<PgColumns> {
  const all = await columnsOf(client, found.oid)
  const name = `${found.schema}.${found.table}`
  const find = (wanted: string, what: string): PgColumnInfo => {
    const column = columnNamed(all, wanted)
    if (!column) throw new StoreError(`table ${name} has no ${what} "${wanted}" (it has ${all.map(c => c.name).join(', ')}); check --format or the column options`)
    return column
  }

  const key = find(layout.keyColumn, 'key column')
  const owner = layout.ownerColumn !== undefined
  const data = owner ? find(layout.ownerColumn!, 'user column') : find(layout.dataColumn, 'data column')
  let dataKind: ValueKind
  if (data.type === 'bytea') dataKind = 'bytea'
  else if (layout.jsonStringHoldsSession && (data.type === 'json' || data.type === 'jsonb')) dataKind = 'json-string'
  else if (TEXT_TYPES_NAMES.has(data.type)) dataKind = 'text'
  else throw new StoreError(`${name}.${data.name} has type ${data.type}, which cannot hold a session (text, varchar, json, jsonb or bytea)`)
  const expiry = find(layout.expiry.column, 'expiry column')
  const aliasColumn = layout.keyAliasColumn === undefined ? undefined : columnNamed(all, layout.keyAliasColumn)
  const alias = aliasColumn?.name
  let user: PgColumns['user']
  if (layout.userColumn !== undefined) {
    const column = find(layout.userColumn, 'user column')
    user = {indexed: await indexedBy(client, found.oid, column), name: column.name, ...(TEXT_TYPES_NAMES.has(column.type) ? {} : {type: column.type})}
  }

  const children = layout.children ? await inspectChildren(client, found, layout.children, find(layout.children.references, 'column').name, label) : undefined
  const [expiryKind, expiryAbsolute] = expiryKindOf(expiry.type, layout.expiry.unit, `${found.table}.${expiry.name}`)
  return {
    data: data.name,
    dataKind,
    owner,
    ...(alias === undefined ? {} : {alias}),
    ...(children === undefined ? {} : {children}),
    details: (layout.detailColumns ?? []).flatMap(d => {
      const column = columnNamed(all, d.column)
      return column ? [{...d, column: column.name}] : []
    }),
    expiry: expiry.name,
    expiryAbsolute,
    expiryIndexed: await indexedBy(client, found.oid, expiry),
    expiryKind,
    expiryNullable: expiry.nullable,
    key: key.name,
    ...(key.type === 'character' ? {keyPadded: true} : {}),
    ...(aliasColumn?.type === 'character' ? {aliasPadded: true} : {}),
    ...(user ? {user} : {}),
  }
}

/** SqlLayout.children: the table must exist with its column; a cascading foreign key decides whether deletes must remove its rows. */
async function inspectChildren(
  client: pg.Client,
  parent: FoundTable,
  spec: NonNullable<SqlLayout['children']>,
  references: string,
  label: string,
): Promise<PgColumns['children']> {
  const wanted = checkPgIdentifier(`${parent.table}${spec.suffix}`, 'table name')
  const {rows} = await client.query<{oid: string; relname: string}>(
    'SELECT c.oid, c.relname FROM pg_class c WHERE c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = $1) AND lower(c.relname) = lower($2) AND c.relkind IN (\'r\', \'p\') ORDER BY c.relname = $2 DESC LIMIT 1',
    [parent.oid, wanted],
  )
  if (rows.length === 0) throw new StoreError(`table ${parent.schema}.${wanted}, which holds the sessions' attributes, does not exist on ${label.replace(/ \(table .*\)$/, '')}`)
  const [child] = rows
  const columns = await columnsOf(client, child.oid)
  const column = columnNamed(columns, spec.column)
  if (!column) throw new StoreError(`table ${parent.schema}.${child.relname} has no column "${spec.column}" (it has ${columns.map(c => c.name).join(', ')})`)
  const size = columns.find(c => c.type === 'bytea')?.name
  const {rows: fks} = await client.query(
    'SELECT 1 FROM pg_constraint WHERE contype = \'f\' AND conrelid = $1 AND confrelid = $2 AND confdeltype = \'c\' AND conkey[1] = $3 LIMIT 1',
    [child.oid, parent.oid, column.num],
  )
  return {
    cascade: fks.length > 0, column: column.name, references, table: child.relname, ...(size === undefined ? {} : {size}),
  }
}

const INTEGER_TYPES = new Set(['bigint', 'integer', 'numeric', 'smallint'])

/** The column's kind, and whether its times are absolute (timestamp with time zone). */
function expiryKindOf(type: string, unit: ExpiryUnit, column: string): [ExpiryKind, boolean] {
  if (type === 'timestamp with time zone' || type === 'timestamp without time zone') {
    if (unit !== 'auto' && unit !== 'datetime') throw new UsageError(`${column} is a ${type} column, not ${unit}: drop --expiry-unit, or use --expiry-unit datetime`)
    return ['datetime', type === 'timestamp with time zone']
  }

  if (INTEGER_TYPES.has(type)) return [integerExpiryUnit(unit, column), false]

  throw new StoreError(`${column} has type ${type}, which cannot hold an expiry time`)
}

type ScanRow = [string, null | string, null | string, ...Array<null | string>]

export class PostgresStore implements SessionStore {
  readonly capabilities: StoreCapabilities
  readonly columns: PgColumns
  readonly expiry: SqlExpiry
  readonly label: string
  readonly name: FoundTable
  readonly table: string
  private readonly connection: PgConnection
  private readonly options: StoreOptions
  private readonly target: PostgresTarget
  private readonly zone: string

  constructor(parts: {
    columns: PgColumns
    connection: PgConnection
    label: string
    layout: SqlLayout
    name: FoundTable
    options: StoreOptions
    target: PostgresTarget
    zone: string
  }) {
    this.columns = parts.columns
    this.connection = parts.connection
    this.label = parts.label
    this.name = parts.name
    this.options = parts.options
    this.target = parts.target
    this.zone = parts.zone
    this.capabilities = {keepsExpired: true, ...(parts.columns.details.length > 0 ? {details: parts.columns.details.map(d => d.label)} : {})}
    this.expiry = new SqlExpiry(parts.layout.expiry, parts.columns.expiryKind, quoteIdent(parts.columns.expiry), parts.columns.expiryNullable)
    this.table = `${quoteIdent(parts.name.schema)}.${quoteIdent(parts.name.table)}`
  }

  private get client(): pg.Client {
    return this.connection.client
  }

  childTable(): string {
    return `${quoteIdent(this.name.schema)}.${quoteIdent(this.columns.children!.table)}`
  }

  async cleanupExpired(o: CleanupOptions): Promise<CleanupSummary> {
    const clock = await this.clock()
    const [condition, params] = this.expiry.cleanupCondition(clock)
    const cleanup = new PostgresCleanup({
      condition: numbered(condition, 1),
      connection: this.connection,
      expiryDate: value => this.expiry.expiresAt(value, clock),
      label: this.label,
      params,
      store: this,
      target: this.target,
    })
    try {
      const summary = await cleanup.run(o)
      const {children} = this.columns
      // Without a cascading foreign key, rows whose session went some other way (the framework's
      // own deletes, an older cleanup) are swept too, as on MySQL.
      if (children && !children.cascade && summary.stoppedBy === 'done') summary.orphans = await this.sweepOrphans(o, summary.orphans)
      return summary
    } catch (error) {
      throw error instanceof SessionctlError ? error : pgError(error, this.label)
    }
  }

  /** The server's clock, so a skewed client clock cannot turn live sessions into expired ones. */
  async clock(): Promise<ExpiryClock> {
    try {
      const {rows} = await this.client.query<{now: string}>("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS now")
      const utc = rows[0].now
      const now = parseNaive(utc, 'UTC')!
      const micros = Number(utc.slice(23, 26) || 0)
      return {now, timeZone: this.zone, wallNow: this.zone === 'UTC' ? utc : formatNaive(now, this.zone, micros)}
    } catch (error) {
      throw pgError(error, this.label)
    }
  }

  async close(): Promise<void> {
    try {
      await this.connection.end()
    } catch {
      this.connection.destroy()
    }
  }

  async deleteSessions(sessions: readonly Session[], options: DeleteOptions = {}): Promise<DeleteSummary> {
    const {data, key, keyPadded} = this.columns
    const select = `SELECT ${padless(quoteIdent(key), keyPadded)}, ${quoteIdent(data)}, ${this.expirySelect()} FROM ${this.table} WHERE ${quoteIdent(key)} = ANY($1) FOR UPDATE`
    const remove = `DELETE FROM ${this.table} WHERE ${quoteIdent(key)} = ANY($1)`
    return deleteInBatches(this.label, sessions, options, DEFAULT_DELETE_BATCH, async batch => {
      const outcome = {changed: 0, deleted: 0, gone: 0}
      const wanted = new Map(batch.map(s => [s.key, s.version]))
      try {
        await this.client.query('BEGIN')
        // Lock the selected rows, re-read them and delete only those still identical.
        const {rows} = await this.client.query<ScanRow>({rowMode: 'array', text: select, values: [[...wanted.keys()]]})
        const current = new Map<string, string>()
        for (const row of rows) current.set(row[0], sessionVersion(this.bytes(row[1]), row[2] ?? ''))
        const doomed = stillSelected(wanted, current, outcome)

        if (doomed.length > 0) {
          const {children} = this.columns
          if (children && !children.cascade) {
            await this.client.query(`DELETE FROM ${this.childTable()} WHERE ${quoteIdent(children.column)} IN (SELECT ${quoteIdent(children.references)} FROM ${this.table} WHERE ${quoteIdent(key)} = ANY($1))`, [doomed])
          }

          await this.client.query(remove, [doomed])
        }

        await this.client.query('COMMIT')
        outcome.deleted = doomed.length
        return outcome
      } catch (error) {
        await this.client.query('ROLLBACK').catch(() => {})
        throw error
      }
    }, error => pgError(error, this.label))
  }

  async diagnose(o: DiagnoseOptions): Promise<Check[]> {
    const {diagnosePostgres} = await import('./postgres-doctor.js')
    try {
      return await diagnosePostgres({
        client: this.client,
        columns: this.columns,
        connectTimeoutMs: this.options.connectTimeoutMs,
        database: this.target.database,
        name: this.name,
        now: async () => (await this.clock()).now,
      }, o)
    } catch (error) {
      throw error instanceof SessionctlError ? error : pgError(error, this.label)
    }
  }

  /** The expiry column as selected: absolute times as UTC wall time, so they parse and compare as the naive ones do. */
  expirySelect(alias = ''): string {
    const column = `${alias}${quoteIdent(this.columns.expiry)}`
    return this.columns.expiryAbsolute ? `(${column} AT TIME ZONE 'UTC')` : column
  }

  async listSessions(filter: SessionFilter, sink: SessionSink = {}): Promise<ScanSummary> {
    const clock = await this.clock()
    const selector = new Selector(this.options.codec, filter, this.label, clock.now, {
      expiryOf: raw => this.expiry.expiresAt(raw.expiryToken === '' ? null : raw.expiryToken, clock),
      onSessions: sink.onSessions,
      onTally: sink.onTally,
    })
    const {alias, children, data, key, owner, user} = this.columns
    const [condition, params] = this.expiry.condition(filter.state, clock)
    const where: string[] = condition ? [numbered(condition, 1)] : []
    const values: unknown[] = [...params]
    const warnings: string[] = []
    if (this.expiry.unknown !== undefined) warnings.push(`expiry unknown without ${this.expiry.unknown}: sessions are shown without one, live or not`)
    const indexed = user !== undefined && filter.userId !== undefined
    if (indexed && !(await this.columnCanHold(user, filter.userId!))) {
      // `bigint = 'alice'` is an error, not false: no row can name this user, so none is read.
      where.push('FALSE')
      warnings.push(`the user column ${user.name} is ${user.type}, which cannot hold the user id "${filter.userId}": no session names it there`)
    } else if (indexed) {
      values.push(filter.userId)
      where.push(`${quoteIdent(user.name)} = $${values.length}`)
      if (!user.indexed) warnings.push(`the user column ${user.name} has no index, so this lookup scans the table; add one: CREATE INDEX ON ${this.name.schema}.${this.name.table} (${user.name})`)
    }

    let extra = this.columns.details.map(d => `, s.${quoteIdent(d.column)}`).join('')
    if (alias !== undefined) extra += `, ${padless(`s.${quoteIdent(alias)}`, this.columns.aliasPadded)}`
    if (children?.size !== undefined) {
      extra += `, (SELECT COALESCE(SUM(octet_length(c.${quoteIdent(children.size)})), 0) FROM ${this.childTable()} c WHERE c.${quoteIdent(children.column)} = s.${quoteIdent(children.references)})`
    }

    const keySelect = padless(`s.${quoteIdent(key)}`, this.columns.keyPadded)
    const sql = `SELECT ${keySelect}, s.${quoteIdent(data)}, ${this.expirySelect('s.')}${extra} FROM ${this.table} s${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}`
    const cursor = this.client.query(new BoundedCursor<ScanRow>(sql, values, row => row[0].length + (row[1]?.length ?? 0), SCAN_BATCH_BYTES))
    try {
      // Small rows: the next batch is read while this one decodes. A batch full by bytes is
      // decoded before anything more is read: large rows are in memory one batch at a time.
      // A read that fails while the previous batch decodes is awaited (and thrown) afterwards: it
      // is marked handled at once, so Node does not take it for an unhandled rejection meanwhile.
      const read = (): Promise<ScanRow[]> => {
        const next = cursor.next(SCAN_ROWS)
        next.catch(() => {})
        return next
      }

      let pending: Promise<ScanRow[]> | undefined = read()
      while (pending) {
        const batch: ScanRow[] = await pending
        pending = undefined
        if (batch.length === 0) break
        let bytes = 0
        const raws = batch.map(row => {
          const raw = this.toRaw(row, clock, filter.state)
          bytes += raw.value.length
          return raw
        })
        // The driver's strings are garbage once turned into bytes (a large row would be held twice).
        batch.length = 0
        const small = bytes < SCAN_BATCH_BYTES / 2
        if (small && !filter.signal?.aborted) pending = read()
        await selector.submit(raws)
        sink.onProgress?.({matched: selector.summary.matched, scanned: selector.summary.scanned, store: this.label})
        if (filter.signal?.aborted) break
        if (!small) pending = read()
      }

      const summary = await selector.finish()
      if (indexed) noteIndexedLookup(summary, {
        column: user.name, owner, userId: filter.userId!, warnings,
      })
      if (warnings.length > 0) summary.warnings = warnings
      return summary
    } catch (error) {
      throw pgError(error, this.label)
    } finally {
      await cursor.close().catch(() => {})
    }
  }

  async purgeUser(userId: string, options: PurgeOptions): Promise<PurgeSummary> {
    return purgeBySelection(this, userId, options)
  }

  private bytes(text: null | string): Buffer {
    if (text === null) return EMPTY
    if (this.columns.dataKind === 'bytea') return Buffer.from(text.slice(2), 'hex')
    if (this.columns.dataKind === 'json-string' && text.trimStart().startsWith('"')) {
      // The server checked it is JSON: a JSON string, whose text is what the store parses.
      const inner: unknown = JSON.parse(text)
      if (typeof inner === 'string') return Buffer.from(inner, 'utf8')
    }

    return Buffer.from(text, 'utf8')
  }

  /** Whether the user column's type takes this user id (its input function, asked by the server): text always does. */
  private async columnCanHold(user: NonNullable<PgColumns['user']>, userId: string): Promise<boolean> {
    if (user.type === undefined) return true
    try {
      // The type's name as format_type() spelled it from the catalog, never from input.
      await this.client.query(`SELECT CAST($1::text AS ${user.type})`, [userId])
      return true
    } catch (error) {
      // Class 22 (data exception): invalid input syntax, out of range.
      if (String((error as {code?: string}).code).startsWith('22')) return false
      throw pgError(error, this.label)
    }
  }

  /** Child rows whose session is gone (sweepOrphanRanges): each range's orphans deleted only while still orphans. */
  private async sweepOrphans(o: CleanupOptions, sofar: CleanupSummary['orphans']): Promise<NonNullable<CleanupSummary['orphans']>> {
    const {children} = this.columns
    const column = quoteIdent(children!.column)
    const orphan = `NOT EXISTS (SELECT 1 FROM ${this.table} p WHERE p.${quoteIdent(children!.references)} = c.${column})`
    return sweepOrphanRanges(o, sofar ?? {deleted: 0, found: 0, table: children!.table}, async after => {
      const {rows} = await this.client.query<{end: null | string}>(
        `SELECT max(k)::text AS end FROM (SELECT ${column} AS k FROM ${this.childTable()}${after === null ? '' : ` WHERE ${column} > $1`} ORDER BY ${column} LIMIT ${ORPHAN_RANGE}) r`,
        after === null ? [] : [after],
      )
      return rows[0].end
    }, async (after, end) => {
      const range = `${after === null ? '' : `c.${column} > $2 AND `}c.${column} <= $1`
      const {rows: [{n}]} = await this.client.query<{n: string}>(o.dryRun
        ? `SELECT count(*) AS n FROM ${this.childTable()} c WHERE ${range} AND ${orphan}`
        : `WITH d AS (DELETE FROM ${this.childTable()} c WHERE ${range} AND ${orphan} RETURNING 1) SELECT count(*) AS n FROM d`, after === null ? [end] : [end, after])
      return {deleted: o.dryRun ? 0 : Number(n), found: Number(n)}
    })
  }

  private toRaw(row: ScanRow, clock: ExpiryClock, state: SessionFilter['state']): RawSession {
    const [key, text, expiry] = row
    const value = this.bytes(text)
    const expired = state === 'all' ? this.expiry.isExpired(expiry, clock) : state === 'expired'
    const raw: RawSession = {
      expired, expiryToken: expiry ?? '', key, value,
    }
    if (this.expiry.unknown !== undefined) raw.expiryUnknown = true
    const {alias, children, details, owner} = this.columns
    if (details.length > 0) raw.details = detailsOf(details, row.slice(3, 3 + details.length) as Array<null | string>)
    let at = 3 + details.length
    if (owner) raw.owner = text
    if (alias !== undefined) {
      const other = row[at++]
      if (other !== null && other !== undefined) raw.aliases = [other]
    }

    if (children?.size !== undefined) raw.size = Number(row[at]) + value.length
    return raw
  }
}

const EMPTY = Buffer.alloc(0)

/** A character(n) column's value without the blanks PostgreSQL pads it with (and ignores when comparing). */
function padless(column: string, padded: true | undefined): string {
  return padded ? `rtrim(${column}, ' ')` : column
}

/** SqlExpiry's `?` placeholders as PostgreSQL's `$n`, from `first`. */
export function numbered(sql: string, first: number): string {
  let n = first
  return sql.replaceAll('?', () => `$${n++}`)
}

/** Driver and server errors rewritten as one line that names the problem and never carries a password. */
export function pgError(error: unknown, label: string, target?: PostgresTarget): StoreError {
  if (error instanceof StoreError) return error
  const e = error as {code?: string; message?: string}
  const where = target ? target.where : label
  const message = e.message ?? String(error)
  switch (e.code) {
  case '28P01': {
    return new StoreError(`access denied for user "${target?.user ?? '?'}" on ${where}: check the user and password`, {cause: error})
  }

  case '28000': {
    return new StoreError(`access denied on ${where}: ${message}`, {cause: error})
  }

  case '3D000': {
    return new StoreError(`database "${target?.database ?? '?'}" does not exist on ${where}`, {cause: error})
  }

  case '42501': {
    if (/row-level security/i.test(message)) {
      const why = 'row-level security hides rows from this role, so sessions it cannot see would be neither listed nor deleted'
      return new StoreError(`${label}: ${why} (${message}); use a role that bypasses it (the table's owner, or one with BYPASSRLS)`, {cause: error})
    }

    return new StoreError(`permission denied on ${label}: ${message}`, {cause: error})
  }

  case '25006': {
    return new StoreError(`${label}: ${message} (a hot standby, or default_transaction_read_only): point --store at the primary`, {cause: error})
  }

  case '53300': {
    return new StoreError(`${where} refused the connection: too many connections (${message})`, {cause: error})
  }

  case '55P03': {
    return new StoreError(`a lock on ${label} stayed held by another transaction for ${LOCK_TIMEOUT_S} s (a long transaction, or an ALTER TABLE?): nothing more was done`, {cause: error})
  }

  case '57014': {
    return new StoreError(`a statement on ${label} was cancelled (${message})`, {cause: error})
  }

  case '57P01':
  case '57P02':
  case '57P03': {
    return new StoreError(`lost the connection to ${label}: ${message}`, {cause: error})
  }

  case 'ECONNREFUSED': {
    return new StoreError(`cannot connect to ${where}: connection refused (is the PostgreSQL server running there?)`, {cause: error})
  }

  case 'ENOENT': {
    return new StoreError(`cannot connect to ${where}: no such socket`, {cause: error})
  }

  case 'EAI_AGAIN':
  case 'ENOTFOUND': {
    return new StoreError(`cannot connect to ${where}: unknown host`, {cause: error})
  }

  case 'ETIMEDOUT': {
    return new StoreError(`cannot connect to ${where}: timed out`, {cause: error})
  }

  case 'ECONNRESET':
  case 'EPIPE': {
    return new StoreError(`lost the connection to ${label}`, {cause: error})
  }

  case STALLED: {
    return new StoreError(`${label} stopped answering: no reply for ${STALL_CHECK_MS / 1000} s, and no answer to a new connection`, {cause: error})
  }

  default: {
    if (/timeout expired|connection timeout/i.test(message)) return new StoreError(`cannot connect to ${where}: timed out`, {cause: error})
    if (/terminated unexpectedly|not queryable|Connection terminated/i.test(message)) return new StoreError(`lost the connection to ${label}`, {cause: error})
    if (/does not support SSL/i.test(message)) return new StoreError(`${where} does not accept TLS connections: drop sslmode, or use sslmode=disable`, {cause: error})
    if (/client password must be a string|password authentication failed|no password/i.test(message)) {
      return new StoreError(`${where} asks for a password and none was given: put it in the URL or in PGPASSWORD`, {cause: error})
    }

    if (/certificate|self[ -]signed|altname/i.test(message)) return new StoreError(`cannot connect to ${where}: TLS verification failed (${message}); give the CA with sslrootcert=, or use sslmode=require`, {cause: error})
    return new StoreError(`${label}: ${message.split('\n')[0]}`, {cause: error})
  }
  }
}
