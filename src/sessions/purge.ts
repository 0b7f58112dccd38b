import type {
  DeleteSummary, PurgeOptions, PurgeSelection, PurgeSummary, Session, SessionFilter, SessionStore,
} from '../stores/contract.js'
import type {KeepList} from './keys.js'
import type {StoreScan} from './scan.js'

import {deletedBefore} from '../errors.js'

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
  return deleteSelected(store, {keep: options.except, state: options.expiredOnly ? 'expired' : 'all', userId}, options)
}

/**
 * Selects with `filter` (a user's sessions, or those `names` names: revoke), then deletes exactly
 * that selection as purgeBySelection does: confirm, compare-and-delete, the signal between batches.
 */
export async function deleteSelected(
  store: Pick<SessionStore, 'deleteSessions' | 'label' | 'listSessions'>,
  filter: Omit<SessionFilter, 'onUndecodable' | 'signal'>,
  options: Omit<PurgeOptions, 'except' | 'expiredOnly'>,
): Promise<PurgeSummary> {
  const {signal} = options
  const sessions: Session[] = []
  const scan = await store.listSessions(
    {...filter, signal},
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

/** What several stores' selection found, as the caller of `purgeStores` reviews it. */
export interface StoresSelection {
  /** One per store whose selection ran, in store order: its summary, or the error that stopped it. */
  scans: StoreScan[]
  /** The sessions to delete, store after store. */
  sessions: Session[]
}

/** One store's deletion, or the error that stopped it. */
export interface StoreDeletion {
  /** Deleted before the error, when there was one. */
  deletedBeforeError?: number
  error?: Error
  store: string
  summary?: DeleteSummary
}

export interface StoresPurge extends StoresSelection {
  /** One per store whose deletion was attempted, in store order. */
  deletions: StoreDeletion[]
  /** What `decide` answered: false when nothing was attempted. */
  proceeded: boolean
}

type Outcome = {error: Error} | {summary: PurgeSummary}

/**
 * Purges `userId` from several stores under one decision: each store's `purgeUser` runs in
 * turn, and its `confirm` hook holds it once it has selected while the next store selects.
 * When every store has selected, `decide` sees the whole selection once (to report it, refuse
 * or ask); then the stores that selected something delete, one after the other.
 *
 * - A store whose selection fails is recorded in `scans`; the others still run.
 * - A store that fails while deleting is recorded with what it deleted before failing; the
 *   others still run.
 * - Once the signal has fired, no further store selects; a store not yet deleting when it
 *   fires is recorded as stopped, nothing deleted.
 * - `decide` answering false, or throwing, deletes nothing anywhere (its error propagates once
 *   every held store has returned). In a dry run no store waits, and `decide` still runs once.
 */
export async function purgeStores(
  stores: readonly SessionStore[],
  userId: string,
  options: Omit<PurgeOptions, 'confirm'>,
  decide: (selection: StoresSelection) => boolean | Promise<boolean>,
): Promise<StoresPurge> {
  return deleteFromStores(stores, (store, o) => store.purgeUser(userId, o), options, decide)
}

/**
 * revoke: the sessions `names` names, whoever owns them, live or expired, deleted from several
 * stores under one decision exactly as purgeStores deletes a user's (deleteSelected per store).
 */
export async function revokeStores(
  stores: readonly SessionStore[],
  names: KeepList,
  options: Omit<PurgeOptions, 'confirm' | 'except' | 'expiredOnly'>,
  decide: (selection: StoresSelection) => boolean | Promise<boolean>,
): Promise<StoresPurge> {
  return deleteFromStores(stores, (store, o) => deleteSelected(store, {names, state: 'all'}, o), options, decide)
}

/** purgeStores' and revokeStores' walk: `each` selects and deletes in one store (purgeUser, deleteSelected). */
async function deleteFromStores(
  stores: readonly SessionStore[],
  each: (store: SessionStore, options: PurgeOptions) => Promise<PurgeSummary>,
  options: Omit<PurgeOptions, 'confirm'>,
  decide: (selection: StoresSelection) => boolean | Promise<boolean>,
): Promise<StoresPurge> {
  const scans: StoreScan[] = []
  const sessions: Session[] = []
  /**
   * The stores that selected something, in store order: held in their confirm hook, or (an
   * adapter that ignores `confirm`) already done, still reported.
   */
  const selected: Array<{deletion: StoreDeletion} | {held: {answer(go: boolean): void; outcome: Promise<Outcome>}; store: string}> = []
  for (const store of stores) {
    if (options.signal?.aborted) break
    let reached: (selection: PurgeSelection) => void = () => {}
    const confirmed = new Promise<PurgeSelection>(resolve => {
      reached = resolve
    })
    let answer: (go: boolean) => void = () => {}
    const decision = new Promise<boolean>(resolve => {
      answer = resolve
    })
    const outcome: Promise<Outcome> = each(store, {
      ...options,
      confirm(selection) {
        reached(selection)
        return decision
      },
    }).then(summary => ({summary}), (error: Error) => ({error}))
    const first = await Promise.race([confirmed.then(selection => ({selection})), outcome])
    if ('error' in first) {
      scans.push({error: first.error, store: store.label})
      continue
    }

    const selection = 'selection' in first ? first.selection : first.summary
    scans.push({store: store.label, summary: selection.scan})
    sessions.push(...selection.sessions)
    if ('selection' in first) selected.push({held: {answer, outcome}, store: store.label})
    else if (first.summary.attempted) selected.push({deletion: deletionOf(first, store.label)})
  }

  const held = selected.flatMap(s => ('held' in s ? [s.held] : []))
  const release = async (): Promise<void> => {
    for (const h of held) h.answer(false)
    await Promise.all(held.map(h => h.outcome))
  }

  let proceeded: boolean
  try {
    proceeded = await decide({scans, sessions})
  } catch (error) {
    await release()
    throw error
  }

  if (!proceeded) await release()
  const deletions: StoreDeletion[] = []
  for (const s of selected) {
    if ('deletion' in s) {
      deletions.push(s.deletion)
      continue
    }

    if (!proceeded) continue
    // One store at a time: the next one is released once this one is done.
    s.held.answer(true)
    const outcome = await s.held.outcome
    if ('error' in outcome || outcome.summary.attempted) deletions.push(deletionOf(outcome, s.store))
  }

  return {
    scans, sessions, deletions, proceeded,
  }
}

function deletionOf(outcome: Outcome, store: string): StoreDeletion {
  if ('error' in outcome) return {deletedBeforeError: deletedBefore(outcome.error), error: outcome.error, store}
  const s = outcome.summary
  return {
    store,
    summary: {
      store, deleted: s.deleted, changed: s.changed, gone: s.gone, stopped: s.stopped,
    },
  }
}
