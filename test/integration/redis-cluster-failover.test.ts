/**
 * A Redis Cluster's masters are scanned at once, not one after another, and a master that fails
 * over mid-scan is read again on the replica promoted in its place, losing and doubling nothing.
 * Its own cluster: 3 masters, each with a replica (the global one has none), in sync before
 * any test stops or kills a node.
 */
import calculateSlot from 'cluster-key-slot'
import {Cluster} from 'ioredis'
import assert from 'node:assert/strict'

import type {
  ScanSummary, Session, SessionFilter, SessionStore,
} from '../../src/stores/contract.js'

import {DJANGO_USER_PATH} from '../../src/frameworks/django.js'
import {frameworkCodec, getFramework, layoutFor} from '../../src/frameworks/index.js'
import {openRedisStore, scanStats} from '../../src/stores/redis.js'
import {sessionctl} from '../support/cli.js'
import {encodeSigned} from '../support/django-encode.js'
import {
  clusterSeeds, type RedisCluster, redisCommand, type RedisServer, startRedisCluster, waitForReplicas,
} from '../support/servers.js'

const SECRET = 'failover-secret'
/** Sessions per test: about 4000 a master, so 4 or more SCAN batches each. */
const SESSIONS = 12_000

function sessionKey(i: number): string {
  return `k${String(i).padStart(6, '0')}`.padEnd(32, 'x')
}

function userOf(i: number): string {
  return i % 4 === 0 ? '42' : String(100 + (i % 7))
}

describe('Redis Cluster: masters scanned at once, and a failover mid-scan', function () {
  this.timeout(180_000)
  let servers: RedisCluster
  let client: Cluster

  before(async () => {
    servers = await startRedisCluster({replicas: 1})
    client = new Cluster(clusterSeeds(servers.url))
    await new Promise<void>(resolve => {
      client.once('ready', () => resolve())
    })
  })

  after(async () => {
    client?.disconnect()
    await servers?.stop()
  })

  /** Seeds SESSIONS sessions under `prefix`, replicated to every replica before this returns. */
  async function seed(prefix: string): Promise<Map<string, string>> {
    const users = new Map<string, string>()
    for (let at = 0; at < SESSIONS; at += 1000) {
      await Promise.all(Array.from({length: 1000}, (_, j) => {
        const i = at + j
        users.set(sessionKey(i), userOf(i))
        return client.set(`${prefix}${sessionKey(i)}`, encodeSigned({_auth_user_id: userOf(i)}, {secretKey: SECRET}), 'EX', 3600)
      }))
    }

    for (const node of client.nodes('master')) await node.call('WAIT', 1, 5000)
    return users
  }

  async function open(prefix: string): Promise<SessionStore> {
    return openRedisStore(servers.url, {
      codec: frameworkCodec(getFramework('django'), {secretKeys: [SECRET], userPath: DJANGO_USER_PATH}),
      layout: layoutFor(getFramework('django'), {prefix}),
    })
  }

  /** The server process that serves a session's slot now. */
  async function masterOf(session: Session): Promise<RedisServer> {
    const slot = calculateSlot(Buffer.from(session.ref!, 'latin1'))
    const shards = await client.call('CLUSTER', 'SLOTS') as Array<[number, number, [string, number]]>
    const [, port] = (shards.find(([from, to]) => slot >= from && slot <= to)!)[2]
    return servers.nodes.find(n => n.port === Number(port))!
  }

  /** Every session of the store, with `onFirst` called (and awaited) on the first batch delivered. */
  async function scanAll(store: SessionStore, onFirst: (batch: Session[], delivered: Session[]) => Promise<void> | void, filter: Partial<SessionFilter> = {}): Promise<{sessions: Session[]; summary: ScanSummary}> {
    const sessions: Session[] = []
    let first = true
    const summary = await store.listSessions({state: 'all', ...filter}, {
      async onSessions(batch) {
        sessions.push(...batch)
        if (first) {
          first = false
          await onFirst(batch, sessions)
        }
      },
    })
    return {sessions, summary}
  }

  function assertExact(sessions: Session[], summary: ScanSummary, users: Map<string, string>, prefix: string): void {
    const keys = sessions.map(s => s.key)
    assert.equal(new Set(keys).size, keys.length, 'no session delivered twice')
    assert.equal(keys.length, users.size, 'every session delivered')
    assert.equal(summary.scanned, users.size, 'scanned counts each session once')
    assert.equal(summary.matched, users.size)
    for (const s of sessions) {
      assert.equal(s.userId, users.get(s.key), `${prefix}${s.key}`)
    }
  }

  it('reads the same sessions one master at a time (SESSIONCTL_REDIS_SCAN_CONCURRENCY=1) and all at once', async () => {
    const prefix = 'same:'
    const users = await seed(prefix)
    const mine = [...users].filter(([, u]) => u === '42').map(([k]) => k).sort()
    const args = ['sessions', 'list', '--store', servers.url, '--format', 'django', '--prefix', prefix, '--user', '42', '--json', '--show-keys']
    const env = {DJANGO_SECRET_KEY: SECRET}
    const parallel = await sessionctl(args, {env})
    const sequential = await sessionctl(args, {env: {...env, SESSIONCTL_REDIS_SCAN_CONCURRENCY: '1'}})
    for (const run of [parallel, sequential]) {
      assert.equal(run.code, 0, run.stderr)
      const doc = JSON.parse(run.stdout)
      assert.deepEqual(doc.sessions.map((s: {id: string}) => s.id).sort(), mine)
      assert.equal(doc.summary.scanned, SESSIONS)
    }

    const store = await open(prefix)
    try {
      const {sessions, summary} = await scanAll(store, () => {})
      assert.equal(scanStats.concurrency, 3)
      assertExact(sessions, summary, users, prefix)
    } finally {
      await store.close()
    }
  })

  it('reads values of every length around the part fetched ahead, empty ones, and skips keys that are not strings', async () => {
    const prefix = 'sizes:'
    const store = await open(prefix)
    try {
      const lengths = [1, 4000, 4095, 4096, 4097, 10_000, 200_000]
      const want = new Map<string, number>()
      for (const [n, length] of lengths.entries()) {
        const signed = (pad: number): string => encodeSigned({_auth_user_id: '42', pad: 'x'.repeat(pad)}, {compress: false, secretKey: SECRET, timestamp: 1_800_000_000})
        // The signed value is longer than its padding (base64, then the signature): the longest padding that fits.
        let pad = Math.max(0, Math.floor(((length - 120) * 3) / 4))
        while (signed(pad + 1).length <= length) pad++
        const value = signed(pad)
        for (let i = 0; i < 3; i++) {
          const key = sessionKey((n * 10) + i)
          want.set(key, value.length)
          await client.set(`${prefix}${key}`, value, 'EX', 3600)
        }
      }

      await client.set(`${prefix}${sessionKey(900)}`, '', 'EX', 3600)
      await client.hset(`${prefix}${sessionKey(901)}`, {not: 'a string'})
      const {sessions, summary} = await scanAll(store, () => {})
      assert.deepEqual(new Map(sessions.map(s => [s.key, s.size])), want)
      const sizes = new Set(want.values())
      // Around the 4096 bytes fetched ahead (a base64 length skips one in four).
      assert.ok([4095, 4096, 4097].filter(n => sizes.has(n)).length >= 2, [...sizes].join(', '))
      assert.equal(summary.scanned, want.size + 1, 'the empty value is scanned (undecodable), the hash is no session')
      assert.equal(Object.values(summary.undecodable).reduce((a, b) => a + b, 0), 1)
    } finally {
      await store.close()
    }
  })

  it('goes on reading the other masters while one is stopped (SIGSTOP)', async () => {
    const prefix = 'stop:'
    const users = await seed(prefix)
    const store = await open(prefix)
    let stopped: RedisServer | undefined
    let onOthers = 0
    let whileStopped = 0
    try {
      const {sessions, summary} = await scanAll(store, async (batch, delivered) => {
        stopped = await masterOf(batch[0])
        const {port} = stopped
        onOthers = [...users.keys()].filter(key => !client.slots[calculateSlot(`${prefix}${key}`)][0].endsWith(`:${port}`)).length
        stopped.pause()
        // Well within --cluster-node-timeout (2 s): no failover while it is stopped.
        const deadline = Date.now() + 1500
        const watch = setInterval(() => {
          whileStopped = delivered.length
          if (whileStopped >= onOthers + batch.length || Date.now() >= deadline) {
            clearInterval(watch)
            stopped!.resume()
          }
        }, 10)
      })
      assertExact(sessions, summary, users, prefix)
      // The stopped master's first batch, and every session of the other two, while it was stopped.
      assert.ok(whileStopped >= onOthers + 1, `${whileStopped} sessions read while one master was stopped; the other two hold ${onOthers}`)
    } finally {
      stopped?.resume()
      await store.close()
    }
  })

  it('CLUSTER FAILOVER on a replica mid-scan: its slots are read on the new master, nothing lost or doubled', async () => {
    const prefix = 'graceful:'
    const users = await seed(prefix)
    const store = await open(prefix)
    const {rescans} = scanStats
    try {
      const {sessions, summary} = await scanAll(store, async batch => {
        const master = await masterOf(batch[0])
        const replica = await replicaOf(master)
        await redisCommand(replica.port, ['CLUSTER', 'FAILOVER'])
        await until(async () => /^role:master\r?$/m.test(await redisCommand(replica.port, ['INFO', 'replication'])))
      })
      assert.equal(scanStats.rescans, rescans + 1, 'one shard read again')
      assertExact(sessions, summary, users, prefix)
      assert.ok(summary.warnings?.some(w => /failed during the scan .*read again on/.test(w)), JSON.stringify(summary.warnings))
    } finally {
      await store.close()
    }
  })

  it('a master killed mid-scan: its replica takes over and the scan ends exact', async () => {
    const prefix = 'killed:'
    const users = await seed(prefix)
    await waitForReplicas(servers.nodes, 3)
    const store = await open(prefix)
    const {rescans} = scanStats
    try {
      const {sessions, summary} = await scanAll(store, async batch => {
        const master = await masterOf(batch[0])
        process.kill(master.pid, 'SIGKILL')
      })
      assert.equal(scanStats.rescans, rescans + 1, 'one shard read again')
      assertExact(sessions, summary, users, prefix)
    } finally {
      await store.close()
    }
  })

  async function replicaOf(master: RedisServer): Promise<RedisServer> {
    for (const node of servers.nodes) {
      if (node.pid === -1 || node === master) continue
      const info = await redisCommand(node.port, ['INFO', 'replication']).catch(() => '')
      if (new RegExp(`^master_port:${master.port}\\r?$`, 'm').test(info)) return node
    }

    throw new Error(`no replica of ${master.port}`)
  }
})

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise(resolve => {
      setTimeout(resolve, 20)
    })
  }
}
