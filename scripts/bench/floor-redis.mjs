/**
 * The floor of a Redis scan, run by the benchmark in its own process (plain Node, no tsx):
 * `SCAN cursor MATCH <pattern> COUNT 1000`, then `MGET` of the keys found, values as Buffers,
 * discarded; until the cursor comes back to 0. Prints {"keys", "bytes", "queryMs"} on stdout.
 *
 *   node scripts/bench/floor-redis.mjs redis://127.0.0.1:PORT/0 ':1:django.contrib.sessions.cache*'
 */
import Redis from 'ioredis'

const [url, pattern] = process.argv.slice(2)
if (!url || !pattern) {
  process.stderr.write('usage: floor-redis.mjs <redis-url> <match-pattern>\n')
  process.exit(2)
}

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
    for (const value of values) bytes += value?.length ?? 0
  } while (cursor !== '0')

  const queryMs = performance.now() - started
  await redis.quit()
  process.stdout.write(`${JSON.stringify({bytes, keys, queryMs})}\n`)
} catch (error) {
  process.stderr.write(`floor-redis: ${error.message}\n`)
  process.exit(1)
}
