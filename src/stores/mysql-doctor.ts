import type {Connection, RowDataPacket} from 'mysql2/promise'

import type {Check, DiagnoseOptions} from './contract.js'
import type {Columns} from './mysql.js'

import {
  expiryIndexCheck, measureClock, replicaChecks, userIndexCheck,
} from './doctor-checks.js'
import {cleanupLockName} from './mysql-cleanup.js'
import {openMysqlReplica} from './mysql-replicas.js'
import {leadingIndex, quote} from './mysql.js'
import {parseNaive} from './sql-time.js'

export interface MysqlDoctorContext {
  conn: Connection
  columns: Columns
  connectTimeoutMs?: number
  name: {database: string; table: string}
}

/**
 * The MySQL/MariaDB store's checks (`sessions doctor`): indexes, clock, privileges and the cleanup
 * lock, read-only servers, the binary log and replication. Nothing is changed: the DELETE that
 * proves the privilege matches no row and is rolled back, the lock is released at once.
 */
export async function diagnoseMysql(c: MysqlDoctorContext, o: DiagnoseOptions): Promise<Check[]> {
  const {database, table} = c.name
  const where = `${quote(database)}.${quote(table)}`
  const checks: Check[] = []
  const expiryIndex = await leadingIndex(c.conn, c.name, c.columns.expiry)
  checks.push(expiryIndexCheck(c.columns.expiry, expiryIndex, `CREATE INDEX ${table}_${c.columns.expiry} ON ${database}.${table} (${c.columns.expiry})`))
  const [estimate] = await c.conn.query<RowDataPacket[]>('SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [database, table])
  const user = c.columns.user ? {index: await leadingIndex(c.conn, c.name, c.columns.user.name), name: c.columns.user.name} : undefined
  checks.push(userIndexCheck({
    addColumnDdl: `ALTER TABLE ${database}.${table} ADD COLUMN user_id VARCHAR(150) NULL, ADD INDEX ${table}_user_id (user_id)`,
    column: user,
    indexDdl: user ? `CREATE INDEX ${table}_${user.name} ON ${database}.${table} (${user.name})` : undefined,
    rows: Number(estimate[0]?.n ?? 0),
  }), await measureClock(async () => {
    const [rows] = await c.conn.query<RowDataPacket[]>('SELECT UTC_TIMESTAMP(6) AS now')
    return parseNaive(String(rows[0].now), 'UTC')!
  }))
  const [server] = await c.conn.query<RowDataPacket[]>('SELECT CURRENT_USER() AS account, @@read_only AS readOnly, @@log_bin AS logBin, @@binlog_format AS format')
  const {account, format, logBin, readOnly} = server[0]
  if (Number(readOnly) === 1) {
    checks.push({
      figures: {readOnly: true}, hint: 'point --store at the primary', id: 'read-only', status: 'fail', summary: 'the server is read-only (@@read_only = 1): purge and cleanup cannot delete here',
    })
  }

  const tables = [where, ...(c.columns.children && !c.columns.children.cascade ? [`${quote(database)}.${quote(c.columns.children.table)}`] : [])]
  checks.push(
    await deletePrivilege(c.conn, tables, String(account), `${database}.${table}`),
    await cleanupLock(c.conn, cleanupLockName(c.name)),
    binlogCheck(Number(logBin) === 1, String(format ?? '')),
    ...await replication(c.conn),
  )
  if (o.replicas && o.replicas.length > 0) checks.push(...await replicaChecks(o.replicas, url => openMysqlReplica(url, c.connectTimeoutMs)))
  return checks
}

/**
 * DELETE on the session table (and a child table it deletes from), proved by a DELETE that matches
 * nothing, in a transaction rolled back: the server checks the privilege before it plans the statement.
 */
async function deletePrivilege(conn: Connection, tables: readonly string[], account: string, shown: string): Promise<Check> {
  const denied: string[] = []
  for (const table of tables) {
    await conn.beginTransaction()
    try {
      await conn.query(`DELETE FROM ${table} WHERE 1 = 0`)
    } catch (error) {
      const {code, sqlMessage} = error as {code?: string; sqlMessage?: string}
      if (code !== 'ER_TABLEACCESS_DENIED_ERROR' && code !== 'ER_DBACCESS_DENIED_ERROR') throw error
      denied.push(`${table.replaceAll('`', '')} (${sqlMessage ?? code})`)
    } finally {
      await conn.rollback().catch(() => {})
    }
  }

  if (denied.length === 0) return {
    figures: {account, delete: true}, id: 'privileges', status: 'ok', summary: `account ${account} may DELETE from ${shown}`,
  }
  return {
    figures: {account, delete: false},
    hint: `purge and cleanup cannot delete: GRANT SELECT, DELETE ON ${shown} TO ${account}`,
    id: 'privileges',
    status: 'fail',
    summary: `account ${account} may not DELETE from ${denied.join(', ')}`,
  }
}

/** Cleanup's GET_LOCK, taken and released at once: held now means a cleanup is running. */
async function cleanupLock(conn: Connection, name: string): Promise<Check> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, 0) AS got', [name])
  const got = rows[0].got === null ? null : Number(rows[0].got)
  if (got === 1) {
    await conn.query('SELECT RELEASE_LOCK(?)', [name])
    return {
      figures: {lock: name}, id: 'cleanup-lock', status: 'ok', summary: `cleanup's lock can be taken (GET_LOCK "${name}")`,
    }
  }

  if (got === 0) {
    const [holder] = await conn.query<RowDataPacket[]>('SELECT IS_USED_LOCK(?) AS id', [name])
    return {
      figures: {holder: holder[0].id === null ? null : Number(holder[0].id), lock: name},
      hint: 'a cleanup is running now (a second one exits 5); if none should be, look at that connection (SHOW PROCESSLIST)',
      id: 'cleanup-lock',
      status: 'warn',
      summary: `cleanup's lock "${name}" is held by connection ${holder[0].id ?? '?'}`,
    }
  }

  return {
    figures: {lock: name}, id: 'cleanup-lock', status: 'fail', summary: `GET_LOCK("${name}") failed: cleanup cannot keep two runs apart`,
  }
}

function binlogCheck(on: boolean, format: string): Check {
  if (!on) return {
    figures: {binlogFormat: format, logBin: false}, id: 'binlog', status: 'ok', summary: 'binary log off: nothing replicates cleanup\'s deletes from here',
  }
  if (format.toUpperCase() === 'STATEMENT') {
    return {
      figures: {binlogFormat: format, logBin: true},
      hint: 'DELETE … LIMIT is unsafe to replicate as a statement, so cleanup deletes explicit key lists when few rows are expired (more statements); MIXED (the default) or ROW: SET GLOBAL binlog_format = MIXED',
      id: 'binlog',
      status: 'warn',
      summary: 'binlog_format = STATEMENT',
    }
  }

  return {
    figures: {binlogFormat: format, logBin: true}, id: 'binlog', status: 'ok', summary: `binlog_format = ${format}: cleanup's deletes replicate safely`,
  }
}

/** The store itself as a replica (SHOW SLAVE STATUS; skipped when the account may not run it). */
async function replication(conn: Connection): Promise<Check[]> {
  let rows: RowDataPacket[]
  try {
    [rows] = await conn.query<RowDataPacket[]>('SHOW SLAVE STATUS')
  } catch {
    return []
  }

  if (rows.length === 0) return []
  const lag = rows[0].Seconds_Behind_Master
  return [{
    figures: {lagSeconds: lag === null || lag === undefined ? null : Number(lag)},
    hint: 'deletes on a replica do not reach the primary (and break replication): point --store at the primary',
    id: 'store-is-replica',
    status: 'warn',
    summary: `the store is a replica (${lag === null || lag === undefined ? 'not replicating' : `${lag} s behind`})`,
  }]
}
