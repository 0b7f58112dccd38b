import {isPickle} from './pickle.js'

/**
 * A cheap test that a pickled session cannot hold `userId`, so a scan for one user skips the
 * pickle parser (the costly part of reading a cache value) for everyone else's sessions. True
 * only when that is certain: a protocol-2+ pickle that ends with STOP, holds no backslash, and
 * in which the user id's text occurs nowhere (every pickled str carries its characters
 * verbatim), nor, for an integer id, any encoding of that integer (BININT*, BINFLOAT, INT/LONG/
 * FLOAT text; a LONG1/LONG4 opcode anywhere means a full parse). JSON payloads are always
 * parsed: V8's parser is fast, and "not JSON" stays an exact count.
 */
export function payloadSkipper(userPath: readonly string[]): ((bytes: Buffer, userId: string) => boolean) | undefined {
  if (userPath.length === 0) return undefined
  let asciiUser = ''
  return (bytes, userId) => {
    // Only a printable-ASCII id has one obvious byte form.
    if (userId !== asciiUser) {
      if (!isAscii(userId)) return false
      asciiUser = userId
    }

    return isPickle(bytes) && bytes.at(-1) === 0x2E && pickleCannotHold(bytes, userId)
  }
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

