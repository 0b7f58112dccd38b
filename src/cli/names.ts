import {UsageError} from '../errors.js'
import {checkKeepEntry, type EntryName} from '../sessions/keys.js'

/** The argument that reads the names from stdin. */
export const STDIN = '-'

/** How revoke's errors name a value (never shown when it may be a credential). */
export const REVOKE_NAME: EntryName = {name: 'revoke name', one: 'a revoke name'}

/** More than this on stdin is not a list of session names (a file piped by mistake). */
const MAX_STDIN_BYTES = 1024 * 1024

/**
 * revoke's names, checked before any I/O: the arguments, with `-` replaced by stdin's lines (one
 * name a line, blank lines and a CRLF's CR ignored). No name at all, `-` twice, `-` on a terminal,
 * a stdin with no name, or an argument that looks like a flag (oclif hands unknown flags over as
 * arguments: `--dryrun` must not become a name) is a usage error; a bad name is named by its
 * position ("argument 2", "stdin line 3"), never echoed.
 * `rawArgv` is the command line as given, to tell a value after `--` from a mistyped flag.
 */
export async function readNames(argv: readonly string[], rawArgv: readonly string[], stdin: NodeJS.ReadStream): Promise<string[]> {
  if (argv.length === 0) {
    throw new UsageError('no session named: pass session keys, fingerprints or cookie values as arguments, or - to read them from stdin')
  }

  const stdinCount = argv.filter(a => a === STDIN).length
  if (stdinCount > 1) throw new UsageError('- is given twice: stdin can be read once; put every name on it, one per line')
  const afterDashes = rawArgv.indexOf('--')
  const names: string[] = []
  for (const [i, arg] of argv.entries()) {
    if (arg === STDIN) {
      names.push(...await stdinNames(stdin))
      continue
    }

    // After `--` too: a name spelled like a flag (`-- KEY --dry-run`) is a flag misplaced, never a key.
    if (arg.startsWith('-') && (afterDashes === -1 || rawArgv.indexOf(arg) < afterDashes || /^--[a-z][\da-z-]*(?:=|$)/.test(arg))) {
      const shown = /^--?[a-z][\da-z-]{0,40}$/.test(arg) ? ` ${arg}` : ''
      throw new UsageError(`unknown flag${shown} (argument ${i + 1}): see --help; a key that starts with - goes after --, or on stdin (-)`)
    }

    checkKeepEntry(arg, {name: `argument ${i + 1}`, one: `argument ${i + 1}`})
    names.push(arg)
  }

  return names
}

async function stdinNames(stdin: NodeJS.ReadStream): Promise<string[]> {
  if (stdin.isTTY) {
    throw new UsageError('- reads the names from stdin, but stdin is a terminal: pipe them in (e.g. pbpaste | sessionctl sessions revoke … -), or pass them as arguments')
  }

  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stdin) {
    size += (chunk as Buffer).length
    if (size > MAX_STDIN_BYTES) throw new UsageError(`stdin (-) holds more than ${MAX_STDIN_BYTES / 1024 / 1024} MiB: that is not a list of session names`)
    chunks.push(chunk as Buffer)
  }

  const names: string[] = []
  for (const [i, line] of Buffer.concat(chunks).toString('utf8').split('\n').entries()) {
    const name = line.endsWith('\r') ? line.slice(0, -1) : line
    if (name.trim() === '') continue
    checkKeepEntry(name, {name: `stdin line ${i + 1}`, one: `stdin line ${i + 1}`})
    names.push(name)
  }

  if (names.length === 0) throw new UsageError('stdin (-) holds no session name: pipe keys, fingerprints or cookie values, one per line')
  return names
}
