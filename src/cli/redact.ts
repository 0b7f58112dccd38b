/**
 * Every line the tool prints passes through `redact()`: passwords from URLs, `--secret-key`
 * values and other registered secrets are replaced even if a driver error or a stack trace
 * carries them. Registration happens as soon as a secret is parsed.
 *
 * A secret is masked where it appears as a credential, not as a substring of every word: a weak
 * password "session" must not turn "sessions" into "****s" in a warning or the audit line. So:
 * the password part of any URL (`scheme://user:****@`, registered or not, any length); a
 * registered secret after a credential word (`password=…`, `auth …`, `secret_key: …`), any
 * length; and a registered secret of MIN_TOKEN_LENGTH or more as a whole token, i.e. not glued
 * to letters, digits or `_` on a side where it starts or ends with one. Drivers pass credentials
 * as options, never in messages (MySQL says "using password: YES", Redis "WRONGPASS invalid
 * username-password pair" and "AUTH <password> called without…" with that literal placeholder),
 * so a token is where a secret could still show up: in a URL we did not parse, in a stack.
 */
import {UsageError} from '../errors.js'

/** Shorter secrets would mask ordinary words as tokens; they are still masked in URLs and after credential words. */
const MIN_TOKEN_LENGTH = 4
const WORD = String.raw`[\p{L}\p{M}\p{N}_]`
const CREDENTIAL_WORD = String.raw`\b(?:auth|pass(?:word|wd)?|pwd|requirepass|secret(?:[_-]?key)?)\b["']?(?:\s*[:=]\s*|\s+)["']?`

/** Each registered secret (and its URL-encoded form) with the patterns that find it, longest first. */
let secrets: Array<{credential: RegExp; token: RegExp | undefined; value: string}> = []

export function registerSecret(secret: string | undefined): void {
  if (!secret) return
  for (const value of new Set([encodeURIComponent(secret), secret])) {
    if (secrets.some(s => s.value === value)) continue
    // Only syntax characters: with the u flag, escaping anything else is an error.
    const escaped = value.replaceAll(/[$()*+./?[\\\]^{|}]/g, String.raw`\$&`)
    const before = new RegExp(WORD, 'u').test(value[0]) ? `(?<!${WORD})` : ''
    const after = new RegExp(WORD, 'u').test(value.at(-1)!) ? `(?!${WORD})` : ''
    secrets.push({
      credential: new RegExp(`(${CREDENTIAL_WORD})${escaped}${after}`, 'giu'),
      token: value.length >= MIN_TOKEN_LENGTH ? new RegExp(`${before}${escaped}${after}`, 'gu') : undefined,
      value,
    })
  }

  // Longest first: a secret that contains a shorter one is masked whole.
  secrets = secrets.sort((a, b) => b.value.length - a.value.length)
}

export function redact(text: string): string {
  // The password of a URL, whatever it is: up to the last '@' before a space or '/'
  // (typed unencoded, a password may hold '@').
  let out = text.replaceAll(/([a-z][\w+.-]*:\/\/[^/\s:@]*:)[^\s/]*@/gi, '$1****@')
  // Credential shapes first: a secret that is also a credential word ("password") masked as a
  // token would hide the context of a short one after it.
  for (const secret of secrets) {
    if (out.includes(secret.value)) out = out.replaceAll(secret.credential, '$1****')
  }

  for (const secret of secrets) {
    if (secret.token && out.includes(secret.value)) out = out.replaceAll(secret.token, '****')
  }

  return out
}

const SCHEME = /^[a-z][\d+.a-z-]*:\/\//i

/**
 * Registers, as early as possible and liberally, whatever may be the password of a store URL:
 * the text after the first ':' of the user info, for user info ending at the first and at the
 * last '@' (a password typed unencoded may hold '@', '/', '#'...). Every line printed is then
 * redacted even when the URL cannot be parsed.
 */
export function registerUrlSecrets(raw: string): void {
  const scheme = SCHEME.exec(raw)
  if (!scheme) return
  const rest = raw.slice(scheme[0].length)
  for (const at of new Set([rest.indexOf('@'), rest.lastIndexOf('@')])) {
    if (at < 0) continue
    const info = rest.slice(0, at)
    const colon = info.indexOf(':')
    if (colon === -1) continue
    const password = info.slice(colon + 1)
    registerSecret(password)
    registerSecret(decodeURIComponentSafe(password))
  }
}

/**
 * Refuses a store URL whose password was typed without percent-encoding: then part of it lands
 * in the host, the path or the query, where error messages would show it. Passwords are
 * registered first, so even this message cannot show them.
 */
export function checkUrlCredentials(raw: string): void {
  registerUrlSecrets(raw)
  const scheme = SCHEME.exec(raw)
  if (!scheme) return
  const rest = raw.slice(scheme[0].length)
  const end = rest.search(/[#/?]/)
  const authority = end === -1 ? rest : rest.slice(0, end)
  if (end !== -1 && !authority.includes('@') && rest.slice(end).includes('@')) {
    const shown = `${scheme[0]}****@${rest.slice(rest.lastIndexOf('@') + 1)}`
    throw new UsageError(`the store URL "${shown}" has an "@" after its host: percent-encode the user and password (/ as %2F, ? as %3F, # as %23, @ as %40, : as %3A)`)
  }

  // A bad %-escape in the user info: named, never shown (the driver's "URI malformed" was exit 1).
  const at = authority.lastIndexOf('@')
  if (at === -1) return
  const info = authority.slice(0, at)
  const colon = info.indexOf(':')
  for (const [part, text] of [['user', colon === -1 ? info : info.slice(0, colon)], ['password', colon === -1 ? '' : info.slice(colon + 1)]]) {
    let ok = !/%(?![\da-f]{2})/i.test(text)
    try {
      if (ok) decodeURIComponent(text)
    } catch {
      ok = false
    }

    if (!ok) {
      throw new UsageError(`the ${part} in the store URL "${scheme[0]}****@${authority.slice(at + 1)}" is not valid percent-encoding: write a literal % as %25, and percent-encode the rest as UTF-8`)
    }
  }
}

/** The URL as it may be shown: the password replaced, everything else intact. */
export function safeUrl(raw: string): string {
  registerUrlSecrets(raw)
  try {
    const url = new URL(raw)
    if (url.password) url.password = '****'
    return redact(decodeURIComponentSafe(url.toString()))
  } catch {
    // Unparseable: hide everything up to the last '@' after the user name.
    return redact(raw.replace(/^([a-z][\d+.a-z-]*:\/\/[^:@/]*:).*@/i, '$1****@'))
  }
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURI(s)
  } catch {
    return s
  }
}
