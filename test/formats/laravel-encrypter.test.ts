import assert from 'node:assert/strict'
import {
  createCipheriv, createHmac, randomBytes,
} from 'node:crypto'

import {
  decryptLaravel, isLaravelEnvelope, type LaravelCipher, type LaravelDecrypted, LaravelKeyError, parseLaravelKey,
} from '../../src/formats/laravel-encrypter.js'
import {parsePhpSerialized, phpStringBytes} from '../../src/formats/php-serialize.js'
import {
  fixtureJson, type PhpCase, phpFixtures, storedBytes,
} from '../support/php-fixtures.js'

const fixtures = phpFixtures()
const {appKey, cases, loginKey, oldAppKey} = fixtures
const key = parseLaravelKey(appKey)
const oldKey = parseLaravelKey(oldAppKey)

/** What Laravel's Encrypter::encrypt($plain, false) writes, for ciphers the fixtures do not cover. */
function encrypt(plain: Buffer, rawKey: Buffer, cipher: LaravelCipher): string {
  const gcm = cipher.endsWith('gcm')
  const iv = randomBytes(gcm ? 12 : 16)
  const c = createCipheriv(cipher, rawKey, iv)
  const value = Buffer.concat([c.update(plain), c.final()]).toString('base64')
  const ivText = iv.toString('base64')
  const tag = gcm ? (c as unknown as {getAuthTag(): Buffer}).getAuthTag().toString('base64') : ''
  const mac = gcm ? '' : createHmac('sha256', rawKey).update(ivText + value).digest('hex')
  return Buffer.from(JSON.stringify({
    iv: ivText, value, mac, tag,
  })).toString('base64')
}

function envelopeOf(c: PhpCase): Buffer {
  // A database payload is base64 of the encrypted string; a Redis value is serialize() of it.
  if (c.family === 'laravel-db-encrypted') return Buffer.from(storedBytes(c).toString('latin1'), 'base64')
  return Buffer.from(phpStringBytes(parsePhpSerialized(storedBytes(c)))!)
}

function session(result: LaravelDecrypted): Record<string, unknown> {
  assert.ok(result.ok, JSON.stringify(result))
  // EncryptedStore encrypts with serialize = true: the plaintext is serialize(serialize($attributes)).
  const inner = phpStringBytes(parsePhpSerialized(result.plaintext))
  assert.ok(inner)
  return parsePhpSerialized(inner) as Record<string, unknown>
}

describe('Laravel Encrypter', () => {
  describe('parseLaravelKey', () => {
    it('reads base64: keys and raw keys of 16 or 32 bytes', () => {
      assert.equal(key.length, 32)
      assert.deepEqual(parseLaravelKey(` ${appKey}\n`), key)
      assert.deepEqual(parseLaravelKey('0123456789abcdef'), Buffer.from('0123456789abcdef'))
      assert.equal(parseLaravelKey(`base64:${Buffer.alloc(16, 7).toString('base64')}`).length, 16)
      assert.equal(parseLaravelKey('x'.repeat(32)).length, 32)
    })

    it('refuses bad keys with a message that never contains the key', () => {
      const secret = 'c2VjcmV0IGtleSBvZiB0aGUgd3JvbmcgbGVuZ3Ro'
      for (const bad of ['', '   ', 'base64:', `base64:${secret}`, 'base64:!!!notbase64!!!', 'short', 'x'.repeat(31), `base64:${Buffer.alloc(24).toString('base64')}`]) {
        assert.throws(() => parseLaravelKey(bad), (error: unknown) => {
          assert.ok(error instanceof LaravelKeyError)
          assert.ok(!error.message.includes(secret) && (bad.trim().length < 8 || !error.message.includes(bad.trim())), error.message)
          assert.ok(!error.message.includes('\n'))
          return true
        }, bad)
      }

      assert.match((() => {
        try {
          parseLaravelKey('short')
        } catch (error) {
          return (error as Error).message
        }

        return ''
      })(), /16 or 32 bytes.*5 bytes/)
    })
  })

  describe('golden encrypted sessions (Illuminate 8.83 EncryptedStore)', () => {
    for (const c of cases.filter(x => x.family === 'laravel-db-encrypted' || x.name === 'laravel-redis-encrypted')) {
      it(`${c.name}: ${c.note}`, () => {
        const envelope = envelopeOf(c)
        assert.ok(isLaravelEnvelope(envelope))
        const result = decryptLaravel(envelope, key)
        if (!c.expect.decodable) {
          assert.deepEqual(result, {failure: 'bad-mac', ok: false, reason: 'bad MAC'})
          if (c.expect.decodableWithOldAppKey) assert.ok(decryptLaravel(envelope, oldKey).ok)
          return
        }

        assert.ok(result.ok)
        assert.equal(result.cipher.toUpperCase(), c.expect.cipher ?? fixtures.cipher)
        const data = session(result)
        assert.deepEqual(fixtureJson(data), c.expect.data)
        if (c.expect.plaintext) assert.equal(Buffer.from(phpStringBytes(parsePhpSerialized(result.plaintext))!).toString('utf8'), c.expect.plaintext)
        const login = data[loginKey]
        assert.equal(login === undefined ? null : String(login), c.expect.userId)
      })
    }

    it('the wrong key (oldAppKey) gives "bad MAC", CBC and GCM alike', () => {
      for (const c of cases.filter(x => x.family === 'laravel-db-encrypted' && x.expect.decodable)) {
        const result = decryptLaravel(envelopeOf(c), oldKey)
        assert.equal(result.ok ? 'ok' : result.failure, 'bad-mac', c.name)
      }
    })

    it('tries each key in turn (a rotated key among them)', () => {
      const rotated = envelopeOf(cases.find(c => c.name === 'laravel-db-encrypted-rotated-key')!)
      const result = decryptLaravel(rotated, [key, oldKey])
      assert.ok(result.ok)
      assert.equal(result.keyIndex, 1)
    })
  })

  describe('envelopes made here with node:crypto', () => {
    const plain = Buffer.from('s:22:"a:1:{s:1:"k";s:3:"Zoë";}";')
    for (const cipher of ['aes-128-cbc', 'aes-256-cbc', 'aes-128-gcm', 'aes-256-gcm'] as LaravelCipher[]) {
      it(`decrypts ${cipher}, and refuses it tampered`, () => {
        const rawKey = randomBytes(cipher.startsWith('aes-128') ? 16 : 32)
        const envelope = encrypt(plain, rawKey, cipher)
        const result = decryptLaravel(envelope, rawKey)
        assert.ok(result.ok)
        assert.equal(result.cipher, cipher)
        assert.deepEqual(result.plaintext, plain)
        assert.ok(decryptLaravel(envelope, rawKey, {cipher}).ok)
        const json = JSON.parse(Buffer.from(envelope, 'base64').toString()) as Record<string, string>
        const bytes = Buffer.from(json.value, 'base64')
        bytes[0] ^= 0xFF // eslint-disable-line no-bitwise -- flip one ciphertext byte
        const flipped = {...json, value: bytes.toString('base64')}
        const tampered = decryptLaravel(Buffer.from(JSON.stringify(flipped)).toString('base64'), rawKey)
        assert.equal(tampered.ok ? 'ok' : tampered.failure, 'bad-mac')
        assert.equal(decryptLaravel(envelope, randomBytes(rawKey.length)).ok, false)
      })
    }

    it('tells not-an-envelope, bad MAC and decrypt failures apart', () => {
      const rawKey = randomBytes(32)
      const failureOf = (payload: string | Uint8Array, options = {}): string => {
        const r = decryptLaravel(payload, rawKey, options)
        return r.ok ? 'ok' : r.failure
      }

      const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64')
      for (const payload of ['', 'not base64 at all', b64([1, 2]), b64({iv: 'x'}), b64({iv: 1, mac: '', value: ''}), b64({iv: 'AAAA', mac: '', value: ''}), Buffer.from('a:1:{}')]) {
        assert.equal(failureOf(payload), 'not-envelope', String(payload))
      }

      const iv = randomBytes(16).toString('base64')
      // the right MAC over a value that is not base64 / does not decrypt (bad padding)
      const macOf = (value: string): string => createHmac('sha256', rawKey).update(iv + value).digest('hex')
      assert.equal(failureOf(b64({iv, mac: macOf('%%%'), value: '%%%'})), 'decrypt-failed')
      const junk = randomBytes(32).toString('base64')
      assert.equal(failureOf(b64({iv, mac: macOf(junk), value: junk})), 'decrypt-failed')
      assert.equal(failureOf(b64({iv, mac: macOf(junk).toUpperCase(), value: junk})), 'bad-mac')
      assert.equal(failureOf(b64({iv, mac: macOf(junk).slice(1), value: junk})), 'bad-mac')
      // a CBC envelope forced to GCM has the wrong IV size; a GCM tag of the wrong size
      assert.equal(failureOf(encrypt(Buffer.from('x'), rawKey, 'aes-256-cbc'), {cipher: 'aes-256-gcm'}), 'not-envelope')
      const gcm = JSON.parse(Buffer.from(encrypt(Buffer.from('x'), rawKey, 'aes-256-gcm'), 'base64').toString()) as Record<string, string>
      assert.equal(failureOf(b64({...gcm, tag: 'AAAA'})), 'decrypt-failed')
      // a tag with a CBC cipher (Laravel 8 refuses it)
      const cbc = JSON.parse(Buffer.from(encrypt(Buffer.from('x'), rawKey, 'aes-256-cbc'), 'base64').toString()) as Record<string, string>
      assert.equal(failureOf(b64({...cbc, tag: gcm.tag}), {cipher: 'aes-256-cbc'}), 'decrypt-failed')
      // a key of the wrong size for the forced cipher
      assert.equal(failureOf(encrypt(Buffer.from('x'), rawKey, 'aes-256-cbc'), {cipher: 'aes-128-cbc'}), 'bad-mac')
    })
  })
})
