/**
 * Every line the tool prints passes through `redact()`: passwords from URLs, `--secret-key`
 * values and other registered secrets are replaced even if a driver error or a stack trace
 * carries them. Registration happens as soon as a secret is parsed.
 */
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

/** The URL as it may be shown: the password replaced, everything else intact. */
export function safeUrl(raw: string): string {
  try {
    const url = new URL(raw)
    if (url.password) url.password = '****'
    return decodeURIComponentSafe(url.toString())
  } catch {
    return redact(raw)
  }
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURI(s)
  } catch {
    return s
  }
}
