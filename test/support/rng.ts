/* eslint-disable no-bitwise -- a PRNG: shifts and masks are the point */
/**
 * A small seeded PRNG (sfc32, seeded through splitmix32) for the fuzz suites: every case draws from
 * its own stream, seeded from the run's seed and the case number, so a failure replays alone.
 */
export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(seed: number, stream = 0) {
    let s = (seed ^ Math.imul(stream + 1, 0x9E_37_79_B9)) >>> 0
    const next = (): number => {
      s = (s + 0x9E_37_79_B9) >>> 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85_EB_CA_6B)
      z = Math.imul(z ^ (z >>> 13), 0xC2_B2_AE_35)
      return (z ^ (z >>> 16)) >>> 0
    }

    this.a = next()
    this.b = next()
    this.c = next()
    this.d = next()
    for (let i = 0; i < 12; i++) this.u32()
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xFF
    return out
  }

  chance(p: number): boolean {
    return this.u32() < p * (2 ** 32)
  }

  /** 0 ≤ n < max. */
  int(max: number): number {
    return Math.floor((this.u32() / (2 ** 32)) * max)
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]
  }

  /** Mostly small, sometimes up to a few KiB. */
  size(): number {
    return this.int(this.pick([4, 16, 64, 512, 4096]) + 1)
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0
    this.d = (this.d + 1) >>> 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) >>> 0
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0
    this.c = (this.c + t) >>> 0
    return t
  }
}
