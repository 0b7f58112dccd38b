/* eslint-disable no-bitwise -- bit flips in zlib streams */
/**
 * inflateZlib reuses one zlib stream per thread instead of building one per value; it must
 * answer exactly as `inflateSync(bytes, {maxOutputLength})` does: the same bytes, or an error of
 * the same class and code, on every input, including right after a failure.
 */
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {deflateSync, inflateSync} from 'node:zlib'

import {inflateZlib, reusesStream} from '../../src/formats/compression/inflate.js'
import {caseValue, djangoFixtures} from '../support/fixtures.js'

type Outcome = {bytes: string; ok: true} | {code: string | undefined; kind: string; ok: false}

function outcome(f: () => Buffer): Outcome {
  try {
    return {bytes: f().toString('hex'), ok: true}
  } catch (error) {
    return {code: (error as {code?: string}).code, kind: (error as Error).constructor.name, ok: false}
  }
}

function same(input: Uint8Array, max: number, label: string): Outcome {
  const expected = outcome(() => inflateSync(input, {maxOutputLength: max}))
  assert.deepEqual(outcome(() => inflateZlib(input, max)), expected, label)
  return expected
}

/**
 * The zlib streams in the golden Django fixtures: compressed signed sessions, and cache values
 * django-redis's zlib compressor wrote.
 */
function fixtureStreams(): Array<{decodable: boolean; name: string; stream: Buffer}> {
  const streams: Array<{decodable: boolean; name: string; stream: Buffer}> = []
  for (const c of djangoFixtures().cases) {
    const value = caseValue(c)
    const text = value.toString('latin1')
    if (c.family === 'django-signed' && text.startsWith('.') && text.split(':').length === 3) {
      streams.push({decodable: c.expect.decodable, name: c.name, stream: Buffer.from(text.slice(1, text.indexOf(':')), 'base64url')})
    } else if (c.family === 'django-cache' && value[0] === 0x78) {
      streams.push({decodable: c.expect.decodable, name: c.name, stream: value})
    }
  }

  return streams
}

/** Deterministic bytes for case `i` (a SHA-256 chain), so a failure names a reproducible case. */
function bytesOf(i: number, length: number): Buffer {
  const chunks: Buffer[] = []
  for (let n = 0; n * 32 < length; n++) chunks.push(createHash('sha256').update(`${i}:${n}`).digest())
  return Buffer.concat(chunks).subarray(0, length)
}

describe('inflateZlib (one reused zlib stream)', () => {
  const session = Buffer.from(JSON.stringify({
    _auth_user_backend: 'django.contrib.auth.backends.ModelBackend', _auth_user_hash: 'ab'.repeat(32), _auth_user_id: '42',
  }))

  it('is in use on this Node (its internals passed the known-answer probe)', () => {
    // Otherwise every test below would only compare inflateSync with itself.
    assert.equal(reusesStream(), true)
  })

  it('inflates what Django wrote: every compressed golden fixture, as inflateSync does', () => {
    const streams = fixtureStreams()
    assert.ok(streams.filter(s => s.decodable).length >= 3, `expected compressed fixtures, found ${streams.length}`)
    // A fixture Django cannot decode may still hold a valid stream (a bad signature, say): only
    // the decodable ones must inflate.
    for (const {decodable, name, stream} of streams) {
      const result = same(stream, 16_777_216, name)
      if (decodable) assert.equal(result.ok, true, name)
    }
  })

  it('refuses corrupt, truncated and empty input with the same error, and recovers after it', () => {
    const packed = deflateSync(session)
    let failures = 0
    for (let i = 0; i < 3000; i++) {
      // One to three bit flips anywhere in the stream (header, blocks, checksum).
      const bad = Buffer.from(packed)
      const r = bytesOf(i, 7)
      for (let f = 0; f <= r[0] % 3; f++) bad[r.readUInt16LE(1 + (2 * f)) % bad.length] ^= 2 ** (r[f] % 8)
      if (!same(bad, 1_048_576, `bit flips, case ${i}`).ok) failures++
      // The next good value must come out whole: no state left over from a failure.
      same(packed, 1_048_576, `good value after case ${i}`)
    }

    assert.ok(failures > 2500, `most flipped streams fail (${failures})`)
    for (let cut = 0; cut < packed.length; cut++) same(packed.subarray(0, cut), 1_048_576, `truncated to ${cut} bytes`)
    same(Buffer.alloc(0), 1_048_576, 'empty')
  })

  it('ignores bytes after the stream, as inflateSync does', () => {
    const padded = Buffer.concat([deflateSync(session), Buffer.from('trailing junk')])
    assert.equal(same(padded, 1_048_576, 'trailing bytes').ok, true)
  })

  it('enforces maxOutputLength with the same RangeError, below and above the reused buffer', () => {
    const packed = deflateSync(session)
    const limited = same(packed, session.length - 1, 'one byte over')
    assert.deepEqual(limited, {code: 'ERR_BUFFER_TOO_LARGE', kind: 'RangeError', ok: false})
    assert.equal(same(packed, session.length, 'exactly at the limit').ok, true)
    // Larger than the 64 KiB the reused stream writes into: inflateSync's own path.
    const large = Buffer.alloc(200_000, 'session ')
    assert.equal(same(deflateSync(large), 1_048_576, 'large').ok, true)
    assert.equal(same(deflateSync(large), 100_000, 'large, over the limit').ok, false)
    assert.equal(same(deflateSync(Buffer.alloc(65_536, 'x')), 1_048_576, 'exactly the buffer').ok, true)
  })

  it('agrees on random and dictionary-compressed input', () => {
    for (let i = 0; i < 2000; i++) {
      const bytes = bytesOf(100_000 + i, i % 64)
      // Half of them given a valid zlib header, so the inflater gets past it.
      if (i % 2 === 0 && bytes.length > 2) bytes.set([0x78, 0x9C])
      same(bytes, 1_048_576, `random case ${i}`)
    }

    same(deflateSync(session, {dictionary: Buffer.from('_auth_user_id')}), 1_048_576, 'needs a dictionary')
    same(deflateSync(session, {level: 0}), 1_048_576, 'stored blocks')
  })
})
