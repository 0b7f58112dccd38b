import type {Context} from 'mocha'

/**
 * Spring Session's storage layouts written and read by the real JDK: test/spring/SpringStore.java
 * (OpenJDK 17's javac/java and Debian's MariaDB Connector/J, libmariadb-java) replays what
 * spring-projects/spring-session@206fb60 (4.1.x) does — JdbcIndexedSessionRepository's INSERTs,
 * RedisIndexedSessionRepository's and RedisSessionRepository's commands — with every value
 * JDK-serialized by java.io.ObjectOutputStream, as Spring's SerializingConverter and
 * JdkSerializationRedisSerializer do. Spring Session itself is not installable here (no Maven Central).
 *
 * One fresh `java` process per call (runOracle: parameters as JSON on stdin, one JSON document on
 * stdout). The sources are compiled once per test process into a temp dir, removed on exit.
 */
import {execFile} from 'node:child_process'
import {
  existsSync, mkdtempSync, readdirSync, rmSync, statSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {springFixtures} from './java-serialization.js'
import {runOracle} from './oracle.js'
import {pgsqlParams, mysqlParams as phpMysqlParams} from './php.js'

const JAVAC = '/usr/bin/javac'
const JAVA = '/usr/bin/java'
export const MARIADB_JAR = '/usr/share/java/mariadb-java-client.jar'
const SOURCES = fileURLToPath(new URL('../spring', import.meta.url))
const TIMEOUT_MS = 60_000
export const SPRING_APT_LINE = 'sudo apt-get install -y openjdk-17-jdk-headless libmariadb-java'
/** pgJDBC (Debian's libpostgresql-jdbc-java), for Spring Session JDBC on PostgreSQL. */
export const POSTGRES_JAR = '/usr/share/java/postgresql.jar'
export const SPRING_PG_APT_LINE = 'sudo apt-get install -y libpostgresql-jdbc-java'

export const PRINCIPAL_NAME_INDEX_NAME = 'org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME'

// ---------------------------------------------------------------------------------------------
// Parameters and answers
// ---------------------------------------------------------------------------------------------

/** One session as the writers build it (a MapSession saved once, by a new-session save). */
export interface SpringSessionSpec {
  /** SESSION_ID / the Redis id; default a random UUID */
  id?: string
  /** JDBC PRIMARY_ID; default a random UUID */
  primaryId?: string
  /** the String attribute PRINCIPAL_NAME_INDEX_NAME (null or absent: none) */
  principal?: null | string
  /**
   * a SPRING_SECURITY_CONTEXT attribute: SecurityContextImpl → UsernamePasswordAuthenticationToken →
   * User(username = this, ROLE_USER), details WebAuthenticationDetails('127.0.0.1', id), credentials
   * erased. Without `principal` the principal name comes from it (authentication.getName()).
   */
  securityContext?: string
  /** LAST_ACCESS_TIME = now − this (default 0); CREATION_TIME = lastAccess − 60 s */
  lastAccessAgoMs?: number
  /** default 1800; negative: never expires */
  maxInactiveSeconds?: number
  /** extra String attributes */
  attributes?: Record<string, string>
  /** an extra byte[] attribute "blob" of this many bytes (JDBC: the BLOB column holds 65,535 bytes) */
  bigAttributeBytes?: number
}

export interface SpringJdbcOptions {
  /** the session table (the attributes table is `<table>_ATTRIBUTES`); default SPRING_SESSION */
  table?: string
}

export interface SpringSchemaOptions extends SpringJdbcOptions {
  /**
   * the scripts before spring-session@c69a8b87 (2017, 1.3.x/2.0 milestones): non-unique index on
   * SESSION_ID, no PRINCIPAL_NAME index, an extra SESSION_PRIMARY_ID index on the attributes, no ROW_FORMAT
   */
  legacy?: boolean
  /** false: the attributes table without its FOREIGN KEY … ON DELETE CASCADE */
  foreignKey?: boolean
}

export interface SpringJdbcWritten {
  id: string
  primaryId: string
  /** what PRINCIPAL_NAME got */
  principal: null | string
  creationTime: number
  lastAccessTime: number
  /** EXPIRY_TIME as a decimal string (Long.MAX_VALUE for a negative interval) */
  expiryTime: string
  /** MapSession.isExpired at write time */
  expired: boolean
}

export interface SpringJdbcRow {
  id: string
  primaryId: string
  principal: null | string
  creationTime: number
  lastAccessTime: number
  expiryTime: string
  maxInactive: number
  /** attribute names, sorted */
  attributes: string[]
  /** the PRINCIPAL_NAME_INDEX_NAME attribute, JDK-deserialized, or null */
  principalAttribute: null | string
}

export interface SpringJdbcState {
  /** ordered by SESSION_ID */
  sessions: SpringJdbcRow[]
  /** attribute rows whose SESSION_PRIMARY_ID has no session row */
  orphanAttributes: number
}

export interface SpringRedisOptions {
  /** default 'spring:session:' (DEFAULT_NAMESPACE + ':') */
  namespace?: string
}

export interface SpringRedisWriteOptions extends SpringRedisOptions {
  /** RedisIndexedSessionRepository (default) or, false, RedisSessionRepository (Boot's default type) */
  indexed?: boolean
  /**
   * indexed only. '3.4' (default): 3.4.0 to 4.x, MinuteBasedRedisSessionExpirationStore — EXPIRE on
   * the expirations set before SADD, so a minute's first member leaves the set without TTL; a
   * negative interval ends with a 299 s hash TTL, no shadow key and an expirations member.
   * '3.3': ≤ 3.3.x, RedisSessionExpirationPolicy — SADD then EXPIRE; a negative interval persists
   * the hash and an "" shadow key and adds no expirations member.
   */
  layout?: '3.3' | '3.4'
  /** index members only (no hash, no shadow): the drift Spring leaves when it missed the expired event */
  staleIndexMembers?: Array<{id: string; principal: string}>
}

export interface SpringRedisWritten {
  id: string
  hashKey: string
  /** lastAccess + maxInactive (when Spring deems it expired); null for a negative interval */
  expiresAtMs: null | number
  /** the hash is in Redis after the write (false: its TTL had run out, or PEXPIREAT was in the past) */
  stored: boolean
  principal: null | string
}

export interface SpringRedisState {
  /** `ns sessions:<id>` hashes, by key */
  hashes: Array<{
    id: string
    /** ms; -1 none */
    pttl: number
    /** field names, sorted */
    fields: string[]
    /** PrincipalNameIndexResolver over the hash (the attribute, else the security context's name) */
    principal: null | string
    lastAccessedTime: null | number
    maxInactiveInterval: null | number
  }>
  /** `ns sessions:expires:<id>` strings */
  shadows: Array<{id: string; pttl: number; value: string}>
  /** principal → decoded member ids (sorted) of `ns index:PRINCIPAL_NAME_INDEX_NAME:<principal>` */
  index: Record<string, string[]>
  /** `ns expirations:<ms>` key → decoded members ("expires:<id>") */
  expirations: Record<string, string[]>
  /** `ns expirations:<ms>` key → its PTTL (-1: none) */
  expirationsPttl: Record<string, number>
  /** every other key under the namespace */
  otherKeys: string[]
}

// ---------------------------------------------------------------------------------------------
// Availability and compilation
// ---------------------------------------------------------------------------------------------

export function springAvailable(): boolean {
  return existsSync(JAVAC) && existsSync(JAVA) && existsSync(MARIADB_JAR) && existsSync(join(SOURCES, 'SpringStore.java'))
}

/** Skips the calling suite when the JDK or Connector/J is missing, except in CI (SESSIONCTL_TEST_REQUIRE_ALL=1). */
export function requireSpring(context: Context): void {
  if (springAvailable()) return
  const message = `the JDK (${JAVAC}) or MariaDB Connector/J (${MARIADB_JAR}) is not installed; the Spring Session tests need: ${SPRING_APT_LINE}`
  if (process.env.SESSIONCTL_TEST_REQUIRE_ALL === '1') throw new Error(message)
  console.warn(`      skipped: ${message}`)
  context.skip()
}

/** requireSpring, and pgJDBC for the PostgreSQL suites. */
export function requireSpringPostgres(context: Context): void {
  requireSpring(context)
  if (existsSync(POSTGRES_JAR)) return
  const message = `pgJDBC (${POSTGRES_JAR}) is not installed; the Spring Session PostgreSQL tests need: ${SPRING_PG_APT_LINE}`
  if (process.env.SESSIONCTL_TEST_REQUIRE_ALL === '1') throw new Error(message)
  console.warn(`      skipped: ${message}`)
  context.skip()
}

function javaSources(dir: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return javaSources(path)
    return name.endsWith('.java') ? [path] : []
  })
}

let compiled: Promise<string> | undefined

/** The class directory, compiled on first use (once per process) and removed when the process exits. */
export function springClasses(): Promise<string> {
  compiled ??= new Promise<string>((resolve, reject) => {
    const dir = mkdtempSync(join(tmpdir(), 'sessionctl-spring-'))
    process.once('exit', () => rmSync(dir, {force: true, recursive: true}))
    // javac's -encoding takes the charset name (the lint rule is about Node's encodings)
    // eslint-disable-next-line unicorn/text-encoding-identifier-case
    execFile(JAVAC, ['-encoding', 'UTF-8', '-d', dir, '-cp', MARIADB_JAR, ...javaSources(SOURCES)], {timeout: TIMEOUT_MS}, (error, _stdout, stderr) => {
      if (error) reject(new Error(`javac failed: ${stderr || error.message}`))
      else resolve(dir)
    })
  })
  return compiled
}

// ---------------------------------------------------------------------------------------------
// Connection parameters
// ---------------------------------------------------------------------------------------------

/** mysql://user:pass@host:port/db → SpringStore's `mysql` (it builds jdbc:mariadb://host:port/db). */
export function springMysqlParams(url: string): {database: string; host: string; password: string; port: number; user: string} {
  const {database, host, password, port, user} = phpMysqlParams(url)
  return {
    database, host: host.replaceAll(/^\[|\]$/g, ''), password: password ?? '', port, user: user ?? 'root',
  }
}

/** The JDBC connection SpringStore opens for a store URL: `postgres` (jdbc:postgresql) for postgres://, else `mysql` (jdbc:mariadb). */
function jdbcParams(url: string): {mysql: ReturnType<typeof springMysqlParams>} | {postgres: {database: string; host: string; password: string; port: number; user: string}} {
  if (!/^postgres(?:ql)?:/.test(url)) return {mysql: springMysqlParams(url)}
  const params = pgsqlParams(url)
  return {postgres: {...params, password: params.password ?? ''}}
}

/** redis://[user:pass@]host:port[/db] → SpringStore's `redis`. */
export function springRedisParams(url: string): {db: number; host: string; password?: string; port: number; user?: string} {
  const u = new URL(url)
  return {
    db: Number(u.pathname.slice(1) || 0),
    host: u.hostname.replaceAll(/^\[|\]$/g, ''),
    port: Number(u.port || 6379),
    ...(u.password ? {password: decodeURIComponent(u.password)} : {}),
    ...(u.password && u.username ? {user: decodeURIComponent(u.username)} : {}),
  }
}

/** One SpringStore operation in a fresh JVM; rejects with its one-line error. */
export async function springOracle<T>(op: string, params: object): Promise<T> {
  const classes = await springClasses()
  return runOracle('spring', JAVA, ['-Xshare:auto', '-XX:TieredStopAtLevel=1', '-cp', `${classes}:${MARIADB_JAR}:${POSTGRES_JAR}`, 'SpringStore', op], params, {timeoutMs: TIMEOUT_MS})
}

// ---------------------------------------------------------------------------------------------
// JDBC
// ---------------------------------------------------------------------------------------------

/** schema-mysql.sql before spring-session@c69a8b87 ("Improve JDBC data store schema scripts", 2017). */
const LEGACY_SCHEMA_MYSQL = `CREATE TABLE SPRING_SESSION (
\tPRIMARY_ID CHAR(36) NOT NULL,
\tSESSION_ID CHAR(36) NOT NULL,
\tCREATION_TIME BIGINT NOT NULL,
\tLAST_ACCESS_TIME BIGINT NOT NULL,
\tMAX_INACTIVE_INTERVAL INT NOT NULL,
\tEXPIRY_TIME BIGINT NOT NULL,
\tPRINCIPAL_NAME VARCHAR(100),
\tCONSTRAINT SPRING_SESSION_PK PRIMARY KEY (PRIMARY_ID)
) ENGINE=InnoDB;

CREATE INDEX SPRING_SESSION_IX1 ON SPRING_SESSION (SESSION_ID);
CREATE INDEX SPRING_SESSION_IX2 ON SPRING_SESSION (EXPIRY_TIME);

CREATE TABLE SPRING_SESSION_ATTRIBUTES (
\tSESSION_PRIMARY_ID CHAR(36) NOT NULL,
\tATTRIBUTE_NAME VARCHAR(200) NOT NULL,
\tATTRIBUTE_BYTES BLOB NOT NULL,
\tCONSTRAINT SPRING_SESSION_ATTRIBUTES_PK PRIMARY KEY (SESSION_PRIMARY_ID, ATTRIBUTE_NAME),
\tCONSTRAINT SPRING_SESSION_ATTRIBUTES_FK FOREIGN KEY (SESSION_PRIMARY_ID) REFERENCES SPRING_SESSION(PRIMARY_ID) ON DELETE CASCADE
) ENGINE=InnoDB;

CREATE INDEX SPRING_SESSION_ATTRIBUTES_IX1 ON SPRING_SESSION_ATTRIBUTES (SESSION_PRIMARY_ID);
`

/**
 * The DDL statements: spring-session's schema-mysql.sql verbatim (spring.json's schemaMysql) with
 * SPRING_SESSION replaced by `table` everywhere (tables, indexes, constraints), as its docs say to.
 */
export function springSchemaStatements({foreignKey = true, legacy = false, table = 'SPRING_SESSION'}: SpringSchemaOptions = {}): string[] {
  if (!/^\w{1,58}$/.test(table)) throw new Error(`bad table name ${table}`)
  let ddl = legacy ? LEGACY_SCHEMA_MYSQL : springFixtures().schemaMysql
  if (!foreignKey) ddl = ddl.replace(/,\s*CONSTRAINT SPRING_SESSION_ATTRIBUTES_FK FOREIGN KEY[^\n]*/, '')
  ddl = ddl.replaceAll('SPRING_SESSION', table)
  return ddl.split(/;\s*/).map(s => s.trim()).filter(Boolean)
}

/**
 * spring-session-jdbc's schema-postgresql.sql (org/springframework/session/jdbc/, since "Improve JDBC
 * data store schema scripts", c69a8b87): BYTEA attributes, BIGINT times, the cascading foreign key.
 */
const SCHEMA_POSTGRESQL = `CREATE TABLE SPRING_SESSION (
\tPRIMARY_ID CHAR(36) NOT NULL,
\tSESSION_ID CHAR(36) NOT NULL,
\tCREATION_TIME BIGINT NOT NULL,
\tLAST_ACCESS_TIME BIGINT NOT NULL,
\tMAX_INACTIVE_INTERVAL INT NOT NULL,
\tEXPIRY_TIME BIGINT NOT NULL,
\tPRINCIPAL_NAME VARCHAR(100),
\tCONSTRAINT SPRING_SESSION_PK PRIMARY KEY (PRIMARY_ID)
);

CREATE UNIQUE INDEX SPRING_SESSION_IX1 ON SPRING_SESSION (SESSION_ID);
CREATE INDEX SPRING_SESSION_IX2 ON SPRING_SESSION (EXPIRY_TIME);
CREATE INDEX SPRING_SESSION_IX3 ON SPRING_SESSION (PRINCIPAL_NAME);

CREATE TABLE SPRING_SESSION_ATTRIBUTES (
\tSESSION_PRIMARY_ID CHAR(36) NOT NULL,
\tATTRIBUTE_NAME VARCHAR(200) NOT NULL,
\tATTRIBUTE_BYTES BYTEA NOT NULL,
\tCONSTRAINT SPRING_SESSION_ATTRIBUTES_PK PRIMARY KEY (SESSION_PRIMARY_ID, ATTRIBUTE_NAME),
\tCONSTRAINT SPRING_SESSION_ATTRIBUTES_FK FOREIGN KEY (SESSION_PRIMARY_ID) REFERENCES SPRING_SESSION(PRIMARY_ID) ON DELETE CASCADE
);
`

/** schema-postgresql.sql's statements, SPRING_SESSION replaced by `table` everywhere (unquoted: PostgreSQL folds it to lower case). */
export function springPgSchemaStatements({foreignKey = true, table = 'SPRING_SESSION'}: Omit<SpringSchemaOptions, 'legacy'> = {}): string[] {
  if (!/^\w{1,58}$/.test(table)) throw new Error(`bad table name ${table}`)
  let ddl = SCHEMA_POSTGRESQL
  if (!foreignKey) ddl = ddl.replace(/,\s*CONSTRAINT SPRING_SESSION_ATTRIBUTES_FK FOREIGN KEY[^\n]*/, '')
  return ddl.replaceAll('SPRING_SESSION', table).split(/;\s*/).map(x => x.trim()).filter(Boolean)
}

/** A table as PostgreSQL describes it: `name type NULL|NOT NULL`, `conname definition`, index definitions. */
export interface SpringPgTable {
  columns: string[]
  constraints: string[]
  indexes: string[]
}

/** Creates the two tables from schema-postgresql.sql; answers each by the name PostgreSQL gave it. */
export const springPgSchema = (postgresUrl: string, options: Omit<SpringSchemaOptions, 'legacy'> = {}): Promise<Record<string, SpringPgTable>> =>
  springOracle('jdbc.schema', {...jdbcParams(postgresUrl), statements: springPgSchemaStatements(options), table: options.table ?? 'SPRING_SESSION'})

/** Spring's cleanUpExpiredSessions() (DELETE … WHERE EXPIRY_TIME < now): how many rows it deleted. */
export const springJdbcCleanup = async (url: string, options: SpringJdbcOptions & {nowMs?: number} = {}): Promise<number> =>
  (await springOracle<{deleted: number}>('jdbc.cleanup', {...jdbcParams(url), ...options})).deleted

/** Creates the two tables; answers SHOW CREATE TABLE of each, by name. */
export const springJdbcSchema = (mysqlUrl: string, options: SpringSchemaOptions = {}): Promise<Record<string, string>> =>
  springOracle('jdbc.schema', {mysql: springMysqlParams(mysqlUrl), statements: springSchemaStatements(options), table: options.table ?? 'SPRING_SESSION'})

/**
 * Inserts sessions as JdbcIndexedSessionRepository saves a new one, one transaction each: the
 * session row, then every attribute (always also `loginTime`, a java.util.Date) JDK-serialized;
 * on PostgreSQL (a postgres:// URL) with PostgreSqlJdbcIndexedSessionRepositoryCustomizer's upsert.
 * `nowMs` fixes "now" (default the JVM's clock, the same machine as the server).
 */
export const springJdbcWrite = (url: string, sessions: SpringSessionSpec[], options: SpringJdbcOptions & {nowMs?: number} = {}): Promise<SpringJdbcWritten[]> =>
  springOracle('jdbc.write', {...jdbcParams(url), sessions, ...options})

/** Every session row with its attribute names, and the count of orphan attribute rows. */
export const springJdbcState = (url: string, options: SpringJdbcOptions = {}): Promise<SpringJdbcState> =>
  springOracle('jdbc.state', {...jdbcParams(url), ...options})

/**
 * The session ids Spring's own findByPrincipalName(principal) returns: its
 * LIST_SESSIONS_BY_PRINCIPAL_NAME_QUERY (`… WHERE S.PRINCIPAL_NAME = ?`) through the column's
 * collation — under MariaDB's default utf8mb4_general_ci, `alice` also finds `Alice`'s and
 * `alice `'s sessions (case-insensitive, PAD SPACE); PostgreSQL's default collation is exact. Note that Spring's JDBC repository does not
 * drop expired sessions here (only findById does): rows past EXPIRY_TIME that the cleanup cron has
 * not deleted yet come back too. `liveOnly: true` keeps those MapSession.isExpired says are not
 * (what a caller that then calls findById would keep). Sorted.
 */
export async function springJdbcFindByPrincipal(
  url: string,
  principal: string,
  options: SpringJdbcOptions & {liveOnly?: boolean; nowMs?: number} = {},
): Promise<string[]> {
  const {liveOnly = false, ...rest} = options
  const answer = await springOracle<{sessions: Array<{expired: boolean; id: string}>}>('jdbc.findByPrincipal', {...jdbcParams(url), principal, ...rest})
  return answer.sessions.filter(s => !liveOnly || !s.expired).map(s => s.id).sort()
}

// ---------------------------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------------------------

/**
 * Writes sessions as a new session's saveDelta() does. Indexed (default): HMSET `ns sessions:<id>`
 * (creationTime, lastAccessedTime as Long, maxInactiveInterval as Integer, `sessionAttr:<name>`;
 * all JDK-serialized), SADD the principal index (JDK string of the id, no TTL), the shadow key
 * `ns sessions:expires:<id>` = "" with PEXPIRE maxInactive, PEXPIRE the hash maxInactive + 300 s,
 * and the JDK string `expires:<id>` in `ns expirations:<expiry rounded up to the minute>`. Every
 * TTL is the one Spring set at the last access, less `lastAccessAgoMs`; what would have run out is
 * not written (an expired session within the 5-minute grace: the hash without its shadow key; past
 * it: only its index member). Not indexed: the same hash with PEXPIREAT lastAccess + maxInactive.
 */
export const springRedisWrite = (redisUrl: string, sessions: SpringSessionSpec[], options: SpringRedisWriteOptions & {nowMs?: number} = {}): Promise<SpringRedisWritten[]> =>
  springOracle('redis.write', {redis: springRedisParams(redisUrl), sessions, ...options})

/** Every key under the namespace (SCAN), classified as Spring's, with TTLs and decoded members. */
export const springRedisState = (redisUrl: string, options: SpringRedisOptions = {}): Promise<SpringRedisState> =>
  springOracle('redis.state', {redis: springRedisParams(redisUrl), ...options})
