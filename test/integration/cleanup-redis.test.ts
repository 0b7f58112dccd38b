/**
 * `sessions cleanup` on Redis: TTL does the expiring, so cleanup finds what TTL misses: session
 * keys written without a TTL (connect-redis with disableTTL) whose cookie has expired.
 */
import {RedisStore} from 'connect-redis'
import session from 'express-session'
import {Cluster, Redis} from 'ioredis'
import assert from 'node:assert/strict'
import {createClient} from 'redis'

import {sessionctl} from '../support/cli.js'
import {clusterSeeds, testRedisClusterUrl, testRedisUrl} from '../support/servers.js'

const HOUR = 3_600_000

function data(user: number, expiresIn: null | number): session.SessionData {
  const cookie = {
    httpOnly: true, originalMaxAge: expiresIn, path: '/', ...(expiresIn === null ? {} : {expires: new Date(Date.now() + expiresIn)}),
  }
  return {cookie, passport: {user}} as unknown as session.SessionData
}

describe('sessions cleanup on Redis', function () {
  this.timeout(60_000)
  let client: ReturnType<typeof createClient>
  let redis: Redis
  let prefix: string
  let n = 0

  beforeEach(async () => {
    prefix = `cleanup${++n}:${Date.now()}:`
    client = createClient({url: testRedisUrl()})
    await client.connect()
    redis = new Redis(testRedisUrl())
    const noTtl = new RedisStore({client, disableTTL: true, prefix})
    const withTtl = new RedisStore({client, prefix})
    const set = (store: RedisStore, sid: string, value: session.SessionData): Promise<void> => new Promise((resolve, reject) => {
      store.set(sid, value, e => (e ? reject(e) : resolve()))
    })
    // connect-redis refuses to write an already-expired session; these expire 1 s after writing,
    // as sessions do on a store that keeps them forever.
    await set(noTtl, 'expired1', data(1, 1000))
    await set(noTtl, 'expired2', data(2, 1000))
    await set(noTtl, 'expired3', data(3, 1000))
    await set(noTtl, 'live1', data(4, HOUR))
    await set(noTtl, 'live2', data(5, 2 * HOUR))
    await set(noTtl, 'browser', data(6, null))
    await set(withTtl, 'normal', data(7, HOUR))
    await new Promise(resolve => {
      setTimeout(resolve, 1200)
    })
  })

  afterEach(async () => {
    await client.quit()
    redis.disconnect()
  })

  it('reports keys without TTL and touches nothing without --fix-no-ttl', async () => {
    const r = await sessionctl(['sessions', 'cleanup', '--store', testRedisUrl(), '--format', 'express', '--prefix', prefix])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /deleted 0 expired sessions .* 6 keys without TTL: 3 expired \(0 deleted\), 2 live \(0 given a TTL\), 1 with no expiry \(--fix-no-ttl to fix\); done/)
    assert.equal((await redis.keys(`${prefix}*`)).length, 7)
  })

  it('--fix-no-ttl deletes the expired ones and gives live ones their TTL back', async () => {
    const r = await sessionctl(['sessions', 'cleanup', '--store', testRedisUrl(), '--format', 'express', '--prefix', prefix, '--fix-no-ttl', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const doc = JSON.parse(r.stdout)
    assert.equal(doc.deleted, 3)
    assert.deepEqual(doc.stores[0].noTtl, {
      deleted: 3, expired: 3, found: 6, noExpiry: 1, ttlSet: 2,
    })
    assert.deepEqual((await redis.keys(`${prefix}*`)).sort(), ['browser', 'live1', 'live2', 'normal'].map(k => `${prefix}${k}`))
    const ttl = await redis.pttl(`${prefix}live2`)
    assert.ok(Math.abs(ttl - (2 * HOUR)) < 5000, `TTL ${ttl}`)
    assert.equal(await redis.pttl(`${prefix}browser`), -1, 'no expiry anywhere: left alone')
  })

  it('exits with the "lock held" code while another cleanup holds the lease', async () => {
    await redis.set(`sessionctl:cleanup-lock:${prefix}`, 'someone-else', 'PX', 10_000)
    const r = await sessionctl(['sessions', 'cleanup', '--store', testRedisUrl(), '--format', 'express', '--prefix', prefix, '--fix-no-ttl'])
    assert.equal(r.code, 5, r.stderr)
    assert.match(r.stderr, /another cleanup of redis:\/\/.* is running/)
    assert.equal((await redis.keys(`${prefix}*`)).length, 7)
  })
})

describe('sessions cleanup on a Redis Cluster: every master at once', function () {
  this.timeout(60_000)
  let cluster: Cluster

  before(async () => {
    cluster = new Cluster(clusterSeeds(testRedisClusterUrl()))
    await new Promise<void>(resolve => {
      cluster.once('ready', () => resolve())
    })
  })

  after(() => {
    cluster?.disconnect()
  })

  it('--fix-no-ttl deletes exactly the expired keys without TTL on every master, and gives live ones their TTL', async () => {
    const prefix = `cleanup-cluster:${Date.now()}:`
    const sid = (kind: string, i: number): string => `${prefix}${kind}${i}`
    // connect-redis's value: the session as JSON (written directly: it refuses expired ones).
    const write = (key: string, expiresIn: number, ttl?: number): Promise<unknown> => {
      const value = JSON.stringify(data(1, expiresIn))
      return ttl === undefined ? cluster.set(key, value) : cluster.set(key, value, 'PX', ttl)
    }

    await Promise.all(Array.from({length: 200}, (_, i) => Promise.all([
      write(sid('expired', i), -HOUR), write(sid('live', i), HOUR), write(sid('ttl', i), HOUR, HOUR),
    ])))
    const perMaster = await Promise.all(cluster.nodes('master').map(async node => (await node.keys(`${prefix}expired*`)).length))
    assert.ok(perMaster.every(n => n > 0), `expired keys on every master: ${perMaster.join(', ')}`)
    const r = await sessionctl(['sessions', 'cleanup', '--store', testRedisClusterUrl(), '--format', 'express', '--prefix', prefix, '--fix-no-ttl', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const doc = JSON.parse(r.stdout)
    assert.equal(doc.deleted, 200)
    assert.deepEqual(doc.stores[0].noTtl, {
      deleted: 200, expired: 200, found: 400, noExpiry: 0, ttlSet: 200,
    })
    const left = (await Promise.all(cluster.nodes('master').map(node => node.keys(`${prefix}*`)))).flat()
    assert.equal(left.length, 400)
    assert.ok(left.every(k => !k.startsWith(`${prefix}expired`)))
    const ttls = await Promise.all(Array.from({length: 200}, (_, i) => cluster.pttl(sid('live', i))))
    assert.ok(ttls.every(t => t > HOUR - 60_000 && t <= HOUR), 'every live key has its TTL back')
  })
})
