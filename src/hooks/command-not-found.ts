import type {Hook} from '@oclif/core'

import {terminalSafe} from '../cli/render.js'
import {ExitCode} from '../errors.js'

/**
 * An unknown command: one line that names it as the operator typed it (spaces, never oclif's
 * `sessions:nosuch`) and lists the commands there are, exit 2; under --json, the same as a JSON
 * error document on stdout, like every other error.
 */
const hook: Hook.CommandNotFound = async function (options) {
  const typed = options.id.replaceAll(':', ' ')
  const commands = options.config.commands.filter(c => !c.hidden).map(c => c.id.replaceAll(':', ' ')).sort()
  const message = `unknown command "${typed}": the commands are ${commands.join(', ')} (see ${options.config.bin} --help)`
  process.exitCode = ExitCode.USAGE
  if ((options.argv ?? []).includes('--json')) process.stdout.write(`${JSON.stringify({error: {exitCode: ExitCode.USAGE, message}}, null, 2)}\n`)
  else process.stderr.write(`${options.config.bin}: ${terminalSafe(message)}\n`)
}

export default hook
