import {
  type Codec, type Decoded, readPath, undecodable,
} from './codec.js'
import {payloadUserId} from './json-path.js'
import {bufferChunks, readOversized} from './oversized.js'
import {payloadSkipper} from './pickle-skip.js'

const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024

export interface JsonCodecOptions {
  /** ISO-8601 text at this path is the session's expiry (null or absent: none). */
  expiresPath?: readonly string[]
  maxPayloadBytes?: number
  /** The codec's name in reports. */
  name: string
  userPath: readonly string[]
}

/**
 * Sessions stored as a JSON object in UTF-8 (`JSON.stringify(session)`). The user id may be any
 * JSON type; 42 and "42" are the same user. `expiresAt` comes from the text at `expiresPath`,
 * `signature` is always 'unchecked' (the stored value is not signed) and `variant` is 'json'.
 */
export function createJsonCodec(options: JsonCodecOptions): Codec {
  const {expiresPath, userPath} = options
  const maxPayload = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD
  const skipper = payloadSkipper(userPath, 'json')
  function decode(value: Buffer): Decoded {
    if (value.length === 0) return undecodable('empty')
    if (value.length > maxPayload) {
      // Read in pieces, never parsed into objects: the user id and the expiry, exactly.
      const read = readOversized(bufferChunks(value), {
        corrupt: 'not JSON', encoding: 'utf8', expiresPath, formats: 'json', userPath,
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
    const expiresAt = expiresPath ? dateOf(readPath(data, expiresPath)) : undefined
    return {
      data: data as Record<string, unknown>,
      ...(expiresAt ? {expiresAt} : {}),
      ok: true,
      signature: 'unchecked',
      userId: payloadUserId(data as Record<string, unknown>, userPath, value, 'utf8'),
      variant: 'json',
    }
  }

  return {
    decode,
    // Empty and oversized values (read exactly in pieces) are always decoded; the others skip
    // the parse when their bytes cannot hold the user (payloadSkipper).
    decodeFor: (value, userId) => (value.length > 0 && value.length <= maxPayload && skipper?.(value, userId) ? undefined : decode(value)),
    name: options.name,
  }
}

function dateOf(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined
  const date = new Date(value)
  return Number.isNaN(date.getTime()) ? undefined : date
}
