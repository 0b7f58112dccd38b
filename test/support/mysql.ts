/**
 * MySQL helpers for tests: Django's exact DDL (manage.py sqlmigrate sessions 0001 on MariaDB)
 * and a connection to the test server started by global-setup.
 */
import mysql from 'mysql2/promise'

import {
  createDatabase, type MariaDbServer, startMariaDb, testMysqlUrl,
} from './servers.js'

export const djangoSessionDdl = (table: string): string =>
  `CREATE TABLE \`${table}\` (\`session_key\` varchar(40) NOT NULL PRIMARY KEY, \`session_data\` longtext NOT NULL, \`expire_date\` datetime(6) NOT NULL);
CREATE INDEX \`${table}_expire_date_a5c62663\` ON \`${table}\` (\`expire_date\`);`

/** A fresh database on the test server; returns its URL and an open connection. */
export async function freshDatabase(): Promise<{conn: mysql.Connection; database: string; url: string;}> {
  const url = await createDatabase(testMysqlUrl())
  const conn = await mysql.createConnection({dateStrings: true, multipleStatements: true, uri: url})
  return {conn, database: new URL(url).pathname.slice(1), url}
}

/** A naive UTC DATETIME(6) literal, as Django writes with USE_TZ=True. */
/**
 * A 32-character session key: `prefix`, `i` in 8 digits, then z's. Keys sort by (prefix, i), so
 * tests can pick ranges of them in SQL (session_key LIKE 'a%', BETWEEN …).
 */
export const seededKey = (prefix: string, i: number): string => `${prefix}${String(i).padStart(8, '0')}`.padEnd(32, 'z')

export function utcDatetime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '000')
}

export interface MariaDbReplicaPair {
  /** To the primary, in database `app` (multiple statements allowed). */
  conn: mysql.Connection
  primary: MariaDbServer
  replica: MariaDbServer
  /** To the replica (no database selected). */
  replicaConn: mysql.Connection
  stop(): Promise<void>
}

/**
 * A MariaDB primary (binary log in `binlogFormat`) and a read-only replica replicating from it,
 * each a server of its own, with database `app` and an empty django_session table on both.
 */
export async function startMariaDbReplicaPair(binlogFormat: 'MIXED' | 'ROW' | 'STATEMENT'): Promise<MariaDbReplicaPair> {
  const primary = await startMariaDb({extraArgs: ['--log-bin=primary-bin', '--server-id=1', `--binlog-format=${binlogFormat}`]})
  const replica = await startMariaDb({extraArgs: ['--server-id=2', '--read-only']})
  const conn = await mysql.createConnection({multipleStatements: true, uri: primary.url})
  const replicaConn = await mysql.createConnection({uri: replica.url})
  await conn.query("CREATE USER 'repl'@'%' IDENTIFIED BY 'repl'; GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'")
  await replicaConn.query(`CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${primary.port}, MASTER_USER='repl', MASTER_PASSWORD='repl', MASTER_USE_GTID=no`)
  await replicaConn.query('START SLAVE')
  await conn.query('CREATE DATABASE app; USE app')
  await conn.query(djangoSessionDdl('django_session'))
  return {
    conn,
    primary,
    replica,
    replicaConn,
    async stop() {
      await replicaConn.end().catch(() => {})
      await conn.end().catch(() => {})
      await replica.stop()
      await primary.stop()
    },
  }
}
