import type {CodecSettings} from '../formats/codec.js'

import {djangoSignature} from '../formats/django-signing.js'
import {createCacheValueCodec} from '../formats/python-cache.js'
import {type CookieKeys, defineFramework, type KeyForm} from './framework.js'

/** Flask-Login keeps the user's get_id() here: a string, or an int where the app returns one. */
export const FLASK_USER_PATH = ['_user_id'] as const
const DEFAULT_PREFIX = 'session:'

/** The Flask-Session codec: pickle (≤ 0.6), msgpack or JSON (≥ 0.7), sniffed from the bytes. */
export function createFlaskCodec(options: Partial<CodecSettings> & {maxPayloadBytes?: number} = {}) {
  return createCacheValueCodec({
    maxPayloadBytes: options.maxPayloadBytes, msgpack: true, name: 'flask', userPath: options.userPath ?? FLASK_USER_PATH,
  })
}

/**
 * Flask-Session's cookie with `SESSION_USE_SIGNER` (0.3.2, Debian's): `<sid>.<sig>`, itsdangerous'
 * Signer (salt "flask-session", HMAC-SHA1 over the django-concat key, base64url: 27 characters),
 * checked against the secrets given (Flask's SECRET_KEY); a mismatch names nothing.
 */
export function flaskSignedCookie(given: string, {secrets}: CookieKeys): KeyForm | undefined {
  const match = /^([\w-]{1,255})\.([\w-]{27})$/.exec(given)
  if (!match) return undefined
  const [, sid, signature] = match
  const as = 'Flask-Session signed cookie'
  if (secrets.length === 0) return {as, key: sid, note: 'signature not checked: no --secret-key'}
  const valid = secrets.some(secret => djangoSignature(sid, secret, 'flask-session', 'sha1') === signature)
  return valid ? {as, key: sid, note: 'signature checked'} : {as, key: sid, refused: 'signature does not match --secret-key'}
}

/**
 * Flask-Session (docs/session-formats.md §5 and the corrections of issue 13): its Redis backend
 * (`session:<sid>`, the TTL is the expiry) and its SQLAlchemy backend (table `sessions`, whose
 * `session_id` holds the key prefix too; `expiry` naive UTC, NULL for a non-permanent session,
 * which Flask-Session ≥ 0.7 reads as expired). The value is the session dict, unsigned.
 */
export default defineFramework({
  codec: createFlaskCodec,
  cookie: flaskSignedCookie,
  // The SQL rows hold `<prefix><sid>`: the sid the cookie carries names `session:<sid>` there.
  // In Redis the key shown is the sid: `session:<sid>` (as redis-cli shows it) names it too.
  keyForms: given => [given.startsWith(DEFAULT_PREFIX) ? given.slice(DEFAULT_PREFIX.length) : `${DEFAULT_PREFIX}${given}`],
  keyFormsAre: 'Flask-Session sid',
  language: 'python',
  name: 'flask',
  // 0.3.2 makes uuid4 ids (36 characters), ≥ 0.7 secrets.token_urlsafe(32).
  redis: prefix => ({keyGlob: '*', keyPattern: /^[\w-]{1,255}$/, prefixes: [prefix ?? DEFAULT_PREFIX]}),
  // PostgreSQL: SQLAlchemy maps the same model to bytea and timestamp without time zone, written
  // with utcnow(): `sql` serves it, naive times read as UTC.
  sql: {
    table: 'sessions',
    keyColumn: 'session_id',
    dataColumn: 'data',
    // open_session: a row with `expiry <= utcnow()` is deleted and not served; ≥ 0.7 also drops NULL ones.
    expiry: {
      column: 'expiry', liveWhen: 'after-now', nullMeans: 'expired', unit: 'datetime',
    },
  },
  summary: 'Flask-Session redis (session:<sid>) and sqlalchemy (sessions table) backends: pickle, msgpack or JSON; user at _user_id (Flask-Login)',
  userPath: FLASK_USER_PATH,
})
