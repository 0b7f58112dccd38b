import {createHash, createHmac, timingSafeEqual} from 'node:crypto'

import {
  type Codec, type Decoded, readPath, undecodable, userIdText,
} from './codec.js'
import {inflateZlib} from './compression/inflate.js'
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

  const skipper = payloadSkipper(userPath)

  function decodeSigned(text: string, userId?: string): Decoded | undefined {
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

    if (userId !== undefined && verdict !== 'invalid' && skipper?.(bytes, userId)) return undefined
    return session(parsePayload(isPickle(bytes) ? Buffer.from(bytes) : bytes), verdict, 'signed')
  }

  function decodeLegacy(text: string, userId?: string): Decoded | undefined {
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

    if (userId !== undefined && verdict !== 'invalid' && skipper?.(serialized, userId)) return undefined
    return session(parsePayload(serialized), verdict, 'legacy')
  }

  function decodeFor(value: Buffer, userId?: string): Decoded | undefined {
    if (value.length === 0) return undecodable('empty')
    const text = value.toString('latin1').trim()
    if (text.length === 0) return undecodable('empty')
    // The signed format always has two colons; legacy base64 never has one.
    return text.includes(':') ? decodeSigned(text, userId) : decodeLegacy(text, userId)
  }

  return {
    decode: value => decodeFor(value)!,
    decodeFor,
    name: 'django',
  }
}

/**
 * A cheap test that a pickled session cannot hold `userId`, so a scan for one user skips the
 * pickle parser (the costly part of reading a cache value) for everyone else's sessions. True
 * only when that is certain: a protocol-2+ pickle that ends with STOP, holds no backslash, and
 * in which the user id's text occurs nowhere (every pickled str carries its characters
 * verbatim), nor, for an integer id, any encoding of that integer (BININT*, BINFLOAT, INT/LONG/
 * FLOAT text; a LONG1/LONG4 opcode anywhere means a full parse). JSON payloads are always
 * parsed: V8's parser is fast, and "not JSON" stays an exact count.
 */
export function payloadSkipper(userPath: readonly string[]): ((bytes: Buffer, userId: string) => boolean) | undefined {
  if (userPath.length === 0) return undefined
  let asciiUser = ''
  return (bytes, userId) => {
    // Only a printable-ASCII id has one obvious byte form.
    if (userId !== asciiUser) {
      if (!/^[\u0020-\u007E]+$/.test(userId)) return false
      asciiUser = userId
    }

    return isPickle(bytes) && bytes.at(-1) === 0x2E && pickleCannotHold(bytes, userId)
  }
}

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

type DataResult = {data: Record<string, unknown>; ok: true} | {ok: false; reason: string}

const pickleForms = new Map<string, Buffer[] | null>()

/** See payloadSkipper. `userId` is printable ASCII. */
function pickleCannotHold(bytes: Buffer, userId: string): boolean {
  // Protocol 2+ (what Django and django-redis write); quotes and backslashes get escaped in
  // protocol-0 strings, so such ids are left to the parser.
  if (bytes[0] !== 0x80 || /['"\\]/.test(userId)) return false
  let forms = pickleForms.get(userId)
  if (forms === undefined) {
    forms = integerForms(userId)
    if (pickleForms.size > 16) pickleForms.clear()
    pickleForms.set(userId, forms)
  }

  // A backslash may be an escape in a text opcode (V, S); LONG1/LONG4 may pad their digits.
  if (forms === null || bytes.includes(0x5C) || bytes.includes(userId, 0, 'latin1')) return false
  if (forms.length === 0) return true
  if (bytes.includes(0x8A) || bytes.includes(0x8B)) return false
  for (const form of forms) if (bytes.includes(form)) return false
  // INT/LONG/FLOAT carry text that int()/float() read leniently (4_2, 4.2e1): leave them to the parser.
  return !/[FIL][\s+\-.\d_]/.test(bytes.toString('latin1'))
}

/**
 * The byte forms a pickled number equal to `userId` can take: [] when no number prints as
 * `userId` (it is not number-like), null when the forms are too many to list (not a safe
 * canonical integer: 1e+21, 1.5, NaN...).
 */
function integerForms(userId: string): Buffer[] | null {
  if (!/^[-+\d.eE]+$|Infinity|NaN/.test(userId)) return []
  if (!/^-?(?:0|[1-9]\d*)$/.test(userId)) return null
  const n = Number(userId)
  if (!Number.isSafeInteger(n)) return null
  const forms: Buffer[] = []
  if (n >= 0 && n < 256) forms.push(Buffer.from([0x4B, n]))
  if (n >= 0 && n < 65_536) {
    const m = Buffer.alloc(3)
    m[0] = 0x4D
    m.writeUInt16LE(n, 1)
    forms.push(m)
  }

  if (n >= -(2 ** 31) && n < 2 ** 31) {
    const j = Buffer.alloc(5)
    j[0] = 0x4A
    j.writeInt32LE(n, 1)
    forms.push(j)
  }

  const g = Buffer.alloc(9)
  g[0] = 0x47
  g.writeDoubleBE(n, 1)
  forms.push(g)
  return forms
}

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
