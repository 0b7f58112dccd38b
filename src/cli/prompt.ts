import {ExitCode, SessionctlError, UsageError} from '../errors.js'
import {registerSecret} from './redact.js'
import {terminalSafe} from './render.js'

/**
 * Confirmation prompts. "No terminal" is decided up front: prompts throw when stdin is at
 * end-of-file, and a purge from a script must refuse cleanly rather than half-ask.
 */
export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY) && Boolean(process.stderr.isTTY)
}

/**
 * Asks on stderr (stdout may carry JSON); the default answer is no. `signal` (the command's
 * SIGINT/SIGTERM/SIGHUP/SIGQUIT) ends the question with "no" too.
 */
export async function confirmOnTerminal(message: string, signal?: AbortSignal): Promise<boolean> {
  // A terminal that cannot move the cursor (TERM=dumb: Emacs shells, some CI consoles) gets a plain question.
  if (process.env.TERM === 'dumb') return plainConfirm(terminalSafe(message), signal)
  const {default: confirm} = await import('@inquirer/confirm')
  if (signal?.aborted) return false
  try {
    return await confirm({default: false, message: terminalSafe(message)}, {output: process.stderr, signal})
  } catch {
    // Ctrl-C, a signal or a closed terminal while asking: treat as "no".
    return false
  }
}

/**
 * --ask-pass: the password of each store, asked on the terminal (never echoed), once per scheme,
 * user and host (a profile of several stores on one server asks once), and put in the URL the
 * store opens with (registered for redaction first). Asked after every setting is checked and
 * before anything connects. Without a terminal it is a usage error, before anything is asked.
 */
export async function askPasswords(urls: readonly string[]): Promise<string[]> {
  if (!canPrompt()) {
    throw new UsageError('--ask-pass needs a terminal to ask on, and there is none: give the password through a profile\'s "passwordEnv", or MYSQL_PWD, PGPASSWORD or REDIS_PASSWORD')
  }

  const asked = new Map<string, string>()
  const filled: string[] = []
  for (const url of urls) {
    const parts = AUTHORITY.exec(url)
    if (!parts) throw new UsageError('--ask-pass: a store URL has no host to ask the password for')
    const [, scheme, userinfo, host, rest] = parts
    const user = userinfo === undefined ? '' : userinfo.slice(0, -1).split(':')[0]
    const who = `${scheme}${user === '' ? '' : `${safeDecode(user)}@`}${host}`
    let password = asked.get(who)
    if (password === undefined) {
      password = await readHidden(`Password for ${terminalSafe(who)}: `)
      if (password === '') throw new UsageError(`--ask-pass: no password typed for ${who}; nothing was read`)
      registerSecret(password)
      asked.set(who, password)
    }

    filled.push(`${scheme}${user}:${encodeURIComponent(password)}@${host}${rest}`)
  }

  return filled
}

/** scheme://, userinfo@ (optional), the host list, the rest. */
const AUTHORITY = /^([a-z][\d+.a-z-]*:\/\/)([^/?#@]*@)?([^/?#]+)(.*)$/is

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/**
 * One line read from the terminal in raw mode, echoing nothing (not even asterisks: the length
 * is a secret too). Backspace edits; Enter ends; Ctrl-C or Ctrl-D on an empty line declines.
 */
function readHidden(question: string): Promise<string> {
  const {stdin} = process
  return new Promise((resolve, reject) => {
    let text = ''
    const finish = (error?: Error): void => {
      stdin.off('data', onData)
      stdin.setRawMode(false)
      stdin.pause()
      process.stderr.write('\n')
      if (error) reject(error)
      else resolve(text)
    }

    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          finish()
          return
        }

        if (ch === '\u0003' || (ch === '\u0004' && text === '')) {
          finish(new SessionctlError('no password given (--ask-pass): nothing was read or changed', ExitCode.REFUSED))
          return
        }

        if (ch === '\u007F' || ch === '\b') text = [...text].slice(0, -1).join('')
        else if (ch >= ' ') text += ch
      }
    }

    process.stderr.write(question)
    stdin.setEncoding('utf8')
    stdin.setRawMode(true)
    stdin.on('data', onData)
    stdin.resume()
  })
}

/** `question (y/N) `, one line read with readline: no escape sequence written. Anything but y/yes is no. */
async function plainConfirm(message: string, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false
  const {createInterface} = await import('node:readline/promises')
  const rl = createInterface({input: process.stdin, output: process.stderr, terminal: false})
  try {
    process.stderr.write(`${message} (y/N) `)
    const answer = await rl.question('', signal ? {signal} : {})
    return /^y(?:es)?$/i.test(answer.trim())
  } catch {
    return false
  } finally {
    rl.close()
  }
}
