/**
 * Laravel 8.83 and PHP native sessions, with the real framework as the writer and the oracle:
 * Illuminate's Store/EncryptedStore with its database and Redis handlers, and PHP's session module
 * over phpredis, write the sessions (test/php/oracle.php); the built CLI lists, purges and cleans;
 * Laravel and PHP then say which sessions are left. Users 4, 42, 420, 142, 4200 and a UUID are
 * never confused.
 */
import {Redis} from 'ioredis'
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {sessionctl, sessionctlJson} from '../support/cli.js'
import {freshDatabase} from '../support/mysql.js'
import {
  laravelCacheItems, laravelGc, laravelIds, laravelMigrate, laravelRead, type LaravelSession, type LaravelTarget, laravelWrite,
  mysqlParams, type NativeSession, type NativeTarget, phpIds, phpRead, phpWrite, redisParams, requirePhp, type SerializeHandler,
} from '../support/php.js'
import {testRedisUrl} from '../support/servers.js'

const UUID = '7c9e6679-7425-40de-944b-e07fc1f69e30'
const LARAVEL_DB = 11
const NATIVE_DB = 12
const appKey = `base64:${randomBytes(32).toString('base64')}`
const auditLog = join(mkdtempSync(join(tmpdir(), 'sessionctl-php-')), 'audit.log')

interface Doc {
  changed?: number
  deleted?: number
  kept?: number
  ownerUnknown?: number
  sessions: Array<{expired: boolean; id: string; userId: string}>
  stores?: Array<Record<string, unknown>>
}

const cli = (args: string[], env: Record<string, string | undefined> = {}): Promise<{code: null | number; doc: Doc; stderr: string}> =>
  sessionctlJson<Doc>(args, {env: {APP_KEY: undefined, ...env}})

const ids = (doc: Doc): string[] => doc.sessions.map(s => s.id).sort()

/** One session of each user that must never be confused with 42, plus 42's own. */
const CAST: Array<[string, LaravelSession]> = [
  ['42a', {attrs: {cart: [1, 2, 3]}, user: 42}],
  ['42b', {user: 42}],
  ['42-string', {provider: 'any', user: '42'}],
  ['4', {user: 4}],
  ['420', {user: 420}],
  ['142', {user: 142}],
  ['4200', {user: 4200}],
  ['anonymous', {user: null}],
]
/** A UUID user: the stock table's bigint user_id refuses the row under strict mode (no session at all), so Redis only. */
const UUID_CAST: Array<[string, LaravelSession]> = [['uuid', {user: UUID}]]

describe('Laravel and PHP native sessions (real Illuminate 8.83 and phpredis 5.3.7)', function () {
  this.timeout(180_000)
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let redis: Redis

  before(async function () {
    requirePhp(this)
    db = await freshDatabase()
    redis = new Redis(testRedisUrl())
  })

  after(async () => {
    await db?.conn.end()
    redis?.disconnect()
  })

  async function writeCast(target: LaravelTarget, extra: Array<[string, LaravelSession]> = []): Promise<Map<string, string>> {
    const cast = [...CAST, ...extra]
    // Redis: users come from the any-id provider (no users table there).
    const written = await laravelWrite(target, cast.map(([, s]) => (target.driver === 'redis' ? {...s, provider: 'any'} : s)))
    return new Map(cast.map(([name], i) => [name, written[i]]))
  }

  describe('database driver', () => {
    const table = (name: string): LaravelTarget => ({driver: 'database', mysql: mysqlParams(db.url), table: name})
    const store = (name: string): string[] => ['--store', db.url, '--format', 'laravel', '--table', name]

    it('list --user 42 gives exactly what Laravel reads as 42’s live sessions, through the user_id index', async () => {
      const target = table('sessions_list')
      await laravelMigrate({...target, fresh: true})
      const s = await writeCast(target, [
        ['42-expired', {ageSeconds: 3 * 3600, user: 42}],
        ['42-once', {once: true, user: 42}],
        ['42-admin', {guard: 'admin', user: 42}],
        ['42-logged-out', {logoutWithoutInvalidate: true, user: 42}],
      ])
      const answers = await laravelRead(target, [...s.values()])
      const laravel42 = answers.filter(a => a.loaded && a.user === '42').map(a => a.id).sort()
      assert.deepEqual(laravel42, [s.get('42a'), s.get('42b'), s.get('42-string')].sort())
      const live = await cli(['sessions', 'list', ...store('sessions_list'), '--user', '42'])
      assert.equal(live.code, 0, live.stderr)
      assert.deepEqual(ids(live.doc), laravel42)
      // The column says 42 for onceUsingId, the payload says nobody: left alone, and reported.
      assert.equal((live.doc.stores![0] as {userMismatch?: number}).userMismatch, 1)
      const all = await cli(['sessions', 'list', ...store('sessions_list'), '--user', '42', '--all'])
      assert.deepEqual(ids(all.doc), [...laravel42, s.get('42-expired')].sort())
      assert.deepEqual(all.doc.sessions.filter(x => x.expired).map(x => x.id), [s.get('42-expired')])
      for (const user of ['4', '420', '142', '4200']) {
        const other = await cli(['sessions', 'list', ...store('sessions_list'), '--user', user])
        assert.deepEqual(ids(other.doc), [s.get(user)], `user ${user}`)
      }

      // A login on another guard leaves user_id NULL: --guard admin reads the payload of every row.
      const admin = await cli(['sessions', 'list', ...store('sessions_list'), '--user', '42', '--guard', 'admin'])
      assert.equal(admin.code, 0, admin.stderr)
      assert.deepEqual(ids(admin.doc), [s.get('42-admin')])
      assert.deepEqual((await laravelRead({...target, guard: 'admin'}, [s.get('42-admin')!]))[0].user, '42')
    })

    it('list shows the ip address, user agent and last activity Laravel keeps beside the session', async () => {
      const target = table('sessions_details')
      await laravelMigrate({...target, fresh: true})
      const now = Math.floor(Date.now() / 1000)
      const [id] = await laravelWrite(target, [{
        ageSeconds: 60, ip: '203.0.113.7', user: 42, userAgent: `Mozilla/5.0 (X11; Linux x86_64) ${'x'.repeat(80)}`,
      }])
      const r = await cli(['sessions', 'list', ...store('sessions_details'), '--user', '42'])
      const [session] = r.doc.sessions as Array<{details?: Record<string, string>; id: string}>
      assert.equal(session.id, id)
      assert.equal(session.details?.ip, '203.0.113.7')
      assert.match(session.details!.userAgent, /^Mozilla\/5\.0 \(X11; Linux x86_64\) x{80}$/)
      assert.ok(Math.abs((Date.parse(session.details!.lastActivity) / 1000) - (now - 60)) <= 5, session.details!.lastActivity)
      // The detail columns are in -o wide (the table keeps to the session's own); into a pipe nothing is cut.
      const table_ = await sessionctl(['sessions', 'list', ...store('sessions_details'), '--user', '42'])
      assert.doesNotMatch(table_.stdout, /USER AGENT/)
      const wide = await sessionctl(['sessions', 'list', ...store('sessions_details'), '--user', '42', '-o', 'wide'])
      assert.match(wide.stdout, /IP +USER AGENT +LAST ACTIVITY +STORE/)
      assert.match(wide.stdout, /203\.0\.113\.7 +Mozilla\/5\.0 \(X11; Linux x86_64\) x{80} +\d{4}-\d{2}-\d{2}T/)
    })

    it('a UUID that MariaDB cut down to user_id 42 (strict off) is not user 42’s: the payload decides, and it is reported', async () => {
      const target: LaravelTarget = {driver: 'database', mysql: mysqlParams(db.url, {strict: false}), table: 'sessions_lax'}
      await laravelMigrate({...target, fresh: true})
      const [truncated, real] = await laravelWrite(target, [{provider: 'any', user: '42a1b2c3-5d6e-4f70-8a9b-0c1d2e3f4a5b'}, {user: 42}])
      const [rows] = await db.conn.query('SELECT CAST(user_id AS CHAR) AS u FROM sessions_lax WHERE id = ?', [truncated])
      assert.equal((rows as Array<{u: string}>)[0].u, '42', 'MariaDB truncated the UUID to 42')
      const r = await cli(['sessions', 'purge', ...store('sessions_lax'), '--user', '42', '--yes', '--audit-log', auditLog])
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(ids(r.doc), [real])
      assert.equal((r.doc.stores![0] as {userMismatch?: number}).userMismatch, 1)
      assert.deepEqual((await laravelIds(target)).ids, [truncated])
    })

    it('purge --except --yes: Laravel then reads only the kept one of 42’s sessions; nobody else’s is touched', async () => {
      const target = table('sessions_purge')
      await laravelMigrate({...target, fresh: true})
      const s = await writeCast(target, [['42-expired', {ageSeconds: 3 * 3600, user: 42}]])
      const dry = await cli(['sessions', 'purge', ...store('sessions_purge'), '--user', '42', '--except', s.get('42b')!, '--dry-run'])
      assert.equal(dry.code, 0, dry.stderr)
      assert.equal(dry.doc.deleted, 0)
      assert.deepEqual(ids(dry.doc), [s.get('42a'), s.get('42-string'), s.get('42-expired')].sort())
      const before = (await laravelIds(target)).ids.length
      assert.equal(before, CAST.length + 1, 'the dry run deleted nothing')
      const r = await cli(['sessions', 'purge', ...store('sessions_purge'), '--user', '42', '--except', s.get('42b')!, '--yes', '--audit-log', auditLog])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.doc.deleted, 3)
      assert.equal(r.doc.kept, 1)
      const left = await laravelRead(target, [...s.values()])
      assert.deepEqual(left.filter(a => a.user === '42' && a.loaded).map(a => a.id), [s.get('42b')])
      assert.deepEqual((await laravelIds(target)).ids.sort(), [...s].filter(([n]) => !['42-expired', '42-string', '42a'].includes(n)).map(([, id]) => id).sort())
    })

    it('purge --expired-only takes the expired ones only; cleanup deletes what Laravel’s gc() deletes and nothing more', async () => {
      const target = table('sessions_gc')
      await laravelMigrate({...target, fresh: true})
      const s = await writeCast(target, [
        ['42-expired', {ageSeconds: 3 * 3600, user: 42}],
        ['7-expired', {ageSeconds: 5 * 3600, user: 7}],
        ['anon-expired', {ageSeconds: 7201 + 60, user: null}],
      ])
      const expiredOnly = await cli(['sessions', 'purge', ...store('sessions_gc'), '--user', '42', '--expired-only', '--yes', '--audit-log', auditLog])
      assert.equal(expiredOnly.code, 0, expiredOnly.stderr)
      assert.equal(expiredOnly.doc.deleted, 1)
      assert.ok(!(await laravelIds(target)).ids.includes(s.get('42-expired')!))
      const dry = await sessionctl(['sessions', 'cleanup', ...store('sessions_gc'), '--dry-run'])
      assert.match(dry.stdout, / 2 expired sessions /)
      const clean = await cli(['sessions', 'cleanup', ...store('sessions_gc')])
      assert.equal(clean.code, 0, clean.stderr)
      assert.equal(clean.doc.deleted, 2)
      const gc = await laravelGc(target)
      assert.equal(gc.deleted, 0, `Laravel's gc() found ${gc.deleted} more to delete`)
      const reads = await laravelRead(target, (await laravelIds(target)).ids)
      assert.ok(reads.every(a => a.loaded), 'every session left is one Laravel still serves')
      assert.equal(reads.length, CAST.length)
    })

    it('--lifetime moves the expiry: with 1 minute every session of the cast but the newest is expired', async () => {
      const target = {...table('sessions_lifetime'), lifetimeMinutes: 1}
      await laravelMigrate({...target, fresh: true})
      const s = await laravelWrite(target, [{ageSeconds: 120, user: 42}, {user: 42}])
      const r = await cli(['sessions', 'list', ...store('sessions_lifetime'), '--user', '42', '--lifetime', '1'])
      assert.deepEqual(ids(r.doc), [s[1]])
      const laravel = await laravelRead(target, s)
      assert.deepEqual(laravel.map(a => a.loaded), [false, true])
    })

    it('encrypted sessions: read with APP_KEY; without it a purge cannot say done (exit 7); a wrong key reads them as nobody’s', async () => {
      const target: LaravelTarget = {...table('sessions_enc'), appKey, encrypt: true}
      await laravelMigrate({...target, fresh: true})
      const s = await writeCast(target)
      const withKey = await cli(['sessions', 'list', ...store('sessions_enc'), '--user', '42'], {APP_KEY: appKey})
      assert.equal(withKey.code, 0, withKey.stderr)
      assert.deepEqual(ids(withKey.doc), [s.get('42a'), s.get('42b'), s.get('42-string')].sort())
      const without = await cli(['sessions', 'purge', ...store('sessions_enc'), '--user', '42', '--dry-run'])
      assert.equal(without.code, 7, without.stderr)
      assert.match(without.stderr, /encrypted \(give --app-key\)/)
      const wrong = await cli(['sessions', 'list', ...store('sessions_enc'), '--user', '42', '--app-key', `base64:${randomBytes(32).toString('base64')}`])
      assert.equal(wrong.code, 0, wrong.stderr)
      assert.deepEqual(ids(wrong.doc), [])
      const purge = await cli(['sessions', 'purge', ...store('sessions_enc'), '--user', '42', '--yes', '--audit-log', auditLog], {APP_KEY: appKey})
      assert.equal(purge.code, 0, purge.stderr)
      assert.equal(purge.doc.deleted, 3)
      const left = await laravelRead(target, [...s.values()])
      assert.deepEqual(left.filter(a => a.loaded && a.user === '42'), [])
      assert.equal(left.filter(a => a.loaded).length, CAST.length - 3)
    })

    it('bad --app-key, --lifetime and --guard: one line, exit 2, nothing read', async () => {
      for (const [args, message] of [
        [['--app-key', 'base64:short'], /--app-key: /],
        [['--lifetime', 'ten'], /--lifetime "ten" is not a whole number of minutes/],
        [['--lifetime', '0'], /--lifetime 0 is out of range/],
        [['--guard', 'web guard'], /--guard "web guard" is not a guard name/],
      ] as Array<[string[], RegExp]>) {
        const r = await sessionctl(['sessions', 'list', ...store('sessions_list'), '--user', '42', ...args], {env: {APP_KEY: undefined}})
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
        assert.match(r.stderr, message)
        assert.equal(r.stderr.trim().split('\n').length, 1)
        assert.ok(!r.stderr.includes('short') || args[0] !== '--app-key', 'the key is not echoed')
      }

      const django = await sessionctl(['sessions', 'list', '--store', db.url, '--user', '42', '--guard', 'web'])
      assert.equal(django.code, 2)
      assert.match(django.stderr, /--guard applies to --format laravel only/)
    })
  })

  describe('redis driver', () => {
    const target: () => LaravelTarget = () => ({driver: 'redis', redis: redisParams(testRedisUrl(), {db: LARAVEL_DB})})
    const store = (): string[] => ['--store', `${testRedisUrl()}/${LARAVEL_DB}`, '--format', 'laravel']

    it('list and purge 42’s sessions; the app’s cache items under the same prefix are never touched', async () => {
      await redis.select(LARAVEL_DB)
      await redis.flushdb()
      const s = await writeCast(target(), UUID_CAST)
      await laravelCacheItems(target(), [
        {key: 'views:home', seconds: 3600, value: 42},
        {key: 'user_42_profile', seconds: 600, value: {id: 42, name: 'Zoë'}},
        {forever: true, key: 'feature_flags', value: {beta: true}},
      ])
      const keysBefore = (await redis.keys('*')).sort()
      const list = await cli(['sessions', 'list', ...store(), '--user', '42'])
      assert.equal(list.code, 0, list.stderr)
      assert.deepEqual(ids(list.doc), [s.get('42a'), s.get('42b'), s.get('42-string')].sort())
      const purge = await cli(['sessions', 'purge', ...store(), '--user', '42', '--yes', '--audit-log', auditLog])
      assert.equal(purge.code, 0, purge.stderr)
      assert.equal(purge.doc.deleted, 3)
      const left = await laravelRead(target(), [...s.values()])
      assert.deepEqual(left.filter(a => a.loaded).map(a => a.user).sort(), ['142', '4', '420', '4200', UUID, null].sort())
      const keysAfter = (await redis.keys('*')).sort()
      assert.deepEqual(keysAfter, keysBefore.filter(k => ![s.get('42a'), s.get('42b'), s.get('42-string')].some(id => k.endsWith(id!))))
      assert.ok(keysAfter.some(k => k.endsWith('feature_flags')) && keysAfter.some(k => k.endsWith('views:home')))
    })
  })

  describe('PHP native sessions (phpredis), every serialize handler', () => {
    for (const handler of ['php', 'php_serialize', 'php_binary', 'igbinary'] as SerializeHandler[]) {
      it(`${handler}: list and purge by --user-path; the _LOCK key and the other users stay`, async () => {
        await redis.select(NATIVE_DB)
        await redis.flushdb()
        const target: NativeTarget = {redis: redisParams(testRedisUrl(), {db: NATIVE_DB}), serializeHandler: handler}
        const users = [42, '42', 4, 420, 142, 4200, UUID, null]
        const written = await phpWrite(target, [
          ...users.map((u): NativeSession => ({data: u === null ? {visits: 1} : {note: 'user_id|i:42;', prev_user_id: 42, user_id: u}})),
          {data: {auth: {user: {id: 42}}}},
          {data: {user_id: 42}, leaveLock: true},
        ])
        const store = ['--store', `${testRedisUrl()}/${NATIVE_DB}`, '--format', 'php', '--user-path', 'user_id']
        const list = await cli(['sessions', 'list', ...store, '--user', '42'])
        assert.equal(list.code, 0, list.stderr)
        const mine = [written[0], written[1], written[9]].sort()
        assert.deepEqual(ids(list.doc), mine)
        const nested = await cli(['sessions', 'list', '--store', `${testRedisUrl()}/${NATIVE_DB}`, '--format', 'php', '--user-path', 'auth.user.id', '--user', '42'])
        assert.deepEqual(ids(nested.doc), [written[8]])
        const lockKeys = (await redis.keys('*_LOCK'))
        assert.equal(lockKeys.length, 1)
        const purge = await cli(['sessions', 'purge', ...store, '--user', '42', '--yes', '--audit-log', auditLog])
        assert.equal(purge.code, 0, purge.stderr)
        assert.equal(purge.doc.deleted, 3)
        const read = await phpRead(target, written)
        assert.deepEqual(read.filter(a => a.loaded && a.stored).map(a => a.id).sort(), written.filter(id => !mine.includes(id)).sort())
        assert.deepEqual(await redis.keys('*_LOCK'), lockKeys)
        assert.equal((await phpIds(target)).ids.length, written.length - 3)
      })
    }

    it('--format php without --user-path is one line, exit 2', async () => {
      const r = await sessionctl(['sessions', 'list', '--store', `${testRedisUrl()}/${NATIVE_DB}`, '--format', 'php', '--user', '42'])
      assert.equal(r.code, 2)
      assert.match(r.stderr, /--format php needs --user-path/)
    })
  })
})
