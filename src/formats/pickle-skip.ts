import {numberText} from './json-path.js'
import {
  escapeDecode, isPickle, parseFloatText, parseIntText, rawUnicodeEscape, toInt,
} from './pickle.js'

/**
 * A cheap test that a session payload cannot hold `userId` at `userPath`, so a scan for one user
 * skips the parser (the costly part of reading a value) for everyone else's sessions. True only
 * when that is certain, so that decodeFor never disagrees with decode:
 * - a pickle: see PickleScan (no token of the pickle is read as the id);
 * - anything else (JSON; with `formats` 'json', everything): see jsonCannotHold.
 * A payload that is skipped is not counted among the undecodable ("not JSON", "bad pickle",
 * "pickle beyond limits"): with --user those counts cover the values that could have been the
 * user's (--strict-counts: every value).
 */
export function payloadSkipper(userPath: readonly string[], formats: 'json' | 'pickle-or-json' = 'pickle-or-json'): ((bytes: Buffer, userId: string) => boolean) | undefined {
  if (userPath.length === 0) return undefined
  const jsonKey = jsonKeyOf(userPath.at(-1)!)
  let target: Target | undefined
  return (bytes, userId) => {
    if (target?.text !== userId) {
      // Only a printable-ASCII id has one obvious byte form: any other is always parsed.
      if (!isAscii(userId)) return false
      target = targetOf(userId)
    }

    if (formats !== 'json' && isPickle(bytes)) return pickleCannotHold(bytes, target)
    return jsonKey !== undefined && jsonCannotHold(bytes, jsonKey, target.bytes, target.numeric)
  }
}

/** `"segment"` as JSON writes it without escapes; undefined where it needs one. */
function jsonKeyOf(segment: string): Buffer | undefined {
  return /^[ -~]+$/.test(segment) && !/["\\]/.test(segment) ? Buffer.from(`"${segment}"`, 'latin1') : undefined
}

/**
 * Whether a JSON document cannot hold `user` (printable ASCII) as the value of the key `key` (the
 * user path's last segment, quoted) at any depth. Unless a \u escape stands for one of the key's
 * characters, the key can only be written verbatim (the other escapes stand for characters no key
 * we search holds: `"`, `\`, `/` and controls), and an unescaped quote always delimits a string, so each place the key occurs
 * as a key is found by a byte search (the key string, its quote not escaped, whitespace, a colon,
 * whitespace). True when no such place holds the user:
 * - a string, free of escapes, other than the user (a string with an escape is left to the parser);
 * - a number whose id text (numberText: `4.2e1`, `42.0`, `420e-1` are all "42") is not the user;
 *   `numeric` false says no number's text is the user, so numbers are not even read;
 * - an object, an array, true, false or null (no user id; a deeper occurrence of the key is
 *   found by the search on its own).
 * Duplicate keys (JSON.parse keeps the last) are all looked at. A document that is not JSON is
 * decided the same way: it is not the user's either way, and is not counted as "not JSON" then.
 */
export function jsonCannotHold(bytes: Buffer, key: Buffer, user: Buffer, numeric = true): boolean {
  const escapes = bytes.includes(0x5C)
  if (escapes && (key.includes(0x2F) || !unicodeEscapesMiss(bytes, key))) return false
  for (let at = bytes.indexOf(key); at !== -1; at = bytes.indexOf(key, at + 1)) {
    if (escapes && escaped(bytes, at)) continue
    let i = skipJsonSpace(bytes, at + key.length)
    if (bytes[i] !== 0x3A) continue
    i = skipJsonSpace(bytes, i + 1)
    const c = bytes[i]
    if (c === 0x22) {
      const end = bytes.indexOf(0x22, i + 1)
      if (end === -1) return false
      if (escapes && bytes.subarray(i + 1, end).includes(0x5C)) return false
      if (end - i - 1 === user.length && bytes.compare(user, 0, user.length, i + 1, end) === 0) return false
    } else if (numeric && (c === 0x2D || (c >= 0x30 && c <= 0x39))) {
      let end = i + 1
      while (isNumberByte(bytes[end])) end++
      if (numberText(bytes.toString('latin1', i, end)) === user.toString('latin1')) return false
    }
  }

  return true
}

const UNICODE_ESCAPE = Buffer.from(String.raw`\u`, 'latin1')

/**
 * Whether no \u escape in `bytes` stands for a character of `key` (quoted): then the key can only
 * be written verbatim, however much other text is escaped (“ is \u201c in json.dumps's output).
 * Every `\u` pair is looked at, escaped backslashes' included, which only errs towards a parse.
 */
function unicodeEscapesMiss(bytes: Buffer, key: Buffer): boolean {
  for (let at = bytes.indexOf(UNICODE_ESCAPE); at !== -1; at = bytes.indexOf(UNICODE_ESCAPE, at + 2)) {
    let code = 0
    for (let h = at + 2; h < at + 6; h++) {
      const d = hexValue(bytes[h])
      if (d < 0) return false
      code = (code * 16) + d
    }

    // The key's characters are printable ASCII, between its quotes.
    if (code < 0x80 && key.subarray(1, -1).includes(code)) return false
  }

  return true
}

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  return -1
}

/** Digits, sign, point and exponent: the bytes a JSON number (or a longer malformed run) is made of. */
function isNumberByte(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || c === 0x2B || c === 0x2D || c === 0x2E || c === 0x45 || c === 0x65)
}

/** Whether the byte at `at` is escaped: an odd number of backslashes before it. */
function escaped(bytes: Buffer, at: number): boolean {
  let n = 0
  while (at - n - 1 >= 0 && bytes[at - n - 1] === 0x5C) n++
  return n % 2 === 1
}

function skipJsonSpace(bytes: Buffer, from: number): number {
  let i = from
  while (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0A || bytes[i] === 0x0D) i++
  return i
}

function isAscii(userId: string): boolean {
  return /^[\u0020-\u007E]+$/.test(userId)
}

/** What a pickle token must be to read as the user id `text` (printable ASCII), worked out once per id. */
interface Target {
  /** The id as an int beyond 2^53 (parsePickle gives those as bigints). */
  big: bigint | undefined
  bytes: Buffer
  /** The number whose String() is the id, if any: an int or float token equal to it is the id. */
  num: number | undefined
  /** Whether some number's id text is this id (JSON: numberText). */
  numeric: boolean
  /**
   * Class names whose construction parsePickle turns into a value that could be this id:
   * timedelta gives its seconds (a number), datetime, date and time give ISO text (with `-` or
   * `:`), UUID its canonical text (with `-`). Every other class stays an object.
   */
  risky: ReadonlySet<string>
  /** The risky names' bytes, and which lengths they have (riskyLength[n] === 1). */
  riskyBytes: readonly Buffer[]
  riskyLength: Uint8Array
  text: string
}

const targets = new Map<string, Target>()
/** The longest risky class name (timedelta). */
const MAX_NAME = 9

function targetOf(text: string): Target {
  let t = targets.get(text)
  if (t === undefined) {
    const n = Number(text)
    const num = String(n) === text ? n : undefined
    const big = /^-?[1-9]\d*$/.test(text) && !Number.isSafeInteger(n) ? BigInt(text) : undefined
    const risky = new Set<string>()
    if (num !== undefined) risky.add('timedelta')
    if (/[-:]/.test(text)) for (const name of ['datetime', 'date', 'time']) risky.add(name)
    if (text.includes('-')) risky.add('UUID')
    const riskyBytes = [...risky].map(name => Buffer.from(name, 'latin1'))
    const riskyLength = new Uint8Array(MAX_NAME + 1)
    for (const name of riskyBytes) riskyLength[name.length] = 1
    t = {
      big, bytes: Buffer.from(text, 'latin1'), num, numeric: num !== undefined || /^-?\d+$/.test(text), risky, riskyBytes, riskyLength, text,
    }
    if (targets.size > 16) targets.clear()
    targets.set(text, t)
  }

  return t
}

/** See PickleScan; `bytes` is a whole pickle. */
function pickleCannotHold(bytes: Buffer, target: Target): boolean {
  // Without a STACK_GLOBAL byte anywhere, no str token can name a class: names are not compared.
  const scan = new PickleScan(target, bytes.includes(0x93))
  scan.write(bytes)
  return scan.end()
}

/** Longest line (protocol 0 opcodes' argument) carried from one chunk to the next before giving up. */
const MAX_LINE = 1024 * 1024
/** parsePickle's MARK nesting limit (a pickle over it is not parsed, so it is left to the parser). */
const MAX_MARKS = 200
/** LONG1/LONG4 arguments up to this many bytes are read as numbers; longer ones are parsed. */
const MAX_LONG_BYTES = 1024

/**
 * Walks a pickle's opcodes, as parsePickle reads them, without building anything, and settles
 * whether it can hold the user id (see payloadSkipper): it cannot when it reaches STOP and
 * - no str token (SHORT_BINUNICODE, BINUNICODE, BINUNICODE8, SHORT_BINSTRING, BINSTRING, and the
 *   protocol-0 UNICODE and STRING lines, escapes decoded) is the id, compared whole: the id's
 *   text inside a longer string (a hash, a SKU) does not count;
 * - no int or float token (BININT1/2/4, LONG1/LONG4, BINFLOAT, the INT/LONG/FLOAT lines, read as
 *   leniently as the parser reads them) has the id as its text (42.0 is "42"); a FRAME's length,
 *   a memo index or a string's length prefix is no int;
 * - no class is named whose construction the parser normalises into a value that could be the
 *   id (Target.risky: a GLOBAL or INST line, or a str token with STACK_GLOBAL in the pickle).
 * Anything it does not know (an unknown opcode, out-of-band buffers, text the parser would
 * refuse, more than MAX_MARKS MARKs open) leaves the value to the parser. The result is the same
 * fed whole or in chunks, in order (write each, then end): oversized payloads are read that way.
 */
export class PickleScan {
  /** The answer is known: the pickle may hold the id (`held`), or it reached STOP. */
  private done = false
  private held = false
  private marks = 0
  private namedRisky = false
  private pending: Buffer | undefined
  /** Bytes of a long string or bytes argument still to pass over, in the next chunks. */
  private skip = 0
  private stackGlobal = false
  private stopped = false

  /** `names`: compare str tokens with the risky class names (false only when no STACK_GLOBAL can follow). */
  constructor(private readonly target: Target, private readonly names = true) {}

  /** For a user id given as text: undefined when the id has no single byte form (always parse). */
  static for(userId: string): PickleScan | undefined {
    return isAscii(userId) ? new PickleScan(targetOf(userId)) : undefined
  }

  /** True when the pickle cannot hold the id: it reached STOP, and nothing in it may be the id. */
  end(): boolean {
    return this.stopped && !this.held
  }

  /** Feeds the next chunk; false once the pickle may hold the id (stop reading). */
  write(chunk: Buffer): boolean {
    if (this.done) return !this.held
    let b = chunk
    if (this.skip > 0) {
      if (this.skip >= b.length) {
        this.skip -= b.length
        return true
      }

      b = b.subarray(this.skip)
      this.skip = 0
    }

    if (this.pending !== undefined) {
      b = Buffer.concat([this.pending, b])
      this.pending = undefined
    }

    const at = this.run(b)
    if (!this.done && at < b.length) {
      if (b.length - at > MAX_LINE) this.hold()
      else this.pending = Buffer.from(b.subarray(at))
    }

    return !this.held
  }

  private hold(): number {
    this.held = true
    this.done = true
    return -1
  }

  /** An int or float token: whether its id text (String(), as userIdText writes it) is the id. */
  private isId(value: bigint | number): boolean {
    return typeof value === 'number' ? value === this.target.num : value === this.target.big
  }

  /** A str token's text, bytes [start, end): the id? a risky class name (for a STACK_GLOBAL)? */
  private isIdText(b: Buffer, start: number, end: number): boolean {
    const {bytes, riskyBytes, riskyLength} = this.target
    const n = end - start
    if (n === bytes.length && sameBytes(b, start, bytes)) return true
    if (this.names && n <= MAX_NAME && riskyLength[n] === 1) {
      for (const name of riskyBytes) if (name.length === n && sameBytes(b, start, name)) this.namedRisky = true
    }

    return false
  }

  private isRiskyName(text: string): boolean {
    return this.target.risky.has(text)
  }

  /** Whether a protocol-0 INT, LONG, FLOAT, UNICODE or STRING line may be the id (or is text the parser refuses). */
  private lineHolds(op: number, b: Buffer, start: number, end: number): boolean {
    try {
      switch (op) {
      case 0x49: // INT; I01 and I00 are booleans
      case 0x4C: { // LONG
        // As the parser reads the line: UTF-8.
        let text = b.toString('utf8', start, end)
        if (op === 0x49 && (text === '01' || text === '00')) return false
        if (op === 0x4C && text.endsWith('L')) text = text.slice(0, -1)
        return this.isId(parseIntText(text))
      }

      case 0x46: { // FLOAT
        return this.isId(parseFloatText(b.toString('utf8', start, end)))
      }

      case 0x56: { // UNICODE: raw-unicode-escape
        if (!b.subarray(start, end).includes(0x5C)) return this.isIdText(b, start, end)
        const text = rawUnicodeEscape(b, start, end)
        if (this.isRiskyName(text)) this.namedRisky = true
        return text === this.target.text
      }

      default: { // STRING: a quoted Python 2 str literal
        const quote = b[start]
        if (end - start < 2 || (quote !== 0x27 && quote !== 0x22) || b[end - 1] !== quote) return true
        if (!b.subarray(start, end).includes(0x5C)) return this.isIdText(b, start + 1, end - 1)
        const text = escapeDecode(b, start + 1, end - 1)
        if (this.isRiskyName(text)) this.namedRisky = true
        return text === this.target.text
      }
      }
    } catch {
      // Text the parser refuses: it decides.
      return true
    }
  }

  /** The opcodes in b from its start; returns where an incomplete one starts (b.length: none). */
  private run(b: Buffer): number {
    const end = b.length
    let i = 0
    while (i < end) {
      const op = b[i]
      const start = i
      switch (op) {
      // No argument.
      case 0x28: { // MARK
        if (++this.marks > MAX_MARKS) return this.hold()
        i++
        break
      }

      case 0x74: // TUPLE
      case 0x6C: // LIST
      case 0x91: // FROZENSET
      case 0x64: // DICT
      case 0x65: // APPENDS
      case 0x90: // ADDITEMS
      case 0x75: // SETITEMS
      case 0x31: // POP_MARK
      case 0x6F: { // OBJ
        if (this.marks > 0) this.marks--
        i++
        break
      }

      case 0x93: { // STACK_GLOBAL: its names are str tokens, read before it
        this.stackGlobal = true
        if (this.namedRisky) return this.hold()
        i++
        break
      }

      case 0x30: // POP
      case 0x32: // DUP
      case 0x4E: // NONE
      case 0x88: // NEWTRUE
      case 0x89: // NEWFALSE
      case 0x29: // EMPTY_TUPLE
      case 0x5D: // EMPTY_LIST
      case 0x8F: // EMPTY_SET
      case 0x7D: // EMPTY_DICT
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: // TUPLE3
      case 0x61: // APPEND
      case 0x73: // SETITEM
      case 0x94: // MEMOIZE
      case 0x51: // BINPERSID
      case 0x52: // REDUCE
      case 0x81: // NEWOBJ
      case 0x92: // NEWOBJ_EX
      case 0x62: { // BUILD
        i++
        break
      }

      case 0x2E: { // STOP: what follows is not read by the parser either
        this.stopped = true
        this.done = true
        if (this.stackGlobal && this.namedRisky) this.hold()
        return end
      }

      // Fixed-size arguments that are not ints.
      case 0x80: { // PROTO
        if (i + 2 > end) return start
        if (b[i + 1] > 5) return this.hold()
        i += 2
        break
      }

      case 0x71: // BINPUT
      case 0x68: // BINGET
      case 0x82: { // EXT1
        i += 2
        break
      }

      case 0x83: { // EXT2
        i += 3
        break
      }

      case 0x72: // LONG_BINPUT
      case 0x6A: // LONG_BINGET
      case 0x84: { // EXT4
        i += 5
        break
      }

      case 0x95: { // FRAME: a length, not an int
        i += 9
        break
      }

      // Ints and floats.
      case 0x4B: { // BININT1
        if (i + 2 > end) return start
        if (this.isId(b[i + 1])) return this.hold()
        i += 2
        break
      }

      case 0x4D: { // BININT2
        if (i + 3 > end) return start
        if (this.isId(b.readUInt16LE(i + 1))) return this.hold()
        i += 3
        break
      }

      case 0x4A: { // BININT
        if (i + 5 > end) return start
        if (this.isId(b.readInt32LE(i + 1))) return this.hold()
        i += 5
        break
      }

      case 0x47: { // BINFLOAT
        if (i + 9 > end) return start
        if (this.isId(b.readDoubleBE(i + 1))) return this.hold()
        i += 9
        break
      }

      case 0x8A: // LONG1
      case 0x8B: { // LONG4
        const head = op === 0x8A ? 2 : 5
        if (i + head > end) return start
        const n = op === 0x8A ? b[i + 1] : b.readInt32LE(i + 1)
        if (n < 0 || n > MAX_LONG_BYTES) return this.hold()
        if (i + head + n > end) return start
        if (this.isId(longValue(b, i + head, n))) return this.hold()
        i += head + n
        break
      }

      // Strings (compared whole) and bytes (never an id).
      case 0x8C: // SHORT_BINUNICODE
      case 0x55: // SHORT_BINSTRING
      case 0x43: // SHORT_BINBYTES
      case 0x58: // BINUNICODE
      case 0x54: // BINSTRING
      case 0x42: // BINBYTES
      case 0x8D: // BINUNICODE8
      case 0x8E: // BINBYTES8
      case 0x96: { // BYTEARRAY8
        const head = op === 0x8C || op === 0x55 || op === 0x43 ? 2 : (op === 0x8D || op === 0x8E || op === 0x96 ? 9 : 5)
        if (i + head > end) return start
        let n: number
        if (head === 2) n = b[i + 1]
        else if (head === 5) n = op === 0x54 ? b.readInt32LE(i + 1) : b.readUInt32LE(i + 1)
        else n = (b.readUInt32LE(i + 5) * (2 ** 32)) + b.readUInt32LE(i + 1)
        if (n < 0) return this.hold()
        const text = op !== 0x43 && op !== 0x42 && op !== 0x8E && op !== 0x96
        // Only a string as long as the id, or as a risky class name, is looked at.
        const look = text && (n === this.target.bytes.length || (this.names && n <= MAX_NAME && this.target.riskyLength[n] === 1))
        if (i + head + n > end) {
          if (look) return start
          this.skip = i + head + n - end
          return end
        }

        if (look && this.isIdText(b, i + head, i + head + n)) return this.hold()
        i += head + n
        break
      }

      // Protocol 0: arguments end with a newline.
      case 0x49: // INT
      case 0x4C: // LONG
      case 0x46: // FLOAT
      case 0x56: // UNICODE
      case 0x53: // STRING
      case 0x70: // PUT
      case 0x67: // GET
      case 0x50: { // PERSID
        const nl = b.indexOf(0x0A, i + 1)
        if (nl === -1) return start
        if (op !== 0x70 && op !== 0x67 && op !== 0x50 && this.lineHolds(op, b, i + 1, nl)) return this.hold()
        i = nl + 1
        break
      }

      case 0x63: // GLOBAL
      case 0x69: { // INST
        const nl = b.indexOf(0x0A, i + 1)
        const nl2 = nl === -1 ? -1 : b.indexOf(0x0A, nl + 1)
        if (nl2 === -1) return start
        if (this.isRiskyName(b.toString('latin1', nl + 1, nl2))) return this.hold()
        if (op === 0x69 && this.marks > 0) this.marks--
        i = nl2 + 1
        break
      }

      default: {
        // Unknown, or out-of-band buffers (NEXT_BUFFER, READONLY_BUFFER): the parser decides.
        return this.hold()
      }
      }

      if (i > end) {
        // A fixed-size argument runs past the chunk: read it with the next one.
        return start
      }
    }

    return end
  }
}

/**
 * Whether a msgpack value (Flask-Session ≥ 0.7) cannot hold `userId`, by the same rule as pickles:
 * every token is walked (each header says how long it is; containers hold only their elements),
 * and the value is left to the parser when a str token is the id, an int or float token's text is
 * the id, or a timestamp extension (read as ISO text, with `-` and `:`) could be the id; also
 * when the bytes are not exactly whole tokens (truncated, or the never-used 0xc1). Keys are
 * tokens too: an id-shaped key only errs towards a parse.
 */
export function msgpackCannotHold(b: Buffer, userId: string): boolean {
  if (!isAscii(userId)) return false
  const t = targetOf(userId)
  const timestamps = /[-:]/.test(userId)
  const end = b.length
  let i = 0
  while (i < end) {
    const c = b[i]
    let next: number
    if (c <= 0x7F || c >= 0xE0) { // positive and negative fixint
      if ((c <= 0x7F ? c : c - 256) === t.num) return false
      next = i + 1
    } else if (c <= 0x9F) { // fixmap, fixarray
      next = i + 1
    } else if (c <= 0xBF) { // fixstr
      next = i + 1 + (c - 0xA0)
      if (next <= end && isIdBytes(b, i + 1, next, t)) return false
    } else {
      const head = MSGPACK_HEAD[c - 0xC0]
      if (head === 0 || i + head > end) return false
      switch (c) {
      case 0xC4: // bin8, 16, 32
      case 0xC5:
      case 0xC6: {
        next = i + head + lengthAt(b, i + 1, head - 1)
        break
      }

      case 0xC7: // ext8, 16, 32: a length, then the type
      case 0xC8:
      case 0xC9: {
        if (timestamps && b[i + head - 1] === 0xFF) return false
        next = i + head + lengthAt(b, i + 1, head - 2)
        break
      }

      case 0xD4: // fixext 1, 2, 4, 8, 16
      case 0xD5:
      case 0xD6:
      case 0xD7:
      case 0xD8: {
        if (timestamps && b[i + 1] === 0xFF) return false
        next = i + head + (2 ** (c - 0xD4))
        break
      }

      case 0xD9: // str8, 16, 32
      case 0xDA:
      case 0xDB: {
        next = i + head + lengthAt(b, i + 1, head - 1)
        if (next <= end && isIdBytes(b, i + head, next, t)) return false
        break
      }

      case 0xCA:
      case 0xCB:
      case 0xCC:
      case 0xCD:
      case 0xCE:
      case 0xCF:
      case 0xD0:
      case 0xD1:
      case 0xD2:
      case 0xD3: {
        if (isIdNumber(msgpackNumber(b, i, c), t)) return false
        next = i + head
        break
      }

      default: { // nil, false, true, array16/32, map16/32: nothing more to read
        next = i + head
      }
      }
    }

    i = next
  }

  return i === end
}

/** Header sizes from 0xc0 on (0: never used); fixext's header is its type byte too. */
const MSGPACK_HEAD = [
  1,
  0,
  1,
  1,
  2,
  3,
  5,
  3,
  4,
  6,
  5,
  9,
  2,
  3,
  5,
  9, // c0-cf
  2,
  3,
  5,
  9,
  2,
  2,
  2,
  2,
  2,
  2,
  3,
  5,
  3,
  5,
  3,
  5, // d0-df
]

/** A big-endian length of 1, 2 or 4 bytes. */
function lengthAt(b: Buffer, at: number, size: number): number {
  if (size === 1) return b[at]
  return size === 2 ? b.readUInt16BE(at) : b.readUInt32BE(at)
}

/** The number a msgpack int or float token holds, as parseMsgpack gives it (bigint beyond 2^53). */
function msgpackNumber(b: Buffer, at: number, c: number): bigint | number {
  switch (c) {
  case 0xCA: {return b.readFloatBE(at + 1)}
  case 0xCB: {return b.readDoubleBE(at + 1)}
  case 0xCC: {return b[at + 1]}
  case 0xCD: {return b.readUInt16BE(at + 1)}
  case 0xCE: {return b.readUInt32BE(at + 1)}
  case 0xCF: {return safeOrBig(b.readBigUInt64BE(at + 1))}
  case 0xD0: {return b.readInt8(at + 1)}
  case 0xD1: {return b.readInt16BE(at + 1)}
  case 0xD2: {return b.readInt32BE(at + 1)}
  default: {return safeOrBig(b.readBigInt64BE(at + 1))}
  }
}

function safeOrBig(value: bigint): bigint | number {
  return value >= -9_007_199_254_740_991n && value <= 9_007_199_254_740_991n ? Number(value) : value
}

function isIdNumber(value: bigint | number, t: Target): boolean {
  return typeof value === 'number' ? value === t.num : value === t.big
}

function isIdBytes(b: Buffer, start: number, end: number, t: Target): boolean {
  return end - start === t.bytes.length && sameBytes(b, start, t.bytes)
}

/** Whether b holds `want` at `at` (short strings: a loop beats Buffer#compare's call). */
function sameBytes(b: Buffer, at: number, want: Buffer): boolean {
  for (let k = 0; k < want.length; k++) if (b[at + k] !== want[k]) return false
  return true
}

/** A LONG1/LONG4 argument (little-endian two's complement), as parsePickle reads it. */
function longValue(b: Buffer, start: number, n: number): bigint | number {
  if (n === 0) return 0
  if (n <= 6) {
    let value = 0
    for (let i = n - 1; i >= 0; i--) value = (value * 256) + b[start + i]
    return b[start + n - 1] >= 0x80 ? value - (2 ** (8 * n)) : value
  }

  let value = BigInt(`0x${Buffer.from(b.subarray(start, start + n)).reverse().toString('hex')}`)
  if (b[start + n - 1] >= 0x80) value -= 2n ** BigInt(8 * n)
  return toInt(value)
}
