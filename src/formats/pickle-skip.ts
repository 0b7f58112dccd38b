import {isPickle} from './pickle.js'

/**
 * A cheap test that a session payload cannot hold `userId` at `userPath`, so a scan for one user
 * skips the parser (the costly part of reading a value) for everyone else's sessions. True only
 * when that is certain:
 * - a pickle: protocol 2+, ends with STOP, holds no backslash, and the user id's text occurs
 *   nowhere (every pickled str carries its characters verbatim), nor, for an integer id, any
 *   encoding of that integer (BININT*, BINFLOAT, INT/LONG/FLOAT text; a LONG1/LONG4 opcode
 *   anywhere means a full parse);
 * - anything else (JSON): see jsonCannotHold.
 * A payload that is skipped is not counted among the undecodable ("not JSON", "bad pickle"): with
 * --user those counts cover the values that could have been the user's.
 */
export function payloadSkipper(userPath: readonly string[]): ((bytes: Buffer, userId: string) => boolean) | undefined {
  if (userPath.length === 0) return undefined
  const jsonKey = jsonKeyOf(userPath.at(-1)!)
  let asciiUser = ''
  let userBytes = Buffer.alloc(0)
  return (bytes, userId) => {
    // Only a printable-ASCII id has one obvious byte form.
    if (userId !== asciiUser) {
      if (!isAscii(userId)) return false
      asciiUser = userId
      userBytes = Buffer.from(userId, 'latin1')
    }

    if (isPickle(bytes)) return bytes.at(-1) === 0x2E && pickleCannotHold(bytes, userId)
    return jsonKey !== undefined && jsonCannotHold(bytes, jsonKey, userBytes)
  }
}

/** `"segment"` as JSON writes it without escapes; undefined where it needs one. */
function jsonKeyOf(segment: string): Buffer | undefined {
  return /^[ -~]+$/.test(segment) && !/["\\]/.test(segment) ? Buffer.from(`"${segment}"`, 'latin1') : undefined
}

/**
 * Whether a JSON document cannot hold `user` (printable ASCII) under the key `key` (the user
 * path's last segment, quoted) at any depth. Without a \u escape anywhere, the key can only be
 * written verbatim (the other escapes stand for characters no key we search holds: `"`, `\`,
 * `/` and controls), and an unescaped quote always delimits a string, so each place the key occurs
 * as a key is found by a byte search (the key string, its quote not escaped, then a colon). True
 * when every such place holds a string, free of escapes, other than the user; a number (4.2e1 is
 * 42), an object, an escaped string or anything else there is left to the parser. A document that
 * is not JSON is decided the same way: it is not the user's either way.
 */
export function jsonCannotHold(bytes: Buffer, key: Buffer, user: Buffer): boolean {
  const escapes = bytes.includes(0x5C)
  if (escapes && (bytes.includes(UNICODE_ESCAPE) || key.includes(0x2F))) return false
  for (let at = bytes.indexOf(key); at !== -1; at = bytes.indexOf(key, at + 1)) {
    if (escapes && escaped(bytes, at)) continue
    let i = skipJsonSpace(bytes, at + key.length)
    if (bytes[i] !== 0x3A) continue
    i = skipJsonSpace(bytes, i + 1)
    if (bytes[i] !== 0x22) return false
    const end = bytes.indexOf(0x22, i + 1)
    if (end === -1) return false
    if (escapes && bytes.subarray(i + 1, end).includes(0x5C)) return false
    if (end - i - 1 === user.length && bytes.compare(user, 0, user.length, i + 1, end) === 0) return false
  }

  return true
}

const UNICODE_ESCAPE = Buffer.from(String.raw`\u`, 'latin1')

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

/**
 * payloadSkipper's test over a pickle too large to hold in memory, read in chunks in order:
 * `write` each chunk (false: the test already failed, stop reading), then `end` gives the
 * answer payloadSkipper gives on the whole bytes. Every part of the test looks for a short byte
 * pattern, so each chunk is tested alone and with the end of the previous one (the overlap is
 * the longest pattern less one byte): an occurrence across two chunks is found too.
 */
export class PickleSkipStream {
  private failed = false
  private readonly forms: Buffer[] | null
  private last = -1
  private readonly overlap: number
  private started = false
  private tail = Buffer.alloc(0)

  constructor(private readonly userId: string) {
    this.forms = isAscii(userId) && !/['"\\]/.test(userId) ? formsOf(userId) : null
    this.failed = this.forms === null
    this.overlap = Math.max(userId.length, 9, 2) - 1
  }

  /** True when the pickle cannot hold the user id (and is a complete protocol-2+ pickle). */
  end(): boolean {
    return !this.failed && this.started && this.last === 0x2E
  }

  write(chunk: Buffer): boolean {
    if (this.failed || chunk.length === 0) return !this.failed
    if (!this.started) {
      this.started = true
      if (chunk.length < 2 || chunk[0] !== 0x80 || !isPickle(chunk)) this.failed = true
    }

    const junction = Buffer.concat([this.tail, chunk.subarray(0, this.overlap)])
    if (!this.failed && !(windowClean(chunk, this.userId, this.forms!) && windowClean(junction, this.userId, this.forms!))) this.failed = true
    const joined = chunk.length >= this.overlap ? chunk : Buffer.concat([this.tail, chunk])
    this.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - this.overlap)))
    this.last = chunk.at(-1)!
    return !this.failed
  }
}

function isAscii(userId: string): boolean {
  return /^[\u0020-\u007E]+$/.test(userId)
}

const pickleForms = new Map<string, Buffer[] | null>()

function formsOf(userId: string): Buffer[] | null {
  let forms = pickleForms.get(userId)
  if (forms === undefined) {
    forms = integerForms(userId)
    if (pickleForms.size > 16) pickleForms.clear()
    pickleForms.set(userId, forms)
  }

  return forms
}

/** See payloadSkipper. `userId` is printable ASCII. */
function pickleCannotHold(bytes: Buffer, userId: string): boolean {
  // Protocol 2+ (what Django and django-redis write); quotes and backslashes get escaped in
  // protocol-0 strings, so such ids are left to the parser.
  if (bytes[0] !== 0x80 || /['"\\]/.test(userId)) return false
  const forms = formsOf(userId)
  return forms !== null && windowClean(bytes, userId, forms)
}

/** Whether `bytes` hold none of the patterns that could encode `userId` (see payloadSkipper). */
function windowClean(bytes: Buffer, userId: string, forms: Buffer[]): boolean {
  // A backslash may be an escape in a text opcode (V, S); LONG1/LONG4 may pad their digits.
  if (bytes.includes(0x5C) || bytes.includes(userId, 0, 'latin1')) return false
  if (forms.length === 0) return true
  if (bytes.includes(0x8A) || bytes.includes(0x8B)) return false
  for (const form of forms) if (bytes.includes(form)) return false
  // INT/LONG/FLOAT carry text that int()/float() read leniently (4_2, 4.2e1): leave them to the parser.
  return !/[FIL][\s+\-.\d_]/.test(bytes.toString('latin1'))
}

/**
 * The byte forms a pickled number equal to `userId` can take: [] when no number prints as
 * `userId` (it is not number-like), null when the forms are too many to list (not a safe
 * canonical integer: 1e+21, 1.5, NaN...).
 */
function integerForms(userId: string): Buffer[] | null {
  if (!/^[-+\d.eE]+$|Infinity|NaN/.test(userId)) return []
  if (!/^-?(?:0|[1-9]\d*)$/.test(userId)) return null
  const n = Number(userId)
  if (!Number.isSafeInteger(n)) return null
  const forms: Buffer[] = []
  if (n >= 0 && n < 256) forms.push(Buffer.from([0x4B, n]))
  if (n >= 0 && n < 65_536) {
    const m = Buffer.alloc(3)
    m[0] = 0x4D
    m.writeUInt16LE(n, 1)
    forms.push(m)
  }

  if (n >= -(2 ** 31) && n < 2 ** 31) {
    const j = Buffer.alloc(5)
    j[0] = 0x4A
    j.writeInt32LE(n, 1)
    forms.push(j)
  }

  const g = Buffer.alloc(9)
  g[0] = 0x47
  g.writeDoubleBE(n, 1)
  forms.push(g)
  return forms
}

