import {
  type Codec, type Decoded, ownerUnknown, readPath, undecodable, userIdText,
} from './codec.js'
import {compressionOf, decompress} from './decompress.js'
import {payloadUserId} from './json-path.js'
import {MsgpackError, parseMsgpack} from './msgpack.js'
import {
  bufferChunks, type ChunkSource, inflatedChunks, isMsgpackMap, readOversized,
} from './oversized.js'
import {msgpackCannotHold, payloadSkipper} from './pickle-skip.js'
import {isPickle} from './pickle.js'
import {parsePayload} from './python.js'

const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024

/**
 * Python cache values in Redis, as redis-py clients write them (docs/session-formats.md §1.5): a
 * dict pickled (Django's RedisCache: protocol 5; django-redis: protocol 4) or JSON (django-redis's
 * JSONSerializer), optionally compressed (zlib, gzip, zstd, lz4; lzma/xz is recognised and
 * refused). Ints are stored raw, so a bare integer is a cache value that is not a session.
 * `signature` is always 'unchecked'; `variant` says what was read, e.g. "pickle+zlib" or "json".
 * With `msgpack`, a msgpack map is read too (Flask-Session ≥ 0.7's msgspec serializer);
 * without, it is refused as owner unknown (django-redis's MSGPackSerializer, not measured yet).
 */
export function createCacheValueCodec(options: {maxPayloadBytes?: number; msgpack?: boolean; name: string; userPath: readonly string[]}): Codec {
  const {userPath} = options
  const maxPayload = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD
  const skipper = payloadSkipper(userPath)
  function decodeFor(value: Buffer, userId?: string): Decoded | undefined {
    if (value.length === 0) return undecodable('empty')
    if (isRawInteger(value)) return undecodable('not a session (raw integer)')
    // Over the in-memory limit (compressed or not, the decoded bytes are larger still): read in pieces.
    const plain = value.length > maxPayload ? undefined : decompress(value, maxPayload)
    if (plain === undefined || (!plain.ok && plain.reason === 'too large')) return oversized(value, userId)
    if (!plain.ok) return plain
    const {bytes} = plain
    if (bytes.length > maxPayload) return oversized(value, userId)
    let serializer: string
    if (isPickle(bytes)) serializer = 'pickle'
    else if (bytes[0] === 0x7B) serializer = 'json'
    else if (isMsgpackMap(bytes[0])) {
      if (!options.msgpack) return ownerUnknown('msgpack (unsupported)')
      return userId !== undefined && msgpackCannotHold(bytes, userId) ? undefined : fromMsgpack(bytes, plain.compression)
    } else return undecodable(options.msgpack ? 'not a pickle, msgpack or JSON' : 'not a pickle or JSON')
    if (userId !== undefined && skipper?.(bytes, userId)) return undefined
    // parsePayload sniffs pickle vs JSON the same way; its JSON path reads latin-1, which is
    // exact for django-redis's JSONSerializer (json.dumps escapes everything beyond ASCII).
    const parsed = parsePayload(bytes)
    if (!parsed.ok) return parsed
    return {
      data: parsed.data,
      ok: true,
      signature: 'unchecked',
      userId: payloadUserId(parsed.data, userPath, bytes, 'latin1'),
      variant: plain.compression === 'none' ? serializer : `${serializer}+${plain.compression}`,
    }
  }

  function fromMsgpack(bytes: Buffer, compression: string): Decoded {
    let data: unknown
    try {
      data = parseMsgpack(bytes, {maxBytes: maxPayload})
    } catch (error) {
      return error instanceof MsgpackError && error.limit ? ownerUnknown('msgpack beyond limits') : undecodable('bad msgpack')
    }

    // parseMsgpack's maps are null-prototype objects; ints beyond 2^53 are bigints (exact).
    if (data === null || typeof data !== 'object' || Object.getPrototypeOf(data) !== null) return undecodable('not a session dict')
    const session = data as Record<string, unknown>
    return {
      data: session, ok: true, signature: 'unchecked', userId: userIdText(readPath(session, userPath)), variant: compression === 'none' ? 'msgpack' : `msgpack+${compression}`,
    }
  }

  function oversized(value: Buffer, userId: string | undefined): Decoded | undefined {
    const compression = compressionOf(value)
    // The chunked reader knows pickle and JSON: a msgpack map this large may be anyone's session.
    if (options.msgpack && compression === 'none' && isMsgpackMap(value[0])) return ownerUnknown('too large')
    let source: ChunkSource
    if (compression === 'zlib' || compression === 'gzip') source = inflatedChunks(compression, value)
    else if (compression === 'none') source = bufferChunks(value)
    // zstd and lz4 are decoded whole, xz not at all: django-redis reads them, this reader cannot.
    else return ownerUnknown(compression === 'xz' ? 'xz-compressed (unsupported)' : 'too large')
    const read = readOversized(source, {
      corrupt: `bad ${compression}`, encoding: 'latin1', formats: 'pickle-or-object', userId, userPath,
    })
    if (read === undefined || !read.ok) return read
    return {
      data: {}, ok: true, signature: 'unchecked', userId: read.userId, variant: compression === 'none' ? 'json' : `json+${compression}`,
    }
  }

  return {
    decode: value => decodeFor(value)!,
    decodeFor,
    name: options.name,
  }
}

// redis-py writes ints as str(int): an optional minus and decimal digits, nothing else.
function isRawInteger(value: Buffer): boolean {
  const start = value[0] === 0x2D ? 1 : 0
  if (start === value.length) return false
  for (let i = start; i < value.length; i++) {
    if (value[i] < 0x30 || value[i] > 0x39) return false
  }

  return true
}
