/**
 * `sessions stats` against sessions real Django 3.2 wrote (db engine in MariaDB, cache engine
 * through django-redis in Redis and copied onto a 3-master Redis Cluster): every figure is
 * checked against what Django itself says it stored (the oracle's dump), never against numbers
 * written into the test.
 */
import {Cluster, Redis} from 'ioredis'
import assert from 'node:assert/strict'

import {sessionctl} from '../support/cli.js'
import {encodeSigned} from '../support/django-encode.js'
import {django, mysqlTarget, requireDjango} from '../support/django-oracle.js'
import {djangoSessionDdl, freshDatabase} from '../support/mysql.js'
import {clusterSeeds, testRedisClusterUrl, testRedisUrl} from '../support/servers.js'

const SECRET = 'stats-secret'
const DAY = 86_400

interface DbRow {
  expireDate: string
  key: string
  sessionData: string
  state: 'expired' | 'live'
  undecodable: null | string
  userId: null | string
}

interface CacheEntry {
  key: string
  pttl: number
  redisKey: string
  undecodable: null | string
  userId: null | string
}

interface StatsDoc {
  stores: Array<{
    anonymous: number
    authenticated: number
    backlog: null | {bytes: number; oldestExpiry: null | string; sessions: number}
    badSignature: number
    expired: number
    expiresIn: Array<{count: number; label: string}>
    live: number
    noTtl: {count: number; ids: string[]}
    sessions: number
    sizes: {bytes: number; largest: Array<{id: string; size: number}>; max: number; p50: number; p95: number; p99: number}
    top: {countsExact: boolean; maxError: number; users: Array<{count: number; userId: string}>}
    total: number
    undecodable: Array<{count: number; ids: string[]; ownerUnknown: boolean; reason: string}>
    users: {count: number; exact: boolean}
  }>
}

/** The sessions to write: user "7" holds the most, then "42"; anonymous ones; several lifetimes; some expired. */
function specs(engine: 'cache' | 'db'): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  const add = (user: null | string, n: number, extra: Record<string, unknown> = {}) => {
    for (let i = 0; i < n; i++) out.push({
      engine, ref: `${user ?? 'anon'}-${out.length}`, user, ...(engine === 'cache' ? {cachePrefix: 'stats', cacheVersion: 1, compressor: 'zlib'} : {}), ...extra,
    })
  }

  add('7', 6, {expiryAge: 2 * 3600})
  add('7', 3, {expiryAge: 10 * DAY})
  add('42', 2, {data: {cart: Array.from({length: 30}, (_, i) => ({qty: i, sku: `SKU-${i}-${'x'.repeat(i)}`}))}, expiryAge: 3 * DAY})
  add('1000', 1, {expiryAge: 40 * DAY})
  add(null, 3, {data: {visits: 3}, expiryAge: 1800})
  if (engine === 'db') {
    add('42', 2, {expired: true})
    add('9', 1, {expired: true})
  }

  return out
}

function nearestRank(sorted: readonly number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]
}

async function stats(args: string[]): Promise<StatsDoc['stores'][number]> {
  const r = await sessionctl(['sessions', 'stats', '--json', '--secret-key', SECRET, ...args])
  assert.equal(r.code, 0, r.stderr)
  const doc = JSON.parse(r.stdout) as StatsDoc
  assert.equal(doc.stores.length, 1)
  return doc.stores[0]
}

describe('sessions stats on sessions real Django 3.2 wrote', function () {
  this.timeout(120_000)

  describe('MariaDB (db engine)', () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>
    let rows: DbRow[]

    before(async function () {
      requireDjango(this)
      db = await freshDatabase()
      await django('seed', {
        mysql: mysqlTarget(db.url), secretKey: SECRET, sessions: specs('db'), storeUsers: true,
      })
      // Values no framework wrote: nobody's sessions, counted by reason.
      await db.conn.query("INSERT INTO django_session VALUES ('empty000000000000000000000000000', '', UTC_TIMESTAMP(6) + INTERVAL 1 DAY)")
      await db.conn.query("INSERT INTO django_session VALUES ('garbage0000000000000000000000000', 'bm90IGEgc2Vzc2lvbg==', UTC_TIMESTAMP(6) + INTERVAL 1 DAY)")
      rows = (await django<{db: DbRow[]}>('dump', {mysql: mysqlTarget(db.url), secretKey: SECRET, state: 'all'})).db
    })

    after(async () => {
      await db?.conn.end()
    })

    it('counts, users, the top accounts, sizes and the backlog agree with what Django stored', async () => {
      const s = await stats(['--store', db.url, '--top', '3'])
      const sessions = rows.filter(r => r.undecodable === null)
      const live = sessions.filter(r => r.state === 'live')
      assert.equal(s.total, rows.length)
      assert.equal(s.sessions, sessions.length)
      assert.equal(s.live, live.length)
      assert.equal(s.expired, sessions.length - live.length)
      assert.equal(s.authenticated, live.filter(r => r.userId !== null).length)
      assert.equal(s.anonymous, live.filter(r => r.userId === null).length)
      assert.deepEqual(s.users, {count: new Set(live.map(r => r.userId).filter(Boolean)).size, exact: true})

      const perUser = new Map<string, number>()
      for (const r of live) if (r.userId !== null) perUser.set(r.userId, (perUser.get(r.userId) ?? 0) + 1)
      const ranked = [...perUser].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      const expectedTop = ranked.slice(0, 3).map(([userId, count]) => ({count, userId}))
      assert.deepEqual(s.top, {
        countsExact: true, maxError: 0, othersAtMost: ranked[3]?.[1] ?? 0, users: expectedTop,
      })
      assert.equal(s.top.users[0].userId, '7')

      const sizes = rows.map(r => Buffer.byteLength(r.sessionData)).sort((a, b) => a - b)
      assert.deepEqual({
        max: s.sizes.max, p50: s.sizes.p50, p95: s.sizes.p95, p99: s.sizes.p99,
      }, {
        max: sizes.at(-1), p50: nearestRank(sizes, 0.5), p95: nearestRank(sizes, 0.95), p99: nearestRank(sizes, 0.99),
      })
      assert.equal(s.sizes.bytes, sizes.reduce((a, b) => a + b, 0))
      assert.equal(s.sizes.largest[0].size, sizes.at(-1))
      assert.match(s.sizes.largest[0].id, /^.{4}…[\da-f]{8}$/, 'keys print as fingerprints')

      const expired = sessions.filter(r => r.state === 'expired')
      const oldest = expired.map(r => Date.parse(r.expireDate)).sort((a, b) => a - b)[0]
      assert.deepEqual(s.backlog, {
        bytes: expired.reduce((n, r) => n + Buffer.byteLength(r.sessionData), 0), oldestExpiry: new Date(oldest).toISOString(), sessions: expired.length,
      })

      const buckets = Object.fromEntries(s.expiresIn.map(b => [b.label, b.count]))
      assert.equal(s.expiresIn.reduce((n, b) => n + b.count, 0), live.length)
      assert.equal(buckets['< 1h'], 3, 'the anonymous sessions (30 minutes)')
      assert.equal(buckets['1h–1d'], 6)
      assert.equal(buckets['30d–1y'], 1)
      assert.deepEqual(s.undecodable.map(u => [u.reason, u.count, u.ownerUnknown]).sort(), [['empty', 1, false], ['not a Django session', 1, false]].sort())
    })

    it('a wrong --secret-key shows as bad signatures, and the table fits 80 columns without leaking a key', async () => {
      const r = await sessionctl(['sessions', 'stats', '--store', db.url, '--secret-key', 'not-the-key'])
      assert.equal(r.code, 0, r.stderr)
      const signed = rows.filter(r => r.undecodable === null).length
      assert.match(r.stdout, new RegExp(`bad signature +${signed} {2}100% of signed values: a wrong --secret-key\\?`))
      assert.match(r.stdout, new RegExp(`values +${rows.length} {2}0 sessions, 2 undecodable, ${signed} with a bad signature`))
      const good = await sessionctl(['sessions', 'stats', '--store', db.url, '--secret-key', SECRET])
      for (const line of good.stdout.split('\n').slice(1)) assert.ok(line.length <= 80, `too wide: ${line}`)
      for (const row of rows) assert.ok(!good.stdout.includes(row.key), 'no raw key in the output')
      assert.match(good.stdout, /^ {4}7 +9 /m, 'user 7 heads the top list')
    })

    it('refuses a bad --top and a store it cannot read, with one line each', async () => {
      const bad = await sessionctl(['sessions', 'stats', '--store', db.url, '--top', '-1'])
      assert.equal(bad.code, 2)
      const missing = await sessionctl(['sessions', 'stats', '--store', db.url, '--table', 'no_such_table'])
      assert.equal(missing.code, 1)
      assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr)
    })
  })

  describe('Redis (django-redis cache engine), and the same values on a 3-master cluster', () => {
    let redis: Redis
    let entries: CacheEntry[]
    let db: Awaited<ReturnType<typeof freshDatabase>>
    const prefix = 'stats:1:'

    before(async function () {
      requireDjango(this)
      redis = new Redis(testRedisUrl())
      const u = new URL(testRedisUrl())
      const target = {db: Number(u.pathname.slice(1) || 0), host: u.hostname, port: Number(u.port)}
      // The oracle configures Django with a database even for the cache engine; nothing is written there.
      db = await freshDatabase()
      await django('seed', {
        mysql: mysqlTarget(db.url), redis: target, secretKey: SECRET, sessions: specs('cache'), storeUsers: false,
      })
      entries = (await django<{cache: {cache: CacheEntry[]}}>('dump', {
        cachePrefix: 'stats', compressor: 'zlib', engine: 'cache', mysql: mysqlTarget(db.url), redis: target, secretKey: SECRET, state: 'all',
      })).cache.cache
      // A session key Django wrote, copied without a TTL: Redis will never remove it.
      const first = entries.find(e => e.userId === '7')!
      await redis.set(first.redisKey.replace(first.key, 'nottl'.padEnd(32, '0')), (await redis.getBuffer(first.redisKey))!)
    })

    after(async () => {
      await redis?.quit()
      await db?.conn.end()
    })

    it('counts what Django stored, and the key without a TTL', async () => {
      const s = await stats(['--store', testRedisUrl(), '--format', 'django-cache', '--prefix', prefix])
      assert.ok(entries.length >= 15, `Django stored ${entries.length} cache sessions`)
      assert.equal(s.sessions, entries.length + 1)
      assert.equal(s.live, entries.length + 1)
      assert.equal(s.backlog, null, 'Redis keeps no expired sessions to clean')
      assert.equal(s.noTtl.count, 1)
      assert.equal(s.top.users[0].userId, '7')
      // The copy without a TTL is one of user 7's sessions.
      assert.equal(s.top.users[0].count, entries.filter(e => e.userId === '7').length + 1)
      assert.equal(s.anonymous, entries.filter(e => e.userId === null).length)
    })

    it('on a Redis Cluster, reads every master and gives the same figures', async () => {
      const cluster = new Cluster(clusterSeeds(testRedisClusterUrl()))
      const clusterPrefix = `stats${Date.now()}:1:`
      try {
        for (const e of entries) {
          const value = (await redis.getBuffer(e.redisKey))!
          await cluster.set(`${clusterPrefix}${e.redisKey.slice(prefix.length)}`, value, 'PX', Math.max(60_000, e.pttl))
        }

        const masters = await Promise.all(cluster.nodes('master').map(async node => (await node.keys(`${clusterPrefix}*`)).length))
        assert.ok(masters.filter(n => n > 0).length >= 2, `keys on several masters: ${masters.join(', ')}`)
        const onCluster = await stats(['--store', testRedisClusterUrl(), '--format', 'django-cache', '--prefix', clusterPrefix, '--top', '2'])
        assert.equal(onCluster.sessions, entries.length)
        assert.deepEqual(onCluster.top.users, [
          {count: entries.filter(e => e.userId === '7').length, userId: '7'},
          {count: entries.filter(e => e.userId === '42').length, userId: '42'},
        ])
        assert.deepEqual(onCluster.users, {count: new Set(entries.map(e => e.userId).filter(Boolean)).size, exact: true})
        assert.equal(onCluster.noTtl.count, 0)
      } finally {
        cluster.disconnect()
      }
    })
  })
})

describe('list --strict-counts: every value decoded, as stats does', function () {
  this.timeout(60_000)
  let db: Awaited<ReturnType<typeof freshDatabase>>

  before(async () => {
    db = await freshDatabase()
    await db.conn.query(djangoSessionDdl('django_session'))
    const notJson = `${Buffer.from('{not json').toString('base64url')}:1tFbUn:c2lnbmF0dXJl`
    await db.conn.query('INSERT INTO django_session VALUES (?, ?, UTC_TIMESTAMP(6) + INTERVAL 1 DAY), (?, ?, UTC_TIMESTAMP(6) + INTERVAL 1 DAY)', [
      'mine0000000000000000000000000000', encodeSigned({_auth_user_id: '42'}, {secretKey: SECRET}), 'broken00000000000000000000000000', notJson,
    ])
  })

  after(async () => {
    await db?.conn.end()
  })

  it('counts a value that is not JSON only with --strict-counts when a user is given; stats always does', async () => {
    const list = async (extra: string[]) => {
      const r = await sessionctl(['sessions', 'list', '--store', db.url, '--user', '42', '--json', ...extra])
      assert.equal(r.code, 0, r.stderr)
      return JSON.parse(r.stdout).stores[0] as {matched: number; undecodable: Record<string, number>}
    }

    const plain = await list([])
    assert.equal(plain.matched, 1)
    assert.deepEqual(plain.undecodable, {}, 'the prefilter rules the broken value out as user 42’s without parsing it')
    const strict = await list(['--strict-counts'])
    assert.equal(strict.matched, 1)
    assert.deepEqual(strict.undecodable, {'not JSON': 1})
    const s = await stats(['--store', db.url])
    assert.deepEqual(s.undecodable.map(u => [u.reason, u.count]), [['not JSON', 1]])
  })
})
