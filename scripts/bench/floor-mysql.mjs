/**
 * The floor of a MySQL scan, run by the benchmark in its own process (plain Node, no tsx) so its
 * memory and CPU are its own: stream `SELECT session_key, session_data` with mysql2 and discard
 * every row. Prints {"rows", "bytes", "queryMs"} on stdout.
 *
 * With `inflate`, it also base64-decodes and inflates every compressed value (with sessionctl's
 * own inflater, from dist/), and nothing else: the one step no exact scan of Django sessions can
 * skip, as the user id is inside the compressed bytes. Its CPU time bounds what any such scan
 * costs ("inflated" counts the values).
 *
 *   node scripts/bench/floor-mysql.mjs mysql://root@127.0.0.1:PORT/bench scan_django_session live|all [inflate]
 */
import mysql from 'mysql2'

const [url, table, state = 'live', mode] = process.argv.slice(2)
if (!url || !/^\w+$/.test(table ?? '') || !['all', 'live'].includes(state) || !['inflate', undefined].includes(mode)) {
  process.stderr.write('usage: floor-mysql.mjs <mysql-url> <table> live|all [inflate]\n')
  process.exit(2)
}

const inflateZlib = mode === 'inflate' ? (await import('../../dist/formats/compression/inflate.js')).inflateZlib : undefined
let inflated = 0

const started = performance.now()
const conn = mysql.createConnection({uri: url})
const where = state === 'live' ? ' WHERE expire_date > UTC_TIMESTAMP(6)' : ''
let rows = 0
let bytes = 0
conn
.query(`SELECT session_key, session_data FROM \`${table}\`${where}`)
.stream()
.on('data', row => {
  rows++
  bytes += row.session_data.length
  if (inflateZlib && row.session_data.startsWith('.')) {
    inflateZlib(Buffer.from(row.session_data.slice(1, row.session_data.indexOf(':')), 'base64url'), 16_777_216, true)
    inflated++
  }
})
.on('error', error => {
  process.stderr.write(`floor-mysql: ${error.message}\n`)
  process.exit(1)
})
.on('end', () => {
  const queryMs = performance.now() - started
  conn.end(() => process.stdout.write(`${JSON.stringify({
    bytes, inflated, queryMs, rows,
  })}\n`))
})
