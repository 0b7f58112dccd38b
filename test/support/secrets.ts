/**
 * The secrets grep. Every run of the tool in the test suite (the built binary through cli.ts,
 * in-process through run.ts) is recorded with its stdout and stderr into one log file under the
 * run's temp dir, and every secret the tests hand the tool is registered here: passwords (from
 * createMysqlUser, URLs, REDIS_PASSWORD/MYSQL_PWD...), Django SECRET_KEYs and raw session keys.
 * After the last test, a root hook (exported by global-setup.ts) greps the recorded output and
 * fails the run naming the test and command, never the secret, where one appeared.
 *
 * Runs with --show-keys legitimately print session keys: they are checked for passwords only.
 */
import {
  appendFileSync, mkdtempSync, readFileSync, rmSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

export type SecretKind = 'password' | 'secret key' | 'session key'

/** Shorter values would match ordinary words ("repl" in "replica"); the tool masks them anyway. */
const MIN_LENGTH = 6

const secrets = new Map<string, SecretKind>()

interface Recorded {
  bytes: number
  command: string
  /** Where its output is in its log file (byte offsets). */
  end: number
  file: string
  showKeys: boolean
  start: number
  test: string
}

const runs: Recorded[] = []
let logDir: string | undefined
const logSize = new Map<string, number>()
let currentTest: string | undefined

/** Registers a value the tool must never print (also its URL-encoded form). */
export function registerSecret(value: string | undefined, kind: SecretKind = 'password'): void {
  if (value === undefined || value.length < MIN_LENGTH) return
  for (const form of new Set([encodeURIComponent(value), value])) {
    if (!secrets.has(form) || kind === 'password') secrets.set(form, kind)
  }
}

/** Session keys a test seeded (raw keys are bearer credentials: printed only with --show-keys). */
export function registerSessionKeys(keys: Iterable<string>): void {
  for (const key of keys) registerSecret(key, 'session key')
}

// The password of a URL, up to the first '@' or (typed unencoded) the last one.
const URL_CREDENTIALS = /[a-z][\w+.-]*:\/\/[^:@/\s]*:([^@\s]+)@/gi
const URL_CREDENTIALS_GREEDY = /([a-z][\w+.-]*:\/\/[^:@/\s]*:)(\S*)@/gi
const SECRET_ENV = /PASSWORD|PWD|SECRET/i
const FINGERPRINT = /^.{0,4}(?:…|\.\.\.)[\da-f]{8}$/

/** Secrets the arguments and environment of a run hand the tool: they must not come back out. */
function harvest(args: readonly string[], env: Record<string, string | undefined>): void {
  const values = [...args, ...Object.values(env).filter((v): v is string => typeof v === 'string')]
  for (const value of values) {
    for (const m of value.matchAll(URL_CREDENTIALS)) registerSecret(safeDecode(m[1]))
    for (const m of value.matchAll(URL_CREDENTIALS_GREEDY)) registerSecret(safeDecode(m[2]))
  }

  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && SECRET_ENV.test(name)) registerSecret(value, name.includes('SECRET') ? 'secret key' : 'password')
  }

  for (const [i, arg] of args.entries()) {
    const next = args[i + 1]
    if (next === undefined) continue
    if (arg === '--secret-key') registerSecret(next, 'secret key')
    if (arg === '--except' && !FINGERPRINT.test(next)) registerSecret(next, 'session key')
  }
}

/** Raw keys a --show-keys --json/ndjson run printed: every other run must keep them masked. */
function harvestShownKeys(stdout: string): void {
  for (const m of stdout.matchAll(/"id":\s*"([^"]+)"/g)) {
    if (!FINGERPRINT.test(m[1])) registerSecret(m[1], 'session key')
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

function dir(): string {
  logDir ??= mkdtempSync(join(tmpdir(), 'sessionctl-test-output-'))
  return logDir
}

/** A command line as it may appear in a report: every registered secret masked. */
function shown(args: readonly string[]): string {
  return mask(['sessionctl', ...args].map(a => (/^[\w./:=@,+-]+$/.test(a) ? a : JSON.stringify(a))).join(' '))
}

function mask(text: string): string {
  let out = text.replaceAll(URL_CREDENTIALS_GREEDY, '$1****@')
  for (const secret of [...secrets.keys()].sort((a, b) => b.length - a.length)) out = out.split(secret).join('****')
  return out
}

/** Called by cli.ts and run.ts after every run of the tool. */
export function recordRun(run: {args: readonly string[]; env?: Record<string, string | undefined>; stderr: string; stdout: string; via: string}): void {
  harvest(run.args, run.env ?? {})
  const showKeys = run.args.includes('--show-keys')
  if (showKeys) harvestShownKeys(run.stdout)
  const test = currentTest ?? '(outside a test: a before/after hook)'
  const command = shown(run.args)
  const file = join(dir(), showKeys ? 'show-keys-output.log' : 'output.log')
  const header = `### ${runs.length} ${run.via} | ${test} | ${command}\n`
  const body = `--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}\n`
  appendFileSync(file, header + body)
  const start = (logSize.get(file) ?? 0) + Buffer.byteLength(header)
  const end = start + Buffer.byteLength(body)
  logSize.set(file, end)
  runs.push({
    bytes: Buffer.byteLength(run.stdout) + Buffer.byteLength(run.stderr), command, end, file, showKeys, start, test,
  })
}

export interface Leak {
  command: string
  kind: SecretKind
  test: string
}

/** Greps the recorded output for every registered secret. */
export function findLeaks(): {bytes: number; leaks: Leak[]; logDir: string | undefined; runs: number; secrets: number} {
  const leaks: Leak[] = []
  const bytes = runs.reduce((n, r) => n + r.bytes, 0)
  const logs = new Map<string, Buffer>()
  for (const run of runs) {
    if (!logs.has(run.file)) logs.set(run.file, readFileSync(run.file))
    const output = logs.get(run.file)!.subarray(run.start, run.end).toString('utf8')
    for (const [secret, kind] of secrets) {
      if (run.showKeys && kind === 'session key') continue
      if (output.includes(secret)) {
        leaks.push({command: run.command, kind, test: run.test})
        break
      }
    }
  }

  return {
    bytes, leaks, logDir, runs: runs.length, secrets: secrets.size,
  }
}

/** Mocha root hooks (exported by global-setup.ts): label runs with their test, grep at the end. */
export const secretsHooks = {
  afterEach(): void {
    currentTest = undefined
  },
  afterAll(): void {
    const {bytes, leaks, logDir: where, runs: n, secrets: k} = findLeaks()
    console.log(`secrets: ${n} command runs, ${bytes} bytes of output, ${k} secrets checked, ${leaks.length} leaks`)
    if (leaks.length > 0) {
      const lines = leaks.map(l => `  - ${l.kind} printed by "${mask(l.command)}" in test "${l.test}"`)
      throw new Error(`secrets leaked into the tool's output (${leaks.length}; full output in ${where}):\n${lines.join('\n')}`)
    }

    if (where) rmSync(where, {force: true, recursive: true})
  },
  beforeEach(this: Mocha.Context): void {
    currentTest = this.currentTest?.fullTitle()
  },
}
