/**
 * The floor of a PostgreSQL scan, run by the benchmark in its own process (plain Node, no tsx) so
 * its memory and CPU are its own: `SELECT session_key, session_data` through a pg-cursor (a
 * server-side portal, read 1,000 rows at a time, as any bounded-memory scan must), every row
 * discarded. Prints {"rows", "bytes", "queryMs"} on stdout.
 *
 * With `inflate`, it also base64-decodes and inflates every compressed value (with sessionctl's
 * own inflater, from dist/), and nothing else: the one step no exact scan of Django sessions can
 * skip, as the user id is inside the compressed bytes ("inflated" counts the values).
 *
 *   node scripts/bench/floor-postgres.mjs postgres://postgres@127.0.0.1:PORT/bench scan_django_session live|all [inflate]
 */
import pg from 'pg'
import Cursor from 'pg-cursor'

const [url, table, state = 'live', mode] = process.argv.slice(2)
if (!url || !/^\w+$/.test(table ?? '') || !['all', 'live'].includes(state) || !['inflate', undefined].includes(mode)) {
  process.stderr.write('usage: floor-postgres.mjs <postgres-url> <table> live|all [inflate]\n')
  process.exit(2)
}

const inflateZlib = mode === 'inflate' ? (await import('../../dist/formats/compression/inflate.js')).inflateZlib : undefined
let inflated = 0

const started = performance.now()
const client = new pg.Client({connectionString: url})
await client.connect()
const where = state === 'live' ? ' WHERE expire_date > now()' : ''
const cursor = client.query(new Cursor(`SELECT session_key, session_data FROM "${table}"${where}`, [], {rowMode: 'array'}))
let rows = 0
let bytes = 0
for (;;) {
  const batch = await cursor.read(1000)
  if (batch.length === 0) break
  for (const row of batch) {
    rows++
    bytes += row[1].length
    if (inflateZlib && row[1].startsWith('.')) {
      inflateZlib(Buffer.from(row[1].slice(1, row[1].indexOf(':')), 'base64url'), 16_777_216, true)
      inflated++
    }
  }
}

await cursor.close()
const queryMs = performance.now() - started
await client.end()
process.stdout.write(`${JSON.stringify({
  bytes, inflated, queryMs, rows,
})}\n`)
