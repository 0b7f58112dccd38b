/* eslint-disable no-bitwise -- hand-written Marshal streams: byte masks and shifts */
import type {Context} from 'mocha'

import {strict as assert} from 'node:assert'
import {execFileSync} from 'node:child_process'

import {inflateZlib} from '../../src/formats/compression/inflate.js'
import {
  isMarshal, MarshalError, type MarshalLimits, parseMarshal, type RubyObject,
} from '../../src/formats/marshal.js'
import {isPickle} from '../../src/formats/pickle.js'
import {
  plain, railsFixtures, railsStored,
} from '../support/ruby-python-fixtures.js'

const {cases} = railsFixtures()
const hex = (text: string): Buffer => Buffer.from(text.replaceAll(/\s/g, ''), 'hex')
/** A stream from the bytes after the 04 08 header, written as hex. */
const m = (body: string): Buffer => hex(`0408${body}`)
/** Latin-1 text to hex, for names inside hand-written streams. */
const t = (text: string): string => Buffer.from(text, 'latin1').toString('hex')
/** A short symbol `:name` (length < 123). */
const sym = (name: string): string => `3a${(name.length + 5).toString(16).padStart(2, '0')}${t(name)}`
/** A short binary string `"text"`. */
const str = (text: string): string => `22${(text.length + 5).toString(16).padStart(2, '0')}${t(text)}`

function throwsMarshal(input: Uint8Array, limit: boolean, message?: RegExp, limits?: MarshalLimits): void {
  assert.throws(() => parseMarshal(input, limits), (error: unknown) => {
    assert.ok(error instanceof MarshalError, `expected MarshalError, got ${String(error)}`)
    assert.equal(error.limit, limit, `limit flag of "${error.message}"`)
    if (message) assert.match(error.message, message)
    return true
  })
}

/** The session hash inside a stored value: an Entry's @value (inflated when @compressed), or the raw dump. */
function sessionOf(stored: Buffer): {entry?: RubyObject; session: unknown} {
  const value = parseMarshal(stored)
  if (!isRubyObject(value)) return {session: value}
  assert.equal(value.__class__, 'ActiveSupport::Cache::Entry')
  const inner = value['@value']
  if (value['@compressed'] !== true) return {entry: value, session: inner}
  assert.ok(inner instanceof Uint8Array, 'a compressed @value is a binary String')
  return {entry: value, session: parseMarshal(inflateZlib(inner, 16 * 1024 * 1024))}
}

function isRubyObject(value: unknown): value is RubyObject {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype
}

function dict(value: unknown): Record<string, unknown> {
  assert.ok(value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === null, 'expected a Hash (null prototype)')
  return value as Record<string, unknown>
}

/** Devise's `[[id], salt]` under warden.user.<scope>.key: the id as text, or null. */
function deviseUser(session: unknown, scope = 'user'): null | string {
  const key = dict(session)[`warden.user.${scope}.key`]
  if (!Array.isArray(key) || !Array.isArray(key[0])) return null
  const id: unknown = key[0][0]
  return typeof id === 'string' || typeof id === 'number' || typeof id === 'bigint' ? String(id) : null
}

/** No object reachable twice on one path: callers may recurse. */
function assertAcyclic(value: unknown, path: Set<object> = new Set()): void {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return
  assert.ok(!path.has(value), 'cycle in the result')
  path.add(value)
  for (const v of Object.values(value)) assertAcyclic(v, path)
  path.delete(value)
}

/*
 * Generated with Debian bookworm's Ruby 3.1.2 (ruby 3.1.2p20), Marshal 4.8:
 *
 *   Point = Struct.new(:x, :y)
 *   class Account; def initialize; @id = 42; @name = 'alice'; end; end
 *   class Wallet; def initialize(c); @cents = c; end
 *     def marshal_dump; [@cents, 'EUR']; end; def marshal_load(a); @cents = a[0]; end; end
 *   class Token; def initialize(s); @s = s; end; def _dump(_l); @s; end; def self._load(s); new(s); end; end
 *   module Tagged; end
 *   class MyHash < Hash; end
 *   class MyString < String; end
 *   shared = 'shared'
 *   self_ref = []; self_ref << self_ref
 *   h_self = {}; h_self['me'] = h_self
 *   with_default = Hash.new(5); with_default['a'] = 1
 *   ext = 'ext'.dup; ext.extend(Tagged)
 *   f = 1.5
 *   values = {
 *     'fixnums' => [0, 1, -1, 122, 123, -123, -124, 255, 256, -256, -257, 65535, 65536, 2**24, -2**24,
 *                   2**30 - 1, -2**30, 2**31 - 1, -2**31],
 *     'bignums' => [2**30, 2**31, 2**32, 2**53, 2**62, 2**64 + 1, -2**64, -(2**70), 1796177812],
 *     'floats' => [0.0, -0.0, 1.5, -2.25, 1.0e300, 1.0 / 3, Float::INFINITY, -Float::INFINITY, 1796177812.9798095],
 *     'nan' => Float::NAN,
 *     'strings' => ['utf8 Zoë 😀', 'ascii'.encode('US-ASCII'), "\x00\xFFbin".b, 'sjis テスト'.encode('Shift_JIS'),
 *                   'latin é'.encode('ISO-8859-1'), 'win ‚'.encode('Windows-1252'), '',
 *                   'bad utf8 ' + "\xFF".force_encoding('UTF-8')],
 *     'symbols' => [:a, :a, :"ünï", :"ünï", :b],
 *     'sym_keys' => {a: 1, 'a' => 2, :"ünï" => 3},
 *     'links' => [shared, shared, f, f, 2**70, 2**70],
 *     'self_ref' => self_ref, 'h_self' => h_self, 'default' => with_default,
 *     'struct' => Point.new(1, 'two'), 'object' => Account.new, 'marshal_load' => Wallet.new(250),
 *     'user_dump' => Token.new('tok'), 'extended' => ext, 'user_class' => [MyHash['k', 'v'], MyString.new('s')],
 *     'regexp' => [/ab+c/ix, /ünï/], 'class_refs' => [String, Kernel, Comparable],
 *     'keys' => {1 => 'int', nil => 'nil', true => 'true', 1.5 => 'float', [1, 'a'] => 'array', 2**70 => 'big'},
 *     'proto' => {'__proto__' => {'polluted' => true}, 'constructor' => {'prototype' => {'polluted' => true}}},
 *     'time' => Time.at(1700000000, 123456, :usec).utc,
 *   }
 *   values.each { |name, v| puts "#{name}\t#{Marshal.dump(v).unpack1('H*')}" }
 */
const RUBY: Record<string, string> = {
  fixnums: '04085b186900690669fa697f69017b698069ff846901ff6902000169ff0069fefffe6902ffff690300000169040000000169fd0000006904ffffff3f69fc000000c06c2b07ffffff7f6c2d0700000080',
  bignums: '04085b0e6c2b07000000406c2b07000000806c2b080000000001006c2b0900000000000020006c2b0900000000000000406c2b0a010000000000000001006c2d0a000000000000000001006c2d0a000000000000000040006c2b07947f0f6b',
  floats: '04085b0e66063066072d306608312e35660a2d322e3235660a31653330306617302e333333333333333333333333333333336608696e6666092d696e666617313739363137373831322e39373938303935',
  nan: '040866086e616e',
  strings: '04085b0d49221375746638205a6fc3ab20f09f9880063a06455449220a6173636969063b0046220a00ff62696e492210736a697320836583588367063a0d656e636f64696e67220e53686966745f4a495349220c6c6174696e20e9063b06220f49534f2d383835392d3149220a77696e2082063b06221157696e646f77732d31323532492200063b005449220f626164207574663820ff063b0054',
  symbols: '04085b0a3a06613b00493a0ac3bc6ec3af063a0645543b063a0662',
  sym_keys: '04087b083a0661690649220661063a0645546907493a0ac3bc6ec3af063b06546908',
  links: '04085b0b49220b736861726564063a06455440066608312e3540076c2b0a000000000000000040006c2b0a00000000000000004000',
  self_ref: '04085b064000',
  h_self: '04087b064922076d65063a0645544000',
  default: '04087d0649220661063a0645546906690a',
  struct: '0408533a0a506f696e74073a067869063a067949220874776f063a064554',
  object: '04086f3a0c4163636f756e74073a08406964692f3a0a406e616d6549220a616c696365063a064554',
  marshal_load: '0408553a0b57616c6c65745b076901fa492208455552063a064554',
  user_dump: '040849753a0a546f6b656e08746f6b063a064554',
  extended: '040849653a0b5461676765642208657874063a064554',
  user_class: '04085b07433a0b4d79486173687b064922066b063a06455449220676063b065449433a0d4d79537472696e67220673063b0654',
  regexp: '04085b07492f0961622b6303063a064546492f0ac3bc6ec3af10063b0054',
  class_refs: '04085b08630b537472696e676d0b4b65726e656c6d0f436f6d70617261626c65',
  keys: '04087b0b6906492208696e74063a064554304922086e696c063b00545449220974727565063b00546608312e3549220a666c6f6174063b00545b07690649220661063b005449220a6172726179063b00546c2b0a00000000000000004000492208626967063b0054',
  proto: '04087b0749220e5f5f70726f746f5f5f063a0645547b0649220d706f6c6c75746564063b005454492210636f6e7374727563746f72063b00547b0649220e70726f746f74797065063b00547b06400854',
  time: '040849753a0954696d650dd6e91ec040e24135063a097a6f6e65492208555443063a064546',
}

const PROTO = '__proto__'
const ruby = (name: string): unknown => parseMarshal(hex(RUBY[name]))
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b)

describe('parseMarshal', () => {
  describe('golden Rails 6.1 fixtures', () => {
    it('has the cache-store and activerecord cases', () => {
      assert.equal(cases.filter(c => c.family === 'rails-cache-redis').length, 10)
      assert.equal(cases.filter(c => c.family === 'rails-activerecord' && railsStored(c)).length, 6)
    })

    const latestWrite = Math.max(...cases.map(c => c.expect.entryCreatedAt ?? 0))
    for (const c of cases) {
      const stored = railsStored(c)
      if (stored === undefined) continue
      it(`reads ${c.name} (${c.family})`, () => {
        assert.ok(isMarshal(stored))
        const {entry, session} = sessionOf(stored)
        assert.deepEqual(plain(session), c.expect.data)
        assertAcyclic(session)
        assert.equal(deviseUser(session), c.expect.userId)
        if (c.family !== 'rails-cache-redis') {
          assert.equal(entry, undefined, 'activerecord-session_store stores the bare hash')
          return
        }

        // Entry: {__class__, '@value', '@version', '@created_at', '@expires_in'[, '@compressed']}.
        assert.ok(entry)
        assert.deepEqual(Object.keys(entry), ['__class__', '@value', '@version', '@created_at', '@expires_in', ...(c.expect.compressed ? ['@compressed'] : [])])
        assert.equal(entry['@version'], null)
        assert.equal(entry['@created_at'], c.expect.entryCreatedAt)
        assert.equal(entry['@expires_in'], c.expect.entryExpiresIn)
        assert.equal(entry['@compressed'] === true, c.expect.compressed)
        // Written within a second of each other: the 1 s entry is past its expiry, the 14-day ones not.
        const expiresAt = (entry['@created_at'] as number) + (entry['@expires_in'] as number)
        assert.equal(expiresAt < latestWrite + 1, c.expect.expired)
      })
    }

    it('reads Devise ids as Integer or String, scoped', () => {
      const byName = (name: string): unknown => sessionOf(railsStored(cases.find(c => c.name === name)!)!).session
      const key = dict(byName('login-42'))['warden.user.user.key'] as unknown[]
      assert.deepEqual(key[0], [42])
      assert.equal(typeof key[1], 'string')
      assert.deepEqual((dict(byName('login-42-string-key'))['warden.user.user.key'] as unknown[])[0], ['42'])
      assert.equal(deviseUser(byName('admin-42')), null)
      assert.equal(deviseUser(byName('admin-42'), 'admin'), '42')
      assert.equal(deviseUser(byName('user-7-admin-42')), '7')
      // Devise's last_request_at: a Bignum (l+) that fits a double.
      assert.equal(dict(dict(byName('login-42'))['warden.user.user.session']).last_request_at, 1_796_177_812)
    })

    it('does not take the JSON serializer row, a pickle or nothing for Marshal', () => {
      const json = cases.find(c => c.name === 'ar-json-serializer-42')!
      assert.equal(isMarshal(Buffer.from(json.data!)), false)
      assert.equal(isMarshal(Buffer.from('BAh7', 'latin1')), false) // still Base64 text
      assert.equal(isMarshal(hex('8004')), false)
      assert.equal(isMarshal(hex('04')), false)
      assert.equal(isMarshal(hex('0409')), false)
      assert.equal(isPickle(railsStored(cases[0])!), false)
    })

    it('throws MarshalError at every truncation of a fixture', () => {
      const stored = railsStored(cases[0])!
      for (let n = 0; n < stored.length; n++) throwsMarshal(stored.subarray(0, n), false)
    })
  })

  describe('values written by Ruby 3.1', () => {
    it('reads Fixnums in every length form', () => {
      assert.deepEqual(ruby('fixnums'), [0, 1, -1, 122, 123, -123, -124, 255, 256, -256, -257, 65_535, 65_536, 2 ** 24, -(2 ** 24), (2 ** 30) - 1, -(2 ** 30), (2 ** 31) - 1, -(2 ** 31)])
    })

    it('reads Bignums exactly: numbers up to 2^53, bigints beyond', () => {
      assert.deepEqual(ruby('bignums'), [2 ** 30, 2 ** 31, 2 ** 32, 2n ** 53n, 2n ** 62n, (2n ** 64n) + 1n, -(2n ** 64n), -(2n ** 70n), 1_796_177_812])
    })

    it('reads Floats, with -0, infinities and NaN', () => {
      const floats = ruby('floats') as number[]
      assert.deepEqual(floats, [0, -0, 1.5, -2.25, 1e300, 1 / 3, Infinity, -Infinity, 1_796_177_812.979_809_5])
      assert.ok(Object.is(floats[1], -0))
      assert.ok(Number.isNaN(ruby('nan')))
    })

    it('decodes Strings by their encoding; binary Strings are bytes', () => {
      assert.deepEqual(ruby('strings'), ['utf8 Zoë 😀', 'ascii', bytes(0, 0xFF, 0x62, 0x69, 0x6E), 'sjis テスト', 'latin é', 'win ‚', '', 'bad utf8 \uFFFD'])
      // E false (US-ASCII) with high bytes: latin-1, nothing lost.
      assert.equal(parseMarshal(m(`4922${'07'}${t('a\u00FF')}063a064546`)), 'a\u00FF')
      // An encoding Ruby knows and Node cannot decode, or one Ruby does not know: the bytes.
      assert.deepEqual(parseMarshal(m(`4922${'07'}${t('ab')}063a0d${t('encoding')}${str('UTF-32LE')}`)), bytes(0x61, 0x62))
      assert.deepEqual(parseMarshal(m(`4922${'07'}${t('ab')}063a0d${t('encoding')}${str('NoSuchEnc')}`)), bytes(0x61, 0x62))
      assert.equal(parseMarshal(m(`4922${'06'}${t('\u00E9')}063a0d${t('encoding')}${str('EUC-JP')}`)), '\uFFFD')
    })

    it('reads Symbols and symlinks as text, with their encodings', () => {
      assert.deepEqual(ruby('symbols'), ['a', 'a', 'ünï', 'ünï', 'b'])
      // Symbol keys and String keys with the same text collide: the later wins.
      assert.deepEqual(plain(ruby('sym_keys')), {a: 2, ünï: 3})
      // A binary Symbol (no encoding ivar): latin-1 text.
      assert.equal(parseMarshal(m(`3a07${t('\u00FFz')}`)), '\u00FFz')
    })

    it('numbers the object table as Ruby does: links to Strings, Floats and Bignums', () => {
      assert.deepEqual(ruby('links'), ['shared', 'shared', 1.5, 1.5, 2n ** 70n, 2n ** 70n])
    })

    it('turns back-references into <cycle> and drops a Hash default', () => {
      assert.deepEqual(ruby('self_ref'), [{__class__: '<cycle>'}])
      assert.deepEqual(plain(ruby('h_self')), {me: {__class__: '<cycle>'}})
      assert.deepEqual(plain(ruby('default')), {a: 1})
    })

    it('reads Structs, Objects and user types as inert values', () => {
      assert.deepEqual(plain(ruby('struct')), {__class__: 'Point', members: {x: 1, y: 'two'}})
      assert.equal(Object.getPrototypeOf((ruby('struct') as RubyObject).members), null)
      assert.deepEqual(ruby('object'), {'@id': 42, '@name': 'alice', __class__: 'Account'})
      assert.deepEqual(ruby('marshal_load'), {__class__: 'Wallet', marshal_dump: [250, 'EUR']})
      assert.deepEqual(plain(ruby('user_dump')), {__class__: 'Token', _dump: bytes(0x74, 0x6F, 0x6B), ivars: {E: true}})
      assert.deepEqual(ruby('extended'), {__class__: '<extended>', extended: ['Tagged'], value: 'ext'})
      assert.deepEqual(plain(ruby('user_class')), [{__class__: 'MyHash', value: {k: 'v'}}, {__class__: 'MyString', value: 's'}])
      assert.deepEqual(ruby('regexp'), [{__class__: 'Regexp', options: 3, source: 'ab+c'}, {__class__: 'Regexp', options: 16, source: 'ünï'}])
      assert.deepEqual(ruby('class_refs'), [{__class__: 'Class', name: 'String'}, {__class__: 'Module', name: 'Kernel'}, {__class__: 'Module', name: 'Comparable'}])
      // Time is a _dump type: its 8 bytes, its zone in ivars (nothing is decoded).
      assert.deepEqual(plain(ruby('time')), {__class__: 'Time', _dump: new Uint8Array(hex('d6e91ec040e24135')), ivars: {zone: 'UTC'}})
    })

    it('gives non-String keys a text', () => {
      assert.deepEqual(plain(ruby('keys')), {
        1: 'int', 1.5: 'float', '1180591620717411303424': 'big', '[1, "a"]': 'array', nil: 'nil', true: 'true',
      })
    })

    it('keeps __proto__ and constructor keys as own data', () => {
      const value = dict(ruby('proto'))
      assert.deepEqual(Object.keys(value), ['__proto__', 'constructor'])
      assert.equal(dict(value[PROTO]).polluted, true)
      assert.equal(({} as Record<string, unknown>).polluted, undefined)
    })
  })

  describe('hand-written streams', () => {
    it('numbers a u after its ivars, skips Fixnums, nil and Symbols, and links to a C value\'s inner value', () => {
      // [Iu:T "ab" {@zz: "x"}, @1, @2]: "x" is 1, the u is 2.
      const [u, x, again] = parseMarshal(m(`5b08 4975${sym('T')}07${t('ab')}06${sym('@zz')}${str('x')} 4006 4007`)) as [RubyObject, unknown, unknown]
      assert.deepEqual(plain(u), {__class__: 'T', _dump: bytes(0x61, 0x62), ivars: {'@zz': bytes(0x78)}})
      assert.equal(x, (u.ivars as Record<string, unknown>)['@zz'])
      assert.equal(again, u)
      // [5, :a, nil, "s", @1]: only the array and the String take indexes.
      const list = parseMarshal(m(`5b0a 690a ${sym('a')} 30 ${str('s')} 4006`)) as unknown[]
      assert.deepEqual(list, [5, 'a', null, bytes(0x73), bytes(0x73)])
      assert.equal(list[3], list[4])
      // [C:M "s", @1]: the link is the String, without its wrapper.
      const wrapped = parseMarshal(m(`5b07 43${sym('M')}${str('s')} 4006`)) as [RubyObject, unknown]
      assert.equal(wrapped[0].value, wrapped[1])
      // Shared Arrays stay shared.
      const shared = parseMarshal(m('5b07 5b00 4006')) as unknown[][]
      assert.equal(shared[0], shared[1])
    })

    it('reads every r_long form of Fixnum', () => {
      const cases: Array<[string, number]> = [
        ['00', 0],
        ['06', 1],
        ['7f', 122],
        ['fa', -1],
        ['80', -123],
        ['017b', 123],
        ['01ff', 255],
        ['ff00', -256],
        ['ff84', -124],
        ['020001', 256],
        ['fe00ff', -256],
        ['03000001', 65_536],
        ['fd000000', -(2 ** 24)],
        ['04ffffffff', (2 ** 32) - 1],
        ['fc00000080', -(2 ** 31)],
      ]
      for (const [body, value] of cases) assert.equal(parseMarshal(m(`69${body}`)), value, body)
    })

    it('reads Ruby 1.8 Floats with mantissa bytes after a NUL', () => {
      for (const value of [1 / 3, Math.PI, -2 / 3, 1e-310, 123_456.789e100]) {
        const text = value.toPrecision(16).replace(/e\+?/, 'e')
        const body = Buffer.concat([Buffer.from(text, 'latin1'), saveMantissa(value)])
        const stream = Buffer.concat([hex('040866'), fixnumLength(body.length), body])
        assert.equal(parseMarshal(stream), value, text)
      }

      // strtod: trailing garbage is ignored, no digits at all is 0.0.
      assert.equal(parseMarshal(m(`6608${t('1.5abc')}`)), 1.5)
      assert.equal(parseMarshal(m(`6608${t('garbag')}`)), 0)
      assert.equal(parseMarshal(m(`660c${t('1.0e400')}`)), Infinity)
    })

    it('reads e chains, C:Hash (compare_by_identity), d and U values, class refs', () => {
      assert.deepEqual(parseMarshal(m(`65${sym('A')}65${sym('B')}5b00`)), {__class__: '<extended>', extended: ['A', 'B'], value: []})
      assert.deepEqual(plain(parseMarshal(m(`43${sym('Hash')}7b06${str('k')}6906`))), {k: 1})
      assert.deepEqual(parseMarshal(m(`64${sym('OpenSSL::PKey')}${str('pem')}`)), {__class__: 'OpenSSL::PKey', _dump_data: bytes(0x70, 0x65, 0x6D)})
      assert.deepEqual(parseMarshal(m(`55${sym('X')}4000`)), {__class__: 'X', marshal_dump: {__class__: '<cycle>'}})
      assert.deepEqual(parseMarshal(m(`4d08${t('Old')}`)), {__class__: 'Module', name: 'Old'})
    })

    it('keeps Object ivars under their @ names, drops the others, and reads I-wrapped ivars while the object is open', () => {
      assert.deepEqual(parseMarshal(m(`6f${sym('A')}07${sym('@s')}4000${sym('__proto__')}7b00`)), {'@s': {__class__: '<cycle>'}, __class__: 'A'})
      // [Io:A {} {@x: [@1]}]: the I ivar refers to the object through a new Array: a cycle, not a loop.
      const value = parseMarshal(m(`5b06 496f${sym('A')}00 06${sym('@x')}5b064006`))
      assert.deepEqual(value, [{'@x': [{__class__: '<cycle>'}], __class__: 'A'}])
      assertAcyclic(value)
      assert.equal(Object.getPrototypeOf((value as unknown[])[0]), Object.prototype)
    })

    it('refuses what Ruby refuses, with limit false', () => {
      throwsMarshal(hex(''), false, /too short/)
      throwsMarshal(hex('0409'), false, /incompatible/)
      throwsMarshal(hex('0308 30'), false, /incompatible/)
      throwsMarshal(hex('0408'), false, /too short/)
      throwsMarshal(m('2206'), false, /too short/)
      throwsMarshal(m('5b7f'), false, /too short/)
      throwsMarshal(m('4000'), false, /unlinked/)
      throwsMarshal(m('3b00'), false, /bad symbol/)
      throwsMarshal(m(`6f${str('A')}00`), false, /for symbol/)
      throwsMarshal(m('78'), false, /dump format error/)
      throwsMarshal(m('493a06ff063a064554'), false, /invalid byte sequence/) // a broken UTF-8 Symbol
      throwsMarshal(m('493a06ff063a064546'), false, /invalid byte sequence/) // a US-ASCII Symbol with a high byte
      throwsMarshal(m(`5b07 ${sym('a')} 6f493b0000`), false, /symlink with encoding/)
      throwsMarshal(m('495b00063a064554'), false, /enc_capable/)
      throwsMarshal(m(`6f${sym('A')}06${sym('E')}54`), false, /enc_capable/)
      throwsMarshal(m(`4922066106${sym('encoding')}6906`), false, /not a String/)
      throwsMarshal(m(`43${sym('A')}6906`), false, /user class/)
      throwsMarshal(m('6c2bfa'), false, /negative/)
      throwsMarshal(m('2204ffffff7f'), false, /too short/)
      throwsMarshal(m('7b04ffffff7f'), false, /too short/)
    })

    it('refuses what is over its limits, with limit true', () => {
      throwsMarshal(m('30'), true, /maxBytes/, {maxBytes: 2})
      throwsMarshal(m(`${'5b06'.repeat(300)}30`), true, /deeper/)
      throwsMarshal(m(`${'5b06'.repeat(10)}30`), true, /deeper/, {maxDepth: 5})
      throwsMarshal(m(`5b0a${'30'.repeat(5)}`), true, /maxItems/, {maxItems: 4})
      // 60 arrays each holding the previous one twice: 2^60 nodes as a tree, in 300 bytes.
      const laughs = ['5b42', '5b0630', ...Array.from({length: 60}, (_, i) => `5b07${link(i + 1)}${link(i + 1)}`)].join('')
      throwsMarshal(m(laughs), true, /maxItems/)
      // 300 arrays each holding the previous one: shallow to read, 300 deep as a tree.
      const chain = ['5b02', '2c01', '5b00', ...Array.from({length: 299}, (_, i) => `5b06${link(i + 1)}`)].join('')
      throwsMarshal(m(chain), true, /deeper/)
      throwsMarshal(m(`660a${t('0x1p3')}`), true, /hexadecimal/)
      // I:I:I:... as ivar names of one another: bounded by maxDepth, not the stack.
      throwsMarshal(m(`${'493a0661 06'.repeat(5000)}`), true, /deeper/)
    })

    it('rejects huge declared lengths quickly', () => {
      const start = performance.now()
      for (const body of ['2204ffffff7f', '5b04ffffff7f', '7b04ffffff7f', '6c2b04ffffff7f', '6f3a0641 04ffffff7f', '5304ffffff7f']) {
        assert.throws(() => parseMarshal(m(body)), MarshalError)
      }

      assert.ok(performance.now() - start < 50)
    })

    it('throws only MarshalError on non-bytes', () => {
      assert.throws(() => parseMarshal('0408' as unknown as Uint8Array), MarshalError)
    })
  })

  describe('cross-check against the real Ruby (random values)', function () {
    this.timeout(60_000)

    it('reads 400 values Ruby 3.1 dumps as Ruby describes them', function () {
      requireRuby(this)
      const seed = Number(process.env.SESSIONCTL_FUZZ_SEED ?? 1)
      const out = execFileSync('ruby', ['-e', RUBY_GENERATOR, String(seed), '400'], {encoding: 'utf8', maxBuffer: 64 * 1024 * 1024})
      let n = 0
      for (const line of out.trim().split('\n')) {
        const [dump, description] = line.split('\t')
        const value = parseMarshal(hex(dump))
        assertAcyclic(value)
        assert.deepStrictEqual(comparable(value), JSON.parse(description), `seed ${seed}, dump ${dump}`)
        n++
      }

      assert.equal(n, 400)
    })
  })
})

/** An object link `@n`. */
function link(index: number): string {
  return `40${Buffer.from(fixnumLength(index)).toString('hex')}`
}

/** Ruby's w_long for 0 ≤ n < 2^16. */
function fixnumLength(n: number): Buffer {
  if (n === 0) return Buffer.from([0])
  if (n < 123) return Buffer.from([n + 5])
  if (n < 256) return Buffer.from([1, n])
  return Buffer.from([2, n & 0xFF, n >> 8])
}

/** Ruby 1.8's save_mantissa: a NUL, then the mantissa bits below the first 37 as big-endian 32-bit groups. */
function saveMantissa(value: number): Buffer {
  let e = Math.floor(Math.log2(Math.abs(value))) + 1
  let f = Math.abs(value) / (2 ** e)
  while (f >= 1) {
    f /= 2
    e++
  }

  while (f < 0.5) {
    f *= 2
    e--
  }

  let d = (f * (2 ** 37)) % 1
  const out = [0]
  while (d > 0) {
    d *= 2 ** 32
    const n = Math.trunc(d)
    d -= n
    out.push(...Buffer.from([n >>> 24, n >>> 16, n >>> 8, n]))
  }

  while (out.length > 1 && out.at(-1) === 0) out.pop()
  return out.length === 1 ? Buffer.alloc(0) : Buffer.from(out)
}

/** The reader's value in the JSON shape RUBY_GENERATOR's `desc` writes. */
function comparable(value: unknown): unknown {
  if (typeof value === 'bigint') return {$big: String(value)}
  if (value instanceof Uint8Array) return {$bytes: Buffer.from(value).toString('hex')}
  if (Array.isArray(value)) return value.map(v => comparable(v))
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, comparable(v)]))
  return value
}

const RUBY_APT_LINE = 'sudo apt-get install -y ruby'

/** Skips the calling test without Ruby, except in CI (SESSIONCTL_TEST_REQUIRE_ALL=1), where that is a failure. */
function requireRuby(context: Context): void {
  try {
    execFileSync('ruby', ['-e', 'exit(RUBY_VERSION >= "2.7" ? 0 : 1)'], {stdio: 'ignore'})
  } catch {
    const message = `Ruby is not installed; the Marshal cross-check needs: ${RUBY_APT_LINE}`
    if (process.env.SESSIONCTL_TEST_REQUIRE_ALL === '1') throw new Error(message)
    console.warn(`      skipped: ${message}`)
    context.skip()
  }
}

// Random session-like values (shared Strings, Arrays and Hashes, so links and symlinks occur),
// each printed as its Marshal.dump in hex and a JSON description in the reader's conventions.
const RUBY_GENERATOR = String.raw`
require 'json'
srand(ARGV[0].to_i)
$pool = []
Thing = Struct.new(:a, :b)
class Obj; def initialize(x); @x = x; @y = [x]; end; end
def text; ['plain', 'Zoë', '😀 emoji', '', '42', 'a' * rand(300), "nul\u0000", 'ascii'.encode('US-ASCII'), 'é'.encode('ISO-8859-1')].sample; end
def gen(d)
  return $pool.sample if !$pool.empty? && rand < 0.15
  v = case (d <= 0 ? rand(8) : rand(13))
      when 0 then nil
      when 1 then [true, false].sample
      when 2 then [0, 1, -1, 122, 123, -123, -124, 255, 256, 2**30 - 1, 2**30, -2**30 - 1, 2**31, 2**53 - 1, 2**53, 2**64, -2**70, rand(2**40) - 2**39].sample
      when 3 then [0.5, -1.25, 1e-300, 1.0 / 3, 123456.789, 1e20, -0.0, 2.5e-320].sample
      when 4, 5 then text.dup
      when 6 then text.to_sym
      when 7 then Random.bytes(rand(8)).b
      when 8, 9 then Array.new(rand(5)) { gen(d - 1) }
      when 10 then Thing.new(gen(d - 1), gen(d - 1))
      when 11 then Obj.new(gen(d - 1))
      else h = {}; rand(5).times { h[[text, text.to_sym, rand(100)].sample] = gen(d - 1) }; h
      end
  $pool << v if v.is_a?(String) || v.is_a?(Array) || v.is_a?(Hash) || v.is_a?(Obj)
  v
end
def desc(v)
  case v
  when nil, true, false then v
  when Integer then v.abs < 2**53 ? v : {'$big' => v.to_s}
  when Float then v
  when String then v.encoding == Encoding::BINARY ? {'$bytes' => v.unpack1('H*')} : v.encode('UTF-8')
  when Symbol then v.to_s
  when Array then v.map { |x| desc(x) }
  when Thing then {'__class__' => 'Thing', 'members' => {'a' => desc(v.a), 'b' => desc(v.b)}}
  when Obj then {'__class__' => 'Obj', '@x' => desc(v.instance_variable_get(:@x)), '@y' => desc(v.instance_variable_get(:@y))}
  when Hash then r = {}; v.each { |k, x| r[k.to_s.encode('UTF-8')] = desc(x) }; r
  end
end
ARGV[1].to_i.times do
  $pool.clear
  v = gen(4)
  puts "#{Marshal.dump(v).unpack1('H*')}\t#{JSON.generate(desc(v), allow_nan: true)}"
end
`
