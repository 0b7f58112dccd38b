import type {SqlLayout, StoreLayout} from '../stores/contract.js'

import {UsageError} from '../errors.js'
import {type Codec, parseUserPath} from './codec.js'
import {createDjangoCodec, DJANGO_USER_PATH} from './django.js'

/**
 * A format preset binds a codec to the places its framework keeps sessions by default.
 * Flags (--table, --user-path...) and profile settings override the defaults.
 */
export interface Preset {
  createCodec(options: CodecSettings): Codec
  defaultUserPath: readonly string[]
  name: string
  sql?: SqlLayout
  summary: string
}

export interface CodecSettings {
  salt?: string
  secretKeys: readonly string[]
  userPath: readonly string[]
}

const presets: Record<string, Preset> = {
  django: {
    createCodec: o => createDjangoCodec({salt: o.salt, secretKeys: o.secretKeys, userPath: o.userPath}),
    defaultUserPath: DJANGO_USER_PATH,
    name: 'django',
    sql: {
      dataColumn: 'session_data',
      expiryColumn: 'expire_date',
      expiryUnit: 'datetime',
      keyColumn: 'session_key',
      table: 'django_session',
    },
    summary: 'Django db/cached_db sessions (django_session), signed ≥3.1 or legacy format, JSON or pickle',
  },
}

export const PRESET_NAMES = Object.keys(presets)

export function getPreset(name: string): Preset {
  const preset = Object.hasOwn(presets, name) ? presets[name] : undefined
  if (!preset) throw new UsageError(`unknown format "${name}": use one of ${PRESET_NAMES.join(', ')}`)
  return preset
}

export interface LayoutOverrides {
  dataColumn?: string
  expiryColumn?: string
  expiryUnit?: string
  keyColumn?: string
  table?: string
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
      dataColumn: overrides.dataColumn ?? preset.sql.dataColumn,
      expiryColumn: overrides.expiryColumn ?? preset.sql.expiryColumn,
      expiryUnit: (overrides.expiryUnit ?? preset.sql.expiryUnit) as SqlLayout['expiryUnit'],
      keyColumn: overrides.keyColumn ?? preset.sql.keyColumn,
      table: overrides.table ?? preset.sql.table,
    }
  }

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
