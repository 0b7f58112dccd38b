import type {CodecSettings} from '../formats/codec.js'
import type {RedisLayout, SqlLayout} from '../stores/contract.js'

import {createSignedCodec} from '../formats/django-signing.js'
import {defineFramework} from './framework.js'

export const DJANGO_SESSION_SALT = 'django.contrib.sessions.SessionStore'
/** django.contrib.auth keeps the user's primary key, as text, under this key. */
export const DJANGO_USER_PATH = ['_auth_user_id'] as const

/** Django session keys: get_random_string(32, [a-z0-9]). As a SCAN glob, Redis filters them itself. */
export function djangoKeys(prefixes: string[]): RedisLayout {
  return {keyGlob: '[a-z0-9]'.repeat(32), keyPattern: /^[\da-z]{32}$/, prefixes}
}

/** The Django codec with Django's defaults (tests and tools use it directly). */
export function createDjangoCodec(options: Partial<CodecSettings> & {maxPayloadBytes?: number} = {}) {
  return createSignedCodec({
    maxPayloadBytes: options.maxPayloadBytes,
    name: 'django',
    salt: options.salt ?? DJANGO_SESSION_SALT,
    secretKeys: options.secretKeys ?? [],
    userPath: options.userPath ?? DJANGO_USER_PATH,
  })
}

/** A package's table: user_id (by index, cross-checked with the payload), ip, user agent and two times. */
function clientColumns(created: string, lastActivity: string): Partial<SqlLayout> {
  return {
    detailColumns: [
      {column: 'ip', label: 'ip'},
      {column: 'user_agent', label: 'userAgent'},
      {column: created, label: 'created'},
      {column: lastActivity, label: 'lastActivity'},
    ],
    userColumn: 'user_id',
  }
}

/**
 * Django's database-backed sessions (`db`, and the table half of `cached_db`) and
 * django-redis-sessions: the signed session_data string (docs/session-formats.md §1).
 */
export default defineFramework({
  codec: createDjangoCodec,
  language: 'python',
  name: 'django',
  // django-redis-sessions stores the same signed string under `<prefix><key>` (no prefix by default).
  redis: prefix => djangoKeys([prefix ?? '']),
  signed: true,
  sql: {
    table: 'django_session',
    keyColumn: 'session_key',
    dataColumn: 'session_data',
    // SessionStore.load serves a row while expire_date > now; clearsessions deletes expire_date < now.
    expiry: {column: 'expire_date', liveWhen: 'after-now', unit: 'datetime'},
  },
  // Packages whose SessionStore subclasses Django's db store and keeps the user and the client in
  // columns beside the same signed session_data (user_id from _auth_user_id, as the payload says).
  tables: {
    // django-qsessions (QueraTeam): migrations 0001 and 0002; updated_at is auto_now.
    qsessions_session: clientColumns('created_at', 'updated_at'),
    // django-user-sessions (jazzband): migrations 0001–0003 (and `created` where 0004 added it).
    user_sessions_session: clientColumns('created', 'last_activity'),
  },
  summary: 'Django db/cached_db rows (django_session) and django-redis-sessions keys: signed ≥3.1 or legacy, JSON or pickle',
  userPath: DJANGO_USER_PATH,
})
