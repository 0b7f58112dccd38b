/**
 * Store URLs, parsed strictly: every part has one meaning, and what could mean two things (an
 * empty host from an unset variable, a port 0, a second '@', a bad %-escape) is refused with
 * one line, before any connection. WHATWG `URL` is too forgiving for this: it turns
 * `mysql:///app` into a URL without a host, `:0` into a default port and `%ZZ` into an
 * exception whose message names nothing.
 *
 * Messages never show the user info: `safeUrl` masks the password, and a part that fails to
 * decode is named ("the password"), never printed.
 */
import {readFileSync, statSync} from 'node:fs'
import {isIPv6} from 'node:net'

import {checkUrlCredentials, safeUrl} from '../cli/redact.js'
import {UsageError} from '../errors.js'

export interface UrlHost {
  host: string
  /** Undefined when the URL gives none (the adapter's default applies). */
  port: number | undefined
}

export interface StoreUrl {
  /** Lower-case, without "://" (schemes are case-insensitive, RFC 3986 §3.1). */
  scheme: string
  /** Undefined when the URL has no user info or an empty user (`redis://:password@…`). */
  user: string | undefined
  password: string | undefined
  /** Empty when the authority names no host (`mysql:///app`): each adapter decides. */
  hosts: UrlHost[]
  /** Path segments after the authority, still percent-encoded; undefined when there is no path. */
  segments: string[] | undefined
  /** Query options, percent-decoded ('+' stays '+'). */
  params: Map<string, string>
  /** The URL as it may be shown (password masked). */
  shown: string
}

/** `value`: the option takes a non-empty value; `flag`: it takes none (or `true`). */
export type ParamKind = 'flag' | 'value'

const SCHEME = /^([a-z][\d+.a-z-]*):\/\//i
// RFC 1123 host names, plus '_' (container and compose service names use it).
const HOST_NAME = /^[\da-z](?:[\w.-]*[\da-z])?$/i
const PORT = /^[1-9]\d{0,4}$/

export function parseStoreUrl(raw: string, allowed: Readonly<Record<string, ParamKind>>): StoreUrl {
  checkUrlCredentials(raw)
  const shown = safeUrl(raw)
  const fail = (why: string): never => {
    throw new UsageError(`invalid store URL ${JSON.stringify(shown)}: ${why}`)
  }

  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001F\u007F]/.test(raw)) fail('it contains whitespace or a control character (a stray newline or space from a variable?)')
  const scheme = SCHEME.exec(raw)
  if (!scheme) fail('expected scheme://host…')
  let rest = raw.slice(scheme![0].length)
  if (rest.includes('#')) fail('a "#" has no meaning in a store URL: percent-encode it as %23 where it is part of a name')
  let query: string | undefined
  const q = rest.indexOf('?')
  if (q !== -1) {
    query = rest.slice(q + 1)
    rest = rest.slice(0, q)
  }

  const slash = rest.indexOf('/')
  const authority = slash === -1 ? rest : rest.slice(0, slash)
  const segments = slash === -1 ? undefined : rest.slice(slash + 1).split('/')
  const at = authority.lastIndexOf('@')
  let user: string | undefined
  let password: string | undefined
  if (at !== -1) {
    const info = authority.slice(0, at)
    if (info.includes('@')) fail('the user info holds an unencoded "@": percent-encode the user and password (@ as %40)')
    if (info === '') fail('nothing before "@": give user:password@, or drop the "@"')
    const colon = info.indexOf(':')
    const userText = colon === -1 ? info : info.slice(0, colon)
    const passwordText = colon === -1 ? undefined : info.slice(colon + 1)
    if (passwordText === '') fail('the password after ":" is empty (an unset variable?): give it, or drop the ":"')
    user = userText === '' ? undefined : decodePart(userText, 'the user', shown)
    password = passwordText === undefined ? undefined : decodePart(passwordText, 'the password', shown)
  }

  const hostList = authority.slice(at + 1)
  const hosts = hostList === '' ? [] : hostList.split(',').map(h => parseHost(h, fail))
  const params = parseQuery(query, allowed, shown, fail)
  return {
    hosts, params, password, scheme: scheme![1].toLowerCase(), segments, shown, user,
  }
}

function parseHost(text: string, fail: (why: string) => never): UrlHost {
  if (text === '') fail('an empty host in the host list (an unset variable, or ",,"?)')
  let host: string
  let portText: string | undefined
  if (text.startsWith('[')) {
    const close = text.indexOf(']')
    host = text.slice(1, close)
    const after = close === -1 ? '' : text.slice(close + 1)
    if (close === -1 || !isIPv6(host) || (after !== '' && !after.startsWith(':'))) fail(`invalid IPv6 address "${text}": use [::1] or [::1]:PORT`)
    portText = after === '' ? undefined : after.slice(1)
  } else {
    const parts = text.split(':')
    if (parts.length > 2) fail(`invalid host "${text}": an IPv6 address goes in brackets, e.g. [::1]:PORT`)
    host = parts[0]
    portText = parts[1]
    if (host === '') fail(`no host before ":${portText}" (an unset variable?)`)
    if (!HOST_NAME.test(host)) fail(`invalid host "${host}": use a host name or an IP address`)
  }

  if (portText === undefined) return {host, port: undefined}
  if (portText === '') fail(`no port after "${host}:" (an unset variable?): give the port or drop the ":"`)
  const port = Number(portText)
  if (!PORT.test(portText) || port > 65_535) fail(`invalid port "${portText}": use a number from 1 to 65535`)
  return {host, port}
}

function parseQuery(
  query: string | undefined,
  allowed: Readonly<Record<string, ParamKind>>,
  shown: string,
  fail: (why: string) => never,
): Map<string, string> {
  const params = new Map<string, string>()
  if (query === undefined) return params
  const names = Object.keys(allowed)
  const supported = names.length === 0 ? 'this kind of store takes none' : `supported are ${names.join(', ')}`
  if (query === '') fail(`nothing after "?": drop it, or give an option (${supported})`)
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=')
    const name = eq === -1 ? pair : pair.slice(0, eq)
    const text = eq === -1 ? undefined : pair.slice(eq + 1)
    const kind = Object.hasOwn(allowed, name) ? allowed[name] : undefined
    if (kind === undefined) fail(`unknown option "${name}": ${supported}`)
    if (params.has(name)) fail(`the option "${name}" is given twice`)
    const value = text === undefined ? '' : decodePart(text, `the option "${name}"`, shown)
    if (kind === 'value' && value === '') fail(`the option "${name}" has no value (an unset variable?)`)
    if (kind === 'flag' && value !== '' && value !== 'true') fail(`the option "${name}" takes no value (write ?${name})`)
    params.set(name, value)
  }

  return params
}

/**
 * Percent-decodes one part of the URL (RFC 3986: '+' is a plus). A malformed escape or bytes
 * that are not UTF-8 are a usage error naming the part, never showing it: it may be a password.
 */
export function decodePart(text: string, part: string, shown: string): string {
  const bad = (why: string): never => {
    throw new UsageError(`${part} in ${JSON.stringify(shown)} ${why}: write a literal % as %25, and percent-encode the rest as UTF-8`)
  }

  if (/%(?![\da-f]{2})/i.test(text)) bad('has a "%" not followed by two hex digits')
  try {
    return decodeURIComponent(text)
  } catch {
    return bad('decodes to bytes that are not UTF-8')
  }
}

/** The database number of a Redis URL path segment: digits only, no sign, no leading zero. */
export function databaseNumber(text: string, shown: string): number {
  if (text === '') {
    throw new UsageError(`invalid store URL ${JSON.stringify(shown)}: no database number after "/" (an unset variable?): write /0, or drop the "/"`)
  }

  if (!/^(?:0|[1-9]\d{0,4})$/.test(text)) {
    throw new UsageError(`invalid store URL ${JSON.stringify(shown)}: invalid database "${text}": use a plain number, e.g. /0 or /3`)
  }

  return Number(text)
}

const MAX_CA_BYTES = 1024 * 1024

/**
 * A CA file's PEM text, for a TLS option naming the file (`ssl-ca=`, `tls-ca=`). Refused when it
 * is not a readable regular file (a FIFO would block) or holds no certificate: a path passed as
 * if it were PEM would fail every verification, and the operator would turn verification off.
 */
export function readCaFile(path: string, option: string): Buffer {
  const cannot = (why: string): never => {
    throw new UsageError(`cannot read the CA file ${JSON.stringify(path)} given in ${option}: ${why}`)
  }

  let pem: Buffer
  try {
    // stat, not open: opening a FIFO would block.
    const stat = statSync(path, {throwIfNoEntry: false}) ?? cannot('no such file')
    if (!stat.isFile()) cannot('not a regular file')
    if (stat.size > MAX_CA_BYTES) cannot('larger than 1 MB')
    pem = readFileSync(path)
  } catch (error) {
    if (error instanceof UsageError) throw error
    return cannot(((error as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied' : (error as NodeJS.ErrnoException).code) ?? 'unreadable')
  }

  if (!pem.includes('-----BEGIN CERTIFICATE-----')) cannot('it holds no PEM certificate ("-----BEGIN CERTIFICATE-----")')
  return pem
}
