import {runCommand} from '@oclif/test'
import {fileURLToPath} from 'node:url'

import {recordRun} from './secrets.js'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface RunResult {
  exitCode: number
  /** The command's return value (its --json document). */
  result: unknown
  stderr: string
  stdout: string
}

/**
 * Runs a command in-process (from the TypeScript sources) and returns what an operator sees:
 * stdout, stderr and the exit code. Arguments must not contain spaces.
 */
export async function run(args: string[], env: Record<string, string | undefined> = {}): Promise<RunResult> {
  const saved: Record<string, string | undefined> = {}
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k]
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }

  process.exitCode = undefined
  try {
    const {error, result, stderr, stdout} = await runCommand(args, {root: ROOT})
    const code = process.exitCode ?? (error ? ((error as {oclif?: {exit?: number}}).oclif?.exit ?? 1) : 0)
    const shown = stderr + (error && !stderr.includes(error.message) ? error.message : '')
    recordRun({
      args, env, stderr: shown, stdout, via: 'in-process',
    })
    return {
      exitCode: Number(code), result, stderr: shown, stdout,
    }
  } finally {
    process.exitCode = undefined
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}
