/* eslint-disable no-bitwise -- frame headers are bit fields */
// lz4 frames (lz4/doc/lz4_Frame_format.md) of lz4 blocks (lz4/doc/lz4_Block_format.md).
import {decompressBlock} from 'lz4js'
import {hash as xxh32} from 'lz4js/xxh32.js'

import {skippableFrameEnd} from './skippable.js'

/** The frame magic number, as a little-endian uint32. */
export const LZ4_MAGIC = 0x18_4D_22_04

// Block maximum size by the block descriptor's bits 6-4 (64 KiB to 4 MiB); 0-3 are reserved.
const BLOCK_MAX: Record<number, number> = {
  4: 1 << 16, 5: 1 << 18, 6: 1 << 20, 7: 1 << 22,
}
// Shortest match: a match length field of n copies n + 4 bytes.
const MIN_MATCH = 4
// Frames and blocks per value: millions of empty blocks (4 bytes each) took seconds
// and hundreds of MiB to list. A 16 MiB session (the output limit) in 64 KiB blocks, lz4's
// smallest maximum, has 256.
const MAX_BLOCKS = 1024
const BAD = 'bad lz4'
const TOO_MANY_BLOCKS = 'too many lz4 blocks'

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

/** The content of every frame in `input`, or why it is refused. Never throws. */
export function decodeLz4(input: Buffer, maxBytes: number): Buffer | string {
  const plan = lz4Frames(input, maxBytes)
  if (typeof plan === 'string') return plan
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

    if (at !== frame.outputEnd) return BAD
    if (frame.checksum !== undefined && xxh32(0, output, frame.outputStart, at - frame.outputStart) !== frame.checksum) return BAD
  }

  return output
}

/**
 * Validates every frame and measures every block's output before anything is decoded: lz4js
 * checks no bounds and trusts no size, so only well-formed blocks within the limit reach it.
 */
function lz4Frames(input: Buffer, maxBytes: number): string | {frames: Lz4Frame[]; total: number} {
  const frames: Lz4Frame[] = []
  let total = 0
  let pos = 0
  let blocks = 0
  while (pos < input.length) {
    if (pos + 4 > input.length) return BAD
    const skippedTo = skippableFrameEnd(input, pos)
    if (skippedTo !== undefined) {
      if (skippedTo > input.length) return BAD
      if (++blocks > MAX_BLOCKS) return TOO_MANY_BLOCKS
      pos = skippedTo
      continue
    }

    // Magic number, FLG, BD and the header checksum at least.
    if (input.readUInt32LE(pos) !== LZ4_MAGIC || pos + 7 > input.length) return BAD
    // A frame may hold no block at all: it counts as one.
    if (++blocks > MAX_BLOCKS) return TOO_MANY_BLOCKS
    // FLG: bits 7-6 version (01), 5 block independence, 4 block checksums, 3 content size,
    // 2 content checksum, 1 reserved, 0 dictionary ID. BD: bits 6-4 block maximum size, the
    // others reserved.
    const flags = input[pos + 4]
    const blockDescriptor = input[pos + 5]
    const blockMax = BLOCK_MAX[(blockDescriptor >> 4) & 7]
    if (flags >> 6 !== 1 || flags & 0x02 || blockDescriptor & 0x8F || blockMax === undefined) return BAD
    // The descriptor: FLG, BD, then the 8-byte content size and 4-byte dictionary ID if flagged.
    const headerLength = 2 + (flags & 0x08 ? 8 : 0) + (flags & 0x01 ? 4 : 0)
    if (pos + 4 + headerLength + 1 > input.length) return BAD
    // Its checksum byte is the second byte of its XXH32.
    if (((xxh32(0, input, pos + 4, headerLength) >>> 8) & 0xFF) !== input[pos + 4 + headerLength]) return BAD
    const contentSize = flags & 0x08 ? Number(input.readBigUInt64LE(pos + 6)) : undefined
    if (flags & 0x01 && input.readUInt32LE(pos + 4 + headerLength - 4) !== 0) return 'lz4 dictionary (unsupported)'
    if (contentSize !== undefined && total + contentSize > maxBytes) return 'too large'
    pos += 4 + headerLength + 1

    const independent = (flags & 0x20) !== 0
    const frame: Lz4Frame = {
      blocks: [], checksum: undefined, outputEnd: total, outputStart: total,
    }
    for (;;) {
      // Block size: the high bit marks an uncompressed block; 0 ends the frame. Block checksums
      // (4 bytes after each block) are skipped, not checked.
      if (pos + 4 > input.length) return BAD
      const word = input.readUInt32LE(pos)
      pos += 4
      if (word === 0) break
      if (++blocks > MAX_BLOCKS) return TOO_MANY_BLOCKS
      const compressed = (word & 0x80_00_00_00) === 0
      const length = word & 0x7F_FF_FF_FF
      const start = pos
      pos += length + (flags & 0x10 ? 4 : 0)
      if (length > blockMax || pos > input.length) return BAD
      const history = independent ? 0 : total - frame.outputStart
      const produced = compressed ? lz4BlockOutput(input, start, start + length, history, blockMax) : length
      if (produced === undefined) return BAD
      total += produced
      if (total > maxBytes) return 'too large'
      frame.blocks.push({compressed, end: start + length, start})
    }

    if (flags & 0x04) {
      if (pos + 4 > input.length) return BAD
      frame.checksum = input.readUInt32LE(pos)
      pos += 4
    }

    frame.outputEnd = total
    if (contentSize !== undefined && contentSize !== total - frame.outputStart) return BAD
    frames.push(frame)
  }

  return frames.length > 0 ? {frames, total} : BAD
}

/**
 * The number of bytes a compressed block decodes to, or undefined when it is malformed: a length
 * running past the block, a match reaching before the available history, more output than a
 * block may hold, or a block not ending with literals.
 */
function lz4BlockOutput(src: Buffer, start: number, end: number, history: number, blockMax: number): number | undefined {
  let pos = start
  let produced = 0
  // A token's 4-bit length of 15 goes on in the bytes after it, each added, up to one below 255.
  const length = (nibble: number): number | undefined => {
    let sum = nibble
    if (nibble === 15) {
      let more: number
      do {
        if (pos >= end) return undefined
        more = src[pos++]
        sum += more
      } while (more === 255)
    }

    return sum
  }

  while (pos < end) {
    const token = src[pos++]
    const literals = length(token >> 4)
    if (literals === undefined) return undefined
    pos += literals
    produced += literals
    if (pos === end) return produced <= blockMax ? produced : undefined
    // A 2-byte little-endian offset back from the current output.
    if (pos + 2 > end) return undefined
    const offset = src[pos] | (src[pos + 1] << 8)
    pos += 2
    if (offset === 0 || offset > history + produced) return undefined
    const match = length(token & 15)
    if (match === undefined) return undefined
    produced += match + MIN_MATCH
    if (produced > blockMax) return undefined
  }

  return undefined
}
