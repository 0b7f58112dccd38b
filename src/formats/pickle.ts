/* eslint-disable no-bitwise -- a binary format reader: byte masks and shifts are the point */
import {Buffer} from 'node:buffer'

import {ReaderError} from './reader-error.js'

/** Thrown for any pickle that is malformed, unsupported or over a limit. Nothing else escapes `parsePickle`. */
export class PickleError extends ReaderError {
  override name = 'PickleError'
}

const LIMIT = {limit: true}

/** Resource limits for `parsePickle`; every limit breach is a `PickleError`. */
export interface PickleLimits {
  /** Largest accepted input (default 64 MiB). */
  maxBytes?: number
  /** Deepest nesting of MARKs, and of containers in the result (default 200). */
  maxDepth?: number
  /** Values pushed while reading, and nodes in the result counted as a tree (default 1 000 000). */
  maxItems?: number
}

/**
 * Inert stand-in for a Python object the reader refuses to build: `__class__` is the dotted name
 * the pickle asked for (nothing is imported), `args` what it would have been called with, `state`
 * what BUILD would have set, `items` what APPEND(S)/ADDITEMS added (values) or SETITEM(S) added
 * (`[key, value]` pairs). Synthetic names have no dot: `persistent_id`, `<cycle>`, `<call>`, `<extension N>`.
 */
export interface PickleObject {
  __class__: string
  args?: unknown[]
  items?: unknown[]
  state?: unknown
}

/**
 * Reads a pickle (protocols 0–5) into plain values without executing or importing anything.
 *
 * None → null, bool → boolean, int → number (bigint beyond 2^53), float → number, str → string,
 * bytes/bytearray → Uint8Array, Python 2 str → string (latin-1), list/tuple/set/frozenset → array,
 * dict → null-prototype object keyed by the text of each key. `datetime`/`date`/`time` → ISO-8601
 * text as Python's isoformat(), `timedelta` → seconds, `Decimal` → its text, `UUID` → canonical text,
 * `OrderedDict`/`defaultdict` → dict; any other object is a {@link PickleObject}.
 *
 * The result is acyclic and at most `maxDepth` deep: references shared through the memo stay shared,
 * but a reference back to an enclosing container is replaced by `{__class__: '<cycle>'}`, so callers
 * may recurse over it. Bytes after STOP are ignored.
 * @throws PickleError for anything malformed, unsupported (out-of-band buffers) or over a limit.
 */
export function parsePickle(input: Uint8Array, limits: PickleLimits = {}): unknown {
  if (!(input instanceof Uint8Array)) throw new PickleError('pickle input must be bytes')
  if (input.length > (limits.maxBytes ?? DEFAULT_MAX_BYTES)) throw new PickleError('pickle larger than maxBytes', LIMIT)
  try {
    return new Unpickler(input, limits.maxDepth ?? DEFAULT_MAX_DEPTH, limits.maxItems ?? DEFAULT_MAX_ITEMS).load()
  } catch (error) {
    if (error instanceof PickleError) throw error
    // RangeErrors from V8 (BigInt too large, out of memory for a string...) are this reader's limits.
    throw new PickleError(`malformed pickle: ${error instanceof Error ? error.message : String(error)}`, {cause: error, limit: error instanceof RangeError})
  }
}

/**
 * Cheap sniff, no parsing: true for 0x80 followed by protocol 2–5 (what Python 3 writes), and for
 * the first bytes of protocol 0/1 streams of containers: `(` (MARK, how protocol 0 starts a
 * dict/list/tuple), `}` and `]` (protocol 1 empty dict/list). None of these can start JSON.
 */
export function isPickle(input: Uint8Array): boolean {
  if (input.length < 2) return false
  const first = input[0]
  if (first === 0x80) return input[1] >= 2 && input[1] <= 5
  return first === 0x28 || first === 0x7D || first === 0x5D
}

const DEFAULT_MAX_DEPTH = 200
const DEFAULT_MAX_ITEMS = 1_000_000
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024
// CPython refuses longer decimal int text (sys.int_info.default_max_str_digits), and BigInt parsing is quadratic.
const MAX_INT_DIGITS = 4300
const HIGHEST_PROTOCOL = 5

// A GLOBAL/STACK_GLOBAL result: only a name, kept distinct so that REDUCE/NEWOBJ can tell classes from instances.
class ClassRef {
  exported?: PickleObject

  constructor(readonly name: string) {}
}

type Dict = Record<string, unknown>

interface Frame {
  done: boolean
  height: number
  i: number
  keys: string[] | undefined
  node: Dict | unknown[]
  size: number
}

class Unpickler {
  private base = 0 // stack index where the innermost MARK frame starts
  private readonly buf: Buffer
  private readonly bytes: Uint8Array
  private count = 0
  private readonly marks: number[] = []
  private readonly memo: unknown[] = []
  private memoSize = 0
  private pos = 0
  private readonly stack: unknown[] = []

  constructor(
    input: Uint8Array,
    private readonly maxDepth: number,
    private readonly maxItems: number,
  ) {
    this.bytes = input
    this.buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength)
  }

  load(): unknown {
    const {bytes} = this
    const end = bytes.length
    while (this.pos < end) {
      const op = bytes[this.pos++]
      switch (op) {
      case 0x80: { // PROTO
        if (this.u8() > HIGHEST_PROTOCOL) throw new PickleError('unsupported pickle protocol')
        break
      }

      case 0x95: {
        // FRAME: only a read-ahead hint, but its length must fit the input (as CPython checks).
        this.need(this.u64())
        break
      }

      case 0x2E: { // STOP
        return this.finish(this.pop())
      }

      case 0x28: { // MARK
        if (this.marks.length >= this.maxDepth) throw new PickleError('too many nested MARKs', LIMIT)
        this.marks.push(this.stack.length)
        this.base = this.stack.length
        break
      }

      case 0x30: {
        // POP: with an empty MARK frame, Python discards the mark itself.
        if (this.stack.length > this.base) this.stack.pop()
        else this.popMark()
        break
      }

      case 0x31: { // POP_MARK
        this.popMark()
        break
      }

      case 0x32: { // DUP
        this.push(this.top())
        break
      }

      case 0x4E: { // NONE
        this.push(null)
        break
      }

      case 0x88: { // NEWTRUE
        this.push(true)
        break
      }

      case 0x89: { // NEWFALSE
        this.push(false)
        break
      }

      case 0x49: {
        // INT: protocol 0 writes bools as I01/I00.
        const text = this.lineText()
        this.push(text === '01' ? true : (text === '00' ? false : parseIntText(text)))
        break
      }

      case 0x4C: { // LONG
        const text = this.lineText()
        this.push(parseIntText(text.endsWith('L') ? text.slice(0, -1) : text))
        break
      }

      case 0x4A: { // BININT
        this.push(this.i32())
        break
      }

      case 0x4B: { // BININT1
        this.push(this.u8())
        break
      }

      case 0x4D: { // BININT2
        this.push(this.u16())
        break
      }

      case 0x8A: { // LONG1
        const n = this.u8()
        this.push(this.long(this.take(n), n))
        break
      }

      case 0x8B: { // LONG4
        const n = this.i32Length()
        this.push(this.long(this.take(n), n))
        break
      }

      case 0x46: { // FLOAT
        this.push(parseFloatText(this.lineText()))
        break
      }

      case 0x47: { // BINFLOAT
        this.push(this.buf.readDoubleBE(this.take(8)))
        break
      }

      case 0x58: { // BINUNICODE
        const n = this.u32()
        this.push(this.utf8(this.take(n), n))
        break
      }

      case 0x8C: { // SHORT_BINUNICODE
        const n = this.u8()
        this.push(this.utf8(this.take(n), n))
        break
      }

      case 0x8D: { // BINUNICODE8
        const n = this.u64()
        this.push(this.utf8(this.take(n), n))
        break
      }

      case 0x56: {
        // UNICODE (raw-unicode-escape)
        const start = this.pos
        const stop = this.lineEnd()
        this.push(rawUnicodeEscape(this.buf, start, stop))
        break
      }

      case 0x53: {
        // STRING: a quoted Python 2 str literal
        const start = this.pos
        const stop = this.lineEnd()
        const quote = this.bytes[start]
        if (stop - start < 2 || (quote !== 0x27 && quote !== 0x22) || this.bytes[stop - 1] !== quote) {
          throw new PickleError('STRING argument must be quoted')
        }

        this.push(escapeDecode(this.bytes, start + 1, stop - 1))
        break
      }

      case 0x54: { // BINSTRING
        const n = this.i32Length()
        const start = this.take(n)
        this.push(this.buf.toString('latin1', start, start + n))
        break
      }

      case 0x55: { // SHORT_BINSTRING
        const n = this.u8()
        const start = this.take(n)
        this.push(this.buf.toString('latin1', start, start + n))
        break
      }

      case 0x42: { // BINBYTES
        const n = this.u32()
        this.push(this.bytesAt(this.take(n), n))
        break
      }

      case 0x43: { // SHORT_BINBYTES
        const n = this.u8()
        this.push(this.bytesAt(this.take(n), n))
        break
      }

      case 0x8E: // BINBYTES8
      case 0x96: { // BYTEARRAY8
        const n = this.u64()
        this.push(this.bytesAt(this.take(n), n))
        break
      }

      case 0x97: // NEXT_BUFFER
      case 0x98: { // READONLY_BUFFER
        throw new PickleError('out-of-band pickle buffers are not supported')
      }

      case 0x29: // EMPTY_TUPLE
      case 0x5D: // EMPTY_LIST
      case 0x8F: { // EMPTY_SET
        this.push([])
        break
      }

      case 0x7D: { // EMPTY_DICT
        this.push(Object.create(null))
        break
      }

      case 0x85: { // TUPLE1
        this.push([this.pop()])
        break
      }

      case 0x86: { // TUPLE2
        const b = this.pop()
        this.push([this.pop(), b])
        break
      }

      case 0x87: { // TUPLE3
        const c = this.pop()
        const b = this.pop()
        this.push([this.pop(), b, c])
        break
      }

      case 0x74: // TUPLE
      case 0x6C: // LIST
      case 0x91: { // FROZENSET
        this.push(this.popMark())
        break
      }

      case 0x64: { // DICT
        const items = this.popMark()
        const dict: Dict = Object.create(null)
        this.setItems(dict, items)
        this.push(dict)
        break
      }

      case 0x61: { // APPEND
        const value = this.pop()
        this.append(this.top(), [value])
        break
      }

      case 0x65: // APPENDS
      case 0x90: { // ADDITEMS
        const items = this.popMark()
        this.append(this.top(), items)
        break
      }

      case 0x73: { // SETITEM
        const value = this.pop()
        const key = this.pop()
        this.setItems(this.top(), [key, value])
        break
      }

      case 0x75: { // SETITEMS
        const items = this.popMark()
        this.setItems(this.top(), items)
        break
      }

      case 0x70: { // PUT
        this.put(parseIndex(this.lineText()))
        break
      }

      case 0x71: { // BINPUT
        this.put(this.u8())
        break
      }

      case 0x72: { // LONG_BINPUT
        this.put(this.u32())
        break
      }

      case 0x94: { // MEMOIZE
        this.put(this.memoSize)
        break
      }

      case 0x67: { // GET
        this.get(parseIndex(this.lineText()))
        break
      }

      case 0x68: { // BINGET
        this.get(this.u8())
        break
      }

      case 0x6A: { // LONG_BINGET
        this.get(this.u32())
        break
      }

      case 0x63: { // GLOBAL
        const module = this.lineText()
        this.push(new ClassRef(`${module}.${this.lineText()}`))
        break
      }

      case 0x93: { // STACK_GLOBAL
        const name = this.pop()
        const module = this.pop()
        if (typeof module !== 'string' || typeof name !== 'string') throw new PickleError('STACK_GLOBAL requires str')
        this.push(new ClassRef(`${module}.${name}`))
        break
      }

      case 0x82: { // EXT1
        this.push(new ClassRef(`<extension ${this.u8()}>`))
        break
      }

      case 0x83: { // EXT2
        this.push(new ClassRef(`<extension ${this.u16()}>`))
        break
      }

      case 0x84: { // EXT4
        this.push(new ClassRef(`<extension ${this.i32()}>`))
        break
      }

      case 0x50: { // PERSID
        this.push({__class__: 'persistent_id', args: [this.lineText()]})
        break
      }

      case 0x51: { // BINPERSID
        this.push({__class__: 'persistent_id', args: [this.pop()]})
        break
      }

      case 0x52: // REDUCE
      case 0x81: { // NEWOBJ
        const args = this.pop()
        this.push(call(this.pop(), asArgs(args)))
        break
      }

      case 0x92: {
        // NEWOBJ_EX: keyword arguments, when any, travel as a trailing dict in args.
        const kwargs = this.pop()
        const args = asArgs(this.pop())
        const withKw = isDict(kwargs) && Object.keys(kwargs).length > 0 ? [...args, kwargs] : args
        this.push(call(this.pop(), withKw))
        break
      }

      case 0x6F: { // OBJ
        const args = this.popMark()
        if (args.length === 0) throw new PickleError('OBJ without a class')
        this.push(call(args[0], args.slice(1)))
        break
      }

      case 0x69: { // INST
        const module = this.lineText()
        const name = this.lineText()
        this.push(construct(`${module}.${name}`, this.popMark()))
        break
      }

      case 0x62: { // BUILD
        const state = this.pop()
        const inst = this.top()
        if (isPlaceholder(inst)) inst.state = state
        // Built-in containers we produced have no instance dict worth keeping; a scalar cannot be built at all.
        else if (typeof inst !== 'object' || inst === null) throw new PickleError('BUILD on a non-object')
        break
      }

      default: {
        throw new PickleError(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')}`)
      }
      }
    }

    throw new PickleError('pickle ends without STOP')
  }

  private append(target: unknown, values: unknown[]): void {
    if (Array.isArray(target)) {
      for (const v of values) target.push(v)
    } else if (isPlaceholder(target)) {
      target.items ??= []
      for (const v of values) target.items.push(v)
    } else {
      throw new PickleError('APPEND to a non-list')
    }
  }

  private bytesAt(start: number, n: number): Uint8Array {
    // A plain copy: the caller may reuse its input, and Buffer#slice would not copy.
    const out = new Uint8Array(n)
    out.set(this.bytes.subarray(start, start + n))
    return out
  }

  // One iterative pass over the result: class references become placeholders and UUIDs text (their
  // state only arrives with BUILD, after the memo already holds them), back-references become
  // `<cycle>` markers, and depth and tree size are bounded, since memo sharing lets a few bytes
  // expand exponentially for anything that walks the result.
  private finish(root: unknown): unknown {
    const holder: unknown[] = [root]
    const frames: Frame[] = [{
      done: false, height: 0, i: 0, keys: undefined, node: holder, size: 0,
    }]
    let seen: Map<object, Frame> | undefined
    while (frames.length > 0) {
      const frame = frames.at(-1)!
      const node = frame.node as Dict
      const {keys} = frame
      const n = keys === undefined ? (node as unknown as unknown[]).length : keys.length
      let child: Frame | undefined
      while (frame.i < n && child === undefined) {
        const slot = keys === undefined ? frame.i : keys[frame.i]
        frame.i++
        const v = node[slot]
        if (typeof v !== 'object' || v === null || v instanceof Uint8Array) {
          frame.size++
        } else if (v instanceof ClassRef) {
          v.exported ??= {__class__: v.name}
          node[slot] = v.exported
          frame.size++
        } else {
          const uuid = uuidText(v)
          const known = uuid === undefined ? seen?.get(v) : undefined
          if (uuid !== undefined) {
            node[slot] = uuid
            frame.size++
          } else if (known === undefined) {
            if (frames.length > this.maxDepth) throw new PickleError('pickle nested deeper than maxDepth', LIMIT)
            child = {
              done: false, height: 0, i: 0, keys: Array.isArray(v) ? undefined : Object.keys(v), node: v as Dict, size: 0,
            }
            seen ??= new Map()
            seen.set(v, child)
          } else if (known.done) {
            if (frames.length + known.height > this.maxDepth) throw new PickleError('pickle nested deeper than maxDepth', LIMIT)
            frame.height = Math.max(frame.height, known.height + 1)
            frame.size += known.size + 1
          } else {
            node[slot] = {__class__: '<cycle>'}
            frame.size++
          }
        }
      }

      if (frame.size > this.maxItems) throw new PickleError('pickle expands to more than maxItems values', LIMIT)
      if (child === undefined) {
        frame.done = true
        frames.pop()
        const parent = frames.at(-1)
        if (parent !== undefined) {
          parent.height = Math.max(parent.height, frame.height + 1)
          parent.size += frame.size + 1
        }
      } else {
        frames.push(child)
      }
    }

    return holder[0]
  }

  private get(index: number): void {
    const value = this.memo[index]
    if (value === undefined) throw new PickleError(`memo key ${index} missing`)
    this.push(value)
  }

  private i32(): number {
    const {bytes} = this
    const p = this.take(4)
    return bytes[p] | (bytes[p + 1] << 8) | (bytes[p + 2] << 16) | (bytes[p + 3] << 24)
  }

  private i32Length(): number {
    const n = this.i32()
    if (n < 0) throw new PickleError('negative length')
    return n
  }

  private lineEnd(): number {
    const stop = this.bytes.indexOf(0x0A, this.pos)
    if (stop === -1) throw new PickleError('pickle truncated (no newline)')
    this.pos = stop + 1
    return stop
  }

  private lineText(): string {
    const start = this.pos
    return this.buf.toString('utf8', start, this.lineEnd())
  }

  private long(start: number, n: number): bigint | number {
    if (n === 0) return 0
    const {bytes} = this
    if (n <= 6) {
      // 48 bits always fit a double exactly.
      let value = 0
      for (let i = n - 1; i >= 0; i--) value = (value * 256) + bytes[start + i]
      return bytes[start + n - 1] & 0x80 ? value - (2 ** (8 * n)) : value
    }

    const hex = Buffer.from(bytes.subarray(start, start + n)).reverse().toString('hex')
    let value = BigInt(`0x${hex}`)
    if (bytes[start + n - 1] & 0x80) value -= 1n << BigInt(8 * n)
    return toInt(value)
  }

  private need(n: number): void {
    if (n > this.bytes.length - this.pos) throw new PickleError('pickle truncated')
  }

  private pop(): unknown {
    if (this.stack.length <= this.base) throw new PickleError('pickle stack underflow')
    return this.stack.pop()
  }

  private popMark(): unknown[] {
    const mark = this.marks.pop()
    if (mark === undefined) throw new PickleError('no MARK on the pickle stack')
    this.base = this.marks.length > 0 ? this.marks.at(-1)! : 0
    return this.stack.splice(mark)
  }

  private push(value: unknown): void {
    if (++this.count > this.maxItems) throw new PickleError('pickle has more than maxItems values', LIMIT)
    this.stack.push(value)
  }

  private put(index: number): void {
    if (this.memo[index] === undefined) this.memoSize++
    this.memo[index] = this.top()
  }

  private setItems(target: unknown, items: unknown[]): void {
    if (items.length % 2 !== 0) throw new PickleError('odd number of dict items')
    if (isDict(target)) {
      for (let i = 0; i < items.length; i += 2) target[keyText(items[i], 0)] = items[i + 1]
    } else if (isPlaceholder(target)) {
      target.items ??= []
      for (let i = 0; i < items.length; i += 2) target.items.push([items[i], items[i + 1]])
    } else {
      throw new PickleError('SETITEM on a non-dict')
    }
  }

  private take(n: number): number {
    this.need(n)
    const start = this.pos
    this.pos += n
    return start
  }

  private top(): unknown {
    if (this.stack.length <= this.base) throw new PickleError('pickle stack underflow')
    return this.stack.at(-1)
  }

  private u16(): number {
    const p = this.take(2)
    return this.bytes[p] | (this.bytes[p + 1] << 8)
  }

  private u32(): number {
    return this.i32() >>> 0
  }

  private u64(): number {
    // Lengths beyond 2^53 lose precision but are still far beyond any input, which is all that matters.
    const low = this.u32()
    return (this.u32() * (2 ** 32)) + low
  }

  private u8(): number {
    return this.bytes[this.take(1)]
  }

  private utf8(start: number, n: number): string {
    const text = this.buf.toString('utf8', start, start + n)
    // Python writes lone surrogates with 'surrogatepass' (ED A0..BF xx), which plain UTF-8 decoding mangles.
    return text.includes('\uFFFD') ? utf8Surrogates(this.buf, start, start + n) : text
  }
}

function isPlaceholder(value: unknown): value is PickleObject {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype
}

function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === null
}

function asArgs(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new PickleError('call arguments must be a tuple')
  return value
}

export function toInt(value: bigint): bigint | number {
  return value >= -0x1F_FF_FF_FF_FF_FF_FFn && value <= 0x1F_FF_FF_FF_FF_FF_FFn ? Number(value) : value
}

// What `int(text, 0)` accepts, as pickle's load_int/load_long call it: surrounding ASCII
// whitespace, a sign, 0x/0o/0b prefixes, single underscores between digits.
const INT_TEXT = /^[\t-\r ]*([+-]?)(0[Xx](?:_?[\dA-Fa-f])+|0[Oo](?:_?[0-7])+|0[Bb](?:_?[01])+|0(?:_?0)*|[1-9](?:_?\d)*)[\t-\r ]*$/
// Hex, octal and binary text has no digit limit in CPython; this reader stops somewhere.
const MAX_INT_TEXT = 100_000

export function parseIntText(text: string): bigint | number {
  // The common case, exact as a double below 16 digits; `|| 0` because Python has no -0 int.
  if (text.length < 16 && /^[+-]?\d+$/.test(text) && !/^[+-]?0\d/.test(text)) return Number(text) || 0
  const match = INT_TEXT.exec(text)
  if (!match) throw new PickleError('bad INT/LONG text')
  const digits = match[2].replaceAll('_', '')
  const decimal = !/^0[BOXbox]/.test(digits)
  // CPython refuses decimal text beyond its digit limit: the framework cannot read it either.
  if (decimal && digits.length > MAX_INT_DIGITS) throw new PickleError('bad INT/LONG text')
  if (!decimal && digits.length > MAX_INT_TEXT) throw new PickleError('INT/LONG text too long', LIMIT)
  const value = BigInt(digits)
  return toInt(match[1] === '-' ? -value : value)
}

function parseIndex(text: string): number {
  if (!/^\d{1,15}$/.test(text)) throw new PickleError('bad memo index')
  return Number(text)
}

export function parseFloatText(text: string): number {
  const t = text.trim().toLowerCase()
  // One way to match each text: `\d+\.?\d*` backtracked quadratically on long digit runs.
  if (/^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/.test(t)) return Number(t)
  if (/^[+-]?inf(inity)?$/.test(t)) return t.startsWith('-') ? -Infinity : Infinity
  if (/^[+-]?nan$/.test(t)) return Number.NaN
  throw new PickleError('bad FLOAT text')
}

function utf8Surrogates(buf: Buffer, start: number, end: number): string {
  // Text between surrogates is decoded in runs, and surrogates are gathered in chunks: one
  // concatenation per surrogate took 0.4 µs each.
  const parts: string[] = []
  let units: number[] = []
  let from = start
  for (let i = start; i + 2 < end; i++) {
    if (buf[i] === 0xED && buf[i + 1] >= 0xA0 && buf[i + 1] <= 0xBF && (buf[i + 2] & 0xC0) === 0x80) {
      if (i > from) {
        if (units.length > 0) parts.push(String.fromCharCode(...units))
        units = []
        parts.push(buf.toString('utf8', from, i))
      }

      units.push(0xD0_00 | ((buf[i + 1] & 0x3F) << 6) | (buf[i + 2] & 0x3F))
      if (units.length === 4096) {
        parts.push(String.fromCharCode(...units))
        units = []
      }

      i += 2
      from = i + 1
    }
  }

  if (units.length > 0) parts.push(String.fromCharCode(...units))
  parts.push(buf.toString('utf8', from, end))
  return parts.join('')
}

// Protocol 0 str: latin-1 except \uXXXX / \UXXXXXXXX after an odd run of backslashes (CPython's rule).
export function rawUnicodeEscape(buf: Buffer, start: number, end: number): string {
  let out = ''
  let from = start
  let i = start
  while (i < end) {
    if (buf[i] !== 0x5C) {
      i++
      continue
    }

    let j = i
    while (j < end && buf[j] === 0x5C) j++
    if ((j - i) % 2 === 1 && j < end && (buf[j] === 0x75 || buf[j] === 0x55)) {
      const digits = buf[j] === 0x75 ? 4 : 8
      let cp = j + digits < end ? 0 : -1
      for (let k = j + 1; k <= j + digits && cp >= 0; k++) {
        const d = hexDigit(buf[k])
        cp = d < 0 ? -1 : (cp * 16) + d
      }

      if (cp < 0 || cp > 0x10_FF_FF) throw new PickleError(String.raw`bad \u escape in UNICODE`)
      out += buf.toString('latin1', from, j - 1) + String.fromCodePoint(cp)
      i = j + 1 + digits
      from = i
    } else {
      i = j
    }
  }

  return out + buf.toString('latin1', from, end)
}

const SIMPLE_ESCAPES: Record<number, number> = {
  0x22: 0x22, 0x27: 0x27, 0x5C: 0x5C, 0x61: 7, 0x62: 8, 0x66: 12, 0x6E: 10, 0x72: 13, 0x74: 9, 0x76: 11,
}

// codecs.escape_decode, as load_string applies it to a protocol 0 STRING; the bytes are read as latin-1.
export function escapeDecode(bytes: Uint8Array, start: number, end: number): string {
  const out = Buffer.allocUnsafe(end - start)
  let n = 0
  let i = start
  while (i < end) {
    const c = bytes[i++]
    if (c !== 0x5C) {
      out[n++] = c
      continue
    }

    if (i >= end) throw new PickleError(String.raw`trailing \ in STRING`)
    const e = bytes[i++]
    if (e === 0x0A) continue
    if (SIMPLE_ESCAPES[e] !== undefined) {
      out[n++] = SIMPLE_ESCAPES[e]
    } else if (e >= 0x30 && e <= 0x37) {
      let value = e - 0x30
      for (let k = 0; k < 2 && i < end && bytes[i] >= 0x30 && bytes[i] <= 0x37; k++) value = (value * 8) + bytes[i++] - 0x30
      out[n++] = value & 0xFF
    } else if (e === 0x78) {
      const hi = i + 1 < end ? hexDigit(bytes[i]) : -1
      const lo = hi < 0 ? -1 : hexDigit(bytes[i + 1])
      if (lo < 0) throw new PickleError(String.raw`bad \x escape in STRING`)
      out[n++] = (hi * 16) + lo
      i += 2
    } else {
      out[n++] = 0x5C
      out[n++] = e
    }
  }

  return out.toString('latin1', 0, n)
}

// Python keys of any hashable type become property names; str keys (what sessions use) are unchanged.
function keyText(key: unknown, depth: number): string {
  if (typeof key === 'string') return key
  if (typeof key === 'number' || typeof key === 'bigint') return String(key)
  if (typeof key === 'boolean') return key ? 'True' : 'False'
  if (key === null) return 'None'
  if (key instanceof Uint8Array) return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')
  if (key instanceof ClassRef) return key.name
  if (depth < 8 && Array.isArray(key)) {
    const parts = key.map(k => (typeof k === 'string' ? `'${k}'` : keyText(k, depth + 1)))
    return `(${parts.join(', ')}${parts.length === 1 ? ',' : ''})`
  }

  const uuid = uuidText(key)
  if (uuid !== undefined) return uuid
  if (isPlaceholder(key)) return `<${key.__class__}>`
  throw new PickleError('unsupported dict key', LIMIT)
}

function uuidText(value: unknown): string | undefined {
  if (!isPlaceholder(value) || value.__class__ !== 'uuid.UUID' || !isDict(value.state)) return undefined
  const n = value.state.int
  if ((typeof n !== 'number' || !Number.isSafeInteger(n)) && typeof n !== 'bigint') return undefined
  const big = BigInt(n)
  if (big < 0n || big >= 1n << 128n) return undefined
  const hex = big.toString(16).padStart(32, '0')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

function call(callee: unknown, args: unknown[]): unknown {
  if (callee instanceof ClassRef) return construct(callee.name, args)
  if (isPlaceholder(callee)) return {__class__: '<call>', args: [callee, ...args]}
  throw new PickleError('call of a non-callable')
}

// What calling `name(*args)` would give, for the few classes that are plain data; everything else stays inert.
function construct(name: string, args: unknown[]): unknown {
  const special = constructKnown(name, args)
  return special === undefined ? {__class__: name, args} : special
}

function constructKnown(name: string, args: unknown[]): unknown {
  switch (name) {
  case 'datetime.datetime': {
    return datetimeText(args)
  }

  case 'datetime.date': {
    const s = stateBytes(args[0], 4)
    if (s) return args.length === 1 ? dateText((s[0] * 256) + s[1], s[2], s[3]) : undefined
    const [y, m, d] = ints(args, 3, 3)
    return dateText(y, m, d)
  }

  case 'datetime.time': {
    const s = stateBytes(args[0], 6)
    // The fold bit shares the hour byte.
    if (s) return args.length <= 2 ? timeText(s[0] & 0x7F, s[1], s[2], (s[3] << 16) | (s[4] << 8) | s[5], args[1]) : undefined
    const [h, m, sec, us] = ints(args.slice(0, 4), 0, 4)
    return timeText(h ?? 0, m ?? 0, sec ?? 0, us ?? 0, args[4])
  }

  case 'datetime.timedelta': {
    const [days = 0, seconds = 0, us = 0] = ints(args, 0, 3)
    // Same arithmetic order as timedelta.total_seconds().
    const total = ((((days * 86_400) + seconds) * 1e6) + us) / 1e6
    return Number.isNaN(total) ? undefined : total
  }

  case 'decimal.Decimal': {
    return args.length === 1 && typeof args[0] === 'string' ? args[0] : undefined
  }

  case '__builtin__.frozenset':
  case '__builtin__.set':
  case 'builtins.frozenset':
  case 'builtins.set': {
    if (args.length === 0) return []
    return args.length === 1 && Array.isArray(args[0]) ? [...args[0]] : undefined
  }

  case 'collections.OrderedDict':
  case 'collections.defaultdict': {
    // Python 2's OrderedDict passes its items as [[key, value], ...]; defaultdict's arg is the factory.
    const dict: Dict = Object.create(null)
    const items = name === 'collections.OrderedDict' ? args[0] : undefined
    if (Array.isArray(items)) {
      for (const pair of items) {
        if (!Array.isArray(pair) || pair.length !== 2) return undefined
        dict[keyText(pair[0], 0)] = pair[1]
      }
    }

    return dict
  }

  case '_codecs.encode':
  case 'codecs.encode': {
    // Protocols < 3 write bytes as encode(latin-1 text, 'latin1').
    const [text, encoding] = args
    if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1') || args.length !== 2) return undefined
    return latin1Bytes(text)
  }

  case '__builtin__.bytearray':
  case '__builtin__.bytes':
  case 'builtins.bytearray':
  case 'builtins.bytes': {
    if (args.length === 0) return new Uint8Array(0)
    if (args[0] instanceof Uint8Array && args.length === 1) return new Uint8Array(args[0])
    // Python 2 bytearray pickles as bytearray(u'...', 'latin-1').
    if (typeof args[0] === 'string' && (args[1] === 'latin-1' || args[1] === 'latin1')) return latin1Bytes(args[0])
    return undefined
  }

  case 'copy_reg._reconstructor':
  case 'copyreg._reconstructor': {
    // (cls, base, state): an instance of cls; state only matters when base is a builtin like dict.
    const [cls, base, state] = args
    if (!(cls instanceof ClassRef) || args.length !== 3) return undefined
    const plainBase = base instanceof ClassRef && (base.name === 'builtins.object' || base.name === '__builtin__.object')
    return {__class__: cls.name, args: plainBase ? [] : [state]}
  }

  case 'copy_reg.__newobj__':
  case 'copyreg.__newobj__': {
    return args[0] instanceof ClassRef ? construct(args[0].name, args.slice(1)) : undefined
  }

  default: {
    return undefined
  }
  }
}

function latin1Bytes(text: string): Uint8Array | undefined {
  // eslint-disable-next-line no-control-regex
  return /^[\u0000-\u00FF]*$/.test(text) ? new Uint8Array(Buffer.from(text, 'latin1')) : undefined
}

// datetime/date/time pickle their fields as a bytes state (a latin-1 str from Python 2).
function stateBytes(value: unknown, length: number): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value.length === length ? value : undefined
  if (typeof value === 'string' && value.length === length) return latin1Bytes(value)
  return undefined
}

// Integer fields, or NaNs (which every caller's range check refuses) when they are not small ints.
function ints(args: unknown[], min: number, max: number): number[] {
  if (args.length < min || args.length > max || !args.every(a => Number.isSafeInteger(a))) return [Number.NaN, Number.NaN, Number.NaN]
  return args as number[]
}

function datetimeText(args: unknown[]): string | undefined {
  const s = stateBytes(args[0], 10)
  let date: string | undefined
  let time: string | undefined
  if (s) {
    if (args.length > 2) return undefined
    // The fold bit shares the month byte.
    date = dateText((s[0] * 256) + s[1], s[2] & 0x7F, s[3])
    time = timeText(s[4], s[5], s[6], (s[7] << 16) | (s[8] << 8) | s[9], args[1])
  } else {
    const [y, mo, d, h = 0, mi = 0, sec = 0, us = 0] = ints(args.slice(0, 7), 3, 7)
    date = dateText(y, mo, d)
    time = timeText(h, mi, sec, us, args[7])
  }

  return date === undefined || time === undefined ? undefined : `${date}T${time}`
}

function dateText(year: number, month: number, day: number): string | undefined {
  if (!(year >= 1 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 && day <= 31)) return undefined
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`
}

function timeText(hour: number, minute: number, second: number, us: number, tz: unknown): string | undefined {
  if (!(hour >= 0 && hour < 24 && minute >= 0 && minute < 60 && second >= 0 && second < 60 && us >= 0 && us < 1e6)) {
    return undefined
  }

  const text = `${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}${us ? `.${pad(us, 6)}` : ''}`
  const offset = tzOffset(tz)
  return offset === undefined ? text : text + offsetText(offset)
}

// Seconds east of UTC for the tzinfo objects whose offset is in the pickle itself; undefined otherwise.
function tzOffset(tz: unknown): number | undefined {
  if (!isPlaceholder(tz)) return undefined
  const [first, second] = tz.args ?? []
  switch (tz.__class__) {
  case 'datetime.timezone': {
    return typeof first === 'number' && Math.abs(first) < 86_400 ? first : undefined
  }

  case 'pytz._UTC':
  case 'dateutil.tz.tz.tzutc': {
    return 0
  }

  case 'pytz._p': {
    // Localized pytz zones pickle (zone, utcoffset seconds, dst seconds, tzname).
    return Number.isSafeInteger(second) && Math.abs(second as number) < 86_400 ? (second as number) : undefined
  }

  default: {
    return undefined
  }
  }
}

function offsetText(offset: number): string {
  const sign = offset < 0 ? '-' : '+'
  const micros = Math.round(Math.abs(offset) * 1e6)
  const whole = Math.floor(micros / 1e6)
  const us = micros % 1e6
  const ss = whole % 60
  let text = `${sign}${pad(Math.floor(whole / 3600), 2)}:${pad(Math.floor(whole / 60) % 60, 2)}`
  if (ss || us) text += `:${pad(ss, 2)}`
  if (us) text += `.${pad(us, 6)}`
  return text
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  const lower = c | 0x20
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0')
}
