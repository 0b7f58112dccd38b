/* eslint-disable no-bitwise -- a binary format writer: byte masks and shifts are the point */
/**
 * A tiny pickle WRITER for the benchmark: what CPython's `pickle.dumps(value, protocol=5)` (the C
 * pickler, as Django's RedisCache calls it) writes for session dicts: dicts with str keys, and
 * str, int, bool, None, list and dict values. Byte for byte, including CPython's framing, memo
 * and batching (SETITEM for one item, MARK…SETITEMS in batches of 1000, and the empty trailing
 * batch a dict of exactly 1000 items gets); `checkPickleWriter` compares it with /usr/bin/python3.
 *
 * Equal strings are memoized once and referenced after (BINGET), which is what CPython does when
 * they are one object (literals, interned keys). Session dicts have no repeated strings.
 */
import {execFileSync} from 'node:child_process'

export type PickleValue = boolean | null | number | PickleValue[] | string | {[key: string]: PickleValue}

const BATCHSIZE = 1000
// Our output is a single frame: CPython starts a new one past 64 KiB, which no session comes near.
const FRAME_SIZE_TARGET = 64 * 1024
const FRAME_SIZE_MIN = 4

const OP = {
  APPEND: 0x61,
  APPENDS: 0x65,
  BINGET: 0x68,
  BININT: 0x4A,
  BININT1: 0x4B,
  BININT2: 0x4D,
  BINUNICODE: 0x58,
  EMPTY_DICT: 0x7D,
  EMPTY_LIST: 0x5D,
  FRAME: 0x95,
  LONG_BINGET: 0x6A,
  LONG1: 0x8A,
  MARK: 0x28,
  MEMOIZE: 0x94,
  NEWFALSE: 0x89,
  NEWTRUE: 0x88,
  NONE: 0x4E,
  PROTO: 0x80,
  SETITEM: 0x73,
  SETITEMS: 0x75,
  SHORT_BINUNICODE: 0x8C,
  STOP: 0x2E,
} as const

class Writer {
  private readonly chunks: Buffer[] = []
  private memoSize = 0
  private readonly strings = new Map<string, number>()

  bytes(): Buffer {
    return Buffer.concat(this.chunks)
  }

  save(value: PickleValue): void {
    if (value === null) this.op(OP.NONE)
    else if (typeof value === 'boolean') this.op(value ? OP.NEWTRUE : OP.NEWFALSE)
    else if (typeof value === 'number') this.int(value)
    else if (typeof value === 'string') this.str(value)
    else if (Array.isArray(value)) this.list(value)
    else this.dict(value)
  }

  private dict(dict: {[key: string]: PickleValue}): void {
    this.op(OP.EMPTY_DICT)
    this.memoize()
    const entries = Object.entries(dict)
    if (entries.length === 0) return
    if (entries.length === 1) {
      this.str(entries[0][0])
      this.save(entries[0][1])
      this.op(OP.SETITEM)
      return
    }

    // batch_dict_exact: the loop goes on while a batch was full, so 1000 items end with an empty batch.
    let i = 0
    let inBatch: number
    do {
      this.op(OP.MARK)
      inBatch = 0
      while (i < entries.length && inBatch < BATCHSIZE) {
        this.str(entries[i][0])
        this.save(entries[i][1])
        i++
        inBatch++
      }

      this.op(OP.SETITEMS)
    } while (inBatch === BATCHSIZE)
  }

  private int(n: number): void {
    if (!Number.isSafeInteger(n)) throw new TypeError(`pickle-write: only safe integers, got ${n}`)
    if (n >= 0 && n <= 0xFF) {
      this.op(OP.BININT1, n)
    } else if (n >= 0 && n <= 0xFF_FF) {
      this.op(OP.BININT2, n & 0xFF, n >> 8)
    } else if (n >= -0x80_00_00_00 && n <= 0x7F_FF_FF_FF) {
      const b = Buffer.alloc(5)
      b[0] = OP.BININT
      b.writeInt32LE(n, 1)
      this.chunks.push(b)
    } else {
      // LONG1: the shortest little-endian two's complement.
      let big = BigInt(n)
      const out: number[] = []
      for (;;) {
        const byte = Number(big & 0xFFn)
        out.push(byte)
        big >>= 8n
        if ((big === 0n && (byte & 0x80) === 0) || (big === -1n && (byte & 0x80) !== 0)) break
      }

      this.op(OP.LONG1, out.length, ...out)
    }
  }

  private list(list: PickleValue[]): void {
    this.op(OP.EMPTY_LIST)
    this.memoize()
    if (list.length === 0) return
    if (list.length === 1) {
      this.save(list[0])
      this.op(OP.APPEND)
      return
    }

    // batch_list_exact: the loop stops when every item is written.
    for (let i = 0; i < list.length; i += BATCHSIZE) {
      this.op(OP.MARK)
      for (const item of list.slice(i, i + BATCHSIZE)) this.save(item)
      this.op(OP.APPENDS)
    }
  }

  private memoize(): void {
    this.op(OP.MEMOIZE)
    this.memoSize++
  }

  private op(...bytes: number[]): void {
    this.chunks.push(Buffer.from(bytes))
  }

  private str(text: string): void {
    const seen = this.strings.get(text)
    if (seen !== undefined) {
      if (seen < 256) this.op(OP.BINGET, seen)
      else {
        const b = Buffer.alloc(5)
        b[0] = OP.LONG_BINGET
        b.writeUInt32LE(seen, 1)
        this.chunks.push(b)
      }

      return
    }

    const utf8 = Buffer.from(text, 'utf8')
    if (utf8.length <= 0xFF) {
      this.op(OP.SHORT_BINUNICODE, utf8.length)
    } else {
      const head = Buffer.alloc(5)
      head[0] = OP.BINUNICODE
      head.writeUInt32LE(utf8.length, 1)
      this.chunks.push(head)
    }

    this.chunks.push(utf8)
    this.strings.set(text, this.memoSize)
    this.memoize()
  }
}

/**
 * `pickle.dumps(value, protocol)` as CPython writes it. For these types protocols 4 and 5 write
 * the same opcodes (5 only adds out-of-band buffers) and differ in the PROTO byte alone.
 */
export function pickleDumps(value: PickleValue, protocol: 4 | 5 = 5): Buffer {
  const writer = new Writer()
  writer.save(value)
  const body = Buffer.concat([writer.bytes(), Buffer.from([OP.STOP])])
  if (body.length >= FRAME_SIZE_TARGET) throw new RangeError('pickle-write: values over 64 KiB (several frames) are not supported')
  const head = Buffer.from([OP.PROTO, protocol])
  if (body.length < FRAME_SIZE_MIN) return Buffer.concat([head, body])
  const frame = Buffer.alloc(9)
  frame[0] = OP.FRAME
  frame.writeBigUInt64LE(BigInt(body.length), 1)
  return Buffer.concat([head, frame, body])
}

/** Dicts that exercise every path the writer has (sizes around the batch, ints of every width, memo). */
export const PICKLE_CHECK_CASES: PickleValue[] = [
  {},
  {a: 'b'},
  {_auth_user_backend: 'django.contrib.auth.backends.ModelBackend', _auth_user_hash: 'f'.repeat(64), _auth_user_id: '42'},
  {django_language: 'en', visits: 3},
  {cart: [{qty: 2, sku: 'SKU-17'}], _auth_user_id: '7'},
  {
    l: [1, 2, 3], e: [], d: {}, t: true, f: false, n: null,
  },
  {ints: [0, 255, 256, 65_535, 65_536, -1, -129, 2_147_483_647, -2_147_483_648, 2_147_483_648, -2_147_483_649, 2 ** 40, -(2 ** 40), Number.MAX_SAFE_INTEGER]},
  {é: 'ünïcödé ✓ 😀', long: 'x'.repeat(300)},
  {a: 'same', b: 'same', same: 'a'},
  Object.fromEntries(Array.from({length: 1000}, (_, i) => [`k${i}`, i])),
  Object.fromEntries(Array.from({length: 1001}, (_, i) => [`k${i}`, `v${i}`])),
  {big: Array.from({length: 2500}, (_, i) => i)},
]

/**
 * Pickles every case with /usr/bin/python3 (from JSON, then with equal strings made one object as
 * our memo assumes) and with `pickleDumps`; returns the cases that differ (empty: byte for byte).
 */
export function checkPickleWriter(python = '/usr/bin/python3', cases = PICKLE_CHECK_CASES, protocol: 4 | 5 = 5): string[] {
  const script = `
import json, pickle, sys
def one(v, seen):
    if isinstance(v, str):
        return seen.setdefault(v, v)
    if isinstance(v, list):
        return [one(x, seen) for x in v]
    if isinstance(v, dict):
        return {one(k, seen): one(x, seen) for k, x in v.items()}
    return v
for line in sys.stdin:
    print(pickle.dumps(one(json.loads(line), {}), ${protocol}).hex())
`
  const input = cases.map(c => JSON.stringify(c)).join('\n') + '\n'
  const expected = execFileSync(python, ['-c', script], {encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024}).trim().split('\n')
  return cases.flatMap((c, i) => {
    const ours = pickleDumps(c, protocol).toString('hex')
    return ours === expected[i] ? [] : [`${JSON.stringify(c).slice(0, 80)}: python ${expected[i].slice(0, 120)}… ours ${ours.slice(0, 120)}…`]
  })
}
