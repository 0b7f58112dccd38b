/** Helpers the benchmark's sections share: logging, medians, timing and child processes measured by GNU time. */
import type mysql from 'mysql2/promise'

import {spawn} from 'node:child_process'
import {
  accessSync, constants, mkdtempSync, readFileSync, rmSync,
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const CLI = `${ROOT}bin/run.js`

export function log(text: string): void {
  process.stderr.write(`${text}\n`)
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/** `value` rounded to `digits` decimals, as the results files keep figures. */
export const fixed = (value: number, digits: number): number => Number(value.toFixed(digits))
export const fixedOrNull = (value: null | number, digits: number): null | number => (value === null ? null : fixed(value, digits))

/** Whether two lists hold the same keys, in any order. */
export const sameKeys = (got: string[], want: string[]): boolean => JSON.stringify([...got].sort()) === JSON.stringify([...want].sort())

export interface Timed<T> {
  ms: number
  value: T
}

export async function timed<T>(fn: () => Promise<T>): Promise<Timed<T>> {
  const t0 = performance.now()
  const value = await fn()
  return {ms: performance.now() - t0, value}
}

/** One child process: wall time as the parent sees it (spawn to exit), and what GNU time says of it. */
export interface ProcessRun {
  code: null | number
  ms: number
  /** user + system CPU seconds; null without GNU time */
  cpuS: null | number
  /** peak resident set (ru_maxrss) in MB; null without GNU time */
  rssMb: null | number
  stderr: string
  stdout: string
}

const GNU_TIME = '/usr/bin/time'
let timeDir: string | undefined

export function haveGnuTime(): boolean {
  try {
    accessSync(GNU_TIME, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/**
 * Runs `node <args>` under GNU time (`-f '%M %U %S'`, written to a file so the child's stderr stays
 * its own). The wall time includes starting Node, as an operator would wait for it.
 */
export function runNode(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ProcessRun> {
  const useTime = haveGnuTime()
  timeDir ??= mkdtempSync(path.join(os.tmpdir(), 'sessionctl-bench-'))
  const timeFile = path.join(timeDir, 'time.txt')
  rmSync(timeFile, {force: true})
  const [command, argv] = useTime
    ? [GNU_TIME, ['-f', '%M %U %S', '-o', timeFile, process.execPath, ...args]]
    : [process.execPath, args]
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, {env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d
    })
    child.on('error', reject)
    child.on('close', code => {
      const ms = performance.now() - t0
      let cpuS: null | number = null
      let rssMb: null | number = null
      if (useTime) {
        // A failed command gets a "Command exited with non-zero status" line first.
        const last = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1) ?? ''
        const [kb, user, sys] = last.split(' ').map(Number)
        rssMb = kb / 1024
        cpuS = user + sys
      }

      resolve({
        code, cpuS, ms, rssMb, stderr, stdout,
      })
    })
  })
}

export function removeTimeDir(): void {
  if (timeDir) rmSync(timeDir, {force: true, recursive: true})
  timeDir = undefined
}

/**
 * Waits until InnoDB has written the dirty pages of the copies made before a measurement, so
 * nothing measured pays for the copying that came before it.
 */
export async function settle(conn: mysql.Connection): Promise<void> {
  // Purge the undo history earlier statements left (a previous DELETE's 200k delete-marked rows
  // would otherwise be purged by InnoDB's background threads during the next measurement).
  await conn.query('SET GLOBAL innodb_max_purge_lag_wait = 0')
  const [[old]] = await conn.query('SELECT @@innodb_max_dirty_pages_pct AS pct') as unknown as [[{pct: number}]]
  await conn.query('SET GLOBAL innodb_max_dirty_pages_pct = 0')
  try {
    for (let i = 0; i < 600; i++) {
      const [rows] = await conn.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")
      if (Number((rows as Array<{Value: string}>)[0].Value) < 100) break
      await new Promise(resolve => {
        setTimeout(resolve, 100)
      })
    }
  } finally {
    await conn.query('SET GLOBAL innodb_max_dirty_pages_pct = ?', [old.pct])
  }
}

export interface Target {
  limit: string
  measured: null | number
  met: boolean | null
  name: string
  unit: string
}

export function target(name: string, measured: null | number, limit: number, unit: string, digits = 2): Target {
  return {
    limit: `≤ ${limit}${unit}`, measured: measured === null ? null : Number(measured.toFixed(digits)), met: measured === null ? null : measured <= limit, name, unit,
  }
}

export function printTargets(targets: Target[]): void {
  console.log('  targets (shown, not enforced):')
  for (const t of targets) {
    const value = t.measured === null ? 'not measured' : `${t.measured}${t.unit}`
    console.log(`    ${t.name.padEnd(44)} ${t.limit.padEnd(10)} ${value.padStart(12)}  ${t.met === null ? '—' : (t.met ? 'met' : 'MISSED')}`)
  }
}

/** A measured process that failed: what it was, its exit code and the start of what it said. */
export function processFailed(what: string, run: ProcessRun): Error {
  return new Error(`${what} failed (exit ${run.code}): ${(run.stderr || run.stdout).trim().slice(0, 2000)}`)
}

/** The keys a `--json --show-keys` list or purge printed (throws when it failed). */
export function keysOf(what: string, run: ProcessRun): string[] {
  if (run.code !== 0) throw processFailed(what, run)
  const doc = JSON.parse(run.stdout) as {sessions: Array<{id: string}>}
  return doc.sessions.map(s => s.id)
}
