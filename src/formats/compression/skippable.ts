/* eslint-disable no-bitwise -- the magic number is a range */

// zstd (RFC 8878 §3.1.2) and lz4 (lz4_Frame_format.md) share skippable frames: a magic number
// from 0x184D2A50 to 0x184D2A5F, a 4-byte little-endian size, then that many ignored bytes.
const SKIPPABLE_MAGIC = 0x18_4D_2A_50
const SKIPPABLE_MASK = 0xFF_FF_FF_F0

/**
 * Where the skippable frame at `pos` ends (past `input.length` when it is truncated), or
 * undefined when no skippable frame starts at `pos`.
 */
export function skippableFrameEnd(input: Buffer, pos: number): number | undefined {
  if (pos + 4 > input.length || (input.readUInt32LE(pos) & SKIPPABLE_MASK) >>> 0 !== SKIPPABLE_MAGIC) return undefined
  return pos + 8 > input.length ? input.length + 1 : pos + 8 + input.readUInt32LE(pos + 4)
}
