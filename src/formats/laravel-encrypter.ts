import {Buffer} from 'node:buffer'
import {createDecipheriv, createHmac, timingSafeEqual} from 'node:crypto'

/** A bad `--app-key` / `APP_KEY`. The message never contains the key. */
export class LaravelKeyError extends Error {
  override name = 'LaravelKeyError'
}

/** Laravel's supported ciphers (`config/app.php` `cipher`), lower case as OpenSSL names them. */
export type LaravelCipher = 'aes-128-cbc' | 'aes-128-gcm' | 'aes-256-cbc' | 'aes-256-gcm'

export type LaravelDecrypted = LaravelFailure | {
  /** The cipher that decrypted it. */
  cipher: LaravelCipher
  /** Index of the key (in the list given) that decrypted it. */
  keyIndex: number
  ok: true
  /** The decrypted bytes: for a session, `serialize(serialize($attributes))`. */
  plaintext: Buffer
}

export interface LaravelFailure {
  /**
   * `not-envelope`: not base64 of JSON `{iv, value, mac}` with a valid IV (Laravel: "The payload is invalid.").
   * `bad-mac`: no key gives the MAC (CBC) or the GCM tag: a wrong or rotated key, or a tampered payload (Laravel: "The MAC is invalid.").
   * `decrypt-failed`: authentic, yet it does not decrypt (bad base64, padding, tag length; Laravel: "Could not decrypt the data.").
   */
  failure: 'bad-mac' | 'decrypt-failed' | 'not-envelope'
  ok: false
  /** Short human text, without any secret. */
  reason: string
}

/**
 * Parses an APP_KEY: `base64:` followed by base64 of the key bytes, or the raw key text (its UTF-8
 * bytes), as Laravel's EncryptionServiceProvider does. Surrounding whitespace is ignored.
 * @throws LaravelKeyError with a message fit for one line on a terminal (it never includes the key).
 */
export function parseLaravelKey(text: string): Buffer {
  const trimmed = text.trim()
  if (trimmed === '' || trimmed === 'base64:') throw new LaravelKeyError('the app key is empty')
  let key: Buffer
  if (trimmed.startsWith('base64:')) {
    const decoded = strictBase64(trimmed.slice('base64:'.length))
    if (decoded === undefined) throw new LaravelKeyError('the app key is not valid base64 after "base64:"')
    key = decoded
  } else {
    key = Buffer.from(trimmed, 'utf8')
  }

  if (key.length !== 16 && key.length !== 32) {
    throw new LaravelKeyError(`the app key must be 16 or 32 bytes (AES-128 or AES-256), this one is ${key.length} bytes`)
  }

  return key
}

/**
 * Decrypts a Laravel `Encrypter::encrypt()` envelope (base64 of JSON `{"iv","value","mac","tag"}`)
 * with each key in turn, as Laravel does: AES-CBC after an HMAC-SHA256 check of `iv . value` (the
 * base64 texts) compared in constant time, or AES-GCM with `tag` (then `mac` is empty). Without a
 * `cipher`, the mode follows the envelope (a non-empty `tag` means GCM) and the size the key's length.
 * Never throws.
 */
export function decryptLaravel(payload: string | Uint8Array, keys: readonly Uint8Array[] | Uint8Array, options: {cipher?: LaravelCipher} = {}): LaravelDecrypted {
  try {
    return decrypt(payload, keys instanceof Uint8Array ? [keys] : keys, options.cipher)
  } catch {
    return failure('decrypt-failed', 'could not decrypt the data')
  }
}

/** Cheap sniff: base64 text of a JSON object starting `{"iv":` (how Laravel always encodes it). */
export function isLaravelEnvelope(payload: string | Uint8Array): boolean {
  const head = typeof payload === 'string' ? payload.slice(0, 8) : Buffer.from(payload.subarray(0, 8)).toString('latin1')
  return head === 'eyJpdiI6'
}

interface Envelope {
  iv: string
  mac: string
  tag: string
  value: string
}

function decrypt(payload: string | Uint8Array, keys: readonly Uint8Array[], forced: LaravelCipher | undefined): LaravelDecrypted {
  const envelope = parseEnvelope(payload)
  if (envelope === undefined) return failure('not-envelope', 'not a Laravel encrypted payload')
  const gcm = forced === undefined ? envelope.tag !== '' : forced.endsWith('-gcm')
  const iv = strictBase64(envelope.iv)
  if (iv === undefined || iv.length !== (gcm ? 12 : 16)) return failure('not-envelope', 'invalid Laravel payload (IV)')
  const usable = keys.map((key, index) => ({index, key})).filter(({key}) => (forced === undefined ? key.length === 16 || key.length === 32 : key.length === keySize(forced)))
  if (usable.length === 0) return failure('bad-mac', 'no key of the cipher\'s size')
  if (gcm) return decryptGcm(envelope, iv, usable, forced)

  // Laravel 8: a tag with a CBC cipher is refused ("does not support AEAD").
  if (envelope.tag !== '') return failure('decrypt-failed', 'a tag with a CBC cipher')
  const expected = Buffer.from(envelope.mac, 'latin1')
  const signed = Buffer.from(envelope.iv + envelope.value, 'utf8')
  const match = usable.find(({key}) => {
    const mac = Buffer.from(createHmac('sha256', key).update(signed).digest('hex'), 'latin1')
    return mac.length === expected.length && timingSafeEqual(mac, expected)
  })
  if (match === undefined) return failure('bad-mac', 'bad MAC')
  const ciphertext = strictBase64(envelope.value)
  if (ciphertext === undefined) return failure('decrypt-failed', 'value is not base64')
  const cipher: LaravelCipher = match.key.length === 16 ? 'aes-128-cbc' : 'aes-256-cbc'
  try {
    const decipher = createDecipheriv(cipher, match.key, iv)
    const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()])
    return {
      cipher, keyIndex: match.index, ok: true, plaintext,
    }
  } catch {
    return failure('decrypt-failed', 'could not decrypt the data')
  }
}

function decryptGcm(envelope: Envelope, iv: Buffer, keys: Array<{index: number; key: Uint8Array}>, forced: LaravelCipher | undefined): LaravelDecrypted {
  // Laravel: base64_decode (lenient) of the tag, which must be 16 bytes.
  const tag = Buffer.from(envelope.tag, 'base64')
  if (tag.length !== 16) return failure('decrypt-failed', 'GCM tag is not 16 bytes')
  const ciphertext = strictBase64(envelope.value)
  if (ciphertext === undefined) return failure('decrypt-failed', 'value is not base64')
  for (const {index, key} of keys) {
    const cipher: LaravelCipher = forced ?? (key.length === 16 ? 'aes-128-gcm' : 'aes-256-gcm')
    try {
      const decipher = createDecipheriv(cipher as 'aes-256-gcm', key, iv, {authTagLength: 16})
      decipher.setAuthTag(tag)
      const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()])
      return {
        cipher, keyIndex: index, ok: true, plaintext,
      }
    } catch {
      // wrong key or tampered: try the next key
    }
  }

  return failure('bad-mac', 'bad MAC (GCM tag)')
}

function failure(kind: LaravelFailure['failure'], reason: string): LaravelFailure {
  return {failure: kind, ok: false, reason}
}

function keySize(cipher: LaravelCipher): number {
  return cipher.startsWith('aes-128') ? 16 : 32
}

/** Laravel's getJsonPayload: lenient base64_decode, json_decode to an array with iv, value and mac set. */
function parseEnvelope(payload: string | Uint8Array): Envelope | undefined {
  const text = typeof payload === 'string' ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('latin1')
  let json: unknown
  try {
    json = JSON.parse(Buffer.from(text, 'base64').toString('utf8'))
  } catch {
    return undefined
  }

  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined
  const {iv, mac, tag, value} = json as Record<string, unknown>
  if (typeof iv !== 'string' || typeof value !== 'string' || typeof mac !== 'string') return undefined
  if (tag !== undefined && tag !== null && typeof tag !== 'string') return undefined
  return {
    iv, mac, tag: tag ?? '', value,
  }
}

/**
 * PHP's `base64_decode($text, true)`: whitespace skipped, any other character outside the
 * alphabet refused, padding only at the end and consistent. Undefined when refused.
 */
function strictBase64(text: string): Buffer | undefined {
  const compact = text.replaceAll(/[\t\n\r ]/g, '')
  const match = /^([\d+/A-Za-z]*)(={0,2})$/.exec(compact)
  if (match === null) return undefined
  const [, data, padding] = match
  if (data.length % 4 === 1) return undefined
  if (padding.length > 0 && (data.length + padding.length) % 4 !== 0) return undefined
  return Buffer.from(data, 'base64')
}
