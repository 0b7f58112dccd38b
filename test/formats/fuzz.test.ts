/* eslint-disable no-bitwise -- byte-level generators of pickles and compressed frames */
/**
 * Decoder fuzzing: every codec the frameworks build is fed random bytes, mutations of the golden
 * fixtures, generated pickles and JSON (valid, nearly valid and hostile), hand-made zstd and lz4
 * frames, and a set of limit probes (compression bombs, block floods, huge declared lengths, deep
 * nesting, memo expansion, code-execution attempts). Per case: nothing escapes decode (a result,
 * never an exception), the result is well formed, the case is fast and its memory bounded, and
 * nothing in a payload runs.
 *
 * Every case draws from its own PRNG, seeded from the run's seed and the case number, so a failure
 * names both and replays alone: SESSIONCTL_FUZZ_SEED=<seed> (SESSIONCTL_FUZZ_CASES=<n> for a
 * longer run).
 */
import {compress as lz4js} from 'lz4js'
import {hash as xxh32} from 'lz4js/xxh32.js'
import assert from 'node:assert/strict'
import {randomInt} from 'node:crypto'
import {
  existsSync, mkdtempSync, readFileSync, rmSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setFlagsFromString} from 'node:v8'
import {runInNewContext} from 'node:vm'
import {
  constants, deflateRawSync, deflateSync, gzipSync,
} from 'node:zlib'

import type {Decoded} from '../../src/formats/codec.js'

import {decompress} from '../../src/formats/decompress.js'
import {djangoLegacyHash, djangoSignature} from '../../src/formats/django-signing.js'
import {parsePickle, PickleError} from '../../src/formats/pickle.js'
import {frameworkCodec, getFramework} from '../../src/frameworks/index.js'
import {signPayload} from '../support/django-encode.js'
import {caseValue, type DjangoCase, djangoFixtures} from '../support/fixtures.js'
import {Rng} from '../support/rng.js'

const MiB = 1024 * 1024
// Generated inputs; each is fed to every entry point.
const INPUTS = Number(process.env.SESSIONCTL_FUZZ_CASES ?? 7000)
const SEED = Number(process.env.SESSIONCTL_FUZZ_SEED ?? randomInt(2 ** 31))
// Only there to catch pathologies (a case is timed again before it counts as slow): ordinary
// cases take well under a millisecond. Limit probes decode up to the 16 MiB output limit or the
// block caps, which costs what a real value of that size costs.
const CASE_MS = 50
const PROBE_MS = 1000
// Heap plus buffers: above the starting point between generated cases (garbage included), what
// one limit probe adds (its input excluded), and the heap kept after a full collection.
const RUN_MEMORY = 256 * MiB
const CASE_MEMORY = 128 * MiB
const RETAINED_BOUND = 32 * MiB

// ---------------------------------------------------------------------------------------------
// Codecs as the frameworks build them, and the entry points under test.

const fixtures = djangoFixtures()
const extra = (JSON.parse(readFileSync(new URL('../fixtures/django-cache-extra.json', import.meta.url), 'utf8')) as {cases: DjangoCase[]}).cases
const {salt, secretKey} = fixtures
const codecs = {
  django: frameworkCodec(getFramework('django'), {salt, secretKeys: [secretKey], userPath: ['_auth_user_id']}),
  djangoCache: frameworkCodec(getFramework('django-cache'), {secretKeys: [], userPath: ['_auth_user_id']}),
  djangoNoKey: frameworkCodec(getFramework('django'), {secretKeys: [], userPath: ['_auth_user_id']}),
  express: frameworkCodec(getFramework('express'), {secretKeys: [], userPath: ['passport', 'user']}),
}

interface Target {
  name: string
  /** May return undefined (decodeFor skipping another user's value). */
  skips?: boolean
  run(value: Buffer): Decoded | undefined
}

const targets: Target[] = [
  {name: 'django', run: v => codecs.django.decode(v)},
  {name: 'django (no key)', run: v => codecs.djangoNoKey.decode(v)},
  {name: 'django decodeFor', run: v => codecs.django.decodeFor!(v, '42'), skips: true},
  {name: 'django-cache', run: v => codecs.djangoCache.decode(v)},
  {name: 'django-cache decodeFor', run: v => codecs.djangoCache.decodeFor!(v, '101'), skips: true},
  {name: 'express', run: v => codecs.express.decode(v)},
]

// The layers under the codecs, fuzzed through the same inputs: decompress never throws, and
// parsePickle throws PickleError and nothing else.
function lowerLayers(value: Buffer): string | undefined {
  const plain = decompress(value, 16 * MiB)
  if (!plain.ok && (typeof plain.reason !== 'string' || plain.reason.length === 0)) return 'decompress: no reason'
  try {
    parsePickle(plain.ok ? plain.bytes : value)
  } catch (error) {
    if (!(error instanceof PickleError)) return `parsePickle threw ${(error as Error)?.name}: ${(error as Error)?.message}`
  }

  return undefined
}

// ---------------------------------------------------------------------------------------------
// Seeds for mutation: the stored values of the golden fixtures and the payloads inside them.

const storedValues: Buffer[] = [...fixtures.cases, ...extra].map(c => caseValue(c))

/** The serializer output (pickle or JSON) inside each decodable fixture. */
const payloads: Buffer[] = [...fixtures.cases, ...extra].flatMap(c => {
  const value = caseValue(c)
  if (c.family === 'django-cache') {
    const plain = decompress(value, 16 * MiB)
    return plain.ok && plain.bytes.length > 1 ? [plain.bytes] : []
  }

  const text = value.toString('latin1')
  const tsAt = text.lastIndexOf(':', text.lastIndexOf(':') - 1)
  if (tsAt <= 0 || !c.expect.decodable) return []
  const b64 = text.slice(0, tsAt)
  const raw = Buffer.from(b64.replace(/^\./, ''), 'base64url')
  const plain = b64.startsWith('.') ? decompress(raw, 16 * MiB) : {bytes: raw, ok: true as const}
  return plain.ok ? [plain.bytes] : []
})

const zstdFrames = storedValues.filter(v => v.length >= 4 && v.readUInt32LE(0) === 0xFD_2F_B5_28)
const lz4Frames = storedValues.filter(v => v.length >= 4 && v.readUInt32LE(0) === 0x18_4D_22_04)

// A 40-byte text as `zstd -19` compresses it: frame header (no content size, window byte) and
// one compressed block of 29 bytes (Huffman literals, FSE sequences).
const ZSTD_TINY = Buffer.from('28b52ffd0068ed000092c10409e0e940eeb8170c04586b5e98709383b8c67d02006e01afdb04', 'hex')

// Where a payload that tries to run a command would leave its mark.
const scratch = mkdtempSync(join(tmpdir(), 'sessionctl-fuzz-'))
const marker = join(scratch, 'pwned')
const command = `touch ${marker}`

// ---------------------------------------------------------------------------------------------
// Byte helpers (pickles are built as latin-1 text).

const u8 = (n: number): string => String.fromCharCode(n & 0xFF)
const u16 = (n: number): string => u8(n) + u8(n >>> 8)
const u32 = (n: number): string => u16(n & 0xFF_FF) + u16(Math.floor(n / 65_536) & 0xFF_FF)
const u64 = (n: bigint): string => {
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE(BigInt.asUintN(64, n))
  return b.toString('latin1')
}

const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1')
const utf8AsLatin1 = (text: string): string => Buffer.from(text, 'utf8').toString('latin1')

const INTERESTING_U32 = [0, 1, 0x7F, 0x80, 0xFF, 0x1_00, 0x7F_FF, 0xFF_FF, 0x7F_FF_FF_FF, 0x80_00_00_00, 0xFF_FF_FF_FF]
const INTERESTING_U64 = [0n, 1n, 0x7F_FF_FF_FFn, 0xFF_FF_FF_FFn, 2n ** 53n, (2n ** 63n) - 1n, 2n ** 63n, (2n ** 64n) - 1n]
// Every opcode the reader knows (protocols 0-5).
const PICKLE_OPCODES = latin1([
  '\u0080\u0095.(012NI\u0088\u0089LJKM\u008A\u008BFGX\u008C\u008DVSTUBC\u008E\u0096\u0097\u0098',
  ')]\u008F}\u0085\u0086\u0087tl\u0091dae\u0090supqr\u0094ghjc\u0093\u0082\u0083\u0084PQR\u0081\u0092oib',
].join(''))

// ---------------------------------------------------------------------------------------------
// Mutations.

function mutate(input: Buffer, rng: Rng, rounds = 1 + rng.int(4)): Buffer {
  let b = Buffer.from(input)
  for (let r = 0; r < rounds; r++) {
    const at = b.length === 0 ? 0 : rng.int(b.length)
    switch (rng.int(10)) {
    case 0: { // bit flip
      if (b.length > 0) b[at] ^= 1 << rng.int(8)
      break
    }

    case 1: { // interesting byte
      if (b.length > 0) b[at] = rng.pick([0, 1, 0x0A, 0x2E, 0x7F, 0x80, 0xFF, rng.int(256)])
      break
    }

    case 2: { // interesting 32- or 64-bit little-endian number
      const wide = rng.chance(0.3)
      const word = wide ? latin1(u64(rng.pick(INTERESTING_U64))) : latin1(u32(rng.pick(INTERESTING_U32)))
      b = Buffer.concat([b.subarray(0, at), word, b.subarray(Math.min(b.length, at + word.length))])
      break
    }

    case 3: { // insert random bytes or a pickle opcode
      const insert = rng.chance(0.5) ? rng.bytes(1 + rng.int(16)) : Buffer.from([rng.pick([...PICKLE_OPCODES])])
      b = Buffer.concat([b.subarray(0, at), insert, b.subarray(at)])
      break
    }

    case 4: { // delete a range
      b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rng.int(32))])
      break
    }

    case 5: { // truncate
      b = b.subarray(0, at)
      break
    }

    case 6: { // repeat a chunk
      const chunk = b.subarray(at, at + 1 + rng.int(16))
      const times = rng.pick([2, 3, 10, 100, 1000])
      b = Buffer.concat([b.subarray(0, at), ...Array.from({length: times}, () => chunk), b.subarray(at)])
      break
    }

    case 7: { // splice in part of another seed
      const other = rng.pick(rng.chance(0.5) ? storedValues : payloads)
      const from = rng.int(other.length + 1)
      b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + 1 + rng.int(64)), b.subarray(at + rng.int(8))])
      break
    }

    case 8: { // bit flips in a burst
      for (let i = 0; i < 8 && b.length > 0; i++) b[rng.int(b.length)] ^= 1 << rng.int(8)
      break
    }

    default: { // swap two bytes
      if (b.length > 1) {
        const j = rng.int(b.length)
        const t = b[at]
        b[at] = b[j]
        b[j] = t
      }
    }
    }
  }

  return b
}

// ---------------------------------------------------------------------------------------------
// Pickles: mostly well formed (so the parser's deeper paths are reached), then perhaps mutated.

const DANGEROUS = ['os.system',
  'posix.system',
  'nt.system',
  'subprocess.Popen',
  'subprocess.check_output',
  'builtins.eval',
  'builtins.exec',
  '__builtin__.eval',
  'builtins.__import__',
  'builtins.getattr',
  'webbrowser.open',
  'shutil.rmtree']
const KNOWN = ['datetime.datetime',
  'datetime.date',
  'datetime.time',
  'datetime.timedelta',
  'datetime.timezone',
  'decimal.Decimal',
  'uuid.UUID',
  'collections.OrderedDict',
  'collections.defaultdict',
  'copyreg._reconstructor',
  'copy_reg._reconstructor',
  'copyreg.__newobj__',
  'codecs.encode',
  '_codecs.encode',
  'builtins.set',
  'builtins.frozenset',
  'builtins.bytes',
  'builtins.bytearray',
  'builtins.object',
  'pytz._UTC',
  'pytz._p',
  'dateutil.tz.tz.tzutc',
  'django.contrib.auth.models.User']
const KEYS = ['_auth_user_id',
  '_auth_user_backend',
  '_auth_user_hash',
  '_session_expiry',
  'passport',
  'user',
  'cookie',
  'expires',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  'cart',
  'x',
  '']
const TEXTS = ['42', '101', '-1', '4.2e1', 'Zoë', 'latin1', 'latin-1', command, String.raw`\u0041`, '\\', '\'', '"', '\n', '\uD83D\uDE00', 'x'.repeat(300)]

class PickleWriter {
  private memo = 0

  constructor(private readonly rng: Rng, private readonly proto: number) {}

  session(): string {
    const {rng} = this
    const pairs = Array.from({length: rng.int(6)}, () => this.key() + this.value(rng.int(6)))
    if (rng.chance(0.6)) pairs.splice(rng.int(pairs.length + 1), 0, this.str('_auth_user_id') + rng.pick([this.str('42'), this.str('101'), 'K*', 'Ke']))
    if (this.proto < 2) return `(${pairs.join('')}d.`
    const body = `}${this.memoize()}(${pairs.join('')}u.`
    const frame = this.proto >= 4 && rng.chance(0.5) ? `\u0095${u64(BigInt(rng.chance(0.9) ? body.length : rng.pick(INTERESTING_U64)))}` : ''
    return `\u0080${u8(this.proto)}${frame}${body}`
  }

  private args(name: string): string {
    const {rng} = this
    if (DANGEROUS.includes(name)) return rng.chance(0.5) ? `${this.str(command)}\u0085` : `(${this.str('sh')}${this.str('-c')}${this.str(command)}l\u0085`
    switch (name) {
    case 'datetime.datetime': {
      return rng.chance(0.7) ? `C\n${rng.bytes(10).toString('latin1')}${rng.chance(0.3) ? `${this.call('datetime.timezone')}\u0086` : '\u0085'}` : this.tuple(3)
    }

    case 'uuid.UUID': {
      return ')'
    }

    default: {
      return rng.chance(0.5) ? this.tuple(rng.int(4)) : `(${this.value(1)}${this.value(1)}t`
    }
    }
  }

  private call(name: string): string {
    const {rng} = this
    const global = this.global(name)
    switch (rng.int(6)) {
    case 0: {
      return `${global}${this.args(name)}\u0081${rng.chance(0.3) ? `${this.value(2)}b` : ''}`
    }

    case 1: {
      return `${global}${this.args(name)}}\u0092`
    }

    case 2: {
      return `(${global}${this.value(1)}o`
    }

    case 3: {
      const dot = name.lastIndexOf('.')
      return `(${this.str(command)}i${name.slice(0, dot)}\n${name.slice(dot + 1)}\n`
    }

    default: {
      const state = name === 'uuid.UUID' ? `}${this.str('int')}\u008A\u0010${rng.bytes(16).toString('latin1')}sb` : (rng.chance(0.2) ? `${this.value(2)}b` : '')
      return `${global}${this.args(name)}R${state}`
    }
    }
  }

  private global(name: string): string {
    const dot = name.lastIndexOf('.')
    const module = name.slice(0, dot)
    const attr = name.slice(dot + 1)
    return this.proto >= 4 && this.rng.chance(0.5) ? `${this.str(module)}${this.str(attr)}\u0093` : `c${module}\n${attr}\n`
  }

  private key(): string {
    const {rng} = this
    if (rng.chance(0.8)) return this.str(rng.pick(KEYS))
    return rng.pick(['N', 'K\u0007', '\u0088', `${this.str('a')}\u0085`, 'C\u0002ab', this.call('uuid.UUID'), ']'])
  }

  private memoize(): string {
    const {rng} = this
    if (!rng.chance(0.25)) return ''
    const index = this.memo++
    if (this.proto >= 4) return '\u0094'
    return rng.chance(0.5) ? `q${u8(index)}` : `p${index}\n`
  }

  private scalar(): string {
    const {rng} = this
    const text = rng.chance(0.7) ? rng.pick(TEXTS) : rng.bytes(rng.size()).toString('latin1')
    switch (rng.int(20)) {
    case 0: {return 'N'}
    case 1: {return rng.pick(['\u0088', '\u0089'])}
    case 2: {return `K${u8(rng.int(256))}`}
    case 3: {return `M${u16(rng.int(65_536))}`}
    case 4: {return `J${u32(rng.pick(INTERESTING_U32))}`}
    case 5: {
      const n = rng.int(12)
      return `\u008A${u8(n)}${rng.bytes(n).toString('latin1')}`
    }

    case 6: {return `G${rng.bytes(8).toString('latin1')}`}
    case 7: {return `I${rng.pick(['01', '00', '42', '-7', '4_2', '9'.repeat(rng.int(5000)), ' 1', 'x'])}\n`}
    case 8: {return `L${rng.pick(['42', '-42', '9'.repeat(rng.int(5000)), ''])}L\n`}
    case 9: {return `F${rng.pick(['1.5', '-0.0', 'inf', 'nan', '1e400', '1'.repeat(rng.int(20_000)), `${'1'.repeat(rng.int(2000))}x`, '.5e-3'])}\n`}
    case 10: {return `V${text.replaceAll('\n', '')}\n`}
    case 11: {return `S'${text.replaceAll('\n', '').replaceAll('\\', '\\\\').replaceAll('\'', String.raw`\'`)}'\n`}
    case 12: {return `T${u32(text.length)}${text}`}
    case 13: {return `C${u8(Math.min(text.length, 255))}${text.slice(0, 255)}`}
    case 14: {return `B${u32(text.length)}${text}`}
    case 15: {return `\u008E${u64(BigInt(text.length))}${text}`}
    case 16: {return `\u0096${u64(BigInt(text.length))}${text}`}
    case 17: {return `\u008D${u64(BigInt(utf8AsLatin1(text).length))}${utf8AsLatin1(text)}`}
    default: {return this.str(text)}
    }
  }

  private str(text: string): string {
    const bytes = utf8AsLatin1(text)
    if (this.proto < 2) return `V${text.replaceAll('\n', '')}\n`
    return bytes.length < 256 && this.proto >= 4 ? `\u008C${u8(bytes.length)}${bytes}` : `X${u32(bytes.length)}${bytes}`
  }

  private tuple(n: number): string {
    const items = Array.from({length: n}, () => this.value(1)).join('')
    return n === 0 ? ')' : (n <= 3 && this.proto >= 2 ? items + ['', '\u0085', '\u0086', '\u0087'][n] : `(${items}t`)
  }

  private value(depth: number): string {
    const {rng} = this
    let out: string
    if (depth <= 0 || rng.chance(0.4)) {
      out = this.scalar()
    } else {
      const items = (): string => Array.from({length: rng.int(5)}, () => this.value(depth - 1)).join('')
      switch (rng.int(9)) {
      case 0: {
        out = rng.chance(0.5) ? `]${this.memoize()}(${items()}e` : `(${items()}l`
        break
      }

      case 1: {
        out = this.tuple(rng.int(5))
        break
      }

      case 2: {
        const pairs = Array.from({length: rng.int(4)}, () => this.key() + this.value(depth - 1)).join('')
        out = rng.chance(0.5) ? `}${this.memoize()}(${pairs}u` : `(${pairs}d`
        break
      }

      case 3: {
        out = rng.chance(0.5) ? `\u008F(${items()}\u0090` : `(${items()}\u0091`
        break
      }

      case 4: {
        // A reference to something memoized, or to nothing.
        out = this.memo > 0 && rng.chance(0.8) ? `h${u8(rng.int(this.memo))}` : rng.pick([`h${u8(rng.int(256))}`, `j${u32(rng.pick(INTERESTING_U32))}`, 'g7\n'])
        break
      }

      case 5:
      case 6: {
        out = this.call(rng.pick(rng.chance(0.3) ? DANGEROUS : KNOWN))
        break
      }

      case 7: {
        out = rng.pick([`P${rng.pick(TEXTS).replaceAll('\n', '')}\n`, `${this.scalar()}Q`, `\u0082${u8(rng.int(256))}`, `\u0084${u32(rng.pick(INTERESTING_U32))}`])
        break
      }

      default: {
        out = `${this.value(depth - 1)}${rng.pick(['2', '0', '2a', '2s'])}`
      }
      }
    }

    return out + this.memoize()
  }
}

/** Random opcodes with random (often lying) arguments, with bursts of one opcode. */
function pickleSoup(rng: Rng): Buffer {
  const parts: Buffer[] = [latin1(rng.chance(0.8) ? `\u0080${u8(rng.int(7))}` : rng.pick(['(', '}', ']']))]
  const n = 1 + rng.int(64)
  for (let i = 0; i < n; i++) {
    const op = rng.pick([...PICKLE_OPCODES])
    let arg = ''
    switch (op) {
    case 0x8D: case 0x8E: case 0x96: case 0x95: {
      arg = u64(rng.pick(INTERESTING_U64))
      break
    }

    case 0x58: case 0x42: case 0x54: case 0x8B: case 0x4A: case 0x72: case 0x6A: case 0x84: {
      arg = u32(rng.pick(INTERESTING_U32))
      break
    }

    case 0x8C: case 0x43: case 0x55: case 0x8A: case 0x4B: case 0x71: case 0x68: case 0x82: case 0x80: {
      arg = u8(rng.int(256))
      break
    }

    case 0x4D: case 0x83: {
      arg = u16(rng.int(65_536))
      break
    }

    case 0x63: case 0x69: {
      arg = `${rng.pick(['os', 'builtins', 'datetime', ''])}\n${rng.pick(['system', 'eval', 'datetime', ''])}\n`
      break
    }

    case 0x49: case 0x4C: case 0x46: case 0x70: case 0x67: case 0x50: case 0x56: case 0x53: {
      arg = `${rng.pick(['1', '01', '\'a\'', '999999999999999999', 'x', ''])}\n`
      break
    }

    default:
    }

    const repeat = rng.chance(0.05) ? rng.pick([10, 300, 5000]) : 1
    const chunk = Buffer.concat([Buffer.from([op]), latin1(arg)])
    for (let r = 0; r < repeat; r++) parts.push(chunk)
    parts.push(rng.bytes(rng.chance(0.1) ? rng.int(8) : 0))
  }

  if (rng.chance(0.8)) parts.push(latin1('.'))
  return Buffer.concat(parts)
}

// ---------------------------------------------------------------------------------------------
// JSON.

function jsonValue(rng: Rng, depth: number): string {
  if (depth <= 0 || rng.chance(0.4)) {
    return rng.pick(['0',
      '-0',
      '42',
      '"42"',
      '101',
      '1e400',
      '-1e-400',
      '123456789012345678901234567890',
      'true',
      'false',
      'null',
      '0.1',
      JSON.stringify(rng.pick(TEXTS)),
      String.raw`"\ud800"`,
      String.raw`"\u0000"`,
      `"${'a'.repeat(rng.int(5000))}"`,
      '"2031-03-14T15:09:26.535Z"',
      '"not a date"'])
  }

  switch (rng.int(4)) {
  case 0: {
    return `[${Array.from({length: rng.int(5)}, () => jsonValue(rng, depth - 1)).join(',')}]`
  }

  case 1: {
    const k = 1 + rng.int(2000)
    return `${'['.repeat(k)}${jsonValue(rng, 0)}${']'.repeat(k)}`
  }

  default: {
    return jsonObject(rng, depth - 1)
  }
  }
}

function jsonObject(rng: Rng, depth: number): string {
  const pairs = Array.from({length: rng.int(6)}, () => `${JSON.stringify(rng.pick(KEYS))}:${jsonValue(rng, depth)}`)
  return `{${pairs.join(',')}}`
}

function jsonSession(rng: Rng): Buffer {
  const pairs = [
    `"cookie":{"originalMaxAge":86400000,"expires":${jsonValue(rng, 0)},"httpOnly":true,"path":"/"}`,
    `"passport":{"user":${rng.pick(['42', '"42"', '101', jsonValue(rng, 2)])}}`,
    `"_auth_user_id":${rng.pick(['"42"', '"101"', jsonValue(rng, 1)])}`,
    ...Array.from({length: rng.int(4)}, () => `${JSON.stringify(rng.pick(KEYS))}:${jsonValue(rng, 3)}`),
  ].filter(() => rng.chance(0.8))
  return Buffer.from(`{${pairs.join(',')}}`)
}

// ---------------------------------------------------------------------------------------------
// Frames: how each store wraps a payload, and hand-made zstd/lz4 frames.

/** A zstd frame of raw (and RLE) blocks: valid, and all a test can write without a compressor. */
function zstdRaw(payload: Buffer, rng: Rng): Buffer {
  const parts: Buffer[] = [Buffer.from([0x28, 0xB5, 0x2F, 0xFD, 0xA0]), latin1(u32(payload.length))]
  let at = 0
  do {
    const size = Math.min(payload.length - at, 1 + rng.int(rng.pick([16, 1024, 128 * 1024])))
    const last = at + size >= payload.length
    const header = Buffer.alloc(3)
    header.writeUIntLE((size << 3) | (last ? 1 : 0), 0, 3)
    parts.push(header, payload.subarray(at, at + size))
    at += size
  } while (at < payload.length)

  return Buffer.concat(parts)
}

function lz4Header(flags: number, blockDescriptor: number, contentSize?: bigint, rng?: Rng): Buffer {
  const descriptor = Buffer.concat([Buffer.from([flags, blockDescriptor]), contentSize === undefined ? Buffer.alloc(0) : latin1(u64(contentSize))])
  const checksum = (xxh32(0, descriptor, 0, descriptor.length) >>> 8) & 0xFF
  return Buffer.concat([Buffer.from([0x04, 0x22, 0x4D, 0x18]), descriptor, Buffer.from([rng?.chance(0.05) ? checksum ^ 1 : checksum])])
}

/** A zstd frame with random header fields and blocks (random, or blocks of the fixtures). */
function zstdFuzzFrame(rng: Rng): Buffer {
  const descriptor = rng.chance(0.5) ? rng.int(256) & ~0x08 : rng.int(256)
  const single = (descriptor & 0x20) !== 0
  const sizeFlag = descriptor >> 6
  const sizeBytes = sizeFlag === 0 ? (single ? 1 : 0) : 1 << sizeFlag
  const parts: Buffer[] = [Buffer.from([0x28, 0xB5, 0x2F, 0xFD, descriptor])]
  if (!single) parts.push(Buffer.from([rng.chance(0.5) ? rng.int(256) : 0x58]))
  parts.push(rng.chance(0.8) ? Buffer.alloc([0, 1, 2, 4][descriptor & 3]) : rng.bytes([0, 1, 2, 4][descriptor & 3]))
  const size = latin1(u64(rng.pick([...INTERESTING_U64, BigInt(rng.int(70_000))])))
  parts.push(size.subarray(0, sizeBytes))
  const blocks = 1 + rng.int(6)
  for (let i = 0; i < blocks; i++) {
    const type = rng.int(4)
    const length = rng.pick([0, 1, 2, 7, 100, 128 * 1024, (128 * 1024) + 1, (1 << 21) - 1, rng.int(300)])
    const header = Buffer.alloc(3)
    header.writeUIntLE(((length << 3) | (type << 1) | (i === blocks - 1 ? 1 : 0)) & 0xFF_FF_FF, 0, 3)
    const stored = Math.min(type === 1 ? 1 : length, 4096)
    let body: Buffer = rng.bytes(stored)
    if (type === 2 && rng.chance(0.5)) {
      // The inside of a real compressed block, mutated.
      const frame = rng.pick(zstdFrames)
      const start = 6 + rng.int(Math.max(1, frame.length - 6))
      body = mutate(frame.subarray(start, start + stored), rng, rng.int(3))
    }

    parts.push(header, body)
  }

  if (descriptor & 0x04) parts.push(rng.bytes(4))
  return Buffer.concat(parts)
}

/** An lz4 frame with a valid header checksum (mostly) and random or fixture blocks. */
function lz4FuzzFrame(rng: Rng): Buffer {
  const flags = rng.chance(0.7) ? 0x40 | (rng.int(64) & ~0x02) : rng.int(256)
  const bd = rng.chance(0.7) ? rng.pick([4, 5, 6, 7]) << 4 : rng.int(256)
  const parts: Buffer[] = [lz4Header(flags, bd, flags & 0x08 ? rng.pick([...INTERESTING_U64, BigInt(rng.int(70_000))]) : undefined, rng)]
  if (flags & 0x01) parts.splice(0, 1, Buffer.concat([parts[0].subarray(0, -1), latin1(u32(rng.chance(0.5) ? 0 : rng.u32())), parts[0].subarray(-1)]))
  const blocks = rng.int(5)
  for (let i = 0; i < blocks; i++) {
    const length = rng.pick([0, 1, 5, 64, 1 << 16, (1 << 16) + 1, 0x7F_FF_FF_FF, rng.int(300)])
    const word = (length | (rng.chance(0.3) ? 0x80_00_00_00 : 0)) >>> 0
    let body: Buffer
    if (rng.chance(0.4)) {
      body = rng.bytes(Math.min(length, 4096))
    } else {
      // Real sequences: the inside of a fixture block, mutated.
      const frame = rng.pick(lz4Frames)
      const start = 7 + rng.int(Math.max(1, frame.length - 7))
      body = mutate(frame.subarray(start, start + Math.min(length, 4096)), rng, rng.int(3))
    }

    parts.push(latin1(u32(word)), body)
    if (flags & 0x10) parts.push(rng.bytes(4))
  }

  parts.push(Buffer.alloc(4))
  if (flags & 0x04) parts.push(rng.bytes(4))
  return Buffer.concat(parts)
}

/** The payload as one of the stores would hold it. */
function wrap(payload: Buffer, rng: Rng): Buffer {
  switch (rng.int(9)) {
  case 0: {return deflateSync(payload)}
  case 1: {return gzipSync(payload)}
  case 2: {return Buffer.from(lz4js(payload))}
  case 3: {return zstdRaw(payload, rng)}
  case 4:
  case 5: {return Buffer.from(signPayload(payload, {
    compress: rng.chance(0.5), salt, secretKey, timestamp: 1_700_000_000,
  }))}

  case 6: {
    const hash = djangoLegacyHash(payload, secretKey, salt)
    return Buffer.from(Buffer.concat([Buffer.from(`${hash}:`), payload]).toString('base64'))
  }

  default: {return payload}
  }
}

// ---------------------------------------------------------------------------------------------
// Generated cases.

interface Case {
  family: string
  value: Buffer
}

const MAGIC_PREFIXES = ['', '', '789c', '1f8b', '28b52ffd', '04224d18', '502a4d18', '8004', '8002', '7b', '2e654a', 'fd377a585a00', '28', '7d']

function generate(rng: Rng): Case {
  switch (rng.int(12)) {
  case 0: {
    const prefix = Buffer.from(rng.pick(MAGIC_PREFIXES), 'hex')
    return {family: 'random bytes', value: Buffer.concat([prefix, rng.bytes(rng.size())])}
  }

  case 1:
  case 2: {
    return {family: 'fixture mutation', value: mutate(rng.pick(storedValues), rng)}
  }

  case 3: {
    return {family: 'payload mutation', value: wrap(mutate(rng.pick(payloads), rng), rng)}
  }

  case 4:
  case 5: {
    const pickle = latin1(new PickleWriter(rng, rng.int(6)).session())
    return {family: 'generated pickle', value: wrap(rng.chance(0.4) ? mutate(pickle, rng) : pickle, rng)}
  }

  case 6: {
    return {family: 'pickle opcode soup', value: wrap(pickleSoup(rng), rng)}
  }

  case 7:
  case 8: {
    const json = rng.chance(0.7) ? jsonSession(rng) : Buffer.from(jsonValue(rng, 4))
    return {family: 'generated JSON', value: wrap(rng.chance(0.3) ? mutate(json, rng) : json, rng)}
  }

  case 9: {
    return {family: 'zstd frame', value: rng.chance(0.5) ? zstdFuzzFrame(rng) : mutate(rng.pick(zstdFrames), rng)}
  }

  case 10: {
    return {family: 'lz4 frame', value: rng.chance(0.5) ? lz4FuzzFrame(rng) : mutate(rng.pick(lz4Frames), rng)}
  }

  default: {
    // A compressed frame with a pickle or JSON inside, perhaps mutated after compression.
    const payload = rng.chance(0.5) ? latin1(new PickleWriter(rng, 4).session()) : jsonSession(rng)
    const frame = rng.pick([deflateSync, gzipSync, (b: Buffer) => Buffer.from(lz4js(b)), (b: Buffer) => zstdRaw(b, rng)])(payload)
    return {family: 'compressed payload', value: rng.chance(0.7) ? mutate(frame, rng) : frame}
  }
  }
}

// ---------------------------------------------------------------------------------------------
// Limit probes: deterministic hostile values, each with the refusal (or result) it must give.

interface Probe {
  /** django-cache's refusal for `value`, and django's for `signed`; '' = a session. */
  expect?: RegExp | string
  name: string
  /** The same payload as Django would store it, validly signed. */
  signed?: Buffer
  value: Buffer
}

/** A zlib or gzip stream declaring `gib` GiB of zeros: one 1 MiB sync-flushed piece, repeated. */
function bomb(kind: 'gzip' | 'zlib', mib: number): Buffer {
  const piece = deflateRawSync(Buffer.alloc(MiB), {finishFlush: constants.Z_SYNC_FLUSH, level: 9})
  const head = kind === 'zlib' ? Buffer.from([0x78, 0x9C]) : Buffer.from([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3])
  return Buffer.concat([head, ...Array.from({length: mib}, () => piece), Buffer.from([3, 0]), Buffer.alloc(8)])
}

function zstdTinyBlocks(count: number): Buffer {
  const head = ZSTD_TINY.subarray(0, 6)
  const last = Buffer.from(ZSTD_TINY.subarray(6))
  const middle = Buffer.from(last)
  middle[0] &= 0xFE
  return Buffer.concat([head, ...Array.from({length: count - 1}, () => middle), last])
}

/** A str opcode (BINUNICODE) for any text. */
function pstr(text: string): string {
  const bytes = utf8AsLatin1(text)
  return `X${u32(bytes.length)}${bytes}`
}

/** Signed as signing.dumps does, around a payload that is already compressed (or not). */
function signedValue(payload: Buffer, compressed: boolean): Buffer {
  const value = `${compressed ? '.' : ''}${payload.toString('base64url')}:1xWfiK`
  return Buffer.from(`${value}:${djangoSignature(value, secretKey, salt)}`)
}

function pickleProbe(body: string): Buffer {
  return latin1(`\u0080\u0004${body}`)
}

function session(entries: string): Buffer {
  return pickleProbe(`}(\u008C\r_auth_user_id\u008C\u000242${entries}u.`)
}

function probe(name: string, value: Buffer, expect?: RegExp | string, signed: boolean | Buffer = false): Probe {
  return {
    expect, name, signed: signed === true ? wrapSigned(value) : (signed || undefined), value,
  }
}

/**
 * Built one at a time: together they hold over 100 MiB.
 * @yields each probe
 */
function * probes(): Generator<Probe> {
  // Compression bombs: GiBs declared in a few MiB, refused at the 16 MiB output limit.
  const zlibBomb = bomb('zlib', 4096)
  // Over the limit, read in pieces: zeros are neither JSON nor a pickle, known from the first piece.
  yield probe('zlib bomb (4 GiB of zeros)', zlibBomb, /^not JSON$|^not a pickle or JSON$/, signedValue(zlibBomb, true))
  yield probe('gzip bomb (4 GiB of zeros)', bomb('gzip', 4096), 'not a pickle or JSON')
  yield probe('zlib bomb at the limit (16 MiB)', bomb('zlib', 16), /^bad zlib$|^too large$/, signedValue(bomb('zlib', 16), true))
  // zstd: many tiny valid blocks (the 86 s value), empty raw blocks, skippable frames.
  yield probe('zstd: 50,000 tiny compressed blocks', zstdTinyBlocks(50_000), 'too many zstd blocks')
  yield probe('zstd: 512 tiny compressed blocks (the cap)', zstdTinyBlocks(512), 'not a pickle or JSON')
  yield probe('zstd: 4 M empty raw blocks', Buffer.concat([ZSTD_TINY.subarray(0, 6), Buffer.alloc(12 * MiB), Buffer.from([1, 0, 0])]), 'too many zstd blocks')
  yield probe('zstd: a frame, then 1 M skippable frames', Buffer.concat([ZSTD_TINY, Buffer.alloc(8 * MiB, Buffer.from('502a4d1800000000', 'hex'))]), 'too many zstd blocks')
  for (const size of [(16n * BigInt(MiB)) + 1n, 2n ** 32n, 2n ** 63n, (2n ** 64n) - 1n]) {
    yield probe(`zstd: content size ${size}`, Buffer.concat([Buffer.from([0x28, 0xB5, 0x2F, 0xFD, 0xE0]), latin1(u64(size)), Buffer.from([0x09, 0, 0, 0x41])]), 'too large')
  }

  yield probe('zstd: 3.75 TiB window, one RLE block', Buffer.from('28b52ffd00ff13000041', 'hex'), /^bad zstd$|^not a pickle or JSON$/)
  const rleBlocks = [Buffer.from('28b52ffd0070', 'hex'), ...Array.from({length: 255}, () => Buffer.from('0200104e', 'hex')), Buffer.from('0300104e', 'hex')]
  yield probe('zstd: RLE blocks of 128 KiB, 32 MiB in all', Buffer.concat(rleBlocks), 'too large')
  // lz4: floods of empty blocks and frames, huge content sizes and block sizes.
  const lz4Head = lz4Header(0x60, 0x40)
  yield probe('lz4: 3 M empty uncompressed blocks', Buffer.concat([lz4Head, Buffer.alloc(12 * MiB, Buffer.from('00000080', 'hex')), Buffer.alloc(4)]), 'too many lz4 blocks')
  yield probe('lz4: 2 M one-byte blocks', Buffer.concat([lz4Head, Buffer.alloc(12 * MiB, Buffer.from('020000001041', 'hex')), Buffer.alloc(4)]), 'too many lz4 blocks')
  yield probe('lz4: 1 M empty frames', Buffer.alloc(11 * MiB, Buffer.concat([lz4Head, Buffer.alloc(4)])), 'too many lz4 blocks')
  for (const size of [(16n * BigInt(MiB)) + 1n, 2n ** 63n, (2n ** 64n) - 1n]) {
    yield probe(`lz4: content size ${size}`, Buffer.concat([lz4Header(0x68, 0x40, size), Buffer.from('0100008041', 'hex'), Buffer.alloc(4)]), 'too large')
  }

  yield probe('lz4: block of 2 GiB declared', Buffer.concat([lz4Head, Buffer.from('ffffff7f41', 'hex')]), 'bad lz4')
  // Each block: one literal, a 65,299-byte match of it, one more literal (64 KiB from 263 bytes).
  const lz4Block = Buffer.concat([latin1(u32(263)), Buffer.from([0x1F, 0x41, 0x01, 0x00]), Buffer.alloc(256, 0xFF), Buffer.from([0x00, 0x10, 0x41])])
  yield probe('lz4: 1,024 blocks of 64 KiB matches', Buffer.concat([lz4Head, ...Array.from({length: 1024}, () => lz4Block), Buffer.alloc(4)]), 'too large')
  yield probe('lz4: 200 blocks of 64 KiB matches', Buffer.concat([lz4Head, ...Array.from({length: 200}, () => lz4Block), Buffer.alloc(4)]), 'not a pickle or JSON')
  // Pickles: huge declared lengths.
  for (const [op, name] of [['\u008D', 'BINUNICODE8'], ['\u008E', 'BINBYTES8'], ['\u0096', 'BYTEARRAY8'], ['\u0095', 'FRAME']]) {
    for (const n of [2n ** 31n, (2n ** 53n) + 1n, 2n ** 63n, (2n ** 64n) - 1n]) yield probe(`pickle ${name} of ${n}`, session(`\u008C\u0001x${op}${u64(n)}abc`), 'bad pickle', true)
  }

  for (const [op, name] of [['X', 'BINUNICODE'], ['B', 'BINBYTES'], ['T', 'BINSTRING'], ['\u008B', 'LONG4']]) {
    for (const n of [0x7F_FF_FF_FF, 0x80_00_00_00, 0xFF_FF_FF_FF]) yield probe(`pickle ${name} of ${n}`, session(`\u008C\u0001x${op}${u32(n)}abc`), 'bad pickle', true)
  }

  yield probe('pickle LONG4 of 1 MiB', session(`\u008C\u0001x\u008B${u32(MiB)}${'\u007F'.repeat(MiB)}`), '', true)
  yield probe('pickle LONG of 5,000 digits', session(`\u008C\u0001xL${'9'.repeat(5000)}L\n`), 'bad pickle', true)
  yield probe('pickle FLOAT of 200,000 digits then x', session(`\u008C\u0001xF${'1'.repeat(200_000)}x\n`), 'bad pickle', true)
  yield probe('pickle FLOAT of 200,000 digits', session(`\u008C\u0001xF${'1'.repeat(200_000)}\n`), '', true)
  yield probe('pickle str of 1 M lone surrogates', session(`\u008C\u0001xX${u32(3 * MiB)}${'\u00ED\u00A0\u0080'.repeat(MiB)}`), '', true)
  yield probe('pickle UNICODE of 200,000 backslashes', session(`\u008C\u0001xV${'\\'.repeat(200_000)}u0041\n`), '', true)
  // Deep nesting.
  yield probe('pickle 100,000 MARKs', pickleProbe(`${'('.repeat(100_000)}.`), 'pickle beyond limits', true)
  yield probe('pickle 50,000 nested lists (EMPTY_LIST, APPEND)', session(`\u008C\u0001x${']'.repeat(50_000)}${'a'.repeat(49_999)}`), 'pickle beyond limits', true)
  yield probe('pickle 50,000 nested tuples (TUPLE1)', session(`\u008C\u0001xN${'\u0085'.repeat(50_000)}`), 'pickle beyond limits', true)
  yield probe('pickle 50,000 nested dicts (SETITEM)', session(`\u008C\u0001x${'}\u008C\u0001k'.repeat(50_000)}N${'s'.repeat(50_000)}`), 'pickle beyond limits', true)
  yield probe('pickle 2 M DUPs', pickleProbe(`N${'2'.repeat(2_000_000)}.`), 'pickle beyond limits', true)
  // Memo abuse: a list holding itself, a structure doubling 60 times through the memo, huge indices.
  yield probe('pickle memo doubling x60', session(`\u008C\u0001x]\u0094${Array.from({length: 60}, (_, i) => `h${u8(i)}h${u8(i)}\u0086\u0094`).join('')}`), 'pickle beyond limits', true)
  yield probe('pickle list containing itself', session('\u008C\u0001x]\u0094h\u0000a'), '', true)
  yield probe('pickle LONG_BINPUT 2^32-1 then LONG_BINGET', session(`\u008C\u0001xNr${u32(0xFF_FF_FF_FF)}0j${u32(0xFF_FF_FF_FF)}`), '', true)
  yield probe('pickle PUT 10^15', session('\u008C\u0001xNp999999999999999\n'), '', true)
  yield probe('pickle GET of a missing memo slot', session(`\u008C\u0001xj${u32(0x7F_FF_FF_FF)}`), 'bad pickle', true)
  // Deep JSON (in a session dict, so it is returned whole).
  const deep = `{"_auth_user_id":"42","passport":{"user":42},"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`
  yield probe('JSON nested 100,000 deep', Buffer.from(deep), '', true)
  yield probe('JSON objects nested 50,000 deep', Buffer.from(`{"_auth_user_id":"42","passport":{"user":42},"x":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}`), '', true)
  // Values over the size limits, and a huge non-session for the Django codec.
  // Over the in-memory limit: read in pieces, a session (of nobody) all the same.
  yield probe('17 MiB JSON', Buffer.concat([Buffer.from('{"a":"'), Buffer.alloc(17 * MiB, 0x61), Buffer.from('"}')]), '')
  yield probe('17 MiB of base64url with two colons', Buffer.concat([Buffer.alloc(17 * MiB, 0x41), Buffer.from(':1xWfiK:sig')]))
}

// Code-execution attempts: each must come back as an inert description of the call.
const cmd = pstr(command)
const EXEC_FORMS: Array<[string, string]> = [
  ['GLOBAL + REDUCE', `cos\nsystem\n${cmd}\u0085R`],
  ['STACK_GLOBAL + REDUCE', `${pstr('os')}${pstr('system')}\u0093${cmd}\u0085R`],
  ['INST', `(${cmd}ios\nsystem\n`],
  ['OBJ', `(cos\nsystem\n${cmd}o`],
  ['NEWOBJ', `csubprocess\nPopen\n(${pstr('sh')}${pstr('-c')}${cmd}l\u0085\u0081`],
  ['NEWOBJ_EX', `csubprocess\nPopen\n(${pstr('sh')}${pstr('-c')}${cmd}l\u0085}(${pstr('shell')}\u0088u\u0092`],
  ['eval + BUILD', `cbuiltins\neval\n${pstr(`__import__('os').system('${command}')`)}\u0085R}(${pstr('a')}${pstr('b')}ub`],
  ['exec of compiled code', `cbuiltins\nexec\ncbuiltins\ncompile\n(${pstr(`import os; os.system('${command}')`)}${pstr('x')}${pstr('exec')}tR\u0085R`],
  ['copyreg._reconstructor', 'ccopyreg\n_reconstructor\ncos\nsystem\ncbuiltins\nobject\nN\u0087R'],
  ['getattr(__import__("os"), "system")(...)', `cbuiltins\ngetattr\ncbuiltins\n__import__\n${pstr('os')}\u0085R${pstr('system')}\u0086R${cmd}\u0085R`],
]

// ---------------------------------------------------------------------------------------------

interface Stats {
  cases: number
  escapes: number
  failures: string[]
  memoryPeak: number
  slowest: {family: string; ms: number; target: string}
}

function describeResult(target: Target, result: Decoded | undefined): string | undefined {
  if (result === undefined) return target.skips ? undefined : 'returned undefined'
  if (typeof result !== 'object' || result === null) return 'returned a non-object'
  if (result.ok === false) return typeof result.reason === 'string' && result.reason.length > 0 ? undefined : 'refused without a reason'
  if (result.ok !== true) return 'result without ok'
  if (typeof result.data !== 'object' || result.data === null || Array.isArray(result.data)) return 'data is not a dict'
  if (result.userId !== null && typeof result.userId !== 'string') return 'userId is neither null nor text'
  if (!['invalid', 'unchecked', 'valid'].includes(result.signature)) return 'bad signature verdict'
  if (typeof result.variant !== 'string') return 'no variant'
  if (result.expiresAt !== undefined && Number.isNaN(result.expiresAt.getTime())) return 'invalid expiresAt'
  return undefined
}

function repro(value: Buffer): string {
  return value.length <= 160 ? `base64 ${value.toString('base64')}` : `${value.length} bytes starting ${value.subarray(0, 96).toString('base64')}`
}

const memoryNow = (): number => {
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

describe('decoder fuzzing (every framework codec, random and hostile input)', function () {
  this.timeout(120_000)
  let gc: () => void = () => {}
  let baseline = 0
  let baselineHeap = 0
  const stats: Stats = {
    cases: 0, escapes: 0, failures: [], memoryPeak: 0, slowest: {family: '', ms: 0, target: ''},
  }
  let started = 0

  before(() => {
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as () => void
    gc()
    baseline = memoryNow()
    baselineHeap = process.memoryUsage().heapUsed
    started = performance.now()
    console.log(`      fuzz seed ${SEED} (replay: SESSIONCTL_FUZZ_SEED=${SEED})`)
  })

  after(() => rmSync(scratch, {force: true, recursive: true}))

  /** Runs one value through one entry point; returns the result, or records what went wrong. */
  function runCase(target: Target, value: Buffer, family: string, label: string, bound: number): Decoded | undefined {
    let result: Decoded | undefined
    let escaped: unknown
    let ms = 0
    // A case over the bound is timed again: only a pathology is slow twice (GC, other processes).
    for (let attempt = 0; attempt < 2; attempt++) {
      const start = performance.now()
      try {
        result = target.run(value)
        escaped = undefined
      } catch (error) {
        escaped = error
      }

      ms = performance.now() - start
      if (ms <= bound || escaped !== undefined) break
    }

    stats.cases++
    if (ms > stats.slowest.ms) stats.slowest = {family: family.startsWith('limit probe') ? label : family, ms, target: target.name}
    const where = `${target.name} on ${family} (${label}, seed ${SEED})`
    if (escaped === undefined) {
      const problem = describeResult(target, result)
      if (problem) stats.failures.push(`${where}: ${problem}; input ${repro(value)}`)
    } else {
      stats.escapes++
      stats.failures.push(`${where}: threw ${(escaped as Error)?.stack ?? String(escaped)}; input ${repro(value)}`)
    }

    if (ms > bound) stats.failures.push(`${where}: took ${ms.toFixed(1)} ms (bound ${bound} ms); input ${repro(value)}`)
    return result
  }

  // Between generated cases: what the run holds (garbage included), and now and then what it
  // keeps after a full collection (a leak).
  function sampleMemory(where: string, collect: boolean): void {
    const grown = memoryNow() - baseline
    stats.memoryPeak = Math.max(stats.memoryPeak, grown)
    if (grown > RUN_MEMORY) stats.failures.push(`${where}: memory grew by ${(grown / MiB).toFixed(0)} MiB (seed ${SEED})`)
    if (collect) {
      gc()
      const kept = process.memoryUsage().heapUsed - baselineHeap
      if (kept > RETAINED_BOUND) stats.failures.push(`${where}: ${(kept / MiB).toFixed(0)} MiB of heap kept (seed ${SEED})`)
    }
  }

  it(`decodes ${INPUTS.toLocaleString('en-US')} generated inputs with every entry point: no throw, well-formed results, each fast`, () => {
    const failed = stats.failures.length
    for (let i = 0; i < INPUTS; i++) {
      const rng = new Rng(SEED, i)
      const {family, value} = generate(rng)
      for (const target of targets) runCase(target, value, family, `case ${i}`, CASE_MS)
      const lower = lowerLayers(value)
      if (lower) stats.failures.push(`${lower} on ${family} (case ${i}, seed ${SEED}); input ${repro(value)}`)
      if (i % 64 === 0) sampleMemory(`case ${i} (${family})`, i % 1024 === 0)
    }

    assert.deepEqual(stats.failures.slice(failed, failed + 10), [])
  })

  it('refuses or reads each limit probe quickly and in bounded memory', () => {
    const check = (probe: Probe, what: string, result: Decoded | undefined): void => {
      if (probe.expect === undefined || result === undefined) return
      const reason = result.ok ? '' : result.reason
      if (typeof probe.expect === 'string' ? reason !== probe.expect : !probe.expect.test(reason)) {
        stats.failures.push(`${probe.name}: ${what} gave ${JSON.stringify(reason || 'a session')}, expected ${String(probe.expect || 'a session')}`)
      }
    }

    const failed = stats.failures.length
    for (const probe of probes()) {
      // Memory of one decode (its garbage included), per target, from a heap collected once per probe.
      gc()
      let grown = 0
      const measured = (run: () => void): void => {
        const start = memoryNow()
        run()
        grown = Math.max(grown, memoryNow() - start)
      }

      for (const target of targets) {
        measured(() => {
          const result = runCase(target, probe.value, 'limit probe', probe.name, PROBE_MS)
          if (target.name === 'django-cache') check(probe, target.name, result)
        })
      }

      if (probe.signed) {
        for (const target of targets) {
          measured(() => {
            const result = runCase(target, probe.signed!, 'limit probe (signed)', probe.name, PROBE_MS)
            if (target.name === 'django' || target.name === 'django (no key)') check(probe, `${target.name} (signed)`, result)
          })
        }
      }

      stats.memoryPeak = Math.max(stats.memoryPeak, grown)
      if (grown > CASE_MEMORY) stats.failures.push(`${probe.name}: memory grew by ${(grown / MiB).toFixed(0)} MiB`)
    }

    assert.deepEqual(stats.failures.slice(failed, failed + 10), [])
  })

  it('runs nothing a pickle asks for: every call comes back as an inert value', () => {
    const failed = stats.failures.length
    for (const [form, call] of EXEC_FORMS) {
      const pickle = session(`\u008C\u0001x${call}`)
      const stored: Array<[Buffer, string[]]> = [
        [pickle, ['django-cache']],
        [deflateSync(pickle), ['django-cache']],
        [zstdRaw(pickle, new Rng(SEED)), ['django-cache']],
        [Buffer.from(lz4js(pickle)), ['django-cache']],
        [wrapSigned(pickle), ['django', 'django (no key)']],
      ]
      for (const [value, readers] of stored) {
        for (const target of targets) {
          const result = runCase(target, value, 'exec attempt', form, CASE_MS)
          if (!readers.includes(target.name)) continue
          assert.ok(result?.ok, `${form} via ${target.name}: ${JSON.stringify(result)}`)
          assert.equal(result.userId, '42', form)
          const x = result.data.x as Record<string, unknown>
          assert.equal(typeof x, 'object', form)
          assert.equal(typeof x.__class__, 'string', `${form}: ${JSON.stringify(x)}`)
        }
      }
    }

    assert.equal(existsSync(marker), false, 'a payload ran a command')
    assert.deepEqual(stats.failures.slice(failed, failed + 10), [])
  })

  it('reads user ids from own properties only and pollutes no prototype', () => {
    const json = codecs.express.decode(Buffer.from('{"__proto__":{"passport":{"user":42},"polluted":1},"constructor":{"prototype":{"polluted":1}}}'))
    assert.ok(json.ok)
    assert.equal(json.userId, null)
    const pickled = codecs.djangoCache.decode(pickleProbe('}(\u008C\t__proto__}(\u008C\r_auth_user_id\u008C\u000242\u008C\bpolluted\u0088uu.'))
    assert.ok(pickled.ok)
    assert.equal(pickled.userId, null)
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    assert.equal(Object.hasOwn(Object.prototype, 'polluted'), false)
  })

  it('keeps nothing after the run, and logs the summary', () => {
    gc()
    const retained = process.memoryUsage().heapUsed - baselineHeap
    const seconds = (performance.now() - started) / 1000
    const {cases, escapes, memoryPeak, slowest} = stats
    const summary = [
      `fuzz: ${cases.toLocaleString('en-US')} cases over ${Object.keys(codecs).length} codecs (${targets.length} entry points) in ${seconds.toFixed(1)} s,`,
      `slowest ${slowest.ms.toFixed(1)} ms (${slowest.target}, ${slowest.family}), ${escapes} escapes;`,
      `memory peak +${(memoryPeak / MiB).toFixed(0)} MiB, retained ${(retained / MiB).toFixed(1)} MiB; seed ${SEED}`,
    ]
    console.log(`      ${summary.join(' ')}`)
    assert.equal(escapes, 0)
    assert.ok(retained < RETAINED_BOUND, `${(retained / MiB).toFixed(1)} MiB retained after the run`)
    assert.ok(cases >= INPUTS * targets.length, `${cases} cases`)
  })
})

function wrapSigned(payload: Buffer): Buffer {
  return Buffer.from(signPayload(payload, {salt, secretKey, timestamp: 1_700_000_000}))
}
