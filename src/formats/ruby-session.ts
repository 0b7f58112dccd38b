import {
  type Codec, type Decoded, ownerUnknown, readPath, type Undecodable, undecodable, userIdText,
} from './codec.js'
import {inflateZlib} from './compression/inflate.js'
import {payloadUserId} from './json-path.js'
import {isMarshal, MarshalError, parseMarshal} from './marshal.js'

const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024
const ENTRY_CLASS = 'ActiveSupport::Cache::Entry'
// Base64.encode64: the alphabet, `=` padding, a newline after every 60 characters.
const BASE64_TEXT = /^[\d+/A-Za-z]+={0,2}$/

/**
 * Rails sessions (docs/session-formats.md §7), whichever store wrote them, sniffed from the bytes:
 *
 * - `cache-entry`: Rails' own CacheStore over a cache (RedisCacheStore): `Marshal.dump` of an
 *   ActiveSupport::Cache::Entry whose `@value` is the session Hash, or, when `@compressed`, the
 *   zlib-deflated Marshal dump of it (`+zlib`). The entry's own expiry (`@created_at +
 *   @expires_in`) is `expiresAt`: Rails treats the session as gone once it passed, even while the
 *   key still exists.
 * - `marshal`: redis-session-store / redis-rack: `Marshal.dump(hash)` as is.
 * - `marshal+base64`: activerecord-session_store: `Base64.encode64(Marshal.dump(hash))`.
 * - `json`: a JSON serializer's session object; activerecord-session_store's `{"value": {…}}`
 *   wrapper (the only key) is unwrapped.
 *
 * The Marshal reader resolves and runs nothing; objects are inert data. Never throws.
 */
export function createRubySessionCodec(options: {maxPayloadBytes?: number; name: string; userPath: readonly string[]}): Codec {
  const {userPath} = options
  const maxPayload = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD

  function decode(value: Buffer): Decoded {
    if (value.length === 0) return undecodable('empty')
    if (value.length > maxPayload) return ownerUnknown('too large')
    if (isMarshal(value)) return fromMarshal(value, 'marshal')
    if (value[0] === 0x7B) return fromJson(value)
    // Rails 7's cache coders (format 7.0/7.1) start with a binary signature: Rails reads those, this reader does not.
    if (value[0] === 0x00) return ownerUnknown('newer Rails cache format (unsupported)')
    const text = value.toString('latin1').replaceAll('\n', '')
    if (text.length % 4 !== 0 || !BASE64_TEXT.test(text)) return undecodable('not Marshal or JSON')
    const bytes = Buffer.from(text, 'base64')
    if (!isMarshal(bytes)) return undecodable('not Marshal (base64)')
    return fromMarshal(bytes, 'marshal+base64')
  }

  function fromMarshal(bytes: Uint8Array, variant: string): Decoded {
    const root = marshal(bytes)
    if (!root.ok) return root
    let session = root.value
    let expiresAt: Date | undefined
    if (isEntry(session)) {
      variant = 'cache-entry'
      const entry = session
      session = entry['@value']
      if (entry['@compressed'] === true) {
        if (!(session instanceof Uint8Array)) return undecodable('bad cache entry')
        let inflated: Buffer
        try {
          inflated = inflateZlib(session, maxPayload)
        } catch (error) {
          // Over the limit Rails itself would read: may be anyone's session.
          return error instanceof RangeError ? ownerUnknown('too large') : undecodable('bad zlib')
        }

        const inner = marshal(inflated)
        if (!inner.ok) return inner
        session = inner.value
        variant = 'cache-entry+zlib'
      }

      expiresAt = entryExpiry(entry)
    }

    if (!isHash(session)) return undecodable('not a session hash')
    return {
      data: session, ...(expiresAt ? {expiresAt} : {}), ok: true, signature: 'unchecked', userId: userIdText(readPath(session, userPath)), variant,
    }
  }

  function marshal(bytes: Uint8Array): Undecodable | {ok: true; value: unknown} {
    try {
      return {ok: true, value: parseMarshal(bytes, {maxBytes: maxPayload})}
    } catch (error) {
      // Marshal Ruby loads and this reader refuses (too deep, too many values) may be anyone's.
      return error instanceof MarshalError && error.limit ? ownerUnknown('marshal beyond limits') : undecodable('bad marshal')
    }
  }

  function fromJson(bytes: Buffer): Decoded {
    let parsed: unknown
    try {
      parsed = JSON.parse(bytes.toString('utf8'))
    } catch {
      return undecodable('not JSON')
    }

    if (!isObject(parsed)) return undecodable('not a session hash')
    const keys = Object.keys(parsed)
    const wrapped = keys.length === 1 && keys[0] === 'value' && isObject(parsed.value)
    const session = wrapped ? parsed.value as Record<string, unknown> : parsed
    return {
      data: session,
      ok: true,
      signature: 'unchecked',
      userId: payloadUserId(parsed, wrapped ? ['value', ...userPath] : userPath, bytes, 'utf8'),
      variant: 'json',
    }
  }

  return {decode, name: options.name}
}

function isEntry(value: unknown): value is Record<string, unknown> {
  return isObject(value) && Object.getPrototypeOf(value) === Object.prototype && value.__class__ === ENTRY_CLASS
}

// parseMarshal gives a Hash as a null-prototype object; every other object (a RubyObject) has Object.prototype.
function isHash(value: unknown): value is Record<string, unknown> {
  return isObject(value) && Object.getPrototypeOf(value) === null
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array)
}

/** Entry#expired?: `@expires_in && @created_at + @expires_in <= Time.now.to_f`. */
function entryExpiry(entry: Record<string, unknown>): Date | undefined {
  const created = entry['@created_at']
  const expiresIn = entry['@expires_in']
  if (typeof created !== 'number' || typeof expiresIn !== 'number') return undefined
  // Rounded up to the millisecond: never expired here while Rails still serves it.
  const ms = Math.ceil((created + expiresIn) * 1000)
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms) : undefined
}
