/* eslint-disable no-bitwise -- byte-level generators of serialization streams */
/**
 * Fuzzing of the Java serialization reader: random bytes, mutations of the JDK-written blobs of
 * spring.json, generated streams (well formed, then mutated), and limit probes (huge declared
 * lengths, deep nesting, reference floods, `__proto__`/`constructor` keys and fields, gadget class
 * names). Per case: only JavaSerializationError escapes, the result is well formed (acyclic, maps
 * with a null prototype, objects inert), nothing is polluted, the case is fast and its memory bounded.
 *
 * Every case draws from its own PRNG, seeded from the run's seed and the case number, so a failure
 * names both and replays alone: SESSIONCTL_FUZZ_SEED=<seed> (SESSIONCTL_FUZZ_CASES=<n> for a
 * longer run).
 */
import {strict as assert} from 'node:assert'
import {randomInt} from 'node:crypto'

import {encodeFieldMap} from '../../src/formats/field-map.js'
import {JavaSerializationError, parseJavaSerialized} from '../../src/formats/java-serialization.js'
import {PRINCIPAL_NAME_INDEX_NAME, SPRING_SECURITY_CONTEXT} from '../../src/formats/spring-session.js'
import {createSpringCodec} from '../../src/frameworks/spring.js'
import {
  HEADER, i32, i64, jblock, jbytes, jdesc, jref, jstring, SC, springBlobs, TC, u16,
} from '../support/java-serialization.js'
import {Rng} from '../support/rng.js'

const MiB = 1024 * 1024
const INPUTS = Number(process.env.SESSIONCTL_FUZZ_CASES ?? 6000)
const SEED = Number(process.env.SESSIONCTL_FUZZ_SEED ?? randomInt(2 ** 31))
const CASE_MS = 50
const PROBE_MS = 1000
const CASE_MEMORY = 128 * MiB
const MAX_DEPTH = 200

const blobs = springBlobs().map(b => b.bytes)

// ---------------------------------------------------------------------------------------------
// A generator of well-formed streams that keeps count of the handles it assigns.

const NAMES = ['__proto__', 'constructor', '__class__', '__data__', 'prototype', 'toString', 'hasOwnProperty', 'value', 'name', 'x']
const GADGETS = [
  'org.apache.commons.collections.functors.InvokerTransformer',
  'org.apache.commons.collections4.functors.ChainedTransformer',
  'com.sun.org.apache.xalan.internal.xsltc.trax.TemplatesImpl',
  'java.lang.Runtime',
  'java.lang.ProcessBuilder',
  'sun.reflect.annotation.AnnotationInvocationHandler',
  'org.springframework.beans.factory.ObjectFactory',
  'java.net.URL',
]

interface ClassInfo {
  fields: Array<[string, string]>
  handle: number
  superName: string | undefined
}

class Gen {
  private readonly classes = new Map<string, ClassInfo>()
  private handles = 0
  private readonly pending = new Map<string, Array<[string, string]>>()
  private readonly values: number[] = []

  constructor(private readonly rng: Rng) {}

  stream(): Buffer {
    return Buffer.concat([HEADER, this.value(0)])
  }

  private boxed(name: string, type: string, data: Buffer): Buffer {
    return this.object(this.desc(name, SC.SERIALIZABLE, [[type, 'value']], 'java.lang.Number'), data)
  }

  /** A descriptor (with its superclasses), or a reference to the one already written for that name. */
  private desc(name: string, flags: number, fields: Array<[string, string]>, superName?: string, superFlags = SC.SERIALIZABLE): Buffer {
    const known = this.classes.get(name)
    if (known !== undefined) return jref(known.handle)
    const handle = this.handles++
    this.classes.set(name, {fields, handle, superName})
    // Object fields take one handle each for their type name, written before the superclass.
    this.handles += fields.filter(([type]) => type === 'L' || type === '[').length
    const typed = fields.map(([type, field]) => [type, field, type === '[' ? '[Ljava/lang/Object;' : 'Ljava/lang/Object;'] as [string, string, string])
    const superDesc = superName === undefined ? Buffer.from([TC.NULL]) : this.desc(superName, superFlags, this.classes.get(superName)?.fields ?? [])
    return jdesc(name, flags, typed, superDesc)
  }

  private descWithPending(name: string, fields: Array<[string, string]>, superName: string | undefined): Buffer {
    if (superName !== undefined && !this.classes.has(superName)) {
      const handle = this.handles++
      const superFields = this.pending.get(superName)!
      // The subclass's descriptor comes first in the stream, so its handle is the lower one: write it by hand.
      this.classes.set(name, {fields, handle, superName})
      this.handles += fields.filter(([type]) => type === 'L').length
      const ownTyped = fields.map(([type, field]) => [type, field, 'Ljava/lang/Object;'] as [string, string, string])
      const superDesc = this.desc(superName, SC.SERIALIZABLE, superFields)
      return jdesc(name, SC.SERIALIZABLE, ownTyped, superDesc)
    }

    return this.desc(name, SC.SERIALIZABLE, fields, superName)
  }

  private fieldsOf(name: string | undefined): Array<[string, string]> {
    if (name === undefined) return []
    const info = this.classes.get(name)!
    return [...this.fieldsOf(info.superName), ...info.fields]
  }

  private object(desc: Buffer, ...data: Buffer[]): Buffer {
    this.values.push(this.handles++)
    return Buffer.concat([Buffer.from([TC.OBJECT]), desc, ...data])
  }

  private randomFields(): Array<[string, string]> {
    const {rng} = this
    const names = [...new Set(Array.from({length: rng.int(4)}, () => rng.pick(NAMES)))]
    const typed = names.map(n => [rng.pick(['I', 'Z', 'L']), n] as [string, string])
    // Primitives before objects, as ObjectStreamClass requires.
    return [...typed.filter(([t]) => t !== 'L'), ...typed.filter(([t]) => t === 'L')]
  }

  private string(text: string): Buffer {
    this.values.push(this.handles++)
    return jstring(text)
  }

  private text(): string {
    const {rng} = this
    if (rng.chance(0.3)) return rng.pick(NAMES)
    const chars = ['a', 'Z', '0', ' ', 'é', '✓', '\u0000', '\uD83D\uDE00', '\uD800']
    return Array.from({length: rng.int(8)}, () => rng.pick(chars)).join('')
  }

  private value(depth: number): Buffer {
    const {rng} = this
    const kind = depth > 6 || rng.chance(0.3) ? rng.int(6) : rng.int(12)
    switch (kind) {
    case 0: {
      return Buffer.from([TC.NULL])
    }

    case 1: {
      return this.string(this.text())
    }

    case 2: {
      return this.boxed('java.lang.Integer', 'I', i32(rng.u32()))
    }

    case 3: {
      return this.boxed('java.lang.Long', 'J', i64((BigInt(rng.u32()) << 32n) | BigInt(rng.u32())))
    }

    case 4: {
      return this.values.length > 0 ? jref(rng.pick(this.values)) : Buffer.from([TC.NULL])
    }

    case 5: {
      const desc = this.desc('java.util.Date', SC.SERIALIZABLE | SC.WRITE_METHOD, [])
      return this.object(desc, jblock(i64(BigInt(rng.u32()) * 1000n)), Buffer.from([TC.ENDBLOCKDATA]))
    }

    case 6: { // HashMap, its entries read after its handle
      const desc = this.desc('java.util.HashMap', SC.SERIALIZABLE | SC.WRITE_METHOD, [['F', 'loadFactor'], ['I', 'threshold']])
      const head = this.object(desc, Buffer.from('3f4000000000000c', 'hex'))
      const n = rng.int(5)
      const pairs: Buffer[] = []
      for (let i = 0; i < n; i++) {
        // Keys with a text form: strings, boxed ints, null (an array key is refused, as documented).
        let key: Buffer = Buffer.from([TC.NULL])
        if (rng.chance(0.8)) key = this.string(this.text())
        else if (rng.chance(0.5)) key = this.boxed('java.lang.Integer', 'I', i32(rng.u32()))
        pairs.push(key, this.value(depth + 1))
      }

      const sizes = jblock(Buffer.concat([i32(16), i32(n)]))
      return Buffer.concat([head, sizes, ...pairs, Buffer.from([TC.ENDBLOCKDATA])])
    }

    case 7: { // ArrayList
      const desc = this.desc('java.util.ArrayList', SC.SERIALIZABLE | SC.WRITE_METHOD, [['I', 'size']])
      const n = rng.int(5)
      const head = this.object(desc, i32(n), jblock(i32(n)))
      const items = Array.from({length: n}, () => this.value(depth + 1))
      return Buffer.concat([head, ...items, Buffer.from([TC.ENDBLOCKDATA])])
    }

    case 8: { // Object[]
      const desc = this.desc('[Ljava.lang.Object;', SC.SERIALIZABLE, [])
      this.values.push(this.handles++)
      const n = rng.int(5)
      const items = Array.from({length: n}, () => this.value(depth + 1))
      return Buffer.concat([Buffer.from([TC.ARRAY]), desc, i32(n), ...items])
    }

    case 9: { // primitive arrays
      const [name, size] = rng.pick([['[B', 1], ['[I', 4], ['[J', 8], ['[Z', 1], ['[C', 2], ['[D', 8]] as const)
      const desc = this.desc(name, SC.SERIALIZABLE, [])
      this.values.push(this.handles++)
      const n = rng.int(6)
      return Buffer.concat([Buffer.from([TC.ARRAY]), desc, i32(n), rng.bytes(n * size)])
    }

    case 10: { // enum (its descriptor has serialVersionUID 0)
      const name = rng.pick(['x.Color', 'x.Role'])
      const known = this.classes.get(name)
      let desc: Buffer
      if (known === undefined) {
        this.classes.set(name, {fields: [], handle: this.handles++, superName: undefined})
        const base = this.classes.get('java.lang.Enum')
        let enumDesc: Buffer
        if (base === undefined) {
          this.classes.set('java.lang.Enum', {fields: [], handle: this.handles++, superName: undefined})
          enumDesc = jbytes(TC.CLASSDESC, 'java.lang.Enum', i64(0n), SC.SERIALIZABLE | SC.ENUM, u16(0), TC.ENDBLOCKDATA, TC.NULL)
        } else {
          enumDesc = jref(base.handle)
        }

        desc = Buffer.concat([jbytes(TC.CLASSDESC, name, i64(0n), SC.SERIALIZABLE | SC.ENUM, u16(0), TC.ENDBLOCKDATA), enumDesc])
      } else {
        desc = jref(known.handle)
      }

      this.values.push(this.handles++)
      return Buffer.concat([Buffer.from([TC.ENUM]), desc, this.string(this.text())])
    }

    default: { // an object of a made-up or gadget class, maybe with a gadget superclass
      const name = `${rng.pick(GADGETS)}$${rng.int(3)}`
      let desc: Buffer
      if (this.classes.has(name)) {
        desc = this.desc(name, SC.SERIALIZABLE, [])
      } else {
        const superName = rng.chance(0.5) ? rng.pick(GADGETS) : undefined
        if (superName !== undefined && !this.classes.has(superName)) {
          // Declared first so that desc() finds its fields; written as part of the subclass's descriptor.
          this.pending.set(superName, this.randomFields())
        }

        desc = this.descWithPending(name, this.randomFields(), superName)
      }

      const head = this.object(desc)
      const data = this.fieldsOf(name).map(([type]) => {
        if (type === 'I') return i32(rng.u32())
        if (type === 'Z') return Buffer.from([rng.int(2)])
        return this.value(depth + 1)
      })
      // Primitive values come before object values in each class's data, as the fields are ordered.
      return Buffer.concat([head, ...data])
    }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Mutations.

const TYPE_CODES: number[] = Object.values(TC)
const INTERESTING_32 = [0, 1, 0x7F, 0x80, 0xFF, 0xFF_FF, 0x7E_00_00, 0x7E_00_01, 0x7E_FF_FF, 0x7F_FF_FF_FF, -1, -0x80_00_00_00]

function mutate(input: Buffer, rng: Rng): Buffer {
  let b = Buffer.from(input)
  const rounds = 1 + rng.int(4)
  for (let r = 0; r < rounds; r++) {
    const at = b.length === 0 ? 0 : rng.int(b.length)
    switch (rng.int(8)) {
    case 0: {
      if (b.length > 0) b[at] ^= 1 << rng.int(8)
      break
    }

    case 1: {
      if (b.length > 0) b[at] = rng.pick([0, 1, 0x7F, 0x80, 0xC0, 0xE0, 0xED, 0xFF, ...TYPE_CODES])
      break
    }

    case 2: {
      const word = rng.chance(0.3) ? i64(rng.pick([0n, -1n, 2n ** 62n, (2n ** 63n) - 1n, BigInt(rng.u32())])) : i32(rng.pick(INTERESTING_32))
      b = Buffer.concat([b.subarray(0, at), word, b.subarray(Math.min(b.length, at + word.length))])
      break
    }

    case 3: {
      const insert = rng.chance(0.5) ? rng.bytes(1 + rng.int(8)) : Buffer.from([rng.pick(TYPE_CODES)])
      b = Buffer.concat([b.subarray(0, at), insert, b.subarray(at)])
      break
    }

    case 4: {
      b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rng.int(16))])
      break
    }

    case 5: {
      b = b.subarray(0, at)
      break
    }

    case 6: {
      const chunk = b.subarray(at, at + 1 + rng.int(16))
      const times = rng.pick([2, 3, 10, 100])
      b = Buffer.concat([b.subarray(0, at), ...Array.from({length: times}, () => chunk), b.subarray(at)])
      break
    }

    default: { // splice in a piece of another blob
      const other = rng.pick(blobs)
      const from = rng.int(other.length)
      b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + 1 + rng.int(64)), b.subarray(at)])
    }
    }
  }

  return b
}

function generated(rng: Rng): Buffer {
  const kind = rng.int(10)
  if (kind === 0) return rng.bytes(rng.size())
  if (kind === 1) return Buffer.concat([HEADER, rng.bytes(rng.size())])
  if (kind === 2) return Buffer.concat([HEADER, Buffer.from(Array.from({length: 1 + rng.int(64)}, () => rng.pick(TYPE_CODES)))])
  if (kind <= 5) return mutate(rng.pick(blobs), rng)
  const stream = new Gen(rng).stream()
  return kind <= 7 ? stream : mutate(stream, rng)
}

// ---------------------------------------------------------------------------------------------
// Limit probes: each a hostile stream, read or refused quickly, in bounded memory.

const OBJECTS = jdesc('[Ljava.lang.Object;', SC.SERIALIZABLE)
const HASHMAP = jdesc('java.util.HashMap', SC.SERIALIZABLE | SC.WRITE_METHOD, [['F', 'loadFactor'], ['I', 'threshold']])

function laughs(levels: number): Buffer {
  const parts: Buffer[] = [HEADER]
  for (let k = levels; k >= 1; k--) parts.push(Buffer.from([TC.ARRAY]), k === levels ? OBJECTS : jref(0), i32(2))
  parts.push(jstring('lol'))
  for (let k = 1; k <= levels; k++) parts.push(jref(levels + 2 - k))
  return Buffer.concat(parts)
}

function nestedArrays(n: number): Buffer {
  const opens = Array.from({length: n}, (_, i) => Buffer.concat([Buffer.from([TC.ARRAY]), i === 0 ? OBJECTS : jref(0), i32(1)]))
  return Buffer.concat([HEADER, ...opens, Buffer.from([TC.NULL])])
}

function superChain(n: number): Buffer {
  let desc: Buffer = Buffer.from([TC.NULL])
  for (let i = 0; i < n; i++) desc = jdesc(`C${i}`, SC.SERIALIZABLE, [], desc)
  return Buffer.concat([HEADER, Buffer.from([TC.OBJECT]), desc])
}

function protoMap(): Buffer {
  // {__proto__: {polluted: 1}, constructor: {prototype: {polluted: 1}}}; handles: 0 desc, 1 map.
  const fields = Buffer.from('3f4000000000000c', 'hex')
  const size = (n: number): Buffer => jblock(Buffer.concat([i32(16), i32(n)]))
  const end = Buffer.from([TC.ENDBLOCKDATA])
  const inner = (key: string): Buffer => Buffer.concat([Buffer.from([TC.OBJECT]), jref(0), fields, size(1), jstring(key), jstring('1'), end])
  return Buffer.concat([HEADER, Buffer.from([TC.OBJECT]), HASHMAP, fields, size(2), jstring('__proto__'), inner('polluted'), jstring('constructor'), inner('prototype'), end])
}

const probes: Array<[string, Buffer]> = [
  ['billion laughs (2^60 as a tree)', laughs(60)],
  ['nested arrays beyond maxDepth', nestedArrays(5000)],
  ['superclass chain beyond maxDepth', superChain(5000)],
  ['huge long string length', Buffer.concat([HEADER, Buffer.from([TC.LONGSTRING]), i64(2n ** 62n)])],
  ['huge array length', Buffer.concat([HEADER, Buffer.from([TC.ARRAY]), jdesc('[J', SC.SERIALIZABLE), i32(0x7F_FF_FF_FF)])],
  ['huge block data length', Buffer.concat([HEADER, Buffer.from([TC.OBJECT]), jdesc('A', SC.SERIALIZABLE | SC.WRITE_METHOD), Buffer.from([TC.BLOCKDATALONG]), i32(0x7F_FF_FF_FF)])],
  ['a million nulls in an array', Buffer.concat([HEADER, Buffer.from([TC.ARRAY]), OBJECTS, i32(1_100_000), Buffer.alloc(1_100_000, TC.NULL)])],
  ['a million-element int[]', Buffer.concat([HEADER, Buffer.from([TC.ARRAY]), jdesc('[I', SC.SERIALIZABLE), i32(900_000), Buffer.alloc(3_600_000)])],
  ['a reference flood', Buffer.concat([HEADER, Buffer.from([TC.ARRAY]), OBJECTS, i32(500_000), ...Array.from({length: 500_000}, () => jref(0))])],
  ['many proxy interfaces', Buffer.concat([HEADER, Buffer.from([TC.PROXYCLASSDESC]), i32(65_535), ...Array.from({length: 65_535}, () => u16(0)), Buffer.from([TC.ENDBLOCKDATA, TC.NULL])])],
  ['a 16 MiB long string', Buffer.concat([HEADER, Buffer.from([TC.LONGSTRING]), i64(BigInt(16 * MiB)), Buffer.alloc(16 * MiB, 0xE2), Buffer.alloc(0)])],
  ['__proto__ and constructor keys', protoMap()],
]

// ---------------------------------------------------------------------------------------------
// Checks.

/** Why a result is not well formed, or undefined: acyclic, at most MAX_DEPTH deep, only inert shapes. */
function problem(value: unknown): string | undefined {
  const done = new Map<object, number>()
  const onPath = new Set<object>()
  const visit = (v: unknown): number | string => {
    if (typeof v === 'function' || typeof v === 'symbol' || v === undefined) return `a ${typeof v} in the result`
    if (typeof v !== 'object' || v === null || v instanceof Uint8Array) return 0
    const known = done.get(v)
    if (known !== undefined) return known
    if (onPath.has(v)) return 'a cycle'
    const proto = Object.getPrototypeOf(v)
    if (!Array.isArray(v) && proto !== null && !(proto === Object.prototype && typeof (v as {__class__?: unknown}).__class__ === 'string')) {
      return 'an object that is neither a null-prototype map nor an inert Java object'
    }

    onPath.add(v)
    let height = 0
    for (const child of Object.values(v)) {
      const h = visit(child)
      if (typeof h === 'string') return h
      height = Math.max(height, h)
    }

    onPath.delete(v)
    done.set(v, height + 1)
    return height + 1
  }

  const height = visit(value)
  if (typeof height === 'string') return height
  return height > MAX_DEPTH ? `nested ${height} deep` : undefined
}

interface Outcome {
  ms: number
  problem?: string
  refused: boolean
}

function run(input: Buffer): Outcome {
  const started = performance.now()
  try {
    const value = parseJavaSerialized(input)
    return {ms: performance.now() - started, problem: problem(value), refused: false}
  } catch (error) {
    const ms = performance.now() - started
    if (!(error instanceof JavaSerializationError)) return {ms, problem: `escaped ${(error as Error)?.name}: ${(error as Error)?.message}`, refused: true}
    if (typeof error.limit !== 'boolean' || error.message.length === 0) return {ms, problem: 'an error without limit flag or message', refused: true}
    return {ms, refused: true}
  }
}

const memory = (): number => {
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

const stats = {
  cases: 0, codecCases: 0, escapes: 0, probes: 0, read: 0, refused: 0, slow: 0,
}

describe('Java serialization reader fuzzing (random, mutated and hostile streams)', function () {
  this.timeout(120_000)

  it(`reads or refuses ${INPUTS.toLocaleString('en-US')} generated streams: only JavaSerializationError, well-formed results, each fast`, () => {
    const failures: string[] = []
    for (let i = 0; i < INPUTS; i++) {
      const input = generated(new Rng(SEED, i))
      let outcome = run(input)
      // Timed again before it counts: a GC pause is not the reader's.
      if (outcome.ms > CASE_MS) outcome = run(input)
      stats.cases++
      if (outcome.refused) stats.refused++
      else stats.read++
      if (outcome.problem?.startsWith('escaped')) stats.escapes++
      if (outcome.ms > CASE_MS) {
        stats.slow++
        failures.push(`case ${i}: ${outcome.ms.toFixed(1)} ms`)
      }

      if (outcome.problem !== undefined) failures.push(`case ${i}: ${outcome.problem} (input ${input.toString('hex').slice(0, 200)})`)
      if (failures.length >= 5) break
    }

    assert.deepEqual(failures, [], `SESSIONCTL_FUZZ_SEED=${SEED}`)
    // The generator's well-formed streams are read, not refused: the fuzz reaches past the header.
    assert.ok(stats.read > INPUTS / 10, `only ${stats.read} read`)
  })

  it('reads the generator\'s unmutated streams, every one', () => {
    for (let i = 0; i < 500; i++) {
      const input = new Gen(new Rng(SEED, INPUTS + i)).stream()
      const outcome = run(input)
      assert.equal(outcome.refused, false, `SESSIONCTL_FUZZ_SEED=${SEED} case ${INPUTS + i}: refused ${input.toString('hex').slice(0, 400)}`)
      assert.equal(outcome.problem, undefined)
    }
  })

  for (const [name, input] of probes) {
    it(`reads or refuses a probe quickly and in bounded memory: ${name}`, () => {
      const before = memory()
      let outcome = run(input)
      if (outcome.ms > PROBE_MS) outcome = run(input)
      stats.probes++
      if (outcome.problem?.startsWith('escaped')) stats.escapes++
      assert.equal(outcome.problem, undefined, name)
      assert.ok(outcome.ms < PROBE_MS, `${name}: ${outcome.ms.toFixed(0)} ms`)
      assert.ok(memory() - before < CASE_MEMORY, `${name}: ${((memory() - before) / MiB).toFixed(0)} MiB`)
    })
  }

  it('the spring codec reads or refuses every generated stream in every hash field, and mangled framing, never throwing', () => {
    const codecs = [createSpringCodec(), createSpringCodec({userPath: [SPRING_SECURITY_CONTEXT, 'authentication', 'principal', 'username']})]
    const fields = ['lastAccessedTime', 'maxInactiveInterval', `sessionAttr:${PRINCIPAL_NAME_INDEX_NAME}`, `sessionAttr:${SPRING_SECURITY_CONTEXT}`, 'sessionAttr:cart']
    const failures: string[] = []
    const cases = Math.ceil(INPUTS / 2)
    for (let i = 0; i < cases && failures.length < 5; i++) {
      const rng = new Rng(SEED, (3 * INPUTS) + i)
      const pairs = fields.filter(() => rng.chance(0.6)).map(f => [Buffer.from(f), generated(rng)] as const)
      let value = encodeFieldMap(pairs)
      // The framing itself, cut or flipped: what a key of another shape would give.
      if (rng.chance(0.2)) value = mutate(value, rng)
      for (const codec of codecs) {
        stats.codecCases++
        try {
          for (const decoded of [codec.decode(value), codec.decodeFor!(value, 'alice')]) {
            if (decoded === undefined) continue
            const wellFormed = decoded.ok
              ? (decoded.userId === null || typeof decoded.userId === 'string') && (decoded.expiresAt === undefined || Number.isFinite(decoded.expiresAt.getTime()))
              : typeof decoded.reason === 'string' && decoded.reason.length > 0
            if (!wellFormed) failures.push(`case ${i}: malformed result ${JSON.stringify(decoded)}`)
          }
        } catch (error) {
          stats.escapes++
          failures.push(`case ${i}: ${codec.name} codec threw ${(error as Error)?.stack ?? String(error)}; input ${value.toString('hex').slice(0, 300)}`)
        }
      }
    }

    assert.deepEqual(failures, [], `SESSIONCTL_FUZZ_SEED=${SEED}`)
  })

  it('pollutes no prototype', () => {
    const value = parseJavaSerialized(protoMap()) as Record<string, Record<string, unknown>>
    assert.equal(Object.getPrototypeOf(value), null)
    assert.ok(Object.hasOwn(value, '__proto__'))
    assert.equal(Object.getOwnPropertyDescriptor(value, '__proto__')?.value.polluted, '1')
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    assert.equal(({} as Record<string, unknown>).prototype, undefined)
    assert.equal(Object.hasOwn(Object.prototype, 'polluted'), false)
  })

  after(() => {
    console.log(`java fuzz: seed ${SEED}, ${stats.cases} cases (${stats.read} read, ${stats.refused} refused, ${stats.slow} slow), ${stats.probes} probes, ${stats.codecCases} spring codec cases, ${stats.escapes} escapes`)
  })
})
