import type {
  DeleteProgress, DeleteSummary, PurgeOptions, PurgeSummary, Session, SessionStore,
} from '../stores/contract.js'
import type {KeepList} from './keys.js'

import {deletedBefore} from '../errors.js'
import {scanStores, type StoreScan} from './scan.js'

export interface PurgeRequest {
  expiredOnly: boolean
  keep: KeepList
  signal?: AbortSignal
  userId: string
}

/** The sessions a purge will delete, per store, chosen by the same code a dry run uses. */
export interface PurgeSelection {
  scans: StoreScan[]
  sessions: Map<SessionStore, Session[]>
}

export async function selectForPurge(
  stores: readonly SessionStore[],
  request: PurgeRequest,
  onProgress?: Parameters<typeof scanStores>[3],
): Promise<PurgeSelection> {
  const sessions = new Map<SessionStore, Session[]>(stores.map(s => [s, []]))
  const byLabel = new Map(stores.map(s => [s.label, s]))
  const scans = await scanStores(
    stores,
    {
      keep: request.keep, signal: request.signal, state: request.expiredOnly ? 'expired' : 'all', userId: request.userId,
    },
    batch => {
      for (const session of batch) sessions.get(byLabel.get(session.store)!)!.push(session)
    },
    onProgress,
  )
  return {scans, sessions}
}

export interface StoreDeletion {
  /** Deleted before the error, when there was one. */
  deletedBeforeError?: number
  error?: Error
  store: string
  summary?: DeleteSummary
}

/**
 * Deletes the selection store by store. A store that fails is recorded with what it deleted
 * before failing; the other stores still run.
 */
export async function deleteSelection(
  selection: PurgeSelection,
  options: {batchSize?: number; onProgress?: (p: DeleteProgress) => void; signal?: AbortSignal;},
): Promise<StoreDeletion[]> {
  const results: StoreDeletion[] = []
  for (const [store, sessions] of selection.sessions) {
    if (sessions.length === 0) continue
    if (options.signal?.aborted) {
      results.push({
        store: store.label, summary: {
          changed: 0, deleted: 0, gone: 0, stopped: true, store: store.label,
        },
      })
      continue
    }

    try {
      const summary = await store.deleteSessions(sessions, options)
      results.push({store: store.label, summary})
    } catch (error) {
      const deleted = deletedBefore(error)
      results.push({deletedBeforeError: deleted, error: error as Error, store: store.label})
    }
  }

  return results
}

/**
 * `SessionStore.purgeUser` for every adapter, from the adapter's own listSessions and
 * deleteSessions: an adapter's purgeUser is `return purgeBySelection(this, userId, options)`.
 *
 * One selection serves the dry run and the real run: a dry run returns it, a real run deletes
 * exactly it (after `confirm`), each session only if it is unchanged since (compare-and-delete).
 */
export async function purgeBySelection(
  store: Pick<SessionStore, 'deleteSessions' | 'label' | 'listSessions'>,
  userId: string,
  options: PurgeOptions,
): Promise<PurgeSummary> {
  const {signal} = options
  const sessions: Session[] = []
  const scan = await store.listSessions(
    {
      keep: options.except, signal, state: options.expiredOnly ? 'expired' : 'all', userId,
    },
    {
      onProgress: options.onScanProgress,
      onSessions(batch) {
        sessions.push(...batch)
      },
    },
  )
  const summary: PurgeSummary = {
    store: store.label, sessions, scan, attempted: false, deleted: 0, changed: 0, gone: 0, stopped: false,
  }
  // A stopped selection is incomplete: it is reported, never deleted.
  if (signal?.aborted) return {...summary, stopped: true}
  if (options.dryRun || sessions.length === 0) return summary
  if (options.confirm) {
    summary.confirmed = await options.confirm({scan, sessions, store: store.label})
    if (!summary.confirmed) return summary
  }

  summary.attempted = true
  if (signal?.aborted) return {...summary, stopped: true}
  const deletion = await store.deleteSessions(sessions, {batchSize: options.batchSize, onProgress: options.onDeleteProgress, signal})
  return {
    ...summary, deleted: deletion.deleted, changed: deletion.changed, gone: deletion.gone, stopped: deletion.stopped,
  }
}
