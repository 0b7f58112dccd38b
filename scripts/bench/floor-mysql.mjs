/**
 * The floor of a MySQL scan, run by the benchmark in its own process (plain Node, no tsx) so its
 * memory and CPU are its own: stream `SELECT session_key, session_data` with mysql2 and discard
 * every row. Prints {"rows", "bytes", "queryMs"} on stdout.
 *
 *   node scripts/bench/floor-mysql.mjs mysql://root@127.0.0.1:PORT/bench scan_django_session live|all
 */
import mysql from 'mysql2'

const [url, table, state = 'live'] = process.argv.slice(2)
if (!url || !/^\w+$/.test(table ?? '') || !['all', 'live'].includes(state)) {
  process.stderr.write('usage: floor-mysql.mjs <mysql-url> <table> live|all\n')
  process.exit(2)
}

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
})
.on('error', error => {
  process.stderr.write(`floor-mysql: ${error.message}\n`)
  process.exit(1)
})
.on('end', () => {
  const queryMs = performance.now() - started
  conn.end(() => process.stdout.write(`${JSON.stringify({bytes, queryMs, rows})}\n`))
})
