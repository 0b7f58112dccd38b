import type {RowDataPacket} from 'mysql2/promise'

import mysql from 'mysql2/promise'

import type {Replica} from './replica-watch.js'

import {safeUrl} from '../cli/redact.js'
import {UsageError} from '../errors.js'
import {parseMysqlUrl, storeError} from './mysql.js'

/**
 * Refuses a replica URL that could never connect (not mysql:// or mariadb://, unparsable,
 * unknown options) with a usage error, before anything else runs: a mistyped --replica must
 * not pass unnoticed while a cleanup has nothing to delete.
 */
export function checkMysqlReplicas(urls: readonly string[]): void {
  for (const url of urls) {
    if (!/^(mysql|mariadb):\/\//i.test(url)) throw new UsageError(`invalid --replica "${safeUrl(url)}": expected mysql://user@host:3306`)
    parseMysqlUrl(url)
  }
}

/** A MySQL/MariaDB replica, its lag from SHOW SLAVE STATUS. */
export async function openMysqlReplica(url: string, connectTimeoutMs?: number): Promise<Replica> {
  const target = parseMysqlUrl(url, connectTimeoutMs)
  const label = `replica ${target.label}`
  let conn: mysql.Connection
  try {
    conn = await mysql.createConnection(target.config)
  } catch (error) {
    throw storeError(error, label, target)
  }

  return {
    async close() {
      await conn.end()
    },
    label: target.label,
    async lag() {
      try {
        const [rows] = await conn.query<RowDataPacket[]>('SHOW SLAVE STATUS')
        if (rows.length === 0) throw new Error('it is not a replica (SHOW SLAVE STATUS is empty)')
        const lag = rows[0].Seconds_Behind_Master
        return lag === null || lag === undefined ? null : Number(lag)
      } catch (error) {
        throw storeError(error, label)
      }
    },
  }
}
