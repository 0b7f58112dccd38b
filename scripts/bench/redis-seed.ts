/**
 * The Redis half of the scan benchmark's data: the production-shaped sessions (seed-shaped.ts, the
 * rows the MySQL and PostgreSQL scans read) as Django's cache session backend keeps them: key
 * `:1:django.contrib.sessions.cache<session key>`, value the pickled dict, a 1–14-day TTL. Row i is
 * pickled at protocol 4 (Django 3.2's django-redis on Python < 3.8, or PICKLE_VERSION 4) when i is
 * even, 5 (the built-in RedisCache, Django ≥ 4.0) when odd; rows with i mod 4 in {2, 3} go through
 * django-redis' ZlibCompressor (zlib level 6 above 15 bytes). Seeded once into the benchmark's own
 * Redis, then SAVEd: later runs load dump.rdb. `cacheValue` (the uniform seed) is the cluster's.
 */
import type {Redis} from 'ioredis'

import {deflateSync, inflateSync} from 'node:zlib'

import {parsePickle} from '../../src/formats/pickle.js'
import {log} from './common.js'
import {checkPickleWriter, pickleDumps, type PickleValue} from './pickle-write.js'
import {SHAPED_VERSION, shapedKey, shapedSession} from './seed-shaped.js'
import {seedSession} from './seed.js'

export const CACHE_PREFIX = ':1:django.contrib.sessions.cache'
const META_KEY = 'bench:meta'
const PIPELINE = 10_000
// The shortest TTL is one day: reseeding twice a day means no seeded key has expired yet.
const RESEED_AFTER_MS = 12 * 3600 * 1000

export function cacheValue(i: number): Buffer {
  return pickleDumps(seedSession(i) as PickleValue)
}

/** django-redis' ZlibCompressor: min_length 15, preset 6. */
const ZLIB_MIN_LENGTH = 15
const ZLIB_LEVEL = 6

/** Row i of the shaped seed as the cache holds it (see the head of this file). */
export function shapedCacheValue(i: number): Buffer {
  const pickled = pickleDumps(shapedSession(i) as PickleValue, i % 2 === 0 ? 4 : 5)
  return i % 4 >= 2 && pickled.length > ZLIB_MIN_LENGTH ? deflateSync(pickled, {level: ZLIB_LEVEL}) : pickled
}

/** The shaped seed's TTLs: 1–14 days, as its rows' expiry dates in SQL (live ones). */
export function shapedTtlSeconds(i: number): number {
  return (((i % 14) + 1) * 86_400) + (i % 3600)
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

/** Seeds (or reuses) `rows` shaped cache sessions; returns whether it seeded and the seed's time. */
export async function ensureRedisSeed(redis: Redis, rows: number, fresh: boolean): Promise<{seeded: boolean; seededAt: number}> {
  selfCheckPickles(rows)
  for (const i of [0, 1, 2, 3, 12_346, 12_347]) {
    const got = JSON.stringify(parsePickle(i % 4 >= 2 ? inflateSync(shapedCacheValue(i)) : shapedCacheValue(i)))
    if (got !== JSON.stringify(shapedSession(i))) throw new Error(`pickle writer self-check: shaped row ${i} reads back as ${got.slice(0, 120)}…`)
  }

  const version = `shaped-${SHAPED_VERSION}`
  const meta = await redis.hgetall(META_KEY)
  const current = meta.version === version && Number(meta.count) === rows && Date.now() - Number(meta.seededAt) < RESEED_AFTER_MS
  const reusable = !fresh && current && (await redis.dbsize()) === rows + 1
  if (reusable) return {seeded: false, seededAt: Number(meta.seededAt)}

  const mismatches = [...checkPickleWriter(undefined, undefined, 4), ...checkPickleWriter(undefined, undefined, 5)]
  if (mismatches.length > 0) throw new Error(`pickle writer differs from CPython's pickle.dumps(…, 4 or 5):\n  ${mismatches.join('\n  ')}`)
  log(`Seeding ${rows.toLocaleString('en-US')} production-shaped Django cache sessions into Redis (pickle protocols 4 and 5, half zlib; kept in .bench/redis)…`)
  const started = performance.now()
  await redis.flushdb()
  for (let i = 0; i < rows; i += PIPELINE) {
    const pipeline = redis.pipeline()
    for (let j = i; j < Math.min(rows, i + PIPELINE); j++) pipeline.set(`${CACHE_PREFIX}${shapedKey(j)}`, shapedCacheValue(j), 'EX', shapedTtlSeconds(j))
    const results = await pipeline.exec()
    const error = results?.find(([e]) => e)?.[0]
    if (error) throw error
  }

  const seededAt = Date.now()
  await redis.hset(META_KEY, {count: String(rows), seededAt: String(seededAt), version})
  await redis.save()
  log(`Seeded Redis in ${((performance.now() - started) / 1000).toFixed(1)} s (SAVEd to dump.rdb)`)
  return {seeded: true, seededAt}
}
