/* eslint-disable no-bitwise -- a hash and HyperLogLog registers: shifts and masks are the point */
import type {
  ScanSummary, Session, TalliedSession, UndecodableValue,
} from '../stores/contract.js'

/**
 * `sessions stats`: what one streaming pass over a store says about it, in memory that does not
 * grow with the store (every structure here has a fixed size): counts, the cleanup backlog, the
 * accounts holding the most live sessions, size percentiles and an expiry histogram.
 */

/** Sizes below this are counted one by one (exact percentiles); above, in buckets 1% wide. */
const EXACT_SIZES = 65_536
const BUCKET_GROWTH = 1.01

/** A size distribution with exact percentiles up to 64 KiB and within 1% above (fixed memory). */
export class SizeDistribution {
  count = 0
  max = 0
  private readonly large = new Map<number, number>()
  private readonly small = new Uint32Array(EXACT_SIZES)

  add(size: number): void {
    this.count++
    if (size > this.max) this.max = size
    if (size < EXACT_SIZES) {
      this.small[size]++
      return
    }

    const bucket = Math.floor(Math.log(size) / Math.log(BUCKET_GROWTH))
    this.large.set(bucket, (this.large.get(bucket) ?? 0) + 1)
  }

  /** The smallest size at or below which a share `q` of the values lie (the nearest-rank percentile); null when empty. */
  quantile(q: number): null | number {
    if (this.count === 0) return null
    const rank = Math.max(1, Math.ceil(q * this.count))
    let seen = 0
    for (let size = 0; size < EXACT_SIZES; size++) {
      seen += this.small[size]
      if (seen >= rank) return size
    }

    for (const bucket of [...this.large.keys()].sort((a, b) => a - b)) {
      seen += this.large.get(bucket)!
      // The bucket's upper edge, never above the largest value seen.
      if (seen >= rank) return Math.min(this.max, Math.floor(BUCKET_GROWTH ** (bucket + 1)))
    }

    return this.max
  }
}

/**
 * The accounts with the most sessions, by the Misra–Gries summary: at most `capacity` counters.
 * While no counter was ever dropped every count is exact; once the summary is full each count
 * may be low by at most `error` (and every account with more than `error` sessions is present).
 *
 * The counters live in one open-addressing table allocated up front (twice `capacity` slots,
 * linear probing), not a Map: a Map of tens of thousands of accounts that empties by half at
 * each decrement step and fills again reallocates its table over and over (40 MB of garbage in
 * a 1M-session scan), where this one never grows or shrinks.
 */
export class HeavyHitters {
  /** How much any count may be below the true one (0: exact). */
  error = 0
  private readonly counts: Uint32Array
  private readonly hashes: Uint32Array
  private readonly keys: Array<string | undefined>
  private readonly mask: number
  private used = 0

  constructor(private readonly capacity = 65_536) {
    const slots = 2 ** Math.ceil(Math.log2(Math.max(2, capacity * 2)))
    this.mask = slots - 1
    this.counts = new Uint32Array(slots)
    this.hashes = new Uint32Array(slots)
    this.keys = Array.from({length: slots})
  }

  /** Whether `size` is every account seen (no counter was ever dropped). */
  get complete(): boolean {
    return this.error === 0
  }

  get size(): number {
    return this.used
  }

  /** Counts one session of `key` (`hash`: its keyHash, where the caller has it already). */
  add(key: string, hash = keyHash(key)): void {
    let i = hash & this.mask
    for (let k = this.keys[i]; k !== undefined; k = this.keys[i]) {
      if (this.hashes[i] === hash && k === key) {
        this.counts[i]++
        return
      }

      i = (i + 1) & this.mask
    }

    if (this.used < this.capacity) {
      this.keys[i] = key
      this.hashes[i] = hash
      this.counts[i] = 1
      this.used++
      return
    }

    // Full: take the same amount d off every counter and off this occurrence (Misra–Gries'
    // decrement step, d large enough to free half the counters, so the step is rare): any count
    // is then low by at most the sum of the d's.
    const values = new Uint32Array(this.used)
    let n = 0
    for (const [slot, k] of this.keys.entries()) if (k !== undefined) values[n++] = this.counts[slot]
    const d = values.sort()[values.length >> 1]
    this.error += d
    const kept: Array<[string, number, number]> = []
    for (const [slot, k] of this.keys.entries()) {
      if (k !== undefined && this.counts[slot] > d) kept.push([k, this.hashes[slot], this.counts[slot] - d])
    }

    for (let slot = 0; slot < this.keys.length; slot++) this.keys[slot] = undefined
    this.used = 0
    for (const [k, h, count] of kept) {
      let slot = h & this.mask
      while (this.keys[slot] !== undefined) slot = (slot + 1) & this.mask
      this.keys[slot] = k
      this.hashes[slot] = h
      this.counts[slot] = count
      this.used++
    }
  }

  /**
   * The `n` largest counts (each low by at most `error`), largest first (ties by key, for a stable
   * output). Once counters were dropped, only the accounts whose count is above `error` are
   * listed: those certainly hold more sessions than every account not listed (a dropped account
   * holds at most `error`), where a kept count of 1 might belong to any of thousands of accounts
   * as large. `othersAtMost` bounds every account not listed (exact: the next account's count).
   */
  top(n: number): {othersAtMost: number; users: Array<{count: number; key: string}>} {
    const best: Array<{count: number; key: string}> = []
    let othersAtMost = this.error
    for (const [slot, key] of this.keys.entries()) {
      if (key === undefined) continue
      const v = this.counts[slot]
      // Not listed: not certain to outrank a dropped account (error is 0 while complete), or not among the n largest.
      if (v <= this.error || n <= 0 || (best.length === n && v <= best.at(-1)!.count)) {
        othersAtMost = Math.max(othersAtMost, v + this.error)
        continue
      }

      best.push({count: v, key})
      best.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1))
      if (best.length > n) {
        const out = best.pop()!
        othersAtMost = Math.max(othersAtMost, out.count + this.error)
      }
    }

    return {othersAtMost, users: best}
  }
}

/** HyperLogLog with 2^14 registers (16 KiB; standard error 0.81%), for distinct users beyond HeavyHitters' capacity. */
export class DistinctEstimate {
  private readonly registers = new Uint8Array(1 << 14)

  /** Counts `text` (`hash`: its keyHash, where the caller has it already). */
  add(text: string, hash = keyHash(text)): void {
    const h = hash
    const index = h >>> 18
    const rest = (h << 14) | (1 << 13)
    const rank = Math.clz32(rest) + 1
    if (rank > this.registers[index]) this.registers[index] = rank
  }

  estimate(): number {
    const m = this.registers.length
    let sum = 0
    let zeros = 0
    for (const r of this.registers) {
      sum += 2 ** -r
      if (r === 0) zeros++
    }

    const raw = (0.7213 / (1 + (1.079 / m))) * m * m / sum
    // Small ranges: linear counting is the better estimate.
    return Math.round(raw <= 2.5 * m && zeros > 0 ? m * Math.log(m / zeros) : raw)
  }
}

/** The hash HeavyHitters and DistinctEstimate key accounts by (computed once for both). */
export function keyHash(text: string): number {
  return murmur3(text, 0x97_47_B2_8C)
}

/** MurmurHash3 (32-bit) of a string's UTF-16 code units. */
function murmur3(text: string, seed: number): number {
  let h = seed
  for (let i = 0; i < text.length; i++) {
    let k = text.charCodeAt(i)
    k = Math.imul(k, 0xCC_9E_2D_51)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, 0x1B_87_35_93)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xE6_54_6B_64) >>> 0
  }

  h ^= text.length
  h ^= h >>> 16
  h = Math.imul(h, 0x85_EB_CA_6B)
  h ^= h >>> 13
  h = Math.imul(h, 0xC2_B2_AE_35)
  h ^= h >>> 16
  return h >>> 0
}

/** When live sessions expire, counted from the store's clock: the histogram's buckets (upper edges). */
export const EXPIRY_BUCKETS: ReadonlyArray<{label: string; ms: number}> = [
  {label: '< 1h', ms: 3_600_000},
  {label: '1h–1d', ms: 86_400_000},
  {label: '1d–7d', ms: 7 * 86_400_000},
  {label: '7d–30d', ms: 30 * 86_400_000},
  {label: '30d–1y', ms: 365 * 86_400_000},
  {label: '> 1y', ms: Number.POSITIVE_INFINITY},
]

/** Keeps the first few keys seen for something (fingerprinted when printed). */
const SAMPLES = 3
/** The largest sessions remembered. */
const LARGEST = 5

export interface StoreStats {
  store: string
  /** Values read: sessions, undecodable values and values whose signature is wrong (`badSignature`). */
  total: number
  sessions: number
  live: number
  expired: number
  /** Sessions whose expiry needs a setting that was not given (--lifetime). */
  expiryUnknown: number
  /** Live sessions without any expiry (a Redis key with no TTL and a payload without one): they never go away. */
  noExpiry: {count: number; keys: string[]}
  /** Redis keys without a TTL (live or expired by their payload): the store never removes them. */
  noTtl: {count: number; keys: string[]}
  /** Among live sessions. */
  authenticated: number
  anonymous: number
  badSignature: number
  /** Distinct users holding live sessions: exact while the top-N summary holds every one, else estimated. */
  users: {count: number; exact: boolean}
  /**
   * The accounts with the most live sessions; `countsExact` false when a count may be low by up to
   * `maxError`: then only accounts certain to outrank every unlisted one are listed, and
   * `othersAtMost` bounds the live sessions of any account not listed.
   */
  top: {countsExact: boolean; maxError: number; othersAtMost: number; users: Array<{count: number; userId: string}>}
  /** Of the sessions and the undecodable values (not of values with a bad signature, which the scan does not hand over). */
  sizes: {bytes: number; max: null | number; p50: null | number; p95: null | number; p99: null | number; largest: Array<{key: string; size: number}>}
  /** Live sessions by when they expire. */
  expiresIn: Array<{count: number; label: string}>
  /** What cleanup has to delete (where the store keeps expired sessions). */
  backlog: null | {bytes: number; oldestExpiry: Date | null; sessions: number}
  undecodable: Array<{count: number; keys: string[]; ownerUnknown: boolean; reason: string}>
  now: Date
}

function sample(counted: {count: number; keys: string[]}, key: string): void {
  counted.count++
  if (counted.keys.length < SAMPLES) counted.keys.push(key)
}

/** Collects a store's statistics from its scan's batches (listSessions with state 'all'). */
export class StatsCollector {
  private anonymous = 0
  private authenticated = 0
  private backlogBytes = 0
  private bytes = 0
  private readonly distinct = new DistinctEstimate()
  private expired = 0
  private readonly expiresIn = EXPIRY_BUCKETS.map(() => 0)
  private expiryUnknown = 0
  private readonly hitters: HeavyHitters
  private readonly largest: Array<{key: string; size: number}> = []
  private live = 0
  private readonly noExpiry = {count: 0, keys: [] as string[]}
  private readonly noTtl = {count: 0, keys: [] as string[]}
  /** The scan's start, which the expiry histogram counts from. */
  private readonly nowMs: number
  private oldestExpiry: null | number = null
  private sessions = 0
  private readonly sizes = new SizeDistribution()
  private readonly undecodable = new Map<string, {count: number; keys: string[]; ownerUnknown: boolean}>()

  constructor(
    now: Date,
    private readonly keepsExpired: boolean,
    capacity?: number,
  ) {
    this.hitters = new HeavyHitters(capacity)
    this.nowMs = now.getTime()
  }

  /** Counts one session (SessionSink.onTally; the fields are read during the call only). */
  add(s: TalliedSession): void {
    this.sessions++
    this.bytes += s.size
    this.sizes.add(s.size)
    this.noteLargest(s.key, s.size)
    if (s.noTtl) sample(this.noTtl, s.key)
    if (s.expiryUnknown) {
      this.expiryUnknown++
      return
    }

    if (s.expired) {
      this.expired++
      this.backlogBytes += s.size
      const at = s.expiresAt?.getTime()
      if (at !== undefined && (this.oldestExpiry === null || at < this.oldestExpiry)) this.oldestExpiry = at
      return
    }

    this.live++
    if (s.userId === null) {
      this.anonymous++
    } else {
      this.authenticated++
      const hash = keyHash(s.userId)
      this.hitters.add(s.userId, hash)
      this.distinct.add(s.userId, hash)
    }

    if (s.expiresAt === null) {
      sample(this.noExpiry, s.key)
    } else {
      const ahead = s.expiresAt.getTime() - this.nowMs
      let bucket = 0
      while (ahead >= EXPIRY_BUCKETS[bucket].ms) bucket++
      this.expiresIn[bucket]++
    }
  }

  addSessions(batch: readonly Session[]): void {
    for (const s of batch) this.add(s)
  }

  addUndecodable(values: readonly UndecodableValue[]): void {
    for (const v of values) {
      const id = `${v.ownerUnknown ? 1 : 0}${v.reason}`
      let entry = this.undecodable.get(id)
      if (!entry) {
        entry = {count: 0, keys: [], ownerUnknown: v.ownerUnknown}
        this.undecodable.set(id, entry)
      }

      sample(entry, v.key)
      this.bytes += v.size
      this.sizes.add(v.size)
      this.noteLargest(v.key, v.size)
    }
  }

  result(summary: ScanSummary, topN: number): StoreStats {
    const undecodable = [...this.undecodable].map(([id, e]) => ({...e, reason: id.slice(1)})).sort((a, b) => b.count - a.count)
    const total = this.sessions + summary.badSignature + undecodable.reduce((n, u) => n + u.count, 0)
    const top = this.hitters.top(topN)
    return {
      store: summary.store,
      total,
      sessions: this.sessions,
      live: this.live,
      expired: this.expired,
      expiryUnknown: this.expiryUnknown,
      noExpiry: this.noExpiry,
      noTtl: this.noTtl,
      authenticated: this.authenticated,
      anonymous: this.anonymous,
      badSignature: summary.badSignature,
      users: this.hitters.complete ? {count: this.hitters.size, exact: true} : {count: this.distinct.estimate(), exact: false},
      top: {
        countsExact: this.hitters.complete,
        maxError: this.hitters.error,
        othersAtMost: top.othersAtMost,
        users: top.users.map(({count, key}) => ({count, userId: key})),
      },
      sizes: {
        bytes: this.bytes,
        max: this.sizes.count === 0 ? null : this.sizes.max,
        p50: this.sizes.quantile(0.5),
        p95: this.sizes.quantile(0.95),
        p99: this.sizes.quantile(0.99),
        largest: this.largest,
      },
      expiresIn: EXPIRY_BUCKETS.map((b, i) => ({count: this.expiresIn[i], label: b.label})),
      backlog: this.keepsExpired ? {bytes: this.backlogBytes, oldestExpiry: this.oldestExpiry === null ? null : new Date(this.oldestExpiry), sessions: this.expired} : null,
      undecodable,
      now: summary.now,
    }
  }

  private noteLargest(key: string, size: number): void {
    if (this.largest.length === LARGEST && size <= this.largest.at(-1)!.size) return
    this.largest.push({key, size})
    this.largest.sort((a, b) => b.size - a.size)
    if (this.largest.length > LARGEST) this.largest.pop()
  }
}
