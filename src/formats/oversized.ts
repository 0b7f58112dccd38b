import {ownerUnknown, type Undecodable, undecodable} from './codec.js'
import {inflateChunks} from './compression/inflate.js'
import {
  type JsonEncoding, JsonPathError, JsonPathReader, type JsonPathValue, pathUserId,
} from './json-path.js'
import {PickleScan} from './pickle-skip.js'
import {isPickle} from './pickle.js'

/**
 * Payloads over a codec's in-memory limit (16 MiB decoded) are not parsed into objects: a user
 * can grow their own session (a cart) past any limit, and such a session must not escape a
 * purge. They are read here in pieces, in memory bounded by the piece size, up to this ceiling
 * of decoded bytes (a few seconds of work); beyond it, or where the payload cannot be read in
 * pieces (a pickle that might be the user's, zstd and lz4 frames), the value is undecodable
 * with an unknown owner.
 */
export const OVERSIZED_CEILING = 1024 * 1024 * 1024

/** Hands a payload's decoded bytes to `onChunk`, in order; throws Error (corrupt) or RangeError (over the ceiling). */
export type ChunkSource = (onChunk: (chunk: Buffer) => void) => void

/** A zlib or gzip stream, inflated in pieces. */
export function inflatedChunks(kind: 'gzip' | 'zlib', bytes: Uint8Array, ceiling = OVERSIZED_CEILING): ChunkSource {
  return onChunk => inflateChunks(kind, bytes, ceiling, onChunk)
}

/** Bytes already in memory, in pieces (the pickle test converts each to text). */
export function bufferChunks(bytes: Buffer, ceiling = OVERSIZED_CEILING): ChunkSource {
  return onChunk => {
    if (bytes.length > ceiling) throw new RangeError('over the ceiling')
    for (let at = 0; at < bytes.length; at += PIECE) onChunk(bytes.subarray(at, at + PIECE))
  }
}

const PIECE = 1024 * 1024

export interface OversizedRead {
  /** Text of the bytes as the codec's JSON.parse sees them. */
  encoding: JsonEncoding
  /** Also read this path (express: cookie.expires). */
  expiresPath?: readonly string[]
  /** What a corrupt source is ("bad zlib"). */
  corrupt: string
  /**
   * How the serializer is told: 'json' only (express), a pickle or else JSON (Django's
   * session serializers), a pickle, '{' for JSON, or neither (django-redis's serializers).
   */
  formats: 'json' | 'pickle-else-json' | 'pickle-or-object'
  userId?: string
  userPath: readonly string[]
}

/** What an oversized payload gave: the session's user (and expiry text), a skip (not `userId`'s), or why not. */
export type OversizedResult = Undecodable | undefined | {expires?: JsonPathValue; ok: true; userId: null | string}

// Thrown from onChunk to stop reading once the answer is known.
class Settled extends Error {
  constructor(readonly result: OversizedResult) {
    super('settled')
  }
}

/**
 * Reads the user id (and expiry) from an oversized payload with the exact streaming JSON reader,
 * or settles that a pickle cannot hold `userId` with the streamed byte test. Never throws.
 */
export function readOversized(source: ChunkSource, o: OversizedRead): OversizedResult {
  let reader: JsonPathReader | undefined
  let skip: PickleScan | undefined
  try {
    source(chunk => {
      if (!reader && !skip) {
        if (o.formats !== 'json' && isPickle(chunk)) {
          // Without a user to rule out, a pickle this size is anyone's.
          if (o.userId === undefined) throw new Settled(ownerUnknown('too large'))
          skip = PickleScan.for(o.userId)
          if (skip === undefined) throw new Settled(ownerUnknown('too large'))
        } else if (o.formats === 'pickle-or-object' && chunk[0] !== 0x7B) {
          throw new Settled(isMsgpackMap(chunk[0]) ? ownerUnknown('msgpack (unsupported)') : undecodable('not a pickle or JSON'))
        } else {
          reader = new JsonPathReader(o.expiresPath ? [o.userPath, o.expiresPath] : [o.userPath], o.encoding)
        }
      }

      if (skip) {
        if (!skip.write(chunk)) throw new Settled(ownerUnknown('too large'))
      } else {
        reader!.write(chunk)
      }
    })
  } catch (error) {
    if (error instanceof Settled) return error.result
    if (error instanceof JsonPathError) return error.limit ? ownerUnknown(error.message.includes('deep') ? 'too deep' : 'user id too long') : undecodable('not JSON')
    return error instanceof RangeError ? ownerUnknown('too large') : undecodable(o.corrupt)
  }

  if (skip) return skip.end() ? undefined : ownerUnknown('too large')
  if (!reader) return undecodable('empty')
  let read: ReturnType<JsonPathReader['end']>
  try {
    read = reader.end()
  } catch {
    return undecodable('not JSON')
  }

  if (read.root !== 'object') return undecodable('not a session dict')
  const [user, expires] = read.values
  return {...(expires ? {expires} : {}), ok: true, userId: pathUserId(user)}
}

// fixmap, map16, map32: how MSGPackSerializer's output for a dict begins. 0x80 + 2..5 is a
// pickle header and was matched first.
export function isMsgpackMap(first: number): boolean {
  return (first >= 0x80 && first <= 0x8F) || first === 0xDE || first === 0xDF
}
