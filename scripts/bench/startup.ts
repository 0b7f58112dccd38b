/**
 * The benchmark's "startup" section: wall time of commands that touch no store (`--version`,
 * `sessions list --help`), median of 5 whole processes, and whether they load a database driver
 * (they should not: the adapters, and their drivers, load when a store is opened).
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {
  CLI, median, printTargets, ROOT, runNode, target,
} from './common.js'

const RUNS = 5
const DRIVERS = {ioredis: '/node_modules/ioredis/', mysql2: '/node_modules/mysql2/'} as const

const CASES = [
  {args: ['--version'], id: 'version', label: 'sessionctl --version'},
  {args: ['sessions', 'list', '--help'], id: 'help', label: 'sessionctl sessions list --help'},
]

/** The CommonJS modules (both drivers are CommonJS) one run of the CLI loaded. */
async function loadedModules(args: string[]): Promise<string[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sessionctl-bench-modules-'))
  try {
    const file = path.join(dir, 'modules.json')
    const run = await runNode(['--import', `${ROOT}scripts/bench/module-log.mjs`, CLI, ...args], {BENCH_MODULE_LOG: file})
    if (run.code !== 0) throw new Error(`sessionctl ${args.join(' ')} failed (exit ${run.code}): ${run.stderr.trim()}`)
    return JSON.parse(readFileSync(file, 'utf8')) as string[]
  } finally {
    rmSync(dir, {force: true, recursive: true})
  }
}

export async function benchStartup(): Promise<Record<string, unknown>> {
  const results: Array<Record<string, unknown> & {label: string; medianMs: number; rssMb: null | number}> = []
  for (const c of CASES) {
    await runNode([CLI, ...c.args]) // warm the page cache
    const runs = []
    for (let i = 0; i < RUNS; i++) {
      const run = await runNode([CLI, ...c.args])
      if (run.code !== 0) throw new Error(`sessionctl ${c.args.join(' ')} failed (exit ${run.code}): ${run.stderr.trim()}`)
      runs.push(run)
    }

    const modules = await loadedModules(c.args)
    const driverLoaded = Object.fromEntries(Object.entries(DRIVERS).map(([name, dir]) => [name, modules.some(m => m.includes(dir))]))
    const rss = runs.map(r => r.rssMb).filter((v): v is number => v !== null)
    results.push({
      commonJsModules: modules.length,
      driverLoaded,
      id: c.id,
      label: c.label,
      medianMs: Math.round(median(runs.map(r => r.ms))),
      msRuns: runs.map(r => Math.round(r.ms)),
      rssMb: rss.length > 0 ? Math.round(Math.max(...rss)) : null,
    })
  }

  console.log(`\nstartup: whole processes, median of ${RUNS}`)
  console.log(`  ${'measurement'.padEnd(46)} ${'seconds'.padStart(8)} ${'peak RSS MB'.padStart(12)}  drivers loaded`)
  for (const r of results) {
    const loaded = Object.entries(r.driverLoaded as Record<string, boolean>).map(([name, yes]) => `${name}: ${yes}`).join(', ')
    console.log(`  ${r.label.padEnd(46)} ${(r.medianMs / 1000).toFixed(3).padStart(8)} ${String(r.rssMb ?? '—').padStart(12)}  ${loaded}`)
  }

  const version = results.find(r => r.id === 'version')!
  const targets = [target('sessionctl --version', version.medianMs, 300, ' ms', 0)]
  printTargets(targets)
  return {runs: RUNS, targets, ...Object.fromEntries(results.map(r => [r.id, r]))}
}
