/* eslint-disable no-bitwise -- a binary format reader: byte masks and shifts are the point */
import {Buffer} from 'node:buffer'
import {TextDecoder} from 'node:util'

import {ReaderError} from './reader-error.js'

/** Thrown for any Marshal stream that is malformed, unsupported or over a limit. Nothing else escapes `parseMarshal`. */
export class MarshalError extends ReaderError {
  override name = 'MarshalError'
}

const LIMIT = {limit: true}

/** Resource limits for `parseMarshal`; every limit breach is a `MarshalError` with `limit: true`. */
export interface MarshalLimits {
  /** Largest accepted input (default 64 MiB). */
  maxBytes?: number
  /** Deepest nesting while reading, and of containers in the result (default 200). */
  maxDepth?: number
  /** Values read, and nodes in the result counted as a tree (default 1 000 000). */
  maxItems?: number
}

/**
 * Inert stand-in for a Ruby value that is not plain data. Every one is an ordinary object (its
 * prototype is Object.prototype, which tells it from a Hash, whose prototype is null) whose
 * `__class__` is the class name as written in the stream (nothing is resolved or instantiated):
 *
 * - `o` object: `{__class__: 'Name', '@ivar': value, ...}`, its instance variables under their
 *   names as Ruby spells them, with the '@' (names without one are Ruby-internal and dropped);
 * - `S` struct: `{__class__: 'Name', members: {name: value}}` (members: a null-prototype object);
 * - `u` (`_dump`): `{__class__: 'Name', _dump: Uint8Array, ivars?: {name: value}}`, ivars being those
 *   Ruby sets on the dumped string (Time's `offset`, `zone`..., `E` / `encoding`);
 * - `U` (`marshal_dump`): `{__class__: 'Name', marshal_dump: value}`;
 * - `d` (`_dump_data`): `{__class__: 'Name', _dump_data: value}`;
 * - `C` (subclass of String/Array/Hash/Regexp): `{__class__: 'Name', value}`, value read as its base class;
 * - `e` (extended with modules): `{__class__: '<extended>', extended: ['Mod', ...], value}`;
 * - `c` class, `m`/`M` module: `{__class__: 'Class' | 'Module', name: 'Name'}`;
 * - `/` regexp: `{__class__: 'Regexp', source: string, options: number}`;
 * - `{__class__: '<cycle>'}`: a reference back to an enclosing container.
 */
export interface RubyObject {
  [ivar: string]: unknown
  __class__: string
}

/**
 * Reads a Ruby Marshal 4.8 stream (what `Marshal.dump` writes; minor versions 0–8 are accepted, as
 * Ruby does) into plain values without resolving, loading or running anything.
 *
 * nil → null, true/false → boolean, Integer (Fixnum or Bignum) → number, or bigint beyond 2^53,
 * Float → number (NaN, ±Infinity, -0 included), Symbol → its text, String → text decoded by its
 * encoding (`E` true: UTF-8, invalid bytes become U+FFFD; `E` false: US-ASCII, read as latin-1 so
 * no byte is lost; an `encoding` ivar: that encoding when Node can decode it), and a String with
 * no encoding (ASCII-8BIT, binary, e.g. a zlib stream) or one Node cannot decode → Uint8Array of
 * its bytes. Array → array; Hash → null-prototype object keyed by the text of each key (a Hash's
 * default value is read and dropped). Everything else is a {@link RubyObject}.
 *
 * Hash keys: String/Symbol → their text, binary String → latin-1 text, Integer → decimal, Float →
 * JavaScript's number text, nil/true/false → 'nil'/'true'/'false', Array → `[a, "b"]`, others →
 * `#<Name>`; keys with the same text collide (the later wins).
 *
 * Object links (`@n`) use Ruby's numbering: every String, Float, Bignum, Array, Hash, Regexp,
 * Object, Struct, class/module ref and `u`/`U`/`d` value takes the next index when it is read (a
 * `u` after its ivars; a `C`/`e`/`I` wrapper shares its inner value's); nil, true, false, Fixnums
 * and Symbols (which have their own table for `;n`) take none. Shared references stay shared (the
 * same JS value); a link to a `C`/`e` value gives the inner value without its wrapper. The
 * result is acyclic: a link back to an enclosing container is `{__class__: '<cycle>'}`. Bytes
 * after the value are ignored, as Ruby does.
 * @throws MarshalError for anything malformed, unsupported or over a limit.
 */
export function parseMarshal(input: Uint8Array, limits: MarshalLimits = {}): unknown {
  if (!(input instanceof Uint8Array)) throw new MarshalError('marshal input must be bytes')
  if (input.length > (limits.maxBytes ?? DEFAULT_MAX_BYTES)) throw new MarshalError('marshal data larger than maxBytes', LIMIT)
  try {
    return new Reader(input, limits.maxDepth ?? DEFAULT_MAX_DEPTH, limits.maxItems ?? DEFAULT_MAX_ITEMS).load()
  } catch (error) {
    if (error instanceof MarshalError) throw error
    // RangeErrors from V8 (stack, BigInt or string too large) are this reader's limits.
    throw new MarshalError(`malformed marshal data: ${error instanceof Error ? error.message : String(error)}`, {cause: error, limit: error instanceof RangeError})
  }
}

/** Cheap sniff: the Marshal 4.8 header `04 08` that every `Marshal.dump` of Ruby ≥ 1.8 starts with. */
export function isMarshal(input: Uint8Array): boolean {
  return input.length >= 2 && input[0] === 4 && input[1] === 8
}

const DEFAULT_MAX_DEPTH = 200
const DEFAULT_MAX_ITEMS = 1_000_000
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024
// A Hash key's text is cut here (an Array key can expand through shared references).
const MAX_KEY_TEXT = 1024
// Bignum keys are written in decimal, which is quadratic for huge values.
const MAX_BIGNUM_KEY_BYTES = 1024

type Dict = Record<string, unknown>

interface Shape {
  height: number
  size: number
}

/** Ivars a `I` wrapper asked for and the reader of the wrapped value has not taken yet. */
interface Pending {
  pending: boolean
}

/** What an ivar list says: the encoding (Ruby's `E` / `encoding`) and the other ivars, in order. */
interface Ivars {
  encoding: string | undefined
  others: Array<[string, unknown]>
}

const BINARY = 'ASCII-8BIT'
// eslint-disable-next-line unicorn/text-encoding-identifier-case -- Ruby's name for the encoding, as streams spell it
const UTF8 = 'UTF-8'
const UTF8_FATAL = new TextDecoder('utf8', {fatal: true, ignoreBOM: true})
const decoders = new Map<string, null | TextDecoder>()

class Reader {
  private readonly buf: Buffer
  private readonly bytes: Uint8Array
  private count = 0
  private depth = 0
  private readonly objects: unknown[] = []
  private readonly open = new Set<object>()
  private pos = 0
  private readonly regexpSource = new WeakMap<object, Uint8Array>()
  private readonly rubyObjects = new WeakSet<object>()
  private readonly shapes = new WeakMap<object, Shape>()
  private readonly symbols: string[] = []

  constructor(
    input: Uint8Array,
    private readonly maxDepth: number,
    private readonly maxItems: number,
  ) {
    this.bytes = input
    this.buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength)
  }

  load(): unknown {
    const major = this.byte()
    const minor = this.byte()
    if (major !== 4 || minor > 8) throw new MarshalError(`incompatible marshal file format ${major}.${minor}`)
    return this.value()
  }

  // ----------------------------------------------------------------------------------------
  // Values.

  private array(): unknown[] {
    const n = this.length()
    // Every element takes at least one byte.
    if (n > this.remaining()) throw new MarshalError('marshal data too short')
    const node: unknown[] = []
    this.entry(node)
    this.open.add(node)
    for (let i = 0; i < n; i++) node.push(this.value())
    return this.close(node, node)
  }

  private bignum(): bigint | number {
    const sign = this.byte()
    const n = this.length() * 2
    const at = this.take(n)
    const negative = sign === 0x2D
    if (n <= 6) {
      let value = 0
      for (let i = n - 1; i >= 0; i--) value = (value * 256) + this.bytes[at + i]
      return negative && value !== 0 ? -value : value
    }

    const hex = Buffer.from(this.bytes.subarray(at, at + n)).reverse().toString('hex')
    const value = BigInt(`0x${hex}`)
    return toInt(negative ? -value : value)
  }

  private byte(): number {
    if (this.pos >= this.bytes.length) throw new MarshalError('marshal data too short')
    return this.bytes[this.pos++]
  }

  /** Marks a container finished: checks the tree it stands for against the limits. */
  private close<T extends object>(node: T, children: Iterable<unknown>): T {
    let size = 1
    let height = 0
    for (const child of children) {
      const shape = this.shapeOf(child)
      size += shape.size
      if (shape.height + 1 > height) height = shape.height + 1
    }

    if (size > this.maxItems) throw new MarshalError('marshal data expands to more than maxItems values', LIMIT)
    if (height > this.maxDepth) throw new MarshalError('marshal data nested deeper than maxDepth', LIMIT)
    this.open.delete(node)
    this.shapes.set(node, {height, size})
    return node
  }

  private copy(start: number, n: number): Uint8Array {
    const out = new Uint8Array(n)
    out.set(this.bytes.subarray(start, start + n))
    return out
  }

  private entry<T>(value: T): T {
    this.objects.push(value)
    return value
  }

  private fixnum(): number {
    return this.long()
  }

  private hash(withDefault: boolean): Dict {
    const n = this.length()
    if (n > this.remaining() / 2) throw new MarshalError('marshal data too short')
    const node: Dict = Object.create(null)
    this.entry(node)
    this.open.add(node)
    const children: unknown[] = []
    for (let i = 0; i < n; i++) {
      const key = keyText(this.value())
      const value = this.value()
      node[key] = value
      children.push(value)
    }

    // Ruby keeps the default for missing keys; as data it says nothing about the session.
    if (withDefault) this.value()
    return this.close(node, children)
  }

  /** An ivar list: `E` (true: UTF-8, false: US-ASCII) and `encoding` give the encoding; the rest in order. */
  private ivars(): Ivars {
    const n = this.long()
    if (n > this.remaining() / 2) throw new MarshalError('marshal data too short')
    const out: Ivars = {encoding: undefined, others: []}
    for (let i = 0; i < n; i++) {
      const name = this.symbol()
      const value = this.value()
      if (name === 'E' && typeof value === 'boolean') {
        out.encoding = value ? UTF8 : 'US-ASCII'
      } else if (name === 'encoding') {
        if (typeof value !== 'string' && !(value instanceof Uint8Array)) throw new MarshalError('encoding ivar is not a String')
        const text = typeof value === 'string' ? value : this.latin1(value)
        if (text.includes('\0')) throw new MarshalError('encoding name contains a null byte')
        const known = encodingName(text)
        if (known === undefined) out.others.push([name, value])
        else out.encoding = known
      } else {
        out.others.push([name, value])
      }
    }

    return out
  }

  private latin1(bytes: Uint8Array): string {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
  }

  /** A length (r_long): never negative here. */
  private length(): number {
    const n = this.long()
    if (n < 0) throw new MarshalError('negative length')
    return n
  }

  // ----------------------------------------------------------------------------------------
  // Symbols.

  /**
   * Ruby's r_long: one byte for -123..122, else a count of 1–4 little-endian bytes (a negative
   * count: the value is sign-extended from them). Counts 5–127 are one-byte values, so no r_long
   * is wider than 32 bits; a Fixnum beyond that is written as a Bignum.
   */
  private long(): number {
    const c = (this.byte() << 24) >> 24
    if (c === 0) return 0
    if (c > 4) return c - 5
    if (c < -4) return c + 5
    const n = Math.abs(c)
    const at = this.take(n)
    let value = 0
    for (let i = n - 1; i >= 0; i--) value = (value * 256) + this.bytes[at + i]
    return c > 0 ? value : value - (2 ** (8 * n))
  }

  private object(ivp: Pending | undefined): RubyObject {
    const node: RubyObject = {__class__: this.symbol()}
    this.rubyObjects.add(node)
    this.entry(node)
    this.open.add(node)
    const children: unknown[] = []
    const add = (ivars: Ivars): void => {
      // Ruby refuses an encoding on an Object (rb_enc_capable is false for T_OBJECT).
      if (ivars.encoding !== undefined) throw new MarshalError('ivar encoding on an Object, which is not enc_capable')
      for (const [name, value] of ivars.others) {
        // Names without '@' are Ruby-internal; they also could never be __class__ or __proto__.
        if (name.startsWith('@')) {
          node[name] = value
          children.push(value)
        }
      }
    }

    add(this.ivars())
    // I-wrapped: more ivars, set on the object too, read while it is still open.
    if (ivp?.pending) {
      ivp.pending = false
      add(this.ivars())
    }

    return this.close(node, children)
  }

  private peek(): number | undefined {
    return this.bytes[this.pos]
  }

  // ----------------------------------------------------------------------------------------
  // Bookkeeping: the object table, open containers, and each finished container's tree size and height.

  private read(type: number, ivp: Pending | undefined): unknown {
    switch (type) {
    case 0x30: { // '0' nil
      return null
    }

    case 0x54: { // 'T'
      return true
    }

    case 0x46: { // 'F'
      return false
    }

    case 0x69: { // 'i' Fixnum
      return this.fixnum()
    }

    case 0x6C: { // 'l' Bignum
      return this.entry(this.bignum())
    }

    case 0x66: { // 'f' Float
      const n = this.length()
      const at = this.take(n)
      return this.entry(parseFloatBytes(this.bytes.subarray(at, at + n)))
    }

    case 0x22: { // '"' String
      return this.string(ivp)
    }

    case 0x3A: { // ':' Symbol
      const consumed = ivp?.pending ?? false
      if (ivp) ivp.pending = false
      return this.symbolBody(consumed)
    }

    case 0x3B: { // ';' symlink
      return this.symlink()
    }

    case 0x40: { // '@' object link
      const index = this.long()
      if (index < 0 || index >= this.objects.length) throw new MarshalError('dump format error (unlinked)')
      const target = this.objects[index]
      return typeof target === 'object' && target !== null && this.open.has(target) ? {__class__: '<cycle>'} : target
    }

    case 0x49: { // 'I' ivars around a value
      const wrapped: Pending = {pending: true}
      const value = this.value(wrapped)
      if (wrapped.pending) {
        // Taken by no reader (an Array, a Hash, a link...): read, checked, dropped.
        const ivars = this.ivars()
        if (ivars.encoding !== undefined && !isEncodable(value)) throw new MarshalError('ivar encoding on a value that is not enc_capable')
      }

      return value
    }

    case 0x5B: { // '[' Array
      return this.array()
    }

    case 0x7B: // '{' Hash
    case 0x7D: { // '}' Hash with a default
      return this.hash(type === 0x7D)
    }

    case 0x6F: { // 'o' Object
      return this.object(ivp)
    }

    case 0x53: { // 'S' Struct
      return this.struct()
    }

    case 0x75: { // 'u' _dump
      return this.userDump(ivp)
    }

    case 0x55: // 'U' marshal_dump
    case 0x64: { // 'd' _dump_data
      const node: RubyObject = {__class__: this.symbol()}
      this.entry(node)
      this.open.add(node)
      const data = this.value()
      node[type === 0x55 ? 'marshal_dump' : '_dump_data'] = data
      return this.close(node, [data])
    }

    case 0x43: { // 'C' user subclass of String, Array, Hash or Regexp
      const name = this.symbol()
      const inner = this.byte()
      if (!USER_CLASS_INNER.has(inner)) throw new MarshalError('dump format error (user class)')
      const value = this.typed(inner, ivp)
      // Ruby ≥ 3.3 writes a compare_by_identity Hash as C:Hash; it is still a Hash.
      if (name === 'Hash' && isDict(value)) return value
      return this.close({__class__: name, value}, [value])
    }

    case 0x65: { // 'e' extended with modules
      const extended = [this.symbol()]
      while (this.peek() === 0x65) {
        this.pos++
        extended.push(this.symbol())
      }

      const value = this.value(ivp)
      return this.close({__class__: '<extended>', extended, value}, [value])
    }

    case 0x2F: { // '/' Regexp
      const n = this.length()
      const at = this.take(n)
      const source = this.copy(at, n)
      const node: RubyObject = {__class__: 'Regexp', options: 0, source: this.buf.toString('latin1', at, at + n)}
      this.regexpSource.set(node, source)
      this.entry(node)
      node.options = this.byte()
      if (ivp?.pending) {
        ivp.pending = false
        const {encoding} = this.ivars()
        const text = encoding === undefined ? undefined : decodeText(source, encoding)
        if (typeof text === 'string') node.source = text
      }

      return this.close(node, [])
    }

    case 0x63: // 'c' class
    case 0x6D: // 'm' module
    case 0x4D: { // 'M' class or module (old format)
      const n = this.length()
      const at = this.take(n)
      const name = this.buf.toString('utf8', at, at + n)
      return this.close(this.entry({__class__: type === 0x63 ? 'Class' : 'Module', name}), [])
    }

    default: {
      throw new MarshalError(`dump format error (0x${type.toString(16).padStart(2, '0')})`)
    }
    }
  }

  private remaining(): number {
    return this.bytes.length - this.pos
  }

  private shapeOf(value: unknown): Shape {
    if (typeof value !== 'object' || value === null) return LEAF
    return this.shapes.get(value) ?? LEAF
  }

  // ----------------------------------------------------------------------------------------
  // Bytes.

  private string(ivp: Pending | undefined): string | Uint8Array {
    const n = this.length()
    const bytes = this.copy(this.take(n), n)
    // Binary until its ivars say otherwise (as it is in Ruby while they are read).
    const index = this.objects.length
    this.entry(bytes)
    if (!ivp?.pending) return bytes
    ivp.pending = false
    const {encoding} = this.ivars()
    const text = encoding === undefined ? bytes : (decodeText(bytes, encoding) ?? bytes)
    this.objects[index] = text
    return text
  }

  private struct(): RubyObject {
    const name = this.symbol()
    const members: Dict = Object.create(null)
    const node: RubyObject = {__class__: name, members}
    this.entry(node)
    this.open.add(node)
    const n = this.length()
    if (n > this.remaining() / 2) throw new MarshalError('marshal data too short')
    const children: unknown[] = []
    for (let i = 0; i < n; i++) {
      const member = this.symbol()
      const value = this.value()
      members[member] = value
      children.push(value)
    }

    this.close(members, children)
    return this.close(node, [members])
  }

  /** A symbol where Ruby reads one (class names, ivar names, struct members): `:`, `;` or `I:`. */
  private symbol(): string {
    let ivar = false
    for (;;) {
      const type = this.byte()
      switch (type) {
      case 0x49: {
        ivar = true

        break;
      }

      case 0x3A: {
        return this.symbolBody(ivar)
      }

      case 0x3B: {
        if (ivar) throw new MarshalError('dump format error (symlink with encoding)')
        return this.symlink()
      }

      default: {
        throw new MarshalError(`dump format error for symbol (0x${type.toString(16).padStart(2, '0')})`)
      }
      }
    }
  }

  private symbolBody(ivar: boolean): string {
    const n = this.length()
    const at = this.take(n)
    const index = this.symbols.length
    this.symbols.push(this.buf.toString('latin1', at, at + n))
    if (ivar) {
      if (++this.depth > this.maxDepth) throw new MarshalError('marshal data nested deeper than maxDepth', LIMIT)
      const {encoding} = this.ivars()
      this.depth--
      const ascii = this.bytes.subarray(at, at + n).every(b => b < 0x80)
      if (!ascii && encoding !== undefined) {
        const text = decodeText(this.bytes.subarray(at, at + n), encoding, true)
        if (text === undefined) throw new MarshalError(`invalid byte sequence in ${encoding} symbol`)
        if (typeof text === 'string') this.symbols[index] = text
      }
    }

    return this.symbols[index]
  }

  private symlink(): string {
    const index = this.long()
    if (index < 0 || index >= this.symbols.length) throw new MarshalError('bad symbol')
    return this.symbols[index]
  }

  private take(n: number): number {
    if (n > this.remaining()) throw new MarshalError('marshal data too short')
    const start = this.pos
    this.pos += n
    return start
  }

  private typed(type: number, ivp?: Pending): unknown {
    if (++this.depth > this.maxDepth) throw new MarshalError('marshal data nested deeper than maxDepth', LIMIT)
    if (++this.count > this.maxItems) throw new MarshalError('marshal data has more than maxItems values', LIMIT)
    const value = this.read(type, ivp)
    this.depth--
    return value
  }

  private userDump(ivp: Pending | undefined): RubyObject {
    const name = this.symbol()
    const n = this.length()
    const node: RubyObject = {__class__: name, _dump: this.copy(this.take(n), n)}
    const children: unknown[] = []
    if (ivp?.pending) {
      // Ruby sets these on the dumped string before calling _load (Time keeps its zone there).
      ivp.pending = false
      const {encoding, others} = this.ivars()
      const ivars: Dict = Object.create(null)
      if (encoding !== undefined) ivars[encoding === UTF8 ? 'E' : 'encoding'] = encoding === UTF8 ? true : encoding
      for (const [key, value] of others) {
        ivars[key] = value
        children.push(value)
      }

      node.ivars = this.close(ivars, children)
    }

    // Its index comes after its ivars' values, as Ruby registers it once _load has returned.
    this.entry(node)
    return this.close(node, node.ivars === undefined ? [] : [node.ivars])
  }

  private value(ivp?: Pending): unknown {
    return this.typed(this.byte(), ivp)
  }
}

const LEAF: Shape = {height: 0, size: 1}

// Types Ruby accepts inside `C`: not nil/true/false/Fixnum/Float/Symbol/Object/class/module.
const USER_CLASS_INNER = new Set([0x22, 0x2F, 0x40, 0x43, 0x49, 0x53, 0x55, 0x5B, 0x64, 0x65, 0x6C, 0x75, 0x7B, 0x7D])

function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === null
}

function isEncodable(value: unknown): boolean {
  // Strings and symbols (text by now, or binary bytes), regexps; a link to one counts too.
  return typeof value === 'string' || value instanceof Uint8Array || (typeof value === 'object' && value !== null && (value as RubyObject).__class__ === 'Regexp')
}

function toInt(value: bigint): bigint | number {
  return value >= -0x1F_FF_FF_FF_FF_FF_FFn && value <= 0x1F_FF_FF_FF_FF_FF_FFn ? Number(value) : value
}

/**
 * Ruby's name for an encoding given in an `encoding` ivar, or undefined for a name Ruby does not
 * know (then it is a plain ivar and the string stays binary). Only the names this reader decodes
 * are recognised; any other name is passed on as given.
 */
function encodingName(name: string): string | undefined {
  const lower = name.toLowerCase()
  if (lower === UTF8.toLowerCase() || lower === 'cp65001') return UTF8
  if (lower === 'us-ascii' || lower === 'ascii' || lower === 'ansi_x3.4-1968' || lower === '646') return 'US-ASCII'
  if (lower === 'ascii-8bit' || lower === 'binary') return BINARY
  if (lower === 'iso-8859-1' || lower === 'iso8859-1') return 'ISO-8859-1'
  // Node 20's TextDecoder reads windows-1252 as latin-1 (0x80–0x9F differ): decoded here instead.
  if (lower === 'windows-1252' || lower === 'cp1252') return 'Windows-1252'
  return name.length > 0 && name.length <= 64 ? name : undefined
}

/**
 * Text of a string's bytes in a Ruby encoding: UTF-8 (U+FFFD for invalid bytes), US-ASCII and
 * ISO-8859-1 as latin-1 (lossless), other encodings through TextDecoder when Node knows them;
 * otherwise (binary, UTF-16/UTF-32 with a BOM, unknown) the bytes themselves. With `fatal` (a
 * symbol, which Ruby refuses when broken): undefined for invalid bytes.
 */
function decodeText(bytes: Uint8Array, encoding: string, fatal = false): string | Uint8Array | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  switch (encoding) {
  case UTF8: {
    if (!fatal) return buf.toString('utf8')
    try {
      return UTF8_FATAL.decode(bytes)
    } catch {
      return undefined
    }
  }

  case 'US-ASCII': {
    if (fatal && bytes.some(b => b >= 0x80)) return undefined
    return buf.toString('latin1')
  }

  case 'ISO-8859-1': {
    return buf.toString('latin1')
  }

  case BINARY: {
    return bytes
  }

  case 'Windows-1252': {
    return windows1252(buf)
  }

  default: {
    const decoder = decoderFor(encoding)
    if (!decoder) return bytes
    try {
      return fatal ? new TextDecoder(decoder.encoding, {fatal: true, ignoreBOM: true}).decode(bytes) : decoder.decode(bytes)
    } catch {
      return undefined
    }
  }
  }
}

// Windows-1252's 0x80–0x9F (0 where the code page has no character: those bytes read as latin-1).
const CP1252_HIGH = [
  0x20_AC,
  0,
  0x20_1A,
  0x01_92,
  0x20_1E,
  0x20_26,
  0x20_20,
  0x20_21,
  0x02_C6,
  0x20_30,
  0x01_60,
  0x20_39,
  0x01_52,
  0,
  0x01_7D,
  0,
  0,
  0x20_18,
  0x20_19,
  0x20_1C,
  0x20_1D,
  0x20_22,
  0x20_13,
  0x20_14,
  0x02_DC,
  0x21_22,
  0x01_61,
  0x20_3A,
  0x01_53,
  0,
  0x01_7E,
  0x01_78,
]

function windows1252(buf: Buffer): string {
  const text = buf.toString('latin1')

  return /[\u0080-\u009F]/.test(text) ? text.replaceAll(/[\u0080-\u009F]/g, c => String.fromCharCode(CP1252_HIGH[c.charCodeAt(0) - 0x80] || c.charCodeAt(0))) : text
}

function decoderFor(encoding: string): null | TextDecoder {
  const lower = encoding.toLowerCase()
  let decoder = decoders.get(lower)
  if (decoder === undefined) {
    // Ruby's UTF-16 and UTF-32 are BOM-led dummy encodings; WHATWG's 'utf-16' is little-endian only.
    // WHATWG also maps latin1/ascii labels to windows-1252, which is why those are handled above.
    try {
      decoder = lower === 'utf-16' || lower === 'utf-32' ? null : new TextDecoder(lower, {ignoreBOM: true})
    } catch {
      decoder = null
    }

    if (decoders.size < 256) decoders.set(lower, decoder)
  }

  return decoder
}

// Ruby's w_float writes "nan", "inf", "-inf", or the shortest round-trip decimal text; Ruby 1.8
// appended a NUL and mantissa bytes. r_object reads the text with strtod (garbage is 0.0).
const FLOAT_PREFIX = /^[\t-\r ]*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[Ee][+-]?\d+)?/

function parseFloatBytes(bytes: Uint8Array): number {
  const nul = bytes.indexOf(0)
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, nul === -1 ? bytes.byteLength : nul).toString('latin1')
  if (text === 'nan') return Number.NaN
  if (text === 'inf') return Number.POSITIVE_INFINITY
  if (text === '-inf') return Number.NEGATIVE_INFINITY
  // ruby_strtod reads hexadecimal too; Ruby never writes it.
  if (/^[\t-\r ]*[+-]?0[Xx]/.test(text)) throw new MarshalError('hexadecimal Float text is not supported', LIMIT)
  const match = FLOAT_PREFIX.exec(text)
  const d = match ? Number(match[0].trim()) : 0
  const end = match ? match[0].length : 0
  return loadMantissa(d, bytes.subarray(end))
}

/** Ruby's load_mantissa: after a NUL, big-endian 32-bit groups of the mantissa below the printed digits. */
function loadMantissa(d: number, rest: Uint8Array): number {
  let len = rest.length
  if (len === 0) return d
  len--
  if (len <= 0 || rest[0] !== 0) return d
  const DECIMAL_MANT = 53 - 16
  const negative = d < 0
  const [fraction, exponent] = frexp(Math.abs(d))
  let value = Math.trunc(fraction * (2 ** DECIMAL_MANT))
  let dig = 0
  let at = 1
  do {
    const take = Math.min(len, 4)
    let m = 0
    for (let i = 0; i < take; i++) m = (m * 256) + rest[at++]
    dig -= len < 4 ? 8 * len : 32
    value += m * (2 ** dig)
    len -= 4
  } while (len > 0)

  value *= 2 ** (exponent - DECIMAL_MANT)
  return negative ? -value : value
}

/** C's frexp for finite values: [f, e] with d = f·2^e and 0.5 ≤ f < 1 (0 → [0, 0]). */
function frexp(d: number): [number, number] {
  if (d === 0 || !Number.isFinite(d)) return [d, 0]
  let f = d
  let e = 0
  // Subnormals first: 2^-e below would overflow for them.
  if (f < 2 ** -900) {
    f *= 2 ** 200
    e -= 200
  }

  // Scaling by a power of two is exact; log2 may be one off, which the loops correct.
  const k = Math.floor(Math.log2(f)) + 1
  f *= 2 ** -k
  e += k
  for (let i = 0; i < 4 && f < 0.5; i++) {
    f *= 2
    e--
  }

  for (let i = 0; i < 4 && f >= 1; i++) {
    f /= 2
    e++
  }

  return [f, e]
}

/** The text a Hash key becomes (see parseMarshal). */
function keyText(key: unknown): string {
  if (typeof key === 'string') return key
  const budget = {left: MAX_KEY_TEXT}
  const text = keyPart(key, 0, budget)
  return text.length > MAX_KEY_TEXT ? text.slice(0, MAX_KEY_TEXT) : text
}

function keyPart(key: unknown, depth: number, budget: {left: number}): string {
  if (typeof key === 'string') return key
  if (typeof key === 'number') return String(key)
  if (typeof key === 'bigint') {
    if (key > 0n ? key.toString(16).length > MAX_BIGNUM_KEY_BYTES * 2 : (-key).toString(16).length > MAX_BIGNUM_KEY_BYTES * 2) {
      throw new MarshalError('Bignum hash key too large', LIMIT)
    }

    return String(key)
  }

  if (typeof key === 'boolean') return key ? 'true' : 'false'
  if (key === null) return 'nil'
  if (key instanceof Uint8Array) return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')
  if (Array.isArray(key)) {
    if (depth >= 8) return '[...]'
    const parts: string[] = []
    for (const item of key) {
      if (budget.left <= 0) {
        parts.push('...')
        break
      }

      const part = typeof item === 'string' ? JSON.stringify(item) : keyPart(item, depth + 1, budget)
      budget.left -= part.length + 2
      parts.push(part)
    }

    return `[${parts.join(', ')}]`
  }

  if (isDict(key)) return '#<Hash>'
  return `#<${String((key as RubyObject).__class__)}>`
}
