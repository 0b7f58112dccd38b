/**
 * The floor of a Redis scan, run by the benchmark in its own process (plain Node, no tsx):
 * `SCAN cursor MATCH <pattern> COUNT 1000`, then `MGET` of the keys found, values as Buffers,
 * discarded; until the cursor comes back to 0. Prints {"keys", "bytes", "queryMs"} on stdout.
 *
 * With `inflate`, it also inflates every value that is not a bare pickle (django-redis'
 * ZlibCompressor output; with sessionctl's own inflater, from dist/), and nothing else: no exact
 * scan can skip it, as the user id is inside the compressed bytes ("inflated" counts them).
 *
 *   node scripts/bench/floor-redis.mjs redis://127.0.0.1:PORT/0 ':1:django.contrib.sessions.cache*' [inflate]
 */
import Redis from 'ioredis'

const [url, pattern, mode] = process.argv.slice(2)
if (!url || !pattern || !['inflate', undefined].includes(mode)) {
  process.stderr.write('usage: floor-redis.mjs <redis-url> <match-pattern> [inflate]\n')
  process.exit(2)
}

const inflateZlib = mode === 'inflate' ? (await import('../../dist/formats/compression/inflate.js')).inflateZlib : undefined
let inflated = 0

const started = performance.now()
const redis = new Redis(url, {lazyConnect: true, maxRetriesPerRequest: 0})
try {
  await redis.connect()
  let cursor = '0'
  let keys = 0
  let bytes = 0
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = next
    if (found.length === 0) continue
    const values = await redis.mgetBuffer(...found)
    keys += found.length
    for (const value of values) {
      bytes += value?.length ?? 0
      // 0x80: a pickle's PROTO opcode; django-redis compresses whole pickles.
      if (inflateZlib && value && value.length > 0 && value[0] !== 0x80) {
        inflateZlib(value, 16_777_216, true)
        inflated++
      }
    }
  } while (cursor !== '0')

  const queryMs = performance.now() - started
  await redis.quit()
  process.stdout.write(`${JSON.stringify({
    bytes, inflated, keys, queryMs,
  })}\n`)
} catch (error) {
  process.stderr.write(`floor-redis: ${error.message}\n`)
  process.exit(1)
}
