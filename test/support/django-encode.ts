/**
 * Writes session_data the way Django does (signing.dumps / the pre-3.1 encode), so tests, the
 * demo and the benchmark can seed realistic stores without running Python. The decoder tests
 * check that this encoder reproduces the golden fixtures byte for byte.
 */
import {deflateSync} from 'node:zlib'

import {djangoLegacyHash, djangoSignature} from '../../src/formats/django-signing.js'
import {DJANGO_SESSION_SALT} from '../../src/frameworks/django.js'

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

export function base62(n: number): string {
  if (n === 0) return '0'
  let out = ''
  let rest = Math.floor(n)
  while (rest > 0) {
    out = B62[rest % 62] + out
    rest = Math.floor(rest / 62)
  }

  return out
}

/** `json.dumps(obj, separators=(',', ':'))` with Python's default ensure_ascii=True. */
export function pythonJson(value: unknown): string {
  return JSON.stringify(value).replaceAll(/[\u0080-\uFFFF]/g, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

export interface SignOptions {
  compress?: boolean
  salt?: string
  secretKey: string
  /** Unix seconds of the signature; defaults to now. */
  timestamp?: number
}

/** Django ≥ 3.1 `signing.dumps(session, salt, compress=True)` with the JSON serializer. */
export function encodeSigned(session: Record<string, unknown>, options: SignOptions): string {
  return signPayload(Buffer.from(pythonJson(session), 'latin1'), options)
}

/** The same framing around arbitrary serializer output (e.g. a pickle). */
export function signPayload(data: Buffer, options: SignOptions): string {
  const salt = options.salt ?? DJANGO_SESSION_SALT
  let payload = data
  let compressed = false
  if (options.compress ?? true) {
    const z = deflateSync(data)
    if (z.length < data.length - 1) {
      payload = z
      compressed = true
    }
  }

  const b64 = (compressed ? '.' : '') + payload.toString('base64url')
  const value = `${b64}:${base62(options.timestamp ?? Math.floor(Date.now() / 1000))}`
  return `${value}:${djangoSignature(value, options.secretKey, salt)}`
}

/** The pre-3.1 format: base64(hex(HMAC-SHA1) ":" JSON). */
export function encodeLegacy(session: Record<string, unknown>, options: {salt?: string; secretKey: string;}): string {
  const serialized = Buffer.from(pythonJson(session), 'latin1')
  const hash = djangoLegacyHash(serialized, options.secretKey, options.salt ?? DJANGO_SESSION_SALT)
  return Buffer.concat([Buffer.from(`${hash}:`), serialized]).toString('base64')
}
