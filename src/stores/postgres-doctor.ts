import type pg from 'pg'

import type {Check, DiagnoseOptions} from './contract.js'

import {
  expiryIndexCheck, measureClock, replicaChecks, userIndexCheck,
} from './doctor-checks.js'
import {cleanupLockName, LOCK_KEYS, openPostgresReplica} from './postgres-cleanup.js'

export interface PgDoctorContext {
  client: pg.Client
  columns: {children?: {cascade: boolean; table: string}; expiry: string; user?: {name: string}}
  connectTimeoutMs?: number
  database: string
  name: {oid: string; schema: string; table: string}
  now(): Promise<Date>
}

const TRUE = new Set(['on', 't', 'true'])

/**
 * The PostgreSQL store's checks (`sessions doctor`): indexes, clock, DELETE privilege
 * (has_table_privilege), cleanup's advisory lock (taken and released at once), a standby or
 * read-only session, and --replica lag. Nothing is changed.
 */
export async function diagnosePostgres(c: PgDoctorContext, o: DiagnoseOptions): Promise<Check[]> {
  const {schema, table} = c.name
  const shown = `${schema}.${table}`
  const checks: Check[] = [expiryIndexCheck(c.columns.expiry, await indexOn(c, c.columns.expiry), `CREATE INDEX ON ${shown} (${c.columns.expiry})`)]
  const {rows: [estimate]} = await c.client.query<{n: string}>('SELECT reltuples::bigint AS n FROM pg_class WHERE oid = $1', [c.name.oid])
  const user = c.columns.user ? {index: await indexOn(c, c.columns.user.name), name: c.columns.user.name} : undefined
  checks.push(userIndexCheck({
    addColumnDdl: `ALTER TABLE ${shown} ADD COLUMN user_id varchar(150); CREATE INDEX ON ${shown} (user_id)`,
    column: user,
    indexDdl: user ? `CREATE INDEX ON ${shown} (${user.name})` : undefined,
    rows: Math.max(0, Number(estimate?.n ?? 0)),
  }), await measureClock(() => c.now()))
  const {rows: [server]} = await c.client.query<{account: string; readOnly: string; standby: boolean | string}>("SELECT current_user AS account, pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS \"readOnly\"")
  if (TRUE.has(String(server.standby)) || TRUE.has(String(server.readOnly))) {
    checks.push({
      figures: {readOnly: true},
      hint: 'point --store at the primary',
      id: 'read-only',
      status: 'fail',
      summary: `${TRUE.has(String(server.standby)) ? 'the server is a standby' : 'the session is read-only (default_transaction_read_only)'}: purge and cleanup cannot delete here`,
    })
  }

  checks.push(await deletePrivilege(c, server.account), await cleanupLock(c))
  if (o.replicas && o.replicas.length > 0) checks.push(...await replicaChecks(o.replicas, url => openPostgresReplica(url, c.connectTimeoutMs)))
  return checks
}

/** The name of an index whose first column is `column`, or undefined. */
async function indexOn(c: PgDoctorContext, column: string): Promise<string | undefined> {
  const {rows} = await c.client.query<{name: string}>(
    `SELECT x.relname AS name FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
     WHERE i.indrelid = $1 AND a.attname = $2 ORDER BY NOT i.indisunique, x.relname LIMIT 1`,
    [c.name.oid, column],
  )
  return rows[0]?.name
}

async function deletePrivilege(c: PgDoctorContext, account: string): Promise<Check> {
  const {schema, table} = c.name
  const children = c.columns.children && !c.columns.children.cascade ? c.columns.children.table : undefined
  const {rows} = await c.client.query<{child: boolean | null | string; parent: boolean | string}>(
    `SELECT has_table_privilege($1::oid, 'DELETE') AS parent,
            CASE WHEN $2::text IS NULL THEN NULL ELSE has_table_privilege(format('%I.%I', $3::text, $2::text), 'DELETE') END AS child`,
    [c.name.oid, children ?? null, schema],
  )
  const denied = [
    ...(TRUE.has(String(rows[0].parent)) ? [] : [`${schema}.${table}`]),
    ...(children === undefined || TRUE.has(String(rows[0].child)) ? [] : [`${schema}.${children}`]),
  ]
  if (denied.length === 0) return {
    figures: {account, delete: true}, id: 'privileges', status: 'ok', summary: `role ${account} may DELETE from ${schema}.${table}`,
  }
  return {
    figures: {account, delete: false},
    hint: `purge and cleanup cannot delete: GRANT SELECT, DELETE ON ${denied.join(', ')} TO ${account}`,
    id: 'privileges',
    status: 'fail',
    summary: `role ${account} may not DELETE from ${denied.join(', ')}`,
  }
}

async function cleanupLock(c: PgDoctorContext): Promise<Check> {
  const name = cleanupLockName(c.database, c.name)
  const {rows} = await c.client.query<{got: boolean | string}>(`SELECT pg_try_advisory_lock(${LOCK_KEYS}) AS got`, [name])
  if (TRUE.has(String(rows[0].got))) {
    await c.client.query(`SELECT pg_advisory_unlock(${LOCK_KEYS})`, [name])
    return {
      figures: {lock: name}, id: 'cleanup-lock', status: 'ok', summary: `cleanup's advisory lock can be taken ("${name}")`,
    }
  }

  return {
    figures: {lock: name},
    hint: 'a cleanup is running now (a second one exits 5); if none should be, look in pg_locks for locktype advisory',
    id: 'cleanup-lock',
    status: 'warn',
    summary: `cleanup's advisory lock "${name}" is held by another session`,
  }
}
