import assert from 'node:assert/strict'

import {readPath} from '../../src/formats/codec.js'
import {PhpSerializeError} from '../../src/formats/php-serialize.js'
import {
  isIgbinary, parseIgbinary, type PhpSessionHandler, readPhpSession,
} from '../../src/formats/php-session.js'
import {
  fixtureJson, phpFixtures, storedBytes, wellFormed,
} from '../support/php-fixtures.js'

const {cases} = phpFixtures()
const native = cases.filter(c => c.family === 'php-native')

function refuses(run: () => unknown, limit: boolean, pattern?: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof PhpSerializeError, `not a PhpSerializeError: ${String(error)}`)
    assert.equal(error.limit, limit, error.message)
    if (pattern) assert.match(error.message, pattern)
    return true
  })
}

const igb = (...parts: Array<number | string>): Buffer => Buffer.concat([Buffer.from([0, 0, 0, 2]), ...parts.map(p => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from([p])))])

describe('readPhpSession', () => {
  describe('golden phpredis sessions (PHP 8.2 session_start(), phpredis 5.3.7, igbinary 3.2.13)', () => {
    for (const c of native.filter(x => x.expect.isSession !== false)) {
      it(`${c.name}: ${c.note}`, () => {
        const session = readPhpSession(storedBytes(c))
        assert.equal(session.handler, c.expect.serializeHandler)
        assert.ok(wellFormed(session.data))
        assert.equal(Object.getPrototypeOf(session.data), null)
        // An empty PHP session is an empty array, which the fixtures write as [].
        const expected = Array.isArray(c.expect.data) && c.expect.data.length === 0 ? {} : c.expect.data
        assert.deepEqual(fixtureJson(session.data), expected)
        const user = readPath(session.data, c.expect.userPath!.split('.'))
        assert.equal(user === undefined ? null : String(user), c.expect.userId)
        if (c.expect.userIdType) assert.equal(typeof user === 'string' ? 'string' : 'int', c.expect.userIdType)
        // Read with the handler named explicitly, the same.
        assert.deepEqual(fixtureJson(readPhpSession(storedBytes(c), {handler: c.expect.serializeHandler}).data), expected)
      })
    }

    it('the lock key phpredis leaves behind is no session', () => {
      const lock = native.find(c => c.name === 'php-native-lock-key')!
      refuses(() => readPhpSession(storedBytes(lock)), false, /not a PHP session/)
    })

    it('numbers back-references per handler: php and php_binary from the first entry, php_serialize from the outer array', () => {
      const same = new Set(['php-native-igbinary', 'php-native-php', 'php-native-php_binary', 'php-native-php_serialize'])
      const byHandler = new Map(native.filter(c => same.has(c.name)).map(c => [c.expect.serializeHandler, c]))
      assert.match(storedBytes(byHandler.get('php')!).toString('latin1'), /last_search\|r:7;.*recent_alias\|R:11;/)
      assert.match(storedBytes(byHandler.get('php_serialize')!).toString('latin1'), /"last_search";r:8;.*"recent_alias";R:12;/)
      for (const handler of ['php', 'php_serialize', 'php_binary', 'igbinary'] as PhpSessionHandler[]) {
        const {data} = readPhpSession(storedBytes(byHandler.get(handler)!))
        assert.equal(data.last_search, data.search, handler)
        assert.equal((data.search as Record<string, unknown>).__class__, 'stdClass', handler)
        assert.equal(data.recent_alias, data.recent, handler)
        assert.deepEqual(data.recent, [3, 1, 4], handler)
      }
    })

    it('the trap: a value holding "user_id|i:42;" is one string, and the user is 4', () => {
      const {data} = readPhpSession(storedBytes(native.find(c => c.name === 'php-native-trap')!))
      assert.equal(data.note, 'user_id|i:42;')
      assert.equal(data.user_id, 4)
    })

    it('reads the numbers case exactly: -0, INF, NAN, PHP_INT_MAX/MIN, 2^53+1', () => {
      const {data} = readPhpSession(storedBytes(native.find(c => c.name === 'php-native-numbers')!))
      const f = data.f as number[]
      assert.ok(Object.is(f[2], -0))
      assert.equal(f[3], Number.POSITIVE_INFINITY)
      assert.ok(Number.isNaN(f[5]))
      assert.deepEqual(data.i, [9_223_372_036_854_775_807n, -9_223_372_036_854_775_808n, -42])
      assert.equal(data.user_id, 9_007_199_254_740_993n)
    })
  })

  describe('php handler', () => {
    it('reads value by value, never splitting on |', () => {
      const {data, handler} = readPhpSession(Buffer.from('a|s:5:"x|y|z";b|C:3:"Foo":3:{|||}c|i:1;'))
      assert.equal(handler, 'php')
      assert.deepEqual({...data}, {a: 'x|y|z', b: data.b, c: 1})
      assert.equal((data.b as Record<string, unknown>).__serialized__, '|||')
    })

    it('shares the reference numbering across entries; a later duplicate key wins', () => {
      const {data} = readPhpSession(Buffer.from('o|O:8:"stdClass":1:{s:1:"p";i:1;}x|i:2;o2|r:1;p|R:2;x|i:3;'))
      assert.equal(data.o2, data.o)
      assert.equal(data.p, 1)
      assert.equal(data.x, 3)
    })

    it('keeps keys as text, __proto__ included, and pollutes nothing', () => {
      const {data} = readPhpSession(Buffer.from('__proto__|a:1:{s:8:"polluted";b:1;}constructor|i:1;|i:2;'))
      assert.ok(Object.hasOwn(data, '__proto__'))
      assert.equal(data.constructor, 1)
      assert.equal(data[''], 2)
      assert.equal(({} as Record<string, unknown>).polluted, undefined)
    })

    it('ignores trailing bytes without | after an entry (PHP 8.2), refuses a broken value', () => {
      assert.deepEqual({...readPhpSession(Buffer.from('a|i:1;junk')).data}, {a: 1})
      refuses(() => readPhpSession(Buffer.from('a|i:1;b|i:;')), false)
      refuses(() => readPhpSession(Buffer.from('a|i:1;b|')), false)
      refuses(() => readPhpSession(Buffer.from('no bar at all')), false)
      refuses(() => readPhpSession(Buffer.from('a|i:1;junk'), {handler: 'php_binary'}), false)
    })

    it('reports a limit, not a malformed value, when one entry is over a limit', () => {
      refuses(() => readPhpSession(Buffer.from(`a|${'a:1:{i:0;'.repeat(300)}N;${'}'.repeat(300)}`)), true, /maxDepth/)
      refuses(() => readPhpSession(Buffer.from('a|a:3:{i:0;i:1;i:1;i:1;i:2;i:1;}b|R:2;'), {maxItems: 4}), true, /maxItems/)
    })
  })

  describe('php_serialize, php_binary', () => {
    it('php_serialize: one array; a list session becomes index keys; bytes after it are ignored', () => {
      assert.deepEqual(readPhpSession(Buffer.from('a:1:{s:7:"user_id";i:42;}')).handler, 'php_serialize')
      assert.deepEqual({...readPhpSession(Buffer.from('a:1:{i:0;s:1:"x";}')).data}, {0: 'x'})
      const trailing = readPhpSession(Buffer.from('a:1:{s:1:"k";i:1;}xyz'))
      assert.equal(trailing.handler, 'php_serialize')
      assert.equal(trailing.data.k, 1)
      refuses(() => readPhpSession(Buffer.from('i:5;'), {handler: 'php_serialize'}), false)
    })

    it('php_binary: a length byte, its high bit masked off, and the key followed by a value', () => {
      const value = Buffer.concat([Buffer.from([7]), Buffer.from('user_idi:42;'), Buffer.from([0x81]), Buffer.from('xb:1;')])
      const {data, handler} = readPhpSession(value)
      assert.equal(handler, 'php_binary')
      assert.deepEqual({...data}, {user_id: 42, x: true})
      refuses(() => readPhpSession(Buffer.from([5, 0x61, 0x62])), false)
      // A 0-length key is allowed by PHP's decoder.
      assert.deepEqual({...readPhpSession(Buffer.concat([Buffer.from([0]), Buffer.from('i:1;')])).data}, {'': 1})
    })

    it('an empty value is an empty session', () => {
      const session = readPhpSession(Buffer.alloc(0))
      assert.deepEqual(session, {data: session.data, handler: 'php'})
      assert.equal(Object.keys(session.data).length, 0)
      assert.deepEqual({...readPhpSession(Buffer.alloc(0), {handler: 'igbinary'}).data}, {})
    })
  })

  describe('igbinary', () => {
    it('reads scalars, string ids, references and objects', () => {
      const parts: Array<Array<number | string>> = [
        [0x14, 7],
        [0x11, 1, 'a', 0x11, 3, 'abc'], // a => "abc"
        [0x0E, 0, 0x0E, 1], // "a" (id 0) => "abc" (id 1)
        [0x11, 1, 'n', 0x21, 0x00, 0x20, 0, 0, 0, 0, 0, 1], // n => -(2^53+1)
        [0x11, 1, 'o', 0x17, 8, 'stdClass', 0x14, 1, 0x11, 1, 'p', 0x07, 5], // o => stdClass{p: -5}
        [0x11, 1, 'r', 0x22, 1], // r => objref 1 (the object; 0 is the outer array)
        [0x11, 1, 'e', 0x1A, 4, 0x27, 0x11, 3, 'Pro'], // e => enum case stdClass::Pro (class by string id 4)
        [0x06, 9, 0x0C, 0x7F, 0xF0, 0, 0, 0, 0, 0, 0], // int key 9 at the top: skipped by the session decoder
      ]
      const value = igb(...parts.flat())
      assert.ok(isIgbinary(value))
      const {data, handler} = readPhpSession(value)
      assert.equal(handler, 'igbinary')
      assert.equal(data.a, 'abc')
      assert.equal(data.n, -9_007_199_254_740_993n)
      assert.deepEqual({...data.o as object}, {__class__: 'stdClass', p: -5})
      assert.equal(data.r, data.o)
      assert.deepEqual({...data.e as object}, {__class__: 'stdClass', __enum__: 'Pro'})
      assert.equal(Object.hasOwn(data, '9'), false)
      assert.equal((parseIgbinary(value) as Record<string, unknown>)[9], Number.POSITIVE_INFINITY)
      assert.ok(wellFormed(data))
    })

    it('numbers a scalar only when it is marked a reference, and turns cycles into <cycle>', () => {
      const value = igb(0x14, 3, 0x06, 0, 0x25, 0x06, 7, 0x06, 1, 0x25, 0x01, 1, 0x06, 2, 0x14, 1, 0x06, 0, 0x01, 0)
      assert.deepEqual(parseIgbinary(value), [7, 7, [{__class__: '<cycle>'}]].map(v => (Array.isArray(v) ? [Object.assign(Object.create(null) as object, v[0])] : v)))
    })

    it('refuses what igbinary refuses, and over-limit values', () => {
      refuses(() => parseIgbinary(igb(0x14, 1, 0x06, 0, 0x06, 1, 0x00)), false, /more data/)
      refuses(() => parseIgbinary(igb(0x14, 200)), false, /exceeds/)
      refuses(() => parseIgbinary(igb(0x13, 0xFF, 0xFF, 0xFF, 0xFF)), false, /exceeds/)
      refuses(() => parseIgbinary(igb(0x0E, 0)), false, /out of range/)
      refuses(() => parseIgbinary(igb(0x01, 0)), false, /invalid reference/)
      refuses(() => parseIgbinary(igb(0x28)), false, /unknown type/)
      refuses(() => readPhpSession(igb(0x06, 1)), false, /not an array/)
      refuses(() => readPhpSession(igb(0x17, 1, 'A', 0x14, 0)), true, /object/)
      const deep = igb(...Array.from({length: 300}, () => [0x14, 1, 0x06, 0]).flat(), 0x00)
      refuses(() => parseIgbinary(deep), true, /maxDepth/)
      // 2^30 leaves by ref8: level k holds level k-1 twice.
      const levels: number[] = [0x14, 31, 0x06, 0, 0x14, 2, 0x06, 0, 0x00, 0x06, 1, 0x00]
      for (let k = 1; k < 31; k++) levels.push(0x06, k, 0x14, 2, 0x06, 0, 0x01, k, 0x06, 1, 0x01, k)
      refuses(() => parseIgbinary(igb(...levels)), true, /maxItems/)
    })
  })
})
