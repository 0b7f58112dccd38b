import {existsSync, readFileSync} from 'node:fs'
import {join, resolve} from 'node:path'

import {UsageError} from '../errors.js'
import {registerSecret} from './redact.js'

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
  keyColumn?: string
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
  keyColumn: true,
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

/**
 * Finds the config file: --config, then $SESSIONCTL_CONFIG (both must exist), then
 * ./sessionctl.json, then <oclif config dir>/config.json (both optional).
 */
export function loadConfig(explicit: string | undefined, configDir: string): ConfigFile | undefined {
  const named = explicit ?? process.env.SESSIONCTL_CONFIG
  if (named) {
    const path = resolve(named)
    if (!existsSync(path)) {
      throw new UsageError(`config file ${path} does not exist: pass an existing file to --config (or in $SESSIONCTL_CONFIG)`)
    }

    return readConfig(path)
  }

  for (const candidate of [resolve('sessionctl.json'), join(configDir, 'config.json')]) {
    if (existsSync(candidate)) return readConfig(candidate)
  }

  return undefined
}

function readConfig(path: string): ConfigFile {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    // Never the parser's excerpt of the file: it may be a secrets file given by mistake.
    throw new UsageError(`config file ${path} is not valid JSON${jsonErrorPlace(path, error)}: fix it, or pass another file to --config`)
  }

  if (!isObject(parsed) || !isObject(parsed.profiles)) {
    throw new UsageError(`config file ${path} must be a JSON object with a "profiles" object`)
  }

  for (const key of Object.keys(parsed)) {
    if (key !== 'profiles' && key !== '$schema') throw new UsageError(`config file ${path}: unknown top-level key "${key}"`)
  }

  for (const [name, profile] of Object.entries(parsed.profiles)) checkProfile(path, name, profile)
  return {path, profiles: parsed.profiles as Record<string, Profile>}
}

function checkProfile(path: string, name: string, profile: unknown): void {
  const where = `config file ${path}, profile "${name}"`
  if (!isObject(profile)) throw new UsageError(`${where}: must be an object`)
  for (const [key, value] of Object.entries(profile)) {
    if (!PROFILE_KEYS.has(key)) throw new UsageError(`${where}: unknown setting "${key}"`)
    if (key === 'stores') {
      if (!Array.isArray(value) || value.length === 0) throw new UsageError(`${where}: "stores" must be a non-empty list`)
      for (const [i, item] of value.entries()) {
        if (typeof item !== 'string') checkProfile(path, `${name}.stores[${i}]`, item)
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
export function resolveStores(values: readonly string[], config: ConfigFile | undefined, overrides: StoreSettings): StoreSpec[] {
  const specs: StoreSpec[] = []
  for (const value of values) {
    if (URL_LIKE.test(value)) specs.push({...overrides, url: value})
    else specs.push(...expandProfile(value, config, overrides, []))
  }

  return specs
}

function expandProfile(name: string, config: ConfigFile | undefined, overrides: StoreSettings, trail: string[]): StoreSpec[] {
  if (!config) {
    throw new UsageError(`"${name}" is neither a store URL (mysql://…, redis://…) nor a profile: no config file found (--config, SESSIONCTL_CONFIG or ./sessionctl.json)`)
  }

  const profile = Object.hasOwn(config.profiles, name) ? config.profiles[name] : undefined
  if (!profile) {
    const known = Object.keys(config.profiles)
    throw new UsageError(`no profile "${name}" in ${config.path}${known.length > 0 ? ` (profiles: ${known.join(', ')})` : ''}`)
  }

  if (trail.includes(name)) throw new UsageError(`profile "${name}" in ${config.path} includes itself (${[...trail, name].join(' → ')})`)
  return fromProfile(profile, name, config, overrides, [...trail, name])
}

function fromProfile(profile: Profile, name: string, config: ConfigFile, overrides: StoreSettings, trail: string[]): StoreSpec[] {
  const inherited = pickSettings(profile)
  if (profile.stores) {
    return profile.stores.flatMap(item =>
      typeof item === 'string'
        ? (URL_LIKE.test(item)
          ? [{
            ...inherited, ...overrides, profile: name, url: item,
          }]
          : expandProfile(item, config, overrides, trail))
        : fromProfile({...inherited, ...item}, name, config, overrides, trail))
  }

  return [{
    ...inherited, ...overrides, profile: name, url: withPassword(profile.store!, profile.passwordEnv, name),
  }]
}

/**
 * The `auditLog` settings of the profiles named in `values` and of every profile they list
 * (named or inline), in order, as written in the file. URLs bring none.
 */
export function profileAuditLogs(values: readonly string[], config: ConfigFile): string[] {
  const out: string[] = []
  const visit = (profile: Profile | undefined, trail: string[]): void => {
    if (!profile) return
    if (profile.auditLog !== undefined) out.push(profile.auditLog)
    for (const item of profile.stores ?? []) {
      if (typeof item !== 'string') visit(item, trail)
      else if (!URL_LIKE.test(item) && !trail.includes(item) && Object.hasOwn(config.profiles, item)) visit(config.profiles[item], [...trail, item])
    }
  }

  for (const value of values) {
    if (!URL_LIKE.test(value) && Object.hasOwn(config.profiles, value)) visit(config.profiles[value], [value])
  }

  return out
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
function jsonErrorPlace(path: string, error: unknown): string {
  if (!(error instanceof SyntaxError)) return ` (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`
  const position = /at position (\d+)/.exec(error.message)?.[1]
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return ''
  }

  // Without a position (e.g. "Unexpected token"), the first character JSON cannot start with.
  const at = position === undefined ? (/^\s*[^\s"[{\d\-tfn]/.test(text) ? text.search(/\S/) : undefined) : Number(position)
  if (at === undefined || at < 0) return ''
  const before = text.slice(0, at).split('\n')
  return ` (line ${before.length}, column ${before.at(-1)!.length + 1})`
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
