import {
  type Codec, type Decoded, readPath, undecodable,
} from './codec.js'
import {payloadUserId} from './json-path.js'
import {bufferChunks, readOversized} from './oversized.js'

/** Where passport keeps the user: `req.session.passport.user` (the serializeUser result). */
export const EXPRESS_USER_PATH = ['passport', 'user'] as const

const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024
const EXPIRES_PATH = ['cookie', 'expires']

/**
 * express-session values as connect-redis and express-mysql-session store them:
 * `JSON.stringify(session)` in UTF-8, with `cookie.expires` as ISO-8601 text, or null for a
 * browser-session cookie (docs/session-formats.md §2). The user id may be any JSON type; 42 and
 * "42" are the same user. `expiresAt` comes from `cookie.expires`, `signature` is always
 * 'unchecked' (the stored value is not signed, only the cookie is) and `variant` is 'json'.
 */
export function createExpressCodec(options: {maxPayloadBytes?: number; userPath?: readonly string[]} = {}): Codec {
  const userPath = options.userPath ?? EXPRESS_USER_PATH
  const maxPayload = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD
  return {
    decode(value: Buffer): Decoded {
      if (value.length === 0) return undecodable('empty')
      if (value.length > maxPayload) {
        // Read in pieces, never parsed into objects: the user id and the expiry, exactly.
        const read = readOversized(bufferChunks(value), {
          corrupt: 'not JSON', encoding: 'utf8', expiresPath: EXPIRES_PATH, formats: 'json', userPath,
        })
        if (!read?.ok) return read!
        const expiresAt = dateOf(read.expires?.type === 'string' ? read.expires.text : undefined)
        return {
          data: {}, ...(expiresAt ? {expiresAt} : {}), ok: true, signature: 'unchecked', userId: read.userId, variant: 'json',
        }
      }

      let data: unknown
      try {
        data = JSON.parse(value.toString('utf8'))
      } catch {
        return undecodable('not JSON')
      }

      if (data === null || typeof data !== 'object' || Array.isArray(data)) return undecodable('not a session dict')
      const expiresAt = dateOf(readPath(data, EXPIRES_PATH))
      return {
        data: data as Record<string, unknown>,
        ...(expiresAt ? {expiresAt} : {}),
        ok: true,
        signature: 'unchecked',
        userId: payloadUserId(data as Record<string, unknown>, userPath, value, 'utf8'),
        variant: 'json',
      }
    },
    name: 'express',
  }
}

function dateOf(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined
  const date = new Date(value)
  return Number.isNaN(date.getTime()) ? undefined : date
}
