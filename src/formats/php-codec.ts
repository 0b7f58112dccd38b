import {Buffer} from 'node:buffer'

import {
  type Codec, type Decoded, ownerUnknown, readPath, undecodable, userIdText,
} from './codec.js'
import {decryptLaravel, isLaravelEnvelope} from './laravel-encrypter.js'
import {parsePhpSerialized, PhpSerializeError, phpStringBytes} from './php-serialize.js'
import {readPhpSession} from './php-session.js'

/**
 * One layer of a PHP session value, outermost first:
 * - `base64`: base64 text (Laravel's database payload column);
 * - `base64-or-string`: a serialized PHP string where the bytes are one (`s:`, Laravel's Redis values),
 *   else base64 text (its database column): the outer layer of either store;
 * - `encrypted`: a Laravel Encrypter envelope where the bytes are one (decrypted with the keys given;
 *   anything else passes through): `encrypted (give --app-key)` without keys, `bad MAC` with wrong ones;
 * - `string`: a serialized PHP string holding the next layer (`s:<n>:"…";`, Laravel's second serialize);
 *   a value that is no string is not a session (Laravel's own cache items share its Redis prefix);
 * - `string-if-encrypted`: `string`, where the `encrypted` layer decrypted something (an envelope
 *   holds `serialize(serialize($attributes))`);
 * - `array`: the session itself, one serialized array (`serialize($attributes)`);
 * - `session`: `$_SESSION` as PHP's session module wrote it, its serialize handler read from the bytes.
 */
export type PhpLayer = 'array' | 'base64' | 'base64-or-string' | 'encrypted' | 'session' | 'string' | 'string-if-encrypted'

export interface PhpCodecOptions {
  /** Laravel APP_KEYs (raw key bytes), for the `encrypted` layer. */
  keys?: readonly Uint8Array[]
  layers: readonly PhpLayer[]
  /** Values (and decoded layers) larger than this are refused as too large (owner unknown). */
  maxPayloadBytes?: number
  /** The codec's name in reports. */
  name: string
  userPath: readonly string[]
}

const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024
const BASE64 = /^[\d+/A-Za-z]*={0,2}$/

/**
 * PHP session values, read through the given layers with the safe readers (php-serialize.ts,
 * php-session.ts, laravel-encrypter.ts): nothing is instantiated, objects are inert data. The user
 * id is the value at `userPath` as text (`i:42` and `s:2:"42"` are the same user); `signature` is
 * `valid` for a decrypted envelope (its MAC or tag checked), else `unchecked`; `variant` names the
 * serialize handler or `serialize`, with `+encrypted`.
 */
export function createPhpCodec(options: PhpCodecOptions): Codec {
  const maxPayload = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD
  const keys = options.keys ?? []
  const limits = {maxBytes: maxPayload}
  function decode(value: Buffer): Decoded {
    if (value.length > maxPayload) return ownerUnknown('too large')
    let bytes: Uint8Array = value
    let encrypted = false
    let variant = 'serialize'
    let data: Record<string, unknown> | undefined
    try {
      for (const layer of options.layers) {
        switch (layer) {
        case 'array': {
          if (bytes.length === 0) return undecodable('empty')
          const parsed = parsePhpSerialized(bytes, limits)
          if (!isMap(parsed)) return undecodable('not a session (not an array)')
          data = parsed
          break
        }

        case 'base64':
        case 'base64-or-string': {
          const next = layer === 'base64-or-string' && bytes[0] === 0x73 && bytes[1] === 0x3A ? unwrapString(bytes) : fromBase64(bytes)
          if (!(next instanceof Uint8Array)) return next
          bytes = next
          break
        }

        case 'encrypted': {
          if (!isLaravelEnvelope(bytes)) break
          // Laravel reads it with its APP_KEY: without one, whose session it is cannot be known.
          if (keys.length === 0) return ownerUnknown('encrypted (give --app-key)')
          const result = decryptLaravel(bytes, keys)
          if (!result.ok) return undecodable(result.failure === 'bad-mac' ? 'bad MAC' : result.reason)
          bytes = result.plaintext
          encrypted = true
          break
        }

        case 'session': {
          const session = readPhpSession(bytes, limits)
          data = session.data
          variant = session.handler
          break
        }

        case 'string':
        case 'string-if-encrypted': {
          if (layer === 'string-if-encrypted' && !encrypted) break
          const next = unwrapString(bytes)
          if (!(next instanceof Uint8Array)) return next
          bytes = next
          break
        }
        }
      }
    } catch (error) {
      if (error instanceof PhpSerializeError) return error.limit ? ownerUnknown('PHP value beyond limits') : undecodable('not PHP-serialized')
      throw error
    }

    if (!data) return undecodable('not a session')
    return {
      data,
      ok: true,
      signature: encrypted ? 'valid' : 'unchecked',
      userId: userIdText(readPath(data, options.userPath)),
      variant: encrypted ? `${variant}+encrypted` : variant,
    }
  }

  function unwrapString(bytes: Uint8Array): Decoded | Uint8Array {
    if (bytes.length === 0) return undecodable('empty')
    return phpStringBytes(parsePhpSerialized(bytes, limits)) ?? undecodable('not a session (not a serialized string)')
  }

  return {
    decode(value) {
      try {
        return decode(value)
      } catch {
        // The readers throw only PhpSerializeError (handled above): anything else is a fault of
        // ours, and the value may be anyone's session.
        return ownerUnknown('PHP reader error')
      }
    },
    name: options.name,
  }
}

function fromBase64(bytes: Uint8Array): Decoded | Uint8Array {
  const text = Buffer.from(bytes).toString('latin1').trim()
  if (text.length === 0) return undecodable('empty')
  if (!BASE64.test(text) || text.length % 4 === 1) return undecodable('bad base64')
  return Buffer.from(text, 'base64')
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !(value instanceof Uint8Array)
}
