/**
 * Flask-Session 0.3.2 with the real framework as the writer and the oracle: a Flask 2.2 app with
 * Flask-Session (SESSION_TYPE redis and sqlalchemy over MariaDB) and Flask-Login writes the sessions
 * through Flask's test client (test/flask/oracle.py); the built CLI lists, purges and cleans; Flask-
 * Session then says which sessions still load. Users 4, 42, 420, 142, 4200, 'alice' and a UUID are
 * never confused; `_user_id` as the str Flask-Login writes and as an int both count as 42. The
 * msgpack and JSON values of Flask-Session ≥ 0.7 are read too.
 */
import {Redis} from 'ioredis'
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {sessionctl, sessionctlJson} from '../support/cli.js'
import {
  flaskIds, flaskMigrate, flaskRaw, flaskRead, type FlaskReadAnswer, type FlaskSession, type FlaskSqlTarget, type FlaskTarget, flaskWrite, mysqlParams,
  redisParams, requireFlask,
} from '../support/flask.js'
import {freshDatabase} from '../support/mysql.js'
import {testRedisUrl} from '../support/servers.js'

const UUID = '7c9e6679-7425-40de-944b-e07fc1f69e30'
const PICKLE_DB = 15
const MSGPACK_DB = 9
const HOUR = 3600
const auditLog = join(mkdtempSync(join(tmpdir(), 'sessionctl-flask-')), 'audit.log')

interface Doc {
  changed?: number
  deleted?: number
  dryRun?: boolean
  kept?: number
  matched?: number
  ownerUnknown?: number
  sessions: Array<{expired: boolean; id: string; state?: string; userId: string}>
  stores?: Array<Record<string, unknown>>
}

const cli = (args: string[]): Promise<{code: null | number; doc: Doc; stderr: string}> => sessionctlJson<Doc>(args)

/** The keys --show-keys prints: Redis the key without the `session:` prefix (the sid), SQL the session_id column (`session:<sid>`). */
const shown = (target: FlaskTarget, sid: string): string => (target.store === 'sql' ? `session:${sid}` : sid)
const ids = (doc: Doc): string[] => doc.sessions.map(s => s.id).sort()
const sorted = (xs: Array<string | undefined>): string[] => xs.map(x => x!).sort()

/** The sids Flask-Session loads and Flask-Login reads as `user`'s. */
const loadedAs = (answers: FlaskReadAnswer[], user: string): string[] => answers.filter(a => a.loaded && a.user === user).map(a => a.id).sort()

/** One session of each user that must never be confused with 42, plus 42's own. */
const CAST: Array<[string, FlaskSession]> = [
  ['42a', {attrs: {cart: [1, 2, 3]}, user: '42'}],
  ['42-int', {rawUserId: 42}],
  ['42-remember', {remember: true, user: '42'}],
  ['4', {user: '4'}],
  ['420', {user: '420'}],
  ['142', {user: '142'}],
  ['4200', {user: '4200'}],
  ['420-int', {rawUserId: 420}],
  ['alice', {user: 'alice'}],
  ['uuid', {user: UUID}],
  ['anonymous', {attrs: {cart: [42], note: '_user_id 42', user_id: 42}}],
]
const MINE = ['42a', '42-int', '42-remember']
/** The other users and their sessions in CAST. */
const OTHERS: Array<[string, string[]]> = [['4', ['4']], ['420', ['420', '420-int']], ['142', ['142']], ['4200', ['4200']], ['alice', ['alice']], [UUID, ['uuid']]]

async function writeCast(target: FlaskTarget, extra: Array<[string, FlaskSession]> = []): Promise<Map<string, string>> {
  const cast = [...CAST, ...extra]
  const written = await flaskWrite(target, cast.map(([, s]) => s))
  return new Map(cast.map(([name], i) => [name, written[i]]))
}

describe('Flask-Session 0.3.2 sessions (real Flask 2.2, Flask-Login 0.6, Flask-SQLAlchemy 3.0)', function () {
  this.timeout(180_000)
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let redis: Redis

  before(async function () {
    requireFlask(this)
    db = await freshDatabase()
    redis = new Redis(testRedisUrl())
  })

  after(async () => {
    await db?.conn.end()
    redis?.disconnect()
  })

  describe('Redis (SESSION_TYPE redis, pickled values)', () => {
    const target = (): FlaskTarget => ({redis: redisParams(testRedisUrl(), PICKLE_DB), store: 'redis'})
    const store = (): string[] => ['--store', `${testRedisUrl()}/${PICKLE_DB}`, '--format', 'flask']
    let s: Map<string, string>

    beforeEach(async () => {
      await redis.select(PICKLE_DB)
      await redis.flushdb()
      s = await writeCast(target(), [['42-not-permanent', {permanent: false, user: '42'}]])
    })

    it('list --user 42 gives exactly what Flask-Login reads as 42’s; 4, 420, 142, 4200, alice and a UUID are their own', async () => {
      const mine = sorted([...MINE, '42-not-permanent'].map(n => s.get(n)))
      const answers = await flaskRead(target(), [...s.values()])
      assert.deepEqual(loadedAs(answers, '42'), mine)
      assert.deepEqual(answers.filter(a => a.rawUserId === 42).map(a => a.id), [s.get('42-int')], 'one _user_id is the int 42')
      const listing = await flaskIds(target())
      assert.ok(listing.keys!.every(k => k.key === `session:${k.id}` && k.ttl > (31 * 24 * HOUR) - 60), 'session:<sid>, 31 days, permanent or not')

      const list = await cli(['sessions', 'list', ...store(), '--user', '42'])
      assert.equal(list.code, 0, list.stderr)
      assert.deepEqual(ids(list.doc), sorted([...MINE, '42-not-permanent'].map(n => shown(target(), s.get(n)!))))
      assert.ok(list.doc.sessions.every(x => x.userId === '42' && !x.expired), JSON.stringify(list.doc.sessions))
      for (const [user, names] of OTHERS) {
        const other = await cli(['sessions', 'list', ...store(), '--user', user])
        assert.equal(other.code, 0, other.stderr)
        assert.deepEqual(ids(other.doc), sorted(names.map(n => shown(target(), s.get(n)!))), `user ${user}`)
        assert.deepEqual(ids(other.doc), sorted(loadedAs(answers, user).map(id => shown(target(), id))), `Flask-Login agrees for ${user}`)
      }

      const everyone = await cli(['sessions', 'list', ...store()])
      assert.equal(everyone.code, 0, everyone.stderr)
      assert.equal(everyone.doc.sessions.length, s.size, 'every session, the anonymous one included')
      assert.equal(everyone.doc.sessions.find(x => x.id === shown(target(), s.get('anonymous')!))?.userId ?? null, null)
    })

    it('purge --dry-run deletes nothing; purge --except keeps the named one; Flask-Session then loads no other of 42’s and every other one', async () => {
      const keysBefore = (await redis.keys('*')).sort()
      const dry = await cli(['sessions', 'purge', ...store(), '--user', '42', '--except', s.get('42a')!, '--dry-run'])
      assert.equal(dry.code, 0, dry.stderr)
      assert.equal(dry.doc.deleted, 0)
      assert.equal(dry.doc.kept, 1)
      assert.deepEqual(ids(dry.doc), sorted(['42-int', '42-remember', '42-not-permanent'].map(n => shown(target(), s.get(n)!))))
      assert.deepEqual((await redis.keys('*')).sort(), keysBefore, 'the dry run deleted nothing')

      const r = await cli(['sessions', 'purge', ...store(), '--user', '42', '--except', s.get('42a')!, '--yes', '--audit-log', auditLog])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.doc.deleted, 3)
      assert.equal(r.doc.kept, 1)
      const left = await flaskRead(target(), [...s.values()])
      assert.deepEqual(loadedAs(left, '42'), [s.get('42a')])
      const gone = new Set(['42-int', '42-remember', '42-not-permanent'].map(n => s.get(n)))
      assert.deepEqual(left.filter(a => !a.loaded).map(a => a.id).sort(), [...gone].sort())
      assert.ok(left.every(a => a.loaded === !gone.has(a.id) && a.stored === a.loaded && a.error === null), JSON.stringify(left))
      assert.deepEqual((await flaskIds(target())).ids.sort(), [...s.values()].filter(id => !gone.has(id)).sort())

      const again = await cli(['sessions', 'purge', ...store(), '--user', '42', '--yes', '--audit-log', auditLog])
      assert.equal(again.code, 0, again.stderr)
      assert.equal(again.doc.deleted, 1)
      assert.deepEqual(loadedAs(await flaskRead(target(), [...s.values()]), '42'), [])
      assert.equal((await flaskIds(target())).ids.length, s.size - 4)
    })
  })

  describe('Redis, the msgpack and JSON values of Flask-Session ≥ 0.7', () => {
    const target = (serializer: 'any' | 'json' | 'msgpack'): FlaskTarget => ({redis: redisParams(testRedisUrl(), MSGPACK_DB), serializer, store: 'redis'})
    const store = (): string[] => ['--store', `${testRedisUrl()}/${MSGPACK_DB}`, '--format', 'flask']

    it('msgpack.packb(dict) and json.dumps(dict) under session:<sid> are listed and purged like the pickles', async () => {
      await redis.select(MSGPACK_DB)
      await redis.flushdb()
      // The real app with the serializer of ≥ 0.7, and values stored directly.
      const viaApp = new Map<string, string>()
      for (const serializer of ['msgpack', 'json'] as const) {
        const written = await flaskWrite(target(serializer), [{user: '42'}, {rawUserId: 42}, {user: '420'}, {user: 'alice'}])
        for (const [i, name] of ['42', '42-int', '420', 'alice'].entries()) viaApp.set(`${serializer}-${name}`, written[i])
      }

      const rawNames = ['msgpack-raw-42', 'json-raw-42', 'msgpack-raw-4', 'json-raw-4200', 'msgpack-raw-anon', 'pickle-raw-142']
      const raw = await flaskRaw(target('any'), [
        // ≥ 0.7 makes its sids with secrets.token_urlsafe(32)
        {
          data: {_fresh: true, _permanent: true, _user_id: '42'}, encoding: 'msgpack', sid: randomBytes(32).toString('base64url'), ttlSeconds: HOUR,
        },
        {
          data: {_permanent: true, _user_id: 42}, encoding: 'json', sid: randomBytes(32).toString('base64url'), ttlSeconds: HOUR,
        },
        {data: {_user_id: '4'}, encoding: 'msgpack'},
        {data: {_user_id: 4200}, encoding: 'json'},
        {data: {cart: [42], user_id: 42}, encoding: 'msgpack'},
        {data: {_user_id: '142'}, encoding: 'pickle'},
      ])
      const s = new Map([...viaApp, ...rawNames.map((n, i): [string, string] => [n, raw[i]])])
      const mineNames = ['msgpack-42', 'msgpack-42-int', 'json-42', 'json-42-int', 'msgpack-raw-42', 'json-raw-42']
      const mine = sorted(mineNames.map(n => s.get(n)))
      const answers = await flaskRead(target('any'), [...s.values()])
      assert.ok(answers.every(a => a.loaded), JSON.stringify(answers.filter(a => !a.loaded)))
      assert.deepEqual(loadedAs(answers, '42'), mine)

      const list = await cli(['sessions', 'list', ...store(), '--user', '42'])
      assert.equal(list.code, 0, list.stderr)
      assert.deepEqual(ids(list.doc), mine)
      assert.deepEqual(list.doc.stores?.[0]?.undecodable ?? {}, {}, 'every value was read')
      const others: Array<[string, string[]]> = [
        ['4', ['msgpack-raw-4']], ['420', ['msgpack-420', 'json-420']], ['4200', ['json-raw-4200']], ['142', ['pickle-raw-142']], ['alice', ['msgpack-alice', 'json-alice']],
      ]
      for (const [user, names] of others) {
        const other = await cli(['sessions', 'list', ...store(), '--user', user])
        assert.equal(other.code, 0, other.stderr)
        assert.deepEqual(ids(other.doc), sorted(names.map(n => s.get(n))), `user ${user}`)
      }

      const purge = await cli(['sessions', 'purge', ...store(), '--user', '42', '--except', s.get('json-raw-42')!, '--yes', '--audit-log', auditLog])
      assert.equal(purge.code, 0, purge.stderr)
      assert.equal(purge.doc.deleted, mineNames.length - 1)
      const left = await flaskRead(target('any'), [...s.values()])
      assert.deepEqual(loadedAs(left, '42'), [s.get('json-raw-42')])
      assert.equal(left.filter(a => a.loaded).length, s.size - (mineNames.length - 1))
      assert.ok((await redis.ttl(`session:${s.get('json-raw-42')}`)) > HOUR - 60, 'the kept one keeps its TTL')
    })
  })

  describe('MariaDB (SESSION_TYPE sqlalchemy)', () => {
    const target = (table: string): FlaskSqlTarget => ({mysql: mysqlParams(db.url), store: 'sql', table})
    const store = (table: string): string[] => ['--store', db.url, '--format', 'flask', '--table', table]

    async function sqlCast(table: string, extra: Array<[string, FlaskSession]> = []): Promise<Map<string, string>> {
      await flaskMigrate({...target(table), fresh: true})
      return writeCast(target(table), [
        ['42-expired', {expiresInSeconds: -3 * HOUR, user: '42'}],
        ['42-not-permanent', {permanent: false, user: '42'}],
        ...extra,
      ])
    }

    async function rows(table: string): Promise<Map<string, null | string>> {
      const listing = await flaskIds(target(table))
      return new Map(listing.rows!.map(r => [r.id!, r.expiry]))
    }

    it('the table is the one Flask-Session 0.3.2 maps; session_id is session:<sid>, a non-permanent session has a NULL expiry', async () => {
      const {ddl} = await flaskMigrate({...target('sessions_shape'), fresh: true})
      assert.match(ddl, /`session_id` varchar\(255\) DEFAULT NULL,\n {2}`data` blob DEFAULT NULL,\n {2}`expiry` datetime DEFAULT NULL/)
      assert.match(ddl, /UNIQUE KEY `session_id` \(`session_id`\)/)
      const [permanent, session] = await flaskWrite(target('sessions_shape'), [{user: '42'}, {permanent: false, user: '42'}])
      const listing = await flaskIds(target('sessions_shape'))
      const byId = new Map(listing.rows!.map(r => [r.id, r]))
      assert.equal(byId.get(permanent)?.sessionId, `session:${permanent}`)
      const days = (Date.parse(`${byId.get(permanent)!.expiry}Z`) - Date.now()) / 86_400_000
      assert.ok(days > 30.9 && days <= 31, `naive UTC, 31 days ahead: ${byId.get(permanent)!.expiry}`)
      assert.equal(byId.get(session)?.expiry, null)
      const [read] = await flaskRead(target('sessions_shape'), [session])
      assert.match(read.error ?? '', /^TypeError: /, '0.3.2 cannot compare a NULL expiry: the request dies')
    })

    it('list --user 42: the live ones Flask-Session loads as 42’s; --all adds the expired and the NULL-expiry rows', async () => {
      const table = 'sessions_list'
      const s = await sqlCast(table)
      const list = await cli(['sessions', 'list', ...store(table), '--user', '42'])
      assert.equal(list.code, 0, list.stderr)
      assert.deepEqual(ids(list.doc), sorted(MINE.map(n => shown(target(table), s.get(n)!))))
      const all = await cli(['sessions', 'list', ...store(table), '--user', '42', '--all'])
      assert.equal(all.code, 0, all.stderr)
      assert.deepEqual(ids(all.doc), sorted([...MINE, '42-expired', '42-not-permanent'].map(n => shown(target(table), s.get(n)!))))
      const expired = sorted(['42-expired', '42-not-permanent'].map(n => shown(target(table), s.get(n)!)))
      assert.deepEqual(all.doc.sessions.filter(x => x.expired).map(x => x.id).sort(), expired)
      const expiredOnly = await cli(['sessions', 'list', ...store(table), '--user', '42', '--expired-only'])
      assert.deepEqual(ids(expiredOnly.doc), ids(all.doc).filter(id => !ids(list.doc).includes(id)))
      for (const [user, names] of OTHERS) {
        const other = await cli(['sessions', 'list', ...store(table), '--user', user])
        assert.equal(other.code, 0, other.stderr)
        assert.deepEqual(ids(other.doc), sorted(names.map(n => shown(target(table), s.get(n)!))), `user ${user}`)
      }

      // Flask-Session agrees (and, reading, deletes the row past its expiry itself; the NULL one kills the request).
      const answers = await flaskRead(target(table), [...s.values()])
      assert.deepEqual(loadedAs(answers, '42'), sorted(MINE.map(n => s.get(n))))
      const byId = new Map(answers.map(a => [a.id, a]))
      assert.equal(byId.get(s.get('42-expired')!)?.loaded, false)
      assert.match(byId.get(s.get('42-not-permanent')!)?.error ?? '', /^TypeError: /)
    })

    it('purge --dry-run deletes nothing; purge --except keeps the named one; Flask-Session then loads no other of 42’s and every other one', async () => {
      const table = 'sessions_purge'
      const s = await sqlCast(table)
      const before = await rows(table)
      const dry = await cli(['sessions', 'purge', ...store(table), '--user', '42', '--except', s.get('42a')!, '--dry-run'])
      assert.equal(dry.code, 0, dry.stderr)
      assert.equal(dry.doc.deleted, 0)
      assert.equal(dry.doc.kept, 1)
      const doomed = ['42-int', '42-remember', '42-expired', '42-not-permanent']
      assert.deepEqual(ids(dry.doc), sorted(doomed.map(n => shown(target(table), s.get(n)!))))
      assert.deepEqual(await rows(table), before, 'the dry run deleted nothing')

      const r = await cli(['sessions', 'purge', ...store(table), '--user', '42', '--except', s.get('42a')!, '--yes', '--audit-log', auditLog])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.doc.deleted, doomed.length)
      assert.equal(r.doc.kept, 1)
      const gone = new Set(doomed.map(n => s.get(n)))
      assert.deepEqual([...(await rows(table)).keys()].sort(), [...s.values()].filter(id => !gone.has(id)).sort())
      const left = await flaskRead(target(table), [...s.values()])
      assert.deepEqual(loadedAs(left, '42'), [s.get('42a')])
      assert.ok(left.every(a => a.loaded === !gone.has(a.id) && a.error === null), JSON.stringify(left.filter(a => a.loaded === gone.has(a.id) || a.error)))

      // --except also takes the key as --show-keys prints it (the session_id column).
      const shownExcept = await cli(['sessions', 'purge', ...store(table), '--user', '42', '--except', shown(target(table), s.get('42a')!), '--dry-run'])
      assert.equal(shownExcept.code, 0, shownExcept.stderr)
      assert.equal(shownExcept.doc.kept, 1)
      assert.deepEqual(ids(shownExcept.doc), [])
    })

    it('purge --expired-only takes 42’s expired and NULL-expiry rows only; cleanup deletes every expired and NULL-expiry row and keeps the live ones', async () => {
      const table = 'sessions_gc'
      const s = await sqlCast(table, [
        ['7-expired', {expiresInSeconds: -5 * HOUR, user: '7'}],
        ['420-not-permanent', {permanent: false, user: '420'}],
        ['anon-null', {attrs: {cart: [1]}, expiresInSeconds: null}],
        ['42-soon', {expiresInSeconds: 120, user: '42'}],
      ])
      const expiredOnly = await cli(['sessions', 'purge', ...store(table), '--user', '42', '--expired-only', '--yes', '--audit-log', auditLog])
      assert.equal(expiredOnly.code, 0, expiredOnly.stderr)
      assert.equal(expiredOnly.doc.deleted, 2)
      assert.deepEqual(ids(expiredOnly.doc), sorted(['42-expired', '42-not-permanent'].map(n => shown(target(table), s.get(n)!))))
      const afterPurge = await rows(table)
      assert.deepEqual([...afterPurge.keys()].sort(), [...s.values()].filter(id => id !== s.get('42-expired') && id !== s.get('42-not-permanent')).sort())

      const dead = ['7-expired', '420-not-permanent', 'anon-null']
      const dry = await sessionctl(['sessions', 'cleanup', ...store(table), '--dry-run'])
      assert.equal(dry.code, 0, dry.stderr)
      assert.match(dry.stdout, new RegExp(` ${dead.length} expired sessions `))
      assert.equal((await rows(table)).size, afterPurge.size, 'the dry run deleted nothing')
      const clean = await cli(['sessions', 'cleanup', ...store(table)])
      assert.equal(clean.code, 0, clean.stderr)
      assert.equal(clean.doc.deleted, dead.length)
      const left = await rows(table)
      const live = [...s].filter(([n]) => !dead.includes(n) && n !== '42-expired' && n !== '42-not-permanent')
      assert.deepEqual([...left.keys()].sort(), live.map(([, id]) => id).sort())
      assert.ok([...left.values()].every(expiry => expiry !== null && Date.parse(`${expiry}Z`) > Date.now()), 'only live rows are left')
      const reads = await flaskRead(target(table), [...left.keys()])
      assert.ok(reads.every(a => a.loaded && a.error === null), `every row left is one Flask-Session still serves: ${JSON.stringify(reads.filter(a => !a.loaded))}`)
      assert.deepEqual(loadedAs(reads, '42'), sorted([...MINE, '42-soon'].map(n => s.get(n))))
      const twice = await cli(['sessions', 'cleanup', ...store(table)])
      assert.equal(twice.doc.deleted, 0)
    })

    it('msgpack rows of Flask-Session ≥ 0.7 (and a live, a past and a NULL expiry) are read', async () => {
      const table = 'sessions_msgpack'
      await flaskMigrate({...target(table), fresh: true})
      const names = ['42-live', '42-past', '42-null', '420-live', '42-json']
      const raw = await flaskRaw(target(table), [
        {data: {_permanent: true, _user_id: '42'}, encoding: 'msgpack'},
        {data: {_permanent: true, _user_id: 42}, encoding: 'msgpack', expiresInSeconds: -HOUR},
        {data: {_user_id: '42'}, encoding: 'msgpack', expiresInSeconds: null},
        {data: {_permanent: true, _user_id: '420'}, encoding: 'msgpack'},
        {data: {_permanent: true, _user_id: 42}, encoding: 'json'},
      ])
      const s = new Map(names.map((n, i) => [n, raw[i]]))
      const answers = await flaskRead({...target(table), serializer: 'any'}, [s.get('42-live')!, s.get('420-live')!, s.get('42-json')!])
      assert.deepEqual(answers.map(a => a.user), ['42', '420', '42'])
      const all = await cli(['sessions', 'list', ...store(table), '--user', '42', '--all'])
      assert.equal(all.code, 0, all.stderr)
      assert.deepEqual(ids(all.doc), sorted(['42-live', '42-past', '42-null', '42-json'].map(n => shown(target(table), s.get(n)!))))
      assert.deepEqual(all.doc.sessions.filter(x => x.expired).map(x => x.id).sort(), sorted(['42-past', '42-null'].map(n => shown(target(table), s.get(n)!))))
      const purge = await cli(['sessions', 'purge', ...store(table), '--user', '42', '--yes', '--audit-log', auditLog])
      assert.equal(purge.code, 0, purge.stderr)
      assert.equal(purge.doc.deleted, 4)
      assert.deepEqual((await flaskIds(target(table))).ids, [s.get('420-live')])
    })
  })
})
