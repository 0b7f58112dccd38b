import {readFileSync} from 'node:fs'

/** The golden fixtures written by real Illuminate 8.83 / PHP 8.2 / phpredis 5.3.7 (see test/fixtures/PHP-FIXTURES.md). */
export interface PhpFixtures {
  appKey: string
  cases: PhpCase[]
  cipher: string
  fixtureNow: number
  laravelRedisPrefix: string
  lifetimeMinutes: number
  loginKey: string
  oldAppKey: string
  phpredisPrefix: string
}

export interface PhpCase {
  expect: {
    cipher?: string
    column?: null | string
    data?: unknown
    decodable: boolean
    decodableWithOldAppKey?: boolean
    expired?: boolean
    expiresAt?: number
    isSession?: boolean
    lastActivity?: number
    lockOf?: string
    plaintext?: string
    serializeHandler?: 'igbinary' | 'php' | 'php_binary' | 'php_serialize'
    ttl?: number
    userId: null | string
    userIdType?: 'int' | 'string' | null
    userPath?: string
  }
  family: 'laravel-db' | 'laravel-db-encrypted' | 'laravel-redis' | 'php-native'
  name: string
  note: string
  redisKey?: string
  row?: Record<string, null | string>
  valueBase64: string
}

export function phpFixtures(): PhpFixtures {
  return JSON.parse(readFileSync(new URL('../fixtures/php.json', import.meta.url), 'utf8')) as PhpFixtures
}

/** The exact stored bytes of a case (for a database case, the `payload` column: base64 text). */
export function storedBytes(c: PhpCase): Buffer {
  return Buffer.from(c.valueBase64, 'base64')
}

/**
 * A decoded value in the fixtures' JSON convention (PHP-FIXTURES.md): objects `{__class, props}`,
 * enums `{__enum: 'Class:Case'}`, `C:` objects `{__class, serialized}`, ints beyond 2^53 `{__int}`,
 * NaN and ±INF `{__float}`.
 */
export function fixtureJson(value: unknown): unknown {
  if (typeof value === 'bigint') return {__int: value.toString()}
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return {__float: 'NAN'}
    if (value === Number.POSITIVE_INFINITY) return {__float: 'INF'}
    if (value === Number.NEGATIVE_INFINITY) return {__float: '-INF'}
    return value
  }

  if (Array.isArray(value)) return value.map(v => fixtureJson(v))
  if (value instanceof Uint8Array) return {__bytes: Buffer.from(value).toString('base64')}
  if (value !== null && typeof value === 'object') {
    const {__class__: cls, ...rest} = value as Record<string, unknown>
    if (typeof cls === 'string') {
      if ('__enum__' in rest) return {__enum: `${cls}:${String(rest.__enum__)}`}
      if ('__serialized__' in rest) return {__class: cls, serialized: rest.__serialized__}
      return {__class: cls, props: fixtureJson(rest)}
    }

    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fixtureJson(v)]))
  }

  return value
}

/** True when every map in the value (not arrays) has a null prototype, and nothing is cyclic. */
export function wellFormed(value: unknown, seen = new Set<object>()): boolean {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return true
  if (seen.has(value)) return false
  seen.add(value)
  const ok = Array.isArray(value)
    ? value.every(v => wellFormed(v, seen))
    : Object.getPrototypeOf(value) === null && Object.values(value).every(v => wellFormed(v, seen))
  seen.delete(value)
  return ok
}
