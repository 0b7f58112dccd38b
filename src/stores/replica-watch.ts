import type {CleanupOptions} from './contract.js'

import {sleep} from './pacing.js'

const CHECK_EVERY_MS = 1000
const WAIT_STEP_MS = 500

/** One replica as a lag guard sees it (each adapter knows how to ask its own kind). */
export interface Replica {
  label: string
  /** Seconds behind the primary; null when it is not replicating (treated as too far). Throws StoreError when it cannot tell. */
  lag(): Promise<null | number>
  close(): Promise<void>
}

/**
 * Replica lag guard for batch deletes (pt-archiver's --check-slave-lag): before a batch, if a
 * replica is more than `maxLagS` behind, or not replicating at all, wait until it catches up.
 */
export class ReplicaWatch {
  private checkedAt = 0
  private waiting: Promise<number> | undefined

  constructor(
    private readonly replicas: readonly Replica[],
    private readonly maxLagS: number,
  ) {}

  /** Opens every replica, or none: a replica that cannot be opened closes the others. */
  static async open(urls: readonly string[], maxLagS: number, openOne: (url: string) => Promise<Replica>): Promise<ReplicaWatch> {
    const replicas: Replica[] = []
    try {
      for (const url of urls) replicas.push(await openOne(url))
    } catch (error) {
      await Promise.allSettled(replicas.map(r => r.close()))
      throw error
    }

    return new ReplicaWatch(replicas, maxLagS)
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.replicas.map(r => r.close()))
  }

  /**
   * Seconds this call started waiting. Workers share one watch: a call made while another is
   * polling joins that wait and returns 0, so the summed figure is time spent waiting, not
   * workers × time, and the replicas are asked once per step, not once per worker. Returns early
   * on abort or at the deadline.
   */
  async waitUntilCaughtUp(o: Pick<CleanupOptions, 'deadline' | 'signal'>): Promise<number> {
    if (this.waiting) {
      await this.waiting
      return 0
    }

    if (Date.now() - this.checkedAt < CHECK_EVERY_MS) return 0
    const waiting = this.poll(o)
    this.waiting = waiting
    try {
      return await waiting
    } finally {
      this.waiting = undefined
    }
  }

  private async poll(o: Pick<CleanupOptions, 'deadline' | 'signal'>): Promise<number> {
    const started = Date.now()
    while (!o.signal?.aborted && (o.deadline === undefined || Date.now() < o.deadline)) {
      const lags = await Promise.all(this.replicas.map(r => r.lag()))
      this.checkedAt = Date.now()
      if (lags.every(lag => lag !== null && lag <= this.maxLagS)) break
      await sleep(WAIT_STEP_MS, o.signal)
    }

    return (Date.now() - started) / 1000
  }
}
