import type {Hook} from '@oclif/core'

import {terminalSafe} from '../cli/render.js'
import {closestCommand} from '../cli/suggest.js'
import {ExitCode} from '../errors.js'

/**
 * An unknown command: one line that names it as the operator typed it (spaces, never oclif's
 * `sessions:nosuch`), says which command was probably meant when one is close, and lists the
 * commands there are, exit 2; under --json, the same as a JSON error document on stdout, like
 * every other error. Never a prompt (oclif's plugin-not-found asks "Did you mean …? (Y/n)" and
 * then runs the guess): a typo in a purge is reported, not repaired.
 */
const hook: Hook.CommandNotFound = async function (options) {
  const typed = options.id.replaceAll(':', ' ')
  const commands = options.config.commands.filter(c => !c.hidden).map(c => c.id.replaceAll(':', ' ')).sort()
  const topics = options.config.topics.filter(t => !t.hidden).map(t => t.name.replaceAll(':', ' '))
  // oclif folds the words after a command that takes no arguments into the id: `sessions list x`
  const given = commands.find(c => typed.startsWith(`${c} `))
  const suggestion = closestCommand(typed, [...commands, ...topics])
  const meant = suggestion ? `. Did you mean ${suggestion}? The commands are` : ': the commands are'
  const message = given
    ? `${given} takes no arguments, got "${typed.slice(given.length + 1)}" (see ${options.config.bin} ${given} --help)`
    : `unknown command "${typed}"${meant} ${commands.join(', ')} (see ${options.config.bin} --help)`
  process.exitCode = ExitCode.USAGE
  if ((options.argv ?? []).includes('--json')) process.stdout.write(`${JSON.stringify({error: {exitCode: ExitCode.USAGE, message}}, null, 2)}\n`)
  else process.stderr.write(`${options.config.bin}: ${terminalSafe(message)}\n`)
}

export default hook
