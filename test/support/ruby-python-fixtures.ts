import {readFileSync} from 'node:fs'

/**
 * The golden fixtures written by real Rails 6.1 and Flask-Session 0.3.2 (see
 * test/fixtures/MORE-FIXTURES.md): rails.json and flask.json, typed.
 */
export interface RailsCase {
  /** activerecord-session_store: the row's times (ISO-8601 UTC). */
  createdAt?: string
  /** activerecord-session_store: the `data` column text (Base64 of the Marshal dump, or JSON). */
  data?: string
  expect: {
    compressed?: boolean
    data: null | Record<string, unknown>
    decodable: boolean
    entryCreatedAt?: number
    entryExpiresIn?: number
    expired?: boolean
    expiredWithLifetimeMinutes1440?: boolean
    userId: null | string
  }
  family: 'rails-activerecord' | 'rails-cache-redis'
  name: string
  note: string
  publicId?: string
  redisKey?: string
  sessionId?: string
  updatedAt?: string
  /** Rails' cache store: the Redis value (a marshalled ActiveSupport::Cache::Entry). */
  valueBase64?: string
}

export interface FlaskCase {
  expect: {
    cartFirst?: Record<string, unknown>
    cartLength?: number
    data: null | Record<string, unknown>
    dataKeys?: string[]
    decodable: boolean
    expired: boolean
    permanent: boolean
    userId: null | string
  }
  expiry?: null | string
  family: 'flask-redis' | 'flask-sqlalchemy'
  name: string
  note: string
  redisKey?: string
  sessionId?: string
  ttlSeconds?: number
  valueBase64: string
}

export function railsFixtures(): {cases: RailsCase[]} {
  return JSON.parse(readFileSync(new URL('../fixtures/rails.json', import.meta.url), 'utf8')) as {cases: RailsCase[]}
}

export function flaskFixtures(): {cases: FlaskCase[]} {
  return JSON.parse(readFileSync(new URL('../fixtures/flask.json', import.meta.url), 'utf8')) as {cases: FlaskCase[]}
}

/** The stored bytes of a Rails case: the Redis value, or the decoded Base64 of a Marshal `data` column (undefined for JSON). */
export function railsStored(c: RailsCase): Buffer | undefined {
  if (c.valueBase64 !== undefined) return Buffer.from(c.valueBase64, 'base64')
  // Base64.encode64 output: newlines every 60 characters, which Node's decoder skips.
  return c.data?.startsWith('BAh') ? Buffer.from(c.data, 'base64') : undefined
}

/** Deep copy into plain objects (readers build null-prototype maps) for deepEqual; bytes and bigints stay. */
export function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(v => plain(v))
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
  }

  return value
}
