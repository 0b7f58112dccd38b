/**
 * PHP reader fuzzing: parsePhpSerialized, readPhpSession (every handler), parseIgbinary and the
 * Laravel envelope are fed random bytes, mutations of the golden fixtures, generated values (well
 * formed, then perhaps mutated) and hostile probes (huge declared lengths, deep nesting, reference
 * floods, `__proto__`/`constructor` keys, gadget class names). Per case: only PhpSerializeError
 * escapes (nothing at all from decryptLaravel), the result is acyclic with null-prototype maps,
 * the case is fast and its memory bounded, and no prototype is polluted.
 *
 * Every case draws from its own PRNG, seeded from the run's seed and the case number:
 * SESSIONCTL_FUZZ_SEED=<seed> replays a run, SESSIONCTL_FUZZ_CASES=<n> makes it longer.
 */
import assert from 'node:assert/strict'
import {randomInt} from 'node:crypto'
import {setFlagsFromString} from 'node:v8'
import {runInNewContext} from 'node:vm'

import type {Decoded} from '../../src/formats/codec.js'

import {parsePhpSerialized, PhpSerializeError} from '../../src/formats/php-serialize.js'
import {parseIgbinary, readPhpSession} from '../../src/formats/php-session.js'
import {frameworkCodec, getFramework, userPathFor} from '../../src/frameworks/index.js'
import {phpFixtures, storedBytes, wellFormed} from '../support/php-fixtures.js'
import {Rng} from '../support/rng.js'

const MiB = 1024 * 1024
const INPUTS = Number(process.env.SESSIONCTL_FUZZ_CASES ?? 6000)
const SEED = Number(process.env.SESSIONCTL_FUZZ_SEED ?? randomInt(2 ** 31))
const CASE_MS = 50
const PROBE_MS = 1000
const RUN_MEMORY = 256 * MiB
const CASE_MEMORY = 128 * MiB
const RETAINED_BOUND = 32 * MiB

const fixtures = phpFixtures()
const laravel = getFramework('laravel')
const laravelCodec = frameworkCodec(laravel, {appKeys: [fixtures.appKey], secretKeys: [], userPath: userPathFor(laravel, undefined, {guard: 'web'})})
const laravelNoKey = frameworkCodec(laravel, {secretKeys: [], userPath: userPathFor(laravel, undefined, {guard: 'web'})})
const phpCodec = frameworkCodec(getFramework('php'), {secretKeys: [], userPath: ['user_id']})

/** A codec's result as the well-formedness check takes it; a refusal must carry a reason. */
function decodedData(decoded: Decoded): unknown {
  if (decoded.ok) return decoded.data
  if (typeof decoded.reason !== 'string' || decoded.reason.length === 0) throw new Error('codec: a refusal without a reason')
  return null
}

// ---------------------------------------------------------------------------------------------
// Entry points. Each returns the decoded value (for the well-formedness check) or throws.

interface Target {
  name: string
  run(value: Buffer): unknown
}

const targets: Target[] = [
  {name: 'parsePhpSerialized', run: v => parsePhpSerialized(v)},
  {name: 'readPhpSession', run: v => readPhpSession(v).data},
  {name: 'parseIgbinary', run: v => parseIgbinary(v)},
  // The frameworks' codecs as the CLI builds them: never throw, a reason for every refusal.
  {name: 'laravel codec', run: v => decodedData(laravelCodec.decode(v))},
  {name: 'laravel codec (no key)', run: v => decodedData(laravelNoKey.decode(v))},
  {name: 'php codec', run: v => decodedData(phpCodec.decode(v))},
]

// ---------------------------------------------------------------------------------------------
// Seeds: the stored values and the serialized payloads inside them.

const storedValues = fixtures.cases.map(c => storedBytes(c))
const payloads: Buffer[] = fixtures.cases.flatMap(c => {
  const out: Buffer[] = []
  if (c.expect.plaintext) out.push(Buffer.from(c.expect.plaintext, 'utf8'))
  if (c.family === 'laravel-db' || c.family === 'laravel-db-encrypted') out.push(Buffer.from(storedBytes(c).toString('latin1'), 'base64'))
  return out
})

const GADGETS = [String.raw`GuzzleHttp\Cookie\FileCookieJar`,
  String.raw`Monolog\Handler\SyslogUdpHandler`,
  String.raw`Illuminate\Broadcasting\PendingBroadcast`,
  String.raw`Symfony\Component\Process\Process`,
  'SplFileObject',
  'PDO',
  'Closure',
  'ReflectionFunction',
  '__PHP_Incomplete_Class',
  'stdClass']
const KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'user_id', '__class__', '__enum__', '0', '1', '-1', '', 'a|b', 'Zoë', '\0*\0p']

// ---------------------------------------------------------------------------------------------
// Generators.

function str(s: string): string {
  return `s:${Buffer.byteLength(s)}:"${s}";`
}

/** A well-formed serialize() text; `count` tracks PHP's slot numbering so refs mostly hit. */
function serialized(rng: Rng, depth: number, state: {count: number}): string {
  const kind = depth > 6 ? rng.int(6) : rng.int(11)
  if (kind !== 9) state.count++
  switch (kind) {
  case 0: {return 'N;'}
  case 1: {return `b:${rng.int(2)};`}
  case 2: {return `i:${rng.pick(['0', '-1', '42', '9007199254740993', '-9223372036854775808', '9223372036854775807', '99999999999999999999', String(rng.u32())])};`}
  case 3: {return `d:${rng.pick(['0.1', '-0', 'NAN', 'INF', '-INF', '1.0E+25', '1.5E-7', '100', String(rng.u32() / 7)])};`}
  case 4: {return str(rng.pick([...KEYS, 'user_id|i:42;', '"};', 'x'.repeat(rng.int(40))]))}
  case 5: {return `E:${'AccPlan:Pro'.length}:"AccPlan:Pro";`}
  case 6:
  case 7: {
    const n = rng.int(5)
    let body = ''
    for (let i = 0; i < n; i++) body += (rng.chance(0.5) ? `i:${rng.int(4)};` : str(rng.pick(KEYS))) + serialized(rng, depth + 1, state)
    return `a:${n}:{${body}}`
  }

  case 8: {
    const cls = rng.pick(GADGETS)
    const n = rng.int(4)
    let body = ''
    for (let i = 0; i < n; i++) body += str(rng.pick(KEYS)) + serialized(rng, depth + 1, state)
    return `O:${Buffer.byteLength(cls)}:"${cls}":${n}:{${body}}`
  }

  case 9: {return `R:${1 + rng.int(state.count + 1)};`}
  default: {return `r:${1 + rng.int(state.count)};`}
  }
}

function phpSession(rng: Rng): string {
  const state = {count: 0}
  let out = ''
  for (let i = rng.int(5); i > 0; i--) out += `${rng.pick(KEYS.filter(k => !k.includes('|')))}|${serialized(rng, 1, state)}`
  return out
}

function phpBinarySession(rng: Rng): Buffer {
  const state = {count: 0}
  const parts: Buffer[] = []
  for (let i = rng.int(5); i > 0; i--) {
    const key = Buffer.from(rng.pick(KEYS))
    parts.push(Buffer.from([key.length | (rng.chance(0.1) ? 0x80 : 0)]), key, Buffer.from(serialized(rng, 1, state))) // eslint-disable-line no-bitwise -- the high bit
  }

  return Buffer.concat(parts)
}

/** A well-formed igbinary value, refs into the table so far. */
function igbinary(rng: Rng, depth: number, state: {refs: number; strings: number}): number[] {
  const kind = depth > 5 ? rng.int(5) : rng.int(9)
  switch (kind) {
  case 0: {return [rng.pick([0x00, 0x04, 0x05, 0x0D])]}
  case 1: {return [rng.pick([0x06, 0x07]), rng.int(256)]}
  case 2: {return [0x0C, ...rng.bytes(8)]}
  case 3: {
    state.strings++
    const s = Buffer.from(rng.pick(KEYS))
    return [0x11, s.length, ...s]
  }

  case 4: {return state.strings > 0 ? [0x0E, rng.int(state.strings)] : [0x00]}
  case 5:
  case 6: {
    state.refs++
    const n = rng.int(4)
    const out = [0x14, n]
    for (let i = 0; i < n; i++) {
      out.push(0x06, rng.int(3), ...igbinary(rng, depth + 1, state))
    }

    return out
  }

  case 7: {
    state.refs++
    const cls = Buffer.from(rng.pick(GADGETS))
    state.strings++
    const out = [0x17, cls.length, ...cls, 0x14, 1]
    state.strings++
    out.push(0x11, 1, 0x70, ...igbinary(rng, depth + 1, state))
    return out
  }

  default: {return state.refs > 0 ? [rng.pick([0x01, 0x22]), rng.int(state.refs)] : [0x25, 0x06, 1]}
  }
}

function mutate(input: Buffer, rng: Rng): Buffer {
  let b = Buffer.from(input)
  for (let r = 1 + rng.int(4); r > 0; r--) {
    const at = b.length === 0 ? 0 : rng.int(b.length)
    switch (rng.int(7)) {
    case 0: {
      if (b.length > 0) b[at] ^= 1 << rng.int(8) // eslint-disable-line no-bitwise -- bit flip
      break
    }

    case 1: {
      if (b.length > 0) b[at] = rng.pick([0x22, 0x3A, 0x3B, 0x7B, 0x7D, 0x7C, 0x30, 0x39, 0x52, 0x72, 0, 0xFF, rng.int(256)])
      break
    }

    case 2: { // a digit run made huge
      b = Buffer.concat([b.subarray(0, at), Buffer.from(rng.pick(['9999999999', '18446744073709551615', '4294967295', '0'])), b.subarray(at)])
      break
    }

    case 3: {
      b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rng.int(16))])
      break
    }

    case 4: {
      b = b.subarray(0, at)
      break
    }

    case 5: {
      const chunk = b.subarray(at, at + 1 + rng.int(16))
      b = Buffer.concat([b.subarray(0, at), ...Array.from({length: rng.pick([2, 10, 100])}, () => chunk), b.subarray(at)])
      break
    }

    default: {
      const other = rng.pick(rng.chance(0.5) ? storedValues : payloads)
      const from = rng.int(other.length + 1)
      b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + 1 + rng.int(64)), b.subarray(at)])
    }
    }
  }

  return b
}

function generate(rng: Rng): {family: string; value: Buffer} {
  const mutated = rng.chance(0.5)
  const maybe = (b: Buffer): Buffer => (mutated ? mutate(b, rng) : b)
  switch (rng.int(8)) {
  case 0: {return {family: 'random bytes', value: rng.bytes(rng.size())}}
  case 1: {return {family: 'stored value (mutated)', value: mutate(rng.pick(storedValues), rng)}}
  case 2: {return {family: 'payload (mutated)', value: mutate(rng.pick(payloads), rng)}}
  case 3: {return {family: 'serialize()', value: maybe(Buffer.from(serialized(rng, 0, {count: 0})))}}
  case 4: {return {family: 'php session', value: maybe(Buffer.from(phpSession(rng)))}}
  case 5: {return {family: 'php_binary session', value: maybe(phpBinarySession(rng))}}
  case 6: {
    const body = [0x14, 2, 0x11, 1, 0x6B, ...igbinary(rng, 1, {refs: 1, strings: 1}), 0x06, 1, ...igbinary(rng, 1, {refs: 1, strings: 1})]
    return {family: 'igbinary', value: maybe(Buffer.from([0, 0, 0, 2, ...body]))}
  }

  default: {return {family: 'serialize(serialize())', value: maybe(Buffer.from(str(serialized(rng, 0, {count: 0}))))}}
  }
}

// ---------------------------------------------------------------------------------------------
// Hostile probes.

function * probes(): Generator<{name: string; value: Buffer}> {
  const b = (name: string, text: string): {name: string; value: Buffer} => ({name, value: Buffer.from(text, 'latin1')})
  yield b('huge s: length', 's:18446744073709551615:"a";')
  yield b('huge a: count', 'a:4294967295:{i:0;N;}')
  yield b('huge O: count', 'O:8:"stdClass":9223372036854775807:{}')
  yield b('huge C: length', 'C:1:"A":9223372036854775807:{}')
  yield b('thousands of digits', `s:${'9'.repeat(5000)}:"a";`)
  yield b('a float of a million digits', `d:${'1'.repeat(1_000_000)};`)
  yield b('deep arrays', `${'a:1:{i:0;'.repeat(100_000)}N;${'}'.repeat(100_000)}`)
  yield b('deep objects', `${'O:8:"stdClass":1:{s:1:"p";'.repeat(50_000)}N;${'}'.repeat(50_000)}`)
  yield b('deep php session', `a|${'a:1:{i:0;'.repeat(100_000)}`)
  let flood = 'a:2:{i:0;i:1;i:1;i:2;}'
  const levels = [flood]
  for (let k = 1; k <= 60; k++) levels.push(`a:2:{i:0;R:${k === 1 ? 2 : k + 3};i:1;R:${k === 1 ? 2 : k + 3};}`)
  flood = `a:${levels.length}:{${levels.map((l, i) => `i:${i};${l}`).join('')}}`
  yield b('reference flood (R:)', flood)
  yield b('reference flood in a php session', `x|${flood}`)
  const hundred = `a:100:{${Array.from({length: 100}, (_, i) => `i:${i};i:${i};`).join('')}}`
  yield b('a million refs to one array', `a:1000001:{i:0;${hundred}${Array.from({length: 1_000_000}, (_, i) => `i:${i + 1};R:2;`).join('')}}`)
  const entries = Array.from({length: 100_000}, (_, i) => `i:${i};s:3:"k${i % 10}\u00E9";`).join('')
  yield b('many entries (not UTF-8)', `a:100000:{${entries}}`)
  yield b('self references', 'a:3:{i:0;R:1;i:1;R:1;i:2;a:1:{i:0;R:3;}}')
  yield b('prototype keys', 'a:2:{s:9:"__proto__";a:1:{s:8:"polluted";b:1;}s:11:"constructor";a:1:{s:9:"prototype";a:1:{s:8:"polluted";b:1;}}}')
  yield b('prototype keys (php session)', '__proto__|a:1:{s:8:"polluted";b:1;}constructor|O:8:"stdClass":1:{s:9:"prototype";a:1:{s:8:"polluted";b:1;}}')
  for (const cls of GADGETS) yield b(`gadget ${cls}`, `O:${cls.length}:"${cls}":2:{s:9:"__proto__";a:1:{s:8:"polluted";b:1;}s:4:"file";s:10:"/tmp/pwned";}`)
  const igbDeep = [0, 0, 0, 2, ...Array.from({length: 100_000}, () => [0x14, 1, 0x06, 0]).flat(), 0]
  yield {name: 'deep igbinary', value: Buffer.from(igbDeep)}
  const igbFlood = [0, 0, 0, 2, 0x14, 61, 0x06, 0, 0x14, 2, 0x06, 0, 0x00, 0x06, 1, 0x00]
  for (let k = 1; k < 61; k++) igbFlood.push(0x06, k, 0x14, 2, 0x06, 0, 0x01, k, 0x06, 1, 0x01, k)
  yield {name: 'igbinary reference flood', value: Buffer.from(igbFlood)}
  yield {name: 'igbinary huge string64', value: Buffer.from([0, 0, 0, 2, 0x26, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])}
  yield {name: 'igbinary huge array32', value: Buffer.from([0, 0, 0, 2, 0x16, 0xFF, 0xFF, 0xFF, 0xFF])}
  yield b('huge envelope', Buffer.from(JSON.stringify({iv: 'A'.repeat(1_000_000), mac: '', value: ''})).toString('base64'))
}

// ---------------------------------------------------------------------------------------------

const memoryNow = (): number => {
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

function repro(value: Buffer): string {
  return value.length <= 160 ? `base64 ${value.toString('base64')}` : `${value.length} bytes starting ${value.subarray(0, 96).toString('base64')}`
}

describe('PHP reader fuzzing (serialize, session handlers, igbinary, Laravel envelopes)', function () {
  this.timeout(120_000)
  let gc: () => void = () => {}
  let baseline = 0
  let baselineHeap = 0
  let started = 0
  const stats = {
    cases: 0, escapes: 0, failures: [] as string[], memoryPeak: 0, refusals: 0, slowest: {family: '', ms: 0, target: ''},
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

  function runCase(target: Target, value: Buffer, family: string, label: string, bound: number): void {
    let result: unknown
    let escaped: unknown
    let refused = false
    let ms = 0
    for (let attempt = 0; attempt < 2; attempt++) {
      const start = performance.now()
      escaped = undefined
      refused = false
      try {
        result = target.run(value)
      } catch (error) {
        if (error instanceof PhpSerializeError && typeof error.limit === 'boolean' && error.message.length > 0) refused = true
        else escaped = error
      }

      ms = performance.now() - start
      if (ms <= bound || escaped !== undefined) break
    }

    stats.cases++
    if (refused) stats.refusals++
    if (ms > stats.slowest.ms) stats.slowest = {family: label, ms, target: target.name}
    const where = `${target.name} on ${family} (${label}, seed ${SEED})`
    if (escaped !== undefined) {
      stats.escapes++
      stats.failures.push(`${where}: threw ${(escaped as Error)?.stack ?? String(escaped)}; input ${repro(value)}`)
    } else if (!refused && !wellFormed(result)) {
      stats.failures.push(`${where}: result not well formed (a cycle or a map with a prototype); input ${repro(value)}`)
    }

    if (ms > bound) stats.failures.push(`${where}: took ${ms.toFixed(1)} ms (bound ${bound} ms); input ${repro(value)}`)
  }

  it(`reads ${INPUTS.toLocaleString('en-US')} generated inputs with every entry point: only PhpSerializeError, well-formed results, each fast`, () => {
    const failed = stats.failures.length
    for (let i = 0; i < INPUTS; i++) {
      const rng = new Rng(SEED, i)
      const {family, value} = generate(rng)
      for (const target of targets) runCase(target, value, family, `case ${i}`, CASE_MS)
      if (i % 64 === 0) {
        const grown = memoryNow() - baseline
        stats.memoryPeak = Math.max(stats.memoryPeak, grown)
        if (grown > RUN_MEMORY) stats.failures.push(`case ${i}: memory grew by ${(grown / MiB).toFixed(0)} MiB (seed ${SEED})`)
      }
    }

    assert.deepEqual(stats.failures.slice(failed, failed + 10), [])
  })

  it('refuses or reads each hostile probe quickly and in bounded memory', () => {
    const failed = stats.failures.length
    for (const probe of probes()) {
      gc()
      const start = memoryNow()
      for (const target of targets) runCase(target, probe.value, 'limit probe', probe.name, PROBE_MS)
      const grown = memoryNow() - start - probe.value.length
      stats.memoryPeak = Math.max(stats.memoryPeak, grown)
      if (grown > CASE_MEMORY) stats.failures.push(`${probe.name}: memory grew by ${(grown / MiB).toFixed(0)} MiB`)
    }

    assert.deepEqual(stats.failures.slice(failed, failed + 10), [])
  })

  it('refuses the floods and the deep values as limits (PHP would read them), not as malformed', () => {
    for (const probe of probes()) {
      if (!/flood|deep|million refs/.test(probe.name)) continue
      const reader = probe.name.includes('igbinary') ? parseIgbinary : (probe.name.includes('session') ? (v: Buffer) => readPhpSession(v) : parsePhpSerialized)
      assert.throws(() => reader(probe.value), (error: unknown) => error instanceof PhpSerializeError && error.limit, probe.name)
    }
  })

  it('pollutes no prototype and instantiates nothing', () => {
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    assert.equal(Object.hasOwn(Object.prototype, 'polluted'), false)
    assert.equal(Object.hasOwn(Array.prototype, 'polluted'), false)
    const cls = String.raw`GuzzleHttp\Cookie\FileCookieJar`
    const gadget = parsePhpSerialized(Buffer.from(`O:${cls.length}:"${cls}":1:{s:8:"filename";s:10:"/tmp/pwned";}`)) as Record<string, unknown>
    assert.equal(Object.getPrototypeOf(gadget), null)
    assert.equal(gadget.__class__, cls)
    assert.equal(gadget.filename, '/tmp/pwned')
  })

  it('keeps nothing after the run, and logs the summary', () => {
    gc()
    const retained = process.memoryUsage().heapUsed - baselineHeap
    const seconds = (performance.now() - started) / 1000
    const {cases, escapes, memoryPeak, refusals, slowest} = stats
    const summary = [
      `fuzz-php: ${cases.toLocaleString('en-US')} cases over ${targets.length} entry points in ${seconds.toFixed(1)} s (${refusals.toLocaleString('en-US')} refused),`,
      `slowest ${slowest.ms.toFixed(1)} ms (${slowest.target}, ${slowest.family}), ${escapes} escapes;`,
      `memory peak +${(memoryPeak / MiB).toFixed(0)} MiB, retained ${(retained / MiB).toFixed(1)} MiB; seed ${SEED}`,
    ]
    console.log(`      ${summary.join(' ')}`)
    assert.equal(escapes, 0)
    assert.ok(retained < RETAINED_BOUND, `${(retained / MiB).toFixed(1)} MiB retained after the run`)
    assert.ok(cases >= INPUTS * targets.length, `${cases} cases`)
  })
})
