/**
 * Rails 6.1 sessions, with the real framework as the writer and the oracle: ActionDispatch's
 * CacheStore over ActiveSupport's RedisCacheStore, the redis-rack shape (Marshal under
 * `rack:session:`) and the activerecord-session_store table write sessions through the real
 * session middleware (test/rails/oracle.rb, driven with Rack::MockRequest); the built CLI lists,
 * purges and cleans; Rails then says which sessions it still loads. Users 4, 42, 420, 142, 4200 and
 * a string id starting with 42 are never confused; [[42], salt] and [["42"], salt] are both 42's.
 */
import {Redis} from 'ioredis'
import assert from 'node:assert/strict'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {sessionctl, sessionctlJson} from '../support/cli.js'
import {freshDatabase} from '../support/mysql.js'
import {
  arMigrate, arRead, arRows, type ArTarget, arTrim, arWrite, cacheEntries, cacheRead, type CacheTarget, cacheWrite, mysqlParams,
  rackRead, type RackTarget, rackWrite, type RailsReadAnswer, type RailsSession, type RailsWritten, redisParams, requireRails,
} from '../support/rails.js'
import {registerSessionKeys} from '../support/secrets.js'
import {testRedisUrl} from '../support/servers.js'

const CACHE_DB = 8
const RACK_DB = 10
const CACHE_PREFIX = '_session_id:'
const RACK_PREFIX = 'rack:session:'
/** A string id that starts with 42: text comparison must not take it for 42. */
const STRING_ID = '42a1b2c3-5d6e-4f70-8a9b-0c1d2e3f4a5b'
const auditLog = join(mkdtempSync(join(tmpdir(), 'sessionctl-rails-')), 'audit.log')

interface Session {
  expired: boolean | null
  expiresAt: null | string
  id: string
  state?: string
  userId: null | string
}

interface Doc {
  deleted?: number
  kept?: number
  sessions: Session[]
  stores?: Array<Record<string, unknown>>
}

const cli = (args: string[]): Promise<{code: null | number; doc: Doc; stderr: string}> => sessionctlJson<Doc>(args)

const ids = (doc: Doc): string[] => doc.sessions.map(s => s.id).sort()

/** A cart whose Marshal.dump is well over 1 KiB and deflates smaller: RedisCacheStore compresses the Entry. */
const BIG_CART = Array.from({length: 80}, (_, i) => ({qty: (i % 5) + 1, sku: `SKU-${i}`, title: `Item number ${i} of the summer catalogue`}))

/** One session of each user that must never be confused with 42, plus 42's own, plus two admin-scope logins of 42. */
const CAST: Array<[string, RailsSession]> = [
  ['42a', {attrs: {flash: {discard: [], flashes: {notice: 'Signed in successfully.'}}}, user: 42}],
  ['42-string', {user: '42'}],
  ['42-big', {attrs: {cart: BIG_CART}, user: 42}],
  ['4', {attrs: {previous_user_id: 42}, user: 4}],
  ['420', {user: 420}],
  ['142', {user: 142}],
  ['4200', {user: 4200}],
  ['string-id', {user: STRING_ID}],
  ['admin-42', {admin: 42}],
  ['7-admin-42', {admin: 42, user: 7}],
  ['anonymous', {attrs: {locale: 'de'}}],
]
const MINE = ['42a', '42-string', '42-big']
const ADMIN_42 = ['admin-42', '7-admin-42']

/** name → public id (cookie) and the stored key as sessionctl prints it (no prefix). */
type Cast = Map<string, {id: string; key: string}>

function castOf(names: string[], written: RailsWritten, prefix = ''): Cast {
  assert.equal(written.ids.length, names.length)
  registerSessionKeys([...written.ids, ...written.keys])
  return new Map(names.map((name, i) => {
    assert.ok(written.keys[i].startsWith(prefix), written.keys[i])
    return [name, {id: written.ids[i], key: written.keys[i].slice(prefix.length)}]
  }))
}

const keysOf = (cast: Cast, names: string[]): string[] => names.map(n => cast.get(n)!.key).sort()
const publicIds = (cast: Cast): string[] => [...cast.values()].map(s => s.id)
const loadedBy = (answers: RailsReadAnswer[], user: string): string[] => answers.filter(a => a.loaded && a.user === user).map(a => a.id).sort()
const idsOf = (cast: Cast, names: string[]): string[] => names.map(n => cast.get(n)!.id).sort()

describe('Rails sessions (real actionpack/activesupport/activerecord 6.1.7.10, rack 2.2, redis-rb 4.8)', function () {
  this.timeout(180_000)
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let redis: Redis

  before(async function () {
    requireRails(this)
    db = await freshDatabase()
    redis = new Redis(testRedisUrl())
  })

  after(async () => {
    await db?.conn.end()
    redis?.disconnect()
  })

  describe('CacheStore over RedisCacheStore', () => {
    const target = (): CacheTarget => ({raceConditionTtl: 5, redis: redisParams(testRedisUrl(), CACHE_DB)})
    const store = (): string[] => ['--store', `${testRedisUrl()}/${CACHE_DB}`, '--format', 'rails']

    /** The cast, plus 42's session whose Entry expired (expire_after 1 s) while race_condition_ttl keeps the key 5 minutes more. */
    async function writeCast(): Promise<Cast> {
      await redis.select(CACHE_DB)
      await redis.flushdb()
      const names = [...CAST.map(([n]) => n), '42-expired']
      const cast = castOf(names, await cacheWrite(target(), [...CAST.map(([, s]) => s), {expireAfter: 1, user: 42}]), CACHE_PREFIX)
      await sleep(1500)
      const entries = new Map((await cacheEntries(target(), publicIds(cast))).map(e => [e.id, e]))
      const expired = entries.get(cast.get('42-expired')!.id)!
      assert.ok(expired.present && expired.expired && expired.pttlMs > 200_000, `Entry expired, key still in Redis: ${JSON.stringify(expired)}`)
      assert.equal(entries.get(cast.get('42-big')!.id)!.compressed, true, 'the big session is a compressed Entry')
      assert.equal(entries.get(cast.get('42a')!.id)!.compressed, false)
      return cast
    }

    it('list --user 42 finds exactly what Rails loads as 42’s: Integer and String ids, compressed or not; the expired Entry apart', async () => {
      const s = await writeCast()
      const live = await cli(['sessions', 'list', ...store(), '--user', '42'])
      assert.equal(live.code, 0, live.stderr)
      assert.deepEqual(ids(live.doc), keysOf(s, MINE))
      assert.ok(live.doc.sessions.every(x => x.userId === '42' && !x.expired), JSON.stringify(live.doc.sessions))

      // Before Rails is asked: its read deletes an Entry it finds expired.
      const all = await cli(['sessions', 'list', ...store(), '--user', '42', '--all'])
      assert.equal(all.code, 0, all.stderr)
      assert.deepEqual(ids(all.doc), keysOf(s, [...MINE, '42-expired']))
      assert.deepEqual(all.doc.sessions.filter(x => x.expired).map(x => x.id), [s.get('42-expired')!.key])
      const expiredOnly = await cli(['sessions', 'list', ...store(), '--user', '42', '--expired-only'])
      assert.deepEqual(ids(expiredOnly.doc), [s.get('42-expired')!.key])
      assert.equal(expiredOnly.doc.sessions[0].state, 'expired')

      const rails = await cacheRead(target(), publicIds(s))
      assert.deepEqual(loadedBy(rails, '42'), idsOf(s, MINE), 'Rails loads these three as 42’s')
      assert.equal(rails.find(a => a.id === s.get('42-expired')!.id)!.loaded, false, 'Rails does not load the expired Entry')
      assert.deepEqual([...new Set(rails.filter(a => a.user === '42').map(a => a.userType))].sort(), ['Integer', 'String'])

      for (const user of ['4', '420', '142', '4200', STRING_ID, '7']) {
        const other = await cli(['sessions', 'list', ...store(), '--user', user])
        assert.equal(other.code, 0, other.stderr)
        assert.deepEqual(ids(other.doc), keysOf(s, [user === STRING_ID ? 'string-id' : (user === '7' ? '7-admin-42' : user)]), `user ${user}`)
      }
    })

    it('--scope admin reads warden.user.admin.key: 42 there is not user 42, but is admin 42', async () => {
      const s = await writeCast()
      const admin = await cli(['sessions', 'list', ...store(), '--user', '42', '--scope', 'admin'])
      assert.equal(admin.code, 0, admin.stderr)
      assert.deepEqual(ids(admin.doc), keysOf(s, ADMIN_42))
      assert.deepEqual(loadedBy(await cacheRead({...target(), scope: 'admin'}, publicIds(s)), '42'), idsOf(s, ADMIN_42))
      const purge = await cli(['sessions', 'purge', ...store(), '--user', '42', '--scope', 'admin', '--yes', '--audit-log', auditLog])
      assert.equal(purge.code, 0, purge.stderr)
      assert.equal(purge.doc.deleted, 2)
      const left = await cacheRead(target(), publicIds(s))
      assert.deepEqual(left.filter(a => a.loaded).map(a => a.id).sort(), idsOf(s, CAST.map(([n]) => n).filter(n => !ADMIN_42.includes(n))))
    })

    it('purge --except <cookie id> --dry-run deletes nothing; --yes: Rails then loads only the kept one of 42’s; every other session still loads', async () => {
      const s = await writeCast()
      const keysBefore = (await redis.keys('*')).sort()
      const dry = await cli(['sessions', 'purge', ...store(), '--user', '42', '--except', s.get('42-string')!.id, '--dry-run'])
      assert.equal(dry.code, 0, dry.stderr)
      assert.equal(dry.doc.deleted, 0)
      assert.equal(dry.doc.kept, 1)
      assert.deepEqual(ids(dry.doc), keysOf(s, ['42a', '42-big', '42-expired']))
      assert.deepEqual((await redis.keys('*')).sort(), keysBefore, 'the dry run deleted nothing')

      const r = await cli(['sessions', 'purge', ...store(), '--user', '42', '--except', s.get('42-string')!.id, '--yes', '--audit-log', auditLog])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.doc.deleted, 3)
      assert.equal(r.doc.kept, 1)
      const gone = new Set(keysOf(s, ['42a', '42-big', '42-expired']).map(k => CACHE_PREFIX + k))
      assert.deepEqual((await redis.keys('*')).sort(), keysBefore.filter(k => !gone.has(k)))
      const left = await cacheRead(target(), publicIds(s))
      assert.deepEqual(loadedBy(left, '42'), [s.get('42-string')!.id])
      assert.deepEqual(left.filter(a => a.loaded).map(a => a.id).sort(), idsOf(s, CAST.map(([n]) => n).filter(n => !['42-big', '42a'].includes(n))))
    })

    it('purge --expired-only takes only the Entry-expired session (--except by stored key keeps nothing else from going)', async () => {
      const s = await writeCast()
      const r = await cli(['sessions', 'purge', ...store(), '--user', '42', '--expired-only', '--yes', '--audit-log', auditLog])
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(ids(r.doc), [s.get('42-expired')!.key])
      assert.equal(r.doc.deleted, 1)
      assert.equal(await redis.exists(CACHE_PREFIX + s.get('42-expired')!.key), 0)
      const keep = await cli(['sessions', 'purge', ...store(), '--user', '42', '--except', s.get('42a')!.key, '--yes', '--audit-log', auditLog])
      assert.equal(keep.code, 0, keep.stderr)
      assert.equal(keep.doc.deleted, 2)
      assert.deepEqual(loadedBy(await cacheRead(target(), publicIds(s)), '42'), [s.get('42a')!.id])
    })

    it('a namespaced cache (--prefix shop:_session_id:) with legacy keys of Rails < 5.2 (_session_id:<cookie id>): list, purge --except <legacy cookie id>', async () => {
      await redis.select(CACHE_DB)
      await redis.flushdb()
      const shop: CacheTarget = {...target(), namespace: 'shop'}
      const names = ['42', '42-legacy', '42-legacy-string', '420-legacy', '4']
      const s = castOf(names, await cacheWrite(shop, [
        {user: 42}, {legacyKey: true, user: 42}, {legacyKey: true, user: '42'}, {legacyKey: true, user: 420}, {user: 4},
      ]), `shop:${CACHE_PREFIX}`)
      assert.equal(s.get('42-legacy')!.key, s.get('42-legacy')!.id, 'a legacy key holds the cookie id itself')
      const other = castOf(['42-other-app'], await cacheWrite(target(), [{user: 42}]), CACHE_PREFIX)
      assert.deepEqual(loadedBy(await cacheRead(shop, publicIds(s)), '42'), idsOf(s, ['42', '42-legacy', '42-legacy-string']), 'Rails 6.1 loads legacy keys')

      const store = ['--store', `${testRedisUrl()}/${CACHE_DB}`, '--format', 'rails', '--prefix', `shop:${CACHE_PREFIX}`]
      const list = await cli(['sessions', 'list', ...store, '--user', '42'])
      assert.equal(list.code, 0, list.stderr)
      assert.deepEqual(ids(list.doc), keysOf(s, ['42', '42-legacy', '42-legacy-string']))
      const plain = await cli(['sessions', 'list', '--store', `${testRedisUrl()}/${CACHE_DB}`, '--format', 'rails', '--user', '42'])
      assert.deepEqual(ids(plain.doc), [other.get('42-other-app')!.key], 'the default prefix is the un-namespaced app’s')

      const r = await cli(['sessions', 'purge', ...store, '--user', '42', '--except', s.get('42-legacy')!.id, '--yes', '--audit-log', auditLog])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.doc.deleted, 2)
      assert.equal(r.doc.kept, 1)
      const left = await cacheRead(shop, publicIds(s))
      assert.deepEqual(loadedBy(left, '42'), [s.get('42-legacy')!.id])
      assert.deepEqual(left.filter(a => a.loaded).map(a => a.id).sort(), idsOf(s, ['42-legacy', '420-legacy', '4']))
      assert.deepEqual(loadedBy(await cacheRead(target(), publicIds(other)), '42'), [other.get('42-other-app')!.id], 'the other app’s session is untouched')
    })

    it('cleanup leaves TTL’d keys to Redis, the Entry-expired one too (its key goes with race_condition_ttl); nothing Rails loads is touched', async () => {
      const s = await writeCast()
      const keysBefore = (await redis.keys('*')).sort()
      const r = await cli(['sessions', 'cleanup', ...store()])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.doc.deleted, 0)
      assert.deepEqual((await redis.keys('*')).sort(), keysBefore)
      const left = await cacheRead(target(), publicIds(s))
      assert.equal(left.filter(a => a.loaded).length, CAST.length)
    })
  })

  describe('redis-rack shape: Marshal.dump of the session Hash under rack:session:', () => {
    for (const [flavour, actionpack, idLength] of [['redis-actionpack (Rails ids)', true, 32], ['plain Rack (Rack ids)', false, 64]] as const) {
      it(`${flavour}: list, purge --except <cookie id> and --dry-run with --prefix ${RACK_PREFIX}; Rack then loads only the kept one of 42’s`, async () => {
        await redis.select(RACK_DB)
        await redis.flushdb()
        const target: RackTarget = {actionpack, expireAfter: 3600, redis: redisParams(testRedisUrl(), RACK_DB)}
        const store = ['--store', `${testRedisUrl()}/${RACK_DB}`, '--format', 'rails', '--prefix', RACK_PREFIX]
        const s = castOf(CAST.map(([n]) => n), await rackWrite(target, CAST.map(([, x]) => x)), RACK_PREFIX)
        assert.ok(publicIds(s).every(id => id.length === idLength && /^[\da-f]+$/.test(id)), publicIds(s).join(' '))
        const rack = await rackRead(target, publicIds(s))
        assert.deepEqual(loadedBy(rack, '42'), idsOf(s, MINE))

        const list = await cli(['sessions', 'list', ...store, '--user', '42'])
        assert.equal(list.code, 0, list.stderr)
        assert.deepEqual(ids(list.doc), keysOf(s, MINE))
        const admin = await cli(['sessions', 'list', ...store, '--user', '42', '--scope', 'admin'])
        assert.deepEqual(ids(admin.doc), keysOf(s, ADMIN_42))
        const noPrefix = await cli(['sessions', 'list', '--store', `${testRedisUrl()}/${RACK_DB}`, '--format', 'rails', '--user', '42'])
        assert.deepEqual(ids(noPrefix.doc), [], `the default prefix is ${CACHE_PREFIX}`)

        const keysBefore = (await redis.keys('*')).sort()
        const dry = await cli(['sessions', 'purge', ...store, '--user', '42', '--except', s.get('42a')!.id, '--dry-run'])
        assert.equal(dry.code, 0, dry.stderr)
        assert.equal(dry.doc.deleted, 0)
        assert.deepEqual(ids(dry.doc), keysOf(s, ['42-string', '42-big']))
        assert.deepEqual((await redis.keys('*')).sort(), keysBefore)

        const r = await cli(['sessions', 'purge', ...store, '--user', '42', '--except', s.get('42a')!.id, '--yes', '--audit-log', auditLog])
        assert.equal(r.code, 0, r.stderr)
        assert.equal(r.doc.deleted, 2)
        assert.equal(r.doc.kept, 1)
        const left = await rackRead(target, publicIds(s))
        assert.deepEqual(loadedBy(left, '42'), [s.get('42a')!.id])
        assert.deepEqual(left.filter(a => a.loaded).map(a => a.id).sort(), idsOf(s, CAST.map(([n]) => n).filter(n => !['42-big', '42-string'].includes(n))))
      })
    }
  })

  describe('activerecord-session_store table on MariaDB', () => {
    const target = (): ArTarget => ({mysql: mysqlParams(db.url)})
    const store = (): string[] => ['--store', db.url, '--format', 'rails']
    const HOUR = 3600

    /** The cast written now, plus sessions last written 30 minutes, 2 hours and 2 days ago. */
    async function writeCast(): Promise<Cast> {
      const {createTable} = await arMigrate({...target(), fresh: true})
      for (const column of [
        /`id` bigint\(20\) NOT NULL AUTO_INCREMENT/,
        /`session_id` varchar\(255\) NOT NULL/,
        /`data` text DEFAULT NULL/,
        /`created_at` datetime\(6\) NOT NULL/,
        /`updated_at` datetime\(6\) NOT NULL/,
        /PRIMARY KEY \(`id`\)/,
        /UNIQUE KEY `index_sessions_on_session_id` \(`session_id`\)/,
        /KEY `index_sessions_on_updated_at` \(`updated_at`\)/,
      ]) assert.match(createTable, column)
      const extra: Array<[string, RailsSession]> = [
        ['42-30min', {ageSeconds: HOUR / 2, user: 42}],
        ['42-2h', {ageSeconds: 2 * HOUR, user: '42'}],
        ['7-2h', {ageSeconds: 2 * HOUR, user: 7}],
        ['42-2d', {ageSeconds: 2 * 24 * HOUR, user: 42}],
        ['anonymous-2d', {ageSeconds: 2 * 24 * HOUR}],
      ]
      const all = [...CAST, ...extra]
      const cast = castOf(all.map(([n]) => n), await arWrite(target(), all.map(([, x]) => x)))
      const [rows] = await db.conn.query('SELECT data FROM sessions LIMIT 1')
      assert.match((rows as Array<{data: string}>)[0].data, /^BAh[\w+/=\n]+\n$/, 'data is Base64.encode64(Marshal.dump(session))')
      return cast
    }

    it('list --user 42 --lifetime 1440: exactly what Rails loads as 42’s, the row older than the lifetime as expired; without --lifetime it refuses', async () => {
      const s = await writeCast()
      const recent = [...MINE, '42-30min', '42-2h']
      const rails = await arRead(target(), publicIds(s))
      assert.deepEqual(loadedBy(rails, '42'), idsOf(s, [...recent, '42-2d']), 'the store serves any row it finds')
      assert.ok(rails.every(a => a.row && a.loaded))

      const live = await cli(['sessions', 'list', ...store(), '--lifetime', '1440', '--user', '42'])
      assert.equal(live.code, 0, live.stderr)
      assert.deepEqual(ids(live.doc), keysOf(s, recent))
      const all = await cli(['sessions', 'list', ...store(), '--lifetime', '1440', '--user', '42', '--all'])
      assert.deepEqual(ids(all.doc), keysOf(s, [...recent, '42-2d']))
      assert.deepEqual(all.doc.sessions.filter(x => x.expired).map(x => x.id), [s.get('42-2d')!.key])
      const expired = await cli(['sessions', 'list', ...store(), '--lifetime', '1440', '--user', '42', '--expired-only'])
      assert.deepEqual(ids(expired.doc), [s.get('42-2d')!.key])
      const hour = await cli(['sessions', 'list', ...store(), '--lifetime', '60', '--user', '42'])
      assert.deepEqual(ids(hour.doc), keysOf(s, [...MINE, '42-30min']))

      for (const user of ['4', '420', '142', '4200', STRING_ID]) {
        const other = await cli(['sessions', 'list', ...store(), '--lifetime', '1440', '--user', user])
        assert.deepEqual(ids(other.doc), keysOf(s, [user === STRING_ID ? 'string-id' : user]), `user ${user}`)
      }

      const admin = await cli(['sessions', 'list', ...store(), '--lifetime', '1440', '--user', '42', '--scope', 'admin'])
      assert.deepEqual(ids(admin.doc), keysOf(s, ADMIN_42))

      const refused = await sessionctl(['sessions', 'list', ...store(), '--user', '42'])
      assert.equal(refused.code, 2, refused.stderr)
      assert.match(refused.stderr, /--lifetime/)
      assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr)
      const everything = await cli(['sessions', 'list', ...store(), '--user', '42', '--all'])
      assert.equal(everything.code, 0, everything.stderr)
      assert.deepEqual(ids(everything.doc), keysOf(s, [...recent, '42-2d']))
      // Without --lifetime nothing is guessed: no expiry, and neither live nor expired.
      assert.ok(everything.doc.sessions.every(x => x.expiresAt === null && x.expired === null && x.state === 'unknown'), JSON.stringify(everything.doc.sessions))
      const table = await sessionctl(['sessions', 'list', ...store(), '--user', '42', '--all'])
      assert.match(table.stdout, /- \(unknown\) +unknown/)
      assert.match(table.stderr, /expiry unknown without --lifetime MINUTES/)
    })

    it('purge --except (cookie id, then stored key) --dry-run and --yes: Rails then finds only the kept rows of 42’s', async () => {
      const s = await writeCast()
      const lifetime = ['--lifetime', '1440']
      const rowsBefore = (await arRows(target())).length
      const dry = await cli(['sessions', 'purge', ...store(), ...lifetime, '--user', '42', '--except', s.get('42a')!.id, '--dry-run'])
      assert.equal(dry.code, 0, dry.stderr)
      assert.equal(dry.doc.deleted, 0)
      assert.deepEqual(ids(dry.doc), keysOf(s, ['42-string', '42-big', '42-30min', '42-2h', '42-2d']))
      assert.equal((await arRows(target())).length, rowsBefore, 'the dry run deleted nothing')
      // The fingerprint `list` prints (no --show-keys) names a session for --except as well.
      const printed = JSON.parse((await sessionctl(['sessions', 'list', ...store(), '--user', '42', '--all', '--json'])).stdout) as Doc
      assert.match(printed.sessions[0].id, /^.{4}…[\da-f]{8}$/)
      const byFingerprint = await cli(['sessions', 'purge', ...store(), ...lifetime, '--user', '42', '--except', printed.sessions[0].id, '--dry-run'])
      assert.equal(byFingerprint.code, 0, byFingerprint.stderr)
      assert.equal(byFingerprint.doc.kept, 1)
      assert.equal(byFingerprint.doc.sessions.length, 5)
      assert.ok(ids(byFingerprint.doc).every(k => keysOf(s, [...MINE, '42-30min', '42-2h', '42-2d']).includes(k)))

      const r = await cli(['sessions',
        'purge',
        ...store(),
        ...lifetime,
        '--user',
        '42',
        '--except',
        s.get('42a')!.id,
        '--except',
        s.get('42-2h')!.key,
        '--yes',
        '--audit-log',
        auditLog])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.doc.deleted, 4)
      assert.equal(r.doc.kept, 2)
      const left = await arRead(target(), publicIds(s))
      assert.deepEqual(loadedBy(left, '42'), idsOf(s, ['42a', '42-2h']))
      const gone = idsOf(s, ['42-string', '42-big', '42-30min', '42-2d'])
      assert.deepEqual(left.filter(a => !a.row).map(a => a.id).sort(), gone)
      assert.ok(left.filter(a => !gone.includes(a.id)).every(a => a.loaded && a.row))
    })

    it('purge --expired-only --lifetime 60 takes only 42’s rows older than an hour', async () => {
      const s = await writeCast()
      const r = await cli(['sessions', 'purge', ...store(), '--lifetime', '60', '--user', '42', '--expired-only', '--yes', '--audit-log', auditLog])
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(ids(r.doc), keysOf(s, ['42-2h', '42-2d']))
      assert.equal(r.doc.deleted, 2)
      const left = await arRead(target(), publicIds(s))
      assert.deepEqual(left.filter(a => !a.row).map(a => a.id).sort(), idsOf(s, ['42-2h', '42-2d']))
      assert.deepEqual(loadedBy(left, '42'), idsOf(s, [...MINE, '42-30min']))
    })

    it('cleanup --lifetime 60 deletes what db:sessions:trim (an hour) deletes and nothing more; without --lifetime it refuses', async () => {
      const s = await writeCast()
      const refused = await sessionctl(['sessions', 'cleanup', ...store()])
      assert.equal(refused.code, 2, `${refused.stdout} ${refused.stderr}`)
      assert.match(refused.stderr, /--lifetime/)
      const stale = await arTrim({...target(), dryRun: true, lifetimeMinutes: 60})
      assert.deepEqual(stale.sessionIds.sort(), keysOf(s, ['42-2h', '7-2h', '42-2d', 'anonymous-2d']))

      const dry = await sessionctl(['sessions', 'cleanup', ...store(), '--lifetime', '60', '--dry-run'])
      assert.equal(dry.code, 0, dry.stderr)
      assert.match(dry.stdout, / 4 expired sessions /)
      const clean = await cli(['sessions', 'cleanup', ...store(), '--lifetime', '60'])
      assert.equal(clean.code, 0, clean.stderr)
      assert.equal(clean.doc.deleted, 4)
      assert.equal((await arTrim({...target(), lifetimeMinutes: 60})).deleted, 0, 'the trim finds nothing more to delete')
      const rows = (await arRows(target())).map(r => r.sessionId).sort()
      assert.deepEqual(rows, keysOf(s, [...CAST.map(([n]) => n), '42-30min']))
      const left = await arRead(target(), publicIds(s))
      assert.equal(left.filter(a => a.loaded).length, CAST.length + 1)
    })
  })
})
