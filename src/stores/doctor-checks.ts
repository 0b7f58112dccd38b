/**
 * `sessions doctor`: the checks every adapter words the same way (clock skew, indexes, replicas),
 * from what each measured on its own backend (mysql-doctor.ts, postgres-doctor.ts, redis-doctor.ts).
 */
import type {Check} from './contract.js'
import type {Replica} from './replica-watch.js'

/** Skew beyond these (s): a warning (expiries the app writes are off by that much), then a failure. */
export const SKEW_WARN_S = 2
export const SKEW_FAIL_S = 60
/** A replica further behind than this (s) is a warning: cleanup would pause for it (--max-replica-lag defaults to 1). */
const LAG_WARN_S = 1

/**
 * The store's clock against this host's: the store's reading minus this host's at the middle of
 * the round trip (so the network's delay does not count as skew), with the round trip as the error.
 */
export function clockCheck(storeNow: Date, sentAt: number, receivedAt: number): Check {
  const roundTripMs = receivedAt - sentAt
  const skewS = (storeNow.getTime() - ((sentAt + receivedAt) / 2)) / 1000
  const abs = Math.abs(skewS)
  const figures = {roundTripMs: Math.round(roundTripMs), skewSeconds: Number(skewS.toFixed(3))}
  const line = `clock: the store is ${abs.toFixed(abs < 10 ? 3 : 0)} s ${skewS >= 0 ? 'ahead of' : 'behind'} this host (round trip ${Math.round(roundTripMs)} ms)`
  if (abs <= SKEW_WARN_S) return {
    figures, id: 'clock-skew', status: 'ok', summary: line,
  }
  return {
    figures,
    hint: 'sessionctl reads the store\'s clock to tell live from expired, but the app writes expiries from its own: run NTP (chrony, systemd-timesyncd) on both',
    id: 'clock-skew',
    status: abs > SKEW_FAIL_S ? 'fail' : 'warn',
    summary: line,
  }
}

/** Times one clock reading of the store. */
export async function measureClock(read: () => Promise<Date>): Promise<Check> {
  const sentAt = Date.now()
  const now = await read()
  return clockCheck(now, sentAt, Date.now())
}

/** The expiry column's index: cleanup walks it and the live/expired filters use it. */
export function expiryIndexCheck(column: string, index: string | undefined, ddl: string): Check {
  if (index !== undefined) return {
    figures: {index}, id: 'expiry-index', status: 'ok', summary: `expiry column ${column} indexed (${index})`,
  }
  return {
    figures: {index: null},
    hint: `every cleanup batch and every live/expired listing scans the table; add one: ${ddl}`,
    id: 'expiry-index',
    status: 'warn',
    summary: `expiry column ${column} has no index`,
  }
}

/**
 * The user column's index, or the line that says there is none: every purge then reads every row.
 * `rows`: the table's row count (an estimate where the server gives one).
 */
export function userIndexCheck(o: {addColumnDdl: string; column?: {index: string | undefined; name: string}; indexDdl?: string; rows: number}): Check {
  const rows = o.rows.toLocaleString('en-US')
  if (o.column?.index !== undefined && o.column) {
    return {
      figures: {column: o.column.name, index: o.column.index}, id: 'user-index', status: 'ok', summary: `user column ${o.column.name} indexed (${o.column.index}): a purge reads only the user's rows`,
    }
  }

  if (o.column) {
    return {
      figures: {column: o.column.name, index: null, rows: o.rows},
      hint: `add one: ${o.indexDdl}`,
      id: 'user-index',
      status: 'warn',
      summary: `user column ${o.column.name} has no index: every purge reads about ${rows} rows`,
    }
  }

  return {
    figures: {column: null, rows: o.rows},
    hint: `add a user_id column kept by your app at login, as django-user-sessions does, then pass --user-column user_id: ${o.addColumnDdl}`,
    id: 'user-index',
    status: 'warn',
    summary: `no user index: every purge reads about ${rows} rows`,
  }
}

/** Each --replica: reachable, replicating, and how far behind. */
export async function replicaChecks(urls: readonly string[], open: (url: string) => Promise<Replica>): Promise<Check[]> {
  const checks: Check[] = []
  for (const url of urls) {
    let replica: Replica | undefined
    try {
      replica = await open(url)
      const lag = await replica.lag()
      const name = `replica ${replica.label}`
      if (lag === null) {
        checks.push({
          figures: {lagSeconds: null, replica: replica.label}, hint: 'a cleanup with this --replica waits until it replicates again: fix replication first', id: 'replica-lag', status: 'fail', summary: `${name} is not replicating`,
        })
      } else {
        checks.push({
          figures: {lagSeconds: lag, replica: replica.label},
          ...(lag > LAG_WARN_S ? {hint: 'cleanup pauses while a replica is more than --max-replica-lag behind (default 1 s)'} : {}),
          id: 'replica-lag',
          status: lag > LAG_WARN_S ? 'warn' : 'ok',
          summary: `${name} is ${lag} s behind`,
        })
      }
    } catch (error) {
      checks.push({
        figures: {replica: null}, id: 'replica-lag', status: 'fail', summary: `replica: ${(error as Error).message}`,
      })
    } finally {
      await replica?.close().catch(() => {})
    }
  }

  return checks
}
