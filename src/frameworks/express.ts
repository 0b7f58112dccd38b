import {createHmac, timingSafeEqual} from 'node:crypto'

import type {CodecSettings} from '../formats/codec.js'

import {createJsonCodec} from '../formats/json-session.js'
import {type CookieKeys, defineFramework, type KeyForm} from './framework.js'

/** Where passport keeps the user: `req.session.passport.user` (the serializeUser result). */
export const EXPRESS_USER_PATH = ['passport', 'user'] as const

export function createExpressCodec(options: Partial<CodecSettings> & {maxPayloadBytes?: number} = {}) {
  return createJsonCodec({
    expiresPath: ['cookie', 'expires'], maxPayloadBytes: options.maxPayloadBytes, name: 'express', userPath: options.userPath ?? EXPRESS_USER_PATH,
  })
}

/** cookie-signature's `sign`: `<value>.<base64 HMAC-SHA256 without padding>`. */
export function expressSign(value: string, secret: string): string {
  return `${value}.${createHmac('sha256', secret).update(value).digest('base64').replace(/=+$/, '')}`
}

/**
 * express-session's cookie, `s:<sid>.<sig>` (URL-encoded as the browser keeps it: `s%3A…`) →
 * the sid, as cookie-signature's `unsign` reads it (the signature after the last dot). With
 * secrets (express-session's `secret`, any of them) the signature is checked; a mismatch names
 * nothing.
 */
export function expressCookie(given: string, {secrets}: CookieKeys): KeyForm | undefined {
  let value = given
  if (/^s%3A/i.test(given)) {
    try {
      value = decodeURIComponent(given)
    } catch {
      return undefined
    }
  }

  if (!value.startsWith('s:')) return undefined
  const signed = value.slice(2)
  const dot = signed.lastIndexOf('.')
  if (dot <= 0 || dot === signed.length - 1) return undefined
  const sid = signed.slice(0, dot)
  const as = value === given ? 'express signed cookie' : 'express signed cookie (URL-encoded)'
  if (secrets.length === 0) return {as, key: sid, note: 'signature not checked: no --secret-key'}
  const wanted = Buffer.from(signed)
  const valid = secrets.some(secret => {
    const expected = Buffer.from(expressSign(sid, secret))
    return expected.length === wanted.length && timingSafeEqual(expected, wanted)
  })
  return valid ? {as, key: sid, note: 'signature checked'} : {as, key: sid, refused: 'signature does not match --secret-key'}
}

/**
 * express-session as connect-redis and express-mysql-session store it (docs/session-formats.md §2):
 * `JSON.stringify(session)`, with `cookie.expires` as ISO-8601 text (null for a browser-session
 * cookie). The stored value is not signed, only the cookie is.
 */
export default defineFramework({
  codec: createExpressCodec,
  cookie: expressCookie,
  language: 'js',
  name: 'express',
  // connect-redis: `sess:<sid>`; the sid is whatever genid made (uid-safe by default).
  redis: prefix => ({keyGlob: '*', keyPattern: /^.+$/s, prefixes: [prefix ?? 'sess:']}),
  sql: {
    table: 'sessions',
    keyColumn: 'session_id',
    dataColumn: 'data',
    // express-mysql-session serves `expires >= now` (whole seconds, Math.round(Date.now() / 1000)).
    expiry: {
      column: 'expires', liveWhen: 'not-before-now', nowSeconds: 'round', unit: 'unix-seconds',
    },
  },
  // connect-pg-simple (table.sql): `session(sid varchar, sess json, expire timestamp(6))`, expire
  // written with to_timestamp() (the connection's time zone); served while `expire >= now`.
  postgres: {
    table: 'session',
    keyColumn: 'sid',
    dataColumn: 'sess',
    // get(): `typeof sess === 'string' ? JSON.parse(sess) : sess`, after pg has parsed the json column.
    jsonStringHoldsSession: true,
    expiry: {
      column: 'expire', liveWhen: 'not-before-now', naiveZone: 'session', unit: 'datetime',
    },
  },
  summary: 'express-session via connect-redis (sess:<sid>), express-mysql-session (sessions table) or connect-pg-simple (session table); user at passport.user',
  userPath: EXPRESS_USER_PATH,
})
