/* eslint-disable no-bitwise -- a hash: int32 arithmetic, masks and shifts are the point */
import {randomInt} from 'node:crypto'

const EMPTY_LOW = 0
const EMPTY_HIGH = 0
const INITIAL_SLOTS = 1024

/**
 * The keys one scan has already handed on, as 64-bit hashes seeded at random for each set, in an
 * open-addressing table of at most 16 bytes a key (half full at most): a cluster shard rescanned
 * on the replica that replaced its master skips what the first pass submitted, and a key SCAN
 * returns twice (it may, during a rehash) is counted once. Keys themselves would cost about
 * 100 bytes each. Two different keys are taken for one only if both 32-bit halves of their hashes
 * collide: odds of about n² / 2^65 over n keys (1 in 30 million for a million keys).
 */
export class SeenKeys {
  private count = 0
  private mask = INITIAL_SLOTS - 1
  private readonly seedHigh = randomInt(2 ** 32)
  private readonly seedLow = randomInt(2 ** 32)
  /** Pairs (low, high); (0, 0) marks a free slot, so a hash of (0, 0) is stored as (0, 1). */
  private table = new Int32Array(2 * INITIAL_SLOTS)

  get size(): number {
    return this.count
  }

  /** Records `key` (a latin1 string: one char per byte); false when it was recorded already. */
  add(key: string): boolean {
    const low = mix(key, this.seedLow)
    let high = mix(key, this.seedHigh ^ 0x9E_37_79_B9)
    if (low === EMPTY_LOW && high === EMPTY_HIGH) high = 1
    if (!this.insert(low, high)) return false
    this.count++
    if (this.count * 2 > this.mask + 1) this.grow()
    return true
  }

  private grow(): void {
    const old = this.table
    this.table = new Int32Array(old.length * 2)
    this.mask = (this.table.length / 2) - 1
    for (let i = 0; i < old.length; i += 2) {
      if (old[i] !== EMPTY_LOW || old[i + 1] !== EMPTY_HIGH) this.insert(old[i], old[i + 1])
    }
  }

  private insert(low: number, high: number): boolean {
    const {mask, table} = this
    let slot = (low ^ (high >>> 7)) & mask
    for (;;) {
      const at = slot * 2
      const l = table[at]
      const h = table[at + 1]
      if (l === EMPTY_LOW && h === EMPTY_HIGH) {
        table[at] = low
        table[at + 1] = high
        return true
      }

      if (l === low && h === high) return false
      slot = (slot + 1) & mask
    }
  }
}

/** MurmurHash3 (x86, 32-bit) of the string's char codes (bytes, for latin1 text), as an int32. */
function mix(key: string, seed: number): number {
  let h = seed
  const n = key.length
  let i = 0
  for (; i + 4 <= n; i += 4) {
    let k = (key.charCodeAt(i) & 0xFF) | ((key.charCodeAt(i + 1) & 0xFF) << 8) | ((key.charCodeAt(i + 2) & 0xFF) << 16) | ((key.charCodeAt(i + 3) & 0xFF) << 24)
    k = Math.imul(k, 0xCC_9E_2D_51)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, 0x1B_87_35_93)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xE6_54_6B_64) >>> 0
  }

  const rest = n - i
  if (rest > 0) {
    let k = key.charCodeAt(i) & 0xFF
    if (rest > 1) k |= (key.charCodeAt(i + 1) & 0xFF) << 8
    if (rest > 2) k |= (key.charCodeAt(i + 2) & 0xFF) << 16
    k = Math.imul(k, 0xCC_9E_2D_51)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, 0x1B_87_35_93)
    h ^= k
  }

  h ^= n
  h ^= h >>> 16
  h = Math.imul(h, 0x85_EB_CA_6B)
  h ^= h >>> 13
  h = Math.imul(h, 0xC2_B2_AE_35)
  h ^= h >>> 16
  return h
}
