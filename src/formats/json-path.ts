/* eslint-disable no-bitwise -- path sets are bit masks */
import {Buffer} from 'node:buffer'

import {readPath, userIdText} from './codec.js'
import {isPickle} from './pickle.js'

/**
 * An exact, streaming reader of a few dotted paths (`passport.user`, `cookie.expires`) in a JSON
 * document, fed in chunks of bytes. It validates the whole document as `JSON.parse` does (the
 * same grammar, the same whitespace, no BOM, nothing after the root value) and keeps only what
 * it needs: the nesting (one byte per level) and the values found at the paths. Memory is
 * O(depth + value), whatever the document's size.
 *
 * It answers what `readPath(JSON.parse(text), path)` gives, with the same rules: the last of
 * duplicate keys wins, array elements are reached by canonical index text (`"0"`, not `"00"`)
 * and `length`, a scalar has no properties. It differs on purpose in one way: a number is kept
 * as its source text, so an integer id beyond 2^53 is read exactly (see numberText).
 *
 * `encoding` is how the bytes become text before JSON.parse sees them: 'utf8' (Buffer#toString,
 * invalid sequences become U+FFFD), or 'latin1' (one byte, one char). Outside strings both only
 * allow ASCII, and inside strings both reject only bytes below 0x20, so the grammar is checked on
 * bytes; only the kept strings are decoded.
 */
export type JsonEncoding = 'latin1' | 'utf8'

/** What sits at a path: its JSON type, and for strings and numbers the text (numbers: the literal). */
export interface JsonPathValue {
  text?: string
  type: 'array' | 'boolean' | 'null' | 'number' | 'object' | 'string'
}

export interface JsonPathLimits {
  /** Deepest nesting accepted (default 1 000 000: one byte per level). */
  maxDepth?: number
  /** Longest string or number kept at a path, in source bytes (default 1 MiB). */
  maxValueBytes?: number
}

/** The document is not JSON (`limit` false: JSON.parse rejects it too), or it is over a limit of this reader. */
export class JsonPathError extends Error {
  override name = 'JsonPathError'

  constructor(message: string, readonly limit = false) {
    super(message)
  }
}

const DEFAULT_MAX_DEPTH = 1_000_000
const DEFAULT_MAX_VALUE = 1024 * 1024

// Parser states.
const VALUE = 0 // a value must start
const VALUE_OR_CLOSE = 1 // after '[': an element or ']'
const KEY_OR_CLOSE = 2 // after '{': a key or '}'
const KEY = 3 // after ',' in an object
const COLON = 4
const AFTER = 5 // after a value inside a container, or the root value
const STRING = 6
const ESCAPE = 7
const HEX = 8
const NUMBER = 9
const LITERAL = 10

// Number sub-states (JSON's grammar); the accepting ones are ZERO, INT, FRAC and EXP.
const N_SIGN = 0
const N_ZERO = 1
const N_INT = 2
const N_DOT = 3
const N_FRAC = 4
const N_E = 5
const N_ESIGN = 6
const N_EXP = 7

const OBJECT = 0
const ARRAY = 1

const ONE = new Uint8Array(1)
const NO_TEXT = undefined
const LITERALS = {f: Buffer.from('false'), n: Buffer.from('null'), t: Buffer.from('true')}

export class JsonPathReader {
  private capture: Buffer | undefined
  private captureLength = 0
  private depth = 0
  private hexLeft = 0
  private readonly indexes: number[] = []
  private keyBytes: Buffer | undefined
  private keyLength = 0
  /** Paths compared against the key being read (0: nobody cares, the key is only checked). */
  private keyMask = 0
  /** Kept bytes beyond the key's cap: it cannot equal any segment. */
  private keyOver = false
  private literal: Buffer = LITERALS.t
  private literalAt = 0
  /** Per level on the paths' chain: the paths whose prefix this container is. */
  private readonly masks: number[] = [0]
  private readonly maxDepth: number
  private readonly maxKeyBytes: number
  private readonly maxValue: number
  private numberState = N_SIGN
  private readonly paths: ReadonlyArray<readonly string[]>
  private readonly results: Array<JsonPathValue | undefined>
  private rootType: JsonPathValue['type'] | undefined
  private state = VALUE
  private stringIsKey = false
  private types: Uint8Array = new Uint8Array(64)
  /** Paths whose value is the one being read. */
  private valueCapture = 0
  /** Paths that go deeper through the value about to start. */
  private valueDescend: number

  constructor(paths: ReadonlyArray<readonly string[]>, private readonly encoding: JsonEncoding = 'utf8', limits: JsonPathLimits = {}) {
    if (paths.length > 30) throw new Error('at most 30 paths')
    this.paths = paths
    this.results = Array.from({length: paths.length})
    this.maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH
    this.maxValue = limits.maxValueBytes ?? DEFAULT_MAX_VALUE
    // Six source bytes per UTF-16 unit at most (a \u escape), so a longer key cannot match.
    this.maxKeyBytes = (6 * Math.max(0, ...paths.flat().map(s => s.length))) + 6
    // The root value is on every path; an empty path asks for the root itself.
    this.valueDescend = 0
    for (const [i, path] of paths.entries()) {
      if (path.length === 0) this.valueCapture |= 1 << i
      else this.valueDescend |= 1 << i
    }
  }

  /** The values at the paths, once the whole document was written and is valid JSON. */
  end(): {root: JsonPathValue['type']; values: Array<JsonPathValue | undefined>} {
    if (this.state === NUMBER) this.endNumber()
    if (this.state !== AFTER || this.depth !== 0 || this.rootType === undefined) throw new JsonPathError('unexpected end of JSON')
    return {root: this.rootType, values: this.results}
  }

  /** Reads the next bytes of the document. @throws JsonPathError */
  write(chunk: Uint8Array): void {
    const n = chunk.length
    let i = 0
    while (i < n) {
      const c = chunk[i]
      switch (this.state) {
      case STRING: {
        // The hot loop: most of a document is string content.
        let j = i
        while (j < n) {
          const b = chunk[j]
          if (b === 0x22 || b === 0x5C || b < 0x20) break
          j++
        }

        this.keep(chunk, i, j)
        i = j
        if (i === n) return
        const b = chunk[i++]
        if (b === 0x22) this.endString()
        else if (b === 0x5C) {
          this.keepByte(b)
          this.state = ESCAPE
        } else throw new JsonPathError('control character in JSON string')
        continue
      }

      case ESCAPE: {
        if (c === 0x75) {
          this.state = HEX
          this.hexLeft = 4
        } else if (c === 0x22 || c === 0x5C || c === 0x2F || c === 0x62 || c === 0x66 || c === 0x6E || c === 0x72 || c === 0x74) {
          this.state = STRING
        } else {
          throw new JsonPathError('bad escape in JSON string')
        }

        this.keepByte(c)
        i++
        continue
      }

      case HEX: {
        if (!isHex(c)) throw new JsonPathError(String.raw`bad \u escape in JSON string`)
        this.keepByte(c)
        if (--this.hexLeft === 0) this.state = STRING
        i++
        continue
      }

      case NUMBER: {
        if (this.numberByte(c)) {
          if (this.valueCapture !== 0) this.keepByte(c)
          i++
        } else {
          // The byte ends the number and is read again as what follows it.
          this.endNumber()
        }

        continue
      }

      case LITERAL: {
        if (c !== this.literal[this.literalAt]) throw new JsonPathError('bad literal in JSON')
        i++
        if (++this.literalAt === this.literal.length) {
          this.settle(this.literal === LITERALS.n ? 'null' : 'boolean', NO_TEXT)
        }

        continue
      }

      default: {
        break
      }
      }

      // Structural states: whitespace first.
      if (c === 0x20 || c === 0x0A || c === 0x0D || c === 0x09) {
        i++
        continue
      }

      i++
      switch (this.state) {
      case VALUE_OR_CLOSE: {
        if (c === 0x5D) {
          this.close(ARRAY)
          break
        }

        this.element()
        this.startValue(c)
        break
      }

      case VALUE: {
        this.startValue(c)
        break
      }

      case KEY_OR_CLOSE:
      case KEY: {
        if (c === 0x7D && this.state === KEY_OR_CLOSE) {
          this.close(OBJECT)
        } else if (c === 0x22) {
          this.startKey()
        } else {
          throw new JsonPathError('expected a key in JSON object')
        }

        break
      }

      case COLON: {
        if (c !== 0x3A) throw new JsonPathError('expected : in JSON object')
        this.afterKey()
        this.state = VALUE
        break
      }

      case AFTER: {
        if (this.depth === 0) throw new JsonPathError('unexpected data after JSON')
        const type = this.types[this.depth - 1]
        if (c === 0x2C) {
          if (type === OBJECT) {
            this.state = KEY
          } else {
            this.element()
            this.state = VALUE
          }
        } else if (c === (type === OBJECT ? 0x7D : 0x5D)) {
          this.close(type)
        } else {
          throw new JsonPathError('expected , or a closing bracket in JSON')
        }

        break
      }

      default: {
        throw new JsonPathError('JSON reader in an impossible state')
      }
      }
    }
  }

  // The key just read is compared with the segments of the paths that reach this object.
  private afterKey(): void {
    const mask = this.keyMask
    this.valueDescend = 0
    this.valueCapture = 0
    if (mask === 0 || this.keyOver) return
    const key = decodeString(this.keyBytes!, this.keyLength, this.encoding)
    this.matchSegment(mask, key)
  }

  private close(type: number): void {
    const level = this.depth
    if (type === ARRAY && level < this.masks.length) {
      const mask = this.masks[level]
      // `length` is an own property of arrays: readPath finds it.
      const count = this.indexes[level]
      for (let p = 0; mask >> p !== 0; p++) {
        if ((mask & (1 << p)) !== 0 && this.paths[p].length === level && this.paths[p][level - 1] === 'length') {
          this.results[p] = {text: String(count + 1), type: 'number'}
        }
      }
    }

    this.depth--
    this.state = AFTER
    if (this.depth === 0) this.rootType ??= type === OBJECT ? 'object' : 'array'
  }

  // The next array element: its index is compared with the segments of the paths that reach the array.
  private element(): void {
    const level = this.depth
    const mask = level < this.masks.length ? this.masks[level] : 0
    this.valueDescend = 0
    this.valueCapture = 0
    if (mask === 0) return
    this.matchSegment(mask, String(++this.indexes[level]))
  }

  private endNumber(): void {
    if (this.numberState !== N_ZERO && this.numberState !== N_INT && this.numberState !== N_FRAC && this.numberState !== N_EXP) {
      throw new JsonPathError('bad number in JSON')
    }

    this.settle('number', this.valueCapture === 0 ? undefined : this.capture!.toString('latin1', 0, this.captureLength))
  }

  private endString(): void {
    if (this.stringIsKey) {
      this.state = COLON
      return
    }

    this.settle('string', this.valueCapture === 0 ? undefined : decodeString(this.capture!, this.captureLength, this.encoding))
  }

  private keep(chunk: Uint8Array, from: number, to: number): void {
    if (to === from) return
    if (this.stringIsKey) {
      if (this.keyMask === 0 || this.keyOver) return
      if (this.keyLength + (to - from) > this.maxKeyBytes) {
        this.keyOver = true
        return
      }

      this.keyBytes!.set(chunk.subarray(from, to), this.keyLength)
      this.keyLength += to - from
      return
    }

    if (this.valueCapture === 0) return
    const length = this.captureLength + (to - from)
    if (length > this.maxValue) throw new JsonPathError('value at the path is too long', true)
    if (length > this.capture!.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.maxValue, Math.max(length, this.capture!.length * 2)))
      this.capture!.copy(grown, 0, 0, this.captureLength)
      this.capture = grown
    }

    this.capture!.set(chunk.subarray(from, to), this.captureLength)
    this.captureLength = length
  }

  private keepByte(b: number): void {
    if (this.stringIsKey ? this.keyMask === 0 : this.valueCapture === 0) return
    ONE[0] = b
    this.keep(ONE, 0, 1)
  }

  private matchSegment(mask: number, segment: string): void {
    const level = this.depth
    for (let p = 0; mask >> p !== 0; p++) {
      if ((mask & (1 << p)) === 0 || this.paths[p][level - 1] !== segment) continue
      // A later duplicate key replaces what an earlier one held.
      this.results[p] = undefined
      if (this.paths[p].length === level) this.valueCapture |= 1 << p
      else this.valueDescend |= 1 << p
    }
  }

  private numberByte(c: number): boolean {
    const digit = c >= 0x30 && c <= 0x39
    switch (this.numberState) {
    case N_SIGN: {
      if (!digit) throw new JsonPathError('bad number in JSON')
      this.numberState = c === 0x30 ? N_ZERO : N_INT
      return true
    }

    case N_ZERO:
    case N_INT: {
      if (digit && this.numberState === N_INT) return true
      if (c === 0x2E) this.numberState = N_DOT
      else if (c === 0x65 || c === 0x45) this.numberState = N_E
      else return false
      return true
    }

    case N_DOT:
    case N_FRAC: {
      if (digit) {
        this.numberState = N_FRAC
        return true
      }

      if (this.numberState === N_FRAC && (c === 0x65 || c === 0x45)) {
        this.numberState = N_E
        return true
      }

      return false
    }

    case N_E:
    case N_ESIGN: {
      if (digit) this.numberState = N_EXP
      else if ((c === 0x2B || c === 0x2D) && this.numberState === N_E) this.numberState = N_ESIGN
      else return false
      return true
    }

    default: {
      return digit
    }
    }
  }

  private open(type: number): void {
    if (this.depth >= this.maxDepth) throw new JsonPathError('JSON nested too deeply', true)
    if (this.depth >= this.types.length) {
      const grown = new Uint8Array(this.types.length * 2)
      grown.set(this.types)
      this.types = grown
    }

    this.types[this.depth++] = type
    const level = this.depth
    if (level < this.masks.length) this.masks[level] = this.valueDescend
    else if (this.valueDescend !== 0) this.masks.push(this.valueDescend)
    // The last element's index on the paths' chain (none yet); close() counts from it.
    if (level < this.masks.length) this.indexes[level] = -1
    this.state = type === OBJECT ? KEY_OR_CLOSE : VALUE_OR_CLOSE
  }

  // A scalar value was read completely.
  private settle(type: JsonPathValue['type'], text: string | undefined): void {
    const mask = this.valueCapture
    for (let p = 0; mask >> p !== 0; p++) if ((mask & (1 << p)) !== 0) this.results[p] = {...(text === undefined ? {} : {text}), type}
    this.valueCapture = 0
    this.captureLength = 0
    this.state = AFTER
    if (this.depth === 0) this.rootType ??= type
  }

  private startKey(): void {
    this.stringIsKey = true
    this.state = STRING
    this.keyOver = false
    this.keyLength = 0
    const level = this.depth
    this.keyMask = level < this.masks.length ? this.masks[level] : 0
    if (this.keyMask !== 0) this.keyBytes ??= Buffer.allocUnsafe(this.maxKeyBytes)
  }

  private startValue(c: number): void {
    const capture = this.valueCapture
    this.stringIsKey = false
    if (c === 0x7B || c === 0x5B) {
      const type = c === 0x7B ? 'object' : 'array'
      for (let p = 0; capture >> p !== 0; p++) if ((capture & (1 << p)) !== 0) this.results[p] = {type}
      this.valueCapture = 0
      this.open(c === 0x7B ? OBJECT : ARRAY)
      return
    }

    // Scalars have no properties: paths going deeper find nothing.
    this.valueDescend = 0
    if (capture !== 0) {
      this.capture ??= Buffer.allocUnsafe(64)
      this.captureLength = 0
    }

    if (c === 0x22) {
      this.state = STRING
    } else if (c === 0x2D || (c >= 0x30 && c <= 0x39)) {
      this.state = NUMBER
      this.numberState = N_SIGN
      if (c !== 0x2D) this.numberByte(c)
      if (capture !== 0) this.keepByte(c)
    } else if (c === 0x74 || c === 0x66 || c === 0x6E) {
      this.state = LITERAL
      this.literal = c === 0x74 ? LITERALS.t : (c === 0x66 ? LITERALS.f : LITERALS.n)
      this.literalAt = 1
    } else {
      throw new JsonPathError('unexpected character in JSON')
    }
  }
}

/** Reads `paths` from a whole document in memory (see JsonPathReader). @throws JsonPathError */
export function readJsonPaths(
  bytes: Uint8Array,
  paths: ReadonlyArray<readonly string[]>,
  encoding: JsonEncoding = 'utf8',
  limits?: JsonPathLimits,
): {root: JsonPathValue['type']; values: Array<JsonPathValue | undefined>} {
  const reader = new JsonPathReader(paths, encoding, limits)
  reader.write(bytes)
  return reader.end()
}

/**
 * The user id text of a value at a path, as userIdText gives for JSON.parse's value, but exact
 * for integers: an integer literal (JSON's grammar already makes it canonical: no leading zeros,
 * no plus) is its own text, as Python's json.loads and any bigint-aware reader give; `-0` is 0.
 * A non-integer literal keeps the JavaScript text of its double, as today (`1.0` is "1",
 * `1e21` is "1e+21"); one beyond the double range is no id.
 */
export function pathUserId(value: JsonPathValue | undefined): null | string {
  if (value?.type === 'string') return value.text!
  if (value?.type !== 'number') return null
  return numberText(value.text!)
}

export function numberText(literal: string): null | string {
  if (/^-?\d+$/.test(literal)) return literal === '-0' ? '0' : literal
  const n = Number(literal)
  return Number.isFinite(n) ? String(n) : null
}

/**
 * JSON.stringify writes every number as the shortest text that reads back as the same double,
 * and JSON.parse reads safe integers exactly: only a number beyond that may differ from its
 * source text, and only then is the source read again.
 */
export function mayDifferFromSource(value: unknown): boolean {
  return typeof value === 'number' && !Number.isSafeInteger(value)
}

/** `raw` holds a string's source bytes between the quotes, already checked by the grammar. */
function decodeString(raw: Buffer, length: number, encoding: JsonEncoding): string {
  let backslash = raw.indexOf(0x5C)
  if (backslash === -1 || backslash >= length) return raw.toString(encoding, 0, length)
  let out = ''
  let from = 0
  while (backslash !== -1 && backslash < length) {
    out += raw.toString(encoding, from, backslash)
    const e = raw[backslash + 1]
    if (e === 0x75) {
      // Each \u escape is one UTF-16 unit, paired or not, as JSON.parse makes it.
      out += String.fromCharCode(Number.parseInt(raw.toString('latin1', backslash + 2, backslash + 6), 16))
      from = backslash + 6
    } else {
      out += ESCAPES[e]
      from = backslash + 2
    }

    backslash = raw.indexOf(0x5C, from)
  }

  return out + raw.toString(encoding, from, length)
}

const ESCAPES: Record<number, string> = {
  0x22: '"', 0x2F: '/', 0x5C: '\\', 0x62: '\b', 0x66: '\f', 0x6E: '\n', 0x72: '\r', 0x74: '\t',
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
}

/**
 * The user id at `path` in a parsed payload, as userIdText gives, except that a JSON number
 * JSON.parse may have rounded (beyond 2^53) is read again from `bytes`, exactly as Python's
 * json.loads reads it. A pickle's ints are exact already (bigint).
 */
export function payloadUserId(data: Record<string, unknown>, path: readonly string[], bytes: Buffer, encoding: JsonEncoding): null | string {
  const value = readPath(data, path)
  if (!mayDifferFromSource(value) || isPickle(bytes)) return userIdText(value)
  try {
    return pathUserId(readJsonPaths(bytes, [path], encoding).values[0])
  } catch {
    return userIdText(value)
  }
}
