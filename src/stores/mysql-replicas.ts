import type {RowDataPacket} from 'mysql2/promise'

import mysql from 'mysql2/promise'

import type {CleanupOptions} from './contract.js'

import {safeUrl} from '../cli/redact.js'
import {UsageError} from '../errors.js'
import {parseMysqlUrl, storeError} from './mysql.js'
import {sleep} from './pacing.js'

const CHECK_EVERY_MS = 1000
const WAIT_STEP_MS = 500

/**
 * Replica lag guard for batch deletes (pt-archiver's --check-slave-lag): before a batch, if a
 * replica is more than `maxLagS` behind, or not replicating at all, wait until it catches up.
 */
export class ReplicaWatch {
  private checkedAt = 0

  private constructor(
    private readonly replicas: Array<{conn: mysql.Connection; label: string}>,
    private readonly maxLagS: number,
  ) {}

  /**
   * Refuses a replica URL that could never connect (not mysql:// or mariadb://, unparsable,
   * unknown options) with a usage error, before anything else runs: a mistyped --replica must
   * not pass unnoticed while a cleanup has nothing to delete.
   */
  static check(urls: readonly string[]): void {
    for (const url of urls) {
      if (!/^(mysql|mariadb):\/\//i.test(url)) throw new UsageError(`invalid --replica "${safeUrl(url)}": expected mysql://user@host:3306`)
      parseMysqlUrl(url)
    }
  }

  static async open(urls: readonly string[], maxLagS: number, connectTimeoutMs?: number): Promise<ReplicaWatch> {
    const replicas: Array<{conn: mysql.Connection; label: string}> = []
    try {
      for (const url of urls) {
        const target = parseMysqlUrl(url, connectTimeoutMs)
        try {
          replicas.push({conn: await mysql.createConnection(target.config), label: target.label})
        } catch (error) {
          throw storeError(error, `replica ${target.label}`, target)
        }
      }
    } catch (error) {
      await Promise.allSettled(replicas.map(r => r.conn.end()))
      throw error
    }

    return new ReplicaWatch(replicas, maxLagS)
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.replicas.map(r => r.conn.end()))
  }

  /** Seconds this call waited. Returns early on abort or at the deadline. */
  async waitUntilCaughtUp(o: Pick<CleanupOptions, 'deadline' | 'signal'>): Promise<number> {
    if (Date.now() - this.checkedAt < CHECK_EVERY_MS) return 0
    const started = Date.now()
    while (!o.signal?.aborted && (o.deadline === undefined || Date.now() < o.deadline)) {
      const lags = await Promise.all(this.replicas.map(r => this.lag(r)))
      this.checkedAt = Date.now()
      if (lags.every(lag => lag !== null && lag <= this.maxLagS)) break
      await sleep(WAIT_STEP_MS, o.signal)
    }

    return (Date.now() - started) / 1000
  }

  /** Seconds behind the primary; null when the replica is not replicating (treated as too far). */
  private async lag(replica: {conn: mysql.Connection; label: string}): Promise<null | number> {
    try {
      const [rows] = await replica.conn.query<RowDataPacket[]>('SHOW SLAVE STATUS')
      if (rows.length === 0) throw new Error('it is not a replica (SHOW SLAVE STATUS is empty)')
      const lag = rows[0].Seconds_Behind_Master
      return lag === null || lag === undefined ? null : Number(lag)
    } catch (error) {
      throw storeError(error, `replica ${replica.label}`)
    }
  }
}
