/**
 * A purge and then a cleanup under load, as on a busy site: four writer loops on their own
 * connections keep creating sessions (some for the user being purged), re-signing and extending
 * existing ones (some of them expired) and reading them, while `sessions purge --user 42 --yes`
 * and then `sessions cleanup` run (the built binary). The writer must see no error (no deadlock,
 * no lock-wait failure), and nothing outside the selection may disappear: every write the
 * writer made survives, except one the purge selected in exactly that version.
 */
import mysql from 'mysql2/promise'
import assert from 'node:assert/strict'

import {fingerprint} from '../../src/sessions/keys.js'
import {sessionctl} from '../support/cli.js'
import {encodeSigned} from '../support/django-encode.js'
import {
  djangoSessionDdl, freshDatabase, seededKey as key, utcDatetime,
} from '../support/mysql.js'

const SECRET = 'load-secret-key'
const ENV = {env: {DJANGO_SECRET_KEY: SECRET}}
const PURGED = 15_000
const OTHERS = 20_000
const EXPIRED = 10_000
const LOOPS = 4

const seedUser = (prefix: string): string => (prefix === 'a' ? '42' : '7')

interface Write {
  data: string
  expiry: string
  user: string
}

interface PurgeJson {
  changed: number
  deleted: number
  sessions: Array<{expiresAt: null | string; id: string}>
}

describe('purge and cleanup under a concurrent writer (MariaDB, built binary)', function () {
  this.timeout(180_000)
  let db: Awaited<ReturnType<typeof freshDatabase>>

  before(async () => {
    db = await freshDatabase()
    await db.conn.query(djangoSessionDdl('django_session'))
    const value = (user: string): string => encodeSigned({_auth_user_id: user}, {secretKey: SECRET})
    const keySql = (prefix: string): string => `CONCAT('${prefix}', LPAD(seq, 8, '0'), REPEAT('z', 23))`
    await db.conn.query(`INSERT INTO django_session SELECT ${keySql('a')}, ?, UTC_TIMESTAMP(6) + INTERVAL 1 DAY + INTERVAL seq SECOND FROM seq_1_to_${PURGED}`, [value('42')])
    await db.conn.query(`INSERT INTO django_session SELECT ${keySql('b')}, ?, UTC_TIMESTAMP(6) + INTERVAL 1 DAY + INTERVAL seq SECOND FROM seq_1_to_${OTHERS}`, [value('7')])
    await db.conn.query(`INSERT INTO django_session SELECT ${keySql('e')}, ?, UTC_TIMESTAMP(6) - INTERVAL 1 HOUR - INTERVAL seq SECOND FROM seq_1_to_${EXPIRED}`, [value('7')])
  })

  after(async () => {
    await db?.conn.end()
  })

  it('the writer sees no error and every write it made outside the selection survives', async () => {
    // The last write of each key, by the writer. Every write sets a new expiry, unique to the
    // millisecond, so the purge's JSON tells which version of a key it selected.
    const written = new Map<string, Write>()
    const stats = {
      errors: [] as string[], inserts: 0, reads: 0, updates: 0, vanished: 0,
    }
    const base = Date.now() + (2 * 86_400_000)
    let seq = 0
    const running = {on: true}

    const loop = async (id: number): Promise<void> => {
      const conn = await mysql.createConnection({dateStrings: true, uri: db.url})
      const mine: string[] = []
      let inserted = 0
      try {
        while (running.on) {
          const roll = Math.random()
          try {
            if (roll < 0.3) {
              // A new login, half of them user 42's.
              const user = Math.random() < 0.5 ? '42' : '7'
              const k = key(`n${id}`, inserted++)
              const w = {data: encodeSigned({_auth_user_id: user, n: ++seq}, {secretKey: SECRET}), expiry: utcDatetime(new Date(base + seq)), user}
              await conn.query('INSERT INTO django_session VALUES (?, ?, ?)', [k, w.data, w.expiry])
              written.set(k, w)
              mine.push(k)
              stats.inserts++
            } else {
              // A seeded session of this loop's share (a/b/e keys i ≡ id mod LOOPS), or one it created.
              let k: string
              let user: string
              if (mine.length > 0 && Math.random() < 0.3) {
                k = mine[Math.floor(Math.random() * mine.length)]
                user = written.get(k)!.user
              } else {
                const prefix = ['a', 'b', 'e'][Math.floor(Math.random() * 3)]
                const size = prefix === 'a' ? PURGED : (prefix === 'b' ? OTHERS : EXPIRED)
                const i = (Math.floor(Math.random() * (size / LOOPS)) * LOOPS) + id + 1
                if (i > size) continue
                k = key(prefix, i)
                user = seedUser(prefix)
              }

              if (roll < 0.65) {
                // Django re-signs and extends the session of a returning user.
                const w = {data: encodeSigned({_auth_user_id: user, n: ++seq}, {secretKey: SECRET}), expiry: utcDatetime(new Date(base + seq)), user}
                const [result] = await conn.query('UPDATE django_session SET session_data = ?, expire_date = ? WHERE session_key = ?', [w.data, w.expiry, k])
                if ((result as {affectedRows: number}).affectedRows === 1) {
                  written.set(k, w)
                  stats.updates++
                } else stats.vanished++ // purged or cleaned before this write
              } else {
                await conn.query('SELECT session_data, expire_date FROM django_session WHERE session_key = ?', [k])
                stats.reads++
              }
            }
          } catch (error) {
            stats.errors.push(`${(error as {code?: string}).code}: ${(error as Error).message}`)
          }
        }
      } finally {
        await conn.end()
      }
    }

    const writers = Array.from({length: LOOPS}, (_, i) => loop(i))
    const purgeStarted = Date.now()
    const purge = await sessionctl(['sessions', 'purge', '--store', db.url, '--user', '42', '--yes', '--batch-size', '20', '--json'], ENV)
    const purgeMs = Date.now() - purgeStarted
    const cleanup = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--batch-size', '50', '--target-ms', '5', '--sleep', '25', '--json'], ENV)
    const totalMs = Date.now() - purgeStarted
    running.on = false
    await Promise.all(writers)

    assert.equal(purge.code, 0, purge.stderr)
    assert.equal(cleanup.code, 0, cleanup.stderr)
    assert.deepEqual(stats.errors, [], 'the writer saw no deadlock, lock-wait timeout or other error')
    const selection = JSON.parse(purge.stdout) as PurgeJson
    const cleaned = JSON.parse(cleanup.stdout) as {deleted: number}
    // Keys are printed masked (fingerprints): map them back from every key that ever existed.
    const byFingerprint = new Map([...written.keys(), ...Array.from({length: PURGED}, (_, i) => key('a', i + 1))].map(k => [fingerprint(k), k]))
    const selected = new Map(selection.sessions.map(s => [byFingerprint.get(s.id) ?? s.id, s.expiresAt === null ? null : utcDatetime(new Date(s.expiresAt))]))
    assert.ok([...selected.keys()].every(k => !k.includes('…')), 'every selected session is one of ours')
    assert.ok(selected.size >= PURGED, `selected ${selected.size}`)

    const [rows] = await db.conn.query('SELECT session_key AS k, session_data AS d, expire_date AS e FROM django_session')
    const now = new Map((rows as Array<{d: string; e: string; k: string}>).map(r => [r.k, r]))
    // Every final write survives, unless it is user 42's and the purge selected that very version.
    let purgedWrites = 0
    for (const [k, w] of written) {
      const row = now.get(k)
      if (w.user === '42' && selected.has(k) && selected.get(k) === w.expiry) {
        assert.equal(row, undefined, `${k}: selected in its final version, so purged`)
        purgedWrites++
        continue
      }

      assert.ok(row, `${k} (user ${w.user}, written ${w.expiry}) disappeared`)
      assert.deepEqual([row.d, row.e], [w.data, w.expiry], `${k} holds the writer's last write`)
    }

    // User 7's live sessions are all there; no expired row is left; of the purge's selection,
    // exactly the sessions it reported as changed since selection survive.
    for (let i = 1; i <= OTHERS; i++) assert.ok(now.has(key('b', i)), `b ${i}`)
    const [expired] = await db.conn.query('SELECT COUNT(*) AS n FROM django_session WHERE expire_date <= UTC_TIMESTAMP(6)')
    assert.equal(Number((expired as Array<{n: number}>)[0].n), 0)
    const survivors = [...selected.keys()].filter(k => now.has(k))
    assert.equal(survivors.length, selection.changed, 'the selected sessions still there are the ones the purge reported as changed')
    assert.ok(survivors.every(k => written.has(k)), 'only sessions the writer touched survive the purge')
    const extendedExpired = [...written.keys()].filter(k => k.startsWith('e')).length
    assert.equal(cleaned.deleted + extendedExpired, EXPIRED, 'the cleanup deleted every expired session the writer did not extend')

    const seconds = (ms: number): string => (ms / 1000).toFixed(1)
    console.log(`      load: writer did ${stats.inserts} inserts, ${stats.updates} updates, ${stats.reads} reads, ${stats.errors.length} errors during purge+cleanup (${seconds(totalMs)} s)`)
    console.log(`      load: purge ${seconds(purgeMs)} s deleted ${selection.deleted}, kept ${selection.changed} changed since selection; cleanup deleted ${cleaned.deleted}`)
    console.log(`      load: ${purgedWrites} writes purged in the very version selected, ${stats.vanished} updates found their row already deleted`)
  })
})
