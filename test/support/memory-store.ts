/**
 * An in-memory SessionStore for fast command tests. It passes the same contract suite as the
 * real adapters, so commands tested against it behave the same against MySQL and Redis.
 */
import type {
  Check, CleanupOptions, CleanupSummary, DeleteOptions, DeleteSummary, PurgeOptions, PurgeSummary, ScanSummary, Session, SessionFilter, SessionSink, SessionStore, StoreOptions,
} from '../../src/stores/contract.js'

import {LockHeldError} from '../../src/errors.js'
import {purgeBySelection} from '../../src/sessions/purge.js'
import {type RawSession, Selector, sessionVersion} from '../../src/sessions/select.js'
import {registerAdapter} from '../../src/stores/index.js'
import {newCleanupSummary} from '../../src/stores/pacing.js'

export interface MemoryRow {
  expiresAt: Date | null
  value: Buffer
}

/** Cleanups in progress, by store: the in-memory stand-in for a store lock. */
export const lockedNames = new Set<string>()

/** Named datasets shared between a test and the command it runs in-process. */
export const memoryData = new Map<string, Map<string, MemoryRow>>()

let registered = false

/** Makes `memory://NAME` open the dataset NAME. */
export function useMemoryStores(): void {
  if (registered) return
  registered = true
  registerAdapter('memory:', async () => openMemoryStore)
}

async function openMemoryStore(url: string, options: StoreOptions): Promise<SessionStore> {
  const name = new URL(url).hostname
  const rows = memoryData.get(name)
  if (!rows) throw new Error(`no memory dataset "${name}"`)
  return new MemoryStore(name, rows, options)
}

export class MemoryStore implements SessionStore {
  readonly capabilities = {keepsExpired: true}
  readonly label: string

  constructor(
    name: string,
    readonly rows: Map<string, MemoryRow>,
    private readonly options: Pick<StoreOptions, 'codec'>,
    private readonly batch = 2,
  ) {
    this.label = `memory://${name}`
  }

  async cleanupExpired(o: CleanupOptions): Promise<CleanupSummary> {
    const now = Date.now()
    const expired = [...this.rows].filter(([, row]) => row.expiresAt !== null && row.expiresAt.getTime() <= now)
    const summary = newCleanupSummary(this.label, {expired: expired.length})
    for (const [, row] of expired) {
      if (!summary.oldestExpiry || row.expiresAt! < summary.oldestExpiry) summary.oldestExpiry = row.expiresAt
      if (!summary.newestExpiry || row.expiresAt! > summary.newestExpiry) summary.newestExpiry = row.expiresAt
    }

    if (o.dryRun) return summary
    if (lockedNames.has(this.label)) throw new LockHeldError(`another cleanup of ${this.label} is running`)
    lockedNames.add(this.label)
    try {
      for (let i = 0; i < expired.length; i += o.batchSize) {
        if (o.signal?.aborted) {
          summary.stoppedBy = 'signal'
          break
        }

        for (const [key] of expired.slice(i, i + o.batchSize)) if (this.rows.delete(key)) summary.deleted++
        summary.batches++
        o.onBatch?.({
          batches: summary.batches, deleted: summary.deleted, lastBatchMs: 0, store: this.label,
        })
        await new Promise(resolve => {
          setImmediate(resolve)
        })
      }
    } finally {
      lockedNames.delete(this.label)
    }

    return summary
  }

  async close(): Promise<void> {}

  async deleteSessions(sessions: readonly Session[], options: DeleteOptions = {}): Promise<DeleteSummary> {
    const summary: DeleteSummary = {
      changed: 0, deleted: 0, gone: 0, stopped: false, store: this.label,
    }
    const size = options.batchSize ?? 500
    for (let i = 0; i < sessions.length; i += size) {
      if (options.signal?.aborted) {
        summary.stopped = true
        break
      }

      for (const s of sessions.slice(i, i + size)) {
        const row = this.rows.get(s.key)
        if (!row) summary.gone++
        else if (sessionVersion(row.value, token(row)) === s.version) {
          this.rows.delete(s.key)
          summary.deleted++
        } else summary.changed++
      }

      options.onProgress?.({deleted: summary.deleted, store: this.label, total: sessions.length})
      await new Promise(resolve => {
        setImmediate(resolve)
      })
    }

    return summary
  }

  /** No backend, so no store checks of its own: the doctor's session checks are all there is. */
  async diagnose(): Promise<Check[]> {
    return []
  }

  async listSessions(filter: SessionFilter, sink: SessionSink = {}): Promise<ScanSummary> {
    const now = new Date()
    const selector = new Selector(this.options.codec, filter, this.label, now, {onSessions: sink.onSessions})
    const raws: RawSession[] = [...this.rows].map(([key, row]) => ({
      expired: row.expiresAt === null ? undefined : row.expiresAt.getTime() <= now.getTime(),
      expiresAt: row.expiresAt,
      expiryToken: token(row),
      key,
      value: row.value,
    }))
    // Small batches exercise the streaming paths of the commands.
    for (let i = 0; i < raws.length; i += this.batch) {
      if (filter.signal?.aborted) break
      await selector.submit(raws.slice(i, i + this.batch))
      sink.onProgress?.({matched: selector.summary.matched, scanned: selector.summary.scanned, store: this.label})
    }

    return selector.finish()
  }

  async purgeUser(userId: string, options: PurgeOptions): Promise<PurgeSummary> {
    return purgeBySelection(this, userId, options)
  }
}

function token(row: MemoryRow): string {
  return row.expiresAt ? row.expiresAt.toISOString() : ''
}
