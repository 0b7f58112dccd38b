import type {CodecSettings} from '../formats/codec.js'

import {decryptLaravel, isLaravelEnvelope, parseLaravelKey} from '../formats/laravel-encrypter.js'
import {createPhpCodec} from '../formats/php-codec.js'
import {type CookieKeys, defineFramework, type KeyForm} from './framework.js'

/** sha1('Illuminate\Auth\SessionGuard'): SessionGuard::getName() is `login_<guard>_<this>`. */
const SESSION_GUARD_SHA1 = '59ba36addc2b2f9401580f014c7f58ea4e30989d'
const DEFAULT_LIFETIME_MINUTES = 120

/** The session key under which Laravel's SessionGuard keeps the user id of a guard. */
export function laravelLoginKey(guard: string): string {
  return `login_${guard}_${SESSION_GUARD_SHA1}`
}

/** The Laravel codec: its payloads in the database (base64) or in Redis (serialized twice), encrypted or not. */
export function createLaravelCodec(settings: Partial<CodecSettings> = {}) {
  return createPhpCodec({
    keys: (settings.appKeys ?? []).map(key => parseLaravelKey(key)),
    // Database: base64(serialize($attributes)); Redis: serialize(serialize($attributes)). Encrypted
    // (SESSION_ENCRYPT=true): base64(envelope) or serialize(envelope), the envelope holding
    // serialize(serialize($attributes)). One codec reads all four.
    layers: ['base64-or-string', 'encrypted', 'string-if-encrypted', 'array'],
    name: 'laravel',
    userPath: settings.userPath ?? [laravelLoginKey('web')],
  })
}

/** A session id as Laravel makes them (Str::random(40)). */
const SESSION_ID = /^[\dA-Za-z]{40}$/

/**
 * Laravel's session cookie, encrypted by EncryptCookies with the APP_KEY (URL-encoded as the
 * browser keeps it, or not): decrypted (src/formats/laravel-encrypter.ts), the plaintext is
 * `hash_hmac('sha1', <cookie name> . 'v2', key) . '|' . <id>` (Laravel ≥ 8.x's CookieValuePrefix;
 * the cookie's name is not needed to strip it), or the id alone (older). Without the key, or with a
 * key that does not decrypt it, it names nothing.
 */
export function laravelCookie(given: string, {appKeys}: CookieKeys): KeyForm | undefined {
  let value = given
  if (given.includes('%')) {
    try {
      value = decodeURIComponent(given)
    } catch {
      return undefined
    }
  }

  if (!isLaravelEnvelope(value)) return undefined
  const as = 'Laravel encrypted cookie'
  if (appKeys.length === 0) return {as, key: '', refused: 'encrypted: pass --app-key (or APP_KEY) to read it'}
  const decrypted = decryptLaravel(value, appKeys.map(key => parseLaravelKey(key)))
  if (!decrypted.ok) return {as, key: '', refused: `it does not decrypt with the app key (${decrypted.reason})`}
  const text = decrypted.plaintext.toString('latin1')
  const id = /^[\da-f]{40}\|/.test(text) ? text.slice(41) : text
  return SESSION_ID.test(id) ? {as, key: id, note: 'decrypted with the app key'} : {as, key: '', refused: 'it decrypts to no session id'}
}

/**
 * Laravel 5.8–10 sessions (docs/session-formats.md §3): the `sessions` table of the database driver
 * (`user_id` kept by the default guard, cross-checked with the payload's login key; live while
 * `last_activity >= now - lifetime`, gc() deletes `<=`) and the redis driver (`<prefix><40
 * alphanumerics>`, TTL = lifetime). Encrypted sessions need the APP_KEY.
 */
export default defineFramework({
  codec: createLaravelCodec,
  cookie: laravelCookie,
  language: 'php',
  name: 'laravel',
  reads: {appKey: true, guard: {default: 'web'}, lifetime: {default: DEFAULT_LIFETIME_MINUTES}},
  // Laravel 8: phpredis prefix `laravel_database_`, cache prefix `laravel_cache`, then `:`. App
  // cache items may share it: they are not sessions (the codec says so), never matched.
  redis: prefix => ({keyGlob: '[a-zA-Z0-9]'.repeat(40), keyPattern: /^[\dA-Za-z]{40}$/, prefixes: [prefix ?? 'laravel_database_laravel_cache:']}),
  // PostgreSQL: the same stub makes the same table (user_id bigint, last_activity integer): `sql` serves it.
  sql: ({guard, lifetimeMinutes}) => ({
    table: 'sessions',
    keyColumn: 'id',
    dataColumn: 'payload',
    detailColumns: [
      {column: 'ip_address', label: 'ip'},
      {column: 'user_agent', label: 'userAgent'},
      {column: 'last_activity', label: 'lastActivity', unit: 'unix-seconds'},
    ],
    // DatabaseSessionHandler fills user_id from the default guard (web in the stock config): for
    // another guard the column says nothing, and the table is scanned.
    ...(guard === undefined || guard === 'web' ? {userColumn: 'user_id'} : {}),
    expiry: {
      column: 'last_activity',
      unit: 'unix-seconds',
      offsetSeconds: (lifetimeMinutes ?? DEFAULT_LIFETIME_MINUTES) * 60,
      // read(): expired when last_activity < now - lifetime (time(), whole seconds); gc(): <=.
      liveWhen: 'not-before-now',
      cleanupWhen: 'not-after-now',
      nowSeconds: 'floor',
    },
  }),
  summary: 'Laravel database (sessions table, user_id cross-checked) and redis session drivers, encrypted with --app-key',
  userPath: ({guard}) => [laravelLoginKey(guard ?? 'web')],
})
