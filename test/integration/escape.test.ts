/**
 * No one escapes a purge (issue 10, items 3 and 4), against real MariaDB and Redis: a session
 * grown past the old 16 MiB decode limit is read and purged; a value django-redis could read and
 * sessionctl cannot (xz) makes the purge exit 7 with one line and survives; integer user ids
 * beyond 2^53 are matched by their exact digits.
 */
import {Redis} from 'ioredis'
import assert from 'node:assert/strict'

import {pickleDumps} from '../../scripts/bench/pickle-write.js'
import {sessionctl} from '../support/cli.js'
import {encodeSigned} from '../support/django-encode.js'
import {djangoSessionDdl, freshDatabase, utcDatetime} from '../support/mysql.js'
import {testRedisUrl} from '../support/servers.js'

const SECRET = 'escape-test-secret'
const DAY_MS = 86_400_000
const key = (c: string): string => c.repeat(32)

describe('no session escapes a purge (oversized, unreadable, big-integer ids)', function () {
  this.timeout(120_000)
  let redis: Redis
  const redisUrl = (): string => testRedisUrl()
  const unique = `esc${Date.now()}`

  before(() => {
    redis = new Redis(redisUrl(), {lazyConnect: false})
  })

  after(async () => {
    const keys = await redis.keys(`${unique}*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
  })

  it('purges a Django session of the user grown past the old decode limit (a 40 MiB cart), in MariaDB', async () => {
    const db = await freshDatabase()
    try {
      await db.conn.query(djangoSessionDdl('django_session'))
      const live = utcDatetime(new Date(Date.now() + DAY_MS))
      const cart = 'x'.repeat(40 * 1024 * 1024)
      const rows = [
        [key('a'), encodeSigned({_auth_user_id: '42', cart}, {secretKey: SECRET}), live],
        [key('b'), encodeSigned({_auth_user_id: '7', cart}, {secretKey: SECRET}), live],
        [key('c'), encodeSigned({_auth_user_id: '42'}, {secretKey: SECRET}), live],
      ]
      await db.conn.query('INSERT INTO django_session (session_key, session_data, expire_date) VALUES ?', [rows])
      const r = await sessionctl(['sessions', 'purge', '--store', db.url, '--user', '42', '--yes', '--json'], {env: {DJANGO_SECRET_KEY: SECRET}})
      assert.equal(r.code, 0, r.stderr)
      assert.equal(JSON.parse(r.stdout).deleted, 2)
      const [left] = await db.conn.query('SELECT session_key FROM django_session ORDER BY session_key')
      assert.deepEqual((left as Array<{session_key: string}>).map(x => x.session_key), [key('b')])
    } finally {
      await db.conn.end()
    }
  })

  describe('an xz-compressed django-redis value (django-redis reads it, sessionctl cannot)', () => {
    const prefix = `${unique}:1:`
    const cacheKey = (k: string): string => `${prefix}django.contrib.sessions.cache${k}`
    let args: string[]
    const xz = Buffer.concat([Buffer.from([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]), Buffer.alloc(64, 1)])

    before(async () => {
      args = ['--store', redisUrl(), '--format', 'django-cache', '--prefix', prefix]
      await redis.set(cacheKey(key('d')), xz, 'EX', 3600)
      await redis.set(cacheKey(key('e')), pickleDumps({_auth_user_id: '42'}), 'EX', 3600)
      await redis.set(cacheKey(key('f')), pickleDumps({_auth_user_id: '7'}), 'EX', 3600)
    })

    it('list --user 42 warns that one value may be the user’s (exit 0)', async () => {
      const r = await sessionctl(['sessions', 'list', ...args, '--user', '42'])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stderr, /1 stored value could not be read and may be sessions of user 42 \(xz-compressed \(unsupported\): 1\); it was not listed: /)
      assert.match(r.stderr, /see them with sessionctl sessions list --undecodable --user 42 /)
    })

    it('list --undecodable shows it: fingerprint, reason, size, owner unknown', async () => {
      const r = await sessionctl(['sessions', 'list', ...args, '--undecodable', '--json'])
      assert.equal(r.code, 0, r.stderr)
      const out = JSON.parse(r.stdout)
      assert.equal(out.undecodable.length, 1)
      assert.deepEqual({...out.undecodable[0], id: undefined, store: undefined}, {
        id: undefined, ownerUnknown: true, reason: 'xz-compressed (unsupported)', size: xz.length, store: undefined,
      })
      assert.doesNotMatch(out.undecodable[0].id, new RegExp(key('d')))
      const table = await sessionctl(['sessions', 'list', ...args, '--undecodable'])
      assert.match(table.stdout, /KEY\s+REASON\s+OWNER\s+SIZE/)
      assert.match(table.stdout, /xz-compressed \(unsupported\)\s+unknown\s+70/)
    })

    it('purge --user 42 deletes the readable session, keeps the xz value and exits 7 with one line', async () => {
      const r = await sessionctl(['sessions', 'purge', ...args, '--user', '42', '--yes', '--json'])
      assert.equal(r.code, 7, r.stderr)
      const lines = r.stderr.split('\n').filter(l => l.includes('could not be read'))
      assert.equal(lines.length, 1, r.stderr)
      const expected = /^sessionctl: 1 stored value could not be read and may be sessions of user 42 \(xz-compressed \(unsupported\): 1\); it was not deleted: /
      assert.match(lines[0], expected)
      assert.match(lines[0], /see them with sessionctl sessions list --undecodable --all --user 42 and the same store options$/)
      const out = JSON.parse(r.stdout)
      assert.equal(out.deleted, 1)
      assert.equal(out.ownerUnknown, 1)
      assert.equal(out.stores[0].ownerUnknown, 1)
      assert.equal(await redis.exists(cacheKey(key('d'))), 1, 'the xz value survives')
      assert.equal(await redis.exists(cacheKey(key('e'))), 0)
      assert.equal(await redis.exists(cacheKey(key('f'))), 1)
    })
  })

  it('matches express user ids beyond 2^53 by their exact digits, in Redis', async () => {
    const prefix = `${unique}:sess:`
    await redis.set(`${prefix}big993`, '{"cookie":{"expires":null},"passport":{"user":9007199254740993}}')
    await redis.set(`${prefix}big992`, '{"cookie":{"expires":null},"passport":{"user":9007199254740992}}')
    const args = ['--store', redisUrl(), '--format', 'express', '--prefix', prefix]
    const listed = await sessionctl(['sessions', 'list', ...args, '--user', '9007199254740993', '--show-keys', '--json'])
    assert.equal(listed.code, 0, listed.stderr)
    assert.deepEqual(JSON.parse(listed.stdout).sessions.map((s: {id: string; userId: string}) => [s.id, s.userId]), [['big993', '9007199254740993']])
    const r = await sessionctl(['sessions', 'purge', ...args, '--user', '9007199254740992', '--yes'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(await redis.exists(`${prefix}big992`), 0)
    assert.equal(await redis.exists(`${prefix}big993`), 1, 'another user’s session survives')
  })
})
