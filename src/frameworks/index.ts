import type {Codec, CodecSettings, CodecSpec} from '../formats/codec.js'
import type {SqlLayout, StoreLayout} from '../stores/contract.js'
import type {Framework, FrameworkSettings} from './framework.js'

import {UsageError} from '../errors.js'
import {parseUserPath} from '../formats/codec.js'
import djangoCache from './django-cache.js'
import django from './django.js'
import express from './express.js'
import flask from './flask.js'
import laravel from './laravel.js'
import php from './php.js'
import rails from './rails.js'
import spring from './spring.js'

export type {
  CookieKeys, Framework, FrameworkSettings, ValueLanguage,
} from './framework.js'

/** The registry: one line per framework file. */
const frameworks: readonly Framework[] = [django, djangoCache, express, flask, laravel, php, rails, spring]

const byName = new Map(frameworks.map(f => [f.name, f]))

export const FRAMEWORK_NAMES = frameworks.map(f => f.name)

export function getFramework(name: string): Framework {
  const framework = byName.get(name)
  if (!framework) throw new UsageError(`unknown format "${name}": use one of ${FRAMEWORK_NAMES.join(', ')}`)
  return framework
}

/** The framework's codec, carrying the spec that rebuilds it in a worker thread. */
export function codecFromSpec(spec: CodecSpec): Codec {
  const codec = getFramework(spec.framework).codec(spec.settings)
  return {...codec, spec}
}

export function frameworkCodec(framework: Framework, settings: CodecSettings): Codec {
  return codecFromSpec({
    framework: framework.name,
    settings: {
      ...settings, ...(settings.appKeys ? {appKeys: [...settings.appKeys]} : {}), secretKeys: [...settings.secretKeys], userPath: [...settings.userPath],
    },
  })
}

/** What the operator may override in a framework's layout (flags and profile settings). */
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

/** The framework's layout with the operator's overrides applied. */
export function layoutFor(framework: Framework, overrides: LayoutOverrides, settings: FrameworkSettings = {}): StoreLayout {
  const layout: StoreLayout = {}
  if (framework.sql) {
    if (overrides.expiryUnit !== undefined && !EXPIRY_UNITS.has(overrides.expiryUnit)) {
      throw new UsageError(`invalid expiry unit "${overrides.expiryUnit}": use ${[...EXPIRY_UNITS].join(', ')}`)
    }

    layout.sql = withOverrides(withTable(framework, typeof framework.sql === 'function' ? framework.sql(settings) : framework.sql, overrides.table), overrides)
    if (framework.postgres) layout.postgres = withOverrides(typeof framework.postgres === 'function' ? framework.postgres(settings) : framework.postgres, overrides)
  }

  if (framework.redis) layout.redis = framework.redis(overrides.prefix)
  if (overrides.userColumn !== undefined) layout.userColumn = overrides.userColumn
  return layout
}

/** The framework's layout for a package's table (Framework.tables) when --table names one; else `sql` as declared. */
function withTable(framework: Framework, sql: SqlLayout, table: string | undefined): SqlLayout {
  const name = table?.split('.').pop()
  const variant = name !== undefined && framework.tables && Object.hasOwn(framework.tables, name) ? framework.tables[name] : undefined
  return variant ? {...sql, ...variant} : sql
}

/** Every detail column label a framework's layouts declare (list --columns), in declaration order. */
export function declaredDetailLabels(): string[] {
  const labels = new Set<string>()
  for (const framework of frameworks) {
    const layouts = [framework.sql, framework.postgres].map(l => (typeof l === 'function' ? l({}) : l))
    for (const layout of [...layouts, ...Object.values(framework.tables ?? {})]) {
      for (const d of layout?.detailColumns ?? []) labels.add(d.label)
    }
  }

  return [...labels]
}

function withOverrides(sql: SqlLayout, overrides: LayoutOverrides): SqlLayout {
  return {
    ...sql,
    dataColumn: overrides.dataColumn ?? sql.dataColumn,
    expiry: {
      ...sql.expiry,
      column: overrides.expiryColumn ?? sql.expiry.column,
      unit: (overrides.expiryUnit ?? sql.expiry.unit) as SqlLayout['expiry']['unit'],
    },
    keyColumn: overrides.keyColumn ?? sql.keyColumn,
    table: overrides.table ?? sql.table,
  }
}

export function userPathFor(framework: Framework, userPath: string | undefined, settings: FrameworkSettings = {}): readonly string[] {
  if (userPath === undefined) {
    const declared = typeof framework.userPath === 'function' ? framework.userPath(settings) : framework.userPath
    if (declared === undefined) throw new UsageError(`--format ${framework.name} needs --user-path: where the app keeps the user id in the session (e.g. user_id, or auth.user.id)`)
    return declared
  }

  try {
    return parseUserPath(userPath)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}
