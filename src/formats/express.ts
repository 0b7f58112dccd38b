import {
  type Codec, type Decoded, readPath, undecodable, userIdText,
} from './codec.js'

/**
 * express-session as connect-redis and express-mysql-session store it: `JSON.stringify(session)`
 * with `cookie.expires` as ISO text (docs/session-formats.md §2). Passport keeps the user at
 * `passport.user`, any JSON type: 42 and "42" are the same user.
 */
export const EXPRESS_USER_PATH = ['passport', 'user'] as const
const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024

export function createExpressCodec(options: {userPath?: readonly string[]; maxPayloadBytes?: number} = {}): Codec {
  const userPath = options.userPath ?? EXPRESS_USER_PATH
  const maxPayload = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD
  return {
    decode(value: Buffer): Decoded {
      if (value.length === 0) return undecodable('empty')
      if (value.length > maxPayload) return undecodable('too large')
      let data: unknown
      try {
        data = JSON.parse(value.toString('utf8'))
      } catch {
        return undecodable('not JSON')
      }

      if (data === null || typeof data !== 'object' || Array.isArray(data)) return undecodable('not a session dict')
      const expires = readPath(data, ['cookie', 'expires'])
      const expiresAt = typeof expires === 'string' ? new Date(expires) : undefined
      return {
        data: data as Record<string, unknown>,
        ...(expiresAt && !Number.isNaN(expiresAt.getTime()) ? {expiresAt} : {}),
        ok: true,
        signature: 'unchecked',
        userId: userIdText(readPath(data, userPath)),
        variant: 'json',
      }
    },
    name: 'express',
  }
}
