import type {Redis} from 'ioredis'

import type {Check, CleanupSummary} from './contract.js'

import {measureClock} from './doctor-checks.js'
import {serverTime} from './redis.js'

/**
 * The Redis store's checks (`sessions doctor`): the clock, an eviction policy that can drop
 * sessions, and on a cluster that every master answers with the cluster in state ok. Read only.
 */
export async function diagnoseRedis(o: {cluster: boolean; masters: Redis[]}): Promise<Check[]> {
  const checks: Check[] = [await measureClock(() => serverTime(o.masters[0]))]
  checks.push(await evictionCheck(o.masters[0]))
  if (o.cluster) checks.push(await clusterCheck(o.masters))
  return checks
}

/** maxmemory-policy: allkeys-* evicts session keys under memory pressure, logging users out. */
async function evictionCheck(node: Redis): Promise<Check> {
  let policy: string
  let maxmemory: number
  try {
    const reply = await node.config('GET', 'maxmemory*') as string[]
    const settings = new Map<string, string>()
    for (let i = 0; i + 1 < reply.length; i += 2) settings.set(String(reply[i]), String(reply[i + 1]))
    policy = settings.get('maxmemory-policy') ?? 'unknown'
    maxmemory = Number(settings.get('maxmemory') ?? 0)
  } catch (error) {
    // CONFIG is often renamed or disabled on managed servers.
    return {
      figures: {policy: null}, hint: 'check the server\'s maxmemory-policy by hand (CONFIG GET maxmemory-policy)', id: 'eviction', status: 'warn', summary: `eviction policy unknown: CONFIG GET refused (${(error as Error).message})`,
    }
  }

  const figures = {maxmemory, policy}
  const limit = maxmemory > 0 ? `maxmemory ${maxmemory.toLocaleString('en-US')} bytes` : 'no maxmemory'
  // Session keys carry TTLs, so the volatile-* policies pick them as readily as allkeys-* do.
  if (policy.startsWith('allkeys-') || policy.startsWith('volatile-')) {
    return {
      figures,
      hint: `under memory pressure Redis evicts session keys${policy.startsWith('volatile-') ? ' (they have TTLs, so volatile-* picks them)' : ' like any other key'}, logging users out: noeviction, or a Redis of their own sized for them${maxmemory === 0 ? ' (no limit is set now, so nothing is evicted yet)' : ''}`,
      id: 'eviction',
      status: 'warn',
      summary: `maxmemory-policy ${policy} (${limit})`,
    }
  }

  return {
    figures, id: 'eviction', status: 'ok', summary: `maxmemory-policy ${policy} (${limit}): Redis never evicts session keys`,
  }
}

/** Every master answers, and each sees the cluster as ok. */
async function clusterCheck(masters: Redis[]): Promise<Check> {
  const bad: string[] = []
  for (const node of masters) {
    const where = `${node.options.host}:${node.options.port}`
    try {
      const info = String(await node.cluster('INFO'))
      const state = /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown'
      if (state !== 'ok') bad.push(`${where} cluster_state:${state}`)
    } catch (error) {
      bad.push(`${where}: ${(error as Error).message}`)
    }
  }

  const figures = {masters: masters.length, unhealthy: bad.length}
  if (bad.length === 0) return {
    figures, id: 'cluster', status: 'ok', summary: `cluster: ${masters.length} masters answer, cluster_state ok`,
  }
  return {
    figures, hint: 'a scan misses the sessions of a master it cannot reach: fix the cluster first', id: 'cluster', status: 'fail', summary: `cluster: ${bad.join('; ')}`,
  }
}

/** Stale members of a per-user index (Spring's principal index), from cleanup's dry run (which counts them). */
export function staleIndexCheck(summary: CleanupSummary): Check {
  const s = summary.staleIndex ?? {
    found: 0, removed: 0, sets: 0, unreadable: 0,
  }
  const figures = {sets: s.sets, stale: s.found, unreadable: s.unreadable}
  const unreadable = s.unreadable > 0 ? `, ${s.unreadable} members name no session this format writes` : ''
  if (s.found === 0) return {
    figures, id: 'stale-index', status: 'ok', summary: `index sets: no stale members (${s.sets.toLocaleString('en-US')} sets${unreadable})`,
  }
  return {
    figures,
    hint: 'Spring leaves them when a session expires; they are never listed, but the sets grow: sessions cleanup removes them (a purge of the user too)',
    id: 'stale-index',
    status: 'warn',
    summary: `index sets: ${s.found.toLocaleString('en-US')} stale members name sessions that no longer exist (in ${s.sets.toLocaleString('en-US')} sets${unreadable})`,
  }
}
