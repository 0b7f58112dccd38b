import type {Cluster, Redis} from 'ioredis'

import {StoreError} from '../errors.js'
import {sleep} from './pacing.js'

/** Masters a cluster scan reads at once, unless SESSIONCTL_REDIS_SCAN_CONCURRENCY says otherwise. */
const DEFAULT_SCAN_CONCURRENCY = 4
/**
 * How long a scan waits for a replica to take over the slots of a master that failed under it:
 * a failover takes cluster-node-timeout (15 s by default) and an election.
 */
export const FAILOVER_WAIT_MS = 60_000
const FAILOVER_POLL_MS = 250
/** Rescans of one shard at most (each a failover, or the same master after a transient error). */
export const MAX_RESCANS = 3

/** The masters a scan reads at once: SESSIONCTL_REDIS_SCAN_CONCURRENCY (1: one after another), else up to 4. */
export function scanConcurrency(masters: number): number {
  const configured = Number(process.env.SESSIONCTL_REDIS_SCAN_CONCURRENCY)
  const limit = Number.isInteger(configured) && configured >= 1 ? configured : DEFAULT_SCAN_CONCURRENCY
  return Math.max(1, Math.min(masters, limit))
}

/**
 * Runs `work` on every item, at most `limit` at a time. The first failure starts no further
 * item, waits for those running (`failed()` tells them to stop early), then is thrown: nothing
 * runs on after this returns.
 */
export async function eachConcurrently<T>(items: readonly T[], limit: number, work: (item: T, failed: () => boolean) => Promise<void>): Promise<void> {
  let next = 0
  let failure: undefined | {error: unknown}
  const failed = (): boolean => failure !== undefined
  const lane = async (): Promise<void> => {
    while (!failure && next < items.length) {
      const item = items[next++]
      try {
        await work(item, failed)
      } catch (error) {
        failure ??= {error}
      }
    }
  }

  await Promise.all(Array.from({length: Math.min(limit, items.length)}, lane))
  if (failure) throw failure.error
}

/** A master and the slots it served when the scan began; `node` is whoever serves them now. */
export interface Shard {
  /** host:port of the master the scan began on */
  first: string
  node: Redis
  slots: number[]
}

export function nodeKey(node: Redis): string {
  return `${node.options.host}:${node.options.port}`
}

/** Every master of the cluster with its slots (a master without slots holds no keys, but is read all the same). */
export function shardsOf(cluster: Cluster): Shard[] {
  const slotsOf = new Map<string, number[]>()
  for (const [slot, owners] of cluster.slots.entries()) {
    const owner = owners?.[0]
    if (owner === undefined) continue
    const list = slotsOf.get(owner) ?? []
    list.push(slot)
    slotsOf.set(owner, list)
  }

  return cluster.nodes('master').map(node => ({first: nodeKey(node), node, slots: slotsOf.get(nodeKey(node)) ?? []}))
}

/**
 * Errors that a failover (or a master that stalled for a moment) explains, after which the
 * shard is read again from wherever its slots are now served: a lost or refused connection, a
 * timeout, MOVED (a demoted master: CLUSTER FAILOVER), CLUSTERDOWN, TRYAGAIN, LOADING, READONLY,
 * MASTERDOWN. Others (an ACL refusal, a script error) would fail again and are not retried.
 */
export function failoverError(error: unknown): boolean {
  const message = (error as Error)?.message ?? String(error)
  return /Connection is closed|ECONNRESET|ECONNREFUSED|EPIPE|Stream isn't writeable|Command timed out|Too many Cluster redirections|^(MOVED|CLUSTERDOWN|TRYAGAIN|LOADING|READONLY|MASTERDOWN)\b/.test(message)
}

async function refreshSlots(cluster: Cluster): Promise<void> {
  await new Promise<void>(resolve => {
    // A failed refresh (every node asked is down) leaves the cache as it was: the next poll asks again.
    cluster.refreshSlotsCache(() => resolve())
  })
}

/** Whether the node answers as a master (connecting it first: the cluster adds new masters unconnected). */
async function answersAsMaster(node: Redis): Promise<boolean> {
  try {
    if (node.status === 'wait') await node.connect()
    const role = await node.call('ROLE') as unknown[]
    return String(role?.[0]) === 'master'
  } catch {
    return false
  }
}

/**
 * The master that serves the shard's slots now, once it answers: the replica promoted in place
 * of a master that failed (or that master again, if it answers as master after a transient
 * error). Polls the cluster's slot map until FAILOVER_WAIT_MS have passed or the signal fires.
 * Refuses slots that moved to several masters, or to one that serves other slots too
 * (resharding during the scan): rescanning that master would read other shards' keys again.
 */
export async function awaitOwner(cluster: Cluster, shard: Shard, label: string, why: string, signal?: AbortSignal): Promise<Redis> {
  const deadline = Date.now() + FAILOVER_WAIT_MS
  const failed = nodeKey(shard.node)
  const slotSet = new Set(shard.slots)
  for (;;) {
    await refreshSlots(cluster)
    const owners = new Set(shard.slots.map(slot => cluster.slots[slot]?.[0]))
    if (owners.size > 1) {
      throw new StoreError(`${label}: the slots of ${shard.first} moved to several masters during the scan (resharding?): nothing is lost, but the scan cannot finish; run it again`)
    }

    const [owner] = owners
    const node = owner === undefined ? undefined : cluster.nodes('master').find(n => nodeKey(n) === owner)
    if (node && cluster.slots.some((owners, slot) => owners?.[0] === owner && !slotSet.has(slot))) {
      throw new StoreError(`${label}: ${owner} now serves the slots of ${shard.first} and others (resharding during the scan?): run the scan again`)
    }

    if (node && (await answersAsMaster(node))) return node
    if (signal?.aborted) throw new StoreError(`${label}: stopped while waiting for a replica to replace ${failed}`)
    if (Date.now() >= deadline) {
      throw new StoreError(`${label}: master ${failed} failed during the scan (${why}) and no replica took over its slots within ${FAILOVER_WAIT_MS / 1000} s`)
    }

    await sleep(FAILOVER_POLL_MS, signal)
  }
}

/**
 * `work` through the cluster client, tried again while an error a failover explains persists
 * (the client follows MOVED itself, but not a master that is gone until the slot map names its
 * replacement), for up to FAILOVER_WAIT_MS.
 */
export async function throughFailover<T>(cluster: Cluster, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + FAILOVER_WAIT_MS
  for (;;) {
    try {
      return await work()
    } catch (error) {
      if (!failoverError(error) || Date.now() >= deadline) throw error
      await sleep(FAILOVER_POLL_MS)
      await refreshSlots(cluster)
    }
  }
}
