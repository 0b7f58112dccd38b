/* eslint-disable no-bitwise -- descriptor flags are bit sets */
/**
 * The safe Java serialization reader against bytes the real JDK wrote: every case of
 * test/fixtures/spring.json (Spring Session's JDBC attribute blobs and Redis hash values, index and
 * expirations members), and the JDK_SAMPLES below, written by OpenJDK 17's ObjectOutputStream from
 * the JAVA_SOURCES below. Spring Security is not packaged (Debian has no libspring-security-java,
 * and only npm and Debian are reachable here), so the SPRING_SECURITY_CONTEXT sample comes from
 * stand-ins of its classes (test/spring/org/…, which the Spring oracle compiles too) with the same
 * names, serialVersionUIDs, fields and superclasses as spring-projects/spring-security@d449950 (SecurityContextImpl, UsernamePasswordAuthenticationToken,
 * AbstractAuthenticationToken, User, SimpleGrantedAuthority, WebAuthenticationDetails): the stream
 * holds only those, so its bytes are what Spring Security's own classes give. When `javac` is
 * installed (Debian's openjdk-17-jdk-headless), one test compiles and runs JAVA_SOURCES again and
 * compares every sample byte for byte.
 */
import {strict as assert} from 'node:assert'
import {execFileSync} from 'node:child_process'
import {
  existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {parseUserPath, readPath} from '../../src/formats/codec.js'
import {
  isJavaSerialized, type JavaObject, JavaSerializationError, parseJavaSerialized,
} from '../../src/formats/java-serialization.js'
import {plain} from '../support/fixtures.js'
import {
  HEADER, i32, i64, jblock, jbytes, jdesc, jref, jstring, mutf8, PRINCIPAL_ATTRIBUTE, SC, springBlobs, springFixtures, type SpringValue, TC, u16,
} from '../support/java-serialization.js'
import {JDK_SAMPLES} from '../support/jdk-samples.js'

const fixtures = springFixtures()
const sample = (name: string): Buffer => {
  const b64 = JDK_SAMPLES[name]
  if (b64 === undefined) throw new Error(`no JDK sample ${name}`)
  return Buffer.from(b64, 'base64')
}

const parse = (bytes: Uint8Array): unknown => parseJavaSerialized(bytes)
const stream = (...parts: Array<Buffer | number | string>): Buffer => Buffer.concat([HEADER, jbytes(...parts)])

function refuses(bytes: Uint8Array, limit: boolean, message?: RegExp, limits = {}): void {
  assert.throws(() => parseJavaSerialized(bytes, limits), (error: unknown) => {
    assert.ok(error instanceof JavaSerializationError, `not a JavaSerializationError: ${String(error)}`)
    assert.equal(error.limit, limit, `limit flag of "${error.message}"`)
    if (message) assert.match(error.message, message)
    return true
  })
}

/** What a fixture value holds, in this reader's shapes: a Date is ISO text, a HashMap a null-prototype dict. */
function expected(v: SpringValue): unknown {
  return v.javaClass === 'java.util.Date' ? new Date(v.value as number).toISOString() : v.value
}

function checkValue(v: SpringValue, where: string): unknown {
  const bytes = Buffer.from(v.bytesBase64, 'base64')
  assert.ok(isJavaSerialized(bytes), where)
  const value = parse(bytes)
  if (v.javaClass === 'java.util.HashMap') {
    assert.equal(Object.getPrototypeOf(value), null, `${where}: a null-prototype dict`)
    assert.deepEqual(plain(value), v.value, where)
  } else {
    assert.equal(value, expected(v), where)
  }

  return value
}

describe('Java serialization reader: spring.json (written by the real JDK)', () => {
  it('has the cases the suite relies on', () => {
    const families = new Set(fixtures.cases.map(c => c.family))
    assert.deepEqual([...families].sort(), ['spring-jdbc', 'spring-jdk-value', 'spring-redis-indexed'])
    assert.ok(fixtures.cases.length >= 20)
  })

  it('decodes every single JDK value (String, long String, Long, Integer, Date, HashMap)', () => {
    let n = 0
    for (const c of fixtures.cases) {
      if (c.family !== 'spring-jdk-value') continue
      checkValue(c, c.name)
      n++
    }

    assert.equal(n, 7)
  })

  it('reads the modified UTF-8 of the fixtures: C0 80 is U+0000, a non-BMP char two 3-byte surrogates', () => {
    const c = fixtures.cases.find(x => x.name === 'string-non-bmp')!
    assert.equal(parse(Buffer.from((c as SpringValue).bytesBase64, 'base64')), 'zoë\u{1F600}\u0000')
    const long = parse(Buffer.from((fixtures.cases.find(x => x.name === 'string-long') as SpringValue).bytesBase64, 'base64'))
    assert.equal(long, 'x'.repeat(70_000))
  })

  it('decodes every JDBC attribute blob; the principal attribute is PRINCIPAL_NAME, exactly', () => {
    let rows = 0
    for (const c of fixtures.cases) {
      if (c.family !== 'spring-jdbc') continue
      rows++
      const attributes = Object.fromEntries(c.attributes.map(a => [a.name, checkValue(a, `${c.name}: ${a.name}`)]))
      const principal = attributes[PRINCIPAL_ATTRIBUTE]
      assert.equal(principal ?? null, c.row.PRINCIPAL_NAME, c.name)
      assert.equal(principal ?? null, c.expect.userId, c.name)
      // The Date attribute holds the session's creation time, as the row does.
      assert.equal(attributes.loginTime, new Date(c.row.CREATION_TIME as number).toISOString(), c.name)
    }

    assert.equal(rows, 11)
    const alice = fixtures.cases.find(c => c.name === 'jdbc-Alice-live')!
    assert.equal(alice.family === 'spring-jdbc' && parse(Buffer.from(alice.attributes.find(a => a.name === PRINCIPAL_ATTRIBUTE)!.bytesBase64, 'base64')), 'Alice')
  })

  it('decodes every Redis hash field as stored: creationTime/lastAccessedTime Long ms, maxInactiveInterval Integer s', () => {
    let hashes = 0
    for (const c of fixtures.cases) {
      if (c.family !== 'spring-redis-indexed' || c.hashFieldsBase64 === null) continue
      hashes++
      const fields = Object.fromEntries(Object.entries(c.hashFieldsBase64).map(([k, v]) => [k, parse(Buffer.from(v, 'base64'))]))
      const {creationTime, lastAccessedTime, maxInactiveInterval} = fields
      assert.equal(typeof creationTime, 'number', c.name)
      assert.equal(typeof lastAccessedTime, 'number', c.name)
      assert.ok(Number.isInteger(maxInactiveInterval), c.name)
      assert.ok((creationTime as number) <= (lastAccessedTime as number), c.name)
      assert.equal((lastAccessedTime as number) + (1000 * (maxInactiveInterval as number)), c.expect.expiresAtMs, c.name)
      assert.equal(fields[`sessionAttr:${PRINCIPAL_ATTRIBUTE}`] ?? null, c.expect.userId, c.name)
      assert.equal(fields['sessionAttr:loginTime'], new Date(creationTime as number).toISOString(), c.name)
      assert.equal(Object.getPrototypeOf(fields['sessionAttr:prefs']), null, c.name)
      assert.match(fields['sessionAttr:greeting'] as string, /^Grüße, .+ ✓$/, c.name)
      assert.equal(typeof fields['sessionAttr:visits'], 'number', c.name)
    }

    assert.equal(hashes, 4)
    const anonymous = fixtures.cases.find(c => c.name === 'redis-anonymous-live')!
    assert.equal(anonymous.family === 'spring-redis-indexed' && parse(Buffer.from(anonymous.hashFieldsBase64!.maxInactiveInterval, 'base64')), 86_400)
  })

  it('decodes index members (JDK strings of the id, also stale ones) and expirations members ("expires:<id>")', () => {
    assert.equal(parse(Buffer.from('aced0005740005616c696365', 'hex')), 'alice')
    let members = 0
    for (const c of fixtures.cases) {
      if (c.family !== 'spring-redis-indexed') continue
      if (c.indexMemberBase64 !== undefined) {
        members++
        assert.equal(parse(Buffer.from(c.indexMemberBase64, 'base64')), c.sessionId, c.name)
        // The principal is in the key name, in UTF-8.
        assert.ok(c.indexKey!.endsWith(`:${c.expect.userId ?? (c.expect.stale ? 'alice' : '')}`), c.name)
      }

      if (c.expirationsMemberBase64 !== undefined) assert.equal(parse(Buffer.from(c.expirationsMemberBase64, 'base64')), `expires:${c.sessionId}`, c.name)
    }

    assert.equal(members, 4)
  })

  it('decodes every blob of the file, with nothing left to refuse', () => {
    const blobs = springBlobs(fixtures)
    assert.ok(blobs.length > 80)
    for (const {bytes, where} of blobs) assert.doesNotThrow(() => parse(bytes), where)
  })
})

describe('Java serialization reader: SPRING_SECURITY_CONTEXT and other JDK-written graphs', () => {
  it('reads a SecurityContextImpl graph as navigable data: authentication.principal.username', () => {
    const context = parse(sample('security-context'))
    assert.equal(readPath(context, parseUserPath('authentication.principal.username')), 'alice')
    assert.equal(readPath(context, ['__class__']), 'org.springframework.security.core.context.SecurityContextImpl')
    const auth = readPath(context, ['authentication']) as JavaObject
    assert.equal(auth.__class__, 'org.springframework.security.authentication.UsernamePasswordAuthenticationToken')
    // Superclass (AbstractAuthenticationToken) fields are there; the unmodifiable list is unwrapped.
    assert.equal(auth.authenticated, true)
    assert.equal(auth.credentials, null)
    assert.deepEqual(plain(auth.authorities), [
      {__class__: 'org.springframework.security.core.authority.SimpleGrantedAuthority', role: 'ROLE_ADMIN'},
      {__class__: 'org.springframework.security.core.authority.SimpleGrantedAuthority', role: 'ROLE_USER'},
    ])
    assert.deepEqual(plain(auth.details), {
      __class__: 'org.springframework.security.web.authentication.WebAuthenticationDetails', remoteAddress: '203.0.113.7', sessionId: '0162a8ca-cf64-42a6-ad82-52d90226f057',
    })
    const user = auth.principal as JavaObject
    assert.deepEqual(plain(user), {
      __class__: 'org.springframework.security.core.userdetails.User',
      accountNonExpired: true,
      accountNonLocked: true,
      authorities: plain(auth.authorities),
      credentialsNonExpired: true,
      enabled: true,
      password: null,
      username: 'alice',
    })
    // The token and the user share the same authority objects (TC_REFERENCE), and so does the result.
    assert.equal((user.authorities as unknown[])[0], (auth.authorities as unknown[])[0])
    assert.equal(Object.getPrototypeOf(user), Object.prototype)
  })

  const cases: Array<[string, unknown]> = [
    ['hashtable', {7: 'seven', true: 'c'}],
    ['concurrent-hash-map', {k: 1}],
    ['hash-map-keys', {3_000_000_000: 'long key', RED: 'enum key'}],
    ['tree-map', {m: ['p', 'q'], z: 2.5}],
    ['map-of', {k: 'v'}],
    ['unmodifiable-map', {u: 1}],
    ['array-list', ['a', 1, 2, 3, 4.5, 'z', null]],
    ['linked-list', ['x', 'y']],
    ['arrays-as-list', ['one', 'two']],
    ['hash-set', ['only']],
    ['linked-hash-set', ['first', 'second']],
    ['tree-set', ['a', 'b']],
    ['list-of', ['i', 'j']],
    ['empty-list', []],
    ['vector', ['v1', 'v2']],
    ['array-deque', ['d1']],
    ['long-max', 9_223_372_036_854_775_807n],
    ['long-min', -9_223_372_036_854_775_808n],
    ['boolean', true],
    ['double', 3.25],
    ['character', '€'],
    ['uuid', '0162a8ca-cf64-42a6-ad82-52d90226f057'],
    ['date-1969', '1969-12-31T23:59:59.999Z'],
    ['enum', {__class__: 'Samples$Color', name: 'GREEN'}],
    ['class', {__class__: 'java.lang.Class', name: 'java.lang.String'}],
    ['int-array', [1, -1, 2_147_483_647]],
    ['char-array', ['h', 'i']],
    ['boolean-array', [true, false]],
    ['long-array', [9_223_372_036_854_775_807n, 5]],
    ['double-array', [0.5, Number.NaN]],
    ['string-matrix', [['a'], ['b', null]]],
    ['derived', {
      __class__: 'Samples$Derived', level: 1, name: 'derived', 'Samples$Base.name': 'base', stamps: [1, -1],
    }],
    ['custom-write-object', {__class__: 'Samples$Custom', __data__: [new Uint8Array([0, 0, 0, 7, 0, 5, ...mutf8('extra')]), 'object'], kept: 5}],
    ['externalizable', {__class__: 'Samples$Ext', __data__: [new Uint8Array([0, 0, 0, 42]), 'inside']}],
    ['proxy', {__class__: '<proxy>', __interfaces__: ['java.lang.Runnable', 'java.io.Serializable'], h: {__class__: 'Samples$Handler', note: 'handler'}}],
    ['list-cycle', ['before', {__class__: '<cycle>'}]],
    ['node-cycle', {
      __class__: 'Samples$Node', label: 'loop', next: {__class__: '<cycle>'}, payload: null,
    }],
    ['reset-first', 'after reset'],
    ['two-objects', 'first'],
  ]
  for (const [name, want] of cases) {
    it(`reads ${name}`, () => {
      assert.deepEqual(plain(parse(sample(name))), want)
    })
  }

  it('keeps a LinkedHashMap in order, and a __proto__ key as data', () => {
    const map = parse(sample('linked-hash-map')) as Record<string, unknown>
    assert.equal(Object.getPrototypeOf(map), null)
    assert.deepEqual(Object.keys(map), ['b', 'a', '__proto__'])
    assert.equal(Object.getOwnPropertyDescriptor(map, '__proto__')?.value, 'x')
  })

  it('reads every primitive field type, and __proto__/constructor fields as own data', () => {
    const prims = parse(sample('prims')) as JavaObject
    // Entries, not an object literal: `__proto__: ...` in a literal would set the prototype.
    assert.deepEqual(Object.entries(prims).sort(([a], [b]) => a.localeCompare(b)), [
      ['__class__', 'Samples$Prims'],
      ['__proto__', 'data'],
      ['b', -2],
      ['c', 'é'],
      ['constructor', 'also data'],
      ['d', -0.25],
      ['f', 1.5],
      ['i', -70_000],
      ['j', -(2n ** 63n)],
      ['s', -300],
      ['z', true],
    ])
    assert.ok(Object.hasOwn(prims, '__proto__'))
    assert.equal(Object.getPrototypeOf(prims), Object.prototype)
    assert.equal(({} as Record<string, unknown>).data, undefined)
  })

  it('reads byte[] as a copy of the bytes', () => {
    const bytes = sample('byte-array')
    const value = parse(bytes) as Uint8Array
    assert.ok(value instanceof Uint8Array)
    assert.deepEqual([...value], [0, 255, 127])
    bytes.fill(0)
    assert.deepEqual([...value], [0, 255, 127])
  })

  it('keeps shared references shared', () => {
    const node = parse(sample('shared-refs')) as JavaObject
    const payload = node.payload as unknown[]
    assert.equal(payload[0], 'shared')
    assert.equal(payload[1], payload[2])
  })

  it('refuses protocol-1 externalizable data (no framing: only the class knows its length) as a limit', () => {
    refuses(sample('externalizable-protocol-1'), true, /protocol-1/)
  })

  it('cross-check: the embedded samples are what the JDK writes (when javac is installed)', function () {
    this.timeout(60_000)
    let javac = false
    try {
      execFileSync('javac', ['-version'], {stdio: 'ignore'})
      javac = true
    } catch {}

    if (!javac) this.skip()
    const dir = mkdtempSync(join(tmpdir(), 'sessionctl-jdk-'))
    try {
      for (const [path, source] of Object.entries(JAVA_SOURCES)) {
        mkdirSync(join(dir, 'src', dirname(path)), {recursive: true})
        writeFileSync(join(dir, 'src', path), source)
      }

      execFileSync('javac', ['-d', join(dir, 'out'), ...Object.keys(JAVA_SOURCES).map(p => join(dir, 'src', p))], {stdio: 'pipe'})
      const output = execFileSync('java', ['-cp', join(dir, 'out'), 'Samples'], {encoding: 'utf8'})
      const regenerated = Object.fromEntries(output.trim().split('\n').map(line => line.split('\t')))
      assert.deepEqual(regenerated, JDK_SAMPLES)
    } finally {
      rmSync(dir, {force: true, recursive: true})
    }

    assert.equal(existsSync(dir), false)
  })
})

describe('Java serialization reader: the stream protocol, hand-made', () => {
  const HASHMAP = jdesc('java.util.HashMap', SC.SERIALIZABLE | SC.WRITE_METHOD, [['F', 'loadFactor'], ['I', 'threshold']])
  const mapData = (capacity: number, size: number): Buffer => jblock(Buffer.concat([i32(capacity), i32(size)]))
  const loadFactor = Buffer.from('3f4000000000000c', 'hex') // 0.75f, threshold 12

  it('sniffs the magic and version only', () => {
    assert.equal(isJavaSerialized(Buffer.from('aced0005', 'hex')), true)
    assert.equal(isJavaSerialized(Buffer.from('aced0004', 'hex')), false)
    assert.equal(isJavaSerialized(Buffer.from('aced00', 'hex')), false)
    assert.equal(isJavaSerialized(Buffer.from('{"a":1}')), false)
  })

  it('refuses what ObjectInputStream refuses, as malformed', () => {
    refuses(Buffer.alloc(0), false, /truncated/)
    refuses(Buffer.from('aced00', 'hex'), false, /truncated/)
    refuses(Buffer.from('acee0005', 'hex'), false, /magic/)
    refuses(Buffer.from('aced0006', 'hex'), false, /version/)
    refuses(HEADER, false, /truncated/)
    refuses(stream(TC.EXCEPTION, TC.RESET), false, /TC_EXCEPTION/)
    refuses(stream(TC.BLOCKDATA, 1, 0), false, /block data/)
    refuses(stream(TC.ENDBLOCKDATA), false, /block data/)
    refuses(stream(0x42), false, /invalid type code/)
    refuses(Buffer.concat([HEADER, jref(0)]), false, /handle/)
    refuses(stream(TC.OBJECT, TC.NULL), false, /without a class descriptor/)
    refuses(stream(TC.ARRAY, jdesc('java.lang.String', SC.SERIALIZABLE), i32(0)), false, /non-array/)
    refuses(stream(TC.ARRAY, jdesc('[I', SC.SERIALIZABLE), i32(-1)), false, /negative array length/)
    // Field order: primitives before objects, as ObjectStreamClass requires.
    refuses(stream(TC.OBJECT, jdesc('A', SC.SERIALIZABLE, [['L', 'a'], ['I', 'b']])), false, /field order/)
    refuses(stream(TC.OBJECT, jdesc('A', SC.SERIALIZABLE, [['Q', 'a']])), false, /field type code/)
    refuses(stream(TC.OBJECT, jdesc('A', SC.SERIALIZABLE | SC.EXTERNALIZABLE)), false, /conflict/)
    refuses(stream(TC.ENUM, jdesc('E', SC.SERIALIZABLE | SC.ENUM), jstring('X')), false, /serialVersionUID/)
    refuses(stream(TC.ENUM, jdesc('E', SC.SERIALIZABLE), jstring('X')), false, /non-enum/)
    // A field type name must be a string: a reference to the descriptor itself is not.
    refuses(stream(TC.OBJECT, TC.CLASSDESC, 'A', i64(1n), SC.SERIALIZABLE, u16(1), 'L'.charCodeAt(0), 'f', jref(0), TC.ENDBLOCKDATA, TC.NULL), false, /non-string/)
    refuses(stream(TC.OBJECT, jdesc('A', SC.SERIALIZABLE, [['L', 'f']]), TC.RESET, jstring('x')), false, /TC_RESET/)
    refuses(stream(TC.OBJECT, jdesc('A', SC.SERIALIZABLE | SC.WRITE_METHOD), TC.BLOCKDATALONG, i32(-1)), false, /negative block/)
    refuses(stream(TC.PROXYCLASSDESC, i32(-1)), false, /proxy interface count/)
  })

  it('decodes modified UTF-8 as DataInput.readUTF does, and refuses what it refuses', () => {
    assert.equal(parse(stream(TC.STRING, u16(3), Buffer.from([0x61, 0, 0x62]))), 'a\u0000b')
    assert.equal(parse(stream(TC.STRING, u16(3), Buffer.from('eda0bd', 'hex'))), '\uD83D')
    assert.equal(parse(stream(TC.STRING, u16(2), Buffer.from('c080', 'hex'))), '\u0000')
    refuses(stream(TC.STRING, u16(1), Buffer.from([0x80])), false, /UTF-8/)
    refuses(stream(TC.STRING, u16(4), Buffer.from('f09f9880', 'hex')), false, /UTF-8/)
    refuses(stream(TC.STRING, u16(1), Buffer.from([0xC3])), false, /UTF-8/)
    refuses(stream(TC.STRING, u16(2), Buffer.from([0xE2, 0x82])), false, /UTF-8/)
    assert.equal(parse(stream(TC.LONGSTRING, i64(3n), Buffer.from('abc'))), 'abc')
    // A negative long length reads as an empty string, as in ObjectInputStream.
    assert.equal(parse(stream(TC.LONGSTRING, i64(-5n))), '')
  })

  it('checks huge declared lengths against the input before allocating', () => {
    const started = Date.now()
    refuses(stream(TC.LONGSTRING, i64(2n ** 62n), 'x'), false, /truncated/)
    refuses(stream(TC.STRING, u16(0xFF_FF), 'x'), false, /truncated/)
    refuses(stream(TC.ARRAY, jdesc('[J', SC.SERIALIZABLE), i32(0x7F_FF_FF_FF)), false, /truncated/)
    refuses(stream(TC.ARRAY, jdesc('[Ljava.lang.Object;', SC.SERIALIZABLE), i32(0x7F_FF_FF_FF)), false, /truncated/)
    refuses(stream(TC.OBJECT, jdesc('A', SC.SERIALIZABLE | SC.WRITE_METHOD), TC.BLOCKDATALONG, i32(0x7F_FF_FF_FF)), false, /truncated/)
    assert.ok(Date.now() - started < 500)
  })

  it('ignores what follows the first object, and honours a leading TC_RESET', () => {
    assert.equal(parse(stream(jstring('a'), 0xFF, 0xFF)), 'a')
    assert.equal(parse(stream(jstring('a'), TC.RESET, jref(0))), 'a')
    // After a reset, handle 0 is the next object's.
    assert.deepEqual(parse(stream(TC.RESET, TC.ARRAY, jdesc('[Ljava.lang.Object;', SC.SERIALIZABLE), i32(2), jstring('s'), jref(2))), ['s', 's'])
  })

  it('reads a HashMap that holds itself as a cycle marker, and nothing else is cyclic', () => {
    // Handles: 0 the descriptor, 1 the map, 2 the key.
    const value = parse(stream(TC.OBJECT, HASHMAP, loadFactor, mapData(16, 1), jstring('self'), jref(1), TC.ENDBLOCKDATA))
    assert.deepEqual(plain(value), {self: {__class__: '<cycle>'}})
  })

  it('keeps a collection whose custom data has another shape as an inert object', () => {
    const value = parse(stream(TC.OBJECT, HASHMAP, loadFactor, mapData(16, 2), jstring('k'), jstring('v'), TC.ENDBLOCKDATA)) as JavaObject
    assert.equal(value.__class__, 'java.util.HashMap')
    assert.equal(value.loadFactor, 0.75)
    assert.deepEqual(value.__data__, [new Uint8Array([0, 0, 0, 16, 0, 0, 0, 2]), 'k', 'v'])
    const integer = parse(stream(TC.OBJECT, jdesc('java.lang.Integer', SC.SERIALIZABLE, [['J', 'value']]), i64(5n))) as JavaObject
    assert.deepEqual({...integer}, {__class__: 'java.lang.Integer', value: 5})
    const date = parse(stream(TC.OBJECT, jdesc('java.util.Date', SC.SERIALIZABLE | SC.WRITE_METHOD), jblock(i64(2n ** 62n)), TC.ENDBLOCKDATA)) as JavaObject
    assert.equal(date.__class__, 'java.util.Date')
  })

  it('refuses a map key without a text form (an array) as a limit', () => {
    refuses(stream(TC.OBJECT, HASHMAP, loadFactor, mapData(16, 1), TC.ARRAY, jdesc('[I', SC.SERIALIZABLE), i32(0), jstring('v'), TC.ENDBLOCKDATA), true, /map key/)
  })

  it('names keys that are objects by class, and fields that collide with the reserved names by declaring class', () => {
    const key = parse(stream(TC.OBJECT, HASHMAP, loadFactor, mapData(16, 1), TC.OBJECT, jdesc('x.Key', SC.SERIALIZABLE), jstring('v'), TC.ENDBLOCKDATA))
    assert.deepEqual(plain(key), {'<x.Key>': 'v'})
    const reserved = parse(stream(TC.OBJECT, jdesc('x.A', SC.SERIALIZABLE, [['I', '__class__'], ['I', '__data__']]), i32(1), i32(2))) as JavaObject
    assert.deepEqual({...reserved}, {__class__: 'x.A', 'x.A.__class__': 1, 'x.A.__data__': 2})
  })

  it('reads descriptors as data: a TC_CLASSDESC read as an object, a proxy TC_CLASS', () => {
    assert.deepEqual(parse(stream(jdesc('x.Y', SC.SERIALIZABLE))), {__class__: 'java.io.ObjectStreamClass', name: 'x.Y'})
    assert.deepEqual(parse(stream(TC.CLASS, TC.PROXYCLASSDESC, i32(1), 'x.I', TC.ENDBLOCKDATA, TC.NULL)), {__class__: 'java.lang.Class', name: '<proxy x.I>'})
    // Class annotations are read (they assign handles) and dropped.
    const annotated = jdesc('x.Z', SC.SERIALIZABLE, [['L', 'f']], Buffer.from([TC.NULL]), Buffer.concat([jstring('annotation'), jblock(Buffer.from('xy'))]))
    // Handles: 0 x.Z, 1 the field type name, 2 'annotation', 3 the object.
    assert.deepEqual(plain(parse(stream(TC.OBJECT, annotated, jref(2)))), {__class__: 'x.Z', f: 'annotation'})
  })

  it('runs nothing a stream names: gadget classes come back as inert data', () => {
    const marker = join(tmpdir(), `sessionctl-java-${process.pid}-pwned`)
    const transformer = jdesc('org.apache.commons.collections.functors.InvokerTransformer', SC.SERIALIZABLE, [
      ['[', 'iArgs', '[Ljava/lang/Object;'], ['L', 'iMethodName', 'Ljava/lang/String;'], ['[', 'iParamTypes', '[Ljava/lang/Class;'],
    ])
    const iArgs = jbytes(TC.ARRAY, jdesc('[Ljava.lang.Object;', SC.SERIALIZABLE), i32(1), jstring(`touch ${marker}`))
    const iParamTypes = jbytes(TC.ARRAY, jdesc('[Ljava.lang.Class;', SC.SERIALIZABLE), i32(1), TC.CLASS, jdesc('java.lang.String', SC.SERIALIZABLE))
    const value = parse(stream(TC.OBJECT, transformer, iArgs, jstring('exec'), iParamTypes))
    assert.deepEqual(plain(value), {
      __class__: 'org.apache.commons.collections.functors.InvokerTransformer',
      iArgs: [`touch ${marker}`],
      iMethodName: 'exec',
      iParamTypes: [{__class__: 'java.lang.Class', name: 'java.lang.String'}],
    })
    assert.equal(existsSync(marker), false)
  })
})

describe('Java serialization reader: limits', () => {
  const OBJECTS = jdesc('[Ljava.lang.Object;', SC.SERIALIZABLE)

  it('refuses input over maxBytes', () => {
    refuses(sample('security-context'), true, /maxBytes/, {maxBytes: 100})
  })

  it('refuses nesting deeper than maxDepth, and reads it up to there', () => {
    // Object[]{Object[]{...}}: the descriptor is handle 0, then a reference to it.
    const nested = (n: number): Buffer => {
      const opens = Array.from({length: n}, (_, i) => Buffer.concat([Buffer.from([TC.ARRAY]), i === 0 ? OBJECTS : jref(0), i32(1)]))
      return Buffer.concat([HEADER, ...opens, Buffer.from([TC.NULL])])
    }

    assert.ok(Array.isArray(parse(nested(150))))
    refuses(nested(250), true, /maxDepth/)
    refuses(nested(20), true, /maxDepth/, {maxDepth: 10})
    const chain = (n: number): Buffer => {
      let desc: Buffer = Buffer.from([TC.NULL])
      for (let i = 0; i < n; i++) desc = jdesc(`C${i}`, SC.SERIALIZABLE, [], desc)
      return Buffer.concat([HEADER, Buffer.from([TC.OBJECT]), desc])
    }

    assert.equal((parse(chain(50)) as JavaObject).__class__, 'C49')
    refuses(chain(300), true, /maxDepth/)
  })

  it('bounds the result nesting that references build, not only the nesting read', () => {
    // Root Object[n]: element i is 100 nested Object[1] whose innermost element refers to element i-1
    // (handle 0 is the descriptor, 1 the root, element i starts at 2 + 100 i): each element is read
    // about 100 deep, but element i is 100 (i + 1) deep in the result.
    const rooted = (n: number): Buffer => {
      const parts: Buffer[] = [HEADER, Buffer.from([TC.ARRAY]), OBJECTS, i32(n)]
      for (let i = 0; i < n; i++) {
        for (let d = 0; d < 100; d++) parts.push(Buffer.from([TC.ARRAY]), jref(0), i32(1))
        parts.push(i === 0 ? Buffer.from([TC.NULL]) : jref(2 + (100 * (i - 1))))
      }

      return Buffer.concat(parts)
    }

    assert.equal((parse(rooted(1)) as unknown[]).length, 1)
    refuses(rooted(3), true, /maxDepth/)
  })

  it('refuses more than maxItems values, and references that expand beyond maxItems ("billion laughs")', () => {
    const array = (n: number): Buffer => stream(TC.ARRAY, OBJECTS, i32(n), ...Array.from({length: n}, () => TC.NULL))
    assert.equal((parse(array(10)) as unknown[]).length, 10)
    refuses(array(10), true, /maxItems/, {maxItems: 5})
    refuses(stream(TC.ARRAY, jdesc('[I', SC.SERIALIZABLE), i32(10), Buffer.alloc(40)), true, /maxItems/, {maxItems: 5})
    // L0 = 'lol', Lk = Object[]{L(k-1), L(k-1) again}: 2^levels leaves as a tree, in a few hundred bytes.
    // Handles: 0 the descriptor, L(levels) .. L1 are 1 .. levels, L0 is levels + 1.
    const laughs = (levels: number): Buffer => {
      const parts: Buffer[] = [HEADER]
      for (let k = levels; k >= 1; k--) parts.push(Buffer.from([TC.ARRAY]), k === levels ? OBJECTS : jref(0), i32(2))
      parts.push(jstring('lol'))
      for (let k = 1; k <= levels; k++) parts.push(jref(levels + 2 - k))
      return Buffer.concat(parts)
    }

    const small = parse(laughs(3)) as unknown[][][]
    assert.equal(small[0], small[1])
    assert.deepEqual(small[0][0], ['lol', 'lol'])
    const started = Date.now()
    refuses(laughs(40), true, /maxItems/)
    assert.ok(Date.now() - started < 500)
  })

  it('refuses more than maxHandles handles', () => {
    const strings = stream(TC.ARRAY, OBJECTS, i32(3), jstring('a'), jstring('b'), jstring('c'))
    assert.deepEqual(parse(strings), ['a', 'b', 'c'])
    refuses(strings, true, /maxHandles/, {maxHandles: 3})
  })

  it('throws only JavaSerializationError, for non-bytes too', () => {
    assert.throws(() => parseJavaSerialized('aced0005' as unknown as Uint8Array), JavaSerializationError)
  })
})

// ---------------------------------------------------------------------------------------------
// The Java program that wrote JDK_SAMPLES, and its output.

/** The Spring Security stand-ins the Spring oracle compiles too (test/spring/org/…), by path. */
function springSecurityStubs(): Record<string, string> {
  const root = new URL('../spring/', import.meta.url).pathname
  const files = readdirSync(join(root, 'org'), {recursive: true, withFileTypes: true}).filter(e => e.isFile() && e.name.endsWith('.java'))
  return Object.fromEntries(files.map(e => {
    const path = join(e.parentPath, e.name)
    return [path.slice(root.length), readFileSync(path, 'utf8')]
  }))
}

const JAVA_SOURCES: Record<string, string> = {
  'Samples.java': `import java.io.*;
import java.lang.reflect.*;
import java.util.*;
import java.util.concurrent.ConcurrentHashMap;
import org.springframework.security.authentication.UsernamePasswordAuthenticationToken;
import org.springframework.security.core.GrantedAuthority;
import org.springframework.security.core.authority.SimpleGrantedAuthority;
import org.springframework.security.core.context.SecurityContextImpl;
import org.springframework.security.core.userdetails.User;
import org.springframework.security.web.authentication.WebAuthenticationDetails;

/** Prints "name<TAB>base64" for each sample, written by the JDK's own ObjectOutputStream. */
public class Samples {
  enum Color { RED, GREEN }

  static class Base implements Serializable {
    private static final long serialVersionUID = 1L;
    String name = "base";
    int level = 1;
  }

  static class Derived extends Base {
    private static final long serialVersionUID = 2L;
    String name = "derived";
    long[] stamps = {1L, -1L};
  }

  static class Node implements Serializable {
    private static final long serialVersionUID = 3L;
    String label;
    Node next;
    Object payload;
  }

  static class Custom implements Serializable {
    private static final long serialVersionUID = 4L;
    int kept = 5;

    private void writeObject(ObjectOutputStream out) throws IOException {
      out.defaultWriteObject();
      out.writeInt(7);
      out.writeUTF("extra");
      out.writeObject("object");
    }
  }

  public static class Ext implements Externalizable {
    private static final long serialVersionUID = 5L;

    public Ext() {}

    public void writeExternal(ObjectOutput out) throws IOException {
      out.writeInt(42);
      out.writeObject("inside");
    }

    public void readExternal(ObjectInput in) throws IOException {}
  }

  static class Handler implements InvocationHandler, Serializable {
    private static final long serialVersionUID = 6L;
    String note = "handler";

    public Object invoke(Object proxy, Method method, Object[] args) {
      return null;
    }
  }

  static class Prims implements Serializable {
    private static final long serialVersionUID = 7L;
    boolean z = true;
    byte b = -2;
    char c = '\\u00e9';
    short s = -300;
    int i = -70000;
    long j = Long.MIN_VALUE;
    float f = 1.5f;
    double d = -0.25;
    Object __proto__ = "data";
    String constructor = "also data";
  }

  static String b64(Object... objects) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    ObjectOutputStream out = new ObjectOutputStream(bytes);
    for (Object o : objects) {
      if (o == RESET) out.reset();
      else out.writeObject(o);
    }
    out.close();
    return Base64.getEncoder().encodeToString(bytes.toByteArray());
  }

  static final Object RESET = new Object();

  static void print(String name, Object... objects) throws IOException {
    System.out.println(name + "\\t" + b64(objects));
  }

  public static void main(String[] args) throws Exception {
    List<GrantedAuthority> roles = List.of(new SimpleGrantedAuthority("ROLE_USER"), new SimpleGrantedAuthority("ROLE_ADMIN"));
    User user = new User("alice", "{noop}secret", roles);
    user.eraseCredentials();
    UsernamePasswordAuthenticationToken token = new UsernamePasswordAuthenticationToken(user, "secret", user.getAuthorities());
    token.setDetails(new WebAuthenticationDetails("203.0.113.7", "0162a8ca-cf64-42a6-ad82-52d90226f057"));
    token.eraseCredentials();
    print("security-context", new SecurityContextImpl(token));

    LinkedHashMap<String, Object> linked = new LinkedHashMap<>();
    linked.put("b", 1);
    linked.put("a", null);
    linked.put("__proto__", "x");
    print("linked-hash-map", linked);
    TreeMap<String, Object> tree = new TreeMap<>();
    tree.put("z", 2.5d);
    tree.put("m", Arrays.asList("p", "q"));
    print("tree-map", tree);
    Hashtable<Object, Object> table = new Hashtable<>();
    table.put(7, "seven");
    table.put(true, 'c');
    print("hashtable", table);
    ConcurrentHashMap<String, Object> chm = new ConcurrentHashMap<>();
    chm.put("k", 1L);
    print("concurrent-hash-map", chm);
    HashMap<Object, Object> keys = new HashMap<>();
    keys.put(Color.RED, "enum key");
    keys.put(3000000000L, "long key");
    print("hash-map-keys", keys);

    ArrayList<Object> list = new ArrayList<>(List.of("a", 1, (short) 2, (byte) 3, 4.5f, 'z'));
    list.add(null);
    print("array-list", list);
    print("linked-list", new LinkedList<>(List.of("x", "y")));
    print("arrays-as-list", Arrays.asList("one", "two"));
    print("hash-set", new HashSet<>(List.of("only")));
    print("linked-hash-set", new LinkedHashSet<>(List.of("first", "second")));
    print("tree-set", new TreeSet<>(List.of("b", "a")));
    print("list-of", List.of("i", "j"));
    print("map-of", Map.of("k", "v"));
    print("empty-list", Collections.emptyList());
    print("unmodifiable-map", Collections.unmodifiableMap(new HashMap<>(Map.of("u", 1))));
    print("vector", new Vector<>(List.of("v1", "v2")));
    print("array-deque", new ArrayDeque<>(List.of("d1")));

    print("long-max", Long.MAX_VALUE);
    print("long-min", Long.MIN_VALUE);
    print("boolean", true);
    print("double", 3.25d);
    print("character", '\\u20ac');
    print("uuid", UUID.fromString("0162a8ca-cf64-42a6-ad82-52d90226f057"));
    print("date-1969", new Date(-1L));
    print("enum", Color.GREEN);
    print("class", String.class);
    print("int-array", (Object) new int[] {1, -1, Integer.MAX_VALUE});
    print("byte-array", (Object) new byte[] {0, -1, 127});
    print("char-array", (Object) new char[] {'h', 'i'});
    print("boolean-array", (Object) new boolean[] {true, false});
    print("long-array", (Object) new long[] {Long.MAX_VALUE, 5L});
    print("double-array", (Object) new double[] {0.5, Double.NaN});
    print("string-matrix", (Object) new String[][] {{"a"}, {"b", null}});
    print("prims", new Prims());
    print("derived", new Derived());
    print("custom-write-object", new Custom());
    print("externalizable", new Ext());
    print("proxy", Proxy.newProxyInstance(Samples.class.getClassLoader(), new Class<?>[] {Runnable.class, Serializable.class}, new Handler()));

    ArrayList<Object> self = new ArrayList<>();
    self.add("before");
    self.add(self);
    print("list-cycle", self);
    Node node = new Node();
    node.label = "loop";
    node.next = node;
    print("node-cycle", node);
    String shared = "shared";
    Node pair = new Node();
    pair.label = shared;
    pair.payload = new Object[] {shared, user.getAuthorities(), user.getAuthorities()};
    print("shared-refs", pair);
    print("reset-first", RESET, "after reset");
    print("two-objects", "first", "second");

    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    ObjectOutputStream v1 = new ObjectOutputStream(bytes);
    v1.useProtocolVersion(ObjectStreamConstants.PROTOCOL_VERSION_1);
    v1.writeObject(new Ext());
    v1.close();
    System.out.println("externalizable-protocol-1\\t" + Base64.getEncoder().encodeToString(bytes.toByteArray()));
  }
}
`,
  ...springSecurityStubs(),
}

// Generated by the JDK from JAVA_SOURCES (the cross-check below regenerates them when javac is installed).
