import {Buffer} from 'node:buffer'
import {TextDecoder} from 'node:util'

import {ReaderError} from './reader-error.js'

/** Thrown for any msgpack value that is malformed or over a limit. Nothing else escapes `parseMsgpack`. */
export class MsgpackError extends ReaderError {
  override name = 'MsgpackError'
}

const LIMIT = {limit: true}

/** Resource limits for `parseMsgpack`; every limit breach is a `MsgpackError` with `limit: true`. */
export interface MsgpackLimits {
  /** Largest accepted input (default 64 MiB). */
  maxBytes?: number
  /** Deepest nesting of arrays and maps (default 200). */
  maxDepth?: number
  /** Values read (default 1 000 000). */
  maxItems?: number
}

/**
 * An extension value other than a valid timestamp: `{__class__: 'msgpack.ext', type, data}`; a
 * timestamp (ext −1) outside what Python's datetime holds: `{__class__: 'msgpack.Timestamp',
 * seconds, nanoseconds}`.
 */
export interface MsgpackExt {
  __class__: 'msgpack.ext' | 'msgpack.Timestamp'
  data?: Uint8Array
  nanoseconds?: number
  seconds?: bigint | number
  type?: number
}

/**
 * Reads one msgpack value (what msgspec and msgpack-python write for Flask-Session ≥ 0.7) into plain
 * values.
 *
 * nil → null, bool → boolean, int → number (bigint beyond 2^53), float32/64 → number, str → string
 * (UTF-8; invalid UTF-8 is refused, as both Python decoders do), bin → Uint8Array, array → array,
 * map → null-prototype object keyed by the text of each key: str as is, int as decimal, bin as
 * latin-1, nil/bool as 'None'/'True'/'False', float as JavaScript's text, array as a Python tuple
 * `(1, 'a')`; a map as a key is refused (Python cannot hash a dict). Keys with the same text
 * collide (the later wins). The timestamp extension (−1, 4, 8 or 12 bytes) becomes UTC ISO-8601
 * text as Python's `datetime.isoformat()` writes it (`2026-11-30T12:34:56.789000+00:00`; nine
 * fraction digits when the nanoseconds are not whole microseconds), like the pickle reader's
 * datetimes; other extensions are {@link MsgpackExt}. The input must hold exactly one value:
 * trailing bytes are refused, as msgspec and msgpack-python refuse them.
 * @throws MsgpackError for anything malformed or over a limit.
 */
export function parseMsgpack(input: Uint8Array, limits: MsgpackLimits = {}): unknown {
  if (!(input instanceof Uint8Array)) throw new MsgpackError('msgpack input must be bytes')
  if (input.length > (limits.maxBytes ?? DEFAULT_MAX_BYTES)) throw new MsgpackError('msgpack larger than maxBytes', LIMIT)
  try {
    const reader = new Reader(input, limits.maxDepth ?? DEFAULT_MAX_DEPTH, limits.maxItems ?? DEFAULT_MAX_ITEMS)
    const value = reader.value()
    if (reader.pos !== input.length) throw new MsgpackError('trailing bytes after the msgpack value')
    return value
  } catch (error) {
    if (error instanceof MsgpackError) throw error
    throw new MsgpackError(`malformed msgpack: ${error instanceof Error ? error.message : String(error)}`, {cause: error, limit: error instanceof RangeError})
  }
}

const DEFAULT_MAX_DEPTH = 200
const DEFAULT_MAX_ITEMS = 1_000_000
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024
const UTF8 = new TextDecoder('utf8', {fatal: true, ignoreBOM: true})
// Python's datetime: 0001-01-01T00:00:00 to 9999-12-31T23:59:59 UTC, in Unix seconds.
const MIN_SECONDS = -62_135_596_800
const MAX_SECONDS = 253_402_300_799

type Dict = Record<string, unknown>

class Reader {
  pos = 0
  private count = 0
  private depth = 0
  private readonly view: DataView

  constructor(
    private readonly bytes: Uint8Array,
    private readonly maxDepth: number,
    private readonly maxItems: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  value(): unknown {
    if (++this.count > this.maxItems) throw new MsgpackError('msgpack has more than maxItems values', LIMIT)
    const b = this.u8()
    if (b <= 0x7F) return b
    if (b >= 0xE0) return b - 0x1_00
    if (b <= 0x8F) return this.map(b - 0x80)
    if (b <= 0x9F) return this.array(b - 0x90)
    if (b <= 0xBF) return this.str(b - 0xA0)
    switch (b) {
    case 0xC0: {return null}
    case 0xC2: {return false}
    case 0xC3: {return true}
    case 0xC4: {return this.bin(this.u8())}
    case 0xC5: {return this.bin(this.u16())}
    case 0xC6: {return this.bin(this.u32())}
    case 0xC7: {return this.ext(this.u8())}
    case 0xC8: {return this.ext(this.u16())}
    case 0xC9: {return this.ext(this.u32())}
    case 0xCA: {return this.view.getFloat32(this.take(4))}
    case 0xCB: {return this.view.getFloat64(this.take(8))}
    case 0xCC: {return this.u8()}
    case 0xCD: {return this.u16()}
    case 0xCE: {return this.u32()}
    case 0xCF: {return toInt(this.view.getBigUint64(this.take(8)))}
    case 0xD0: {return this.view.getInt8(this.take(1))}
    case 0xD1: {return this.view.getInt16(this.take(2))}
    case 0xD2: {return this.view.getInt32(this.take(4))}
    case 0xD3: {return toInt(this.view.getBigInt64(this.take(8)))}
    case 0xD4: {return this.ext(1)}
    case 0xD5: {return this.ext(2)}
    case 0xD6: {return this.ext(4)}
    case 0xD7: {return this.ext(8)}
    case 0xD8: {return this.ext(16)}
    case 0xD9: {return this.str(this.u8())}
    case 0xDA: {return this.str(this.u16())}
    case 0xDB: {return this.str(this.u32())}
    case 0xDC: {return this.array(this.u16())}
    case 0xDD: {return this.array(this.u32())}
    case 0xDE: {return this.map(this.u16())}
    case 0xDF: {return this.map(this.u32())}
    default: {throw new MsgpackError('msgpack type 0xc1 is never used')}
    }
  }

  private array(n: number): unknown[] {
    // Every element takes at least one byte: a huge declared length is refused before any work.
    if (n > this.bytes.length - this.pos) throw new MsgpackError('msgpack truncated')
    this.enter()
    const out: unknown[] = []
    for (let i = 0; i < n; i++) out.push(this.value())
    this.depth--
    return out
  }

  private bin(n: number): Uint8Array {
    return this.copy(this.take(n), n)
  }

  // A plain copy: the caller may reuse its input, and Buffer#slice would not copy.
  private copy(at: number, n: number): Uint8Array {
    const out = new Uint8Array(n)
    out.set(this.bytes.subarray(at, at + n))
    return out
  }

  private enter(): void {
    if (++this.depth > this.maxDepth) throw new MsgpackError('msgpack nested deeper than maxDepth', LIMIT)
  }

  private ext(n: number): MsgpackExt | string {
    const type = this.view.getInt8(this.take(1))
    const at = this.take(n)
    if (type === -1 && (n === 4 || n === 8 || n === 12)) return this.timestamp(at, n)
    return {__class__: 'msgpack.ext', data: this.copy(at, n), type}
  }

  private map(n: number): Dict {
    if (n > (this.bytes.length - this.pos) / 2) throw new MsgpackError('msgpack truncated')
    this.enter()
    const out: Dict = Object.create(null)
    for (let i = 0; i < n; i++) {
      const key = keyText(this.value(), 0)
      out[key] = this.value()
    }

    this.depth--
    return out
  }

  private str(n: number): string {
    const at = this.take(n)
    try {
      return UTF8.decode(this.bytes.subarray(at, at + n))
    } catch (error) {
      throw new MsgpackError('msgpack str is not UTF-8', {cause: error})
    }
  }

  private take(n: number): number {
    if (n > this.bytes.length - this.pos) throw new MsgpackError('msgpack truncated')
    const at = this.pos
    this.pos += n
    return at
  }

  private timestamp(at: number, n: number): MsgpackExt | string {
    let seconds: bigint | number
    let nanoseconds = 0
    if (n === 4) {
      seconds = this.view.getUint32(at)
    } else if (n === 8) {
      // 30 bits of nanoseconds, then 34 bits of seconds.
      const high = this.view.getUint32(at)
      nanoseconds = Math.floor(high / 4)
      seconds = ((high % 4) * (2 ** 32)) + this.view.getUint32(at + 4)
    } else {
      nanoseconds = this.view.getUint32(at)
      seconds = toInt(this.view.getBigInt64(at + 4))
    }

    if (typeof seconds !== 'number' || seconds < MIN_SECONDS || seconds > MAX_SECONDS || nanoseconds > 999_999_999) {
      return {__class__: 'msgpack.Timestamp', nanoseconds, seconds}
    }

    const whole = new Date(seconds * 1000).toISOString().slice(0, 19)
    let fraction = ''
    if (nanoseconds % 1000 !== 0) fraction = `.${String(nanoseconds).padStart(9, '0')}`
    else if (nanoseconds > 0) fraction = `.${String(nanoseconds / 1000).padStart(6, '0')}`
    return `${whole}${fraction}+00:00`
  }

  private u16(): number {
    return this.view.getUint16(this.take(2))
  }

  private u32(): number {
    return this.view.getUint32(this.take(4))
  }

  private u8(): number {
    return this.bytes[this.take(1)]
  }
}

function toInt(value: bigint): bigint | number {
  return value >= -0x1F_FF_FF_FF_FF_FF_FFn && value <= 0x1F_FF_FF_FF_FF_FF_FFn ? Number(value) : value
}

// The text a map key becomes, as Python would print the key (a dict key's str, or its repr).
function keyText(key: unknown, depth: number): string {
  if (typeof key === 'string') return key
  if (typeof key === 'number' || typeof key === 'bigint') return String(key)
  if (typeof key === 'boolean') return key ? 'True' : 'False'
  if (key === null) return 'None'
  if (key instanceof Uint8Array) return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')
  if (Array.isArray(key)) {
    if (depth >= 8 || key.length > 64) throw new MsgpackError('msgpack array key too large', LIMIT)
    const parts = key.map(k => (typeof k === 'string' ? `'${k}'` : keyText(k, depth + 1)))
    return `(${parts.join(', ')}${parts.length === 1 ? ',' : ''})`
  }

  if (typeof key === 'object' && Object.getPrototypeOf(key) === null) throw new MsgpackError('msgpack map as a map key (unhashable)')
  const ext = key as MsgpackExt
  return ext.__class__ === 'msgpack.Timestamp' ? `<timestamp ${String(ext.seconds)}>` : `<ext ${String(ext.type)}>`
}
