import type {RedisLayout, SqlLayout, StoreLayout} from '../stores/contract.js'

import {UsageError} from '../errors.js'
import {
  type Codec, type CodecSettings, type CodecSpec, parseUserPath,
} from './codec.js'
import {createDjangoCacheCodec} from './django-cache.js'
import {createDjangoCodec, DJANGO_USER_PATH} from './django.js'
import {createExpressCodec, EXPRESS_USER_PATH} from './express.js'

/**
 * A format preset binds a codec to the places its framework keeps sessions by default
 * (docs/session-formats.md). Flags (--table, --prefix, --user-path...) and profile settings
 * override the defaults.
 */
export interface Preset {
  name: string
  summary: string
  defaultUserPath: readonly string[]
  createCodec(options: CodecSettings): Codec
  sql?: SqlLayout
  /** Redis keys for a `--prefix` value (undefined = the framework's default). */
  redis?(prefix: string | undefined): RedisLayout
}

export type {CodecSettings, CodecSpec} from './codec.js'

// Django session keys: get_random_string(32, [a-z0-9]). As a SCAN glob, Redis filters them itself.
const DJANGO_KEY_GLOB = '[a-z0-9]'.repeat(32)
const DJANGO_KEY = /^[\da-z]{32}$/

const presets: Record<string, Preset> = {
  django: {
    createCodec: o => createDjangoCodec({salt: o.salt, secretKeys: o.secretKeys, userPath: o.userPath}),
    defaultUserPath: DJANGO_USER_PATH,
    name: 'django',
    // django-redis-sessions stores the same signed string under `<prefix><key>` (no prefix by default).
    redis: prefix => ({keyGlob: DJANGO_KEY_GLOB, keyPattern: DJANGO_KEY, prefixes: [prefix ?? '']}),
    sql: {
      table: 'django_session',
      keyColumn: 'session_key',
      dataColumn: 'session_data',
      expiryColumn: 'expire_date',
      expiryUnit: 'datetime',
      liveWhen: 'after-now',
    },
    summary: 'Django db/cached_db rows (django_session) and django-redis-sessions keys: signed ≥3.1 or legacy, JSON or pickle',
  },
  'django-cache': {
    createCodec: o => createDjangoCacheCodec({userPath: o.userPath}),
    defaultUserPath: DJANGO_USER_PATH,
    name: 'django-cache',
    // `--prefix` is the cache's KEY_PREFIX and VERSION as Django joins them (`<prefix>:<version>:`).
    redis(prefix) {
      const base = `${prefix ?? ':1:'}django.contrib.sessions.`
      return {keyGlob: DJANGO_KEY_GLOB, keyPattern: DJANGO_KEY, prefixes: [`${base}cached_db`, `${base}cache`]}
    },
    summary: 'Django cache and cached_db sessions in Redis (:1:django.contrib.sessions.cache…): pickled dicts, optionally compressed',
  },
  express: {
    createCodec: o => createExpressCodec({userPath: o.userPath}),
    defaultUserPath: EXPRESS_USER_PATH,
    name: 'express',
    // connect-redis: `sess:<sid>`; the sid is whatever genid made (uid-safe by default).
    redis: prefix => ({keyGlob: '*', keyPattern: /^.+$/s, prefixes: [prefix ?? 'sess:']}),
    sql: {
      table: 'sessions',
      keyColumn: 'session_id',
      dataColumn: 'data',
      expiryColumn: 'expires',
      expiryUnit: 'unix-seconds',
      liveWhen: 'not-before-now',
    },
    summary: 'express-session via connect-redis (sess:<sid>) or express-mysql-session (sessions table); user at passport.user',
  },
}

export const PRESET_NAMES = Object.keys(presets)

/** The preset's codec, carrying the spec that rebuilds it in a worker thread. */
export function codecFromSpec(spec: CodecSpec): Codec {
  const codec = getPreset(spec.preset).createCodec(spec.settings)
  return {...codec, spec}
}

export function presetCodec(preset: Preset, settings: CodecSettings): Codec {
  return codecFromSpec({preset: preset.name, settings: {...settings, secretKeys: [...settings.secretKeys], userPath: [...settings.userPath]}})
}

export function getPreset(name: string): Preset {
  const preset = Object.hasOwn(presets, name) ? presets[name] : undefined
  if (!preset) throw new UsageError(`unknown format "${name}": use one of ${PRESET_NAMES.join(', ')}`)
  return preset
}

export interface LayoutOverrides {
  table?: string
  keyColumn?: string
  dataColumn?: string
  expiryColumn?: string
  expiryUnit?: string
  prefix?: string
  userColumn?: string
}

const EXPIRY_UNITS = new Set(['auto', 'datetime', 'unix-ms', 'unix-seconds'])

/** The preset's layout with the operator's overrides applied. */
export function layoutFor(preset: Preset, overrides: LayoutOverrides): StoreLayout {
  const layout: StoreLayout = {}
  if (preset.sql) {
    if (overrides.expiryUnit !== undefined && !EXPIRY_UNITS.has(overrides.expiryUnit)) {
      throw new UsageError(`invalid expiry unit "${overrides.expiryUnit}": use ${[...EXPIRY_UNITS].join(', ')}`)
    }

    layout.sql = {
      ...preset.sql,
      dataColumn: overrides.dataColumn ?? preset.sql.dataColumn,
      expiryColumn: overrides.expiryColumn ?? preset.sql.expiryColumn,
      expiryUnit: (overrides.expiryUnit ?? preset.sql.expiryUnit) as SqlLayout['expiryUnit'],
      keyColumn: overrides.keyColumn ?? preset.sql.keyColumn,
      table: overrides.table ?? preset.sql.table,
    }
  }

  if (preset.redis) layout.redis = preset.redis(overrides.prefix)
  if (overrides.userColumn !== undefined) layout.userColumn = overrides.userColumn
  return layout
}

export function userPathFor(preset: Preset, userPath: string | undefined): readonly string[] {
  if (userPath === undefined) return preset.defaultUserPath
  try {
    return parseUserPath(userPath)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}
