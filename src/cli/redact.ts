/**
 * Every line the tool prints passes through `redact()`: passwords from URLs, `--secret-key`
 * values and other registered secrets are replaced even if a driver error or a stack trace
 * carries them. Registration happens as soon as a secret is parsed.
 */
import {UsageError} from '../errors.js'

const secrets = new Set<string>()

export function registerSecret(secret: string | undefined): void {
  // Very short values would redact ordinary words; they are still never printed by us on purpose.
  if (secret && secret.length >= 3) secrets.add(secret)
  if (secret && secret.length >= 3) {
    const encoded = encodeURIComponent(secret)
    if (encoded !== secret) secrets.add(encoded)
  }
}

export function redact(text: string): string {
  let out = text
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join('****')
  }

  // Belt and braces: a URL with inline credentials that we never parsed ourselves.
  return out.replaceAll(/([a-z][\w+.-]*:\/\/[^/\s:@]*:)[^@\s/]+@/gi, '$1****@')
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
