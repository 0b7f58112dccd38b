import {
  type Codec, type Decoded, readPath, undecodable, userIdText,
} from './codec.js'
import {decompress} from './decompress.js'
import {DJANGO_USER_PATH, parsePayload} from './django.js'

/**
 * Values of Django's cache session backend (and cached_db's cache half) in Redis: the session
 * dict itself, not signed, pickled by the cache (Django's RedisCache: protocol 5; django-redis:
 * protocol 4, or its JSON serializer), optionally compressed by django-redis's COMPRESSOR.
 * Both store ints raw, so a bare integer is a cache value that is not a session.
 */
const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024
const RAW_INTEGER = /^-?\d+$/

export function createDjangoCacheCodec(options: {userPath?: readonly string[]; maxPayloadBytes?: number} = {}): Codec {
  const userPath = options.userPath ?? DJANGO_USER_PATH
  const maxPayload = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD
  return {
    decode(value: Buffer): Decoded {
      if (value.length === 0) return undecodable('empty')
      if (value.length <= 20 && RAW_INTEGER.test(value.toString('latin1'))) return undecodable('not a session (raw integer)')
      const plain = decompress(value, maxPayload)
      if (!plain.ok) return plain
      const first = plain.bytes[0]
      // msgpack maps (django-redis MSGPackSerializer) begin 0x80-0x8f, 0xde or 0xdf; a pickle is 0x80 + protocol.
      if (((first >= 0x81 && first <= 0x8F) || first === 0xDE || first === 0xDF)) return undecodable('msgpack (unsupported)')
      const parsed = parsePayload(plain.bytes)
      if (!parsed.ok) return parsed
      return {
        data: parsed.data,
        ok: true,
        signature: 'unchecked',
        userId: userIdText(readPath(parsed.data, userPath)),
        variant: plain.compression === 'none' ? 'pickle' : `pickle+${plain.compression}`,
      }
    },
    name: 'django-cache',
  }
}
