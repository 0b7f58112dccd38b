/* eslint-disable no-bitwise -- frame headers and entropy tables are bit fields */
// zstd (RFC 8878).
//
// fzstd trusts its input: one compressed block of 20 bytes can declare ~100k sequences of
// 128 KiB matches and keep it copying for tens of seconds, and its streaming decoder allocates
// the window a header asks for (up to 2 GiB) and shifts all of it after every block. So every
// frame is measured first, down to the sequences of each compressed block (entropy tables and
// bit counts, no output), and only well-formed frames within the limit are decoded, by the
// one-shot decoder into a buffer of exactly the measured size.
import {decompress as zstdDecompress} from 'fzstd'

import {skippableFrameEnd} from './skippable.js'

/** The frame magic number (§3.1.1), as a little-endian uint32. */
export const ZSTD_MAGIC = 0xFD_2F_B5_28

// Block_Maximum_Size (§3.1.1.2.4): no block stores or regenerates more, whatever the window.
const BLOCK_MAX = 128 * 1024
// Blocks (and skippable frames) per value. Each block costs fzstd its own entropy tables, so a
// value of many tiny valid blocks kept it busy for seconds (15 MiB of them: 86 s) whatever it
// regenerated. Real values come nowhere near: zstd writes full 128 KiB blocks (about 120 for a
// 16 MiB session, the output limit), and a stream flushed every 32 KiB stays within it. At the
// cap, the costliest blocks take about as long as a real 16 MiB value (~0.1 s).
const MAX_BLOCKS = 512
const BAD = 'bad zstd'
const TOO_MANY_BLOCKS = 'too many zstd blocks'

interface ZstdFrame {
  end: number
  output: number
  start: number
}

/** The content of every frame in `input`, or why it is refused. Never throws. */
export function decodeZstd(input: Buffer, maxBytes: number): Buffer | string {
  const frames = zstdFrames(input, maxBytes)
  if (typeof frames === 'string') return frames
  const output = Buffer.alloc(frames.reduce((sum, frame) => sum + frame.output, 0))
  let at = 0
  try {
    for (const frame of frames) {
      // With an output buffer fzstd writes straight into it: no window is allocated.
      zstdDecompress(input.subarray(frame.start, frame.end), output.subarray(at, at + frame.output))
      at += frame.output
    }
  } catch {
    return BAD
  }

  return output
}

function zstdFrames(input: Buffer, maxBytes: number): string | ZstdFrame[] {
  const frames: ZstdFrame[] = []
  let total = 0
  let pos = 0
  let blocks = 0
  while (pos < input.length) {
    // Magic number and frame header descriptor.
    if (pos + 5 > input.length) return BAD
    const skippedTo = skippableFrameEnd(input, pos)
    if (skippedTo !== undefined) {
      if (skippedTo > input.length) return BAD
      if (++blocks > MAX_BLOCKS) return TOO_MANY_BLOCKS
      pos = skippedTo
      continue
    }

    if (input.readUInt32LE(pos) !== ZSTD_MAGIC) return BAD
    const start = pos
    // Frame_Header_Descriptor (§3.1.1.1.1): bits 7-6 content size flag, 5 single segment,
    // 4 unused, 3 reserved, 2 content checksum, 1-0 dictionary ID flag.
    const descriptor = input[pos + 4]
    pos += 5
    if (descriptor & 0x08) return BAD
    const singleSegment = (descriptor & 0x20) !== 0
    const dictionaryBytes = [0, 1, 2, 4][descriptor & 3]
    const sizeFlag = descriptor >> 6
    const sizeBytes = sizeFlag === 0 ? (singleSegment ? 1 : 0) : 1 << sizeFlag
    if (pos + (singleSegment ? 0 : 1) + dictionaryBytes + sizeBytes > input.length) return BAD
    let window = 0
    if (!singleSegment) {
      // Window_Descriptor (§3.1.1.1.2): 5-bit exponent over 2^10, 3-bit mantissa in eighths.
      const base = 2 ** (10 + (input[pos] >> 3))
      window = base + ((base / 8) * (input[pos] & 7))
      pos += 1
    }

    if (dictionaryBytes > 0 && input.readUIntLE(pos, dictionaryBytes) !== 0) return 'zstd dictionary (unsupported)'
    pos += dictionaryBytes
    let contentSize: number | undefined
    if (sizeBytes === 8) contentSize = Number(input.readBigUInt64LE(pos))
    // A 2-byte Frame_Content_Size is stored minus 256 (§3.1.1.1.4).
    else if (sizeBytes > 0) contentSize = input.readUIntLE(pos, sizeBytes) + (sizeBytes === 2 ? 256 : 0)
    pos += sizeBytes
    if (contentSize !== undefined && total + contentSize > maxBytes) return 'too large'
    if (singleSegment) window = contentSize ?? 0

    const blockMax = Math.min(window, BLOCK_MAX)
    const tables: {previous?: SequenceTables} = {}
    const frameStart = total
    for (let last = false; !last;) {
      if (++blocks > MAX_BLOCKS) return TOO_MANY_BLOCKS
      // Block_Header (§3.1.1.2): 3 bytes, bit 0 last block, bits 2-1 type, bits 23-3 size.
      if (pos + 3 > input.length) return BAD
      const header = input.readUIntLE(pos, 3)
      pos += 3
      last = (header & 1) === 1
      const type = (header >> 1) & 3
      const size = header >>> 3
      // Types: 0 raw, 1 RLE, 2 compressed, 3 reserved.
      if (type === 3 || size > blockMax) return BAD
      // Raw and RLE blocks regenerate `size` bytes; an RLE block stores one byte.
      const stored = type === 1 ? 1 : size
      if (pos + stored > input.length) return BAD
      const produced = type === 2 ? zstdBlockOutput(input, pos, pos + size, blockMax, tables) : size
      if (produced === undefined) return BAD
      total += produced
      if (total > maxBytes) return 'too large'
      pos += stored
    }

    // The optional content checksum (low 4 bytes of an XXH64) is skipped: fzstd ignores it too.
    if (descriptor & 0x04) pos += 4
    if (pos > input.length) return BAD
    if (contentSize !== undefined && contentSize !== total - frameStart) return BAD
    frames.push({end: pos, output: total - frameStart, start})
  }

  return frames.length > 0 ? frames : BAD
}

interface FseTable {
  base: Uint16Array
  bits: Uint8Array
  log: number
  symbol: Uint8Array
}

// Literals length, offset and match length tables, in the order of the modes byte.
type SequenceTables = [FseTable, FseTable, FseTable]

// §3.1.1.3.2.1.1: extra bits per literals length and match length code.
const LL_BITS = [...Array.from({length: 16}, () => 0), 1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
const ML_BITS = [...Array.from({length: 32}, () => 0), 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
const LL_BASE = baselines(LL_BITS, 0)
const ML_BASE = baselines(ML_BITS, 3)
// Per table kind (literals length, offset, match length): the largest code (§3.1.1.3.2.1.1,
// offsets: up to 31 extra bits) and the largest accuracy log (§3.1.1.3.2.2).
const MAX_SYMBOL = [35, 31, 52]
const MAX_LOG = [9, 8, 9]
// §3.1.1.3.2.2: the predefined distributions.
const PREDEFINED: SequenceTables = [
  fseTable([4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1], 6)!,
  fseTable([1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1], 5)!,
  fseTable([1, 4, 3, 2, 2, 2, 2, 2, 2, ...Array.from({length: 37}, () => 1), -1, -1, -1, -1, -1, -1, -1], 6)!,
]
// Huffman weights (§4.2.1.2): FSE-compressed with an accuracy log of at most 6, and at most 255
// of them (one per literal byte value but the last, which is implied).
const WEIGHTS_MAX_LOG = 6
const WEIGHTS_MAX = 255

function baselines(bits: number[], first: number): number[] {
  let next = first
  return bits.map(b => {
    const base = next
    next += 2 ** b
    return base
  })
}

/**
 * `n` ≤ 16 bits of `src` from bit `at` (little-endian, as zstd's bit streams are laid out): with
 * at & 7 ≤ 7, three bytes hold them all. Bytes past the end of `src` read as 0.
 */
function peekBits(src: Buffer, at: number, n: number): number {
  const q = at >> 3
  return ((src[q] | (src[q + 1] << 8) | (src[q + 2] << 16)) >>> (at & 7)) & ((1 << n) - 1)
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
  // Literals_Section_Header (§3.1.1.3.1.1): bits 1-0 type (raw, RLE, compressed, treeless),
  // bits 3-2 size format, which sets the header length and the width of the sizes after it.
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
  // The sequences section that follows has at least its 1-byte count.
  if (pos >= end || literals > blockMax) return undefined
  if (literalsType === 2 && !huffmanWeightsEnd(src, pos - stored, pos)) return undefined

  // Number_of_Sequences (§3.1.1.3.2.1): 1 byte below 128, 2 bytes below 255 (high byte + 128
  // first), else 255 and 2 little-endian bytes over 0x7F00.
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

  // Symbol_Compression_Modes: 2 bits each for literals lengths, offsets and match lengths
  // (predefined, RLE, FSE-compressed, repeat), then 2 reserved bits.
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
    return peekBits(src, origin + left, n)
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
  // 128 and above: (header - 127) weights of 4 bits each, stored directly.
  if (header >= 128) return start + 1 + Math.ceil((header - 127) / 2) <= end
  const last = start + header
  if (header === 0 || last >= end || src[last] === 0) return false
  const read = readFseTable(src, start + 1, last, WEIGHTS_MAX_LOG, WEIGHTS_MAX)
  if (!read) return false
  const {table} = read
  const stop = read.next * 8
  let at = (last * 8) + (31 - Math.clz32(src[last]))
  let state1 = 0
  let state2 = 0
  let width1 = table.log
  let width2 = table.log
  // Two interleaved states, two weights per round: past the last round, 256 weights were read.
  for (let weights = 0; weights < WEIGHTS_MAX; weights += 2) {
    at -= width1
    if (at < stop) return true
    state1 += peekBits(src, at, width1)
    at -= width2
    if (at < stop) return true
    state2 += peekBits(src, at, width2)
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
  // The low 4 bits hold the accuracy log minus 5.
  const log = (src[start] & 15) + 5
  if (log > maxLog) return undefined
  const counts: number[] = []
  let at = (start * 8) + 4
  let remaining = (1 << log) + 1
  let threshold = 1 << log
  // Always one more bit than log2(threshold): the widest value is 2 * threshold - 1.
  let width = log + 1
  while (remaining > 1 && counts.length <= maxSymbol) {
    const value = peekBits(src, at, width)
    const max = (2 * threshold) - 1 - remaining
    let count: number
    if ((value & (threshold - 1)) < max) {
      count = value & (threshold - 1)
      at += width - 1
    } else {
      count = value
      if (count >= threshold) count -= max
      at += width
    }

    count -= 1
    remaining -= Math.abs(count)
    counts.push(count)
    if (count === 0) {
      // A zero probability is followed by 2-bit repeat flags: that many more zeros, 3 = go on.
      let repeat: number
      do {
        repeat = peekBits(src, at, 2)
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

/** The decoding table of a normalized distribution (RFC 8878 §4.1.1); -1 is "less than 1". */
function fseTable(counts: number[], log: number): FseTable | undefined {
  const size = 1 << log
  const symbol = new Uint8Array(size)
  const bits = new Uint8Array(size)
  const base = new Uint16Array(size)
  const next = counts.map(c => (c === -1 ? 1 : c))
  // "Less than 1" symbols take one state each, from the top of the table down.
  let high = size - 1
  for (const [s, c] of counts.entries()) {
    if (c === -1) symbol[high--] = s
  }

  // The other states are spread with the RFC's step, skipping the top ones; a full, valid
  // distribution brings the position back to 0.
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
