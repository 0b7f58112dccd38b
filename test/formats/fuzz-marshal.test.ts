/* eslint-disable no-bitwise -- byte-level generators of Marshal and msgpack streams */
/**
 * Fuzzing of the Ruby Marshal and msgpack readers: random bytes, mutations of the golden Rails
 * fixtures (and of the session dumps inside them), generated well-formed streams (then perhaps
 * mutated) and hostile probes (huge declared lengths, deep nesting, link floods, `__proto__`
 * keys, gadget class names). Per case: only MarshalError / MsgpackError escapes, the result is
 * well formed (acyclic, Hashes/maps null-prototype, inert objects with a string __class__, no
 * prototype pollution), the case is fast and its memory bounded.
 *
 * Every case draws from its own PRNG, seeded from the run's seed and the case number:
 * SESSIONCTL_FUZZ_SEED=<seed> replays a run, SESSIONCTL_FUZZ_CASES=<n> makes it longer.
 */
import assert from 'node:assert/strict'
import {randomInt} from 'node:crypto'
import {setFlagsFromString} from 'node:v8'
import {runInNewContext} from 'node:vm'
import {deflateSync, inflateSync} from 'node:zlib'

import {MarshalError, parseMarshal} from '../../src/formats/marshal.js'
import {MsgpackError, parseMsgpack} from '../../src/formats/msgpack.js'
import {createFlaskCodec} from '../../src/frameworks/flask.js'
import {createRailsCodec} from '../../src/frameworks/rails.js'
import {Rng} from '../support/rng.js'
import {flaskFixtures, railsFixtures, railsStored} from '../support/ruby-python-fixtures.js'

const MiB = 1024 * 1024
const INPUTS = Number(process.env.SESSIONCTL_FUZZ_CASES ?? 6000)
const SEED = Number(process.env.SESSIONCTL_FUZZ_SEED ?? randomInt(2 ** 31))
const CASE_MS = 50
const PROBE_MS = 1000
const RUN_MEMORY = 256 * MiB
const CASE_MEMORY = 128 * MiB
const RETAINED_BOUND = 32 * MiB

// ---------------------------------------------------------------------------------------------
// Seeds: the stored Rails values, the session dumps inside them, and the Flask session dicts as
// msgpack (written by the generator below from the fixtures' expected data).

const railsValues = railsFixtures().cases.flatMap(c => {
  const stored = railsStored(c)
  return stored ? [stored] : []
})
const railsPayloads = railsValues.flatMap(v => {
  // The compressed Entry's @value, inflated: a bare session hash dump.
  const at = v.indexOf(Buffer.from([0x78, 0x9C]))
  if (at === -1) return []
  try {
    return [inflateSync(v.subarray(at, v.indexOf(Buffer.from(':\r@version'), at)))]
  } catch {
    return []
  }
})
const marshalSeeds = [...railsValues, ...railsPayloads]
const flaskData = flaskFixtures().cases.flatMap(c => (c.expect.data ? [c.expect.data] : []))

// ---------------------------------------------------------------------------------------------
// A Marshal writer (Ruby's w_object, for the types the reader knows), with links and symlinks.

const GADGETS = ['ERB',
  'Gem::Requirement',
  'Gem::Installer',
  'Gem::StubSpecification',
  'Net::WriteAdapter',
  'Gem::Source::SpecificFile',
  'ActiveSupport::Deprecation::DeprecatedInstanceVariableProxy',
  'ActionView::Template',
  'Kernel',
  'Object',
  'BasicObject',
  'Class',
  'Gem::RequestSet',
  'Gem::Package::TarReader',
  'ActiveRecord::Associations::Association',
  'Rack::Response',
  'Logger']
const NAMES = ['__proto__', 'constructor', 'prototype', '__class__', '@__proto__', '@value', '@compressed', 'warden.user.user.key', '_csrf_token', 'E', 'encoding', 'x', 'ünï', '']
const TEXTS = ['', '42', 'Zoë 😀', 'a'.repeat(300), '\u0000', '\uFFFD', 'ascii', '__proto__']

function long(n: number): number[] {
  if (n === 0) return [0]
  if (n > 0 && n < 123) return [n + 5]
  if (n < 0 && n > -124) return [(n - 5) & 0xFF]
  const out: number[] = []
  let x = n
  for (let i = 0; i < 4; i++) {
    out.push(x & 0xFF)
    x >>= 8
    if ((n >= 0 && x === 0) || (n < 0 && x === -1)) break
  }

  return [(n >= 0 ? out.length : -out.length) & 0xFF, ...out]
}

class MarshalWriter {
  private objects = 0
  private readonly out: number[] = [4, 8]
  private readonly symbols: string[] = []

  constructor(private readonly rng: Rng) {}

  bytes(): Buffer {
    return Buffer.from(this.out)
  }

  session(depth: number): this {
    // A Rails session hash, or an Entry holding one.
    if (this.rng.chance(0.3)) {
      this.put(0x6F)
      this.symbol('ActiveSupport::Cache::Entry')
      this.objects++
      this.put(...long(3))
      this.symbol('@value')
      this.hash(depth)
      this.symbol('@version')
      this.put(0x30)
      this.symbol('@created_at')
      this.float(1_796_177_812.979_809_5)
    } else {
      this.hash(depth)
    }

    return this
  }

  value(depth: number): void {
    const {rng} = this
    if (this.objects > 0 && rng.chance(0.08)) {
      this.put(0x40, ...long(rng.int(this.objects + 2)))
      return
    }

    const kind = depth <= 0 ? rng.int(8) : rng.int(17)
    switch (kind) {
    case 0: {
      this.put(rng.pick([0x30, 0x54, 0x46]))
      break
    }

    case 1: {
      this.put(0x69, ...long(rng.pick([0, 1, -1, 122, 123, -124, 255, 256, 65_536, (2 ** 30) - 1, -(2 ** 31), rng.int(2 ** 31) - (2 ** 30)])))
      break
    }

    case 2: {
      // Bignum
      const n = rng.pick([1, 2, 3, 5, 40])
      this.objects++
      this.put(0x6C, rng.pick([0x2B, 0x2D]), ...long(n), ...rng.bytes(n * 2))
      break
    }

    case 3: {
      this.float(rng.pick([0, -0, 1.5, Number.NaN, Infinity, -Infinity, 1e300, 1 / 3]))
      break
    }

    case 4:
    case 5: {
      this.string(rng.pick(TEXTS), rng.pick(['E', 'e', 'enc', 'bin']))
      break
    }

    case 6: {
      this.symbol(rng.pick(NAMES))
      break
    }

    case 7: {
      // A symlink to a known symbol, or an out-of-range one.
      if (this.symbols.length > 0) this.put(0x3B, ...long(rng.int(this.symbols.length + 1)))
      else this.put(0x30)
      break
    }

    case 8:
    case 9: {
      this.objects++
      const n = rng.int(5)
      this.put(0x5B, ...long(n))
      for (let i = 0; i < n; i++) this.value(depth - 1)
      break
    }

    case 10:
    case 11: {
      this.hash(depth - 1)
      break
    }

    case 12: {
      // Object with ivars
      this.objects++
      this.put(0x6F)
      this.symbol(rng.pick(GADGETS))
      const n = rng.int(4)
      this.put(...long(n))
      for (let i = 0; i < n; i++) {
        this.symbol(rng.chance(0.7) ? `@${rng.pick(NAMES)}` : rng.pick(NAMES))
        this.value(depth - 1)
      }

      break
    }

    case 13: {
      // Struct
      this.objects++
      this.put(0x53)
      this.symbol(rng.pick(GADGETS))
      const n = rng.int(3)
      this.put(...long(n))
      for (let i = 0; i < n; i++) {
        this.symbol(rng.pick(NAMES))
        this.value(depth - 1)
      }

      break
    }

    case 14: {
      // u / U / d user types
      const type = rng.pick([0x75, 0x55, 0x64])
      const wrapped = type === 0x75 && rng.chance(0.5)
      if (wrapped) this.put(0x49)
      this.put(type)
      this.symbol(rng.pick(GADGETS))
      if (type === 0x75) {
        const data = rng.bytes(rng.int(9))
        this.put(...long(data.length), ...data)
        if (wrapped) {
          this.put(...long(1))
          this.symbol('E')
          this.put(0x54)
        }
      } else {
        this.value(depth - 1)
      }

      this.objects++
      break
    }

    case 15: {
      // C / e wrappers, regexps, class refs
      const which = rng.int(4)
      switch (which) {
      case 0: {
        this.put(0x43)
        this.symbol(rng.pick(['Hash', 'ActiveSupport::HashWithIndifferentAccess', 'ActiveSupport::SafeBuffer']))
        this.hash(depth - 1)

        break;
      }

      case 1: {
        this.put(0x65)
        this.symbol(rng.pick(GADGETS))
        this.string(rng.pick(TEXTS), 'E')

        break;
      }

      case 2: {
        this.objects++
        const source = Buffer.from(rng.pick(['ab+c', 'ünï', '']))
        this.put(0x49, 0x2F, ...long(source.length), ...source, rng.int(8), ...long(1))
        this.symbol('E')
        this.put(0x54)

        break;
      }

      default: {
        this.objects++
        const name = Buffer.from(rng.pick(GADGETS))
        this.put(rng.pick([0x63, 0x6D, 0x4D]), ...long(name.length), ...name)
      }
      }

      break
    }

    default: {
      // A Time-like _dump with ivars.
      this.put(0x49, 0x75)
      this.symbol('Time')
      this.put(...long(8), ...rng.bytes(8), ...long(1))
      this.symbol('zone')
      this.string('UTC', 'bin')
      this.objects++
    }
    }
  }

  private float(value: number): void {
    let text = String(value)
    if (Number.isNaN(value)) text = 'nan'
    else if (value === Infinity) text = 'inf'
    else if (value === -Infinity) text = '-inf'
    else if (Object.is(value, -0)) text = '-0'
    this.objects++
    this.put(0x66, ...long(text.length), ...Buffer.from(text, 'latin1'))
  }

  private hash(depth: number): void {
    const {rng} = this
    this.objects++
    const withDefault = rng.chance(0.1)
    const n = rng.int(6)
    this.put(withDefault ? 0x7D : 0x7B, ...long(n))
    for (let i = 0; i < n; i++) {
      if (rng.chance(0.7)) this.string(rng.pick(NAMES), 'E')
      else this.value(0)
      this.value(depth)
    }

    if (withDefault) this.value(0)
  }

  private put(...bytes: number[]): void {
    for (const b of bytes) this.out.push(b)
  }

  private string(text: string, encoding: string): void {
    const bytes = encoding === 'enc' ? Buffer.from(text, 'latin1') : Buffer.from(text)
    this.objects++
    if (encoding === 'bin') {
      this.put(0x22, ...long(bytes.length), ...bytes)
      return
    }

    this.put(0x49, 0x22, ...long(bytes.length), ...bytes, ...long(1))
    if (encoding === 'enc') {
      this.symbol('encoding')
      this.string(this.rng.pick(['ISO-8859-1', 'Shift_JIS', 'Windows-1252', 'UTF-16LE', 'NoSuch', 'UTF-32']), 'bin')
    } else {
      this.symbol('E')
      this.put(encoding === 'E' ? 0x54 : 0x46)
    }
  }

  private symbol(name: string): void {
    const known = this.symbols.indexOf(name)
    if (known !== -1 && this.rng.chance(0.8)) {
      this.put(0x3B, ...long(known))
      return
    }

    const bytes = Buffer.from(name)
    this.symbols.push(name)
    const ascii = bytes.every(b => b < 0x80)
    if (ascii) {
      this.put(0x3A, ...long(bytes.length), ...bytes)
    } else {
      this.put(0x49, 0x3A, ...long(bytes.length), ...bytes, ...long(1))
      this.symbol('E')
      this.put(0x54)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// A msgpack writer.

function msgpackValue(value: unknown, out: number[]): void {
  if (value === null || value === undefined) {
    out.push(0xC0)
  } else if (typeof value === 'boolean') {
    out.push(value ? 0xC3 : 0xC2)
  } else if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value < 128) {
      out.push(value)
    } else if (Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31) {
      out.push(0xD2, ...Buffer.from(Int32Array.of(value).buffer).reverse())
    } else {
      const b = Buffer.alloc(8)
      b.writeDoubleBE(value)
      out.push(0xCB, ...b)
    }
  } else if (typeof value === 'bigint') {
    const b = Buffer.alloc(8)
    b.writeBigUInt64BE(BigInt.asUintN(64, value))
    out.push(value < 0n ? 0xD3 : 0xCF, ...b)
  } else if (typeof value === 'string') {
    const b = Buffer.from(value)
    if (b.length < 32) out.push(0xA0 | b.length, ...b)
    else out.push(0xDA, b.length >> 8, b.length & 0xFF, ...b)
  } else if (value instanceof Uint8Array) {
    out.push(0xC4, value.length, ...value)
  } else if (Array.isArray(value)) {
    out.push(0xDC, value.length >> 8, value.length & 0xFF)
    for (const v of value) msgpackValue(v, out)
  } else {
    const entries = Object.entries(value as object)
    out.push(0xDE, entries.length >> 8, entries.length & 0xFF)
    for (const [k, v] of entries) {
      msgpackValue(k, out)
      msgpackValue(v, out)
    }
  }
}

function msgpackOf(value: unknown): Buffer {
  const out: number[] = []
  msgpackValue(value, out)
  return Buffer.from(out)
}

function randomMsgpack(rng: Rng, depth: number, out: number[]): void {
  const kind = depth <= 0 ? rng.int(9) : rng.int(13)
  switch (kind) {
  case 0: {
    out.push(rng.pick([0xC0, 0xC2, 0xC3, rng.int(128), 0xE0 | rng.int(32)]))
    break
  }

  case 1: {
    out.push(0xCC + rng.int(8), ...rng.bytes([1, 2, 4, 8][rng.int(4)]))
    break
  }

  case 2: {
    out.push(rng.pick([0xCA, 0xCB]), ...rng.bytes(8))
    break
  }

  case 3:
  case 4: {
    msgpackValue(rng.pick([...TEXTS, ...NAMES]), out)
    break
  }

  case 5: {
    const n = rng.int(20)
    out.push(0xC4, n, ...rng.bytes(n))
    break
  }

  case 6: {
    // ext and timestamps of every length
    const n = rng.pick([1, 2, 4, 8, 12, 16, 3])
    if ([1, 2, 4, 8, 16].includes(n) && rng.chance(0.5)) out.push(0xD4 + [1, 2, 4, 8, 16].indexOf(n), rng.pick([0xFF, rng.int(256)]), ...rng.bytes(n))
    else out.push(0xC7, n, rng.pick([0xFF, rng.int(256)]), ...rng.bytes(n))
    break
  }

  case 7: {
    out.push(rng.pick([0xD9, 0xDA, 0xDB, 0xC5, 0xC6, 0xDC, 0xDD, 0xDE, 0xDF, 0xC8, 0xC9]), ...rng.bytes(4))
    break
  }

  case 8: {
    out.push(0xC1)
    break
  }

  case 9:
  case 10: {
    const n = rng.int(6)
    out.push(0x90 | n)
    for (let i = 0; i < n; i++) randomMsgpack(rng, depth - 1, out)
    break
  }

  default: {
    const n = rng.int(6)
    out.push(0x80 | n)
    for (let i = 0; i < n; i++) {
      if (rng.chance(0.8)) msgpackValue(rng.pick(NAMES), out)
      else randomMsgpack(rng, 1, out)
      randomMsgpack(rng, depth - 1, out)
    }
  }
  }
}

// ---------------------------------------------------------------------------------------------
// Mutations.

function mutate(input: Buffer, rng: Rng, rounds = 1 + rng.int(4)): Buffer {
  let b = Buffer.from(input)
  for (let r = 0; r < rounds; r++) {
    const at = b.length === 0 ? 0 : rng.int(b.length)
    switch (rng.int(8)) {
    case 0: {
      if (b.length > 0) b[at] ^= 1 << rng.int(8)
      break
    }

    case 1: {
      if (b.length > 0) b[at] = rng.pick([0, 0x7F, 0x80, 0xFF, 0x40, 0x3B, 0x49, 0x7B, 0x5B, 0x22, 0xDF, 0xDD, 0xC9, rng.int(256)])
      break
    }

    case 2: {
      const word = rng.pick([Buffer.from([4, 0xFF, 0xFF, 0xFF, 0x7F]), Buffer.from([0xFC, 0, 0, 0, 0x80]), Buffer.from([0xFF, 0xFF, 0xFF, 0xFF]), Buffer.from([0x7F])])
      b = Buffer.concat([b.subarray(0, at), word, b.subarray(Math.min(b.length, at + word.length))])
      break
    }

    case 3: {
      b = Buffer.concat([b.subarray(0, at), rng.bytes(1 + rng.int(16)), b.subarray(at)])
      break
    }

    case 4: {
      b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rng.int(32))])
      break
    }

    case 5: {
      b = b.subarray(0, at)
      break
    }

    case 6: {
      const chunk = b.subarray(at, at + 1 + rng.int(16))
      b = Buffer.concat([b.subarray(0, at), ...Array.from({length: rng.pick([2, 10, 100, 1000])}, () => chunk), b.subarray(at)])
      break
    }

    default: {
      const other = rng.pick(marshalSeeds)
      const from = rng.int(other.length + 1)
      b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + 1 + rng.int(64)), b.subarray(at + rng.int(8))])
    }
    }
  }

  return b
}

interface Case {
  family: string
  reader: 'marshal' | 'msgpack'
  value: Buffer
}

function generate(rng: Rng): Case {
  switch (rng.int(10)) {
  case 0: {
    const prefix = rng.pick([Buffer.from([4, 8]), Buffer.alloc(0), Buffer.from([0x80]), Buffer.from([0xDE])])
    return {family: 'random bytes', reader: rng.pick(['marshal', 'msgpack'] as const), value: Buffer.concat([prefix, rng.bytes(rng.size())])}
  }

  case 1:
  case 2: {
    return {family: 'fixture mutation', reader: 'marshal', value: mutate(rng.pick(marshalSeeds), rng)}
  }

  case 3:
  case 4: {
    const stream = new MarshalWriter(rng).session(rng.int(5)).bytes()
    return {family: 'generated Marshal', reader: 'marshal', value: rng.chance(0.4) ? mutate(stream, rng) : stream}
  }

  case 5: {
    // An Entry whose @value is a compressed dump, as Rails writes it: the inner stream is parsed too.
    const inner = new MarshalWriter(rng).session(3).bytes()
    return {family: 'inflated Entry value', reader: 'marshal', value: rng.chance(0.5) ? mutate(inner, rng) : inflateSync(deflateSync(inner))}
  }

  case 6:
  case 7: {
    const out: number[] = []
    randomMsgpack(rng, rng.int(5), out)
    const value = Buffer.from(out)
    return {family: 'generated msgpack', reader: 'msgpack', value: rng.chance(0.3) ? mutate(value, rng) : value}
  }

  default: {
    const value = msgpackOf(rng.pick(flaskData))
    return {family: 'Flask session msgpack', reader: 'msgpack', value: rng.chance(0.7) ? mutate(value, rng) : value}
  }
  }
}

// ---------------------------------------------------------------------------------------------
// Hostile probes, each with what it must give ('' = a value).

interface Probe {
  expect: RegExp | string
  name: string
  reader: 'marshal' | 'msgpack'
  value: Buffer
}

const mHeader = Buffer.from([4, 8])
const cat = (...parts: Array<Buffer | number[]>): Buffer => Buffer.concat(parts.map(p => (Buffer.isBuffer(p) ? p : Buffer.from(p))))
/** `pattern` n times, as one Buffer (spreading 100,000 arrays would overflow the stack). */
const times = (n: number, pattern: ((i: number) => number[]) | number[]): Buffer => {
  if (typeof pattern === 'function') return Buffer.concat(Array.from({length: n}, (_, i) => Buffer.from(pattern(i))))
  const out = Buffer.alloc(n * pattern.length)
  for (let i = 0; i < n; i++) out.set(pattern, i * pattern.length)
  return out
}

function * probes(): Generator<Probe> {
  const marshal = (name: string, expect: RegExp | string, ...parts: Array<Buffer | number[]>): Probe => ({
    expect, name, reader: 'marshal', value: cat(mHeader, ...parts),
  })
  const msgpack = (name: string, expect: RegExp | string, ...parts: Array<Buffer | number[]>): Probe => ({
    expect, name, reader: 'msgpack', value: cat(...parts),
  })
  for (const type of [0x22, 0x5B, 0x7B, 0x7D, 0x3A, 0x66, 0x2F, 0x63]) {
    yield marshal(`Marshal ${String.fromCharCode(type)} declaring 2^31 - 1`, /too short/, [type, 4, 0xFF, 0xFF, 0xFF, 0x7F])
  }

  yield marshal('Marshal Bignum of 2^31 shorts', /too short/, [0x6C, 0x2B, 4, 0xFF, 0xFF, 0xFF, 0x7F])
  yield marshal('Marshal Bignum of 1 MiB', '', [0x6C, 0x2B, 3, 0, 0, 8], Buffer.alloc(MiB, 0xFF))
  yield marshal('Marshal 100,000 nested Arrays', /deeper/, times(100_000, [0x5B, 6]), [0x30])
  yield marshal('Marshal 50,000 nested Hashes', /deeper/, times(50_000, [0x7B, 6, 0x22, 6, 0x6B]), [0x30])
  yield marshal('Marshal 100,000 nested I wrappers', /deeper/, Buffer.alloc(100_000, 0x49), [0x30])
  yield marshal('Marshal 100,000 e wrappers (one list of modules)', '', times(100_000, [0x65, 0x3A, 6, 0x4D]), [0x30])
  // Link flood: 2 M links to one Array, then 60 doublings (a billion laughs in a few bytes).
  yield marshal('Marshal 2 M links', /maxItems/, [0x5B, 3, 0x80, 0x84, 0x1E, 0x5B, 0], times(2_000_000, [0x40, 6]))
  yield marshal('Marshal links doubling x60', /maxItems/, [0x5B, 0x42, 0x5B, 6, 0x30], times(60, i => [0x5B, 7, 0x40, i + 6, 0x40, i + 6]))
  yield marshal('Marshal 900,000 symlinks', '', [0x5B, 3, 0xA0, 0xBB, 0x0D, 0x3A, 6, 0x61], times(899_999, [0x3B, 0]))
  yield marshal('Marshal 300,000 distinct symbols', '', [0x5B, 3, 0xE0, 0x93, 0x04], times(300_000, i => [0x3A, 8, 0x61 + (i % 26), 0x61 + (Math.floor(i / 26) % 26), 0x61 + (Math.floor(i / 676) % 26)]))
  yield marshal('Marshal String of 16 MiB', '', [0x22, 4, 0, 0, 0, 1], Buffer.alloc(16 * MiB, 0x61))
  yield marshal('Marshal Float of 200,000 digits', '', [0x66, 3, 0x40, 0x0D, 0x03], Buffer.alloc(200_000, 0x31))
  yield marshal('Marshal __proto__ keys and ivars', '', [0x7B, 7, 0x22, 0x0E], Buffer.from('__proto__'), [0x7B, 6, 0x22, 0x0D], Buffer.from('polluted'), [0x54, 0x22, 0x10], Buffer.from('constructor'), [0x6F, 0x3A, 0x0B], Buffer.from('Object'), [6, 0x3A, 0x0E], Buffer.from('__proto__'), [0x54])
  for (const gadget of GADGETS) {
    yield marshal(`Marshal gadget ${gadget}`, '', [0x6F, 0x3A, gadget.length + 5], Buffer.from(gadget), [6, 0x3A, 0x0C], Buffer.from('@source'), [0x22, 0x13], Buffer.from('`touch /tmp/x`'))
  }

  yield msgpack('msgpack array32 of 2^32 - 1', /truncated/, [0xDD, 0xFF, 0xFF, 0xFF, 0xFF])
  yield msgpack('msgpack map32 of 2^32 - 1', /truncated/, [0xDF, 0xFF, 0xFF, 0xFF, 0xFF])
  yield msgpack('msgpack str32 of 2^32 - 1', /truncated/, [0xDB, 0xFF, 0xFF, 0xFF, 0xFF])
  yield msgpack('msgpack bin32 of 2^32 - 1', /truncated/, [0xC6, 0xFF, 0xFF, 0xFF, 0xFF])
  yield msgpack('msgpack ext32 of 2^32 - 1', /truncated/, [0xC9, 0xFF, 0xFF, 0xFF, 0xFF, 1])
  yield msgpack('msgpack 1 M nested arrays', /deeper/, Buffer.alloc(MiB, 0x91), [0xC0])
  yield msgpack('msgpack 500,000 nested maps', /deeper/, times(500_000, [0x81, 0xA1, 0x6B]), [0xC0])
  yield msgpack('msgpack 2 M nils', /maxItems/, [0xDD, 0, 0x1E, 0x84, 0x80], Buffer.alloc(2_000_000, 0xC0))
  yield msgpack('msgpack __proto__ keys', '', [0x82, 0xA9], Buffer.from('__proto__'), [0x81, 0xA8], Buffer.from('polluted'), [0xC3, 0xAB], Buffer.from('constructor'), [0x80])
}

// ---------------------------------------------------------------------------------------------
// Well-formedness of a result.

function malformed(value: unknown): string | undefined {
  const done = new Set<object>()
  const path = new Set<object>()
  let nodes = 0
  const walk = (v: unknown): string | undefined => {
    if (v === null || ['bigint', 'boolean', 'number', 'string'].includes(typeof v)) return undefined
    if (typeof v !== 'object') return `a ${typeof v} in the result`
    if (v instanceof Uint8Array) return Object.getPrototypeOf(v) === Uint8Array.prototype ? undefined : 'a Buffer, not a plain Uint8Array'
    if (path.has(v)) return 'a cycle'
    if (done.has(v)) return undefined
    if (++nodes > 2_000_000) return 'too many distinct nodes'
    const proto = Object.getPrototypeOf(v)
    if (Array.isArray(v)) {
      if (proto !== Array.prototype) return 'an array with another prototype'
    } else if (proto === Object.prototype) {
      if (typeof (v as {__class__?: unknown}).__class__ !== 'string') return 'an inert object without a string __class__'
    } else if (proto !== null) {
      return 'an object with a foreign prototype'
    }

    path.add(v)
    for (const child of Object.values(v)) {
      const problem = walk(child)
      if (problem) return problem
    }

    path.delete(v)
    done.add(v)
    return undefined
  }

  return walk(value)
}

const memoryNow = (): number => {
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

function repro(value: Buffer): string {
  return value.length <= 160 ? `base64 ${value.toString('base64')}` : `${value.length} bytes starting ${value.subarray(0, 96).toString('base64')}`
}

describe('Marshal and msgpack reader fuzzing (random and hostile input)', function () {
  this.timeout(120_000)
  let gc: () => void = () => {}
  let baseline = 0
  let baselineHeap = 0
  let started = 0
  const casesBy = new Map<string, number>()
  const refusedBy = new Map<string, number>()
  const stats = {
    cases: 0, codecCases: 0, escapes: 0, failures: [] as string[], memoryPeak: 0, slowest: {family: '', ms: 0}, thrown: 0,
  }

  before(() => {
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as () => void
    gc()
    baseline = memoryNow()
    baselineHeap = process.memoryUsage().heapUsed
    started = performance.now()
    console.log(`      fuzz seed ${SEED} (replay: SESSIONCTL_FUZZ_SEED=${SEED})`)
  })

  /** One value through one reader: the error message it threw ('' for a value), or undefined after recording a failure. */
  function runCase(reader: 'marshal' | 'msgpack', value: Buffer, family: string, label: string, bound: number): string | undefined {
    let outcome: {error: unknown} | {result: unknown} = {result: undefined}
    let ms = 0
    for (let attempt = 0; attempt < 2; attempt++) {
      const start = performance.now()
      try {
        outcome = {result: reader === 'marshal' ? parseMarshal(value) : parseMsgpack(value)}
      } catch (error) {
        outcome = {error}
      }

      ms = performance.now() - start
      if (ms <= bound) break
    }

    stats.cases++
    casesBy.set(family, (casesBy.get(family) ?? 0) + 1)
    if (ms > stats.slowest.ms) stats.slowest = {family: `${reader} ${family === 'limit probe' ? label : family}`, ms}
    const where = `${reader} on ${family} (${label}, seed ${SEED})`
    if (ms > bound) stats.failures.push(`${where}: took ${ms.toFixed(1)} ms; input ${repro(value)}`)
    if ('error' in outcome) {
      const {error} = outcome
      const own = reader === 'marshal' ? error instanceof MarshalError : error instanceof MsgpackError
      if (!own) {
        stats.escapes++
        stats.failures.push(`${where}: threw ${(error as Error)?.stack ?? String(error)}; input ${repro(value)}`)
        return undefined
      }

      stats.thrown++
      refusedBy.set(family, (refusedBy.get(family) ?? 0) + 1)
      if (typeof (error as MarshalError).limit !== 'boolean') stats.failures.push(`${where}: error without a limit flag`)
      return (error as Error).message || '(no message)'
    }

    const problem = malformed(outcome.result)
    if (problem) stats.failures.push(`${where}: ${problem}; input ${repro(value)}`)
    return ''
  }

  const codecs = [createRailsCodec(), createFlaskCodec()]
  /** The rails and flask codecs never throw: every input is a session or a reason. */
  function runCodecs(value: Buffer, label: string): void {
    for (const codec of codecs) {
      stats.codecCases++
      try {
        const decoded = codec.decode(value)
        const wellFormed = decoded.ok
          ? (decoded.userId === null || typeof decoded.userId === 'string') && Object.getPrototypeOf(decoded.data) === null
          : typeof decoded.reason === 'string' && decoded.reason.length > 0
        if (!wellFormed) stats.failures.push(`${codec.name} codec on ${label} (seed ${SEED}): malformed result; input ${repro(value)}`)
      } catch (error) {
        stats.escapes++
        stats.failures.push(`${codec.name} codec on ${label} (seed ${SEED}): threw ${(error as Error)?.stack ?? String(error)}; input ${repro(value)}`)
      }
    }
  }

  it(`reads ${INPUTS.toLocaleString('en-US')} generated inputs: only the reader's own error, well-formed results, each fast`, () => {
    const failed = stats.failures.length
    for (let i = 0; i < INPUTS; i++) {
      const rng = new Rng(SEED, i)
      const {family, reader, value} = generate(rng)
      runCase(reader, value, family, `case ${i}`, CASE_MS)
      runCodecs(value, `case ${i}`)
      // activerecord-session_store's Base64.encode64 text of the same bytes (60 characters a line).
      if (reader === 'marshal') runCodecs(Buffer.from(value.toString('base64').replaceAll(/.{60}/g, '$&\n')), `case ${i} (base64)`)
      // Both readers see every input: neither may be confused by the other's format.
      runCase(reader === 'marshal' ? 'msgpack' : 'marshal', value, `${family} (other reader)`, `case ${i}`, CASE_MS)
      if (i % 64 === 0) {
        const grown = memoryNow() - baseline
        stats.memoryPeak = Math.max(stats.memoryPeak, grown)
        if (grown > RUN_MEMORY) stats.failures.push(`case ${i}: memory grew by ${(grown / MiB).toFixed(0)} MiB`)
      }
    }

    assert.deepEqual(stats.failures.slice(failed, failed + 10), [])
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
  })

  it('refuses or reads each hostile probe quickly and in bounded memory', () => {
    const failed = stats.failures.length
    for (const probe of probes()) {
      gc()
      const start = memoryNow()
      const message = runCase(probe.reader, probe.value, 'limit probe', probe.name, PROBE_MS)
      runCodecs(probe.value, probe.name)
      const grown = memoryNow() - start - probe.value.length
      stats.memoryPeak = Math.max(stats.memoryPeak, grown)
      if (grown > CASE_MEMORY) stats.failures.push(`${probe.name}: memory grew by ${(grown / MiB).toFixed(0)} MiB`)
      if (message === undefined) continue
      const ok = typeof probe.expect === 'string' ? message === probe.expect : probe.expect.test(message)
      if (!ok) stats.failures.push(`${probe.name}: gave ${JSON.stringify(message || 'a value')}, expected ${String(probe.expect || 'a value')}`)
    }

    assert.deepEqual(stats.failures.slice(failed, failed + 10), [])
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    assert.equal(Object.hasOwn(Object.prototype, 'polluted'), false)
  })

  it('keeps __proto__ keys and ivars as data', () => {
    const hash = parseMarshal(cat(mHeader, [0x7B, 6, 0x22, 0x0E], Buffer.from('__proto__'), [0x7B, 6, 0x22, 0x0D], Buffer.from('polluted'), [0x54])) as Record<string, unknown>
    assert.equal(Object.getPrototypeOf(hash), null)
    assert.ok(Object.hasOwn(hash, '__proto__'))
    const map = parseMsgpack(cat([0x81, 0xA9], Buffer.from('__proto__'), [0x81, 0xA8], Buffer.from('polluted'), [0xC3])) as Record<string, unknown>
    assert.equal(Object.getPrototypeOf(map), null)
    assert.ok(Object.hasOwn(map, '__proto__'))
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
  })

  it('keeps nothing after the run, and logs the summary', () => {
    gc()
    const retained = process.memoryUsage().heapUsed - baselineHeap
    const seconds = (performance.now() - started) / 1000
    const {cases, codecCases, escapes, memoryPeak, slowest, thrown} = stats
    console.log(`      fuzz-marshal: ${cases.toLocaleString('en-US')} reader cases (${thrown.toLocaleString('en-US')} refused) and ${codecCases.toLocaleString('en-US')} rails/flask codec cases in ${seconds.toFixed(1)} s, slowest ${slowest.ms.toFixed(1)} ms (${slowest.family}), ${escapes} escapes; memory peak +${(memoryPeak / MiB).toFixed(0)} MiB, retained ${(retained / MiB).toFixed(1)} MiB; seed ${SEED}`)
    if (process.env.SESSIONCTL_FUZZ_VERBOSE) for (const [family, n] of casesBy) console.log(`        ${family}: ${n} cases, ${refusedBy.get(family) ?? 0} refused`)
    assert.equal(escapes, 0)
    assert.ok(retained < RETAINED_BOUND, `${(retained / MiB).toFixed(1)} MiB retained after the run`)
    assert.ok(cases >= INPUTS * 2, `${cases} cases`)
  })
})
