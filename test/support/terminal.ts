/** Runs the built binary on a real pseudo-terminal (via Python's pty module), as an operator would. */
import {execFile} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import {recordRun} from './secrets.js'

const HELPER = fileURLToPath(new URL('terminal.py', import.meta.url))
const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

export interface PtyResult {
  answered: boolean
  exitCode: number
  output: string
}

export function onTerminal(
  args: string[],
  /** `signal`: sent to the program instead of typing `answer`, once `waitFor` shows. */
  options: {answer?: string; env?: Record<string, string>; signal?: NodeJS.Signals; waitFor?: RegExp} = {},
): Promise<PtyResult> {
  return new Promise((resolve, reject) => {
    const child = execFile('/usr/bin/python3', [HELPER], {maxBuffer: 16 * 1024 * 1024}, (error, stdout) => {
      if (error) {
        reject(error)
        return
      }

      const result = JSON.parse(stdout) as PtyResult
      // The terminal merges stdout and stderr (spinner and prompt included).
      recordRun({
        args, env: options.env, stderr: '', stdout: result.output, via: 'terminal',
      })
      resolve(result)
    })
    child.stdin!.end(JSON.stringify({
      answer: options.answer ?? '',
      argv: [process.execPath, BIN, ...args],
      env: {TERM: 'xterm-256color', ...options.env},
      signal: options.signal ?? null,
      // An operator's terminal, not a CI job: chalk turns colour off when it sees CI markers.
      unset: ['NO_COLOR', 'FORCE_COLOR', 'SESSIONCTL_STORE', 'SESSIONCTL_CONFIG', 'CI', 'CONTINUOUS_INTEGRATION', 'TEAMCITY_VERSION', 'TF_BUILD'],
      waitFor: options.waitFor?.source ?? null,
    }))
  })
}
