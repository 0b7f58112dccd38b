import {spawn} from 'node:child_process'

/**
 * One operation of a framework oracle (test/php/oracle.php, test/flask/oracle.py,
 * test/rails/oracle.rb) in a fresh process: `command [...args, op]`, the parameters as JSON on
 * stdin (bigints as `{__int: '…'}`), one JSON document on stdout. Rejects with the oracle's
 * one-line error, or when it runs longer than `timeoutMs` (killed).
 */
export function runOracle<T>(
  name: string,
  command: string,
  args: readonly string[],
  params: object,
  options: {env?: NodeJS.ProcessEnv; timeoutMs: number},
): Promise<T> {
  const op = args.at(-1)
  const input = JSON.stringify(params, (_key, value: unknown) => (typeof value === 'bigint' ? {__int: value.toString()} : value))
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {...(options.env ? {env: options.env} : {}), stdio: ['pipe', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs)
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d
    })
    child.on('error', error => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (code !== 0) {
        reject(new Error(`${name} oracle ${op} failed (${signal ?? `exit ${code}`}): ${err.trim() || '(no stderr)'}`))
        return
      }

      try {
        resolve(JSON.parse(out) as T)
      } catch {
        reject(new Error(`${name} oracle ${op}: not one JSON document on stdout: ${out.slice(0, 200)} ${err.trim()}`))
      }
    })
    child.stdin.on('error', () => {}) // an oracle that died early; 'close' reports it
    child.stdin.end(input)
  })
}
