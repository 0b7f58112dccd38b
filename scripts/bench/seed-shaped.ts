/**
 * Production-shaped Django sessions for the benchmark: what a shop's django.contrib.sessions holds,
 * not a uniform toy. Deterministic for a given index (its own PRNG stream), so the benchmark
 * recomputes from the index alone whose each session is (its ground truth).
 *
 * Per row: 1 in 5 expired, 1 in 10 anonymous. Content, as sites put it in request.session:
 * a cart of 5-40 items in about a third (before or after login), flash messages in about 15%
 * (django.contrib.messages' SessionStorage keeps them as a JSON *string*, so the stored JSON is
 * full of backslash escapes), a session CSRF token in 30% (CSRF_USE_SESSIONS), preferences and
 * recently viewed product ids in 20%, form-wizard state of 3-8 KB in 2% (the tail), set_expiry in
 * 10%. `_auth_user_id` is first when the visitor logged in before anything else was stored, after
 * the cart otherwise (login keeps the session's data); the auth hash is 64 hex (Django ≥ 3.1) or
 * 40 (sha1 sites). Stored values: p50 about 200 B, p90 about 800 B, a tail of several KB (the
 * benchmark prints the figures it seeded). Product ids, prices, hashes and tokens hold every
 * short number many times over, so a 2-digit user id occurs as text in a large share of rows
 * that are not that user's.
 *
 * User ids are 1 + (i × 7919 mod 299,993): about 3 sessions per user; a heavy account (a bot,
 * id 1000) holds every 2,000th row, 500 sessions.
 */
import {createHash} from 'node:crypto'

import {encodeSigned} from '../../test/support/django-encode.js'
import {Rng} from '../../test/support/rng.js'

/** Bump when the generated data changes: the benchmark then reseeds. */
export const SHAPED_VERSION = 1
export const SHAPED_SECRET = 'bench-secret-key-not-for-production'
const USERS = 299_993
const HEAVY_USER = '1000'
const DAY_S = 86_400
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'
const WORDS = ['blue', 'cotton', 'shirt', 'large', 'organic', 'coffee', 'beans', 'steel', 'bottle', 'wool', 'socks', 'lamp', 'desk', 'cable', 'gift', 'card']
const MESSAGES = ['Your order was placed.', 'Item added to your cart.', 'Welcome back, "friend"!', 'Password changed.', 'Coupon “SPRING” applied.']

export function shapedKey(i: number): string {
  const digest = createHash('sha256').update(`shaped-${i}`).digest()
  let key = ''
  for (let j = 0; j < 32; j++) key += ALPHABET[digest[j] % ALPHABET.length]
  return key
}

export function shapedExpired(i: number): boolean {
  return i % 5 === 0
}

/** null: anonymous. Cheap (no PRNG), for the ground truth over a million rows. */
export function shapedUserId(i: number): null | string {
  if (i % 10 === 3) return null
  if (i % 2000 === 1999) return HEAVY_USER
  return String(1 + ((i * 7919) % USERS))
}

function token(rng: Rng, n: number): string {
  let out = ''
  for (let j = 0; j < n; j++) out += ALPHABET[rng.int(ALPHABET.length)]
  return out
}

function cart(rng: Rng): Array<Record<string, unknown>> {
  const items = []
  for (let n = 5 + rng.int(36); n > 0; n--) {
    const product = 1 + rng.int(99_999)
    items.push(rng.chance(0.5)
      ? {price: `${rng.int(200)}.${String(rng.int(100)).padStart(2, '0')}`, product_id: product, qty: 1 + rng.int(4)}
      : {name: `${rng.pick(WORDS)} ${rng.pick(WORDS)}`, qty: 1 + rng.int(4), sku: `SKU-${product}`})
  }

  return items
}

/** Row i's session dict, keys in the order the site's code set them. */
export function shapedSession(i: number): Record<string, unknown> {
  const rng = new Rng(0x5E_55_10_4E, i)
  const userId = shapedUserId(i)
  const s: Record<string, unknown> = {}
  const hasCart = rng.chance(0.3)
  const loginFirst = rng.chance(0.6)
  const login = (): void => {
    if (userId === null) return
    s._auth_user_id = userId
    s._auth_user_backend = rng.chance(0.8) ? 'django.contrib.auth.backends.ModelBackend' : 'allauth.account.auth_backends.AuthenticationBackend'
    s._auth_user_hash = createHash(rng.chance(0.7) ? 'sha256' : 'sha1').update(`pw-${userId}-${i % 3}`).digest('hex')
  }

  if (loginFirst) login()
  if (rng.chance(0.3)) s._csrftoken = token(rng, 64)
  if (hasCart) s.cart = {coupon: rng.chance(0.2) ? `SAVE${rng.int(50)}` : null, items: cart(rng), updated: 1_700_000_000 + rng.int(30_000_000)}
  if (!loginFirst) login()
  if (rng.chance(0.15)) {
    const messages = Array.from({length: 1 + rng.int(3)}, () => ['__json_message', 0, 20 + (10 * rng.int(3)), rng.pick(MESSAGES)])
    s._messages = JSON.stringify(messages)
  }

  if (rng.chance(0.2)) {
    s.prefs = {
      currency: rng.pick(['EUR', 'USD', 'GBP']), recently_viewed: Array.from({length: rng.int(12)}, () => 1 + rng.int(99_999)), theme: rng.pick(['light', 'dark']), tz: rng.pick(['Europe/Berlin', 'America/New_York', 'Asia/Tokyo']),
    }
  }

  if (rng.chance(0.02)) {
    // A form wizard's stored steps: free text and uploads' metadata, barely compressible.
    const steps: Record<string, string> = {}
    for (let n = 3 + rng.int(6); n > 0; n--) {
      steps[`step_${n}`] = Array.from({length: 8}, (_, k) => createHash('sha512').update(`${i}-${n}-${k}`).digest('base64')).join(' ')
    }

    s.wizard_checkout = {extra_data: {}, step: 'payment', step_data: steps}
  }

  if (rng.chance(0.1)) s._session_expiry = 1_209_600
  if (Object.keys(s).length === 0) s.django_language = rng.pick(['en', 'de', 'fr'])
  return s
}

export interface ShapedRow {
  data: string
  /** ms since the epoch */
  expires: number
  key: string
}

export function shapedRow(i: number, now: number): ShapedRow {
  const expires = now + (shapedExpired(i) ? -(((i % DAY_S) + 60) * 1000) : ((((i % 14) + 1) * DAY_S) + (i % 3600)) * 1000)
  return {
    data: encodeSigned(shapedSession(i), {secretKey: SHAPED_SECRET, timestamp: Math.floor(now / 1000) - (i % DAY_S)}),
    expires,
    key: shapedKey(i),
  }
}

export interface ShapedUser {
  /** why the benchmark looks for this one */
  kind: string
  userId: string
  live: string[]
  expired: string[]
}

/**
 * The users the scan benchmark looks for: a 2-digit id (42), a long one (the first 6-digit id
 * from 234,567 up with a live and an expired session) and the heavy account; keys from the generator.
 */
export function shapedUsers(rows: number): ShapedUser[] {
  const counts = new Map<string, {expired: number; live: number}>()
  for (let i = 0; i < rows; i++) {
    const id = shapedUserId(i)
    if (id === null) continue
    const c = counts.get(id) ?? {expired: 0, live: 0}
    if (shapedExpired(i)) c.expired++
    else c.live++
    counts.set(id, c)
  }

  let long = '234567'
  for (let n = 234_567; n < USERS; n++) {
    const c = counts.get(String(n))
    if (c && c.live >= 2 && c.expired >= 1) {
      long = String(n)
      break
    }
  }

  const users: ShapedUser[] = [
    {
      expired: [], kind: '2-digit id', live: [], userId: '42',
    },
    {
      expired: [], kind: '6-digit id', live: [], userId: long,
    },
    {
      expired: [], kind: 'heavy account', live: [], userId: HEAVY_USER,
    },
  ]
  const byId = new Map(users.map(u => [u.userId, u]))
  for (let i = 0; i < rows; i++) {
    const user = byId.get(shapedUserId(i) ?? '')
    if (user) (shapedExpired(i) ? user.expired : user.live).push(shapedKey(i))
  }

  return users
}
