import assert from 'node:assert/strict'

import type {CleanupOptions} from '../../src/stores/contract.js'

import {type Batch, newCleanupSummary, runWorkers} from '../../src/stores/pacing.js'
import {type Replica, ReplicaWatch} from '../../src/stores/replica-watch.js'

/** A replica that is too far behind until `catchUpAt` (ms since epoch), counting how often it is asked. */
function laggingReplica(catchUpAt: number): Replica & {asked: number} {
  return {
    asked: 0,
    async close() {},
    label: 'replica',
    async lag() {
      this.asked++
      return Date.now() < catchUpAt ? 30 : 0
    },
  }
}

/** A worker's batches: `rows` to delete, 1 per batch, none left after. */
function batchesOf(rows: number): Batch {
  let left = rows
  return async () => {
    if (left === 0) return {deleted: undefined, longestMs: 0}
    left--
    return {deleted: 1, longestMs: 1}
  }
}

const options: CleanupOptions = {
  batchSize: 2, dryRun: false, sleepFactor: 0, sleepMs: 0, targetMs: 100,
}

describe('ReplicaWatch shared by cleanup workers', () => {
  it('reports the time spent waiting, not workers × time, and asks the replicas once per step', async () => {
    const replica = laggingReplica(Date.now() + 1200)
    const watch = new ReplicaWatch([replica], 5)
    const s = newCleanupSummary('memory')
    const t0 = Date.now()
    await runWorkers([batchesOf(3), batchesOf(3), batchesOf(3), batchesOf(3)], options, s, watch)
    const wallS = (Date.now() - t0) / 1000
    assert.equal(s.deleted, 12)
    // One shared wait of ~1.2 s (steps of 0.5 s): four workers each counting it would give ~6 s.
    assert.ok(s.replicaWaitS >= 1.1 && s.replicaWaitS <= wallS + 0.05, `waited ${s.replicaWaitS} s in ${wallS} s`)
    // Three or four polls while it lags, then checks at most once a second: four workers polling each would ask 12+.
    assert.ok(replica.asked <= 5, `asked ${replica.asked} times`)
  })

  it('lets a worker that joined a wait go on when the replica catches up', async () => {
    const replica = laggingReplica(Date.now() + 600)
    const watch = new ReplicaWatch([replica], 5)
    const waits = await Promise.all([watch.waitUntilCaughtUp({}), watch.waitUntilCaughtUp({})])
    assert.ok(waits[0] >= 0.5, String(waits))
    assert.equal(waits[1], 0)
    assert.ok(await replica.lag() === 0)
  })

  it('passes a failure to ask the replica on to every worker waiting on it', async () => {
    const broken: Replica = {
      async close() {}, label: 'replica', async lag() {
        throw new Error('replica gone')
      },
    }
    const watch = new ReplicaWatch([broken], 5)
    const outcomes = await Promise.allSettled([watch.waitUntilCaughtUp({}), watch.waitUntilCaughtUp({})])
    assert.deepEqual(outcomes.map(o => o.status), ['rejected', 'rejected'])
  })
})
