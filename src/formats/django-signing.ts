import {createHash, createHmac, timingSafeEqual} from 'node:crypto'

import {
  type Codec, type Decoded, undecodable,
} from './codec.js'
import {inflateZlib} from './compression/inflate.js'
import {payloadUserId} from './json-path.js'
import {topLevelString} from './json-scan.js'
import {
  bufferChunks, type ChunkSource, inflatedChunks, readOversized,
} from './oversized.js'
import {payloadSkipper} from './pickle-skip.js'
import {isPickle} from './pickle.js'
import {parsePayload} from './python.js'

/**
 * Django's signed session encodings (docs/session-formats.md §1), the envelope around a Python
 * payload:
 *   ≥ 3.1  `[.]b64url(zlib?(payload)):b62(ts):b64url(HMAC-SHA256)`   (django.core.signing.dumps)
 *   < 3.1  `b64(hex(HMAC-SHA1) ":" payload)`                            (SessionBase legacy encode)
 * where payload is JSON or a pickle (python.ts). What the payload means (where the user is)
 * is the caller's: a framework file passes its user path and salt.
 */
export interface SignedCodecOptions {
  /** Decompressed payloads larger than this are refused (zlib bombs). */
  maxPayloadBytes?: number
  /** The codec's name in reports. */
  name: string
  /** The signing salt (Django: `'django.contrib.sessions.' + SessionStore.__qualname__`). */
  salt: string
  /** The signing keys, newest first; empty = signatures are not checked. */
  secretKeys?: readonly string[]
  /** Where the user id sits in the payload dict. */
  userPath: readonly string[]
}

const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024

const BASE64URL = /^[\w-]*$/
const BASE64 = /^[\d+/A-Za-z]*={0,2}$/
const HEX40 = /^[\da-f]{40}$/

/** The signature Django's `Signer` appends to `value` (`salted_hmac(salt + 'signer', value)`). */
export function djangoSignature(value: string, secretKey: string, salt: string, algorithm: 'sha1' | 'sha256' = 'sha256'): string {
  return createHmac(algorithm, deriveKey(`${salt}signer`, secretKey, algorithm)).update(value).digest('base64url')
}

/** The hex hash of the pre-3.1 format (`SessionBase._hash`, salted_hmac with SHA-1). */
export function djangoLegacyHash(serialized: Buffer, secretKey: string, salt: string): string {
  return createHmac('sha1', deriveKey(legacySalt(salt), secretKey, 'sha1')).update(serialized).digest('hex')
}

function deriveKey(keySalt: string, secretKey: string, algorithm: 'sha1' | 'sha256'): Buffer {
  return createHash(algorithm).update(keySalt + secretKey).digest()
}

// The legacy salt used the class __name__ without the dot: "django.contrib.sessionsSessionStore".
function legacySalt(salt: string): string {
  return salt.replace(/^django\.contrib\.sessions\./, 'django.contrib.sessions')
}

export function createSignedCodec(options: SignedCodecOptions): Codec {
  const {salt, userPath} = options
  const maxPayload = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD
  const secrets = options.secretKeys ?? []
  // Keys are derived once: the HMAC per row is then the only crypto cost.
  const signedKeys = secrets.flatMap(secret => [
    {algorithm: 'sha256' as const, key: deriveKey(`${salt}signer`, secret, 'sha256')},
    // Django 3.1/3.2 also accept SHA-1 signatures (DEFAULT_HASHING_ALGORITHM transition).
    {algorithm: 'sha1' as const, key: deriveKey(`${salt}signer`, secret, 'sha1')},
  ])
  const legacyKeys = secrets.map(secret => deriveKey(legacySalt(salt), secret, 'sha1'))

  // `borrowed`: bytes are a view of a scratch buffer, which a parsed pickle (its parser may keep slices) must not share.
  // `lite`: the caller reads only the user, signature and variant (Codec.decodeLite): a JSON payload whose
  // user the byte scan settles is not parsed, and its `data` is empty.
  function session(bytes: Buffer, signature: 'invalid' | 'unchecked' | 'valid', variant: string, borrowed: boolean, lite: boolean): Decoded {
    const scanned = lite && userPath.length === 1 ? topLevelString(bytes, userPath[0]) : undefined
    if (scanned) return {
      data: LITE_DATA, ok: true, signature, userId: scanned.text, variant,
    }
    const dataResult = parsePayload(borrowed && isPickle(bytes) ? Buffer.from(bytes) : bytes)
    if (!dataResult.ok) return dataResult
    return {
      data: dataResult.data, ok: true, signature, userId: payloadUserId(dataResult.data, userPath, bytes, 'latin1'), variant,
    }
  }

  // A payload over the in-memory limit: read in pieces, never parsed into objects.
  function oversized(source: ChunkSource, signature: 'invalid' | 'unchecked' | 'valid', variant: string, userId?: string): Decoded | undefined {
    // Django checks the signature before it decompresses: a forged value is nobody's.
    if (signature === 'invalid') return {
      data: {}, ok: true, signature, userId: null, variant,
    }
    const read = readOversized(source, {
      corrupt: 'bad zlib', encoding: 'latin1', formats: 'pickle-else-json', userId, userPath,
    })
    if (read === undefined || !read.ok) return read
    return {
      data: {}, ok: true, signature, userId: read.userId, variant,
    }
  }

  function verdictOf(value: string, signature: string): 'invalid' | 'unchecked' | 'valid' {
    if (signedKeys.length === 0) return 'unchecked'
    const given = Buffer.from(signature)
    for (const {algorithm, key} of signedKeys) {
      if (safeEqual(given, createHmac(algorithm, key).update(value).digest('base64url'))) return 'valid'
    }

    return 'invalid'
  }

  const skipper = payloadSkipper(userPath)

  function decodeSigned(text: string, userId: string | undefined, lite: boolean): Decoded | undefined {
    const sigAt = text.lastIndexOf(':')
    const tsAt = text.lastIndexOf(':', sigAt - 1)
    if (tsAt <= 0) return undecodable('not a Django session')
    const value = text.slice(0, sigAt)
    const signature = text.slice(sigAt + 1)
    let payload = text.slice(0, tsAt)
    const compressed = payload.startsWith('.')
    if (compressed) payload = payload.slice(1)
    if (!BASE64URL.test(payload) || payload.length % 4 === 1) return undecodable('bad base64')
    // Decoded into this thread's scratch buffer and inflated into a borrowed view: a scan
    // allocates nothing per value for them. Both views live until the next value; a pickle that
    // gets parsed (its parser may keep slices of it) gets its own copy.
    let bytes = base64urlScratch(payload)
    if (compressed) {
      try {
        bytes = inflateZlib(bytes, maxPayload, true)
      } catch (error) {
        if (!isTooLarge(error)) return undecodable('bad zlib')
        return oversized(inflatedChunks('zlib', bytes), verdictOf(value, signature), 'signed', userId)
      }
    } else if (bytes.length > maxPayload) {
      return oversized(bufferChunks(bytes), verdictOf(value, signature), 'signed', userId)
    }

    const verdict = verdictOf(value, signature)
    if (userId !== undefined && verdict !== 'invalid' && skipper?.(bytes, userId)) return undefined
    return session(bytes, verdict, 'signed', true, lite)
  }

  function decodeLegacy(text: string, userId: string | undefined, lite: boolean): Decoded | undefined {
    const compact = text.replaceAll(/\s+/g, '')
    if (!BASE64.test(compact) || compact.length % 4 !== 0) return undecodable('not a Django session')
    const raw = Buffer.from(compact, 'base64')
    const colon = raw.indexOf(0x3A)
    if (colon !== 40 || !HEX40.test(raw.toString('latin1', 0, 40))) return undecodable('not a Django session')
    const serialized = raw.subarray(41)
    let verdict: 'invalid' | 'unchecked' | 'valid' = 'unchecked'
    if (legacyKeys.length > 0) {
      const given = raw.subarray(0, 40)
      verdict = legacyKeys.some(key => safeEqual(given, createHmac('sha1', key).update(serialized).digest('hex')))
        ? 'valid'
        : 'invalid'
    }

    if (serialized.length > maxPayload) return oversized(bufferChunks(serialized), verdict, 'legacy', userId)
    if (userId !== undefined && verdict !== 'invalid' && skipper?.(serialized, userId)) return undefined
    return session(serialized, verdict, 'legacy', false, lite)
  }

  function read(value: Buffer, userId: string | undefined, lite: boolean): Decoded | undefined {
    if (value.length === 0) return undecodable('empty')
    const text = value.toString('latin1').trim()
    if (text.length === 0) return undecodable('empty')
    // The signed format always has two colons; legacy base64 never has one.
    return text.includes(':') ? decodeSigned(text, userId, lite) : decodeLegacy(text, userId, lite)
  }

  return {
    decode: value => read(value, undefined, false)!,
    decodeFor: (value, userId) => read(value, userId, true),
    decodeLite: value => read(value, undefined, true)!,
    name: options.name,
  }
}

/** The `data` of a lite decode (Codec.decodeLite): nothing, and nothing can be put in it. */
const LITE_DATA: Record<string, unknown> = Object.freeze({})

let scratch = Buffer.allocUnsafeSlow(16 * 1024)

/** `Buffer.from(text, 'base64url')` written into a reused buffer: a view valid until the next call. */
function base64urlScratch(text: string): Buffer {
  const size = Math.ceil((text.length * 3) / 4)
  if (size > scratch.length) {
    // Rare (a large session): grow up to a bound, beyond it allocate per value.
    if (size > 1024 * 1024) return Buffer.from(text, 'base64url')
    scratch = Buffer.allocUnsafeSlow(size * 2)
  }

  return scratch.subarray(0, scratch.write(text, 'base64url'))
}

function safeEqual(given: Buffer, expected: string): boolean {
  const wanted = Buffer.from(expected)
  return given.length === wanted.length && timingSafeEqual(given, wanted)
}

function isTooLarge(error: unknown): boolean {
  const code = (error as {code?: string})?.code
  return code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError
}
