/**
 * The laravel and php frameworks' codecs and layouts on every golden fixture written by real
 * Illuminate 8.83 and phpredis 5.3.7 (test/fixtures/PHP-FIXTURES.md): the user, whether it is a
 * session at all, the expiry rule, and the keys that are not sessions.
 */
import assert from 'node:assert/strict'

import {
  frameworkCodec, getFramework, layoutFor, userPathFor,
} from '../../src/frameworks/index.js'
import {laravelLoginKey} from '../../src/frameworks/laravel.js'
import {SqlExpiry} from '../../src/stores/sql-expiry.js'
import {fixtureJson, phpFixtures, storedBytes} from '../support/php-fixtures.js'

const fixtures = phpFixtures()
const laravel = getFramework('laravel')
const php = getFramework('php')

function laravelCodec(appKeys?: string[], guard = 'web') {
  return frameworkCodec(laravel, {...(appKeys ? {appKeys} : {}), secretKeys: [], userPath: userPathFor(laravel, undefined, {guard})})
}

describe('laravel and php frameworks on the golden fixtures', () => {
  const withKey = laravelCodec([fixtures.appKey])
  const withoutKey = laravelCodec()

  it('the login key is login_<guard>_sha1(SessionGuard), as Laravel names it', () => {
    assert.equal(laravelLoginKey('web'), fixtures.loginKey)
    assert.deepEqual(userPathFor(laravel, undefined, {guard: 'admin'}), ['login_admin_59ba36addc2b2f9401580f014c7f58ea4e30989d'])
  })

  for (const c of fixtures.cases.filter(k => k.family !== 'php-native')) {
    it(`${c.name}: ${c.expect.decodable ? `user ${c.expect.userId ?? 'none'}` : 'not readable'}`, () => {
      const decoded = withKey.decode(storedBytes(c))
      if (!c.expect.decodable) {
        assert.equal(decoded.ok, false, JSON.stringify(decoded))
        // Neither a forged or rotated-key envelope nor an app cache item may be anyone's session.
        if (!decoded.ok) assert.notEqual(decoded.ownerUnknown, true, decoded.reason)
        if (c.name.includes('rotated') || c.name.includes('tampered')) assert.equal(!decoded.ok && decoded.reason, 'bad MAC')
        return
      }

      assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason)
      assert.equal(decoded.userId, c.expect.userId)
      if (c.expect.data !== undefined) assert.deepEqual(fixtureJson(decoded.data), c.expect.data)
      if (c.family === 'laravel-db-encrypted' || c.name.includes('encrypted')) assert.equal(decoded.variant, 'serialize+encrypted')
    })
  }

  it('an encrypted session without --app-key is undecodable, and says what to give', () => {
    for (const c of fixtures.cases.filter(k => k.name.includes('encrypted'))) {
      const decoded = withoutKey.decode(storedBytes(c))
      assert.deepEqual(decoded, {ok: false, ownerUnknown: true, reason: 'encrypted (give --app-key)'}, c.name)
    }
  })

  it('the rotated-key session decodes with the old APP_KEY', () => {
    const c = fixtures.cases.find(k => k.name === 'laravel-db-encrypted-rotated-key')!
    const decoded = laravelCodec([fixtures.oldAppKey]).decode(storedBytes(c))
    assert.ok(decoded.ok)
    assert.equal(decoded.userId, c.row?.user_id)
  })

  it('--guard admin reads the second guard’s login, and web’s is nobody there', () => {
    const c = fixtures.cases.find(k => k.name === 'laravel-db-other-guard')!
    const admin = laravelCodec(undefined, 'admin').decode(storedBytes(c))
    assert.ok(admin.ok)
    assert.equal(admin.userId, '42')
  })

  it('expiry: last_activity + lifetime; live at the boundary second for read(), deleted there by gc()', () => {
    const layout = layoutFor(laravel, {}, {lifetimeMinutes: fixtures.lifetimeMinutes})
    assert.equal(layout.sql!.userColumn, 'user_id')
    assert.equal(layout.userColumn, undefined, 'the operator gave none (Redis stores refuse one)')
    const rule = layout.sql!.expiry
    const expiry = new SqlExpiry(rule, 'unix-seconds', '`last_activity`', false)
    const clock = {now: new Date(fixtures.fixtureNow * 1000), timeZone: 'UTC', wallNow: ''}
    for (const c of fixtures.cases.filter(k => k.row?.last_activity)) {
      const lastActivity = Number(c.row!.last_activity)
      assert.equal(expiry.expiresAt(lastActivity, clock)!.getTime() / 1000, c.expect.expiresAt, c.name)
      assert.equal(expiry.isExpired(lastActivity, clock), c.expect.expired, c.name)
    }

    const boundary = fixtures.fixtureNow - (fixtures.lifetimeMinutes * 60)
    assert.equal(expiry.isExpired(boundary, clock), false)
    assert.deepEqual(expiry.cleanupCondition(clock), ['`last_activity` <= ?', [boundary]])
    assert.deepEqual(expiry.condition('expired', clock), ['`last_activity` < ?', [boundary]])
  })

  it('Redis keys: 40 alphanumerics under the prefix; app cache items under it are not sessions', () => {
    const {redis} = layoutFor(laravel, {})
    for (const c of fixtures.cases.filter(k => k.family === 'laravel-redis')) {
      assert.ok(c.redisKey!.startsWith(redis!.prefixes[0]))
      assert.equal(redis!.keyPattern.test(c.redisKey!.slice(redis!.prefixes[0].length)), c.expect.isSession, c.name)
    }
  })

  for (const c of fixtures.cases.filter(k => k.family === 'php-native')) {
    it(`php: ${c.name}`, () => {
      const {redis} = layoutFor(php, {prefix: c.redisKey!.startsWith('PHPREDIS_SESSION:') ? undefined : 'myapp:sess:'})
      const id = c.redisKey!.slice(redis!.prefixes[0].length)
      assert.equal(redis!.keyPattern.test(id), c.expect.isSession !== false, `${id} is ${c.expect.isSession === false ? 'not ' : ''}a session key`)
      if (c.expect.isSession === false) return
      const codec = frameworkCodec(php, {secretKeys: [], userPath: userPathFor(php, c.expect.userPath)})
      const decoded = codec.decode(storedBytes(c))
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason)
      assert.equal(decoded.userId, c.expect.userId)
      if (c.expect.serializeHandler && storedBytes(c).length > 0) assert.equal(decoded.variant, c.expect.serializeHandler)
    })
  }

  it('php needs --user-path: apps choose where the user id lives', () => {
    assert.throws(() => userPathFor(php, undefined, {}), /--format php needs --user-path/)
  })
})
