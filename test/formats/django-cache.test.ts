import assert from 'node:assert/strict'
import {deflateSync, gzipSync} from 'node:zlib'

import {createDjangoCacheCodec} from '../../src/formats/django-cache.js'
import {caseValue, djangoFixtures, plain} from '../support/fixtures.js'

const codec = createDjangoCacheCodec()
const cases = djangoFixtures().cases.filter(c => c.family === 'django-cache')

describe('django-cache codec (golden fixtures from Django 3.2.25 and django-redis 5.2.0)', () => {
  it('covers every django-cache case', () => {
    assert.ok(cases.length >= 8, `${cases.length} cases`)
  })

  for (const c of cases) {
    it(`${c.name}: ${c.expect.decodable ? `user ${c.expect.userId}` : 'undecodable'}`, () => {
      const decoded = codec.decode(caseValue(c))
      assert.equal(decoded.ok, c.expect.decodable, JSON.stringify(decoded))
      if (!decoded.ok) return
      assert.equal(decoded.userId, c.expect.userId)
      assert.equal(decoded.signature, 'unchecked')
      if (c.expect.data) assert.deepEqual(plain(decoded.data), c.expect.data)
    })
  }

  it('says why a raw integer is not a session', () => {
    assert.deepEqual(codec.decode(Buffer.from('12345')), {ok: false, reason: 'not a session (raw integer)'})
  })

  it('reads the user from a malicious pickle without running it', () => {
    const c = cases.find(x => x.name === 'pickle-malicious-reduce')!
    const decoded = codec.decode(caseValue(c))
    assert.ok(decoded.ok)
    assert.equal((decoded.data.x as {__class__: string}).__class__, 'posix.system')
  })

  it('reads gzip-compressed and JSON-serialized values (django-redis options)', () => {
    const json = Buffer.from('{"_auth_user_id":"5","n":1}')
    assert.equal((codec.decode(gzipSync(json)) as {userId: string}).userId, '5')
    assert.equal((codec.decode(json) as {userId: string}).userId, '5')
    assert.equal((codec.decode(deflateSync(json)) as {variant: string}).variant, 'pickle+zlib')
  })

  it('refuses compression bombs instead of inflating them', () => {
    const bomb = Buffer.alloc(64 * 1024 * 1024)
    assert.deepEqual(codec.decode(deflateSync(bomb)), {ok: false, reason: 'too large'})
    assert.deepEqual(codec.decode(gzipSync(bomb)), {ok: false, reason: 'too large'})
  })

  it('names compressions it cannot read', () => {
    assert.deepEqual(codec.decode(Buffer.from([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00, 1, 2])), {ok: false, reason: 'xz-compressed (unsupported)'})
    assert.deepEqual(codec.decode(Buffer.from([0x82, 0xA1, 0x61, 1])), {ok: false, reason: 'msgpack (unsupported)'})
  })

  it('reports truncated compressed data as undecodable', () => {
    const z = deflateSync(Buffer.from('{"_auth_user_id":"5","pad":"' + 'x'.repeat(200) + '"}'))
    for (let n = 2; n < z.length; n += 7) assert.equal(codec.decode(z.subarray(0, n)).ok, false, `${n} bytes`)
  })
})
