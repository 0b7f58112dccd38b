/**
 * Python's json.dumps writes NaN, Infinity and -Infinity for such floats (allow_nan defaults to
 * True) and json.loads reads them back, so Django and django-redis's JSON serializer store
 * sessions JSON.parse refuses. Such a session is still its user's: purged, never "not JSON".
 */
import assert from 'node:assert/strict'

import {withoutNonFinite} from '../../src/formats/python.js'
import {createDjangoCacheCodec} from '../../src/frameworks/django-cache.js'
import {createDjangoCodec} from '../../src/frameworks/django.js'
import {signPayload} from '../support/django-encode.js'

// What json.dumps(dict(...), separators=(',', ':')) prints for these sessions (CPython 3.11).
const PAYLOADS = [
  '{"_auth_user_id":"42","x":NaN}',
  '{"x":-Infinity,"_auth_user_id":"42"}',
  '{"cart":[1.5,Infinity,NaN],"_auth_user_id":"42","note":"NaN and Infinity in a string"}',
]

describe('Python JSON with NaN and Infinity', () => {
  for (const payload of PAYLOADS) {
    it(`django (signed, compressed or not) reads ${payload}`, () => {
      const codec = createDjangoCodec({secretKeys: ['k']})
      for (const compress of [false, true]) {
        const value = Buffer.from(signPayload(Buffer.from(payload), {compress, secretKey: 'k'}))
        const decoded = codec.decode(value)
        assert.ok(decoded.ok, JSON.stringify(decoded))
        assert.equal(decoded.userId, '42')
        assert.equal(decoded.signature, 'valid')
        assert.equal(codec.decodeFor!(value, '42')?.ok, true)
      }
    })

    it(`django-cache (django-redis JSONSerializer) reads ${payload}`, () => {
      const decoded = createDjangoCacheCodec().decode(Buffer.from(payload))
      assert.ok(decoded.ok, JSON.stringify(decoded))
      assert.equal(decoded.userId, '42')
    })
  }

  it('strings keep their text; JSON that is broken otherwise stays "not JSON"', () => {
    assert.equal(withoutNonFinite(String.raw`{"a":"NaN \" Infinity","b":NaN}`), String.raw`{"a":"NaN \" Infinity","b":null}`)
    assert.equal(withoutNonFinite('{"a":"NaN"}'), undefined)
    const broken = createDjangoCacheCodec().decode(Buffer.from('{"_auth_user_id":"42","x":NaN'))
    assert.deepEqual(broken, {ok: false, reason: 'not JSON'})
    const nan = createDjangoCacheCodec().decode(Buffer.from('{"_auth_user_id":NaN}'))
    assert.ok(nan.ok)
    assert.equal(nan.userId, null, 'a NaN user id is nobody')
  })
})
