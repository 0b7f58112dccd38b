/* eslint-disable no-bitwise -- frame headers are bit fields */
import {decompress as zstdDecompress} from 'fzstd'
import {decompressBlock} from 'lz4js'
import {hash as xxh32} from 'lz4js/xxh32.js'
import {gunzipSync, inflateSync} from 'node:zlib'

export type Decompressed = {bytes: Buffer; compression: string; ok: true} | {ok: false; reason: string}

/**
 * Undoes what django-redis's COMPRESSOR wrote, recognised by magic bytes: zlib, gzip, zstd and
 * lz4 frames; xz is recognised and refused. Anything else is returned as is (`compression:
 * 'none'`): django-redis leaves values of 15 bytes or less uncompressed.
 *
 * Output is capped at `maxBytes` for every format. zstd and lz4 input is measured first (frame
 * headers, every block, and for zstd the sequences inside each block) and only decoded when it
 * is well formed and within the limit, so a small bomb is refused as 'too large' or 'bad zstd' /
 * 'bad lz4' quickly and without filling memory. Never throws.
 */
export function decompress(bytes: Buffer, maxBytes: number): Decompressed {
  const [a, b] = bytes
  if (a === 0x78 && (b === 0x01 || b === 0x5E || b === 0x9C || b === 0xDA)) {
    return viaZlib('zlib', () => inflateSync(bytes, {maxOutputLength: maxBytes}))
  }

  if (a === 0x1F && b === 0x8B) return viaZlib('gzip', () => gunzipSync(bytes, {maxOutputLength: maxBytes}))
  if (startsWith(bytes, ZSTD_MAGIC)) return zstd(bytes, maxBytes)
  if (startsWith(bytes, LZ4_MAGIC)) return lz4(bytes, maxBytes)
  if (startsWith(bytes, XZ_MAGIC)) return failed('xz-compressed (unsupported)')
  return {bytes, compression: 'none', ok: true}
}

const ZSTD_MAGIC = [0x28, 0xB5, 0x2F, 0xFD]
const LZ4_MAGIC = [0x04, 0x22, 0x4D, 0x18]
const XZ_MAGIC = [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]

function viaZlib(compression: string, inflate: () => Buffer): Decompressed {
  try {
    return {bytes: inflate(), compression, ok: true}
  } catch (error) {
    const {code} = error as {code?: string}
    return failed(code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError ? 'too large' : `bad ${compression}`)
  }
}

// ---- zstd (RFC 8878) ------------------------------------------------------------------------
//
// fzstd trusts its input: one compressed block of 20 bytes can declare ~100k sequences of
// 128 KiB matches and keep it copying for tens of seconds, and its streaming decoder allocates
// the window a header asks for (up to 2 GiB) and shifts all of it after every block. So every
// frame is measured first, down to the sequences of each compressed block (entropy tables and
// bit counts, no output), and only well-formed frames within the limit are decoded, by the
// one-shot decoder into a buffer of exactly the measured size.

const ZSTD_FRAME = 0xFD_2F_B5_28
const ZSTD_BLOCK_MAX = 128 * 1024

interface ZstdFrame {
  end: number
  output: number
  start: number
}

function zstd(input: Buffer, maxBytes: number): Decompressed {
  const frames = zstdFrames(input, maxBytes)
  if (typeof frames === 'string') return failed(frames)
  const output = Buffer.alloc(frames.reduce((sum, frame) => sum + frame.output, 0))
  let at = 0
  try {
    for (const frame of frames) {
      // With an output buffer fzstd writes straight into it: no window is allocated.
      zstdDecompress(input.subarray(frame.start, frame.end), output.subarray(at, at + frame.output))
      at += frame.output
    }
  } catch {
    return failed('bad zstd')
  }

  return {bytes: output, compression: 'zstd', ok: true}
}

function zstdFrames(input: Buffer, maxBytes: number): string | ZstdFrame[] {
  const frames: ZstdFrame[] = []
  let total = 0
  let pos = 0
  const bad = 'bad zstd'
  while (pos < input.length) {
    if (pos + 5 > input.length) return bad
    const magic = input.readUInt32LE(pos)
    if ((magic & 0xFF_FF_FF_F0) >>> 0 === 0x18_4D_2A_50) {
      if (pos + 8 > input.length) return bad
      pos += 8 + input.readUInt32LE(pos + 4)
      if (pos > input.length) return bad
      continue
    }

    if (magic !== ZSTD_FRAME) return bad
    const start = pos
    const descriptor = input[pos + 4]
    pos += 5
    if (descriptor & 0x08) return bad
    const singleSegment = (descriptor & 0x20) !== 0
    let window = 0
    if (!singleSegment) {
      const base = 2 ** (10 + (input[pos] >> 3))
      window = base + ((base / 8) * (input[pos] & 7))
      pos += 1
    }

    const dictionaryBytes = [0, 1, 2, 4][descriptor & 3]
    const sizeFlag = descriptor >> 6
    const sizeBytes = sizeFlag === 0 ? (singleSegment ? 1 : 0) : 1 << sizeFlag
    if (pos + dictionaryBytes + sizeBytes > input.length) return bad
    if (dictionaryBytes > 0 && input.readUIntLE(pos, dictionaryBytes) !== 0) return 'zstd dictionary (unsupported)'
    pos += dictionaryBytes
    let contentSize: number | undefined
    if (sizeBytes === 8) contentSize = Number(input.readBigUInt64LE(pos))
    else if (sizeBytes > 0) contentSize = input.readUIntLE(pos, sizeBytes) + (sizeBytes === 2 ? 256 : 0)
    pos += sizeBytes
    if (contentSize !== undefined && total + contentSize > maxBytes) return 'too large'
    if (singleSegment) window = contentSize ?? 0

    const blockMax = Math.min(window, ZSTD_BLOCK_MAX)
    const tables: {previous?: SequenceTables} = {}
    const frameStart = total
    for (let last = false; !last;) {
      if (pos + 3 > input.length) return bad
      const header = input.readUIntLE(pos, 3)
      pos += 3
      last = (header & 1) === 1
      const type = (header >> 1) & 3
      const size = header >>> 3
      if (type === 3 || size > blockMax) return bad
      // Raw and RLE blocks regenerate `size` bytes; an RLE block stores one byte.
      const stored = type === 1 ? 1 : size
      if (pos + stored > input.length) return bad
      const produced = type === 2 ? zstdBlockOutput(input, pos, pos + size, blockMax, tables) : size
      if (produced === undefined) return bad
      total += produced
      if (total > maxBytes) return 'too large'
      pos += stored
    }

    if (descriptor & 0x04) pos += 4
    if (pos > input.length) return bad
    if (contentSize !== undefined && contentSize !== total - frameStart) return bad
    frames.push({end: pos, output: total - frameStart, start})
  }

  return frames.length > 0 ? frames : bad
}

interface FseTable {
  base: Uint16Array
  bits: Uint8Array
  log: number
  symbol: Uint8Array
}

// Literals length, offset and match length tables, in the order of the modes byte.
type SequenceTables = [FseTable, FseTable, FseTable]

const LL_BITS = [...Array.from({length: 16}, () => 0), 1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
const ML_BITS = [...Array.from({length: 32}, () => 0), 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
const LL_BASE = baselines(LL_BITS, 0)
const ML_BASE = baselines(ML_BITS, 3)
const MAX_SYMBOL = [35, 31, 52]
const MAX_LOG = [9, 8, 9]
// RFC 8878 §3.1.1.3.2.2: the predefined distributions.
const PREDEFINED: SequenceTables = [
  fseTable([4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1], 6)!,
  fseTable([1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1], 5)!,
  fseTable([1, 4, 3, 2, 2, 2, 2, 2, 2, ...Array.from({length: 37}, () => 1), -1, -1, -1, -1, -1, -1, -1], 6)!,
]

function baselines(bits: number[], first: number): number[] {
  let next = first
  return bits.map(b => {
    const base = next
    next += 2 ** b
    return base
  })
}

/**
 * The number of bytes a compressed block regenerates (literals plus every match length), read
 * from its headers and sequence bit stream, or undefined when the block is malformed or
 * regenerates more than a block may. `tables` carries the entropy tables a later block of the
 * same frame may repeat.
 */
function zstdBlockOutput(src: Buffer, start: number, end: number, blockMax: number, tables: {previous?: SequenceTables}): number | undefined {
  let pos = start
  if (pos >= end) return undefined
  const b0 = src[pos]
  const literalsType = b0 & 3
  const format = (b0 >> 2) & 3
  const headerLength = literalsType < 2 ? [1, 2, 1, 3][format] : [3, 3, 4, 5][format]
  if (pos + headerLength > end) return undefined
  const [b1, b2, b3, b4] = [src[pos + 1], src[pos + 2], src[pos + 3], src[pos + 4]]
  let literals: number
  let stored: number
  if (literalsType < 2) {
    literals = headerLength === 1 ? b0 >> 3 : (b0 >> 4) + (b1 << 4) + (headerLength === 3 ? b2 << 12 : 0)
    stored = literalsType === 0 ? literals : 1
  } else if (headerLength === 3) {
    literals = (b0 >> 4) + ((b1 & 0x3F) << 4)
    stored = (b1 >> 6) + (b2 << 2)
  } else if (headerLength === 4) {
    literals = (b0 >> 4) + (b1 << 4) + ((b2 & 3) << 12)
    stored = (b2 >> 2) + (b3 << 6)
  } else {
    literals = (b0 >> 4) + (b1 << 4) + ((b2 & 0x3F) << 12)
    stored = (b2 >> 6) + (b3 << 2) + (b4 << 10)
  }

  pos += headerLength + stored
  if (pos >= end || literals > blockMax) return undefined
  if (literalsType === 2 && !huffmanWeightsEnd(src, pos - stored, pos)) return undefined

  let count = src[pos++]
  if (count === 0) return literals
  if (count === 255) {
    if (pos + 2 > end) return undefined
    count = src[pos] + (src[pos + 1] << 8) + 0x7F_00
    pos += 2
  } else if (count >= 128) {
    if (pos + 1 > end) return undefined
    count = ((count - 128) << 8) + src[pos++]
  }

  if (pos >= end) return undefined
  const modes = src[pos++]
  if (modes & 3) return undefined
  const current: FseTable[] = []
  for (let kind = 0; kind < 3; kind++) {
    const mode = (modes >> (6 - (2 * kind))) & 3
    switch (mode) {
    case 0: {
      current.push(PREDEFINED[kind])

      break;
    }

    case 1: {
      if (pos >= end || src[pos] > MAX_SYMBOL[kind]) return undefined
      current.push({
        base: new Uint16Array(1), bits: new Uint8Array(1), log: 0, symbol: Uint8Array.of(src[pos++]),
      })

      break;
    }

    case 2: {
      const read = readFseTable(src, pos, end, MAX_LOG[kind], MAX_SYMBOL[kind])
      if (!read) return undefined
      current.push(read.table)
      pos = read.next

      break;
    }

    default: {
      const repeated = tables.previous?.[kind]
      if (!repeated) return undefined
      current.push(repeated)
    }
    }
  }

  const [ll, of, ml] = current as SequenceTables
  tables.previous = [ll, of, ml]
  // The bit stream is read backwards from its last bit, which only marks where it begins.
  if (pos >= end || src[end - 1] === 0) return undefined
  const origin = pos * 8
  let left = ((end - pos - 1) * 8) + (31 - Math.clz32(src[end - 1]))
  const read = (n: number): number => {
    left -= n
    if (left < 0 || n === 0) return 0
    const at = origin + left
    const q = at >> 3
    // n ≤ 16 and at & 7 ≤ 7: three bytes hold every bit asked for.
    return ((src[q] | (src[q + 1] << 8) | (src[q + 2] << 16)) >>> (at & 7)) & ((1 << n) - 1)
  }

  let llState = read(ll.log)
  let ofState = read(of.log)
  let mlState = read(ml.log)
  let literalsUsed = 0
  let output = literals
  for (let i = 0; i < count; i++) {
    // Offsets do not change the size; their extra bits (up to 31) are only skipped.
    left -= of.symbol[ofState]
    const mlCode = ml.symbol[mlState]
    const llCode = ll.symbol[llState]
    output += ML_BASE[mlCode] + read(ML_BITS[mlCode])
    literalsUsed += LL_BASE[llCode] + read(LL_BITS[llCode])
    if (left < 0 || output > blockMax || literalsUsed > literals) return undefined
    if (i + 1 < count) {
      llState = ll.base[llState] + read(ll.bits[llState])
      mlState = ml.base[mlState] + read(ml.bits[mlState])
      ofState = of.base[ofState] + read(of.bits[ofState])
    }
  }

  return left === 0 ? output : undefined
}

/**
 * Whether the Huffman tree description at `start` ends. fzstd decodes FSE-compressed weights
 * until their bit stream runs out, and a table whose states read no bits never runs out (an
 * endless loop on a 400-byte value), so its loop is replayed here with the reference decoder's
 * limit of 255 weights, on the same bytes: the description must lie within the literals.
 */
function huffmanWeightsEnd(src: Buffer, start: number, end: number): boolean {
  const header = src[start]
  if (header >= 128) return start + 1 + Math.ceil((header - 127) / 2) <= end
  const last = start + header
  if (header === 0 || last >= end || src[last] === 0) return false
  const read = readFseTable(src, start + 1, last, 6, 255)
  if (!read) return false
  const {table} = read
  const stop = read.next * 8
  let at = (last * 8) + (31 - Math.clz32(src[last]))
  const bits = (n: number): number => ((src[at >> 3] | (src[(at >> 3) + 1] << 8)) >> (at & 7)) & ((1 << n) - 1)
  let state1 = 0
  let state2 = 0
  let width1 = table.log
  let width2 = table.log
  for (let weights = 0; weights <= 255; weights += 2) {
    at -= width1
    if (at < stop) return true
    state1 += bits(width1)
    at -= width2
    if (at < stop) return true
    state2 += bits(width2)
    width1 = table.bits[state1]
    state1 = table.base[state1]
    width2 = table.bits[state2]
    state2 = table.base[state2]
  }

  return false
}

/** An FSE table description (RFC 8878 §4.1.1), as the reference FSE_readNCount reads it. */
function readFseTable(src: Buffer, start: number, end: number, maxLog: number, maxSymbol: number): undefined | {next: number; table: FseTable} {
  if (start >= end) return undefined
  const log = (src[start] & 15) + 5
  if (log > maxLog) return undefined
  const bitsAt = (at: number): number => {
    const q = at >> 3
    return (src[q] | (src[q + 1] << 8) | (src[q + 2] << 16)) >>> (at & 7)
  }

  const counts: number[] = []
  let at = (start * 8) + 4
  let remaining = (1 << log) + 1
  let threshold = 1 << log
  let width = log + 1
  while (remaining > 1 && counts.length <= maxSymbol) {
    const value = bitsAt(at)
    const max = (2 * threshold) - 1 - remaining
    let count: number
    if ((value & (threshold - 1)) < max) {
      count = value & (threshold - 1)
      at += width - 1
    } else {
      count = value & ((2 * threshold) - 1)
      if (count >= threshold) count -= max
      at += width
    }

    count -= 1
    remaining -= Math.abs(count)
    counts.push(count)
    if (count === 0) {
      let repeat: number
      do {
        repeat = bitsAt(at) & 3
        at += 2
        for (let r = 0; r < repeat; r++) counts.push(0)
        if (counts.length > maxSymbol + 1) return undefined
      } while (repeat === 3)
    }

    while (remaining < threshold) {
      width -= 1
      threshold >>= 1
    }
  }

  const next = (at + 7) >> 3
  if (remaining !== 1 || counts.length > maxSymbol + 1 || next > end) return undefined
  const table = fseTable(counts, log)
  return table && {next, table}
}

/** The decoding table of a normalized distribution (RFC 8878 §4.1.1). */
function fseTable(counts: number[], log: number): FseTable | undefined {
  const size = 1 << log
  const symbol = new Uint8Array(size)
  const bits = new Uint8Array(size)
  const base = new Uint16Array(size)
  const next = counts.map(c => (c === -1 ? 1 : c))
  let high = size - 1
  for (const [s, c] of counts.entries()) {
    if (c === -1) symbol[high--] = s
  }

  const step = (size >> 1) + (size >> 3) + 3
  let position = 0
  for (const [s, c] of counts.entries()) {
    for (let i = 0; i < c; i++) {
      symbol[position] = s
      do position = (position + step) & (size - 1)
      while (position > high)
    }
  }

  if (position !== 0) return undefined
  for (let state = 0; state < size; state++) {
    const n = next[symbol[state]]++
    bits[state] = log - (31 - Math.clz32(n))
    base[state] = (n << bits[state]) - size
  }

  return {
    base, bits, log, symbol,
  }
}

// ---- lz4 frame format (lz4/doc/lz4_Frame_format.md) -------------------------------------------

const LZ4_FRAME = 0x18_4D_22_04
const LZ4_BLOCK_MAX: Record<number, number> = {
  4: 1 << 16, 5: 1 << 18, 6: 1 << 20, 7: 1 << 22,
}

interface Lz4Block {
  compressed: boolean
  end: number
  start: number
}

interface Lz4Frame {
  blocks: Lz4Block[]
  checksum: number | undefined
  outputEnd: number
  outputStart: number
}

function lz4(input: Buffer, maxBytes: number): Decompressed {
  const plan = lz4Frames(input, maxBytes)
  if (typeof plan === 'string') return failed(plan)
  const output = Buffer.alloc(plan.total)
  for (const frame of plan.frames) {
    let at = frame.outputStart
    for (const block of frame.blocks) {
      if (block.compressed) {
        at = decompressBlock(input, output, block.start, block.end - block.start, at)
      } else {
        at += input.copy(output, at, block.start, block.end)
      }
    }

    if (at !== frame.outputEnd) return failed('bad lz4')
    if (frame.checksum !== undefined && xxh32(0, output, frame.outputStart, at - frame.outputStart) !== frame.checksum) return failed('bad lz4')
  }

  return {bytes: output, compression: 'lz4', ok: true}
}

/**
 * Validates every frame and measures every block's output before anything is decoded: lz4js
 * checks no bounds and trusts no size, so only well-formed blocks within the limit reach it.
 */
function lz4Frames(input: Buffer, maxBytes: number): string | {frames: Lz4Frame[]; total: number} {
  const frames: Lz4Frame[] = []
  let total = 0
  let pos = 0
  const bad = 'bad lz4'
  while (pos < input.length) {
    if (pos + 4 > input.length) return bad
    const magic = input.readUInt32LE(pos)
    if ((magic & 0xFF_FF_FF_F0) >>> 0 === 0x18_4D_2A_50) {
      if (pos + 8 > input.length) return bad
      pos += 8 + input.readUInt32LE(pos + 4)
      if (pos > input.length) return bad
      continue
    }

    if (magic !== LZ4_FRAME || pos + 7 > input.length) return bad
    const flags = input[pos + 4]
    const blockDescriptor = input[pos + 5]
    const blockMax = LZ4_BLOCK_MAX[(blockDescriptor >> 4) & 7]
    if (flags >> 6 !== 1 || flags & 0x02 || blockDescriptor & 0x8F || blockMax === undefined) return bad
    const headerLength = 2 + (flags & 0x08 ? 8 : 0) + (flags & 0x01 ? 4 : 0)
    if (pos + 4 + headerLength + 1 > input.length) return bad
    if (((xxh32(0, input, pos + 4, headerLength) >>> 8) & 0xFF) !== input[pos + 4 + headerLength]) return bad
    const contentSize = flags & 0x08 ? Number(input.readBigUInt64LE(pos + 6)) : undefined
    if (flags & 0x01 && input.readUInt32LE(pos + 4 + headerLength - 4) !== 0) return 'lz4 dictionary (unsupported)'
    if (contentSize !== undefined && total + contentSize > maxBytes) return 'too large'
    pos += 4 + headerLength + 1

    const independent = (flags & 0x20) !== 0
    const frame: Lz4Frame = {
      blocks: [], checksum: undefined, outputEnd: total, outputStart: total,
    }
    for (;;) {
      if (pos + 4 > input.length) return bad
      const word = input.readUInt32LE(pos)
      pos += 4
      if (word === 0) break
      const compressed = (word & 0x80_00_00_00) === 0
      const length = word & 0x7F_FF_FF_FF
      const start = pos
      pos += length + (flags & 0x10 ? 4 : 0)
      if (length > blockMax || pos > input.length) return bad
      const history = independent ? 0 : total - frame.outputStart
      const produced = compressed ? lz4BlockOutput(input, start, start + length, history, blockMax) : length
      if (produced === undefined) return bad
      total += produced
      if (total > maxBytes) return 'too large'
      frame.blocks.push({compressed, end: start + length, start})
    }

    if (flags & 0x04) {
      if (pos + 4 > input.length) return bad
      frame.checksum = input.readUInt32LE(pos)
      pos += 4
    }

    frame.outputEnd = total
    if (contentSize !== undefined && contentSize !== total - frame.outputStart) return bad
    frames.push(frame)
  }

  return frames.length > 0 ? {frames, total} : bad
}

/**
 * The number of bytes a compressed block decodes to, or undefined when it is malformed: a length
 * running past the block, a match reaching before the available history, more output than a
 * block may hold, or a block not ending with literals.
 */
function lz4BlockOutput(src: Buffer, start: number, end: number, history: number, blockMax: number): number | undefined {
  let pos = start
  let produced = 0
  while (pos < end) {
    const token = src[pos++]
    let literals = token >> 4
    if (literals === 15) {
      let more: number
      do {
        if (pos >= end) return undefined
        more = src[pos++]
        literals += more
      } while (more === 255)
    }

    pos += literals
    produced += literals
    if (pos === end) return produced <= blockMax ? produced : undefined
    if (pos + 2 > end) return undefined
    const offset = src[pos] | (src[pos + 1] << 8)
    pos += 2
    if (offset === 0 || offset > history + produced) return undefined
    let match = token & 15
    if (match === 15) {
      let more: number
      do {
        if (pos >= end) return undefined
        more = src[pos++]
        match += more
      } while (more === 255)
    }

    produced += match + 4
    if (produced > blockMax) return undefined
  }

  return undefined
}

function startsWith(bytes: Buffer, magic: number[]): boolean {
  return bytes.length >= magic.length && magic.every((byte, i) => bytes[i] === byte)
}

function failed(reason: string): Decompressed {
  return {ok: false, reason}
}
