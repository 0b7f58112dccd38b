/**
 * The benchmark's "cluster" section: `sessionctl sessions list --user U` on a 3-master Redis
 * Cluster holding the scan section's Django cache sessions (up to 300k of them, spread over
 * every slot), reading the masters at once (the default) against one after another
 * (SESSIONCTL_REDIS_SCAN_CONCURRENCY=1), same run, same servers; peak RSS; the keys found
 * checked against the seed generator. The cluster is seeded afresh each run (a few seconds):
 * test/support/servers.ts keeps no cluster data between runs.
 */
import calculateSlot from 'cluster-key-slot'
import {Cluster, type Redis} from 'ioredis'

import {startRedisCluster} from '../../test/support/servers.js'
import {
  CLI, fixed, fixedOrNull, keysOf, log, median, printTargets, runNode, sameKeys, target,
} from './common.js'
import {CACHE_PREFIX, cacheValue, selfCheckPickles} from './redis-seed.js'
import {benchUser, cacheTtlSeconds, sessionKey} from './seed.js'

/** Sessions the section seeds at most (--rows caps it lower). */
const CLUSTER_ROWS = 300_000
const PIPELINE = 5000

export interface ClusterOptions {
  repeat: number
  rows: number
}

interface Run {
  cpuS: null | number
  exact: boolean
  ms: number
  rssMb: null | number
}

/** SETs through each master's own connection, pipelined (a cluster pipeline may not span slots). */
export async function seedCluster(cluster: Cluster, rows: number): Promise<void> {
  const masters = new Map(cluster.nodes('master').map(node => [`${node.options.host}:${node.options.port}`, node]))
  for (let i = 0; i < rows; i += PIPELINE) {
    const pipelines = new Map<Redis, ReturnType<Redis['pipeline']>>()
    for (let j = i; j < Math.min(rows, i + PIPELINE); j++) {
      const key = `${CACHE_PREFIX}${sessionKey(j)}`
      const node = masters.get(cluster.slots[calculateSlot(key)][0])!
      if (!pipelines.has(node)) pipelines.set(node, node.pipeline())
      pipelines.get(node)!.set(key, cacheValue(j), 'EX', cacheTtlSeconds(j))
    }

    const results = await Promise.all([...pipelines.values()].map(p => p.exec()))
    const error = results.flat().find(r => r?.[0])?.[0]
    if (error) throw error
  }
}

export async function benchCluster(o: ClusterOptions): Promise<{exact: boolean; result: Record<string, unknown>}> {
  const rows = Math.min(o.rows, CLUSTER_ROWS)
  const user = benchUser(rows)
  selfCheckPickles(rows)
  const servers = await startRedisCluster({masters: 3})
  const cluster = new Cluster(servers.seeds.map(seed => ({host: '127.0.0.1', port: Number(seed.split(':')[1])})))
  try {
    await new Promise<void>(resolve => {
      cluster.once('ready', () => resolve())
    })
    log(`cluster: seeding ${rows.toLocaleString('en-US')} Django cache sessions over 3 masters…`)
    const t0 = performance.now()
    await seedCluster(cluster, rows)
    const perMaster = await Promise.all(cluster.nodes('master').map(node => node.dbsize()))
    log(`cluster: seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s (${perMaster.join(' / ')} keys a master)`)
    // A cache holds no expired session: every seeded key of the user is there until its TTL.
    const want = [...user.live, ...user.expired]
    const argv = ['sessions', 'list', '--store', servers.url, '--format', 'django-cache', '--user', user.userId, '--json', '--show-keys']
    const measure = async (env: Record<string, string>): Promise<Run> => {
      const run = await runNode([CLI, ...argv], env)
      return {
        cpuS: fixedOrNull(run.cpuS, 2), exact: sameKeys(keysOf('sessionctl sessions list', run), want), ms: fixed(run.ms, 1), rssMb: fixedOrNull(run.rssMb, 1),
      }
    }

    await measure({}) // warm-up: the page cache, the servers' allocators
    const parallel: Run[] = []
    const sequential: Run[] = []
    for (let round = 0; round < o.repeat; round++) {
      log(`cluster: round ${round + 1} of ${o.repeat}`)
      sequential.push(await measure({SESSIONCTL_REDIS_SCAN_CONCURRENCY: '1'}))
      parallel.push(await measure({}))
    }

    const seconds = (runs: Run[]): number => median(runs.map(r => r.ms)) / 1000
    const rss = (runs: Run[]): null | number => {
      const known = runs.map(r => r.rssMb).filter((v): v is number => v !== null)
      return known.length > 0 ? Math.max(...known) : null
    }

    const ratio = fixed(seconds(parallel) / seconds(sequential), 3)
    const exact = [...parallel, ...sequential].every(r => r.exact)
    console.log(`\ncluster: user ${user.userId}'s ${want.length} sessions among ${rows.toLocaleString('en-US')} on a 3-master Redis Cluster; medians of ${o.repeat} rounds, whole processes`)
    console.log(`  ${'measurement'.padEnd(46)} ${'seconds'.padStart(8)} ${'ratio'.padStart(8)} ${'peak RSS MB'.padStart(12)}  exact`)
    for (const [label, runs, r] of [['masters one after another (concurrency 1)', sequential, null], ['masters at once (default)', parallel, ratio]] as const) {
      const peak = rss(runs)
      console.log(`  ${label.padEnd(46)} ${seconds(runs).toFixed(2).padStart(8)} ${(r === null ? 'base' : `${r.toFixed(2)}×`).padStart(8)} ${(peak === null ? '—' : peak.toFixed(0)).padStart(12)}  ${runs.every(x => x.exact)}`)
    }

    const targets = [target('cluster: at once / one after another', ratio, 0.6, '×')]
    printTargets(targets)
    if (!exact) console.log('  RESULT: MISMATCH (see exact: false above)')
    return {
      exact,
      result: {
        exact, keysPerMaster: perMaster, parallel: {rounds: parallel, rssMb: rss(parallel), seconds: fixed(seconds(parallel), 4)}, ratio, repeat: o.repeat, rows,
        sequential: {rounds: sequential, rssMb: rss(sequential), seconds: fixed(seconds(sequential), 4)}, targets,
        user: {id: user.userId, sessions: want.length},
      },
    }
  } finally {
    cluster.disconnect()
    await servers.stop()
  }
}
