/** Pacing shared by the adapters' batch loops: batch sizing and interruptible pauses. */
const MIN_BATCH = 50
const MAX_BATCH = 50_000

/**
 * The next batch size: scaled toward the target statement time, at most doubling or halving
 * at once, so one slow batch (a checkpoint, a busy disk) does not swing it wildly.
 */
export function nextBatchSize(size: number, statementMs: number, targetMs: number): number {
  const scaled = size * (targetMs / Math.max(statementMs, 1))
  return Math.round(Math.min(MAX_BATCH, Math.max(MIN_BATCH, Math.min(size * 2, Math.max(size / 2, scaled)))))
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
