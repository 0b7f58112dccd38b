/**
 * A scan's memory follows bytes, not rows: 50 sessions of 20 MB among small ones must not take
 * the process far above what a scan of small sessions takes. The child's peak RSS is measured by
 * /usr/bin/time (the kernel's high-water mark for the whole process, whatever thread or driver
 * buffer held the bytes), for a MariaDB, a PostgreSQL and a Redis scan.
 */
import type mysql from 'mysql2/promise'

import {Redis} from 'ioredis'
import mysql2 from 'mysql2/promise'
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {
  existsSync, mkdtempSync, readFileSync, rmSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {freshDatabase} from '../support/mysql.js'
import {connectPgSimpleDdl, freshPgDatabase} from '../support/postgres.js'
import {testRedisUrl} from '../support/servers.js'

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
const TIME = '/usr/bin/time'
const MB = 1024 * 1024
const LARGE = 20 * MB
const LARGE_COUNT = 50
const SMALL_COUNT = 2000
/** The README's figure for a scan (about 160 MB), or the small scan's peak if higher. */
const BASELINE = 160 * MB
/**
 * The bound: one large value in flight, and the drivers' own copies of it (mysql2 reassembles a
 * row over 16 MB from its parts: about 3 times its size for a moment), above the baseline.
 * Measured after the fix: MariaDB about 215 MB, Redis about 170 MB; before, well over 1 GB.
 */
const bound = (small: number): number => Math.max(small, BASELINE) + (4 * LARGE)
/**
 * PostgreSQL's driver (pg-protocol) also keeps its message buffer at the next power of two of the
 * largest row (32 MB for 20 MB) for the connection's life, and hands each value over as a string
 * that becomes bytes. Measured after the fix: 230–247 MB; before it (reads of 1,000 rows, whatever
 * their size), 2.1 GB.
 */
const pgBound = (small: number): number => bound(small) + (2 * LARGE)

/** Peak RSS (bytes) of one sessionctl run, and its exit code. */
function peakRss(args: string[], dir: string): Promise<{code: null | number; rss: number; stderr: string}> {
  const out = path.join(dir, `rss-${randomBytes(4).toString('hex')}`)
  return new Promise((resolve, reject) => {
    const child = spawn(TIME, ['-f', '%M', '-o', out, process.execPath, BIN, ...args], {
      env: {
        ...process.env, NO_COLOR: '1', SESSIONCTL_CONFIG: undefined, SESSIONCTL_STORE: undefined,
      }, stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
    })
    child.on('error', reject)
    child.on('close', code => {
      const kb = Number(readFileSync(out, 'utf8').trim().split('\n').pop())
      resolve({code, rss: kb * 1024, stderr})
    })
  })
}

const mb = (n: number): string => `${(n / MB).toFixed(0)} MB`

describe('scan memory is bounded by bytes (peak RSS of the built binary)', function () {
  this.timeout(600_000)
  let dir: string

  before(() => {
    if (!existsSync(TIME)) throw new Error(`${TIME} is needed to measure the peak RSS (apt-get install time)`)
    dir = mkdtempSync(path.join(tmpdir(), 'sessionctl-rss-'))
  })

  after(() => {
    rmSync(dir, {force: true, recursive: true})
  })

  const cookie = {expires: new Date(Date.now() + 3_600_000).toISOString(), originalMaxAge: 3_600_000, path: '/'}

  it(`MariaDB: ${LARGE_COUNT} sessions of 20 MB among ${SMALL_COUNT} small ones`, async () => {
    const db: {conn: mysql.Connection; database: string; url: string} = await freshDatabase()
    try {
      // 20 MB rows need a larger packet than the default 16 MB; new connections take it.
      await db.conn.query('SET GLOBAL max_allowed_packet = 67108864')
      // express-mysql-session's table, with LONGTEXT (its MEDIUMTEXT stops at 16 MB).
      await db.conn.query(['small', 'mixed'].map(t => `CREATE TABLE ${t} (session_id varchar(128) PRIMARY KEY, expires int unsigned NOT NULL, data longtext);`).join('\n'))
      await db.conn.end()
      db.conn = await mysql2.createConnection({uri: db.url})
      const expires = Math.round(Date.now() / 1000) + 3600
      const small = JSON.stringify({cookie, passport: {user: 7}})
      const rows = Array.from({length: SMALL_COUNT}, (_, i) => [`s${i}`, expires, small])
      await db.conn.query('INSERT INTO small VALUES ?', [rows])
      await db.conn.query('INSERT INTO mixed VALUES ?', [rows])
      const large = JSON.stringify({cart: 'x'.repeat(LARGE), cookie, passport: {user: 42}})
      for (let i = 0; i < LARGE_COUNT; i++) await db.conn.query('INSERT INTO mixed VALUES (?, ?, ?)', [`L${i}`, expires, large])

      const scan = (table: string) => peakRss(['sessions', 'list', '--store', db.url, '--format', 'express', '--table', table, '--user', '42', '--json'], dir)
      const base = await scan('small')
      assert.equal(base.code, 0, base.stderr)
      const mixed = await scan('mixed')
      assert.equal(mixed.code, 0, mixed.stderr)
      console.log(`      MariaDB peak RSS: small scan ${mb(base.rss)}, with ${LARGE_COUNT} × ${mb(large.length)} ${mb(mixed.rss)}`)
      assert.ok(mixed.rss <= bound(base.rss), `peak RSS ${mb(mixed.rss)}, more than ${mb(bound(base.rss))}`)
    } finally {
      await db.conn.query(`DROP DATABASE \`${db.database}\``).catch(() => {})
      await db.conn.end()
    }
  })

  it(`PostgreSQL: ${LARGE_COUNT} sessions of 20 MB among ${SMALL_COUNT} small ones (connect-pg-simple's json column)`, async () => {
    const db = await freshPgDatabase()
    try {
      await db.client.query(`${connectPgSimpleDdl('small')}\n${connectPgSimpleDdl('mixed')}`)
      const expire = new Date(Date.now() + 3_600_000).toISOString()
      const small = JSON.stringify({cookie, passport: {user: 7}})
      for (const table of ['small', 'mixed']) {
        await db.client.query(`INSERT INTO ${table} SELECT 's' || i, $1::json, $2::timestamptz FROM generate_series(1, ${SMALL_COUNT}) i`, [small, expire])
      }

      const large = JSON.stringify({cart: 'x'.repeat(LARGE), cookie, passport: {user: 42}})
      for (let i = 0; i < LARGE_COUNT; i++) await db.client.query('INSERT INTO mixed VALUES ($1, $2::json, $3::timestamptz)', [`L${i}`, large, expire])
      const scan = (table: string) => peakRss(['sessions', 'list', '--store', db.url, '--format', 'express', '--table', table, '--user', '42', '--json'], dir)
      const base = await scan('small')
      assert.equal(base.code, 0, base.stderr)
      const mixed = await scan('mixed')
      assert.equal(mixed.code, 0, mixed.stderr)
      console.log(`      PostgreSQL peak RSS: small scan ${mb(base.rss)}, with ${LARGE_COUNT} × ${mb(large.length)} ${mb(mixed.rss)}`)
      assert.ok(mixed.rss <= pgBound(base.rss), `peak RSS ${mb(mixed.rss)}, more than ${mb(pgBound(base.rss))}`)
    } finally {
      await db.client.end()
    }
  })

  it(`Redis: ${LARGE_COUNT} sessions of 20 MB among ${SMALL_COUNT} small ones`, async () => {
    const redis = new Redis(testRedisUrl())
    const tag = randomBytes(4).toString('hex')
    try {
      for (const prefix of [`rss:${tag}:small:`, `rss:${tag}:mixed:`]) {
        const pipeline = redis.pipeline()
        for (let i = 0; i < SMALL_COUNT; i++) pipeline.set(`${prefix}s${i}`, JSON.stringify({cookie, passport: {user: 7}}), 'EX', 3600)
        await pipeline.exec()
      }

      const large = Buffer.from(JSON.stringify({cart: 'x'.repeat(LARGE), cookie, passport: {user: 42}}))
      for (let i = 0; i < LARGE_COUNT; i++) await redis.set(`rss:${tag}:mixed:L${i}`, large, 'EX', 3600)
      const scan = (prefix: string) => peakRss(['sessions', 'list', '--store', testRedisUrl(), '--format', 'express', '--prefix', prefix, '--user', '42', '--json'], dir)
      const base = await scan(`rss:${tag}:small:`)
      assert.equal(base.code, 0, base.stderr)
      const mixed = await scan(`rss:${tag}:mixed:`)
      assert.equal(mixed.code, 0, mixed.stderr)
      console.log(`      Redis peak RSS: small scan ${mb(base.rss)}, with ${LARGE_COUNT} × ${mb(large.length)} ${mb(mixed.rss)}`)
      assert.ok(mixed.rss <= bound(base.rss), `peak RSS ${mb(mixed.rss)}, more than ${mb(bound(base.rss))}`)
    } finally {
      for (const part of ['small', 'mixed']) {
        const keys = await redis.keys(`rss:${tag}:${part}:*`)
        for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500))
      }

      redis.disconnect()
    }
  })
})
