/**
 * Realistic Django sessions for the benchmark: what `django.contrib.sessions` writes for a site
 * where most visitors log in. Deterministic for a given index, so every run seeds the same data.
 */
import {createHash} from 'node:crypto'

import {encodeSigned} from '../../test/support/django-encode.js'
import {utcDatetime} from '../../test/support/mysql.js'

export const BENCH_SECRET = 'bench-secret-key-not-for-production'
export const USERS = 200_000

export interface SeedRow {
  key: string
  data: string
  expireDate: string
  userId: null | string
  expired: boolean
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'

function sessionKey(i: number): string {
  const digest = createHash('sha256').update(`session-${i}`).digest()
  let key = ''
  for (let j = 0; j < 32; j++) key += ALPHABET[digest[j] % ALPHABET.length]
  return key
}

/**
 * Row i: 1 in 5 expired; 1 in 10 anonymous (small, stored uncompressed, as Django does); the
 * rest logged in (compressed), some with a cart. Users spread so each has about 5 sessions.
 */
export function seedRow(i: number, now: number): SeedRow {
  const expired = i % 5 === 0
  const expires = now + (expired ? -(((i % 86_400) + 60) * 1000) : (((i % 14) + 1) * 86_400_000) + ((i % 3600) * 1000))
  const anonymous = i % 10 === 3
  const userId = anonymous ? null : String(1 + ((i * 7919) % USERS))
  const session: Record<string, unknown> = anonymous
    ? {django_language: 'en', visits: i % 7}
    : {
      ...(i % 4 === 0 ? {cart: [{qty: 1 + (i % 3), sku: `SKU-${i % 997}`}]} : {}),
      _auth_user_backend: 'django.contrib.auth.backends.ModelBackend',
      _auth_user_hash: createHash('sha256').update(`pw-${userId}`).digest('hex'),
      _auth_user_id: userId,
    }

  return {
    data: encodeSigned(session, {secretKey: BENCH_SECRET, timestamp: Math.floor(now / 1000) - (i % 86_400)}),
    expired,
    expireDate: utcDatetime(new Date(expires)),
    key: sessionKey(i),
    userId,
  }
}
