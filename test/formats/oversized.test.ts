/* eslint-disable no-bitwise -- bit flips in zlib streams */
/**
 * Payloads over a codec's in-memory limit are read in pieces: the user id exactly (JSON), a
 * pickle settled as not the user's when the byte test proves it, and otherwise an undecodable
 * value whose owner is unknown; never "too large" and silently nobody's.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {
  constants, createDeflate, deflateSync, gunzipSync, gzipSync, inflateSync,
} from 'node:zlib'

import {inflateChunks} from '../../src/formats/compression/inflate.js'
import {createDjangoCacheCodec} from '../../src/frameworks/django-cache.js'
import {createDjangoCodec} from '../../src/frameworks/django.js'
import {createExpressCodec} from '../../src/frameworks/express.js'
import {signPayload} from '../support/django-encode.js'
import {ROOT} from '../support/run.js'

const MiB = 1024 * 1024

/** A protocol-4 pickle of a dict of str, as pickle.dumps writes it (BINUNICODE strings, one SETITEMS). */
function pickleDumps(dict: Record<string, number | string>): Buffer {
  const str = (text: string): Buffer => {
    const bytes = Buffer.from(text)
    const head = Buffer.alloc(5)
    head[0] = 0x58
    head.writeUInt32LE(bytes.length, 1)
    return Buffer.concat([head, bytes])
  }

  // A number is a BININT1.
  const items = Object.entries(dict).flatMap(([k, v]) => [str(k), typeof v === 'number' ? Buffer.from([0x4B, v]) : str(v)])
  return Buffer.concat([Buffer.from([0x80, 0x04, 0x7D, 0x28]), ...items, Buffer.from([0x75, 0x2E])])
}

const small = {maxPayloadBytes: 64 * 1024}

describe('oversized payloads', () => {
  it('django: a zlib JSON session over the limit is read exactly: its user, another user’s, not JSON', () => {
    const codec = createDjangoCodec({...small, secretKeys: ['k']})
    const pad = 'x'.repeat(MiB)
    const value = (json: string): Buffer => Buffer.from(signPayload(Buffer.from(json), {secretKey: 'k'}))
    assert.equal((codec.decodeFor!(value(`{"cart":"${pad}","_auth_user_id":"42"}`), '42') as {userId: string}).userId, '42')
    assert.equal((codec.decode(value(`{"_auth_user_id":"1","cart":"${pad}","_auth_user_id":"7"}`)) as {userId: string}).userId, '7')
    assert.deepEqual(codec.decode(value(`{"cart":"${pad}",}`)), {ok: false, reason: 'not JSON'})
    // A forged value is nobody's, however large.
    const forged = Buffer.from(signPayload(Buffer.from(`{"_auth_user_id":"42","cart":"${pad}"}`), {secretKey: 'other'}))
    assert.equal((codec.decode(forged) as {signature: string}).signature, 'invalid')
  })

  it('django-cache: a pickle over the limit that cannot hold the user is skipped; one that may is owner-unknown', () => {
    const codec = createDjangoCacheCodec(small)
    const pad = 'y'.repeat(MiB)
    const other = deflateSync(pickleDumps({_auth_user_id: '7', cart: pad}))
    const mine = deflateSync(pickleDumps({_auth_user_id: '42', cart: pad}))
    assert.equal(codec.decodeFor!(other, '42'), undefined)
    assert.deepEqual(codec.decodeFor!(mine, '42'), {ok: false, ownerUnknown: true, reason: 'too large'})
    assert.deepEqual(codec.decode(other), {ok: false, ownerUnknown: true, reason: 'too large'})
    // The id across a piece boundary (256 KiB of output) is still found, as a whole str token
    // only: inside other text ("u42") it is not the id.
    for (const shift of [-12, -9, -6, -3, -2, -1, 0, 1, 2]) {
      const padded = pickleDumps({cart: 'z'.repeat((256 * 1024) - 40 + shift), who: '42'})
      assert.notEqual(codec.decodeFor!(deflateSync(padded), '42'), undefined, `shift ${shift}`)
      const inText = pickleDumps({cart: 'z'.repeat((256 * 1024) - 40 + shift), who: 'u42'})
      assert.equal(codec.decodeFor!(deflateSync(inText), '42'), undefined, `shift ${shift}, u42`)
      const asInt = pickleDumps({cart: 'z'.repeat((256 * 1024) - 40 + shift), who: 42})
      assert.notEqual(codec.decodeFor!(deflateSync(asInt), '42'), undefined, `shift ${shift}, BININT1 42`)
    }

    // JSON serializer output over the limit: exact, gzip too.
    const json = Buffer.from(`{"_auth_user_id":9007199254740993,"cart":"${pad}"}`)
    assert.equal((codec.decode(gzipSync(json)) as {userId: string}).userId, '9007199254740993')
  })

  it('django-cache: values django-redis reads and this reader cannot are owner-unknown; corrupt ones nobody’s', () => {
    const codec = createDjangoCacheCodec(small)
    const xz = Buffer.concat([Buffer.from([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]), randomBytes(32)])
    assert.deepEqual(codec.decode(xz), {ok: false, ownerUnknown: true, reason: 'xz-compressed (unsupported)'})
    assert.deepEqual(codec.decode(Buffer.from([0x81, 0xA1, 0x61, 0x01])), {ok: false, ownerUnknown: true, reason: 'msgpack (unsupported)'})
    const corrupt = deflateSync(Buffer.from(`{"a":"${'q'.repeat(MiB)}"}`))
    corrupt[corrupt.length - 6] ^= 0xFF
    assert.equal((codec.decode(corrupt) as {ownerUnknown?: boolean}).ownerUnknown, undefined)
  })

  it('express: over the limit, the user id and cookie.expires are read exactly', () => {
    const codec = createExpressCodec(small)
    const big = Buffer.from(`{"cookie":{"expires":"2030-01-01T00:00:00.000Z"},"cart":"${'c'.repeat(MiB)}","passport":{"user":18446744073709551617}}`)
    assert.deepEqual(codec.decode(big), {
      data: {}, expiresAt: new Date('2030-01-01T00:00:00.000Z'), ok: true, signature: 'unchecked', userId: '18446744073709551617', variant: 'json',
    })
  })

  it('inflateChunks gives inflateSync’s bytes and failures (2400 valid, truncated, corrupt and padded streams)', () => {
    const outcome = (f: () => Buffer): string => {
      try {
        return f().toString('hex')
      } catch (error) {
        return error instanceof RangeError ? 'too large' : `error ${(error as {code?: string}).code}`
      }
    }

    for (const kind of ['zlib', 'gzip'] as const) {
      for (let i = 0; i < 400; i++) {
        const plain = i % 3 ? Buffer.from('x'.repeat(i * 997)) : randomBytes(i * 300)
        let packed = kind === 'zlib' ? deflateSync(plain) : gzipSync(plain)
        if (i % 5 === 1) packed = packed.subarray(0, -3)
        if (i % 5 === 2) {
          packed = Buffer.from(packed)
          packed[Math.floor(packed.length / 2)] ^= 0x55
        }

        if (i % 5 === 3) packed = Buffer.concat([packed, Buffer.from('trailing')])
        if (i % 7 === 4 && kind === 'gzip') packed = Buffer.concat([packed, gzipSync(Buffer.from('second'))])
        const sync = (max: number): string => outcome(() => (kind === 'zlib' ? inflateSync : gunzipSync)(packed, {maxOutputLength: max}))
        const chunked = (max: number): string => outcome(() => {
          const parts: Buffer[] = []
          inflateChunks(kind, packed, max, c => parts.push(Buffer.from(c)))
          return Buffer.concat(parts)
        })
        assert.equal(chunked(2 ** 31), sync(2 ** 31), `${kind} #${i}`)
        // Under a smaller limit: a valid stream is too large; a corrupt one fails either way.
        for (const max of [1000, (i * 500) + 1]) {
          const got = chunked(max)
          const whole = sync(2 ** 31)
          if (whole.startsWith('error')) assert.ok(got === 'too large' || got === whole, `${kind} #${i} max ${max}`)
          else assert.equal(got, sync(max), `${kind} #${i} max ${max}`)
        }
      }
    }
  })

  it('reads a 200 MiB decompressed session in bounded memory (peak RSS measured in a child process)', async function () {
    this.timeout(120_000)
    // 200 MiB of JSON, deflated in pieces so this process never holds it either.
    const deflate = createDeflate({level: constants.Z_BEST_SPEED})
    const parts: Buffer[] = []
    deflate.on('data', (c: Buffer) => parts.push(c))
    const done = new Promise(resolve => {
      deflate.on('end', resolve)
    })
    deflate.write('{"cart":"')
    const block = Buffer.alloc(MiB, 'k')
    for (let i = 0; i < 200; i++) deflate.write(block)
    deflate.end('","_auth_user_id":"42"}')
    await done
    const dir = mkdtempSync(join(tmpdir(), 'oversized-'))
    try {
      const file = join(dir, 'value')
      writeFileSync(file, signPayload(Buffer.concat(parts), {compress: false, secretKey: 'k'}).replace(/^/, '.'))
      const script = `
        import {readFileSync} from 'node:fs'
        import {createDjangoCodec} from ${JSON.stringify(join(ROOT, 'src/frameworks/django.ts'))}
        const value = readFileSync(${JSON.stringify(file)})
        const codec = createDjangoCodec()
        global.gc()
        const before = process.memoryUsage().rss
        const result = codec.decodeFor(value, '42')
        // VmHWM, this process's own high-water mark: resourceUsage().maxRSS also carries the
        // RSS of the process that spawned it (Linux keeps it across fork and exec), which is
        // mocha's, hundreds of MiB late in the full suite.
        const peak = Number(/^VmHWM:\\s*(\\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024
        console.log(JSON.stringify({before, peak, userId: result.userId, reason: result.reason}))`
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', '--input-type=module', '-e', script], {cwd: ROOT, encoding: 'utf8'})
      assert.equal(child.status, 0, child.stderr)
      const {before, peak, reason, userId} = JSON.parse(child.stdout.trim().split('\n').at(-1)!)
      assert.equal(reason, undefined)
      assert.equal(userId, '42')
      // Reading it whole would need the 200 MiB output at least; pieces need a few MiB, plus GC lag
      // and allocator slack that vary with the machine's load (18–67 MiB seen on 2 cores).
      assert.ok(peak - before < 100 * MiB, `peak RSS grew by ${((peak - before) / MiB).toFixed(0)} MiB reading 200 MiB`)
    } finally {
      rmSync(dir, {force: true, recursive: true})
    }
  })
})
