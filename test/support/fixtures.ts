import {readFileSync} from 'node:fs'

/** The golden fixtures produced by real Django (see test/fixtures/DJANGO-FIXTURES.md). */
export interface DjangoFixtures {
  cases: DjangoCase[]
  salt: string
  secretKey: string
}

export interface DjangoCase {
  expect: {
    data: null | Record<string, unknown>
    decodable: boolean
    signatureValid?: boolean
    userId: null | string
  }
  family: 'django-cache' | 'django-signed'
  name: string
  note: string
  redisKey?: string
  sessionData?: string
  valueBase64?: string
}

export function djangoFixtures(): DjangoFixtures {
  return JSON.parse(readFileSync(new URL('../fixtures/django.json', import.meta.url), 'utf8')) as DjangoFixtures
}

/** The raw stored bytes of a case. */
export function caseValue(c: DjangoCase): Buffer {
  return c.valueBase64 === undefined ? Buffer.from(c.sessionData ?? '', 'latin1') : Buffer.from(c.valueBase64, 'base64')
}

/** Deep copy into plain objects (decoders may build null-prototype dicts) for deepEqual. */
export function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(v => plain(v))
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
  }

  return value
}
