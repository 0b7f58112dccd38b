/* eslint-disable no-bitwise -- a binary format reader (igbinary, php_binary): byte masks and shifts are the point */
import {Buffer} from 'node:buffer'

import {
  PhpArrayBuilder, phpInt, type PhpLimits, type PhpObject, PhpSerializeError, type PhpSlot, phpText, PhpTree,
  PhpUnserializer,
} from './php-serialize.js'

/** PHP's `session.serialize_handler` values this module reads. */
export type PhpSessionHandler = 'igbinary' | 'php' | 'php_binary' | 'php_serialize'

export interface PhpSessionOptions extends PhpLimits {
  /** Read with this handler only, instead of detecting it from the bytes. */
  handler?: PhpSessionHandler
}

export interface PhpSession {
  /** `$_SESSION` as a null-prototype object keyed by the text of each key; values as `parsePhpSerialized` makes them. */
  data: Record<string, unknown>
  /** The handler that reads these bytes. */
  handler: PhpSessionHandler
}

/**
 * Reads a PHP native session value (what `session_encode()` wrote, e.g. under phpredis's
 * `PHPREDIS_SESSION:<id>`), detecting the serialize handler from the bytes:
 * - empty input: an empty session (handler `php`, PHP's default; every handler writes `""` for it
 *   except igbinary);
 * - `00 00 00 01|02`: `igbinary` (the igbinary extension's session handler: a header then one array;
 *   int keys at the top level are skipped, as igbinary does);
 * - `a:<n>:{…}` that reads as one array: `php_serialize`;
 * - `key|value key|value…` read value by value with the unserialize reader, never by splitting on `|`
 *   (a value may hold `|`): `php`;
 * - `chr(len) key value…`: `php_binary` (the length byte's high bit, once PHP 5's "undefined" marker, is
 *   masked off as PHP 7+ does; a key must be followed by at least one byte).
 * A `php` value may also be a valid `php_binary` one only by contrivance; `php` wins. Back-references
 * count from 1 at the first entry's value (`php`, `php_binary`, shared across entries) or at the outer
 * array (`php_serialize`), as PHP numbers them. Trailing bytes without a `|` after the last `php` entry
 * are ignored (PHP 8.2 does), and so are bytes after a `php_serialize` array (unserialize() does).
 * @throws PhpSerializeError when no handler reads the bytes (limit false: PHP destroys such a session) or a limit is hit.
 */
export function readPhpSession(input: Uint8Array, options: PhpSessionOptions = {}): PhpSession {
  if (!(input instanceof Uint8Array)) throw new PhpSerializeError('PHP session input must be bytes')
  const {handler} = options
  if (handler !== undefined) return {data: readWith(handler, input, options, false), handler}
  if (input.length === 0) return {data: emptyMap(), handler: 'php'}
  if (isIgbinary(input)) return {data: readWith('igbinary', input, options, false), handler: 'igbinary'}

  // Strict readings first (each consumes the whole input), then the lenient ones PHP also accepts.
  const attempts: Array<[PhpSessionHandler, boolean]> = []
  const looksSerialized = input[0] === 0x61 && input[1] === 0x3A
  if (looksSerialized) attempts.push(['php_serialize', true])
  attempts.push(['php', true], ['php_binary', true])
  if (looksSerialized) attempts.push(['php_serialize', false])
  attempts.push(['php', false])
  let first: PhpSerializeError | undefined
  let limit: PhpSerializeError | undefined
  for (const [name, strict] of attempts) {
    try {
      return {data: readWith(name, input, options, strict), handler: name}
    } catch (error) {
      if (!(error instanceof PhpSerializeError)) throw error
      if (error.limit) limit ??= error
      first ??= error
    }
  }

  // A limit under any reading: PHP may read it with that handler, so its owner is unknown.
  throw limit ?? new PhpSerializeError(`not a PHP session (no serialize handler reads it): ${first?.message ?? ''}`)
}

/** Cheap sniff: the igbinary header (format version 1 or 2, big-endian) and at least one more byte. */
export function isIgbinary(input: Uint8Array): boolean {
  return input.length >= 5 && input[0] === 0 && input[1] === 0 && input[2] === 0 && (input[3] === 1 || input[3] === 2)
}

/**
 * Reads a whole igbinary value (`igbinary_serialize()` output; what phpredis stores with
 * `Redis::SERIALIZER_IGBINARY`). Same value shapes as `parsePhpSerialized`; bytes after the value
 * are an error, as `igbinary_unserialize()` says.
 * @throws PhpSerializeError
 */
export function parseIgbinary(input: Uint8Array, limits: PhpLimits = {}): unknown {
  const reader = new IgbinaryReader(input, limits)
  return reader.run(() => {
    const value = reader.readValue(0, false)
    if (reader.pos < input.length) throw new PhpSerializeError(`malformed igbinary value at byte ${reader.pos}: more data than the value`)
    return value
  })
}

const LIMIT = {limit: true}
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024

function emptyMap(): Record<string, unknown> {
  return Object.create(null) as Record<string, unknown>
}

function readWith(handler: PhpSessionHandler, input: Uint8Array, limits: PhpLimits, strict: boolean): Record<string, unknown> {
  switch (handler) {
  case 'igbinary': {
    if (input.length === 0) return emptyMap()
    return readIgbinarySession(input, limits)
  }

  case 'php': {
    return readPhpHandler(input, limits, strict)
  }

  case 'php_binary': {
    return readPhpBinary(input, limits)
  }

  case 'php_serialize': {
    return readPhpSerializeHandler(input, limits, strict)
  }

  default: {
    throw new PhpSerializeError(`unknown PHP session handler ${String(handler)}`)
  }
  }
}

/** Session entries, with the tree-size bound over all of them. */
class Entries {
  readonly data = emptyMap()
  private size = 1

  constructor(private readonly tree: PhpTree) {}

  set(key: string, value: unknown): void {
    this.data[key] = value
    this.size += this.tree.lastSize
    this.tree.grow(this.size)
  }
}

function readPhpHandler(input: Uint8Array, limits: PhpLimits, strict: boolean): Record<string, unknown> {
  const reader = new PhpUnserializer(input, limits)
  return reader.run(() => {
    const entries = new Entries(reader.tree)
    let count = 0
    let p = 0
    while (p < input.length) {
      const bar = input.indexOf(0x7C, p)
      if (bar === -1) {
        // PHP 8.2 stops here and keeps what it read; only accepted leniently, after one entry.
        if (strict || count === 0) throw new PhpSerializeError(`malformed php session at byte ${p}: a key without '|'`)
        break
      }

      const key = phpText(input, p, bar, 'latin1') as string
      reader.pos = bar + 1
      const value = reader.readValue(0)
      entries.set(key, value)
      count++
      p = reader.pos
    }

    return entries.data
  })
}

function readPhpBinary(input: Uint8Array, limits: PhpLimits): Record<string, unknown> {
  const reader = new PhpUnserializer(input, limits)
  return reader.run(() => {
    const entries = new Entries(reader.tree)
    let p = 0
    while (p < input.length) {
      const length = input[p] & 0x7F
      if (p + length >= input.length) throw new PhpSerializeError(`malformed php_binary session at byte ${p}: key runs past the end`)
      const key = phpText(input, p + 1, p + 1 + length, 'latin1') as string
      reader.pos = p + 1 + length
      const value = reader.readValue(0)
      entries.set(key, value)
      p = reader.pos
    }

    return entries.data
  })
}

function readPhpSerializeHandler(input: Uint8Array, limits: PhpLimits, strict: boolean): Record<string, unknown> {
  const reader = new PhpUnserializer(input, limits)
  return reader.run(() => {
    if (input[0] !== 0x61) throw new PhpSerializeError('malformed php_serialize session: not an array')
    const value = reader.readValue(0)
    if (strict && reader.pos !== input.length) throw new PhpSerializeError(`malformed php_serialize session at byte ${reader.pos}: bytes after the array`)
    return asMap(value)
  })
}

/** A session array that came out as a list (`a:1:{i:0;…}`) becomes a map keyed by index text. */
function asMap(value: unknown): Record<string, unknown> {
  if (!Array.isArray(value)) return value as Record<string, unknown>
  const map = emptyMap()
  for (const [i, v] of value.entries()) map[i] = v
  return map
}

function readIgbinarySession(input: Uint8Array, limits: PhpLimits): Record<string, unknown> {
  const reader = new IgbinaryReader(input, limits)
  return reader.run(() => {
    if (input[4] < 0x14 || input[4] > 0x16) {
      // igbinary's decoder accepts any array-or-object (HASH_OF); an object is not read here.
      if (input[4] >= 0x17 && input[4] <= 0x1C) throw new PhpSerializeError('igbinary session stored as an object: not supported', LIMIT)
      throw new PhpSerializeError('malformed igbinary session: not an array')
    }

    // Trailing bytes are not checked by igbinary's session decoder.
    return asMap(reader.readValue(0, true))
  })
}

// igbinary type bytes (igbinary/src/php7/igbinary.c, enum igbinary_type).
const T = {
  array8: 0x14,
  array16: 0x15,
  array32: 0x16,
  boolFalse: 0x04,
  boolTrue: 0x05,
  double: 0x0C,
  enumCase: 0x27,
  long8n: 0x07,
  long8p: 0x06,
  long16n: 0x09,
  long16p: 0x08,
  long32n: 0x0B,
  long32p: 0x0A,
  long64n: 0x21,
  long64p: 0x20,
  null: 0x00,
  object8: 0x17,
  object16: 0x18,
  object32: 0x19,
  objectId8: 0x1A,
  objectId16: 0x1B,
  objectId32: 0x1C,
  objectSer8: 0x1D,
  objectSer16: 0x1E,
  objectSer32: 0x1F,
  objref8: 0x22,
  objref16: 0x23,
  objref32: 0x24,
  ref: 0x25,
  ref8: 0x01,
  ref16: 0x02,
  ref32: 0x03,
  string8: 0x11,
  string16: 0x12,
  string32: 0x13,
  string64: 0x26,
  stringEmpty: 0x0D,
  stringId8: 0x0E,
  stringId16: 0x0F,
  stringId32: 0x10,
} as const

/** Byte width of the count, length or id after each sized type. */
const WIDTH: Record<number, number> = {
  [T.array8]: 1,
  [T.array16]: 2,
  [T.array32]: 4,
  [T.object8]: 1,
  [T.object16]: 2,
  [T.object32]: 4,
  [T.objectId8]: 1,
  [T.objectId16]: 2,
  [T.objectId32]: 4,
  [T.objectSer8]: 1,
  [T.objectSer16]: 2,
  [T.objectSer32]: 4,
  [T.objref8]: 1,
  [T.objref16]: 2,
  [T.objref32]: 4,
  [T.ref8]: 1,
  [T.ref16]: 2,
  [T.ref32]: 4,
  [T.string8]: 1,
  [T.string16]: 2,
  [T.string32]: 4,
  [T.stringId8]: 1,
  [T.stringId16]: 2,
  [T.stringId32]: 4,
}

const NO_KEY = Symbol('no key')

/**
 * igbinary unserializer: a string table (every inline string, key or class name gets the next id)
 * and a reference table (every array and object, and every scalar marked as a PHP reference),
 * both numbered from 0 as igbinary does.
 */
class IgbinaryReader {
  /** What the last value was, for the reference table: a scalar marked `ref` gets a slot, the rest have one. */
  kind: 'container' | 'ref' | 'scalar' = 'scalar'
  pos = 4
  private readonly buf: Buffer
  private readonly bytes: Uint8Array
  private readonly refs: PhpSlot[] = []
  private readonly strings: Array<[number, number]> = []
  private readonly tree: PhpTree

  constructor(input: Uint8Array, limits: PhpLimits) {
    if (!(input instanceof Uint8Array)) throw new PhpSerializeError('igbinary input must be bytes')
    if (input.length > (limits.maxBytes ?? DEFAULT_MAX_BYTES)) throw new PhpSerializeError('igbinary value larger than maxBytes', LIMIT)
    if (!isIgbinary(input)) throw new PhpSerializeError('not igbinary (no version 1 or 2 header)')
    this.bytes = input
    this.buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength)
    this.tree = new PhpTree(limits.maxDepth ?? 200, limits.maxItems ?? 1_000_000)
  }

  readValue(depth: number, topLevel: boolean): unknown {
    const t = this.u8()
    switch (t) {
    case T.ref: {
      const value = this.readValue(depth, false)
      if (this.kind === 'scalar') this.refs.push({
        height: 0, open: false, size: 1, value,
      })
      this.kind = 'ref'
      return value
    }

    case T.ref8:
    case T.ref16:
    case T.ref32:
    case T.objref8:
    case T.objref16:
    case T.objref32: {
      const n = this.uint(WIDTH[t])
      if (n >= this.refs.length) this.fail(`invalid reference ${n}`)
      this.kind = 'ref'
      return this.tree.ref(this.refs[n], depth)
    }

    case T.array8:
    case T.array16:
    case T.array32: {
      this.kind = 'container'
      return this.readArray(t, depth, topLevel)
    }

    case T.object8:
    case T.object16:
    case T.object32:
    case T.objectId8:
    case T.objectId16:
    case T.objectId32: {
      this.kind = 'container'
      return this.readObject(t, depth)
    }

    default: {
      const value = this.readScalar(t)
      this.kind = 'scalar'
      this.tree.leaf()
      return value
    }
    }
  }

  run<T>(read: () => T): T {
    try {
      return read()
    } catch (error) {
      if (error instanceof PhpSerializeError) throw error
      throw new PhpSerializeError(`malformed igbinary value: ${error instanceof Error ? error.message : String(error)}`, {cause: error, limit: error instanceof RangeError})
    }
  }

  /** Inline string bytes (string8/16/32/64 or object8/16/32 class names): added to the string table. */
  private chars(t: number): [number, number] {
    const length = t === T.string64 ? this.u64Length() : this.uint(WIDTH[t])
    this.need(length)
    const range: [number, number] = [this.pos, this.pos + length]
    this.pos += length
    this.strings.push(range)
    return range
  }

  private fail(what: string): never {
    throw new PhpSerializeError(`malformed igbinary value at byte ${this.pos}: ${what}`)
  }

  private need(n: number): void {
    if (n > this.bytes.length - this.pos) this.fail('declared length exceeds the input')
  }

  private readArray(t: number, depth: number, topLevel: boolean): unknown {
    const {tree} = this
    const n = this.uint(WIDTH[t])
    this.need(n) // every element takes at least a byte
    if (depth + 1 > tree.maxDepth) throw new PhpSerializeError('igbinary value nested deeper than maxDepth', LIMIT)
    const slot: PhpSlot = {
      height: 0, open: true, size: 1, value: undefined,
    }
    this.refs.push(slot)
    const array = new PhpArrayBuilder()
    for (let i = 0; i < n; i++) {
      const key = this.readKey()
      if (key === NO_KEY) continue
      const value = this.readValue(depth + 1, false)
      // igbinary's session decoder skips int keys at the top level.
      if (topLevel && key.int) continue
      array.set(key.text, value, tree)
    }

    const value = array.value()
    Object.assign(slot, {
      height: array.height, open: false, size: array.size, value,
    })
    tree.lastSize = array.size
    tree.lastHeight = array.height
    this.kind = 'container'
    return value
  }

  /** A key of an array or of object properties; NO_KEY for igbinary's "no value here" (null key). */
  private readKey(): typeof NO_KEY | {int: boolean; text: string} {
    const t = this.u8()
    switch (t) {
    case T.null: {
      return NO_KEY
    }

    case T.long8n:
    case T.long8p:
    case T.long16n:
    case T.long16p:
    case T.long32n:
    case T.long32p:
    case T.long64n:
    case T.long64p: {
      return {int: true, text: String(this.readLong(t))}
    }

    case T.stringEmpty: {
      return {int: false, text: ''}
    }

    case T.stringId8:
    case T.stringId16:
    case T.stringId32: {
      return {int: false, text: this.text(this.stringId(t), 'latin1') as string}
    }

    case T.string8:
    case T.string16:
    case T.string32:
    case T.string64: {
      return {int: false, text: this.text(this.chars(t), 'latin1') as string}
    }

    default: {
      return this.fail('unknown key type')
    }
    }
  }

  private readLong(t: number): bigint | number {
    switch (t) {
    case T.long8p: {
      return this.uint(1)
    }

    case T.long8n: {
      return -this.uint(1)
    }

    case T.long16p: {
      return this.uint(2)
    }

    case T.long16n: {
      return -this.uint(2)
    }

    case T.long32p: {
      return this.uint(4)
    }

    case T.long32n: {
      return -this.uint(4)
    }

    default: {
      this.need(8)
      const magnitude = this.buf.readBigUInt64BE(this.pos)
      this.pos += 8
      // igbinary warns and reads 0 for what does not fit a zend_long.
      if (magnitude >= 1n << 63n && (magnitude > 1n << 63n || t === T.long64p)) return 0
      return phpInt(t === T.long64n ? -magnitude : magnitude)
    }
    }
  }

  private readObject(t: number, depth: number): PhpObject {
    const {bytes, tree} = this
    const name = t === T.object8 || t === T.object16 || t === T.object32 ? this.chars(t) : this.stringId(t)
    const out = Object.create(null) as PhpObject
    // igbinary looks the class up by name; a name PHP could not have declared makes an incomplete class, here just a name.
    out.__class__ = this.text(name, 'latin1') as string
    const slot: PhpSlot = {
      height: 0, open: true, size: 1, value: out,
    }
    this.refs.push(slot)
    const inner = this.u8()
    let size = 1
    let height = 0
    switch (inner) {
    case T.array8:
    case T.array16:
    case T.array32: {
      const n = this.uint(WIDTH[inner])
      this.need(n)
      if (depth + 1 > tree.maxDepth) throw new PhpSerializeError('igbinary value nested deeper than maxDepth', LIMIT)
      for (let i = 0; i < n; i++) {
        const key = this.readKey()
        if (key === NO_KEY) continue
        const value = this.readValue(depth + 1, false)
        if (key.text !== '__class__') out[key.text] = value
        size += tree.lastSize
        height = Math.max(height, tree.lastHeight + 1)
        tree.grow(size)
      }

      break;
    }

    case T.objectSer8:
    case T.objectSer16:
    case T.objectSer32: {
      const n = this.uint(WIDTH[inner])
      this.need(n)
      out.__serialized__ = phpText(bytes, this.pos, this.pos + n, 'bytes')
      this.pos += n

      break;
    }

    case T.enumCase: {
      const c = this.u8()
      const range = c === T.string8 || c === T.string16 || c === T.string32 || c === T.string64 ? this.chars(c) : this.stringId(c)
      out.__enum__ = this.text(range, 'latin1')

      break;
    }

    default: {
      this.fail('unknown object inner type')
    }
    }

    Object.assign(slot, {height, open: false, size})
    tree.lastSize = size
    tree.lastHeight = height
    this.kind = 'container'
    return out
  }

  private readScalar(t: number): unknown {
    switch (t) {
    case T.null: {
      return null
    }

    case T.boolFalse: {
      return false
    }

    case T.boolTrue: {
      return true
    }

    case T.double: {
      this.need(8)
      const value = this.buf.readDoubleBE(this.pos)
      this.pos += 8
      return value
    }

    case T.stringEmpty: {
      return ''
    }

    case T.stringId8:
    case T.stringId16:
    case T.stringId32: {
      return this.text(this.stringId(t), 'bytes')
    }

    case T.string8:
    case T.string16:
    case T.string32:
    case T.string64: {
      return this.text(this.chars(t), 'bytes')
    }

    case T.long8n:
    case T.long8p:
    case T.long16n:
    case T.long16p:
    case T.long32n:
    case T.long32p:
    case T.long64n:
    case T.long64p: {
      return this.readLong(t)
    }

    default: {
      return this.fail(`unknown type 0x${t.toString(16).padStart(2, '0')}`)
    }
    }
  }

  /** A string table id (string_id8/16/32 or object_id8/16/32). */
  private stringId(t: number): [number, number] {
    if (t < T.stringId8 || (t > T.stringId32 && t < T.objectId8) || t > T.objectId32) this.fail('expected a string id')
    const id = this.uint(WIDTH[t])
    if (id >= this.strings.length) this.fail(`string id ${id} out of range`)
    return this.strings[id]
  }

  private text([from, to]: [number, number], fallback: 'bytes' | 'latin1'): string | Uint8Array {
    return phpText(this.bytes, from, to, fallback)
  }

  private u64Length(): number {
    this.need(8)
    const n = this.buf.readBigUInt64BE(this.pos)
    this.pos += 8
    if (n > BigInt(this.bytes.length)) this.fail('declared length exceeds the input')
    return Number(n)
  }

  private u8(): number {
    this.need(1)
    return this.bytes[this.pos++]
  }

  private uint(width: number): number {
    this.need(width)
    const at = this.pos
    this.pos += width
    if (width === 1) return this.bytes[at]
    return width === 2 ? this.buf.readUInt16BE(at) : this.buf.readUInt32BE(at)
  }
}
