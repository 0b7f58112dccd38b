import {createHash, createHmac, timingSafeEqual} from 'node:crypto'
import {inflateSync} from 'node:zlib'

import {
  type Codec, type Decoded, readPath, undecodable, userIdText,
} from './codec.js'
import {isPickle, parsePickle} from './pickle.js'

/**
 * Django's session_data, as written by `django.contrib.sessions` (docs/session-formats.md §1):
 *   ≥ 3.1  `[.]b64url(zlib?(payload)):b62(ts):b64url(HMAC-SHA256)`   (signing.dumps)
 *   < 3.1  `b64(hex(HMAC-SHA1) ":" payload)`                            (legacy encode)
 * where payload is JSON (default serializer) or a pickle (PickleSerializer).
 */
export interface DjangoCodecOptions {
  /** Decompressed payloads larger than this are refused (zlib bombs). */
  maxPayloadBytes?: number
  /** `'django.contrib.sessions.' + SessionStore.__qualname__`; differs only for custom stores. */
  salt?: string
  /** SECRET_KEY followed by SECRET_KEY_FALLBACKS; empty = signatures are not checked. */
  secretKeys?: readonly string[]
  /** Where the user id sits in the session dict. */
  userPath?: readonly string[]
}

export const DJANGO_SESSION_SALT = 'django.contrib.sessions.SessionStore'
export const DJANGO_USER_PATH = ['_auth_user_id'] as const
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

export function createDjangoCodec(options: DjangoCodecOptions = {}): Codec {
  const salt = options.salt ?? DJANGO_SESSION_SALT
  const userPath = options.userPath ?? DJANGO_USER_PATH
  const maxPayload = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD
  const secrets = options.secretKeys ?? []
  // Keys are derived once: the HMAC per row is then the only crypto cost.
  const signedKeys = secrets.flatMap(secret => [
    {algorithm: 'sha256' as const, key: deriveKey(`${salt}signer`, secret, 'sha256')},
    // Django 3.1/3.2 also accept SHA-1 signatures (DEFAULT_HASHING_ALGORITHM transition).
    {algorithm: 'sha1' as const, key: deriveKey(`${salt}signer`, secret, 'sha1')},
  ])
  const legacyKeys = secrets.map(secret => deriveKey(legacySalt(salt), secret, 'sha1'))

  function session(dataResult: DataResult, signature: 'invalid' | 'unchecked' | 'valid', variant: string): Decoded {
    if (!dataResult.ok) return dataResult
    return {
      data: dataResult.data, ok: true, signature, userId: userIdText(readPath(dataResult.data, userPath)), variant,
    }
  }

  function decodeSigned(text: string): Decoded {
    const sigAt = text.lastIndexOf(':')
    const tsAt = text.lastIndexOf(':', sigAt - 1)
    if (tsAt <= 0) return undecodable('not a Django session')
    const value = text.slice(0, sigAt)
    const signature = text.slice(sigAt + 1)
    let payload = text.slice(0, tsAt)
    const compressed = payload.startsWith('.')
    if (compressed) payload = payload.slice(1)
    if (!BASE64URL.test(payload) || payload.length % 4 === 1) return undecodable('bad base64')
    let bytes = Buffer.from(payload, 'base64url')
    if (compressed) {
      try {
        bytes = inflateSync(bytes, {maxOutputLength: maxPayload})
      } catch (error) {
        return undecodable(isTooLarge(error) ? 'too large' : 'bad zlib')
      }
    }

    let verdict: 'invalid' | 'unchecked' | 'valid' = 'unchecked'
    if (signedKeys.length > 0) {
      verdict = 'invalid'
      const given = Buffer.from(signature)
      for (const {algorithm, key} of signedKeys) {
        if (safeEqual(given, createHmac(algorithm, key).update(value).digest('base64url'))) {
          verdict = 'valid'
          break
        }
      }
    }

    return session(parsePayload(bytes), verdict, 'signed')
  }

  function decodeLegacy(text: string): Decoded {
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

    return session(parsePayload(serialized), verdict, 'legacy')
  }

  return {
    decode(value: Buffer): Decoded {
      if (value.length === 0) return undecodable('empty')
      const text = value.toString('latin1').trim()
      if (text.length === 0) return undecodable('empty')
      // The signed format always has two colons; legacy base64 never has one.
      return text.includes(':') ? decodeSigned(text) : decodeLegacy(text)
    },
    name: 'django',
  }
}

type DataResult = {data: Record<string, unknown>; ok: true} | {ok: false; reason: string}

/** JSON (default serializer) or pickle (PickleSerializer), sniffed from the first byte. */
export function parsePayload(bytes: Buffer): DataResult {
  if (isPickle(bytes)) {
    let value: unknown
    try {
      value = parsePickle(bytes)
    } catch {
      return {ok: false, reason: 'bad pickle'}
    }

    return isDict(value) ? {data: value, ok: true} : {ok: false, reason: 'not a session dict'}
  }

  let value: unknown
  try {
    // Django's JSON is pure ASCII (\u escapes); latin1 avoids a UTF-8 validation pass.
    value = JSON.parse(bytes.toString('latin1'))
  } catch {
    return {ok: false, reason: 'not JSON'}
  }

  return isDict(value) ? {data: value, ok: true} : {ok: false, reason: 'not a session dict'}
}

function isDict(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array)
}

function safeEqual(given: Buffer, expected: string): boolean {
  const wanted = Buffer.from(expected)
  return given.length === wanted.length && timingSafeEqual(given, wanted)
}

function isTooLarge(error: unknown): boolean {
  const code = (error as {code?: string})?.code
  return code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError
}
