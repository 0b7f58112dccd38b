/**
 * Runs the built binary (bin/run.js → dist/) as a subprocess, exactly as an operator would.
 * `npm test` builds first (pretest).
 */
import {spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import {recordRun} from './secrets.js'

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

export interface CliResult {
  code: null | number
  ms: number
  signal: NodeJS.Signals | null
  stderr: string
  stdout: string
}

export interface CliOptions {
  env?: Record<string, string | undefined>
  input?: string
  /** Called once the process has started, e.g. to send it a signal later. */
  onSpawn?(pid: number): void
  timeoutMs?: number
}

/** sessionctl run in the background: its result, and `kill` to send it a signal meanwhile. */
export function startSessionctl(args: string[], options: CliOptions = {}): Promise<CliResult> & {kill(signal: NodeJS.Signals): void} {
  let pid = 0
  const run = sessionctl(args, {
    ...options,
    onSpawn(p) {
      pid = p
      options.onSpawn?.(p)
    },
  })
  return Object.assign(run, {kill: (signal: NodeJS.Signals) => process.kill(pid, signal)})
}

export function sessionctl(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = {
    ...process.env, NO_COLOR: '1', SESSIONCTL_CONFIG: undefined, SESSIONCTL_STORE: undefined, ...options.env,
  }
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k]
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      recordRun({
        args, env: options.env, stderr, stdout, via: 'binary',
      })
      resolve({
        code, ms: Date.now() - started, signal, stderr, stdout,
      })
    })
    if (child.pid) options.onSpawn?.(child.pid)
    child.stdin.end(options.input ?? '')
  })
}

/**
 * sessionctl with `--show-keys --json` added, its stdout parsed as the one JSON document it must
 * be; rejects with the exit code and both outputs when it is not.
 */
export async function sessionctlJson<T>(args: string[], options: CliOptions = {}): Promise<{code: null | number; doc: T; stderr: string}> {
  const r = await sessionctl([...args, '--show-keys', '--json'], options)
  let doc: T
  try {
    doc = JSON.parse(r.stdout) as T
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout} ${r.stderr}`)
  }

  return {code: r.code, doc, stderr: r.stderr}
}
