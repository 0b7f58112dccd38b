/**
 * express-session sessions written by the real stores (connect-redis 9 on Redis,
 * express-mysql-session 3 on MariaDB) and read back through the same stores: sessionctl's
 * list/purge must select exactly what the stores themselves hold for the user.
 */
import {RedisStore} from 'connect-redis'
import session from 'express-session'
import assert from 'node:assert/strict'
import {createClient} from 'redis'

import {sessionctl} from '../support/cli.js'
import {
  cookie, type ExpressStores, get, openExpressStores, set,
} from '../support/express-session.js'
import {freshDatabase} from '../support/mysql.js'
import {testRedisUrl} from '../support/servers.js'

type StoreLike = ExpressStores['mysqlStore']

const HOUR = 3_600_000

interface Seed {
  sid: string
  data: Record<string, unknown>
  expiresIn: number
}

const SEEDS: Seed[] = [
  {data: {passport: {user: 42}}, expiresIn: 2 * HOUR, sid: 'numeric42aaaaaaaaaaaaaaaaaaaaaaaa'},
  {data: {passport: {user: 42}, views: 3}, expiresIn: 5 * HOUR, sid: 'numeric42bbbbbbbbbbbbbbbbbbbbbbbb'},
  {data: {passport: {user: '42'}}, expiresIn: HOUR, sid: 'string42ccccccccccccccccccccccccc'},
  {data: {passport: {user: 420}}, expiresIn: HOUR, sid: 'user420ddddddddddddddddddddddddd'},
  {data: {passport: {user: 4}}, expiresIn: HOUR, sid: 'user4eeeeeeeeeeeeeeeeeeeeeeeeeee'},
  {data: {passport: {}}, expiresIn: HOUR, sid: 'loggedoutfffffffffffffffffffffff'},
  {data: {views: 1}, expiresIn: HOUR, sid: 'anonymousgggggggggggggggggggggggg'},
  {data: {auth: {userId: 42}, passport: {user: 7}}, expiresIn: HOUR, sid: 'custompathhhhhhhhhhhhhhhhhhhhhhhh'},
]

/**
 * Every session the store itself serves. connect-redis's all() throws on a value that is not
 * JSON, so for it: ids(), then get() each, skipping what the store cannot read.
 */
async function all(store: session.Store): Promise<Record<string, session.SessionData>> {
  if (store instanceof RedisStore) {
    const out: Record<string, session.SessionData> = {}
    for (const sid of await store.ids()) {
      const value = await get(store, sid).catch(() => null)
      if (value) out[sid] = value
    }

    return out
  }

  return new Promise((resolve, reject) => {
    store.all!((error, value) => {
      if (error) reject(error)
      else resolve((value ?? {}) as Record<string, session.SessionData>)
    })
  })
}

/** The stores' own answer: what they hold whose passport.user is the user, as text. */
async function ownAnswer(store: session.Store, user: string): Promise<string[]> {
  const sessions = await all(store)
  return Object.entries(sessions)
  .filter(([, s]) => String((s as {passport?: {user?: unknown}}).passport?.user) === user)
  .map(([sid]) => sid)
  .sort()
}

async function cli(args: string[]): Promise<{code: null | number; doc: {deleted?: number; sessions: Array<{id: string; userId: string}>}; stderr: string}> {
  const r = await sessionctl([...args, '--format', 'express', '--show-keys', '--json'])
  return {code: r.code, doc: JSON.parse(r.stdout), stderr: r.stderr}
}

const ids = (doc: {sessions: Array<{id: string}>}): string[] => doc.sessions.map(s => s.id).sort()

describe('express-session stores (real connect-redis and express-mysql-session)', function () {
  this.timeout(60_000)
  let redisClient: ReturnType<typeof createClient>
  let redisStore: RedisStore
  let mysqlStore: StoreLike
  let mysqlDb: Awaited<ReturnType<typeof freshDatabase>>
  let prefix: string
  let redisUrl: string
  let mysqlUrl: string
  let run = 0
  let stores: ExpressStores

  beforeEach(async () => {
    run++
    prefix = `exp${run}:${Date.now()}:`
    stores = await openExpressStores(prefix)
    mysqlDb = stores.mysqlDb
    mysqlStore = stores.mysqlStore
    redisClient = stores.redisClient
    redisStore = stores.redisStore
    for (const seed of SEEDS) {
      const data = {...seed.data, cookie: cookie(seed.expiresIn)} as session.SessionData
      await set(redisStore, seed.sid, data)
      await set(mysqlStore, seed.sid, data)
    }

    // express-mysql-session keeps expired rows until its own cleanup (disabled here).
    await set(mysqlStore, 'expired42iiiiiiiiiiiiiiiiiiiiiiii', {cookie: cookie(-HOUR), passport: {user: 42}} as unknown as session.SessionData)
    // Values no framework wrote.
    await redisClient.set(`${prefix}garbagejjjjjjjjjjjjjjjjjjjjjjjjj`, 'not json {')
    await mysqlDb.conn.query('INSERT INTO sessions VALUES (?, ?, ?)', ['garbagejjjjjjjjjjjjjjjjjjjjjjjjj', Math.round(Date.now() / 1000) + 3600, '[1,2'])
    redisUrl = testRedisUrl()
    mysqlUrl = mysqlDb.url
  })

  afterEach(async () => {
    await stores.close()
  })

  it('lists the same sessions of user 42 as connect-redis holds (42 and "42" alike)', async () => {
    const expected = await ownAnswer(redisStore, '42')
    assert.equal(expected.length, 3)
    const {code, doc, stderr} = await cli(['sessions', 'list', '--store', redisUrl, '--prefix', prefix, '--user', '42'])
    assert.equal(code, 0, stderr)
    assert.deepEqual(ids(doc), expected)
    assert.ok(doc.sessions.every(s => s.userId === '42'))
    // "not json {" cannot hold user 42: with --user it is not parsed, so not counted; --strict-counts counts it.
    assert.doesNotMatch(stderr, /undecodable/)
    const strict = await cli(['sessions', 'list', '--store', redisUrl, '--prefix', prefix, '--user', '42', '--strict-counts'])
    assert.deepEqual(ids(strict.doc), expected)
    assert.match(strict.stderr, /1 undecodable value skipped \(not JSON: 1\)/)
  })

  it('lists the same live sessions as express-mysql-session holds, and the expired row apart', async () => {
    const expected = await ownAnswer(mysqlStore, '42')
    assert.equal(expected.length, 3)
    assert.deepEqual(ids((await cli(['sessions', 'list', '--store', mysqlUrl, '--user', '42'])).doc), expected)
    const expired = await cli(['sessions', 'list', '--store', mysqlUrl, '--user', '42', '--expired-only'])
    assert.deepEqual(ids(expired.doc), ['expired42iiiiiiiiiiiiiiiiiiiiiiii'])
    assert.ok(!(await get(mysqlStore, 'expired42iiiiiiiiiiiiiiiiiiiiiiii')), 'the store itself no longer serves it')
  })

  it('purge --except on both stores in one command: the stores then hold only the kept session', async () => {
    const keep = 'numeric42bbbbbbbbbbbbbbbbbbbbbbbb'
    const before = {mysql: await all(mysqlStore), redis: await all(redisStore)}
    const {code, doc} = await cli(['sessions', 'purge', '--store', redisUrl, '--prefix', prefix, '--store', mysqlUrl, '--user', '42', '--except', keep, '--yes'])
    assert.equal(code, 0)
    assert.equal(doc.deleted, 2 + 3) // redis: 2 live; mysql: 2 live + 1 expired
    for (const store of [redisStore, mysqlStore]) {
      assert.deepEqual(await ownAnswer(store, '42'), [keep])
      assert.ok(await get(store, keep))
    }

    // Every other session is still served, unchanged.
    for (const [name, store] of [['redis', redisStore], ['mysql', mysqlStore]] as const) {
      const after = await all(store)
      for (const [sid, data] of Object.entries(before[name])) {
        if (String((data as {passport?: {user?: unknown}}).passport?.user) === '42' && sid !== keep) continue
        assert.deepEqual(after[sid], data, `${name} ${sid}`)
      }
    }
  })

  it('purge --expired-only deletes only the expired row; --dry-run deletes nothing', async () => {
    const dry = await cli(['sessions', 'purge', '--store', mysqlUrl, '--user', '42', '--dry-run'])
    assert.equal(dry.doc.sessions.length, 4)
    assert.equal((await ownAnswer(mysqlStore, '42')).length, 3)
    const {doc} = await cli(['sessions', 'purge', '--store', mysqlUrl, '--user', '42', '--expired-only', '--yes'])
    assert.equal(doc.deleted, 1)
    const [rows] = await mysqlDb.conn.query('SELECT session_id FROM sessions WHERE session_id = ?', ['expired42iiiiiiiiiiiiiiiiiiiiiiii'])
    assert.equal((rows as unknown[]).length, 0)
    assert.equal((await ownAnswer(mysqlStore, '42')).length, 3)
  })

  it('--user-path reads the user id elsewhere in the session', async () => {
    const {doc} = await cli(['sessions', 'list', '--store', redisUrl, '--prefix', prefix, '--user', '42', '--user-path', 'auth.userId'])
    assert.deepEqual(ids(doc), ['custompathhhhhhhhhhhhhhhhhhhhhhhh'])
  })
})
