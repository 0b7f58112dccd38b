import assert from 'node:assert/strict'

import {
  isPhpSerialized, parsePhpSerialized, phpPropertyName, PhpSerializeError, phpStringBytes,
} from '../../src/formats/php-serialize.js'
import {
  fixtureJson, phpFixtures, storedBytes, wellFormed,
} from '../support/php-fixtures.js'

const php = (text: string, limits = {}): unknown => parsePhpSerialized(Buffer.from(text, 'utf8'), limits)
const latin1 = (text: string): unknown => parsePhpSerialized(Buffer.from(text, 'latin1'))

function refuses(text: Buffer | string, limit: boolean, pattern?: RegExp, limits = {}): void {
  const input = typeof text === 'string' ? Buffer.from(text, 'utf8') : text
  assert.throws(() => parsePhpSerialized(input, limits), (error: unknown) => {
    assert.ok(error instanceof PhpSerializeError, `not a PhpSerializeError: ${String(error)}`)
    assert.equal(error.limit, limit, `limit flag for ${error.message}`)
    if (pattern) assert.match(error.message, pattern)
    return true
  })
}

const {cases, fixtureNow, lifetimeMinutes, loginKey} = phpFixtures()

describe('parsePhpSerialized', () => {
  describe('golden Laravel database payloads (base64 of serialize($attributes), Illuminate 8.83)', () => {
    for (const c of cases.filter(x => x.family === 'laravel-db')) {
      it(`${c.name}: ${c.note}`, () => {
        const serialized = Buffer.from(storedBytes(c).toString('latin1'), 'base64')
        assert.equal(serialized.toString('utf8'), c.expect.plaintext)
        const data = parsePhpSerialized(serialized) as Record<string, unknown>
        assert.ok(wellFormed(data))
        assert.deepEqual(fixtureJson(data), c.expect.data)
        // What a framework layer reads from it: the login key's value (as text) and the row's expiry.
        const login = data[loginKey]
        assert.equal(login === undefined ? null : String(login), c.expect.userId)
        if (c.expect.userIdType) assert.equal(typeof login === 'string' ? 'string' : 'int', c.expect.userIdType)
        const lastActivity = Number(c.row!.last_activity)
        assert.equal(lastActivity + (lifetimeMinutes * 60), c.expect.expiresAt)
        assert.equal(lastActivity < fixtureNow - (lifetimeMinutes * 60), c.expect.expired)
      })
    }

    it('keeps the user id 2^53+1 exact (a Number would read 2^53)', () => {
      const c = cases.find(x => x.name === 'laravel-db-big-id')!
      const data = parsePhpSerialized(Buffer.from(storedBytes(c).toString('latin1'), 'base64')) as Record<string, unknown>
      assert.equal(data[loginKey], 9_007_199_254_740_993n)
    })

    it('resolves r: (an object seen twice) and R: (a PHP reference) by PHP\'s numbering, shared not copied', () => {
      const c = cases.find(x => x.name === 'laravel-db-login')!
      const text = Buffer.from(storedBytes(c).toString('latin1'), 'base64').toString('utf8')
      assert.match(text, /s:13:"filters_saved";r:26;/)
      assert.match(text, /s:6:"pinned";R:31;/)
      const data = parsePhpSerialized(Buffer.from(text)) as Record<string, Record<string, unknown>>
      assert.equal(data.filters_saved, data.filters)
      assert.equal(data.filters.__class__, 'stdClass')
      assert.equal(data.views.pinned, data.views.recent)
      assert.deepEqual(data.views.pinned, [17, 4])
    })
  })

  describe('golden Laravel Redis values (serialize(serialize($attributes)), Illuminate 8.83 CacheBasedSessionHandler)', () => {
    for (const c of cases.filter(x => x.family === 'laravel-redis' && x.name !== 'laravel-redis-encrypted')) {
      it(`${c.name}: ${c.note}`, () => {
        let outer: unknown
        try {
          outer = parsePhpSerialized(storedBytes(c))
        } catch (error) {
          // Cache::put of a number stores it raw ("42"), which is no serialized value.
          assert.ok(error instanceof PhpSerializeError && !error.limit)
          assert.equal(c.expect.isSession, false)
          return
        }

        const inner = phpStringBytes(outer)
        if (c.expect.isSession === false) {
          // The app's own cache items are serialized once: an array, not a session string.
          assert.equal(inner, undefined)
          assert.ok(wellFormed(outer))
          return
        }

        assert.equal(Buffer.from(inner!).toString('utf8'), c.expect.plaintext)
        const data = parsePhpSerialized(inner!) as Record<string, unknown>
        assert.deepEqual(fixtureJson(data), c.expect.data)
        const login = data[loginKey]
        assert.equal(login === undefined ? null : String(login), c.expect.userId)
      })
    }
  })

  describe('scalars', () => {
    it('reads N, b, i, d, s', () => {
      assert.equal(php('N;'), null)
      assert.equal(php('b:1;'), true)
      assert.equal(php('b:0;'), false)
      assert.equal(php('i:-42;'), -42)
      assert.equal(php('i:+7;'), 7)
      assert.equal(php('i:007;'), 7)
      assert.equal(php('d:0.1;'), 0.1)
      assert.equal(php('d:1.0E+25;'), 1e25)
      assert.equal(php('d:1.5E-7;'), 1.5e-7)
      assert.equal(php('d:.5;'), 0.5)
      assert.equal(php('d:5.;'), 5)
      assert.equal(php('d:100;'), 100)
      assert.equal(php('s:0:"";'), '')
      assert.equal(php('s:3:"a"b";'), 'a"b')
    })

    it('reads NAN, INF, -INF and -0', () => {
      assert.ok(Number.isNaN(php('d:NAN;')))
      assert.equal(php('d:INF;'), Number.POSITIVE_INFINITY)
      assert.equal(php('d:-INF;'), Number.NEGATIVE_INFINITY)
      assert.ok(Object.is(php('d:-0;'), -0))
      assert.ok(Object.is(php('d:0;'), 0))
      assert.equal(php('d:1e999;'), Number.POSITIVE_INFINITY)
    })

    it('keeps ints beyond ±(2^53-1) exact as bigint, and clamps overflowing text to int64 as PHP does', () => {
      assert.equal(php('i:9007199254740991;'), 9_007_199_254_740_991)
      assert.equal(php('i:9007199254740993;'), 9_007_199_254_740_993n)
      assert.equal(php('i:-9007199254740993;'), -9_007_199_254_740_993n)
      assert.equal(php('i:9223372036854775807;'), 9_223_372_036_854_775_807n)
      assert.equal(php('i:-9223372036854775808;'), -9_223_372_036_854_775_808n)
      assert.equal(php('i:9223372036854775808;'), 9_223_372_036_854_775_807n)
      assert.equal(php('i:99999999999999999999999;'), 9_223_372_036_854_775_807n)
      assert.equal(php('i:-99999999999999999999999;'), -9_223_372_036_854_775_808n)
      assert.equal(php('i:0000000000000000000000000000042;'), 42)
    })

    it('counts s: lengths in bytes: UTF-8 text when valid, the exact bytes otherwise', () => {
      assert.equal(php('s:4:"Zoë";'), 'Zoë')
      assert.equal(php('s:4:"🗼";'), '🗼')
      refuses('s:3:"Zoë";', false)
      const bytes = latin1('s:3:"\u00FF\u00FE\u0000";')
      assert.ok(bytes instanceof Uint8Array)
      assert.deepEqual([...bytes], [0xFF, 0xFE, 0])
      // An encoded surrogate is not valid UTF-8.
      assert.ok(parsePhpSerialized(Buffer.from([...Buffer.from('s:3:"'), 0xED, 0xA0, 0x80, ...Buffer.from('";')])) instanceof Uint8Array)
      // A BOM is kept.
      assert.equal(php('s:3:"\uFEFF";'), '\uFEFF')
      assert.deepEqual(phpStringBytes('Zoë'), Buffer.from('Zoë'))
      assert.equal(phpStringBytes(42), undefined)
    })

    it('reads S: (escaped string)', () => {
      assert.equal(php(String.raw`S:3:"a\62c";`), 'abc')
      refuses(String.raw`S:3:"a\6xc";`, false)
    })

    it('ignores bytes after the value, as unserialize() does', () => {
      assert.equal(php('i:1;garbage'), 1)
      assert.deepEqual(php('a:0:{}}}}'), [])
    })

    it('refuses what PHP refuses', () => {
      for (const bad of ['',
        'N',
        'b:2;',
        'b:1',
        'i:;',
        'i:1',
        'i:1.5;',
        'd:;',
        'd:1e;',
        'd:nan;',
        'd:0x10;',
        's:5:"abc";',
        's:1:"ab";',
        's:-1:"";',
        's:1:"a"',
        'x:1;',
        'a:1:{i:0;}',
        'a:1:{N;i:1;}',
        'a:1:{b:1;i:1;}',
        'a:1:{a:0:{}i:1;}',
        'a:2:{i:0;i:1;}',
        'a:1:{i:0;i:1;',
        'O:0:"":0:{}',
        String.raw`O:1:"\":0:{}`,
        'O:3:"a-b":0:{}',
        'O:1:"A":1:{N;N;}',
        'E:2:"AB";',
        'E:3:"a-:B";',
        'C:1:"A":5:{ab}',
        'r:1;',
        'R:1;',
        'r:0;',
        'a:1:{i:0;r:3;}',
        'a:1:{i:0;R:3;}']) {
        assert.throws(() => php(bad), (error: unknown) => error instanceof PhpSerializeError && !error.limit, bad)
      }
    })

    it('refuses huge declared lengths and counts without allocating', () => {
      refuses('s:18446744073709551615:"a";', false, /exceeds/)
      refuses('a:4294967295:{}', false, /exceeds/)
      refuses('O:8:"stdClass":999999999999:{}', false, /exceeds/)
      refuses('C:1:"A":999999999999:{}', false, /exceeds/)
      // parse_uiv wraps modulo 2^64, as PHP's does: 2^64 + 1 reads as 1.
      assert.equal(php('s:18446744073709551617:"a";'), 'a')
    })
  })

  describe('arrays', () => {
    it('reads lists as arrays and other arrays as null-prototype objects keyed by key text', () => {
      assert.deepEqual(php('a:3:{i:0;i:3;i:1;i:1;i:2;i:4;}'), [3, 1, 4])
      assert.deepEqual(php('a:0:{}'), [])
      // a numeric string key is an int key in PHP
      assert.deepEqual(php('a:2:{s:1:"0";s:1:"a";i:1;s:1:"b";}'), ['a', 'b'])
      const map = php('a:3:{s:5:"items";a:0:{}i:5;s:7:"int key";i:-1;b:1;}') as Record<string, unknown>
      assert.equal(Object.getPrototypeOf(map), null)
      assert.deepEqual({...map}, {'-1': true, 5: 'int key', items: []})
      // out of order, or with a gap: not a list
      assert.ok(!Array.isArray(php('a:2:{i:1;s:1:"b";i:0;s:1:"a";}')))
      assert.ok(!Array.isArray(php('a:1:{i:1;s:1:"b";}')))
      assert.ok(!Array.isArray(php('a:1:{s:2:"00";i:1;}')))
    })

    it('lets a later duplicate key win, in place', () => {
      assert.deepEqual(php('a:3:{i:0;s:1:"a";i:1;s:1:"b";i:0;s:1:"c";}'), ['c', 'b'])
      assert.deepEqual({...php('a:2:{s:1:"k";i:1;s:1:"k";i:2;}') as object}, {k: 2})
    })

    it('keeps __proto__ and constructor keys as data', () => {
      const value = php('a:3:{s:9:"__proto__";a:1:{s:8:"polluted";b:1;}s:11:"constructor";a:1:{s:9:"prototype";a:1:{s:8:"polluted";b:1;}}s:8:"toString";i:1;}') as Record<string, unknown>
      assert.ok(Object.hasOwn(value, '__proto__'))
      assert.equal(Object.getPrototypeOf(value), null)
      assert.deepEqual({...(Object.getOwnPropertyDescriptor(value, '__proto__')?.value as object)}, {polluted: true})
      assert.equal(value.toString, 1)
      assert.equal(({} as Record<string, unknown>).polluted, undefined)
      assert.equal(Object.hasOwn(Object.prototype, 'polluted'), false)
    })

    it('keys that are not UTF-8 become latin-1 text', () => {
      assert.deepEqual(Object.keys(latin1('a:1:{s:1:"\u00E9";i:1;}') as object), ['é'])
    })
  })

  describe('objects (never instantiated)', () => {
    it('reads O: as {__class__, ...properties} with the property names as serialized', () => {
      const value = latin1('O:8:"AccPrefs":4:{s:4:"lang";s:2:"de";s:8:"\0*\0theme";s:4:"dark";s:16:"\0AccPrefs\0secret";s:6:"tiroir";i:7;N;}') as Record<string, unknown>
      assert.equal(Object.getPrototypeOf(value), null)
      assert.deepEqual({...value}, {
        7: null, '\0*\0theme': 'dark', '\0AccPrefs\0secret': 'tiroir', __class__: 'AccPrefs', lang: 'de',
      })
      assert.deepEqual(phpPropertyName('\0*\0theme'), {name: 'theme', visibility: 'protected'})
      assert.deepEqual(phpPropertyName('\0AccPrefs\0secret'), {class: 'AccPrefs', name: 'secret', visibility: 'private'})
      assert.deepEqual(phpPropertyName('lang'), {name: 'lang', visibility: 'public'})
    })

    it('keeps the class name over a property named __class__, and __proto__ as data', () => {
      const value = php('O:8:"stdClass":2:{s:9:"__class__";s:4:"evil";s:9:"__proto__";a:1:{s:8:"polluted";b:1;}}') as Record<string, unknown>
      assert.equal(value.__class__, 'stdClass')
      assert.ok(Object.hasOwn(value, '__proto__'))
      assert.equal(({} as Record<string, unknown>).polluted, undefined)
    })

    it('reads dangerous gadget classes as names only', () => {
      for (const cls of [String.raw`GuzzleHttp\Cookie\FileCookieJar`, String.raw`Monolog\Handler\SyslogUdpHandler`, String.raw`Illuminate\Broadcasting\PendingBroadcast`, 'SplFileObject']) {
        const text = `O:${Buffer.byteLength(cls)}:"${cls}":1:{s:8:"filename";s:11:"/tmp/pwned!";}`
        const value = php(text) as Record<string, unknown>
        assert.equal(value.__class__, cls)
        assert.equal(value.filename, '/tmp/pwned!')
      }
    })

    it('reads C: and E: as inert data', () => {
      assert.deepEqual({...php('C:14:"AccLegacyToken":7:{abc|def}') as object}, {__class__: 'AccLegacyToken', __serialized__: 'abc|def'})
      assert.deepEqual({...php('C:11:"ArrayObject":0:{}') as object}, {__class__: 'ArrayObject', __serialized__: ''})
      assert.deepEqual({...php('E:11:"AccPlan:Pro";') as object}, {__class__: 'AccPlan', __enum__: 'Pro'})
      assert.ok(isPhpSerialized(Buffer.from('E:11:"AccPlan:Pro";')))
      assert.ok(!isPhpSerialized(Buffer.from('{"a":1}')))
    })
  })

  describe('references', () => {
    it('numbers every value from 1 (the outer array included), R: and keys not counted', () => {
      // slots: 1 outer, 2 a, 3 b(object), 4 x, 5 c(r:3), 6 d(array), 7 e(R:6 is not a slot), 8 f
      const value = php('a:6:{s:1:"a";i:1;s:1:"b";O:8:"stdClass":1:{s:1:"x";i:2;}s:1:"c";r:3;s:1:"d";a:1:{i:0;i:9;}s:1:"e";R:6;s:1:"f";R:2;}') as Record<string, unknown>
      assert.equal(value.c, value.b)
      assert.equal(value.e, value.d)
      assert.equal(value.f, 1)
    })

    it('turns references to an enclosing container into <cycle>', () => {
      const self = php('O:8:"stdClass":1:{s:4:"self";r:1;}') as Record<string, unknown>
      assert.deepEqual({...self.self as object}, {__class__: '<cycle>'})
      const array = php('a:1:{i:0;R:1;}') as unknown[]
      assert.deepEqual({...array[0] as object}, {__class__: '<cycle>'})
      assert.ok(wellFormed(self) && wellFormed(array))
    })

    it('refuses a reference flood ("billion laughs") by the tree size, quickly', () => {
      // Each level holds the previous one twice: 2^40 leaves from a few hundred bytes. Arrays by R:
      // (slots: 1 outer, 2 level 0, 3-4 its ints, then one per level), objects by r: (3 slots per level).
      const arrays = ['a:2:{i:0;i:1;i:1;i:2;}']
      const objects = ['O:8:"stdClass":1:{s:1:"x";i:1;}']
      for (let k = 1; k <= 40; k++) {
        const previous = k === 1 ? 2 : k + 3
        arrays.push(`a:2:{i:0;R:${previous};i:1;R:${previous};}`)
        const object = k === 1 ? 2 : 4 + (3 * (k - 2))
        objects.push(`O:8:"stdClass":2:{s:1:"a";r:${object};s:1:"b";r:${object};}`)
      }

      for (const levels of [arrays, objects]) {
        const text = `a:${levels.length}:{${levels.map((l, i) => `i:${i};${l}`).join('')}}`
        const started = performance.now()
        refuses(text, true, /maxItems/)
        assert.ok(performance.now() - started < 50)
        // 10 levels: 2^11 nodes at the deepest level, all there and shared.
        const small = `a:11:{${levels.slice(0, 11).map((l, i) => `i:${i};${l}`).join('')}}`
        const value = php(small) as Array<Record<string, unknown>>
        assert.ok(wellFormed(value))
        const [first, second] = Object.values(value[10]).filter(v => typeof v === 'object')
        assert.ok(first !== undefined && first === second)
        refuses(small, true, /maxItems/, {maxItems: 1000})
      }
    })

    it('bounds depth, references included', () => {
      refuses(`${'a:1:{i:0;'.repeat(201)}N;${'}'.repeat(201)}`, true, /maxDepth/)
      assert.ok(Array.isArray(php(`${'a:1:{i:0;'.repeat(200)}N;${'}'.repeat(200)}`)))
      refuses(`a:2:{i:0;${'a:1:{i:0;'.repeat(150)}N;${'}'.repeat(150)}i:1;a:1:{i:0;${'a:1:{i:0;'.repeat(60)}R:3;${'}'.repeat(60)}}}`, true, /maxDepth/)
      refuses('a:1:{i:0;a:0:{}}', true, /maxDepth/, {maxDepth: 1})
    })

    it('refuses input over maxBytes', () => {
      refuses('s:3:"abc";', true, /maxBytes/, {maxBytes: 4})
    })
  })
})
