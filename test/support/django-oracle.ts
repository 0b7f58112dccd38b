import type {Context} from 'mocha'

/**
 * Real Django 3.2 (Debian's python3-django) as the oracle of the parity tests: it writes the
 * sessions and says which belong to a user. See test/django/README.md.
 */
import {execFileSync, spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {mysqlParams, pgsqlParams} from './php.js'

const PYTHON = '/usr/bin/python3'
const SCRIPT = fileURLToPath(new URL('../django/django_sessions.py', import.meta.url))
export const DJANGO_APT_LINE = 'sudo apt-get install -y python3-django python3-mysqldb python3-psycopg2 python3-django-redis python3-redis'

let available: boolean | undefined

export function djangoAvailable(): boolean {
  if (available === undefined) {
    try {
      execFileSync(PYTHON, ['-c', 'import django, MySQLdb, psycopg2, django_redis, redis'], {stdio: 'ignore'})
      available = true
    } catch {
      available = false
    }
  }

  return available && existsSync(SCRIPT)
}

/**
 * Skips the calling suite when Django is not installed, except in CI
 * (SESSIONCTL_TEST_REQUIRE_ALL=1), where a skipped parity suite is a failure.
 */
export function requireDjango(context: Context): void {
  if (djangoAvailable()) return
  const message = `real Django is not installed; the parity tests need: ${DJANGO_APT_LINE}`
  if (process.env.SESSIONCTL_TEST_REQUIRE_ALL === '1') throw new Error(message)
  console.warn(`      skipped: ${message}`)
  context.skip()
}

export interface MysqlTarget {
  database: string
  host: string
  password: string
  port: number
  user: string
}

export type PostgresTarget = MysqlTarget

export function mysqlTarget(url: string): MysqlTarget {
  const {database, host, password, port, user} = mysqlParams(url)
  return {
    database, host, password: password ?? '', port, user: user ?? 'root',
  }
}

/** The `postgres` connection object of django_sessions.py, from a postgres:// URL. */
export function postgresTarget(url: string): PostgresTarget {
  const params = pgsqlParams(url)
  return {...params, password: params.password ?? ''}
}

export function django<T = Record<string, unknown>>(command: 'answer' | 'dump' | 'formats' | 'seed', input: unknown): Promise<T> {
  return runPython<T>([SCRIPT, command], input)
}

/** What test/django/user_sessions.py wrote: the package's table and each session's key. */
export interface UserSessionsWritten {
  sessions: Array<{key: string; user: null | string}>
  table: string
}

/**
 * Sessions of django-user-sessions or django-qsessions, written by Django 3.2's db SessionStore
 * subclassed as those packages subclass it, into their tables created from their migrations'
 * fields (test/django/user_sessions.py: neither package is installable here).
 */
export function writeUserSessions(input: {
  mysql: MysqlTarget
  package: 'qsessions' | 'user_sessions'
  secretKey: string
  sessions: Array<{data?: Record<string, unknown>; ip?: string; user: null | string; userAgent?: string}>
}): Promise<UserSessionsWritten> {
  return runPython<UserSessionsWritten>([USER_SESSIONS], input)
}

const USER_SESSIONS = fileURLToPath(new URL('../django/user_sessions.py', import.meta.url))

function runPython<T>(args: string[], input: unknown): Promise<T> {
  const command = args.map(a => a.split('/').pop()).join(' ')
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, {stdio: ['pipe', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d
    })
    child.on('error', reject)
    child.on('close', code => {
      if (code === 0) {
        resolve(JSON.parse(out) as T)
      } else {
        reject(new Error(`${command} exited ${code}: ${err}`))
      }
    })
    child.stdin.end(JSON.stringify(input))
  })
}
