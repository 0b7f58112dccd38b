import assert from 'node:assert/strict'
import {existsSync, readFileSync} from 'node:fs'

import type {DecodedSession} from '../../src/formats/codec.js'

import {djangoSignature} from '../../src/formats/django-signing.js'
import {createDjangoCodec} from '../../src/frameworks/django.js'
import {encodeLegacy, encodeSigned, signPayload} from '../support/django-encode.js'
import {djangoFixtures, plain} from '../support/fixtures.js'

const fixtures = djangoFixtures()
const signed = fixtures.cases.filter(c => c.family === 'django-signed')

describe('django codec (golden fixtures from Django 3.2.25)', () => {
  // In the workspace the shared fixtures sit next to the repository: the copy must not drift.
  const shared = new URL('../../../shared/fixtures/django.json', import.meta.url)
  if (existsSync(shared)) {
    it('uses the shared fixture file unchanged', () => {
      assert.equal(readFileSync(new URL('../fixtures/django.json', import.meta.url), 'utf8'), readFileSync(shared, 'utf8'))
    })
  }

  it('covers every django-signed case', () => {
    assert.ok(signed.length >= 14, `only ${signed.length} signed cases`)
  })

  for (const c of signed) {
    describe(c.name, () => {
      const value = Buffer.from(c.sessionData!, 'latin1')

      it(`decodes as ${c.expect.decodable ? `user ${c.expect.userId}` : 'undecodable'} without a key`, () => {
        const decoded = createDjangoCodec().decode(value)
        assert.equal(decoded.ok, c.expect.decodable, JSON.stringify(decoded))
        if (!decoded.ok) {
          assert.match(decoded.reason, /\w/)
          return
        }

        assert.equal(decoded.userId, c.expect.userId)
        assert.equal(decoded.signature, 'unchecked')
        if (c.expect.data !== null) assert.deepEqual(plain(decoded.data), c.expect.data)
      })

      it(`verifies the signature as ${c.expect.signatureValid ? 'valid' : 'invalid'} with SECRET_KEY`, () => {
        const decoded = createDjangoCodec({secretKeys: [fixtures.secretKey]}).decode(value)
        if (!c.expect.decodable) {
          assert.equal(decoded.ok, false)
          return
        }

        assert.ok(decoded.ok)
        assert.equal(decoded.signature, c.expect.signatureValid ? 'valid' : 'invalid')
      })
    })
  }

  it('accepts a key from SECRET_KEY_FALLBACKS and rejects unrelated keys', () => {
    const login = signed.find(c => c.name === 'login-compressed')!
    const value = Buffer.from(login.sessionData!)
    const rotated = createDjangoCodec({secretKeys: ['new-key-after-rotation', fixtures.secretKey]}).decode(value) as DecodedSession
    assert.equal(rotated.signature, 'valid')
    const wrong = createDjangoCodec({secretKeys: ['some-other-key']}).decode(value) as DecodedSession
    assert.equal(wrong.signature, 'invalid')
    assert.equal(wrong.userId, '42', 'the payload is still read, so reports can say what was ignored')
  })

  it('uses a custom salt for custom SessionStore classes', () => {
    const value = Buffer.from(encodeSigned({_auth_user_id: '5'}, {salt: 'django.contrib.sessions.MyStore', secretKey: 'k'}))
    assert.equal((createDjangoCodec({secretKeys: ['k']}).decode(value) as DecodedSession).signature, 'invalid')
    assert.equal((createDjangoCodec({salt: 'django.contrib.sessions.MyStore', secretKeys: ['k']}).decode(value) as DecodedSession).signature, 'valid')
  })

  it('reads the user id from another path when told to', () => {
    const value = Buffer.from(encodeSigned({account: {id: 99}}, {secretKey: 'k'}))
    assert.equal((createDjangoCodec({userPath: ['account', 'id']}).decode(value) as DecodedSession).userId, '99')
  })

  it('reads legacy rows whose base64 is wrapped over several lines (Python 2 era)', () => {
    const legacy = signed.find(c => c.name === 'legacy-format')!
    const wrapped = legacy.sessionData!.replaceAll(/(.{76})/g, '$1\n') + '\n'
    const decoded = createDjangoCodec({secretKeys: [fixtures.secretKey]}).decode(Buffer.from(wrapped))
    assert.ok(decoded.ok)
    assert.equal(decoded.userId, '77')
    assert.equal(decoded.signature, 'valid')
  })

  it('never treats a session whose user id is not text or a number as anyone’s', () => {
    for (const id of [null, true, {id: 42}, [42]]) {
      const value = Buffer.from(encodeSigned({_auth_user_id: id}, {secretKey: 'k'}))
      const decoded = createDjangoCodec().decode(value)
      assert.ok(decoded.ok)
      assert.equal(decoded.userId, null, `for ${JSON.stringify(id)}`)
    }
  })

  it('reports JSON that is not a dict as undecodable', () => {
    for (const payload of ['[1,2]', '"42"', '42', 'null']) {
      const value = Buffer.from(signPayload(Buffer.from(payload), {secretKey: 'k'}))
      assert.deepEqual(createDjangoCodec().decode(value), {ok: false, reason: 'not a session dict'})
    }
  })

  it('reads a zlib bomb in pieces instead of inflating it: its session, exactly', () => {
    const bomb = signPayload(Buffer.from(`{"a":"${'x'.repeat(40 * 1024 * 1024)}","_auth_user_id":"7"}`), {secretKey: 'k'})
    assert.ok(bomb.length < 100_000)
    assert.deepEqual(createDjangoCodec().decode(Buffer.from(bomb)), {
      data: {}, ok: true, signature: 'unchecked', userId: '7', variant: 'signed',
    })
  })
})

describe('django encoder (test support) against the fixtures', () => {
  it('signs exactly as Django does', () => {
    for (const c of signed.filter(x => x.expect.signatureValid && x.name !== 'legacy-format')) {
      const at = c.sessionData!.lastIndexOf(':')
      assert.equal(djangoSignature(c.sessionData!.slice(0, at), fixtures.secretKey, fixtures.salt), c.sessionData!.slice(at + 1), c.name)
    }
  })

  it('reproduces Django’s uncompressed output byte for byte', () => {
    for (const c of signed.filter(x => x.expect.signatureValid && !x.sessionData!.startsWith('.') && x.name !== 'legacy-format')) {
      const [, ts] = c.sessionData!.split(':')
      const timestamp = [...ts].reduce((n, ch) => (n * 62) + '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'.indexOf(ch), 0)
      assert.equal(encodeSigned(c.expect.data!, {secretKey: fixtures.secretKey, timestamp}), c.sessionData, c.name)
    }
  })

  it('writes compressed sessions Django reads back (Node’s zlib emits other, equally valid, bytes than CPython’s)', () => {
    for (const c of signed.filter(x => x.expect.signatureValid && x.sessionData!.startsWith('.') && x.expect.data)) {
      const encoded = encodeSigned(c.expect.data!, {secretKey: fixtures.secretKey})
      assert.ok(encoded.startsWith('.'), c.name)
      const decoded = createDjangoCodec({secretKeys: [fixtures.secretKey]}).decode(Buffer.from(encoded)) as DecodedSession
      assert.equal(decoded.signature, 'valid')
      assert.deepEqual(plain(decoded.data), c.expect.data)
    }
  })

  it('reproduces Django’s legacy output byte for byte', () => {
    const legacy = signed.find(c => c.name === 'legacy-format')!
    assert.equal(encodeLegacy(legacy.expect.data!, {secretKey: fixtures.secretKey}), legacy.sessionData)
  })
})
