import type {CodecSettings} from '../formats/codec.js'

import {createJsonCodec} from '../formats/json-session.js'
import {defineFramework} from './framework.js'

/** Where passport keeps the user: `req.session.passport.user` (the serializeUser result). */
export const EXPRESS_USER_PATH = ['passport', 'user'] as const

export function createExpressCodec(options: Partial<CodecSettings> & {maxPayloadBytes?: number} = {}) {
  return createJsonCodec({
    expiresPath: ['cookie', 'expires'], maxPayloadBytes: options.maxPayloadBytes, name: 'express', userPath: options.userPath ?? EXPRESS_USER_PATH,
  })
}

/**
 * express-session as connect-redis and express-mysql-session store it (docs/session-formats.md §2):
 * `JSON.stringify(session)`, with `cookie.expires` as ISO-8601 text (null for a browser-session
 * cookie). The stored value is not signed, only the cookie is.
 */
export default defineFramework({
  codec: createExpressCodec,
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
