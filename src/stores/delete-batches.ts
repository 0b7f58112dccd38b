import type {DeleteOptions, DeleteSummary, Session} from './contract.js'

import {PartialFailureError, type StoreError} from '../errors.js'

/** What one batch's compare-and-delete did. */
export interface BatchOutcome {
  changed: number
  deleted: number
  gone: number
}

/**
 * The loop of every adapter's deleteSessions: `sessions` in batches of `options.batchSize` (else
 * `defaultBatch`), the signal checked before each batch (`stopped`), progress reported after
 * each. A batch that fails is rethrown as a PartialFailureError carrying what earlier batches
 * deleted, its message the adapter's one line (`toStoreError`).
 */
export async function deleteInBatches(
  label: string,
  sessions: readonly Session[],
  options: DeleteOptions,
  defaultBatch: number,
  run: (batch: readonly Session[]) => Promise<BatchOutcome>,
  toStoreError: (error: unknown) => StoreError,
): Promise<DeleteSummary> {
  const summary: DeleteSummary = {
    changed: 0, deleted: 0, gone: 0, stopped: false, store: label,
  }
  const batchSize = options.batchSize ?? defaultBatch
  for (let i = 0; i < sessions.length; i += batchSize) {
    if (options.signal?.aborted) {
      summary.stopped = true
      break
    }

    let outcome: BatchOutcome
    try {
      outcome = await run(sessions.slice(i, i + batchSize))
    } catch (error) {
      throw PartialFailureError.during(toStoreError(error), summary.deleted, sessions.length)
    }

    summary.deleted += outcome.deleted
    summary.changed += outcome.changed
    summary.gone += outcome.gone
    options.onProgress?.({deleted: summary.deleted, store: label, total: sessions.length})
  }

  return summary
}
