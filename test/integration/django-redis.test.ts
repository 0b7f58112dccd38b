/**
 * Parity with real Django on Redis: sessions written by Django 3.2's cache and cached_db
 * engines through django-redis (plain and zlib-compressed pickles) must be listed and purged
 * exactly as Django answers, and one purge over a profile of two stores (the cached_db row in
 * MariaDB and its cache key in Redis) must log the user out of both.
 */
import {Redis} from 'ioredis'
import assert from 'node:assert/strict'
import {
  existsSync, mkdtempSync, rmSync, statSync, writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {sessionctl} from '../support/cli.js'
import {django, mysqlTarget, requireDjango} from '../support/django-oracle.js'
import {caseValue, djangoFixtures} from '../support/fixtures.js'
import {freshDatabase} from '../support/mysql.js'
import {testRedisUrl} from '../support/servers.js'

const SECRET = 'redis-parity-secret'

interface Seeded {
  ref: string
  key: string
  redisKey: null | string
}

interface Answer {
  keys: string[]
  cacheKeys?: string[]
  undecodable: number
}

describe('parity with real Django 3.2 on Redis (cache and cached_db engines)', function () {
  this.timeout(120_000)
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let redis: Redis
  let redisUrl: string
  let seeded: Map<string, Seeded>
  let configDir: string
  const cachePrefix = `parity${Date.now()}`
  const keyPrefix = `${cachePrefix}:1:`

  function redisTarget(): {db: number; host: string; port: number} {
    const u = new URL(redisUrl)
    return {db: Number(u.pathname.slice(1) || 0), host: u.hostname, port: Number(u.port)}
  }

  async function answer(user: string, engine: 'cache' | 'cached_db', compressor: null | string = null): Promise<Answer> {
    return django<Answer>('answer', {
      cachePrefix, compressor, engine, mysql: mysqlTarget(db.url), redis: redisTarget(), secretKey: SECRET, state: 'all', user,
    })
  }

  async function list(user: string, extra: string[] = []): Promise<string[]> {
    const r = await sessionctl(['sessions', 'list', '--store', redisUrl, '--format', 'django-cache', '--prefix', keyPrefix, '--user', user, '--show-keys', '--json', ...extra])
    assert.equal(r.code, 0, r.stderr)
    return (JSON.parse(r.stdout).sessions as Array<{id: string}>).map(s => s.id).sort()
  }

  before(async function () {
    requireDjango(this)
    db = await freshDatabase()
    redisUrl = testRedisUrl()
    redis = new Redis(redisUrl)
    const common = {cachePrefix, cacheVersion: 1}
    const out = await django<{sessions: Seeded[]}>('seed', {
      mysql: mysqlTarget(db.url),
      redis: redisTarget(),
      secretKey: SECRET,
      sessions: [
        {
          ...common, compressor: 'zlib', engine: 'cache', format: 'signed', ref: 'c42-zlib', user: '42',
        },
        {
          ...common, compressor: 'zlib', engine: 'cache', format: 'signed', ref: 'c42-zlib-2', user: '42', data: {cart: [1, 2, 3]},
        },
        {
          ...common, compressor: 'zlib', engine: 'cache', format: 'signed', ref: 'c420', user: '420',
        },
        {
          ...common, compressor: 'zlib', engine: 'cache', format: 'signed', ref: 'c7', user: '7',
        },
        {
          ...common, compressor: 'zlib', engine: 'cache', format: 'signed', ref: 'anon', user: null, data: {visits: 2},
        },
        {
          ...common, compressor: 'zlib', engine: 'cached_db', format: 'signed', ref: 'cdb42', user: '42',
        },
        {
          ...common, compressor: 'zlib', engine: 'cached_db', format: 'signed', ref: 'cdb7', user: '7',
        },
      ],
      storeUsers: true,
    })
    seeded = new Map(out.sessions.map(s => [s.ref, s]))
    // Values at session keys that are not sessions: a raw int (django-redis stores ints raw),
    // garbage, and a pickle that would run a shell command if anything executed it.
    const malicious = djangoFixtures().cases.find(c => c.name === 'pickle-malicious-reduce')!
    await redis.set(`${keyPrefix}django.contrib.sessions.cache${'i'.repeat(32)}`, '12345')
    await redis.set(`${keyPrefix}django.contrib.sessions.cache${'g'.repeat(32)}`, Buffer.from([0x80, 0x04, 0x95, 0xFF, 0xFF, 0x00]))
    await redis.set(`${keyPrefix}django.contrib.sessions.cache${'m'.repeat(32)}`, caseValue(malicious))
    configDir = mkdtempSync(join(tmpdir(), 'sessionctl-parity-'))
  })

  after(async () => {
    await redis?.quit()
    await db?.conn.end()
    if (configDir) rmSync(configDir, {force: true, recursive: true})
  })

  it('lists user 42’s cache and cached_db keys exactly as Django reads them', async () => {
    const expected = [...(await answer('42', 'cache', 'zlib')).keys, ...((await answer('42', 'cached_db', 'zlib')).cacheKeys ?? [])].sort()
    assert.equal(expected.length, 3)
    assert.deepEqual(await list('42'), expected)
    assert.deepEqual(await list('420'), (await answer('420', 'cache', 'zlib')).keys)
  })

  it('reports the non-session values and never executes the malicious pickle', async () => {
    const marker = '/tmp/pwned'
    const before = existsSync(marker) ? statSync(marker).mtimeMs : undefined
    const r = await sessionctl(['sessions', 'list', '--store', redisUrl, '--format', 'django-cache', '--prefix', keyPrefix, '--json', '--show-keys'])
    const doc = JSON.parse(r.stdout)
    assert.deepEqual(doc.stores[0].undecodable, {'bad pickle': 1, 'not a session (raw integer)': 1})
    const malicious = doc.sessions.find((s: {id: string}) => s.id === 'm'.repeat(32))
    assert.equal(malicious.userId, '14', 'the inert reading still finds the user id')
    assert.equal(existsSync(marker) ? statSync(marker).mtimeMs : undefined, before, 'nothing ran')
  })

  it('a purge never deletes the values it cannot read', async () => {
    const r = await sessionctl(['sessions', 'purge', '--store', redisUrl, '--format', 'django-cache', '--prefix', keyPrefix, '--user', '7', '--yes', '--json'])
    assert.equal(JSON.parse(r.stdout).deleted, 2)
    assert.equal(await redis.get(`${keyPrefix}django.contrib.sessions.cache${'i'.repeat(32)}`), '12345')
    assert.ok(await redis.exists(`${keyPrefix}django.contrib.sessions.cache${'g'.repeat(32)}`))
    assert.deepEqual((await answer('7', 'cache', 'zlib')).keys, [])
    const cdb7 = await answer('7', 'cached_db', 'zlib')
    assert.deepEqual(cdb7.cacheKeys, [], 'the cache half of the cached_db session is gone')
    assert.deepEqual(cdb7.keys, [seeded.get('cdb7')!.key], 'its row is another store’s: still there')
  })

  it('one purge over a profile of both stores logs the cached_db user out of both', async () => {
    const config = join(configDir, 'sessionctl.json')
    writeFileSync(config, JSON.stringify({
      profiles: {
        site: {stores: [{format: 'django', store: db.url}, {format: 'django-cache', prefix: keyPrefix, store: redisUrl}]},
      },
    }))
    const before = await answer('42', 'cached_db', 'zlib')
    assert.equal(before.keys.length, 1)
    assert.equal(before.cacheKeys!.length, 1)
    const r = await sessionctl(['sessions', 'purge', '--config', config, '--store', 'site', '--user', '42', '--yes'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /Deleted 4 sessions of user 42\./)
    assert.match(r.stdout, /mysql:\/\/.*: deleted 1/)
    assert.match(r.stdout, /redis:\/\/.*: deleted 3/)
    const after = await answer('42', 'cached_db', 'zlib')
    assert.deepEqual({cache: after.cacheKeys, rows: after.keys}, {cache: [], rows: []})
    assert.deepEqual((await answer('42', 'cache', 'zlib')).keys, [])
    assert.equal((await answer('420', 'cache', 'zlib')).keys.length, 1, 'other users are untouched')
  })
})
