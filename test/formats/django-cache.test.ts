/* eslint-disable no-bitwise -- frame headers are bit fields */
import {compress as lz4js} from 'lz4js'
import {hash as xxh32} from 'lz4js/xxh32.js'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {deflateSync, gzipSync} from 'node:zlib'

import type {Decoded} from '../../src/formats/codec.js'

import {decompress} from '../../src/formats/decompress.js'
import {createDjangoCacheCodec} from '../../src/frameworks/django-cache.js'
import {
  caseValue, type DjangoCase, djangoFixtures, plain,
} from '../support/fixtures.js'

// test/fixtures/django-cache-extra.json (EXTRA-FIXTURES.md): the case shape of django.json, plus the
// reason for refusals and, for a large dict already in another case, that case's name.
type ExtraCase = DjangoCase & {compressor: null | string; expect: {reason?: string; sameDataAs?: string}; serializer: string}

const codec = createDjangoCacheCodec()
const MiB = 1024 * 1024
const cases = djangoFixtures().cases.filter(c => c.family === 'django-cache')
const extra = (JSON.parse(readFileSync(new URL('../fixtures/django-cache-extra.json', import.meta.url), 'utf8')) as {cases: ExtraCase[]}).cases
const extraCase = (name: string): ExtraCase => extra.find(c => c.name === name)!

function checkCase(c: DjangoCase): Decoded {
  const decoded = codec.decode(caseValue(c))
  assert.equal(decoded.ok, c.expect.decodable, JSON.stringify(decoded))
  if (!decoded.ok) return decoded
  assert.equal(decoded.userId, c.expect.userId)
  assert.equal(decoded.signature, 'unchecked')
  assert.equal(decoded.expiresAt, undefined)
  if (c.expect.data) assert.deepEqual(plain(decoded.data), c.expect.data)
  return decoded
}

function fast(what: string, run: () => void, ms = 1000): void {
  const start = performance.now()
  run()
  const elapsed = performance.now() - start
  assert.ok(elapsed < ms, `${what} took ${elapsed.toFixed(0)} ms`)
}

describe('django-cache codec', () => {
  describe('golden fixtures from Django 3.2.25 and django-redis 5.2.0 (django.json)', () => {
    it('covers every django-cache case', () => {
      assert.ok(cases.length >= 8, `${cases.length} cases`)
    })

    for (const c of cases) {
      it(`${c.name}: ${c.expect.decodable ? `user ${c.expect.userId}` : 'undecodable'}`, () => {
        checkCase(c)
      })
    }

    it('reads the user from a malicious pickle without running it', () => {
      const decoded = codec.decode(caseValue(cases.find(c => c.name === 'pickle-malicious-reduce')!))
      assert.ok(decoded.ok)
      assert.equal(decoded.userId, '14')
      // The REDUCE stays an inert description of the call it asked for.
      assert.deepEqual(plain(decoded.data.x), {__class__: 'posix.system', args: ['echo pwned > /tmp/pwned']})
    })
  })

  describe('django-redis serializers and compressors (django-cache-extra.json)', () => {
    it('covers every serializer and compressor', () => {
      assert.deepEqual(new Set(extra.map(c => c.compressor)), new Set(['gzip', 'lz4', 'lzma', null, 'zlib', 'zstd']))
      assert.deepEqual(new Set(extra.map(c => c.serializer)), new Set(['json', 'msgpack', 'pickle']))
    })

    for (const c of extra) {
      it(`${c.name}: ${c.expect.decodable ? `user ${c.expect.userId}` : c.expect.reason}`, () => {
        const decoded = checkCase(c)
        if (!decoded.ok) {
          assert.equal(decoded.reason, c.expect.reason)
          return
        }

        // The variant names what was read: serializer, then the compression when there was one.
        const compressed = c.compressor !== null && caseValue(c).length > 15
        assert.equal(decoded.variant, compressed ? `${c.serializer}+${c.compressor}` : c.serializer)
        if (c.expect.sameDataAs) assert.deepEqual(plain(decoded.data), extraCase(c.expect.sameDataAs).expect.data)
      })
    }

    it('keeps non-ASCII text and aware datetimes as Python would print them', () => {
      for (const name of ['django-redis-pickle4-zstd', 'django-redis-json']) {
        const decoded = codec.decode(caseValue(extraCase(name)))
        assert.ok(decoded.ok)
        assert.equal(decoded.data.display_name, 'Zoë')
        assert.match(decoded.data._session_expiry as string, /^2031-03-14T15:09:26\.535(897\+00:00|Z)$/)
      }
    })

    it('reads another user path when told to', () => {
      const decoded = createDjangoCacheCodec({userPath: ['display_name']}).decode(caseValue(extraCase('django-redis-pickle4-lz4')))
      assert.equal(decoded.ok && decoded.userId, 'Zoë')
    })

    it('applies maxPayloadBytes to the stored and to the decompressed size', () => {
      const small = createDjangoCacheCodec({maxPayloadBytes: 20_000})
      const big = caseValue(extraCase('django-redis-pickle4-lz4-multiblock'))
      assert.ok(big.length < 20_000)
      // lz4 is decoded whole: over the limit, whose session it is stays unknown.
      assert.deepEqual(small.decode(big), {ok: false, ownerUnknown: true, reason: 'too large'})
      assert.deepEqual(createDjangoCacheCodec({maxPayloadBytes: 1000}).decode(big), {ok: false, ownerUnknown: true, reason: 'too large'})
      assert.equal(small.decode(caseValue(extraCase('django-redis-pickle4-zlib'))).ok, true)
    })
  })

  describe('values that are not sessions', () => {
    it('says why a raw integer is not a session', () => {
      for (const text of ['12345', '0', '-7', '9'.repeat(400)]) {
        assert.deepEqual(codec.decode(Buffer.from(text)), {ok: false, reason: 'not a session (raw integer)'}, text)
      }

      for (const text of ['-', '12a', '1.5', ' 12', '+3']) {
        assert.notEqual((codec.decode(Buffer.from(text)) as {reason: string}).reason, 'not a session (raw integer)', text)
      }
    })

    it('names what it cannot read', () => {
      const reason = (bytes: number[] | string): string => (codec.decode(Buffer.from(bytes as string)) as {reason: string}).reason
      assert.equal(reason(''), 'empty')
      assert.equal(reason('hello'), 'not a pickle or JSON')
      assert.equal(reason('[1,2]'), 'not a pickle or JSON')
      assert.equal(reason('{"_auth_user_id":'), 'not JSON')
      assert.equal(reason([0x80, 0x04, 0x5D, 0x94, 0x2E]), 'not a session dict') // pickle.dumps([], 4)
      assert.equal(reason([0x80]), 'msgpack (unsupported)') // msgpack {}
      assert.equal(reason([0xDE, 0x00, 0x01, 0xA1, 0x61, 0x01]), 'msgpack (unsupported)')
      assert.equal(reason([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00, 1, 2]), 'xz-compressed (unsupported)')
      assert.equal(reason([0x78, 0x9C, 1, 2, 3]), 'bad zlib')
      assert.equal(reason([0x1F, 0x8B, 8, 0, 0, 0]), 'bad gzip')
      assert.equal(reason([0x28, 0xB5, 0x2F, 0xFD, 0, 0]), 'bad zstd')
      assert.equal(reason([0x04, 0x22, 0x4D, 0x18, 0x40, 0x40, 0]), 'bad lz4')
    })

    it('reports every truncation of compressed data as undecodable', () => {
      const compressed = extra.filter(c => c.compressor && c.expect.decodable && caseValue(c).length > 15)
      assert.ok(compressed.length >= 7)
      for (const c of compressed) {
        const value = caseValue(c)
        // The two larger values (multiblock lz4, streamed zstd) in steps; the others at every length.
        const step = value.length > 1000 ? 37 : 1
        for (let n = 1; n < value.length; n += step) {
          assert.equal(codec.decode(value.subarray(0, n)).ok, false, `${c.name} cut at ${n} of ${value.length}`)
        }
      }
    })
  })

  describe('compression bombs', () => {
    let zeros: Buffer

    before(() => {
      zeros = Buffer.alloc(40 * MiB)
    })

    it('refuses 40 MiB of zlib and gzip zeros fast', function () {
      this.timeout(10_000)
      for (const bomb of [deflateSync(zeros), gzipSync(zeros)]) {
        assert.ok(bomb.length < 100_000)
        // Read in pieces up to the first: zeros are not a pickle or JSON, whatever follows.
        fast('inflating', () => assert.deepEqual(codec.decode(bomb), {ok: false, reason: 'not a pickle or JSON'}))
      }
    })

    it('refuses zstd frames by their declared size before decoding', () => {
      const declared = zstdFrame({blocks: [{size: 1, type: 'raw'}], contentSize: 2 ** 40, singleSegment: true})
      fast('zstd header', () => assert.deepEqual(codec.decode(declared), {ok: false, ownerUnknown: true, reason: 'too large'}), 250)
    })

    it('does not allocate the window a zstd frame asks for', () => {
      // fzstd's streaming decoder would allocate these 2 GiB; the one-shot decoder writes into the output.
      const window = zstdFrame({blocks: [{size: 1, type: 'raw'}], windowLog: 31}, Buffer.from('{'))
      fast('zstd window', () => assert.deepEqual(decompress(window, MiB), {bytes: Buffer.from('{'), compression: 'zstd', ok: true}), 250)
    })

    it('refuses a 20-byte zstd block that declares 10 000 matches of 128 KiB', () => {
      // fzstd would copy ~1.3 GB for it (seconds of CPU); the sequences are measured first.
      const body = Buffer.from([0x00, 0x80 + (10_000 >> 8), 10_000 & 0xFF, 0x54, 0, 2, 52, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
      fast('zstd sequences', () => assert.deepEqual(codec.decode(zstdFrame({blocks: [{body, size: body.length, type: 'compressed'}], windowLog: 20})), {ok: false, reason: 'bad zstd'}), 250)
    })

    it('refuses a zstd Huffman description whose weights never end', () => {
      // One weight symbol owns the whole FSE table, so its states read no bits: fzstd loops forever
      // (synchronously: were the guard to regress, this test would hang rather than fail).
      const tree = [0x04, 0xF0, 0x03, 0x00, 0x04]
      const literals = [0x02 | (10 << 4), (10 >> 4) | ((tree.length + 1) << 6), (tree.length + 1) >> 2, ...tree, 0x01]
      const body = Buffer.from([...literals, 0x00])
      fast('zstd huffman', () => assert.deepEqual(codec.decode(zstdFrame({blocks: [{body, size: body.length, type: 'compressed'}], windowLog: 20})), {ok: false, reason: 'bad zstd'}), 250)
    })

    it('refuses a zstd frame without a declared size once its blocks pass the limit', () => {
      // 160 RLE blocks of 128 KiB: 20 MiB from 640 bytes.
      const bomb = zstdFrame({blocks: Array.from({length: 160}, () => ({size: 128 * 1024, type: 'rle' as const})), windowLog: 20})
      assert.ok(bomb.length < 1000)
      fast('zstd stream', () => assert.deepEqual(codec.decode(bomb), {ok: false, ownerUnknown: true, reason: 'too large'}))
    })

    it('refuses lz4 frames by their declared size before decoding', () => {
      const declared = lz4Frame([lz4ZeroRun(1000)], {contentSize: 2 ** 40})
      fast('lz4 header', () => assert.deepEqual(codec.decode(declared), {ok: false, ownerUnknown: true, reason: 'too large'}), 250)
    })

    it('refuses an lz4 frame without a declared size once its blocks pass the limit', () => {
      // 5 blocks of 4 MiB of zeros from ~80 KB: each measured before anything is decoded.
      const bomb = lz4Frame(Array.from({length: 5}, () => lz4ZeroRun(4 * MiB)), {blockMax: 7})
      assert.ok(bomb.length < 100_000)
      fast('lz4 blocks', () => assert.deepEqual(codec.decode(bomb), {ok: false, ownerUnknown: true, reason: 'too large'}))
    })

    it('refuses lz4 blocks that overrun their declared block size', () => {
      const bomb = lz4Frame([lz4ZeroRun(4 * MiB)], {blockMax: 4})
      assert.deepEqual(codec.decode(bomb), {ok: false, reason: 'bad lz4'})
    })
  })

  it('never throws on 5000 random and mutated values', function () {
    this.timeout(20_000)
    const random = prng(20_261_126)
    const byte = (): number => Math.floor(random() * 256)
    const sources = [...cases, ...extra].map(c => caseValue(c)).filter(v => v.length < 2000)
    const heads = [[0x78, 0x9C], [0x1F, 0x8B, 8, 0], [0x28, 0xB5, 0x2F, 0xFD], [0x04, 0x22, 0x4D, 0x18, 0x40, 0x40], [0x80, 0x04, 0x95], [0x7B], [0x85], [0x31]]
    const reasons = new Map<string, number>()
    for (let i = 0; i < 5000; i++) {
      let input: Buffer
      if (i % 2 === 0) {
        input = Buffer.from(sources[(i / 2) % sources.length])
        const flips = 1 + Math.floor(random() * 4)
        for (let f = 0; f < flips; f++) input[Math.floor(random() * input.length)] = byte()
      } else {
        const head = heads[((i - 1) / 2) % heads.length]
        input = Buffer.from([...head, ...Array.from({length: Math.floor(random() * 64)}, byte)])
      }

      let decoded: Decoded
      try {
        decoded = codec.decode(input)
      } catch (error) {
        throw new Error(`threw for ${input.toString('hex')}`, {cause: error})
      }

      if (decoded.ok) assert.equal(typeof decoded.data, 'object')
      else reasons.set(decoded.reason, (reasons.get(decoded.reason) ?? 0) + 1)
    }

    // Every decoder was reached by some input.
    for (const reason of ['bad zlib', 'bad gzip', 'bad zstd', 'bad lz4', 'bad pickle', 'not JSON']) assert.ok(reasons.has(reason), reason)
  })
})

describe('decompress', () => {
  const text = Buffer.from('{"_auth_user_id":"5","pad":"' + 'x'.repeat(300) + '"}')

  it('returns uncompressed values unchanged', () => {
    assert.deepEqual(decompress(text, 10), {bytes: text, compression: 'none', ok: true})
  })

  it('accepts output of exactly maxBytes and refuses one byte more, in every format', () => {
    const zstd = zstdFrame({blocks: [{size: text.length, type: 'raw'}], contentSize: text.length, singleSegment: true}, text)
    const zstdStreamed = zstdFrame({blocks: [{size: text.length, type: 'raw'}], windowLog: 10}, text)
    for (const [compression, bytes] of [['zlib', deflateSync(text)], ['gzip', gzipSync(text)], ['lz4', Buffer.from(lz4js(text))], ['zstd', zstd], ['zstd', zstdStreamed]] as const) {
      assert.deepEqual(decompress(bytes, text.length), {bytes: text, compression, ok: true}, compression)
      assert.deepEqual(decompress(bytes, text.length - 1), {ok: false, ownerUnknown: true, reason: 'too large'}, compression)
    }
  })

  it('checks lz4 header and content checksums', () => {
    const frame = Buffer.from(lz4js(text))
    frame[6] ^= 1 // header checksum byte
    assert.deepEqual(decompress(frame, MiB), {ok: false, reason: 'bad lz4'})
    const withSum = Buffer.from(extraCase('lz4-checksums-no-size').valueBase64!, 'base64')
    assert.equal(decompress(withSum, MiB).ok, true)
    withSum[withSum.length - 1] ^= 1
    assert.deepEqual(decompress(withSum, MiB), {ok: false, reason: 'bad lz4'})
  })

  it('skips skippable frames and refuses one that runs past the end', () => {
    const skippable = (size: number, declared = size): Buffer => Buffer.concat([Buffer.from([0x50, 0x2A, 0x4D, 0x18]), Buffer.from(Uint32Array.of(declared).buffer), Buffer.alloc(size)])
    const zstd = zstdFrame({blocks: [{size: text.length, type: 'raw'}], contentSize: text.length, singleSegment: true}, text)
    const lz4 = Buffer.from(lz4js(text))
    for (const [compression, frame] of [['zstd', zstd], ['lz4', lz4]] as const) {
      assert.deepEqual(decompress(Buffer.concat([frame, skippable(3)]), MiB), {bytes: text, compression, ok: true})
      assert.deepEqual(decompress(Buffer.concat([frame, frame]), MiB), {bytes: Buffer.concat([text, text]), compression, ok: true})
      assert.deepEqual(decompress(Buffer.concat([frame, skippable(3, 1000)]), MiB), {ok: false, reason: `bad ${compression}`})
    }
  })

  it('refuses a zstd frame whose output differs from its declared size', () => {
    const lying = zstdFrame({blocks: [{size: 10, type: 'raw'}], contentSize: 11, windowLog: 10}, text)
    assert.deepEqual(decompress(lying, MiB), {ok: false, reason: 'bad zstd'})
  })
})

/** Park–Miller minimal standard PRNG: deterministic, exact in doubles. Returns [0, 1). */
function prng(seed: number): () => number {
  let state = seed % 2_147_483_647
  return () => {
    state = (state * 48_271) % 2_147_483_647
    return (state - 1) / 2_147_483_646
  }
}

interface ZstdFrameSpec {
  blocks: Array<{body?: Buffer; size: number; type: 'compressed' | 'raw' | 'rle'}>
  contentSize?: number
  singleSegment?: boolean
  windowLog?: number
}

/** A zstd frame of raw blocks (bytes taken from `content`), RLE blocks (zeros) and compressed blocks (`body`). */
function zstdFrame(spec: ZstdFrameSpec, content: Buffer = Buffer.alloc(0)): Buffer {
  const sizeFlag = spec.contentSize === undefined ? 0 : 3
  const header = [0x28, 0xB5, 0x2F, 0xFD, (sizeFlag << 6) | (spec.singleSegment ? 0x20 : 0)]
  if (!spec.singleSegment) header.push(((spec.windowLog ?? 20) - 10) << 3)
  const parts: Buffer[] = [Buffer.from(header)]
  if (spec.contentSize !== undefined) {
    const size = Buffer.alloc(8)
    size.writeBigUInt64LE(BigInt(spec.contentSize))
    parts.push(size)
  }

  let at = 0
  for (const [i, block] of spec.blocks.entries()) {
    const last = i === spec.blocks.length - 1 ? 1 : 0
    const blockHeader = Buffer.alloc(3)
    blockHeader.writeUIntLE(last | ({compressed: 2, raw: 0, rle: 1}[block.type] << 1) | (block.size << 3), 0, 3)
    parts.push(blockHeader)
    if (block.body) {
      parts.push(block.body)
    } else if (block.type === 'rle') {
      parts.push(Buffer.from([0]))
    } else {
      parts.push(Buffer.concat([content.subarray(at, at + block.size), Buffer.alloc(Math.max(0, at + block.size - content.length))]))
      at += block.size
    }
  }

  return Buffer.concat(parts)
}

/** An lz4 frame of the given compressed blocks, with a correct header checksum. */
function lz4Frame(blocks: Buffer[], options: {blockMax?: number; contentSize?: number} = {}): Buffer {
  const descriptor = [0x40 | (options.contentSize === undefined ? 0 : 0x08), (options.blockMax ?? 4) << 4]
  if (options.contentSize !== undefined) {
    const size = Buffer.alloc(8)
    size.writeBigUInt64LE(BigInt(options.contentSize))
    descriptor.push(...size)
  }

  const checksum = (xxh32(0, Uint8Array.from(descriptor), 0, descriptor.length) >>> 8) & 0xFF
  const parts: Buffer[] = [Buffer.from([0x04, 0x22, 0x4D, 0x18, ...descriptor, checksum])]
  for (const block of blocks) {
    const size = Buffer.alloc(4)
    size.writeUInt32LE(block.length)
    parts.push(size, block)
  }

  parts.push(Buffer.alloc(4))
  return Buffer.concat(parts)
}

/** One compressed lz4 block decoding to `length` zeros: a literal, a long overlapping match, a literal. */
function lz4ZeroRun(length: number): Buffer {
  let extra = length - 2 - 4 - 15
  const lengthBytes: number[] = []
  while (extra >= 255) {
    lengthBytes.push(255)
    extra -= 255
  }

  lengthBytes.push(extra)
  return Buffer.from([0x1F, 0x00, 0x01, 0x00, ...lengthBytes, 0x10, 0x00])
}
