/**
 * A decoded session's top-level keys as `sessions show` prints them: each key's value type, named
 * as the app's language names it, its size, and (only when asked) its value, with anything under a
 * secret-looking key masked.
 *
 * Values are what the format readers return (src/formats/): plain data for dicts, lists, strings
 * and numbers, Uint8Array for bytes, bigint beyond 2^53, and tagged objects (`{__class__: …}`) for
 * pickled, PHP, Ruby and Java objects, which are never instantiated. The readers' results are
 * acyclic but may share a subtree many times (a pickle's memo, PHP's `r:`): sizes are computed once
 * per shared subtree, and rendering stops after a budget of nodes, so a small payload that expands
 * to an enormous rendering cannot hang the command.
 */
import type {ValueLanguage} from '../frameworks/index.js'

import {plural} from './render.js'

/**
 * Keys whose values are credentials or derived from them: never printed, `--reveal` or not.
 * Django's `_auth_user_hash`, Laravel's `_token` and `password_hash_web`, CSRF tokens, Devise's salt.
 */
const SECRET_KEY = /token|csrf|xsrf|passw(?:or)?d|hash|secret|credential|salt|api[_-]?key|private[_-]?key/i

/** The text shown instead of a masked value. */
export const MASKED = '(masked)'

/** Nodes rendered per value at most; what is left is shown as TRUNCATED. */
const RENDER_BUDGET = 100_000
const TRUNCATED = '…(truncated)'

export function isSecretKey(name: string): boolean {
  return SECRET_KEY.test(name)
}

export interface PayloadEntry {
  key: string
  /** The value's type, as the app's language names it: `str`, `dict (3 keys)`, `object App\User`. */
  type: string
  /** Bytes: a string's UTF-8, bytes' own length, anything else its compact JSON text (as `--json --reveal` prints it). */
  size: number
  /** The key looks like a secret: its value is never shown. */
  masked: boolean
  /** With reveal and not masked: the value as JSON can hold it (see jsonValue). */
  value?: unknown
}

/**
 * The session dict's top-level keys in stored order, typed and sized; values only with `reveal`.
 * `alsoSecret`: top-level keys the framework knows hold a credential (Framework.secretKeys).
 */
export function payloadEntries(data: Record<string, unknown>, language: ValueLanguage, reveal: boolean, alsoSecret?: RegExp): PayloadEntry[] {
  const sizes = new WeakMap<object, number>()
  return Object.keys(data).map(key => {
    const value = data[key]
    const masked = isSecretKey(key) || (alsoSecret?.test(key) ?? false)
    const entry: PayloadEntry = {
      key, masked, size: topSize(value, sizes), type: typeName(value, language),
    }
    if (reveal && !masked) entry.value = jsonValue(value)
    return entry
  })
}

/**
 * A value as JSON can hold it: bytes as `{"__bytes__": base64}`, bigints as their decimal text,
 * NaN and ±Infinity as text, tagged objects as the readers tag them; values under secret-looking
 * keys at any depth replaced by MASKED. At most RENDER_BUDGET nodes, then TRUNCATED.
 */
export function jsonValue(value: unknown): unknown {
  let budget = RENDER_BUDGET
  const walk = (v: unknown): unknown => {
    if (--budget < 0) return TRUNCATED
    if (v === null || v === undefined) return null
    if (typeof v === 'bigint') return v.toString()
    if (typeof v === 'number') return Number.isFinite(v) ? v : String(v)
    if (typeof v !== 'object') return v
    if (v instanceof Uint8Array) return {__bytes__: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}
    if (Array.isArray(v)) return v.map(item => walk(item))
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(v)) out[key] = isSecretKey(key) ? MASKED : walk((v as Record<string, unknown>)[key])
    return out
  }

  return walk(value)
}

/** One line of a revealed value (the table): its compact JSON, cut to `width` characters. */
export function valueLine(value: unknown, width: number): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? 'null'
  return text.length > width ? `${text.slice(0, Math.max(1, width - 1))}…` : text
}

/** The type of a value as the app's language calls it. */
export function typeName(value: unknown, language: ValueLanguage): string {
  const names = TYPE_NAMES[language]
  if (value === null || value === undefined) return names.null
  if (typeof value === 'boolean') return language === 'ruby' ? String(value) : names.bool
  if (typeof value === 'bigint') return names.int
  if (typeof value === 'number') return Number.isInteger(value) && !Object.is(value, -0) ? names.int : names.float
  if (typeof value === 'string') return names.str
  if (value instanceof Uint8Array) return names.bytes
  if (Array.isArray(value)) return `${names.list} (${plural(value.length, 'item')})`
  if (typeof value !== 'object') return typeof value
  const tag = (value as {__class__?: unknown}).__class__
  if (typeof tag === 'string' && language !== 'js') return tag === '<cycle>' ? 'reference to an enclosing value' : `${names.object} ${tag}`
  return `${names.dict} (${plural(Object.keys(value).length, names.dictKey, names.dictKeys)})`
}

interface TypeNames {
  bool: string
  bytes: string
  dict: string
  dictKey: string
  dictKeys: string
  float: string
  int: string
  list: string
  null: string
  object: string
  str: string
}

const TYPE_NAMES: Record<ValueLanguage, TypeNames> = {
  java: {
    bool: 'Boolean', bytes: 'byte[]', dict: 'Map', dictKey: 'entry', dictKeys: 'entries', float: 'Double', int: 'Long/Integer', list: 'Collection', null: 'null', object: 'object', str: 'String',
  },
  js: {
    bool: 'boolean', bytes: 'Buffer', dict: 'object', dictKey: 'key', dictKeys: 'keys', float: 'number', int: 'number', list: 'array', null: 'null', object: 'object', str: 'string',
  },
  php: {
    bool: 'bool', bytes: 'string (binary)', dict: 'array', dictKey: 'key', dictKeys: 'keys', float: 'float', int: 'int', list: 'array', null: 'null', object: 'object', str: 'string',
  },
  python: {
    bool: 'bool', bytes: 'bytes', dict: 'dict', dictKey: 'key', dictKeys: 'keys', float: 'float', int: 'int', list: 'list', null: 'None', object: 'object', str: 'str',
  },
  ruby: {
    bool: 'Boolean', bytes: 'String (binary)', dict: 'Hash', dictKey: 'key', dictKeys: 'keys', float: 'Float', int: 'Integer', list: 'Array', null: 'nil', object: 'object', str: 'String',
  },
}

/** A top-level value's size: a string's UTF-8 bytes, bytes' length, else its compact JSON's bytes. */
function topSize(value: unknown, sizes: WeakMap<object, number>): number {
  if (typeof value === 'string') return Buffer.byteLength(value)
  if (value instanceof Uint8Array) return value.length
  return jsonSize(value, sizes)
}

/** Bytes of JSON.stringify(jsonValue(value)) without masking or budget, computed once per shared subtree. */
function jsonSize(value: unknown, sizes: WeakMap<object, number>): number {
  if (value === null || value === undefined) return 4
  if (typeof value === 'boolean') return value ? 4 : 5
  if (typeof value === 'bigint') return value.toString().length + 2
  if (typeof value === 'number') return Number.isFinite(value) ? String(value).length : String(value).length + 2
  if (typeof value === 'string') return Buffer.byteLength(JSON.stringify(value))
  if (typeof value !== 'object') return 4
  const known = sizes.get(value)
  if (known !== undefined) return known
  let size: number
  if (value instanceof Uint8Array) {
    // {"__bytes__":"<base64>"}
    size = 15 + (4 * Math.ceil(value.length / 3))
  } else if (Array.isArray(value)) {
    size = 2 + Math.max(0, value.length - 1)
    for (const item of value) size += jsonSize(item, sizes)
  } else {
    const keys = Object.keys(value)
    size = 2 + Math.max(0, keys.length - 1)
    for (const key of keys) size += Buffer.byteLength(JSON.stringify(key)) + 1 + jsonSize((value as Record<string, unknown>)[key], sizes)
  }

  sizes.set(value, size)
  return size
}
