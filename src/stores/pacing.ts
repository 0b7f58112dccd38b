/** Pacing shared by the adapters' batch loops: batch sizing, interruptible pauses, the cleanup loop. */
import type {CleanupOptions, CleanupSummary} from './contract.js'
import type {ReplicaWatch} from './replica-watch.js'

const MIN_BATCH = 50
const MAX_BATCH = 50_000

/**
 * The next batch size: scaled toward the target statement time, at most doubling (`maxGrowth`)
 * or halving at once, so one slow batch (a checkpoint, a busy disk) does not swing it wildly.
 */
export function nextBatchSize(size: number, statementMs: number, targetMs: number, maxGrowth = 2): number {
  const scaled = size * (targetMs / Math.max(statementMs, 1))
  return Math.round(Math.min(MAX_BATCH, Math.max(MIN_BATCH, Math.min(size * maxGrowth, Math.max(size / 2, scaled)))))
}

/**
 * How far the batch after the first (the probe: --batch-size rows) may grow at once. The probe's
 * time includes the statement's fixed costs, so scaling from it undershoots, never overshoots, the
 * target; the doubling after it would take many short statements to get there.
 */
const PROBE_GROWTH = 16

/** A cleanup run's summary before anything is found or done; `extra` adds a store's own parts (noTtl, staleIndex) or counts. */
export function newCleanupSummary(store: string, extra: Partial<CleanupSummary> = {}): CleanupSummary {
  return {
    batches: 0, deleted: 0, expired: 0, maxStatementMs: 0, newestExpiry: null, oldestExpiry: null,
    replicaWaitS: 0, retries: 0, seconds: 0, stoppedBy: 'done', store, ...extra,
  }
}

/** Waits `ms`, or less if `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    if (signal?.aborted) {
      resolve()
      return
    }

    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }

    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, {once: true})
  })
}

/** Deletes the next batch of about `size` rows; `deleted` is undefined when nothing is left. */
export type Batch = (size: number) => Promise<{deleted: number | undefined; longestMs: number}>

/**
 * One worker's cleanup batches: deadline, signal and replica lag checked before each, the size
 * following the target statement time, the pause after each a multiple of its time.
 */
export async function runBatches(batch: Batch, o: CleanupOptions, summary: CleanupSummary, replicas: ReplicaWatch | undefined): Promise<void> {
  let size = o.batchSize
  let probe = true
  for (;;) {
    if (o.signal?.aborted) return
    if (o.deadline !== undefined && Date.now() >= o.deadline) {
      summary.stoppedBy = 'deadline'
      return
    }

    if (replicas) {
      // Awaited before the sum: workers share the summary, and `a += await b` would lose what the others add meanwhile.
      const waitedS = await replicas.waitUntilCaughtUp(o)
      summary.replicaWaitS += waitedS
      // Waiting may have run into the deadline or a signal: check again before deleting.
      if (o.signal?.aborted || (o.deadline !== undefined && Date.now() >= o.deadline)) continue
    }

    const t0 = performance.now()
    const {deleted, longestMs} = await batch(size)
    if (deleted === undefined) return
    const batchMs = performance.now() - t0
    summary.deleted += deleted
    summary.batches++
    o.onBatch?.({
      batches: summary.batches, deleted: summary.deleted, lastBatchMs: batchMs, store: summary.store,
    })
    size = nextBatchSize(size, longestMs, o.targetMs, probe ? PROBE_GROWTH : 2)
    probe = false
    const pause = o.sleepMs + (o.sleepFactor * batchMs)
    if (pause > 0) await sleep(pause, o.signal)
  }
}

/**
 * Several workers' batch loops at once (one per connection), sharing the summary. A worker that
 * fails stops the others at their next batch boundary; their statements under way still commit,
 * so this waits for every one of them before it reports the first failure: the caller then counts
 * (and unlocks) only once nothing is running.
 */
export async function runWorkers(batches: readonly Batch[], o: CleanupOptions, summary: CleanupSummary, replicas: ReplicaWatch | undefined): Promise<void> {
  const stop = new AbortController()
  const abort = (): void => stop.abort()
  o.signal?.addEventListener('abort', abort)
  try {
    const batchOptions = {...o, batchSize: Math.max(1, Math.round(o.batchSize / batches.length)), signal: stop.signal}
    const outcomes = await Promise.allSettled(batches.map(async batch => {
      try {
        await runBatches(batch, batchOptions, summary, replicas)
      } catch (error) {
        stop.abort()
        throw error
      }
    }))
    const failed = outcomes.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw failed.reason
  } finally {
    o.signal?.removeEventListener('abort', abort)
  }
}

/**
 * The batches a run over `expired` rows takes, as runWorkers sizes them, at the two ends of what
 * the statements' times can do: `min` when every statement is fast (each size grows as fast as
 * nextBatchSize lets it), `max` when every one takes --target-ms (sizes stay at the first one's).
 * Slower statements than that shrink the batches, so `max` assumes the server keeps up. `ranges`:
 * the key ranges of a walk whose every range takes at least one batch (MySQL's key walk), the rows
 * split evenly among them; without it the workers share one pool of rows.
 */
export function estimateBatches(expired: number, o: {batchSize: number; ranges?: number; targetMs: number; workers: number}): {max: number; min: number} {
  if (expired <= 0) return {max: 0, min: 0}
  const workers = Math.max(1, o.workers)
  const first = Math.max(1, Math.round(o.batchSize / workers))
  const count = (statementMs: (size: number) => number): number => {
    const r = Math.max(1, o.ranges ?? 1)
    const ranges: number[] = Array.from({length: r}, (_, i) => Math.floor((expired * (i + 1)) / r) - Math.floor((expired * i) / r))
    const state = Array.from({length: workers}, () => ({
      left: 0, probe: true, size: first, working: false,
    }))
    let batches = 0
    let pool = o.ranges === undefined ? expired : 0
    for (let active = true; active;) {
      active = false
      for (const w of state) {
        if (o.ranges === undefined) {
          if (pool <= 0) continue
          pool -= Math.min(w.size, pool)
        } else {
          if (!w.working) {
            if (ranges.length === 0) continue
            w.left = ranges.shift()!
            w.working = true
          }

          // A range's last batch finds fewer rows than its size: the range is done.
          if (w.left <= w.size) w.working = false
          w.left -= Math.min(w.size, w.left)
        }

        active = true
        batches++
        w.size = nextBatchSize(w.size, statementMs(w.size), o.targetMs, w.probe ? PROBE_GROWTH : 2)
        w.probe = false
      }
    }

    return batches
  }

  return {max: count(() => o.targetMs), min: count(() => 0)}
}
