/* eslint-disable no-bitwise -- a PRNG */
/**
 * The streaming JSON path reader must agree with `readPath(JSON.parse(text), path)` on every
 * document JSON.parse accepts, and refuse every one it refuses, however the bytes are cut into
 * chunks; numbers differ only where they must: an integer keeps its exact digits.
 */
import assert from 'node:assert/strict'

import {readPath, userIdText} from '../../src/formats/codec.js'
import {
  type JsonEncoding, JsonPathError, JsonPathReader, mayDifferFromSource, pathUserId, readJsonPaths,
} from '../../src/formats/json-path.js'

// A small deterministic PRNG (mulberry32), so a failure is reproducible from its seed.
function rng(seed: number): () => number {
  let a = seed
  return () => {
    // eslint-disable-next-line unicorn/prefer-math-trunc -- a 32-bit wrap, not a truncation
    a = (a + 0x6D_2B_79_F5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

const KEYS = ['user', 'passport', 'cookie', 'expires', 'a', '0', '1', 'length', '__proto__', 'us\u00E9r', '']
const STRINGS = ['42', 'x', '', 'caf\u00E9', '\u{1F600}', '\uD800', 'a"b', String.raw`back\slash`, 'line\nfeed', '\u2028', '\u0000']
const NUMBERS = ['0', '-0', '42', '-7', '9007199254740993', '9007199254740992', '123456789012345678901234567890', '1.0', '1e21', '1E2', '-0.0', '2.5e-3', '1e400', '-1e400', '0.1']

function ws(r: () => number): string {
  return r() < 0.8 ? '' : [' ', '\n', '\t', '\r', '  '][Math.floor(r() * 5)]
}

// Escapes a string as JSON in one of several equivalent ways.
function stringSource(text: string, r: () => number): string {
  let out = '"'
  for (const ch of text) {
    const code = ch.codePointAt(0)!
    const mode = r()
    if (ch === '"' || ch === '\\') out += `\\${ch}`
    else if (code < 0x20) out += mode < 0.5 ? JSON.stringify(ch).slice(1, -1) : `\\u${code.toString(16).padStart(4, '0')}`
    else if (mode < 0.3) {
      for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, mode < 0.15 ? '0' : '0').toUpperCase()}`
    } else if (mode < 0.35 && ch === '/') out += String.raw`\/`
    else out += ch
  }

  return `${out}"`
}

function value(r: () => number, depth: number): string {
  const pick = r()
  if (depth > 5 || pick < 0.35) {
    const scalar = r()
    if (scalar < 0.4) return stringSource(STRINGS[Math.floor(r() * STRINGS.length)], r)
    if (scalar < 0.8) return NUMBERS[Math.floor(r() * NUMBERS.length)]
    return ['true', 'false', 'null'][Math.floor(r() * 3)]
  }

  const n = Math.floor(r() * 4)
  const parts: string[] = []
  if (pick < 0.6) {
    for (let i = 0; i < n; i++) parts.push(`${ws(r)}${value(r, depth + 1)}${ws(r)}`)
    return `[${parts.join(',')}${n === 0 ? ws(r) : ''}]`
  }

  // Objects repeat keys often, so duplicates are common.
  for (let i = 0; i < n; i++) parts.push(`${ws(r)}${stringSource(KEYS[Math.floor(r() * KEYS.length)], r)}${ws(r)}:${ws(r)}${value(r, depth + 1)}${ws(r)}`)
  return `{${parts.join(',')}${n === 0 ? ws(r) : ''}}`
}

const PATHS = [['user'], ['passport', 'user'], ['a', '0'], ['a', 'length'], ['0', '1', 'user'], ['__proto__', 'a'], ['us\u00E9r'], ['cookie', 'expires']]

function expected(text: string, path: readonly string[]): null | string | undefined {
  const found = readPath(JSON.parse(text), path)
  return found === undefined ? undefined : userIdText(found)
}

// Feeds the document in random chunks.
function streamed(bytes: Buffer, paths: string[][], encoding: JsonEncoding, r: () => number): ReturnType<JsonPathReader['end']> {
  const reader = new JsonPathReader(paths, encoding)
  let at = 0
  while (at < bytes.length) {
    const size = r() < 0.3 ? 1 : Math.ceil(r() * 64)
    reader.write(bytes.subarray(at, at + size))
    at += size
  }

  return reader.end()
}

function check(text: string, bytes: Buffer, encoding: JsonEncoding, r: () => number, label: string): void {
  let parsed: unknown
  let parseError = false
  try {
    parsed = JSON.parse(bytes.toString(encoding))
  } catch {
    parseError = true
  }

  let got: ReturnType<JsonPathReader['end']> | undefined
  let readError: unknown
  try {
    got = streamed(bytes, PATHS, encoding, r)
  } catch (error) {
    readError = error
  }

  if (parseError) {
    assert.ok(readError instanceof JsonPathError && !readError.limit, `${label}: JSON.parse refuses ${JSON.stringify(text)}, the reader gave ${JSON.stringify(got)}`)
    return
  }

  assert.equal(readError, undefined, `${label}: JSON.parse accepts ${JSON.stringify(text)}, the reader threw ${readError}`)
  const rootType = parsed === null ? 'null' : (Array.isArray(parsed) ? 'array' : typeof parsed)
  assert.equal(got!.root, rootType, label)
  for (const [i, path] of PATHS.entries()) {
    const want = expected(bytes.toString(encoding), path)
    const value = got!.values[i]
    if (want === undefined) {
      assert.equal(value, undefined, `${label}: ${path.join('.')} in ${text}`)
      continue
    }

    assert.notEqual(value, undefined, `${label}: ${path.join('.')} in ${text}`)
    const found = readPath(parsed, path)
    // Exact for integers, JavaScript's text for the rest: the same wherever the double is exact.
    if (mayDifferFromSource(found)) {
      assert.equal(value!.type, 'number')
      const literal = value!.text!
      assert.equal(Number(literal), found, `${label}: the literal reads as JSON.parse's double`)
      if (/^-?\d+$/.test(literal)) assert.equal(pathUserId(value), BigInt(literal).toString(), label)
      else assert.equal(pathUserId(value), want, label)
    } else {
      assert.equal(pathUserId(value), want, `${label}: ${path.join('.')} in ${text}`)
    }
  }
}

describe('JSON path reader', () => {
  it('agrees with JSON.parse + readPath on 6000 generated documents, cut into random chunks', () => {
    const r = rng(1)
    for (let n = 0; n < 6000; n++) {
      const text = `${ws(r)}${value(r, 0)}${ws(r)}`
      check(text, Buffer.from(text, 'utf8'), 'utf8', r, `utf8 #${n}`)
      // Django's JSON is ASCII: the same document read as latin-1 must agree too.
      check(text, Buffer.from(text, 'utf8'), 'latin1', r, `latin1 #${n}`)
    }
  })

  it('refuses what JSON.parse refuses: 6000 mutated documents, and hand-written malformed ones', () => {
    const r = rng(2)
    const alphabet = ['{', '}', '[', ']', ',', ':', '"', '\\', 'u', '0', '1', '-', '+', '.', 'e', 'E', ' ', '\n', '\u0001', 't', 'n', 'x', '\u00FF', '/']
    for (let n = 0; n < 6000; n++) {
      const text = value(r, 0)
      const at = Math.floor(r() * (text.length + 1))
      const mutation = r()
      let mutated: string
      if (mutation < 0.4) mutated = text.slice(0, at) + text.slice(at + 1)
      else if (mutation < 0.7) mutated = text.slice(0, at) + alphabet[Math.floor(r() * alphabet.length)] + text.slice(at)
      else if (mutation < 0.9) mutated = text.slice(0, at)
      else mutated = text.slice(0, at) + alphabet[Math.floor(r() * alphabet.length)] + text.slice(at + 1)
      check(mutated, Buffer.from(mutated, 'utf8'), 'utf8', r, `mutated #${n}`)
    }

    const malformed = ['',
      ' ',
      '{',
      '}',
      '{"a"}',
      '{"a":}',
      '{"a":1,}',
      '[1,]',
      '[,1]',
      '01',
      '-',
      '1.',
      '.5',
      '1e',
      '1e+',
      '+1',
      '--1',
      '0x1',
      'tru',
      'truex',
      'nul',
      'NaN',
      'Infinity',
      String.raw`"\x"`,
      String.raw`"\u12"`,
      String.raw`"\u12G4"`,
      '"a\tb"',
      '"\n"',
      '{"a":1}}',
      '[1]]',
      '[1] [2]',
      '{}x',
      '"unterminated',
      '{"a" 1}',
      "{'a':1}",
      '[1 2]',
      '\uFEFF{}',
      '{"a":1 "b":2}',
      '1 2']
    for (const text of malformed) {
      assert.throws(() => JSON.parse(text), `${JSON.stringify(text)} is malformed`)
      assert.throws(() => readJsonPaths(Buffer.from(text), PATHS), (error: unknown) => error instanceof JsonPathError && !error.limit, JSON.stringify(text))
    }
  })

  it('reads bytes as the codec decodes them: invalid UTF-8 in a string is U+FFFD in utf8, one char a byte in latin1', () => {
    const bytes = Buffer.concat([Buffer.from('{"user":"a'), Buffer.from([0xE2, 0x82, 0xFF, 0xC3]), Buffer.from('b"}')])
    assert.equal(pathUserId(readJsonPaths(bytes, [['user']], 'utf8').values[0]), JSON.parse(bytes.toString('utf8')).user)
    assert.equal(pathUserId(readJsonPaths(bytes, [['user']], 'latin1').values[0]), JSON.parse(bytes.toString('latin1')).user)
    // Outside strings, a non-ASCII byte is refused either way.
    assert.throws(() => readJsonPaths(Buffer.from([0x7B, 0xA0, 0x7D]), [['user']], 'latin1'), JsonPathError)
  })

  it('keeps integer ids exact beyond 2^53, and reads the last of duplicate keys', () => {
    const doc = Buffer.from('{"passport":{"user":1},"passport":{"user":9007199254740993, "user": 18446744073709551617}}')
    assert.equal(pathUserId(readJsonPaths(doc, [['passport', 'user']]).values[0]), '18446744073709551617')
    const shadowed = Buffer.from('{"passport":{"user":"7"},"passport":{"other":1}}')
    assert.equal(readJsonPaths(shadowed, [['passport', 'user']]).values[0], undefined)
    assert.equal(pathUserId(readJsonPaths(Buffer.from('{"user":-0}'), [['user']]).values[0]), '0')
    assert.equal(pathUserId(readJsonPaths(Buffer.from('{"user":1e400}'), [['user']]).values[0]), null)
  })

  it('is bounded: nesting beyond maxDepth and a kept value beyond maxValueBytes are limits, not "not JSON"', () => {
    const deep = Buffer.from(`${'['.repeat(50)}${']'.repeat(50)}`)
    assert.throws(() => readJsonPaths(deep, [['user']], 'utf8', {maxDepth: 10}), (error: unknown) => error instanceof JsonPathError && error.limit)
    // Deep nesting off the path costs a byte a level: a million levels read fine.
    const million = Buffer.from(`{"a":${'['.repeat(1_000_000 - 1)}${']'.repeat(1_000_000 - 1)},"user":"u"}`)
    assert.equal(pathUserId(readJsonPaths(million, [['user']]).values[0]), 'u')
    const long = Buffer.from(`{"user":"${'x'.repeat(100)}","other":"${'y'.repeat(10_000)}"}`)
    assert.throws(() => readJsonPaths(long, [['user']], 'utf8', {maxValueBytes: 50}), (error: unknown) => error instanceof JsonPathError && error.limit)
    // Only the value at the path is kept: a long string elsewhere is fine.
    assert.equal(pathUserId(readJsonPaths(long, [['other', 'x'], ['nope']], 'utf8', {maxValueBytes: 50}).values[0]), null)
  })
})
