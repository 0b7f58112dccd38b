import {createHash} from 'node:crypto'

import type {CodecSettings} from '../formats/codec.js'

import {createRubySessionCodec} from '../formats/ruby-session.js'
import {defineFramework} from './framework.js'

const DEFAULT_SCOPE = 'user'

/** Devise/Warden keep a scope's login as `[record.to_key, authenticatable_salt]`: the id is `[[id], salt]`[0][0]. */
export function railsUserPath(scope: string): string[] {
  return [`warden.user.${scope}.key`, '0', '0']
}

/** Rack's private session id (Rack::Session::SessionId#private_id, Rails ≥ 5.2 / CVE-2019-16782): `2::<sha256hex(public id)>`. */
export function railsPrivateId(publicId: string): string {
  return `2::${createHash('sha256').update(publicId).digest('hex')}`
}

export function createRailsCodec(options: Partial<CodecSettings> & {maxPayloadBytes?: number} = {}) {
  return createRubySessionCodec({maxPayloadBytes: options.maxPayloadBytes, name: 'rails', userPath: options.userPath ?? railsUserPath(DEFAULT_SCOPE)})
}

/**
 * Rails sessions (docs/session-formats.md §7 and the corrections of issue 13): ActionDispatch's
 * CacheStore over RedisCacheStore (`_session_id:2::<sha256>`, a marshalled Cache::Entry with its
 * own expiry; `_session_id:<public id>` for legacy keys), redis-session-store / redis-rack (raw
 * Marshal or JSON under their prefix, e.g. `--prefix rack:session:`) and activerecord-session_store
 * (`sessions` table, Base64 Marshal or JSON in `data`; expired when `updated_at` is older than the
 * app's expire_after, which the table does not record: `--lifetime` is required to tell).
 */
export default defineFramework({
  codec: createRailsCodec,
  // Anywhere a session is named, the cookie's public id stands for its private id (and for itself: legacy keys).
  keyForms: given => (given.startsWith('2::') ? [] : [railsPrivateId(given)]),
  keyFormsAre: 'Rails public id',
  language: 'ruby',
  name: 'rails',
  reads: {lifetime: {}, scope: {default: DEFAULT_SCOPE}},
  // Public ids: 32 hex characters (Rails), 64 (Rack's own middleware); stored as `2::` + sha256 hex,
  // or as the public id itself (legacy keys, which Rails still reads).
  redis: prefix => ({keyGlob: '*', keyPattern: /^(?:2::[\da-f]{64}|[\da-f]{32}|[\da-f]{64})$/, prefixes: [prefix ?? '_session_id:']}),
  // PostgreSQL: the same migration (timestamp(6) without time zone, written in UTC by ActiveRecord,
  // which sets the connection's TimeZone to UTC): `sql` serves it, naive times read as UTC.
  sql: ({lifetimeMinutes}) => ({
    table: 'sessions',
    keyColumn: 'session_id',
    dataColumn: 'data',
    detailColumns: [
      {column: 'created_at', label: 'created'},
      {column: 'updated_at', label: 'lastActivity'},
    ],
    // The store serves any row it finds: expire_after lives in the cookie, and db:sessions:trim
    // deletes `updated_at < now - SESSION_DAYS_TRIM_THRESHOLD days`. Without --lifetime, no expiry.
    expiry: {
      column: 'updated_at',
      unit: 'datetime',
      liveWhen: 'not-before-now',
      ...(lifetimeMinutes === undefined ? {offsetUnknown: '--lifetime MINUTES'} : {offsetSeconds: lifetimeMinutes * 60}),
    },
  }),
  // [[id], authenticatable_salt]: the salt is the first 29 characters of the bcrypt password hash.
  secretKeys: /^warden\.user\.[^.]+\.key$/,
  summary: 'Rails CacheStore over Redis (_session_id:2::<sha256>), redis-rack / redis-session-store, activerecord-session_store (--lifetime); user at warden.user.<scope>.key',
  userPath: ({scope}) => railsUserPath(scope ?? DEFAULT_SCOPE),
})
