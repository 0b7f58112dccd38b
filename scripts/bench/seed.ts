/**
 * Realistic Django sessions for the benchmark: what `django.contrib.sessions` writes for a site
 * where most visitors log in. Deterministic for a given index, so every run seeds the same data,
 * and the benchmark recomputes from the index alone which sessions belong to whom (its ground truth).
 */
import {createHash} from 'node:crypto'

import {encodeSigned} from '../../test/support/django-encode.js'
import {utcDatetime} from '../../test/support/mysql.js'

/** Bump when the seeded data changes: the benchmark then reseeds its MariaDB and Redis. */
export const SEED_VERSION = 2
export const BENCH_SECRET = 'bench-secret-key-not-for-production'
/**
 * User ids are 1 + (i × 7919 mod USERS): with 1M rows a user has about 5 sessions, rows i, i + USERS,
 * i + 2·USERS… As USERS ≡ −1 (mod 10), those rows fall on five consecutive residues of i mod 5 and
 * mod 10, so every user has exactly one expired session (i mod 5 = 0) and the rest live, some
 * anonymous rows aside (i mod 10 = 3). (With 200,000 each user's sessions were all live or all expired.)
 */
export const USERS = 199_999
const DAY_S = 86_400

export interface SeedRow {
  key: string
  data: string
  expireDate: string
  userId: null | string
  expired: boolean
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'

export function sessionKey(i: number): string {
  const digest = createHash('sha256').update(`session-${i}`).digest()
  let key = ''
  for (let j = 0; j < 32; j++) key += ALPHABET[digest[j] % ALPHABET.length]
  return key
}

/** 1 in 5 expired (as seeded: its expiry moves with the table's dates, so it stays expired). */
export function seedExpired(i: number): boolean {
  return i % 5 === 0
}

/** 1 in 10 anonymous (null); the rest logged in. Cheap: no hashing, no encoding. */
export function seedUserId(i: number): null | string {
  return i % 10 === 3 ? null : String(1 + ((i * 7919) % USERS))
}

/** Row i's session dict, as the site's code put it in request.session. */
export function seedSession(i: number): Record<string, unknown> {
  const userId = seedUserId(i)
  if (userId === null) return {django_language: 'en', visits: i % 7}
  return {
    ...(i % 4 === 0 ? {cart: [{qty: 1 + (i % 3), sku: `SKU-${i % 997}`}]} : {}),
    _auth_user_backend: 'django.contrib.auth.backends.ModelBackend',
    _auth_user_hash: createHash('sha256').update(`pw-${userId}`).digest('hex'),
    _auth_user_id: userId,
  }
}

/** A cache session's TTL: 1 to 14 days, like the live rows' expiry (a cache holds no expired session). */
export function cacheTtlSeconds(i: number): number {
  return (((i % 14) + 1) * DAY_S) + (i % 3600)
}

/**
 * Row i: 1 in 5 expired; 1 in 10 anonymous (small, stored uncompressed, as Django does); the
 * rest logged in (compressed), some with a cart.
 */
export function seedRow(i: number, now: number): SeedRow {
  const expired = seedExpired(i)
  const expires = now + (expired ? -(((i % DAY_S) + 60) * 1000) : cacheTtlSeconds(i) * 1000)
  return {
    data: encodeSigned(seedSession(i), {secretKey: BENCH_SECRET, timestamp: Math.floor(now / 1000) - (i % DAY_S)}),
    expired,
    expireDate: utcDatetime(new Date(expires)),
    key: sessionKey(i),
    userId: seedUserId(i),
  }
}

export interface BenchUser {
  userId: string
  /** session keys of the user's rows, live and expired as seeded */
  live: string[]
  expired: string[]
}

/**
 * The user the scan benchmark looks for: the first, from row 123,457 on, with at least three live
 * sessions and an expired one (so list and purge --dry-run differ), else the one with most
 * sessions. Its keys come from the generator, not from any store.
 */
export function benchUser(rows: number): BenchUser {
  const live = new Uint8Array(USERS + 1)
  const expired = new Uint8Array(USERS + 1)
  for (let i = 0; i < rows; i++) {
    const id = seedUserId(i)
    if (id === null) continue
    if (seedExpired(i)) expired[Number(id)]++
    else live[Number(id)]++
  }

  let best = -1
  for (let n = 0; n < rows; n++) {
    const id = seedUserId((123_457 + n) % rows)
    if (id === null) continue
    const u = Number(id)
    if (live[u] >= 3 && expired[u] >= 1) {
      best = u
      break
    }

    if (best === -1 || live[u] + expired[u] > live[best] + expired[best]) best = u
  }

  const user: BenchUser = {expired: [], live: [], userId: String(best)}
  for (let i = 0; i < rows; i++) {
    if (seedUserId(i) === user.userId) (seedExpired(i) ? user.expired : user.live).push(sessionKey(i))
  }

  return user
}
