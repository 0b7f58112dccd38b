/**
 * The Redis half of the scan benchmark's data: the seed's sessions as Django's cache session
 * backend keeps them with the built-in RedisCache (Django ≥ 4.0): key
 * `:1:django.contrib.sessions.cache<session key>`, value `pickle.dumps(session, protocol=5)`, a
 * 1–14-day TTL. Seeded once into the benchmark's own Redis, then SAVEd: later runs load dump.rdb.
 */
import type {Redis} from 'ioredis'

import {parsePickle} from '../../src/formats/pickle.js'
import {log} from './common.js'
import {checkPickleWriter, pickleDumps, type PickleValue} from './pickle-write.js'
import {
  cacheTtlSeconds, SEED_VERSION, seedSession, sessionKey,
} from './seed.js'

export const CACHE_PREFIX = ':1:django.contrib.sessions.cache'
const META_KEY = 'bench:meta'
const PIPELINE = 10_000
// The shortest TTL is one day: reseeding twice a day means no seeded key has expired yet.
const RESEED_AFTER_MS = 12 * 3600 * 1000

export function cacheValue(i: number): Buffer {
  return pickleDumps(seedSession(i) as PickleValue)
}

/**
 * Our pickle writer reads back as the dict it wrote, through sessionctl's own pickle reader; a
 * cheap check each run, next to the byte-for-byte comparison with CPython done when seeding.
 */
export function selfCheckPickles(rows: number): void {
  for (const i of [0, 1, 3, 4, 8, 12_345, rows - 1]) {
    const want = JSON.stringify(seedSession(i))
    const got = JSON.stringify(parsePickle(cacheValue(i)))
    if (got !== want) throw new Error(`pickle writer self-check: row ${i} reads back as ${got}, not ${want}`)
  }

  // What RedisCache writes: PROTO 5, FRAME <8-byte length>, EMPTY_DICT, MEMOIZE…
  const head = cacheValue(1).subarray(0, 13)
  if (head.toString('hex', 0, 3) !== '800595' || head.toString('hex', 11) !== '7d94') {
    throw new Error(`pickle writer self-check: unexpected header ${head.toString('hex')}`)
  }
}

/** Seeds (or reuses) `rows` cache sessions; returns whether it seeded and the seed's time. */
export async function ensureRedisSeed(redis: Redis, rows: number, fresh: boolean): Promise<{seeded: boolean; seededAt: number}> {
  selfCheckPickles(rows)
  const meta = await redis.hgetall(META_KEY)
  const current = Number(meta.version) === SEED_VERSION && Number(meta.count) === rows && Date.now() - Number(meta.seededAt) < RESEED_AFTER_MS
  const reusable = !fresh && current && (await redis.dbsize()) === rows + 1
  if (reusable) return {seeded: false, seededAt: Number(meta.seededAt)}

  const mismatches = checkPickleWriter()
  if (mismatches.length > 0) throw new Error(`pickle writer differs from CPython's pickle.dumps(…, 5):\n  ${mismatches.join('\n  ')}`)
  log(`Seeding ${rows.toLocaleString('en-US')} Django cache sessions into Redis (pickle protocol 5, written like CPython's; kept in .bench/redis)…`)
  const started = performance.now()
  await redis.flushdb()
  for (let i = 0; i < rows; i += PIPELINE) {
    const pipeline = redis.pipeline()
    for (let j = i; j < Math.min(rows, i + PIPELINE); j++) pipeline.set(`${CACHE_PREFIX}${sessionKey(j)}`, cacheValue(j), 'EX', cacheTtlSeconds(j))
    const results = await pipeline.exec()
    const error = results?.find(([e]) => e)?.[0]
    if (error) throw error
  }

  const seededAt = Date.now()
  await redis.hset(META_KEY, {count: String(rows), seededAt: String(seededAt), version: String(SEED_VERSION)})
  await redis.save()
  log(`Seeded Redis in ${((performance.now() - started) / 1000).toFixed(1)} s (SAVEd to dump.rdb)`)
  return {seeded: true, seededAt}
}
