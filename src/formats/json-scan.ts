/**
 * Reads the one thing a scan needs from a JSON session, the string under a top-level key,
 * without building the document: JSON.parse allocates every object, array and string of it,
 * and on a scan of every session (stats, list without --user) that is most of the CPU.
 *
 * It answers only when the answer is certain and equal to JSON.parse's: the bytes (read as
 * latin1, as the Python readers read them) are one valid JSON object (the whole grammar is
 * checked, escapes included), no top-level key and no value under the key holds an escape (so no
 * two spellings can be equal), and the key's last occurrence (JSON.parse keeps the last) holds a
 * string or is absent. Anything else, including every invalid document, is `undefined`: the
 * caller parses, and counts what is not JSON exactly as before.
 */
export function topLevelString(bytes: Buffer, key: string): undefined | {text: null | string} {
  const scan = new Scan(bytes, key)
  try {
    const start = ws(bytes, 0)
    if (bytes[start] !== OPEN_OBJECT) return undefined
    const end = scan.object(start, true)
    if (end < 0 || ws(bytes, end) !== bytes.length || scan.found === OTHER || scan.escapedKey) return undefined
    return {text: scan.found === undefined ? null : scan.found}
  } catch {
    // Nesting deeper than this thread's stack: JSON.parse decides.
    return undefined
  }
}

const QUOTE = 0x22
/** Any value under the key but a string without escapes. */
const OTHER = Symbol('other')
const BACKSLASH = 0x5C
/** After a backslash: " \\ / b f n r t (u is followed by four hex digits). */
const SIMPLE_ESCAPES = new Set([0x22, 0x2F, 0x5C, 0x62, 0x66, 0x6E, 0x72, 0x74])
const COMMA = 0x2C
const MINUS = 0x2D
const DOT = 0x2E
const ZERO = 0x30
const NINE = 0x39
const COLON = 0x3A
const OPEN_ARRAY = 0x5B
const CLOSE_ARRAY = 0x5D
const OPEN_OBJECT = 0x7B
const CLOSE_OBJECT = 0x7D
const TRUE = Buffer.from('true')
const FALSE = Buffer.from('false')
const NULL = Buffer.from('null')

function ws(b: Buffer, from: number): number {
  let i = from
  while (i < b.length) {
    const c = b[i]
    if (c !== 0x20 && c !== 0x0A && c !== 0x0D && c !== 0x09) break
    i++
  }

  return i
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66))
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= ZERO && c <= NINE
}

function digits(b: Buffer, from: number): number {
  let i = from
  while (isDigit(b[i])) i++
  return i
}

/** Each method takes the index of a value's first byte and returns the index after it, or -1 when the bytes are not valid JSON there. */
class Scan {
  /** A top-level key, or the value under the key, is written with an escape: JSON.parse decides. */
  escapedKey = false
  /** The top-level key's last value: its text (a string without escapes), OTHER (anything else), undefined (absent). */
  found: string | typeof OTHER | undefined
  /** Whether the last string read held an escape. */
  private escaped = false

  constructor(private readonly b: Buffer, private readonly key: string) {}

  object(at: number, top: boolean): number {
    const {b} = this
    let i = ws(b, at + 1)
    if (b[i] === CLOSE_OBJECT) return i + 1
    for (;;) {
      if (b[i] !== QUOTE) return -1
      const keyStart = i + 1
      i = this.string(i)
      if (i < 0) return -1
      const keyEnd = i - 1
      const keyEscaped = this.escaped
      i = ws(b, i)
      if (b[i] !== COLON) return -1
      const valueStart = ws(b, i + 1)
      i = this.value(valueStart)
      if (i < 0) return -1
      if (top) {
        if (keyEscaped) this.escapedKey = true
        else if (this.isKey(keyStart, keyEnd)) this.found = b[valueStart] === QUOTE && !this.escaped ? b.toString('latin1', valueStart + 1, i - 1) : OTHER
      }

      i = ws(b, i)
      if (b[i] === CLOSE_OBJECT) return i + 1
      if (b[i] !== COMMA) return -1
      i = ws(b, i + 1)
    }
  }

  private array(at: number): number {
    const {b} = this
    let i = ws(b, at + 1)
    if (b[i] === CLOSE_ARRAY) return i + 1
    for (;;) {
      i = this.value(i)
      if (i < 0) return -1
      i = ws(b, i)
      if (b[i] === CLOSE_ARRAY) return i + 1
      if (b[i] !== COMMA) return -1
      i = ws(b, i + 1)
    }
  }

  private isKey(start: number, end: number): boolean {
    const {b, key} = this
    if (end - start !== key.length) return false
    for (let j = 0; j < key.length; j++) if (b[start + j] !== key.charCodeAt(j)) return false
    return true
  }

  private literal(at: number, word: Buffer): number {
    const end = at + word.length
    return end <= this.b.length && this.b.compare(word, 0, word.length, at, end) === 0 ? end : -1
  }

  /** JSON's number grammar exactly: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
  private number(at: number): number {
    const {b} = this
    let i = at
    if (b[i] === MINUS) i++
    if (b[i] === ZERO) i++
    else if (isDigit(b[i])) i = digits(b, i + 1)
    else return -1
    if (b[i] === DOT) {
      if (!isDigit(b[i + 1])) return -1
      i = digits(b, i + 1)
    }

    if (b[i] === 0x65 || b[i] === 0x45) {
      i++
      if (b[i] === 0x2B || b[i] === MINUS) i++
      if (!isDigit(b[i])) return -1
      i = digits(b, i)
    }

    return i
  }

  /** A string: raw control characters are not JSON, and an escape is one of JSON's. */
  private string(at: number): number {
    const {b} = this
    this.escaped = false
    for (let i = at + 1; i < b.length; i++) {
      const c = b[i]
      if (c === QUOTE) return i + 1
      if (c < 0x20) return -1
      if (c === BACKSLASH) {
        this.escaped = true
        const e = b[++i]
        if (e === 0x75) {
          for (let h = 1; h <= 4; h++) if (!isHex(b[i + h])) return -1
          i += 4
        } else if (e === undefined || !SIMPLE_ESCAPES.has(e)) {
          return -1
        }
      }
    }

    return -1
  }

  private value(at: number): number {
    switch (this.b[at]) {
    case QUOTE: {
      return this.string(at)
    }

    case OPEN_OBJECT: {
      return this.object(at, false)
    }

    case OPEN_ARRAY: {
      return this.array(at)
    }

    case 0x74: {
      return this.literal(at, TRUE)
    }

    case 0x66: {
      return this.literal(at, FALSE)
    }

    case 0x6E: {
      return this.literal(at, NULL)
    }

    default: {
      return this.number(at)
    }
    }
  }
}
