import {
  closeSync, constants, fstatSync, lstatSync, openSync, readSync, type Stats, statSync,
} from 'node:fs'
import {join, resolve} from 'node:path'

import {UsageError} from '../errors.js'
import {registerSecret} from './redact.js'
import {warn} from './report.js'

/**
 * Profiles let operators name their stores once (`sessionctl.json`) and pass `--store prod`.
 * A profile is either one store with its settings, or a list of stores purged together
 * (a Django cached_db deployment keeps a row and a cache key for the same session).
 *
 * {
 *   "profiles": {
 *     "db":    {"store": "mysql://app@db:3306/app", "format": "django", "passwordEnv": "DB_PASSWORD"},
 *     "cache": {"store": "redis://cache:6379/1", "format": "django-cache"},
 *     "prod":  {"stores": ["db", "cache"]}
 *   }
 * }
 */
export interface StoreSettings {
  dataColumn?: string
  expiryColumn?: string
  expiryUnit?: string
  format?: string
  /** Laravel: the authentication guard whose login is the user (default web). */
  guard?: string
  keyColumn?: string
  /** The session lifetime in minutes (Laravel's SESSION_LIFETIME), as text. */
  lifetime?: string
  /** Rails (Devise/Warden): the scope whose login is the user (default user). */
  scope?: string
  prefix?: string
  salt?: string
  table?: string
  timeZone?: string
  userColumn?: string
  userPath?: string
}

/** One store to open: its URL (with any password filled in) and the settings that apply. */
export interface StoreSpec extends StoreSettings {
  /** The profile it came from, for messages. */
  profile?: string
  url: string
}

interface Profile extends StoreSettings {
  /** Append-only audit log of deleting runs that use this profile (see src/cli/audit.ts). */
  auditLog?: string
  passwordEnv?: string
  store?: string
  stores?: Array<Profile | string>
}

const SETTING_KEYS: Record<keyof StoreSettings, true> = {
  dataColumn: true,
  expiryColumn: true,
  expiryUnit: true,
  format: true,
  guard: true,
  keyColumn: true,
  lifetime: true,
  scope: true,
  prefix: true,
  salt: true,
  table: true,
  timeZone: true,
  userColumn: true,
  userPath: true,
}
const PROFILE_KEYS = new Set(['auditLog', 'passwordEnv', 'store', 'stores', ...Object.keys(SETTING_KEYS)])

export interface ConfigFile {
  path: string
  profiles: Record<string, Profile>
}

/** A config file is a few profiles: anything bigger is not one (e.g. --config /dev/zero or a log). */
export const MAX_CONFIG_BYTES = 1024 * 1024

/** Profiles nest (a list naming profiles naming lists): deeper than this is a mistake, not a layout. */
export const MAX_PROFILE_DEPTH = 16

/**
 * Finds the config file: --config, then $SESSIONCTL_CONFIG (both must exist), then
 * ./sessionctl.json, then <oclif config dir>/config.json (both optional). A candidate that is
 * there but cannot be read (a dangling symlink, no permission, a directory) is an error, not a
 * silent fallback to the next one.
 */
export function loadConfig(explicit: string | undefined, configDir: string): ConfigFile | undefined {
  const named = explicit ?? process.env.SESSIONCTL_CONFIG
  if (named) {
    const path = resolve(named)
    if (!present(path)) {
      throw new UsageError(`config file ${path} does not exist: pass an existing file to --config (or in $SESSIONCTL_CONFIG)`)
    }

    return readConfig(path)
  }

  for (const candidate of [resolve('sessionctl.json'), join(configDir, 'config.json')]) {
    if (present(candidate)) return readConfig(candidate)
  }

  return undefined
}

/**
 * There, even as a dangling symlink or behind a directory we may not search (existsSync says no
 * to both, and a silent fallback would hide the operator's file): only "no such file" is absent.
 */
function present(path: string): boolean {
  try {
    lstatSync(path)
    return true
  } catch (error) {
    const {code} = error as NodeJS.ErrnoException
    return code !== 'ENOENT' && code !== 'ENOTDIR'
  }
}

function readConfig(path: string): ConfigFile {
  const {stat, text} = readConfigText(path)
  let parsed: unknown
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, ''))
  } catch (error) {
    // Never the parser's excerpt of the file: it may be a secrets file given by mistake.
    throw new UsageError(`config file ${path} is not valid JSON${jsonErrorPlace(text, error)}: fix it, or pass another file to --config`)
  }

  if (!isObject(parsed) || !isObject(parsed.profiles)) {
    throw new UsageError(`config file ${path} must be a JSON object with a "profiles" object`)
  }

  for (const key of Object.keys(parsed)) {
    if (key !== 'profiles' && key !== '$schema') throw new UsageError(`config file ${path}: unknown top-level key ${shownKey(key)}`)
  }

  for (const [name, profile] of Object.entries(parsed.profiles)) checkProfile(path, name, profile, 1)
  const config = {path, profiles: parsed.profiles as Record<string, Profile>}
  if (permissions(stat.mode, 0o077) !== 0 && holdsPassword(config)) warnReadable(path, stat)
  return config
}

/**
 * The file's text, read without ever blocking: opened non-blocking (a FIFO with no writer would
 * block the open itself), then refused unless it is a regular file, and read up to
 * MAX_CONFIG_BYTES. Errors name the path and the errno, never the contents.
 */
function readConfigText(path: string): {stat: Stats; text: string} {
  let fd: number
  try {
    // eslint-disable-next-line no-bitwise -- open(2) flags
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
  } catch (error) {
    const {code} = (error as NodeJS.ErrnoException)
    // A Unix socket (or /dev/tty without a terminal) cannot be opened at all: ENXIO.
    if (code === 'ENXIO') throw notRegular(path, kindOf(path))
    throw cannotRead(path, code, code === 'ENOENT' ? 'a dangling symlink?' : undefined)
  }

  try {
    const stat = fstatSync(fd)
    if (!stat.isFile()) throw notRegular(path, fileKind(stat))
    if (stat.size > MAX_CONFIG_BYTES) throw tooBig(path)
    // Read to EOF but never past the cap: the size can lie (/proc files say 0, a file may grow).
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1)
    let length = 0
    for (;;) {
      let n: number
      try {
        n = readSync(fd, buffer, length, buffer.length - length, null)
      } catch (error) {
        throw cannotRead(path, (error as NodeJS.ErrnoException).code)
      }

      if (n === 0) break
      length += n
      if (length > MAX_CONFIG_BYTES) throw tooBig(path)
    }

    return {stat, text: buffer.toString('utf8', 0, length)}
  } finally {
    closeSync(fd)
  }
}

function kindOf(path: string): string {
  try {
    return fileKind(statSync(path))
  } catch {
    return 'a special file'
  }
}

function fileKind(stat: Stats): string {
  if (stat.isDirectory()) return 'a directory'
  if (stat.isFIFO()) return 'a FIFO'
  if (stat.isSocket()) return 'a socket'
  return 'a device'
}

function permissions(mode: number, mask: number): number {
  // eslint-disable-next-line no-bitwise -- permission bits
  return mode & mask
}

function cannotRead(path: string, code: string | undefined, hint?: string): UsageError {
  return new UsageError(`cannot read the config file ${path} (${code ?? 'unreadable'}${hint ? `, ${hint}` : ''}): fix it, or pass another file to --config`)
}

function notRegular(path: string, what: string): UsageError {
  return new UsageError(`config file ${path} is ${what}, not a regular file: pass a JSON file to --config`)
}

function tooBig(path: string): UsageError {
  return new UsageError(`config file ${path} is larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB: it cannot be a sessionctl config; pass the right file to --config`)
}

/** A key from the file, shown only if it looks like a setting name (a key could be a pasted secret). */
function shownKey(key: string): string {
  return /^[\w$.-]{1,40}$/.test(key) ? `"${key}"` : '(a key that is not a setting name)'
}

/** Whether a store URL in the file carries a password (passwordEnv is the way to avoid it). */
function holdsPassword(config: ConfigFile): boolean {
  const urls: string[] = []
  const collect = (profile: Profile): void => {
    if (profile.store !== undefined) urls.push(profile.store)
    for (const item of profile.stores ?? []) {
      if (typeof item === 'string') urls.push(item)
      else collect(item)
    }
  }

  for (const profile of Object.values(config.profiles)) collect(profile)
  return urls.some(url => /^[a-z][\d+.a-z-]*:\/\/[^/?#@]*:[^@]+@/is.test(url))
}

const warnedReadable = new Set<string>()

/** Said once per file per run (the config is read for the audit log and for the stores). */
function warnReadable(path: string, stat: Stats): void {
  const id = `${path}:${stat.ino}:${stat.mtimeMs}:${stat.mode}`
  if (warnedReadable.has(id)) return
  warnedReadable.add(id)
  const octal = permissions(stat.mode, 0o777).toString(8).padStart(4, '0')
  warn(`config file ${path} holds a store password and is accessible by group or others (mode ${octal}): chmod 600 it, or move the password out with "passwordEnv"`)
}

function checkProfile(path: string, name: string, profile: unknown, depth: number): void {
  const where = `config file ${path}, profile "${name}"`
  if (!isObject(profile)) throw new UsageError(`${where}: must be an object`)
  for (const [key, value] of Object.entries(profile)) {
    if (!PROFILE_KEYS.has(key)) throw new UsageError(`${where}: unknown setting ${shownKey(key)}`)
    if (key === 'stores') {
      if (!Array.isArray(value) || value.length === 0) throw new UsageError(`${where}: "stores" must be a non-empty list`)
      if (depth >= MAX_PROFILE_DEPTH && value.some(item => typeof item !== 'string')) {
        throw new UsageError(`${where}: "stores" lists are nested more than ${MAX_PROFILE_DEPTH} levels deep`)
      }

      for (const [i, item] of value.entries()) {
        if (typeof item !== 'string') checkProfile(path, `${name}.stores[${i}]`, item, depth + 1)
      }
    } else if (typeof value !== 'string') {
      throw new UsageError(`${where}: "${key}" must be a string`)
    } else if (key === 'auditLog' && value.trim() === '') {
      throw new UsageError(`${where}: "auditLog" must not be empty`)
    }
  }

  if (profile.store === undefined && profile.stores === undefined) {
    throw new UsageError(`${where}: needs "store" (a URL) or "stores" (a list)`)
  }

  if (profile.store !== undefined && profile.stores !== undefined) {
    throw new UsageError(`${where}: has both "store" and "stores"; use one`)
  }
}

const URL_LIKE = /^[a-z][\d+.a-z-]*:\/\//i

/**
 * Turns `--store` values (URLs or profile names) into the stores to open. Explicit flags
 * override profile settings; profiles fill in what flags leave out.
 */
/**
 * The stores named by --store values (URLs or profiles). `askPass`: the password will be asked for
 * on the terminal (--ask-pass), so a profile's passwordEnv is not read, and need not be set.
 */
export function resolveStores(values: readonly string[], config: ConfigFile | undefined, overrides: StoreSettings, options: {askPass?: boolean} = {}): StoreSpec[] {
  const specs: StoreSpec[] = []
  walkProfiles(values, config, {
    profile(profile, name) {
      if (profile.store !== undefined) {
        specs.push({
          ...pickSettings(profile), ...overrides, profile: name, url: options.askPass ? profile.store : withPassword(profile.store, profile.passwordEnv, name),
        })
      }
    },
    url(url, settings, name) {
      specs.push(name === undefined
        ? {...overrides, url}
        : {
          ...settings, ...overrides, profile: name, url,
        })
    },
  })
  return specs
}

/**
 * The `auditLog` settings of the profiles named in `values` and of every profile they list
 * (named or inline), in order, as written in the file. URLs bring none. The same walk as
 * resolveStores, so a profile layout it refuses is refused here too, before anything else.
 */
export function profileAuditLogs(values: readonly string[], config: ConfigFile): string[] {
  const out: string[] = []
  walkProfiles(values, config, {
    profile(profile) {
      if (profile.auditLog !== undefined) out.push(profile.auditLog)
    },
    url() {},
  })
  return out
}

interface ProfileVisitor {
  /** Every profile object reached, named or inline (inline ones carry their parent's settings). */
  profile(profile: Profile, name: string): void
  /** Every store URL reached: a --store value (no profile) or an item of a "stores" list. */
  url(url: string, settings: StoreSettings, profile?: string): void
}

/**
 * Walks what the --store values name, in order. Each named profile is expanded once: one reached
 * a second time would open its stores twice, which is refused (so fan-out such as a→[b,b],
 * b→[c,c]… stays linear instead of exponential), and so are cycles and nesting deeper than
 * MAX_PROFILE_DEPTH. Messages give the path: `profile a → b → c: …`.
 */
function walkProfiles(values: readonly string[], config: ConfigFile | undefined, visit: ProfileVisitor): void {
  const reached = new Map<string, string[]>()
  const shown = (trail: readonly string[]): string => trail.join(' → ')

  const named = (name: string, trail: readonly string[], depth: number): void => {
    if (!config) {
      throw new UsageError(`"${name}" is neither a store URL (mysql://…, redis://…) nor a profile: no config file found (--config, SESSIONCTL_CONFIG or ./sessionctl.json)`)
    }

    const profile = Object.hasOwn(config.profiles, name) ? config.profiles[name] : undefined
    const path = [...trail, name]
    if (!profile) {
      const known = Object.keys(config.profiles)
      const via = trail.length > 0 ? ` (listed by ${shown(trail)})` : ''
      throw new UsageError(`no profile "${name}" in ${config.path}${via}${known.length > 0 ? ` (profiles: ${known.join(', ')})` : ''}`)
    }

    if (trail.includes(name)) throw new UsageError(`profile "${name}" in ${config.path} includes itself (${shown(path)})`)
    const first = reached.get(name)
    if (first) {
      if (trail.length === 0 && first.length === 1) throw new UsageError(`profile "${name}" is given twice to --store: name each store once`)
      const again = shown(first) === shown(path) ? `"${trail.at(-1)}" lists "${name}" twice` : `"${name}" is already included by ${shown(first)}`
      throw new UsageError(`profile ${shown(path)}: ${again}, and its stores would be opened twice: list each profile once (in ${config.path})`)
    }

    reached.set(name, path)
    object(profile, name, path, depth + 1)
  }

  const object = (profile: Profile, name: string, path: readonly string[], depth: number): void => {
    if (depth > MAX_PROFILE_DEPTH) {
      throw new UsageError(`profile ${shown(path)}: profiles are nested more than ${MAX_PROFILE_DEPTH} levels deep (in ${config!.path})`)
    }

    visit.profile(profile, name)
    const inherited = pickSettings(profile)
    for (const item of profile.stores ?? []) {
      if (typeof item !== 'string') object({...inherited, ...item}, name, path, depth + 1)
      else if (URL_LIKE.test(item)) visit.url(item, inherited, name)
      else named(item, path, depth)
    }
  }

  for (const value of values) {
    if (URL_LIKE.test(value)) visit.url(value, {})
    else named(value, [], 0)
  }
}

function pickSettings(profile: Profile): StoreSettings {
  const settings: StoreSettings = {}
  for (const key of Object.keys(SETTING_KEYS) as Array<keyof StoreSettings>) {
    if (profile[key] !== undefined) settings[key] = profile[key]
  }

  return settings
}

/** Fills the password from the environment, so config files never hold one. */
function withPassword(url: string, passwordEnv: string | undefined, profile: string): string {
  if (!passwordEnv) return url
  const password = process.env[passwordEnv]
  if (password === undefined) {
    throw new UsageError(`profile "${profile}" reads its password from $${passwordEnv}, which is not set`)
  }

  registerSecret(password)
  const parsed = new URL(url)
  parsed.password = encodeURIComponent(password)
  return parsed.toString()
}

/** Where a JSON syntax error is, as " (line L, column C)", from the parser's position. */
function jsonErrorPlace(text: string, error: unknown): string {
  if (!(error instanceof SyntaxError)) return ''
  const position = /at position (\d+)/.exec(error.message)?.[1]
  // Without a position (e.g. "Unexpected token"), the first character JSON cannot start with.
  const at = position === undefined ? (/^\s*[^\s"[{\d\-tfn]/.test(text) ? text.search(/\S/) : undefined) : Number(position)
  if (at === undefined || at < 0) return ''
  const before = text.slice(0, at).split('\n')
  return ` (line ${before.length}, column ${before.at(-1)!.length + 1})`
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
