/**
 * The byte scan that reads a JSON session's user without parsing it (json-scan.ts) must answer
 * exactly as JSON.parse does, or not at all: on the crafted payloads of the prefilter suite, the
 * production-shaped benchmark sessions, and tens of thousands of mutations of them (bytes flipped,
 * inserted, deleted, truncated), every answer it gives equals JSON.parse's object and key.
 */
import assert from 'node:assert/strict'
import {inflateSync} from 'node:zlib'

import {shapedRow} from '../../scripts/bench/seed-shaped.js'
import {topLevelString} from '../../src/formats/json-scan.js'
import {Rng} from '../support/rng.js'

const KEY = '_auth_user_id'

/** JSON.parse's answer as the scan gives it: undefined when JSON.parse refuses it, or it is no object, or the key holds no string. */
function parsed(bytes: Buffer): undefined | {text: null | string} {
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('latin1'))
  } catch {
    return undefined
  }

  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined
  if (!Object.hasOwn(value, KEY)) return {text: null}
  const v = (value as Record<string, unknown>)[KEY]
  return typeof v === 'string' ? {text: v} : undefined
}

function agrees(bytes: Buffer): 'answered' | 'declined' {
  const got = topLevelString(bytes, KEY)
  if (got === undefined) return 'declined'
  assert.deepEqual(got, parsed(bytes), `scan of ${JSON.stringify(bytes.toString('latin1'))}`)
  return 'answered'
}

const CRAFTED = [
  '{"_auth_user_id":"42"}',
  '{}',
  '{ }',
  ' {"a":1} ',
  '{"_auth_user_id":"1","_auth_user_id":"42"}',
  '{"_auth_user_id":"42","_auth_user_id":7}',
  '{"cart":{"_auth_user_id":"7"},"_auth_user_id":"42"}',
  '{"cart":{"_auth_user_id":"42"}}',
  '{"_auth_user_id":["42"]}',
  '{"_auth_user_id":null}',
  '{"_auth_user_id":"42"',
  '{"_auth_user_id":"42"} x',
  '{"_auth_user_id":"jösé"}',
  '["_auth_user_id","42"]',
  '{"_auth_user_id"\n:\r"42"\t}',
  '{"x":NaN,"_auth_user_id":"42"}',
  '{"a":01}',
  '{"a":1.}',
  '{"a":.5}',
  '{"a":-}',
  '{"a":1e}',
  '{"a":1e+}',
  '{"a":-0.0e-0}',
  '{"a":+1}',
  '{"a":tru}',
  '{"a":true,"b":false,"c":null}',
  '{"a":[1,2,]}',
  '{"a":[,1]}',
  '{,}',
  '{"a":1,}',
  '{"a" 1}',
  '{"a":"b\u0001"}',
  '{"a":"\u007F"}',
  '{"a":[[[[[]]]]],"_auth_user_id":""}',
  '{"_auth_user_id":"\u00E9"}',
  '"_auth_user_id"',
  '42',
  'null',
  '',
  ' ',
  '{"a":{}}{}',
  '\uFEFF{}',
  '{"_auth_user_id":"42","_auth_user_hash":"42ab","cart":{"items":[{"sku":"SKU-42","qty":42}]}}',
  String.raw`{"m":"a\"b\\c\/d\b\f\n\r\t\u00e9\uD800","_auth_user_id":"42"}`,
  String.raw`{"m":"\x"}`,
  String.raw`{"m":"\u12"}`,
  String.raw`{"m":"\uZZZZ"}`,
  '{"m":"\\',
  String.raw`{"m":"\u004"}`,
  String.raw`{"_auth_user_id":"4\"2"}`,
  String.raw`{"a\\":"1","_auth_user_id":"7"}`,
  String.raw`{"cart":{"k\"ey":"v"},"_auth_user_id":"7"}`,
  String.raw`{"_auth_user_id":"7","_messages":"[[\"__json_message\",0,20,\"Saved \\\"x\\\"\"]]"}`,
]

describe('JSON byte scan (the lite decode of a scan)', () => {
  it('answers as JSON.parse does on crafted documents, and declines what it cannot settle', () => {
    const counts = {answered: 0, declined: 0}
    for (const text of CRAFTED) counts[agrees(Buffer.from(text, 'latin1'))]++
    assert.ok(counts.answered >= 10, JSON.stringify(counts))
    // Escapes, invalid documents and non-string user values are always left to JSON.parse.
    for (const text of [String.raw`{"\u005fauth_user_id":"7"}`, String.raw`{"_auth_user_id":"4\u0032"}`, '{"_auth_user_id":42}', '{"a":01}']) {
      assert.equal(topLevelString(Buffer.from(text, 'latin1'), KEY), undefined, text)
    }
  })

  it('answers as JSON.parse does on production-shaped sessions and on 40,000 mutations of them', () => {
    const rng = new Rng(1234)
    const now = Date.now()
    const docs: Buffer[] = []
    for (let i = 0; i < 2000; i++) {
      const {data} = shapedRow(i, now)
      const body = data.slice(0, data.lastIndexOf(':', data.lastIndexOf(':') - 1))
      docs.push(body.startsWith('.') ? inflateSync(Buffer.from(body.slice(1), 'base64url')) : Buffer.from(body, 'base64url'))
    }

    const counts = {answered: 0, declined: 0}
    for (const doc of docs) counts[agrees(doc)]++
    // Flash messages (escaped quotes) are answered too: only an escape in a top-level key or in the user id is left to JSON.parse.
    assert.ok(counts.answered > 0.99 * docs.length, `answered ${counts.answered} of ${docs.length} untouched sessions`)
    const alphabet = Buffer.from('{}[]":,0123456789.-+eE tfnrul\\\n\u0001a')
    for (let n = 0; n < 40_000; n++) {
      const doc = Buffer.from(docs[rng.int(docs.length)])
      const at = rng.int(doc.length)
      const byte = rng.chance(0.7) ? alphabet[rng.int(alphabet.length)] : rng.int(256)
      let mutated: Buffer
      switch (rng.int(4)) {
      case 0: {
        doc[at] = byte
        mutated = doc
        break
      }

      case 1: {
        mutated = Buffer.concat([doc.subarray(0, at), Buffer.of(byte), doc.subarray(at)])
        break
      }

      case 2: {
        mutated = Buffer.concat([doc.subarray(0, at), doc.subarray(at + 1)])
        break
      }

      default: {
        mutated = doc.subarray(0, at)
      }
      }

      counts[agrees(mutated)]++
    }

    assert.ok(counts.declined > 1000, `most mutations break the document: ${JSON.stringify(counts)}`)
  })

  it('declines a document nested deeper than the stack instead of failing', () => {
    const deep = Buffer.from(`{"a":${'['.repeat(200_000)}${']'.repeat(200_000)},"_auth_user_id":"42"}`)
    const got = topLevelString(deep, KEY)
    assert.ok(got === undefined || got.text === '42')
  })
})
