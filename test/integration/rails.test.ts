/**
 * Rails 6.1 with the real framework as the writer and the oracle (test/rails/oracle.rb): the
 * session middleware, driven with Rack::MockRequest, writes through ActionDispatch's CacheStore
 * over RedisCacheStore, a redis-rack-shaped store (Marshal under `rack:session:2::<sha256>`) and an
 * activerecord-session_store table; the built CLI lists, purges and cleans; Rails then says which
 * sessions it still loads. Users 4, 42, 420, 142, 4200 and a string id are never confused;
 * `[[42], salt]` and `[["42"], salt]` are both 42; the admin scope's 42 is 42 only with --scope admin.
 */
import {Redis} from 'ioredis'
import assert from 'node:assert/strict'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {sessionctl} from '../support/cli.js'
import {freshDatabase} from '../support/mysql.js'
import {
  arMigrate, arRead, arRows, type ArTarget, arTrim, arWrite, cacheEntries, cacheRead, type CacheTarget, cacheWrite, mysqlParams,
  rackRead, type RackTarget, rackWrite, type RailsReadAnswer, type RailsSession, redisParams, requireRails,
} from '../support/rails.js'
import {testRedisUrl} from '../support/servers.js'

const CACHE_DB = 8
const RACK_DB = 10
const DAY = 86_400
const auditLog = join(mkdtempSync(join(tmpdir(), 'sessionctl-rails-')), 'audit.log')

interface Doc {
  deleted?: number
  kept?: number
  sessions: Array<{expired: boolean; expiresAt: null | string; id: string; userId: null | string}>
}

async function cli(args: string[]): Promise<{code: null | number; doc: Doc; stderr: string}> {
  const r = await sessionctl([...args, '--show-keys', '--json'])
  let doc: Doc
  try {
    doc = JSON.parse(r.stdout) as Doc
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout} ${r.stderr}`)
  }

  return {code: r.code, doc, stderr: r.stderr}
}

const ids = (doc: Doc): string[] => doc.sessions.map(s => s.id).sort()
/** The public ids Rails loads and reads as `user`'s (under the scope it was asked for). */
const loadedAs = (answers: RailsReadAnswer[], user: string): string[] => answers.filter(a => a.loaded && a.user === user).map(a => a.id).sort()

/** One session of each user that must never be confused with 42, plus 42's own. */
const CAST: Array<[string, RailsSession]> = [
  ['42', {attrs: {cart: [1, 2, 3]}, user: 42}],
  ['42-string', {user: '42'}],
  // Over 1 KiB: the cache entry is stored zlib-compressed.
  ['42-big', {attrs: {cart: Array.from({length: 200}, (_, i) => ({qty: i % 5, sku: `SKU-${i}`}))}, user: 42}],
  ['4', {user: 4}],
  ['420', {user: 420}],
  ['142', {user: 142}],
  ['4200', {user: 4200}],
  ['u-42', {user: 'u-42'}],
  ['admin-42', {admin: 42}],
  ['7-admin-42', {admin: 42, user: 7}],
  ['anonymous', {attrs: {cart: [42], note: 'user 42', user_id: 42}}],
]
const MINE = ['42', '42-string', '42-big']
const OTHERS: Array<[string, string[]]> = [['4', ['4']], ['420', ['420']], ['142', ['142']], ['4200', ['4200']], ['u-42', ['u-42']], ['7', ['7-admin-42']]]

function named(written: {ids: string[]; keys: string[]}, names: string[], prefix: string): Map<string, {id: string; key: string}> {
  return new Map(names.map((n, i) => [n, {id: written.ids[i], key: written.keys[i].slice(prefix.length)}]))
}

describe('Rails 6.1 sessions (real actionpack, activesupport and activerecord 6.1)', function () {
  this.timeout(240_000)
  let redis: Redis

  before(function () {
    requireRails(this)
    redis = new Redis(testRedisUrl())
  })

  after(() => {
    redis?.disconnect()
  })

  describe('Redis, the cache store (CacheStore over RedisCacheStore)', () => {
    const target = (): CacheTarget => ({raceConditionTtl: 300, redis: redisParams(testRedisUrl(), CACHE_DB)})
    const store = (): string[] => ['--store', `${testRedisUrl()}/${CACHE_DB}`, '--format', 'rails']
    let s: Map<string, {id: string; key: string}>

    beforeEach(async () => {
      await redis.select(CACHE_DB)
      await redis.flushdb()
      // An entry that expires at once, its key kept 5 more minutes by race_condition_ttl.
      const expired = await cacheWrite(target(), [{expireAfter: 1, user: 42}])
      const written = await cacheWrite(target(), CAST.map(([, x]) => x))
      s = named(
        {ids: [...expired.ids, ...written.ids], keys: [...expired.keys, ...written.keys]},
        ['42-entry-expired', ...CAST.map(([n]) => n)],
        '_session_id:',
      )
      const [entry] = await cacheEntries(target(), [s.get('42-entry-expired')!.id])
      const wait = (entry.expiresAt! * 1000) - Date.now() + 200
      if (wait > 0) await sleep(wait)
    })

    it('list gives exactly what Rails loads as 42’s; an expired entry whose key lives on is expired; every other user is their own', async () => {
      const all = [...s.values()].map(x => x.id)
      const [entry] = await cacheEntries(target(), [s.get('42-entry-expired')!.id])
      assert.ok(entry.present && entry.expired && entry.pttlMs > 0, `the expired entry's key is still there: ${JSON.stringify(entry)}`)
      const big = (await cacheEntries(target(), [s.get('42-big')!.id]))[0]
      assert.equal(big.compressed, true, 'the big session is stored compressed')

      const list = await cli(['sessions', 'list', ...store(), '--user', '42'])
      assert.equal(list.code, 0, list.stderr)
      assert.deepEqual(ids(list.doc), MINE.map(n => s.get(n)!.key).sort())
      const expired = await cli(['sessions', 'list', ...store(), '--user', '42', '--expired-only'])
      assert.deepEqual(ids(expired.doc), [s.get('42-entry-expired')!.key])
      assert.ok(Date.parse(expired.doc.sessions[0].expiresAt!) <= Date.now(), 'shown with the entry’s expiry, not the key’s TTL')
      for (const [user, names] of OTHERS) {
        const other = await cli(['sessions', 'list', ...store(), '--user', user])
        assert.deepEqual(ids(other.doc), names.map(n => s.get(n)!.key).sort(), `user ${user}`)
      }

      const admin = await cli(['sessions', 'list', ...store(), '--user', '42', '--scope', 'admin'])
      assert.deepEqual(ids(admin.doc), ['admin-42', '7-admin-42'].map(n => s.get(n)!.key).sort())

      // Rails agrees (read last: Rails deletes an expired entry it reads).
      const answers = await cacheRead(target(), all)
      assert.deepEqual(loadedAs(answers, '42'), MINE.map(n => s.get(n)!.id).sort())
      assert.equal(answers.find(a => a.id === s.get('42-entry-expired')!.id)!.loaded, false, 'Rails no longer serves the expired entry')
      const adminAnswers = await cacheRead({...target(), scope: 'admin'}, all)
      assert.deepEqual(loadedAs(adminAnswers, '42'), ['admin-42', '7-admin-42'].map(n => s.get(n)!.id).sort())
    })

    it('purge --dry-run deletes nothing; --expired-only takes the expired entry; --except with the cookie’s public id keeps that one; Rails loads no other of 42’s', async () => {
      const all = [...s.values()].map(x => x.id)
      const before = (await redis.keys('*')).sort()
      const dry = await cli(['sessions', 'purge', ...store(), '--user', '42', '--except', s.get('42')!.id, '--dry-run'])
      assert.equal(dry.code, 0, dry.stderr)
      assert.equal(dry.doc.kept, 1)
      assert.deepEqual((await redis.keys('*')).sort(), before, 'the dry run deleted nothing')

      const old = await cli(['sessions', 'purge', ...store(), '--user', '42', '--expired-only', '--yes', '--audit-log', auditLog])
      assert.equal(old.code, 0, old.stderr)
      assert.equal(old.doc.deleted, 1)
      assert.equal(await redis.exists(`_session_id:${s.get('42-entry-expired')!.key}`), 0)

      const r = await cli(['sessions', 'purge', ...store(), '--user', '42', '--except', s.get('42')!.id, '--yes', '--audit-log', auditLog])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.doc.deleted, 2)
      assert.equal(r.doc.kept, 1)
      const left = await cacheRead(target(), all)
      assert.deepEqual(loadedAs(left, '42'), [s.get('42')!.id])
      const survivors = CAST.map(([n]) => n).filter(n => n !== '42-string' && n !== '42-big')
      assert.deepEqual(left.filter(a => a.loaded).map(a => a.id).sort(), survivors.map(n => s.get(n)!.id).sort(), 'every other session still loads')
      const admin = await cacheRead({...target(), scope: 'admin'}, all)
      assert.deepEqual(loadedAs(admin, '42'), ['admin-42', '7-admin-42'].map(n => s.get(n)!.id).sort(), 'the admin scope’s 42 is not user 42')
    })
  })

  describe('Redis, redis-rack’s shape (raw Marshal under rack:session:)', () => {
    const target = (): RackTarget => ({redis: redisParams(testRedisUrl(), RACK_DB)})
    const store = (): string[] => ['--store', `${testRedisUrl()}/${RACK_DB}`, '--format', 'rails', '--prefix', 'rack:session:']

    it('lists and purges by user, keeps --except’s public id, and Rack then loads no other of 42’s', async () => {
      await redis.select(RACK_DB)
      await redis.flushdb()
      const names = ['42', '42-string', '420', '4', 'admin-42']
      const specs: RailsSession[] = [{user: 42}, {user: '42'}, {user: 420}, {user: 4}, {admin: 42}]
      const s = named(await rackWrite(target(), specs), names, 'rack:session:')
      const list = await cli(['sessions', 'list', ...store(), '--user', '42'])
      assert.equal(list.code, 0, list.stderr)
      assert.deepEqual(ids(list.doc), ['42', '42-string'].map(n => s.get(n)!.key).sort())
      const r = await cli(['sessions', 'purge', ...store(), '--user', '42', '--except', s.get('42-string')!.id, '--yes', '--audit-log', auditLog])
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual([r.doc.deleted, r.doc.kept], [1, 1])
      const left = await rackRead(target(), names.map(n => s.get(n)!.id))
      assert.deepEqual(left.filter(a => a.loaded).map(a => a.id).sort(), ['42-string', '420', '4', 'admin-42'].map(n => s.get(n)!.id).sort())
    })
  })

  describe('MariaDB, activerecord-session_store', () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>
    let target: ArTarget
    let store: string[]
    let s: Map<string, {id: string; key: string}>
    // Written `ageSeconds` ago (created_at = updated_at then): with --lifetime 1440, two days old is expired.
    const ROWS: Array<[string, RailsSession]> = [
      ...CAST,
      ['42-old', {ageSeconds: 2 * DAY, user: 42}],
      ['420-old', {ageSeconds: 2 * DAY, user: 420}],
      ['anonymous-old', {ageSeconds: 3 * DAY}],
      ['42-recent', {ageSeconds: DAY / 2, user: '42'}],
    ]

    before(async () => {
      db = await freshDatabase()
      target = {mysql: mysqlParams(db.url)}
      store = ['--store', db.url, '--format', 'rails']
    })

    after(async () => {
      await db?.conn.end()
    })

    beforeEach(async () => {
      await arMigrate({...target, fresh: true})
      s = named(await arWrite(target, ROWS.map(([, x]) => x)), ROWS.map(([n]) => n), '')
    })

    it('list: without --lifetime only --all (no expiry shown); with it, live and expired as updated_at says; users never confused', async () => {
      const refused = await sessionctl(['sessions', 'list', ...store, '--user', '42'])
      assert.equal(refused.code, 2)
      assert.match(refused.stderr, /needs --lifetime MINUTES/)
      const all = await cli(['sessions', 'list', ...store, '--user', '42', '--all'])
      assert.equal(all.code, 0, all.stderr)
      const mineAll = [...MINE, '42-old', '42-recent']
      assert.deepEqual(ids(all.doc), mineAll.map(n => s.get(n)!.key).sort())
      assert.ok(all.doc.sessions.every(x => x.expiresAt === null && !x.expired), 'no expiry is guessed')

      const live = await cli(['sessions', 'list', ...store, '--lifetime', '1440', '--user', '42'])
      assert.deepEqual(ids(live.doc), [...MINE, '42-recent'].map(n => s.get(n)!.key).sort())
      const expired = await cli(['sessions', 'list', ...store, '--lifetime', '1440', '--user', '42', '--expired-only'])
      assert.deepEqual(ids(expired.doc), [s.get('42-old')!.key])
      for (const [user, names] of OTHERS) {
        const other = await cli(['sessions', 'list', ...store, '--lifetime', '1440', '--user', user])
        assert.deepEqual(ids(other.doc), names.map(n => s.get(n)!.key).sort(), `user ${user}`)
      }

      const answers = await arRead(target, [...s.values()].map(x => x.id))
      assert.deepEqual(loadedAs(answers, '42'), mineAll.map(n => s.get(n)!.id).sort(), 'Rails reads the same five as 42’s (it keeps no expiry)')
    })

    it('purge --expired-only, then purge --except the public id; the rows Rails finds are exactly the others', async () => {
      const before = await arRows(target)
      const dry = await cli(['sessions', 'purge', ...store, '--user', '42', '--except', s.get('42')!.id, '--dry-run'])
      assert.equal(dry.code, 0, dry.stderr)
      assert.deepEqual(await arRows(target), before, 'the dry run deleted nothing')

      const old = await cli(['sessions', 'purge', ...store, '--lifetime', '1440', '--user', '42', '--expired-only', '--yes', '--audit-log', auditLog])
      assert.equal(old.code, 0, old.stderr)
      assert.equal(old.doc.deleted, 1)
      const r = await cli(['sessions', 'purge', ...store, '--user', '42', '--except', s.get('42')!.id, '--yes', '--audit-log', auditLog])
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual([r.doc.deleted, r.doc.kept], [3, 1])
      const gone = new Set(['42-old', '42-string', '42-big', '42-recent'].map(n => s.get(n)!.id))
      const left = await arRead(target, [...s.values()].map(x => x.id))
      assert.ok(left.every(a => a.row === !gone.has(a.id)), JSON.stringify(left.map(a => [a.id, a.row])))
      assert.deepEqual(loadedAs(left, '42'), [s.get('42')!.id])
    })

    it('cleanup --lifetime deletes exactly what db:sessions:trim would, in batches, and nothing live', async () => {
      const trim = await arTrim({...target, dryRun: true, lifetimeMinutes: 1440})
      assert.deepEqual(trim.sessionIds.sort(), ['42-old', '420-old', 'anonymous-old'].map(n => s.get(n)!.key).sort())
      const dry = await sessionctl(['sessions', 'cleanup', ...store, '--lifetime', '1440', '--dry-run'])
      assert.equal(dry.code, 0, dry.stderr)
      assert.match(dry.stdout, / 3 expired sessions /)
      const clean = await cli(['sessions', 'cleanup', ...store, '--lifetime', '1440', '--batch-size', '2'])
      assert.equal(clean.code, 0, clean.stderr)
      assert.equal(clean.doc.deleted, 3)
      const after = await arTrim({...target, dryRun: true, lifetimeMinutes: 1440})
      assert.deepEqual(after.sessionIds, [], 'the gem’s trim finds nothing left')
      const rows = await arRows(target)
      assert.deepEqual(rows.map(x => x.sessionId).sort(), [...s].filter(([n]) => !n.endsWith('-old')).map(([, x]) => x.key).sort())
    })
  })
})
