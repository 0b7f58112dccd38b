/**
 * The PHP oracle (test/php/oracle.php through test/support/php.ts) checked against the stores
 * themselves: what real Illuminate 8.83 and PHP's session module write is really in MariaDB and
 * Redis in the shape session-formats.md §3/§6/§10.1 and issue 12's corrections describe, and the
 * oracle's answers change when rows and keys are deleted or aged behind its back.
 */
import {Redis} from 'ioredis'
import assert from 'node:assert/strict'
import {createDecipheriv, createHmac, randomBytes} from 'node:crypto'

import {freshDatabase} from '../support/mysql.js'
import {
  laravelCacheItems, laravelGc, laravelIds, laravelMigrate, laravelRead, type LaravelTarget, laravelWrite, mysqlParams, type NativeTarget,
  phpIds, phpOracle, phpRead, phpWrite, redisParams, requirePhp, type SerializeHandler,
} from '../support/php.js'
import {testRedisUrl} from '../support/servers.js'

const LOGIN_WEB = 'login_web_59ba36addc2b2f9401580f014c7f58ea4e30989d'
const LOGIN_ADMIN = 'login_admin_59ba36addc2b2f9401580f014c7f58ea4e30989d'
const LARAVEL_PREFIX = 'laravel_database_laravel_cache:'
const UUID = '42a1b2c3-7425-40de-944b-e07fc1f69e30'
const BIG = 9_007_199_254_740_993n // 2^53 + 1
const LARAVEL_DB = 13 // a Redis database of its own: the stock Laravel prefix is fixed
const NATIVE_DB = 14

const appKey = (bytes = 32): string => `base64:${randomBytes(bytes).toString('base64')}`

/** Laravel's Encrypter::decrypt for CBC: constant MAC check, then AES-256-CBC. */
function decryptCbc(blob: string, key: string): string {
  const raw = Buffer.from(key.slice('base64:'.length), 'base64')
  const json = JSON.parse(Buffer.from(blob, 'base64').toString('utf8')) as {iv: string; mac: string; tag: string; value: string}
  assert.deepEqual(Object.keys(json), ['iv', 'value', 'mac', 'tag'])
  assert.equal(json.tag, '')
  assert.equal(createHmac('sha256', raw).update(json.iv + json.value).digest('hex'), json.mac)
  const decipher = createDecipheriv('aes-256-cbc', raw, Buffer.from(json.iv, 'base64'))
  return Buffer.concat([decipher.update(Buffer.from(json.value, 'base64')), decipher.final()]).toString('utf8')
}

describe('the PHP oracle: real Illuminate 8.83 and phpredis 5.3.7 write what the stores hold', function () {
  this.timeout(120_000)
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let redis: Redis
  let laravel: LaravelTarget

  async function row(id: string): Promise<Record<string, null | string> | undefined> {
    const [rows] = await db.conn.query('SELECT id, CAST(user_id AS CHAR) AS user_id, ip_address, user_agent, payload, last_activity FROM sessions WHERE id = ?', [id])
    return (rows as Array<Record<string, null | string>>)[0]
  }

  const payloadOf = (r: Record<string, null | string> | undefined): string => Buffer.from(r!.payload!, 'base64').toString('utf8')

  before(async function () {
    requirePhp(this)
    db = await freshDatabase()
    redis = new Redis(testRedisUrl())
    await redis.select(LARAVEL_DB)
    await redis.flushdb()
    await redis.select(NATIVE_DB)
    await redis.flushdb()
    laravel = {mysql: mysqlParams(db.url), redis: redisParams(testRedisUrl(), {db: LARAVEL_DB})}
  })

  after(async () => {
    await db?.conn.end()
    redis?.disconnect()
  })

  describe('Laravel, database driver', () => {
    it('migrates the 8.x session:table stub (payload text, user_id bigint unsigned NULL, both indexes)', async () => {
      assert.deepEqual((await laravelMigrate(laravel)).created, ['sessions', 'users'])
      const [cols] = await db.conn.query(
        'SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = \'sessions\' ORDER BY ORDINAL_POSITION',
        [db.database],
      )
      assert.deepEqual((cols as Array<Record<string, string>>).map(c => `${c.COLUMN_NAME} ${c.COLUMN_TYPE} ${c.IS_NULLABLE}`), [
        'id varchar(255) NO',
        'user_id bigint(20) unsigned YES',
        'ip_address varchar(45) YES',
        'user_agent text YES',
        'payload text NO',
        'last_activity int(11) NO',
      ])
      const [indexes] = await db.conn.query('SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = \'sessions\' ORDER BY INDEX_NAME', [db.database])
      assert.deepEqual((indexes as Array<{INDEX_NAME: string}>).map(i => i.INDEX_NAME), ['PRIMARY', 'sessions_last_activity_index', 'sessions_user_id_index'])
      assert.deepEqual((await laravelMigrate(laravel)).created, [], 'idempotent')
    })

    it('a login writes base64(serialize()) with the login key and fills user_id, ip_address, user_agent and last_activity', async () => {
      const now = Math.floor(Date.now() / 1000)
      const [id] = await laravelWrite({...laravel, now}, [{
        attrs: {cart: [1, 2, 3], greeting: 'Grüß Gott'}, ip: '203.0.113.9', user: 42, userAgent: 'Mozilla/5.0 test',
      }])
      assert.match(id, /^[\dA-Za-z]{40}$/)
      const r = await row(id)
      assert.equal(r?.user_id, '42')
      assert.equal(r?.ip_address, '203.0.113.9')
      assert.equal(r?.user_agent, 'Mozilla/5.0 test')
      assert.equal(Number(r?.last_activity), now)
      const payload = payloadOf(r)
      assert.match(payload, /^a:\d+:\{s:6:"_token";s:40:"[\dA-Za-z]{40}";/)
      assert.ok(payload.includes(`s:50:"${LOGIN_WEB}";i:42;`), payload)
      assert.ok(payload.includes('s:4:"cart";a:3:{i:0;i:1;i:1;i:2;i:2;i:3;}'), payload)
      assert.ok(payload.includes('s:8:"greeting";s:11:"Grüß Gott";'), 'byte lengths')
      const [answer] = await laravelRead(laravel, [id])
      assert.deepEqual({
        loaded: answer.loaded, user: answer.user, userType: answer.userType, validId: answer.validId,
      }, {
        loaded: true, user: '42', userType: 'int', validId: true,
      })
      assert.deepEqual((answer.data as Record<string, unknown>).cart, [1, 2, 3])
    })

    it('column and payload as the corrections say: onceUsingId, a second guard, logout without invalidate, a string id', async () => {
      const [once, admin, loggedOut, string42, anonymous] = await laravelWrite(laravel, [
        {once: true, user: 42},
        {guard: 'admin', user: 4},
        {logoutWithoutInvalidate: true, user: 420},
        {user: '42'},
        {user: null},
      ])
      const onceRow = await row(once)
      assert.equal(onceRow?.user_id, '42')
      assert.ok(!payloadOf(onceRow).includes('login_'), 'onceUsingId: no login key')
      const adminRow = await row(admin)
      assert.equal(adminRow?.user_id, null, 'a second guard leaves the column NULL')
      assert.ok(payloadOf(adminRow).includes(`s:52:"${LOGIN_ADMIN}";i:4;`))
      const outRow = await row(loggedOut)
      assert.equal(outRow?.user_id, null)
      assert.ok(!payloadOf(outRow).includes('login_'), 'logout removes the login key, the row stays')
      const stringRow = await row(string42)
      assert.equal(stringRow?.user_id, '42')
      assert.ok(payloadOf(stringRow).includes(`s:50:"${LOGIN_WEB}";s:2:"42";`))
      assert.equal((await row(anonymous))?.user_id, null)

      const web = await laravelRead(laravel, [once, admin, loggedOut, string42, anonymous])
      assert.deepEqual(web.map(a => [a.loaded, a.user, a.userType]), [[true, null, null], [true, null, null], [true, null, null], [true, '42', 'string'], [true, null, null]])
      const [adminAnswer] = await laravelRead({...laravel, guard: 'admin'}, [admin])
      assert.equal(adminAnswer.user, '4')
    })

    it('a UUID user: strict mode loses the row silently, strict=false truncates user_id to 42; 2^53+1 stays exact', async () => {
      const [strictId] = await laravelWrite(laravel, [{user: UUID}])
      assert.equal(await row(strictId), undefined, 'the INSERT failed and Laravel said nothing')
      const loose = {...laravel, mysql: mysqlParams(db.url, {strict: false})}
      const [looseId] = await laravelWrite(loose, [{user: UUID}])
      const looseRow = await row(looseId)
      assert.equal(looseRow?.user_id, '42')
      assert.ok(payloadOf(looseRow).includes(`s:50:"${LOGIN_WEB}";s:36:"${UUID}";`))
      const [bigId] = await laravelWrite(laravel, [{user: BIG}])
      assert.equal((await row(bigId))?.user_id, BIG.toString())
      assert.ok(payloadOf(await row(bigId)).includes(`i:${BIG};`))
      const [answer] = await laravelRead(laravel, [bigId])
      assert.deepEqual([answer.user, answer.userType], [BIG.toString(), 'int'])
      assert.deepEqual((answer.data as Record<string, unknown>)[LOGIN_WEB], {__int: BIG.toString()})
      const listed = await laravelIds(laravel)
      assert.equal(listed.rows?.find(r => r.id === bigId)?.userId, BIG.toString())
    })

    it('read() expires at last_activity < now - lifetime, gc() deletes <=: the one-second edge, and what gc deleted', async () => {
      const table = 'edge_sessions'
      const target: LaravelTarget = {...laravel, lifetimeMinutes: 10, table}
      await laravelMigrate({...target, usersTable: 'users'})
      const now = Math.floor(Date.now() / 1000)
      const [fresh, inside, edge, past] = await laravelWrite({...target, now}, [
        {user: 4},
        {ageSeconds: 599, user: 42},
        {ageSeconds: 600, user: 142},
        {ageSeconds: 601, user: 4200},
      ])
      const [edgeRows] = await db.conn.query(`SELECT last_activity FROM ${table} WHERE id = ?`, [edge])
      assert.equal(Number((edgeRows as Array<{last_activity: number}>)[0].last_activity), now - 600)
      const read = await laravelRead({...target, now}, [fresh, inside, edge, past])
      assert.deepEqual(read.map(a => a.loaded), [true, true, true, false], 'read: only < is expired')
      assert.deepEqual(read.map(a => a.user), ['4', '42', '142', null])
      const gc = await laravelGc({...target, now})
      assert.equal(gc.lifetimeSeconds, 600)
      assert.deepEqual(gc.deletedIds.sort(), [edge, past].sort(), 'gc: <= is deleted')
      assert.equal(gc.deleted, 2)
      assert.deepEqual((await laravelIds(target)).ids.sort(), [fresh, inside].sort())
      assert.deepEqual((await laravelGc({...target, now})).deleted, 0)
    })

    it('read answers follow the table: a deleted row and an aged row stop loading', async () => {
      const [a, b, c] = await laravelWrite(laravel, [{user: 42}, {user: 42}, {user: 4}])
      assert.deepEqual((await laravelRead(laravel, [a, b, c])).map(x => x.loaded), [true, true, true])
      await db.conn.query('DELETE FROM sessions WHERE id = ?', [a])
      await db.conn.query('UPDATE sessions SET last_activity = last_activity - 7201 WHERE id = ?', [b])
      assert.deepEqual((await laravelRead(laravel, [a, b, c])).map(x => [x.loaded, x.user]), [[false, null], [false, null], [true, '4']])
      const {ids} = await laravelIds(laravel)
      assert.ok(!ids.includes(a) && ids.includes(b) && ids.includes(c))
      assert.ok((await laravelGc(laravel)).deletedIds.includes(b))
    })

    it('encrypted (AES-256-CBC): payload = base64(base64(json{iv,value,mac,tag:""})) over serialize(serialize()); a wrong key reads empty', async () => {
      const key = appKey()
      const target: LaravelTarget = {...laravel, appKey: key, encrypt: true}
      const [id] = await laravelWrite(target, [{user: 4200}])
      const r = await row(id)
      assert.equal(r?.user_id, '4200')
      const plain = decryptCbc(payloadOf(r), key)
      assert.match(plain, /^s:\d+:"a:\d+:\{/)
      assert.ok(plain.includes(`s:50:"${LOGIN_WEB}";i:4200;`))
      assert.deepEqual((await laravelRead(target, [id])).map(x => [x.loaded, x.user]), [[true, '4200']])
      assert.deepEqual((await laravelRead({...target, appKey: appKey()}, [id])).map(x => [x.loaded, x.user]), [[false, null]], 'rotated APP_KEY')
      assert.deepEqual((await laravelRead(laravel, [id])).map(x => x.loaded), [false], 'read without encryption')
    })

    it('encrypted (AES-256-GCM): mac is "" and tag is set', async () => {
      const key = appKey()
      const target: LaravelTarget = {
        ...laravel, appKey: key, cipher: 'AES-256-GCM', encrypt: true,
      }
      const [id] = await laravelWrite(target, [{user: 142}])
      const json = JSON.parse(Buffer.from(payloadOf(await row(id)), 'base64').toString('utf8')) as Record<string, string>
      assert.deepEqual(Object.keys(json), ['iv', 'value', 'mac', 'tag'])
      assert.equal(json.mac, '')
      assert.equal(Buffer.from(json.tag, 'base64').length, 16)
      assert.equal(Buffer.from(json.iv, 'base64').length, 12)
      assert.deepEqual((await laravelRead(target, [id])).map(x => x.user), ['142'])
    })
  })

  describe('Laravel, redis driver', () => {
    let target: LaravelTarget

    before(() => {
      target = {...laravel, driver: 'redis'}
    })

    it(`keys ${LARAVEL_PREFIX}<40 chars> on the default connection, value serialize(serialize()), TTL lifetime*60`, async () => {
      const [a, b] = await laravelWrite(target, [{attrs: {cart: {sku: 'A-1'}}, user: 42}, {user: null}])
      const [c] = await laravelWrite({...target, lifetimeMinutes: 30}, [{user: 4}])
      for (const id of [a, b, c]) assert.match(id, /^[\dA-Za-z]{40}$/)
      const value = await redis.select(LARAVEL_DB).then(() => redis.get(`${LARAVEL_PREFIX}${a}`))
      assert.match(value!, /^s:\d+:"a:\d+:\{s:6:"_token";/)
      assert.equal(Buffer.byteLength(/^s:(\d+):"/.exec(value!)![0]) + Number(/^s:(\d+):/.exec(value!)![1]) + 2, Buffer.byteLength(value!), 'one string, serialized once more')
      assert.ok(value!.includes(`s:50:"${LOGIN_WEB}";i:42;`))
      const ttlA = await redis.ttl(`${LARAVEL_PREFIX}${a}`)
      assert.ok(ttlA > 7190 && ttlA <= 7200, String(ttlA))
      const ttlC = await redis.ttl(`${LARAVEL_PREFIX}${c}`)
      assert.ok(ttlC > 1790 && ttlC <= 1800, String(ttlC))
      const listing = await laravelIds(target)
      assert.equal(listing.prefix, LARAVEL_PREFIX)
      assert.deepEqual([a, b, c].filter(id => listing.ids.includes(id)), [a, b, c])
      assert.deepEqual((await laravelRead(target, [a, b, c])).map(x => [x.loaded, x.user]), [[true, '42'], [true, null], [true, '4']])
      // gc() is a no-op for the cache handler: cleanup is by TTL only
      const gc = await laravelGc(target)
      assert.deepEqual([gc.deleted, gc.returned], [0, true])
    })

    it('read answers follow Redis: a deleted key and an expired key stop loading', async () => {
      const [a, b, c] = await laravelWrite(target, [{user: 42}, {user: 42}, {user: 420}])
      await redis.select(LARAVEL_DB)
      await redis.del(`${LARAVEL_PREFIX}${a}`)
      await redis.pexpire(`${LARAVEL_PREFIX}${b}`, 1)
      await new Promise(resolve => {
        setTimeout(resolve, 20)
      })
      assert.deepEqual((await laravelRead(target, [a, b, c])).map(x => [x.loaded, x.user]), [[false, null], [false, null], [true, '420']])
      const {ids} = await laravelIds(target)
      assert.ok(!ids.includes(a) && !ids.includes(b) && ids.includes(c))
    })

    it('encrypted on Redis: serialize(<base64 json>)', async () => {
      const key = appKey()
      const [id] = await laravelWrite({...target, appKey: key, encrypt: true}, [{user: 4200}])
      const value = await redis.select(LARAVEL_DB).then(() => redis.get(`${LARAVEL_PREFIX}${id}`))
      const blob = /^s:\d+:"(.*)";$/.exec(value!)![1]
      assert.ok(decryptCbc(blob, key).includes('i:4200;'))
      assert.deepEqual((await laravelRead({...target, appKey: key, encrypt: true}, [id])).map(x => x.user), ['4200'])
    })

    it('Cache:: items under the same prefix: a number raw, an array serialized once, forever without TTL; never a session', async () => {
      const keys = await laravelCacheItems(target, [
        {key: 'visits', value: 42},
        {key: 'settings', value: {theme: 'dark', user_id: 42}},
        {forever: true, key: 'banner', value: 'hello'},
      ])
      assert.deepEqual(keys, [`${LARAVEL_PREFIX}visits`, `${LARAVEL_PREFIX}settings`, `${LARAVEL_PREFIX}banner`])
      await redis.select(LARAVEL_DB)
      assert.equal(await redis.get(`${LARAVEL_PREFIX}visits`), '42')
      assert.equal(await redis.get(`${LARAVEL_PREFIX}settings`), 'a:2:{s:5:"theme";s:4:"dark";s:7:"user_id";i:42;}')
      assert.equal(await redis.get(`${LARAVEL_PREFIX}banner`), 's:5:"hello";')
      assert.equal(await redis.ttl(`${LARAVEL_PREFIX}banner`), -1)
      assert.ok((await redis.ttl(`${LARAVEL_PREFIX}visits`)) > 3500)
      const listing = await laravelIds(target)
      assert.ok(['visits', 'settings', 'banner'].every(k => listing.ids.includes(k)), 'the raw listing shows them')
      assert.equal(listing.keys?.find(k => k.id === 'banner')?.ttl, -1)
      assert.deepEqual((await laravelRead(target, ['visits', 'settings'])).map(x => [x.validId, x.loaded]), [[false, false], [false, false]])
    })

    it('ageSeconds is refused on Redis, with PHP\'s message', async () => {
      await assert.rejects(laravelWrite(target, [{ageSeconds: 5, user: 4}]), /php oracle laravel\.write failed \(exit 1\): .*ageSeconds needs the database driver/)
    })
  })

  describe('PHP native sessions (session.save_handler=redis)', () => {
    let nativeTarget: NativeTarget

    before(() => {
      nativeTarget = {redis: redisParams(testRedisUrl(), {db: NATIVE_DB})}
    })

    const data = {name: 'Zoë', roles: ['admin', 'dev'], user_id: 42}
    const shapes: Record<SerializeHandler, (v: Buffer) => boolean> = {
      igbinary: v => v.subarray(0, 4).equals(Buffer.from([0, 0, 0, 2])),
      php: v => v.toString('utf8') === 'name|s:4:"Zoë";roles|a:2:{i:0;s:5:"admin";i:1;s:3:"dev";}user_id|i:42;',
      php_binary: v => v.toString('utf8') === '\u0004names:4:"Zoë";\u0005rolesa:2:{i:0;s:5:"admin";i:1;s:3:"dev";}\u0007user_idi:42;',
      php_serialize: v => v.toString('utf8') === 'a:3:{s:4:"name";s:4:"Zoë";s:5:"roles";a:2:{i:0;s:5:"admin";i:1;s:3:"dev";}s:7:"user_id";i:42;}',
    }
    for (const handler of Object.keys(shapes) as SerializeHandler[]) {
      it(`serialize_handler=${handler}: PHPREDIS_SESSION:<26 chars of [0-9a-v]>, TTL gc_maxlifetime, read back by PHP`, async () => {
        const t = {...nativeTarget, serializeHandler: handler}
        const [flat, nested, empty] = await phpWrite(t, [{data}, {data: {auth: {user: {id: 4}}}}, {data: {}}])
        await redis.select(NATIVE_DB)
        for (const id of [flat, nested, empty]) assert.match(id, /^[\da-v]{26}$/)
        const value = (await redis.getBuffer(`PHPREDIS_SESSION:${flat}`))!
        assert.ok(shapes[handler](value), `${handler}: ${JSON.stringify(value.toString('latin1'))}`)
        const ttl = await redis.ttl(`PHPREDIS_SESSION:${flat}`)
        assert.ok(ttl > 1430 && ttl <= 1440, String(ttl))
        const answers = await phpRead(t, [flat, nested, empty])
        assert.deepEqual(answers.map(a => [a.stored, a.loaded]), [[true, true], [true, true], [true, false]])
        assert.deepEqual(answers[0].data, data)
        assert.deepEqual(answers[1].data, {auth: {user: {id: 4}}})
        assert.deepEqual(answers.flatMap(a => a.warnings), [])
        assert.ok((await phpIds(t)).ids.includes(flat))
      })
    }

    it('the empty session: "" for php, "a:0:{}" for php_serialize', async () => {
      const [php] = await phpWrite(nativeTarget, [{data: {}}])
      const [serialized] = await phpWrite({...nativeTarget, serializeHandler: 'php_serialize'}, [{data: {}}])
      await redis.select(NATIVE_DB)
      assert.equal(await redis.get(`PHPREDIS_SESSION:${php}`), '')
      assert.equal(await redis.get(`PHPREDIS_SESSION:${serialized}`), 'a:0:{}')
    })

    it('values JSON cannot carry cross intact: 2^53+1, NAN, INF, -0', async () => {
      const t = {...nativeTarget, serializeHandler: 'php_serialize' as const}
      const [id] = await phpWrite(t, [{
        data: {
          big: BIG, inf: {__float: 'INF'}, nan: {__float: 'NAN'}, zero: {__float: '-0'},
        },
      }])
      await redis.select(NATIVE_DB)
      assert.equal(await redis.get(`PHPREDIS_SESSION:${id}`), `a:4:{s:3:"big";i:${BIG};s:3:"inf";d:INF;s:3:"nan";d:NAN;s:4:"zero";d:-0;}`)
      const [answer] = await phpRead(t, [id])
      assert.deepEqual(answer.data, {
        big: {__int: BIG.toString()}, inf: {__float: 'INF'}, nan: {__float: 'NAN'}, zero: -0,
      })
    })

    it('a custom prefix, gc_maxlifetime, given ids and 6 bits per character', async () => {
      const prefix = `app${randomBytes(3).toString('hex')}:`
      const t: NativeTarget = {
        ...nativeTarget, gcMaxlifetime: 600, prefix, sidBitsPerCharacter: 6, sidLength: 40,
      }
      const [given, made] = await phpWrite(t, [{data: {user_id: 4}, id: 'given-id,with-odd-chars'}, {data: {user_id: 42}}])
      assert.equal(given, 'given-id,with-odd-chars')
      assert.match(made, /^[\w,-]{40}$/)
      await redis.select(NATIVE_DB)
      assert.equal(await redis.get(`${prefix}${given}`), 'user_id|i:4;')
      const ttl = await redis.ttl(`${prefix}${made}`)
      assert.ok(ttl > 590 && ttl <= 600, String(ttl))
      assert.deepEqual((await phpIds(t)).ids.sort(), [given, made].sort())
      assert.deepEqual((await phpRead(t, [given, made])).map(a => a.data), [{user_id: 4}, {user_id: 42}])
    })

    it('locking: a worker that dies holding the lock leaves <id>_LOCK (host|pid, no TTL), which is not a session', async () => {
      const t: NativeTarget = {...nativeTarget, locking: true}
      const [locked, clean] = await phpWrite(t, [{data: {user_id: 420}, leaveLock: true}, {data: {user_id: 42}}])
      await redis.select(NATIVE_DB)
      assert.match((await redis.get(`PHPREDIS_SESSION:${locked}_LOCK`))!, /^[^|]+\|\d+$/)
      assert.equal(await redis.ttl(`PHPREDIS_SESSION:${locked}_LOCK`), -1)
      assert.equal(await redis.exists(`PHPREDIS_SESSION:${clean}_LOCK`), 0, 'a normal request releases its lock')
      const listing = await phpIds(t)
      assert.ok(listing.ids.includes(locked) && !listing.ids.includes(`${locked}_LOCK`))
      assert.equal(listing.keys.find(k => k.id === `${locked}_LOCK`)?.lock, true)
      const [withLock] = await phpRead(t, [locked])
      assert.deepEqual(withLock.data, {user_id: 420}, 'PHP still reads it')
      assert.match(withLock.warnings.join('\n'), /Acquire of session lock was not successful/)
    })

    it('read answers follow Redis: deleted and expired keys stop loading; a wrong handler destroys (and the oracle restores)', async () => {
      const [a, b, c] = await phpWrite(nativeTarget, [{data: {user_id: 42}}, {data: {user_id: 42}}, {data: {auth: {user: {id: 4}}}}])
      await redis.select(NATIVE_DB)
      await redis.del(`PHPREDIS_SESSION:${a}`)
      await redis.pexpire(`PHPREDIS_SESSION:${b}`, 1)
      await new Promise(resolve => {
        setTimeout(resolve, 20)
      })
      assert.deepEqual((await phpRead(nativeTarget, [a, b, c])).map(x => [x.stored, x.loaded]), [[false, false], [false, false], [true, true]])
      const ttlBefore = await redis.pttl(`PHPREDIS_SESSION:${c}`)
      const [wrong] = await phpRead({...nativeTarget, serializeHandler: 'php_serialize'}, [c])
      assert.deepEqual([wrong.started, wrong.loaded, wrong.destroyedByPhp], [false, false, true])
      assert.match(wrong.warnings.join('\n'), /Failed to decode session object/)
      assert.equal(await redis.get(`PHPREDIS_SESSION:${c}`), 'auth|a:1:{s:4:"user";a:1:{s:2:"id";i:4;}}')
      assert.ok((await redis.pttl(`PHPREDIS_SESSION:${c}`)) <= ttlBefore, 'restored with its TTL')
      const {ids} = await phpIds(nativeTarget)
      assert.ok(!ids.includes(a) && !ids.includes(b) && ids.includes(c))
    })

    it('errors come back as one line of PHP\'s stderr', async () => {
      const badHandler = {...nativeTarget, serializeHandler: 'wddx' as SerializeHandler}
      await assert.rejects(
        phpWrite(badHandler, [{data: {}}]),
        /^Error: php oracle php\.write failed \(exit 1\): oracle php\.write: RuntimeException: unknown serialize handler wddx \(native\.php:\d+\)$/,
      )
      await assert.rejects(phpOracle('nope', {}), /unknown operation 'nope'/)
    })
  })
})
