import {Buffer, isUtf8} from 'node:buffer'

import {ReaderError} from './reader-error.js'

/** Thrown for any PHP-serialized value that is malformed, unsupported or over a limit. Nothing else escapes this module. */
export class PhpSerializeError extends ReaderError {
  override name = 'PhpSerializeError'
}

/** Resource limits for the PHP readers; every limit breach is a `PhpSerializeError` with `limit` true. */
export interface PhpLimits {
  /** Largest accepted input (default 64 MiB). */
  maxBytes?: number
  /** Deepest nesting of arrays and objects in the result, references included (default 200; PHP's own is 4096). */
  maxDepth?: number
  /** Nodes in the result counted as a tree, so shared references count each time they appear (default 1 000 000). */
  maxItems?: number
}

/**
 * Inert stand-in for a PHP object (a null-prototype object). `O:` objects carry their properties
 * under the names as serialized: public `name`, protected `\0*\0name`, private `\0Class\0name`
 * (see {@link phpPropertyName}); a property literally named `__class__` is dropped (the class name wins).
 * `C:` (Serializable) objects carry their opaque payload as `__serialized__`; enum cases (`E:`) are
 * `{__class__: 'Enum', __enum__: 'Case'}`. `<cycle>` stands for a reference back to an enclosing
 * array or object. Nothing is ever instantiated, autoloaded or woken up.
 */
export interface PhpObject {
  [property: string]: unknown
  __class__: string
}

/**
 * Reads one PHP `serialize()` value (`N; b: i: d: s: S: a: O: C: E: r: R:`) into plain data, as PHP 8's
 * `unserialize()` does but without creating any object.
 *
 * N → null, b → boolean, i → number (bigint beyond ±(2^53-1), exact; PHP clamps overflowing text to
 * ±2^63 and so does this reader), d → number (NAN, INF, -INF and -0 included), s/S → string when the
 * bytes are valid UTF-8, otherwise a Uint8Array of the exact bytes (see {@link phpStringBytes}).
 * An array whose keys are 0…n-1 in order (PHP's array_is_list) → a JS array; any other array → a
 * null-prototype object keyed by the key's text (int keys as decimal text; a key that is not UTF-8 as
 * latin-1 text). JS orders integer-like keys first, so such an object does not keep PHP's key order.
 * Objects → {@link PhpObject}.
 *
 * `r:`/`R:` use PHP's numbering (every value counts from 1, `R:` itself and array keys do not) and
 * resolve to the same JS value (shared, not copied); a reference back to an enclosing container
 * becomes `{__class__: '<cycle>'}`, so the result is acyclic. Bytes after the value are ignored,
 * as unserialize() does (PHP 8.3+ only warns about them).
 * @throws PhpSerializeError for anything malformed or over a limit.
 */
export function parsePhpSerialized(input: Uint8Array, limits: PhpLimits = {}): unknown {
  const reader = new PhpUnserializer(input, limits)
  return reader.run(() => reader.readValue(0))
}

/** Cheap sniff, no parsing: the first bytes of a serialized value (`N;`, `b:0;`, `i:`, `d:`, `s:1`, `a:1`, `O:1`…). */
export function isPhpSerialized(input: Uint8Array): boolean {
  if (input.length < 2) return false
  const [t, c] = input
  if (t === 0x4E) return c === 0x3B // N;
  if (c !== 0x3A) return false
  if (t === 0x62) return input[2] === 0x30 || input[2] === 0x31 // b:0 b:1
  if (t === 0x69 || t === 0x64) return input.length > 2 // i: d:
  // s: S: a: O: C: E: r: R: followed by a digit
  return 'sSaOCErR'.includes(String.fromCodePoint(t)) && input[2] >= 0x30 && input[2] <= 0x39
}

/**
 * The bytes of a string this reader produced (text is re-encoded as UTF-8, which gives back the
 * exact bytes since only valid UTF-8 became text); undefined for anything else. For values that
 * hold another serialized value (Laravel's `serialize(serialize($attributes))`).
 */
export function phpStringBytes(value: unknown): Uint8Array | undefined {
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  if (value instanceof Uint8Array) return value
  return undefined
}

/** Splits a serialized property name: `\0*\0x` is protected, `\0Class\0x` private to Class, anything else public. */
export function phpPropertyName(name: string): {class?: string; name: string; visibility: 'private' | 'protected' | 'public'} {
  if (name.length < 3 || name[0] !== '\0') return {name, visibility: 'public'}
  const end = name.indexOf('\0', 1)
  if (end === -1) return {name, visibility: 'public'}
  const scope = name.slice(1, end)
  const bare = name.slice(end + 1)
  return scope === '*' ? {name: bare, visibility: 'protected'} : {class: scope, name: bare, visibility: 'private'}
}

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024
const DEFAULT_MAX_DEPTH = 200
const DEFAULT_MAX_ITEMS = 1_000_000
const LIMIT = {limit: true}
const INT64_MAX = (2n ** 63n) - 1n
const INT64_MIN = -(2n ** 63n)

/**
 * Text of PHP string bytes: UTF-8 when valid, otherwise `fallback` (the exact bytes for values,
 * latin-1 text for keys and class names, which must be text).
 * @internal
 */
export function phpText(bytes: Uint8Array, start: number, end: number, fallback: 'bytes' | 'latin1', view?: Buffer): string | Uint8Array {
  let ascii = true
  for (let i = start; i < end; i++) {
    if (bytes[i] >= 0x80) {
      ascii = false
      break
    }
  }

  const buf = view ?? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (ascii) return buf.toString('latin1', start, end)
  // isUtf8 (simdutf) refuses overlongs, surrogates and truncated sequences, without an exception per string.
  const slice = buf.subarray(start, end)
  if (isUtf8(slice)) return slice.toString('utf8')
  return fallback === 'bytes' ? Buffer.from(slice) : slice.toString('latin1')
}

/** PHP's `zend_is_valid_class_name`: `[A-Za-z0-9_\x80-\xff\\]+`. @internal */
export function isValidClassName(bytes: Uint8Array, start: number, end: number): boolean {
  if (end <= start) return false
  for (let i = start; i < end; i++) {
    const c = bytes[i]
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c === 0x5F || c === 0x5C || c >= 0x80
    if (!ok) return false
  }

  return true
}

/** An int in JS form: a number when exact, else a bigint. @internal */
export function phpInt(value: bigint): bigint | number {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value
}

/** What a value adds to the result counted as a tree, and how deep it goes. @internal */
export interface PhpSlot {
  height: number
  open: boolean
  size: number
  value: unknown
}

/**
 * The builder the PHP readers share: nesting depth and tree size of the result, list detection,
 * null-prototype maps. @internal
 */
export class PhpTree {
  /** Tree size of the last value read, and its height. */
  lastHeight = 0
  lastSize = 0

  constructor(
    readonly maxDepth: number,
    readonly maxItems: number,
  ) {}

  /** Checks a container's running size. */
  grow(size: number): void {
    if (size > this.maxItems) throw new PhpSerializeError('PHP value expands to more than maxItems values', LIMIT)
  }

  /** Records a leaf (scalar) as the last value. */
  leaf(): void {
    this.lastSize = 1
    this.lastHeight = 0
  }

  /** Records a reference to an existing slot as the last value; returns what to put in the result. */
  ref(slot: PhpSlot, depth: number): unknown {
    if (slot.open) {
      this.leaf()
      return Object.assign(Object.create(null) as PhpObject, {__class__: '<cycle>'})
    }

    if (depth + slot.height > this.maxDepth) throw new PhpSerializeError('PHP value nested deeper than maxDepth (through references)', LIMIT)
    this.lastSize = slot.size
    this.lastHeight = slot.height
    return slot.value
  }
}

/** A PHP array being built: a null-prototype object plus what is needed to tell a list. @internal */
export class PhpArrayBuilder {
  height = 0
  list = true
  readonly map: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  next = 0
  size = 1

  set(key: string, value: unknown, tree: PhpTree): void {
    if (!Object.hasOwn(this.map, key)) {
      if (this.list && key !== String(this.next)) this.list = false
      this.next++
    }

    this.map[key] = value
    this.size += tree.lastSize
    this.height = Math.max(this.height, tree.lastHeight + 1)
    tree.grow(this.size)
  }

  /** The finished value: an array for a list, else the map. */
  value(): Record<string, unknown> | unknown[] {
    if (!this.list) return this.map
    const out: unknown[] = Array.from({length: this.next})
    for (let i = 0; i < this.next; i++) out[i] = this.map[i]
    return out
  }
}

/**
 * A PHP `unserialize()` over one input, with PHP's reference table (`var_hash`), so that a
 * session handler can read several values in a row that share the numbering. @internal
 */
export class PhpUnserializer {
  pos = 0
  readonly slots: PhpSlot[] = []
  readonly tree: PhpTree
  private readonly buf: Buffer
  private readonly bytes: Uint8Array

  constructor(input: Uint8Array, limits: PhpLimits) {
    if (!(input instanceof Uint8Array)) throw new PhpSerializeError('PHP serialized input must be bytes')
    if (input.length > (limits.maxBytes ?? DEFAULT_MAX_BYTES)) throw new PhpSerializeError('PHP serialized value larger than maxBytes', LIMIT)
    this.bytes = input
    this.buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength)
    this.tree = new PhpTree(limits.maxDepth ?? DEFAULT_MAX_DEPTH, limits.maxItems ?? DEFAULT_MAX_ITEMS)
  }

  get length(): number {
    return this.bytes.length
  }

  /** Reads one value at `this.pos` (an array element, an object property, a session entry), at container depth `depth`. */
  readValue(depth: number): unknown {
    const {bytes} = this
    const start = this.pos
    if (start >= bytes.length) this.fail('unexpected end of data')
    const type = bytes[start]
    if (type === 0x52) return this.readRef(false, depth) // R: is not numbered
    const slot: PhpSlot = {
      height: 0, open: false, size: 1, value: undefined,
    }
    this.slots.push(slot)
    let value: unknown
    switch (type) {
    case 0x4E: { // N;
      this.expect(start + 1, 0x3B)
      this.pos = start + 2
      value = null
      this.tree.leaf()
      break
    }

    case 0x62: { // b:0; b:1;
      this.expect(start + 1, 0x3A)
      const b = bytes[start + 2]
      if (b !== 0x30 && b !== 0x31) this.fail('bad boolean', start + 2)
      this.expect(start + 3, 0x3B)
      this.pos = start + 4
      value = b === 0x31
      this.tree.leaf()
      break
    }

    case 0x69: { // i:<iv>;
      this.expect(start + 1, 0x3A)
      value = this.readIv(start + 2, true, 0x3B)
      this.tree.leaf()
      break
    }

    case 0x64: { // d:<float>;
      this.expect(start + 1, 0x3A)
      value = this.readFloat(start + 2)
      this.tree.leaf()
      break
    }

    case 0x53: // S: (escaped string, deprecated but read by PHP 8)
    case 0x73: { // s:
      value = this.readString(type === 0x53, 'bytes')
      this.tree.leaf()
      break
    }

    case 0x61: { // a:
      value = this.readArray(slot, depth)
      break
    }

    case 0x43: // C:
    case 0x4F: { // O:
      value = this.readObject(slot, depth, type === 0x43)
      break
    }

    case 0x45: { // E:
      value = this.readEnum()
      this.tree.leaf()
      break
    }

    case 0x72: { // r:
      value = this.readRef(true, depth)
      break
    }

    default: {
      this.fail('unknown type', start)
    }
    }

    slot.value = value
    slot.size = this.tree.lastSize
    slot.height = this.tree.lastHeight
    slot.open = false
    return value
  }

  /** Runs `read`, turning any stray exception into a PhpSerializeError. */
  run<T>(read: () => T): T {
    try {
      return read()
    } catch (error) {
      if (error instanceof PhpSerializeError) throw error
      throw new PhpSerializeError(`malformed PHP serialized value: ${error instanceof Error ? error.message : String(error)}`, {cause: error, limit: error instanceof RangeError})
    }
  }

  /** `"` + bytes of a declared length + closing byte; shared by s:, O:, C:, E:. Returns [start, end) of the bytes. */
  private counted(closer: number): [number, number] {
    const [len, from] = this.countedHeader()
    const to = from + len
    this.expect(to, 0x22)
    this.expect(to + 1, closer)
    this.pos = to + 2
    return [from, to]
  }

  /** `<type>:<len>:"` at the current position: the declared length, checked against the input, and where the bytes start. */
  private countedHeader(): [number, number] {
    const type = this.pos
    this.expect(type + 1, 0x3A)
    const [len, at] = this.readUiv(type + 2)
    this.expect(at, 0x3A)
    this.expect(at + 1, 0x22)
    const from = at + 2
    if (len > this.bytes.length - from) this.fail('declared length exceeds the input', type + 2)
    return [len, from]
  }

  private expect(at: number, byte: number): void {
    if (this.bytes[at] !== byte) this.fail(`expected '${String.fromCodePoint(byte)}'`, at)
  }

  private fail(what: string, at = this.pos): never {
    throw new PhpSerializeError(`malformed PHP serialized value at byte ${at}: ${what}`)
  }

  private readArray(slot: PhpSlot, depth: number): unknown {
    const {bytes, tree} = this
    const start = this.pos
    this.expect(start + 1, 0x3A)
    const [count, at] = this.readUiv(start + 2)
    this.expect(at, 0x3A)
    this.expect(at + 1, 0x7B)
    this.pos = at + 2
    // PHP: every element takes at least 2 bytes.
    if (count > (bytes.length - this.pos) / 2) this.fail('element count exceeds the input', start + 2)
    if (depth + 1 > tree.maxDepth) throw new PhpSerializeError('PHP value nested deeper than maxDepth', LIMIT)
    const array = new PhpArrayBuilder()
    slot.open = true
    slot.value = array.map
    for (let i = 0; i < count; i++) {
      const key = this.readKey(false)
      const value = this.readValue(depth + 1)
      array.set(key, value, tree)
    }

    this.expect(this.pos, 0x7D)
    this.pos++
    const value = array.value()
    tree.lastSize = array.size
    tree.lastHeight = array.height
    return value
  }

  private readEnum(): PhpObject {
    const {bytes} = this
    const [from, to] = this.counted(0x3B)
    if (to === from) this.fail('empty enum name', from)
    const colon = bytes.indexOf(0x3A, from)
    if (colon === -1 || colon >= to) this.fail('enum name without a colon', from)
    if (!isValidClassName(bytes, from, colon)) this.fail('invalid enum class name', from)
    const out = Object.create(null) as PhpObject
    out.__class__ = phpText(bytes, from, colon, 'latin1') as string
    out.__enum__ = phpText(bytes, colon + 1, to, 'latin1')
    return out
  }

  private readFloat(at: number): number {
    const {bytes} = this
    const end = bytes.indexOf(0x3B, at)
    if (end === -1) this.fail('float without ;', at)
    const text = Buffer.from(bytes.buffer, bytes.byteOffset + at, end - at).toString('latin1')
    this.pos = end + 1
    if (text === 'NAN') return Number.NaN
    if (text === 'INF') return Number.POSITIVE_INFINITY
    if (text === '-INF') return Number.NEGATIVE_INFINITY
    // iv | nv | nvexp from var_unserializer.re
    if (!/^[+-]?(?:\d+|\d*\.\d+|\d+\.\d*)(?:[Ee][+-]?\d+)?$/.test(text)) this.fail('bad float', at)
    return Number(text)
  }

  /**
   * PHP's parse_iv2: optional sign, digits (at least one when `digits`), clamped to int64 on overflow
   * (PHP warns and clamps), then `closer`. Returns the value (a number when exact); leaves pos after the closer.
   */
  private readIv(at: number, digits: boolean, closer: number): bigint | number {
    const {bytes} = this
    let i = at
    const negative = bytes[i] === 0x2D
    if (negative || bytes[i] === 0x2B) i++
    const from = i
    let small = 0
    while (i < bytes.length && bytes[i] >= 0x30 && bytes[i] <= 0x39) {
      if (i - from < 15) small = (small * 10) + bytes[i] - 0x30
      i++
    }

    if (digits && i === from) this.fail('expected a digit', from)
    this.expect(i, closer)
    this.pos = i + 1
    if (i - from <= 15) return negative && small !== 0 ? -small : small
    let first = from
    while (first < i - 1 && bytes[first] === 0x30) first++
    if (i - first > 19) return negative ? INT64_MIN : INT64_MAX
    const magnitude = BigInt(Buffer.from(bytes.buffer, bytes.byteOffset + first, i - first).toString('latin1'))
    const value = negative ? -magnitude : magnitude
    if (value > INT64_MAX) return INT64_MAX
    if (value < INT64_MIN) return INT64_MIN
    return phpInt(value)
  }

  /** An array key or a property name (`i:` or `s:`/`S:`), as text. */
  private readKey(property: boolean): string {
    const {bytes} = this
    const type = bytes[this.pos]
    if (type === 0x69) {
      this.expect(this.pos + 1, 0x3A)
      return String(this.readIv(this.pos + 2, true, 0x3B))
    }

    if (type === 0x73 || type === 0x53) return this.readString(type === 0x53, 'latin1') as string
    if (this.pos >= bytes.length) this.fail('unexpected end of data')
    return this.fail(property ? 'property name is neither int nor string' : 'array key is neither int nor string')
  }

  private readObject(slot: PhpSlot, depth: number, custom: boolean): PhpObject {
    const {bytes, tree} = this
    const [from, to] = this.counted(0x3A)
    // PHP refuses an empty name, a leading NUL or backslash, and (for classes it does not know) invalid names.
    if (to === from || bytes[from] === 0x5C || !isValidClassName(bytes, from, to)) this.fail('invalid class name', from)
    const out = Object.create(null) as PhpObject
    out.__class__ = phpText(bytes, from, to, 'latin1') as string
    if (custom) {
      // C:<len>:"Class":<datalen>:{<datalen bytes>}
      const begin = this.pos - 1
      const datalen = this.readIv(this.pos, false, 0x3A)
      this.expect(this.pos, 0x7B)
      const dataFrom = this.pos + 1
      if (datalen < 0 || bytes.length - dataFrom <= datalen) this.fail('declared length exceeds the input', begin)
      const dataTo = dataFrom + Number(datalen)
      this.expect(dataTo, 0x7D)
      out.__serialized__ = phpText(bytes, dataFrom, dataTo, 'bytes')
      this.pos = dataTo + 1
      tree.leaf()
      return out
    }

    const begin = this.pos
    const count = this.readIv(this.pos, false, 0x3A)
    if (count < 0 || count > (bytes.length - this.pos) / 2) this.fail('element count exceeds the input', begin)
    this.expect(this.pos, 0x7B)
    this.pos++
    if (depth + 1 > tree.maxDepth) throw new PhpSerializeError('PHP value nested deeper than maxDepth', LIMIT)
    slot.open = true
    slot.value = out
    let size = 1
    let height = 0
    for (let i = Number(count); i > 0; i--) {
      const name = this.readKey(true)
      const value = this.readValue(depth + 1)
      if (name !== '__class__') out[name] = value
      size += tree.lastSize
      height = Math.max(height, tree.lastHeight + 1)
      tree.grow(size)
    }

    this.expect(this.pos, 0x7D)
    this.pos++
    tree.lastSize = size
    tree.lastHeight = height
    return out
  }

  /** r:<id>; (`numbered`: pushed a slot of its own) or R:<id>; */
  private readRef(numbered: boolean, depth: number): unknown {
    const start = this.pos
    this.expect(start + 1, 0x3A)
    const [id, end] = this.readUiv(start + 2)
    this.expect(end, 0x3B)
    this.pos = end + 1
    // r: was pushed itself (as the last slot): pointing at itself is an error in PHP, as is 0.
    const available = numbered ? this.slots.length - 1 : this.slots.length
    if (id < 1 || id > available) this.fail(`reference ${id} to a value that does not exist`, start)
    return this.tree.ref(this.slots[id - 1], depth)
  }

  /** s:<len>:"<bytes>"; or S:<len>:"<escaped>"; */
  private readString(escaped: boolean, fallback: 'bytes' | 'latin1'): string | Uint8Array {
    if (!escaped) {
      const [from, to] = this.counted(0x3B)
      return phpText(this.bytes, from, to, fallback, this.buf)
    }

    const {bytes} = this
    const [len, start] = this.countedHeader()
    let p = start
    const out = new Uint8Array(len)
    for (let i = 0; i < len; i++) {
      if (p >= bytes.length) this.fail('unexpected end of data', p)
      if (bytes[p] === 0x5C) {
        const hex = Buffer.from(bytes.buffer, bytes.byteOffset + p + 1, Math.min(2, bytes.length - p - 1)).toString('latin1')
        if (!/^[\dA-Fa-f]{2}$/.test(hex)) this.fail('bad escape', p)
        out[i] = Number.parseInt(hex, 16)
        p += 3
      } else {
        out[i] = bytes[p++]
      }
    }

    this.expect(p, 0x22)
    this.expect(p + 1, 0x3B)
    this.pos = p + 2
    return phpText(out, 0, out.length, fallback)
  }

  /** PHP's `[0-9]+` then a wrapping size_t parse (parse_uiv). Returns [value, end]. */
  private readUiv(at: number): [number, number] {
    const {bytes} = this
    let end = at
    while (end < bytes.length && bytes[end] >= 0x30 && bytes[end] <= 0x39) end++
    if (end === at) this.fail('expected a digit', at)
    if (end - at <= 15) {
      let v = 0
      for (let i = at; i < end; i++) v = (v * 10) + bytes[i] - 0x30
      return [v, end]
    }

    // parse_uiv wraps modulo 2^64; a wrapped value past 2^53 is beyond any input anyway.
    let v = 0n
    for (let i = at; i < end; i += 15) {
      const chunk = Buffer.from(bytes.buffer, bytes.byteOffset + i, Math.min(15, end - i)).toString('latin1')
      v = BigInt.asUintN(64, (v * (10n ** BigInt(chunk.length))) + BigInt(chunk))
    }

    return [v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(v), end]
  }
}
