/**
 * Throwaway MariaDB / Redis / Redis Cluster / PostgreSQL servers spawned from the system binaries,
 * for the integration tests, the demo and the benchmark. No Docker, no downloads.
 *
 * Every server lives in its own temp dir, listens on 127.0.0.1 on a free port (never 3306 / 6379 / 5432),
 * and is killed when this process exits: on a normal exit by a process 'exit' hook, and even when
 * this process is SIGKILLed by a small detached watchdog that notices its stdin pipe closing.
 */
import mysql, {type Connection, type ConnectionOptions} from 'mysql2/promise'
import {type ChildProcess, execFile, spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {
  accessSync, chownSync, closeSync, existsSync, constants as fsConstants, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync,
} from 'node:fs'
import {readFile, rm} from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

import {registerSecret} from './secrets.js'

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

interface Controllable {
  /** Sends `signal` (default SIGKILL) and resolves once the process has exited. Keeps the data dir. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** SIGSTOP: the port stays open but nothing answers. */
  pause(): void
  /** Stops the process if it runs, then starts it again on the same port with the same dir. */
  restart(): Promise<void>
  /** SIGCONT. */
  resume(): void
  /** Graceful stop (SIGTERM, SIGKILL after 10 s), then removes the temp dir. Idempotent. */
  stop(): Promise<void>
}

export interface MariaDbServer extends Controllable {
  dataDir: string
  /** pid of the current process (changes on restart) */
  pid: number
  port: number
  socket: string
  /** mysql://root@127.0.0.1:PORT (root has no password) */
  url: string
}

export interface RedisServer extends Controllable {
  dir: string
  pid: number
  port: number
  /** redis://127.0.0.1:PORT */
  url: string
}

export interface RedisCluster {
  nodes: RedisServer[]
  /** ['127.0.0.1:P1', ...] */
  /**
   * Resolves once every node reports cluster_state:ok with all slots and all nodes known. Call it
   * after `nodes[i].restart()`: a restarted node answers PING at once, but the cluster only turns
   * back to ok after about 2 s (Redis' CLUSTER_WRITABLE_DELAY).
   */
  ready(): Promise<void>
  seeds: string[]
  stop(): Promise<void>
  /** redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3 */
  url: string
}

export interface StartMariaDbOptions {
  /** --innodb-buffer-pool-size, default '128M' */
  bufferPoolSize?: string
  /** appended to the mariadbd command line (later options win) */
  extraArgs?: string[]
  /**
   * Copy a data dir installed once per process instead of running mariadb-install-db for every
   * server (default true; measured 0.04 s for the copy against 0.5 s for an install).
   */
  template?: boolean
  /**
   * Keep the server's files in this dir across runs (the benchmark's seeded data): installed on
   * first use, reused after, never removed by stop().
   */
  keepIn?: string
}

export const APT_LINE = 'sudo apt-get install -y mariadb-server redis-server'

export const ENV_MYSQL_URL = 'SESSIONCTL_TEST_MYSQL_URL'
export const ENV_REDIS_URL = 'SESSIONCTL_TEST_REDIS_URL'
export const ENV_REDIS_CLUSTER_URL = 'SESSIONCTL_TEST_REDIS_CLUSTER_URL'
export const ENV_POSTGRES_URL = 'SESSIONCTL_TEST_POSTGRES_URL'

/** How long each start took in this process (the tests print them). */
export const startupTimings: {kind: 'mariadb' | 'postgres' | 'postgres-replica' | 'redis' | 'redis-cluster'; ms: number}[] = []

const READY_DEADLINE_MS = 30_000
const STOP_GRACE_MS = 10_000
const START_ATTEMPTS = 5
const TMP_PREFIX = 'sessionctl-'

// ---------------------------------------------------------------------------------------------
// Binaries
// ---------------------------------------------------------------------------------------------

const EXTRA_BIN_DIRS = ['/usr/sbin', '/usr/bin', '/sbin', '/usr/local/sbin', '/usr/local/bin']

function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...EXTRA_BIN_DIRS]
  for (const dir of dirs) {
    const candidate = path.join(dir, name)
    try {
      accessSync(candidate, fsConstants.X_OK)
      return candidate
    } catch {
      // keep looking
    }
  }

  return undefined
}

function requireBinary(name: string): string {
  const found = findBinary(name)
  if (!found) throw missingPackagesError()
  return found
}

const PACKAGE_BINARIES: Record<string, string[]> = {
  'mariadb-server': ['mariadbd', 'mariadb-install-db'],
  'redis-server': ['redis-server', 'redis-cli'],
  // looked up in /usr/lib/postgresql/*/bin first (findPgBinary)
  postgresql: ['initdb', 'postgres'],
  'postgresql-client': ['psql', 'pg_basebackup'],
}

/** The packages of the global servers (global-setup.ts), the demo and the benchmark: APT_LINE's. */
const DEFAULT_PACKAGES = ['mariadb-server', 'redis-server']
const PG_PACKAGE_NAMES = new Set(['postgresql', 'postgresql-client'])

/**
 * Debian/Ubuntu packages whose binaries are missing ([] when everything needed is installed), of
 * `packages` (default: MariaDB's and Redis'; PostgreSQL's are POSTGRES_PACKAGES).
 */
export function missingSystemPackages(packages: string[] = DEFAULT_PACKAGES): string[] {
  return Object.entries(PACKAGE_BINARIES)
  .filter(([pkg]) => packages.includes(pkg))
  .filter(([pkg, bins]) => bins.some(bin => !(PG_PACKAGE_NAMES.has(pkg) ? findPgBinary(bin) : findBinary(bin))))
  .map(([pkg]) => pkg)
}

/** The error to throw when the integration servers cannot be started for lack of packages. */
export function missingPackagesError(missing = missingSystemPackages()): Error {
  const detail = missing.map(pkg => `${pkg} (${PACKAGE_BINARIES[pkg].join(', ')})`).join(' and ')
  const others = missing.filter(pkg => !DEFAULT_PACKAGES.includes(pkg))
  const defaults = others.length < missing.length || missing.length === 0
  const aptLine = others.length === 0 ? APT_LINE : (defaults ? `${APT_LINE} ${others.join(' ')}` : `sudo apt-get install -y ${others.join(' ')}`)
  const dirs = [...EXTRA_BIN_DIRS, ...(missing.some(pkg => PG_PACKAGE_NAMES.has(pkg)) ? [`${PG_LIB_DIR}/*/bin`] : [])]
  return new Error([
    `The integration tests need real servers, but ${detail || 'a server binary'} could not be found in PATH or ${dirs.join(', ')}.`,
    `Install them with:\n  ${aptLine}`,
    ...(defaults ? [`(or point ${ENV_MYSQL_URL}, ${ENV_REDIS_URL} and ${ENV_REDIS_CLUSTER_URL} at throwaway servers)`] : []),
  ].join('\n'))
}

const isRoot = process.getuid?.() === 0

// ---------------------------------------------------------------------------------------------
// Child tracking: nothing outlives this process
// ---------------------------------------------------------------------------------------------

interface Tracked {
  child: ChildProcess
  exitCode: null | number
  exited: Promise<void>
  exitSignal: NodeJS.Signals | null
  pid: number
  running: boolean
}

const liveChildren = new Set<Tracked>()
const liveDirs = new Set<string>()
let exitHookInstalled = false
let watchdog: ChildProcess | undefined

// Runs detached, so neither Ctrl-C nor a SIGKILL of this process reaches it; when its stdin closes
// (this process is gone, however it died) it SIGKILLs the pids and removes the dirs it was told of.
const WATCHDOG_SOURCE = `
const {rmSync} = require('node:fs')
const pids = new Set(), dirs = new Set()
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGPIPE']) process.on(s, () => {})
let buf = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (d) => {
  buf += d
  let i
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i); buf = buf.slice(i + 1)
    const sp = line.indexOf(' '), op = line.slice(0, sp), arg = line.slice(sp + 1)
    if (op === 'pid') pids.add(Number(arg))
    else if (op === 'unpid') pids.delete(Number(arg))
    else if (op === 'dir') dirs.add(arg)
    else if (op === 'undir') dirs.delete(arg)
  }
})
let done = false
const cleanup = () => {
  if (done) return
  done = true
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch {} }
  setTimeout(() => {
    for (const dir of dirs) { try { rmSync(dir, {recursive: true, force: true, maxRetries: 5}) } catch {} }
    process.exit(0)
  }, pids.size > 0 ? 300 : 0)
}
process.stdin.on('end', cleanup)
process.stdin.on('close', cleanup)
process.stdin.on('error', cleanup)
`

function tellWatchdog(line: string): void {
  if (!watchdog) {
    watchdog = spawn(process.execPath, ['-e', WATCHDOG_SOURCE], {detached: true, stdio: ['pipe', 'ignore', 'ignore']})
    watchdog.on('error', () => {})
    watchdog.stdin?.on('error', () => {})
    watchdog.unref();
    (watchdog.stdin as net.Socket | null)?.unref()
  }

  if (watchdog.stdin?.writable) watchdog.stdin.write(line + '\n')
}

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const t of liveChildren) {
      try {
        process.kill(t.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }

    for (const dir of liveDirs) {
      try {
        rmSync(dir, {force: true, maxRetries: 3, recursive: true})
      } catch {
        // the watchdog retries
      }
    }
  })
}

function trackDir(dir: string): void {
  installExitHook()
  liveDirs.add(dir)
  tellWatchdog(`dir ${dir}`)
}

async function removeDir(dir: string): Promise<void> {
  await rm(dir, {force: true, maxRetries: 5, recursive: true})
  liveDirs.delete(dir)
  tellWatchdog(`undir ${dir}`)
}

async function makeTempDir(kind: string): Promise<string> {
  // synchronous on purpose: a crash between an async mkdtemp and its callback would leak the dir
  const dir = mkdtempSync(path.join(os.tmpdir(), `${TMP_PREFIX}${kind}-`))
  trackDir(dir)
  return dir
}

interface SpawnOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
}

/** Spawns with stdout+stderr appended to `logFile`; never inherits stdio; never keeps the event loop alive. */
function spawnTracked(command: string, args: string[], logFile: string, options: SpawnOptions = {}): Tracked {
  installExitHook()
  const fd = openSync(logFile, 'a')
  let child: ChildProcess
  try {
    child = spawn(command, args, {...options, stdio: ['ignore', fd, fd]})
  } finally {
    closeSync(fd)
  }

  let resolveExit!: () => void
  const tracked: Tracked = {
    child,
    exitCode: null,
    exited: new Promise<void>(resolve => {
      resolveExit = resolve
    }),
    exitSignal: null,
    pid: child.pid ?? -1,
    running: child.pid !== undefined,
  }
  const onGone = (code: null | number, signal: NodeJS.Signals | null) => {
    if (tracked.pid > 0) tellWatchdog(`unpid ${tracked.pid}`)
    tracked.running = false
    tracked.exitCode = code
    tracked.exitSignal = signal
    liveChildren.delete(tracked)
    resolveExit()
  }

  child.on('exit', onGone)
  child.on('error', () => {
    if (tracked.running && child.pid !== undefined) return // a failed kill(), not a failed spawn
    onGone(null, null)
  })
  if (tracked.running) {
    liveChildren.add(tracked)
    tellWatchdog(`pid ${tracked.pid}`)
  }

  child.unref()
  return tracked
}

function signalTracked(t: Tracked, signal: NodeJS.Signals): void {
  if (!t.running) return
  try {
    process.kill(t.pid, signal)
  } catch {
    // raced with its exit
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => {
    setTimeout(resolve, ms)
  })
}

function threadStates(pid: number): string[] | undefined {
  const taskDir = `/proc/${pid}/task`
  let tids: string[]
  try {
    tids = readdirSync(taskDir)
  } catch {
    return undefined // no procfs, or the process is gone
  }

  return tids.flatMap(tid => {
    try {
      const stat = readFileSync(`${taskDir}/${tid}/stat`, 'utf8')
      return [stat.charAt(stat.lastIndexOf(')') + 2)]
    } catch {
      return [] // that thread just exited
    }
  })
}

/** Blocks (synchronously, pause() is sync) until all threads of `pid` are stopped; Linux only. */
function waitUntilStopped(pid: number, timeoutMs = 5000): void {
  const deadline = Date.now() + timeoutMs
  const cell = new Int32Array(new SharedArrayBuffer(4))
  for (;;) {
    const states = threadStates(pid)
    if (!states || states.every(state => 'TtZX'.includes(state))) return
    if (Date.now() > deadline) throw new Error(`pid ${pid} did not stop within ${timeoutMs} ms (thread states ${states.join('')})`)
    Atomics.wait(cell, 0, 0, 1)
  }
}

/** Sends `signal`, waits `graceMs` for the exit, then SIGKILLs and waits for good. */
async function terminate(t: Tracked, signal: NodeJS.Signals, graceMs = STOP_GRACE_MS): Promise<void> {
  if (!t.running) return
  signalTracked(t, signal)
  // a SIGSTOPped process only acts on the signal once continued
  if (signal !== 'SIGKILL') signalTracked(t, 'SIGCONT')
  let timer: NodeJS.Timeout | undefined
  const timedOut = await Promise.race([
    t.exited.then(() => false),
    new Promise<boolean>(resolve => {
      timer = setTimeout(() => resolve(true), graceMs)
    }),
  ])
  clearTimeout(timer)
  if (timedOut) {
    signalTracked(t, 'SIGKILL')
    await t.exited
  }
}

async function tail(file: string, lines = 30): Promise<string> {
  try {
    const text = await readFile(file, 'utf8')
    return text.trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return `(no ${file})`
  }
}

function run(command: string, args: string[], timeoutMs: number): Promise<{output: string}> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        env: {...process.env, PATH: [process.env.PATH, '/usr/sbin', '/sbin'].filter(Boolean).join(path.delimiter)},
        maxBuffer: 16 * 1024 * 1024,
        timeout: timeoutMs,
      },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`.trim()
        if (error) {
          reject(new Error(`${path.basename(command)} ${args.join(' ')} failed (${error.message.split('\n')[0]}):\n${output}`))
        } else resolve({output})
      },
    )
  })
}

// ---------------------------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------------------------

const AVOIDED_PORTS = new Set([3306, 5432, 6379, 9200, 9300, 11_211, 15_672, 16_379, 25_672, 27_017, 33_060])
const handedOut = new Set<number>()

function ephemeralLow(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (Number.isInteger(low) && low > 1024) return low
  } catch {
    // not Linux
  }

  return 32_768
}

function canBind(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const server = net.createServer()
    server.unref()
    server.once('error', () => resolve(false))
    server.listen({exclusive: true, host: '127.0.0.1', port}, () => {
      server.close(() => resolve(true))
    })
  })
}

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen({exclusive: true, host: '127.0.0.1', port: 0}, () => {
      const {port} = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/**
 * A port free on 127.0.0.1 right now. Picked at random BELOW the kernel's ephemeral range: a port
 * the kernel handed out for `listen(0)` can later be picked as the *local* port of a client that
 * keeps reconnecting to it while the server is down (kill/pause tests), and then the client
 * connects to itself (TCP simultaneous open). Falls back to `listen(0)`.
 * With `busOffset` (Redis Cluster: port + 10000) both ports must be free.
 */
async function pickPort(busOffset = 0): Promise<number> {
  const low = 15_000
  const high = ephemeralLow() - 1 - busOffset
  if (high - low >= 1000) {
    for (let i = 0; i < 200; i++) {
      const port = low + Math.floor(Math.random() * (high - low + 1))
      if (handedOut.has(port) || AVOIDED_PORTS.has(port) || AVOIDED_PORTS.has(port + busOffset)) continue

      if (!(await canBind(port)) || (busOffset > 0 && !(await canBind(port + busOffset)))) continue
      handedOut.add(port)
      return port
    }
  }

  for (let i = 0; i < 200; i++) {
    const port = await kernelPort()
    if (handedOut.has(port) || AVOIDED_PORTS.has(port) || port + busOffset > 65_535) continue

    if (busOffset > 0 && !(await canBind(port + busOffset))) continue
    handedOut.add(port)
    return port
  }

  throw new Error('could not find a free TCP port on 127.0.0.1')
}

export function freePort(): Promise<number> {
  return pickPort(0)
}

class StartError extends Error {
  constructor(
    message: string,
    readonly addressInUse: boolean,
  ) {
    super(message)
  }
}

const ADDRESS_IN_USE = /address already in use|errno:? ?98\b|error:? 98\b/i

// ---------------------------------------------------------------------------------------------
// Common server lifecycle
// ---------------------------------------------------------------------------------------------

abstract class ManagedServer implements Controllable {
  /** what restart() and stop() send first */
  protected gracefulSignal: NodeJS.Signals = 'SIGTERM'
  protected proc: Tracked | undefined
  private removed = false

  constructor(
    readonly port: number,
    protected readonly home: string,
    private readonly keepFiles = false,
  ) {}

  get pid(): number {
    return this.proc?.running ? this.proc.pid : -1
  }

  protected abstract describe(): string

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.terminateProc(signal)
  }

  /** Spawns the process and resolves when it serves requests (kills it and rejects otherwise). */
  abstract launch(): Promise<Tracked>

  pause(): void {
    this.signal('SIGSTOP')
    // SIGSTOP is asynchronous: measured, 7 of 40 queries sent right after kill() were still
    // answered. Return only once every thread is stopped.
    waitUntilStopped(this.proc!.pid)
  }

  async restart(): Promise<void> {
    if (this.removed) throw new Error(`${this.describe()} was stopped and its dir removed; it cannot restart`)
    await this.terminateProc(this.gracefulSignal)
    this.proc = await this.launch()
  }

  resume(): void {
    this.signal('SIGCONT')
  }

  async stop(): Promise<void> {
    await this.terminateProc(this.gracefulSignal)
    if (!this.removed && !this.keepFiles) {
      this.removed = true
      await removeDir(this.home)
    }
  }

  /** Ends the current process: `signal`, then SIGKILL after STOP_GRACE_MS. */
  protected async terminateProc(signal: NodeJS.Signals): Promise<void> {
    if (this.proc) await terminate(this.proc, signal)
  }

  private signal(signal: NodeJS.Signals): void {
    if (!this.proc?.running) throw new Error(`${this.describe()} is not running`)
    process.kill(this.proc.pid, signal)
  }
}

/** Retries on a port taken between the pick and the bind. */
async function startOnFreePort<S extends ManagedServer>(
  pick: () => Promise<number>,
  create: (port: number) => S,
): Promise<S> {
  let lastError: unknown
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const server = create(await pick())
    try {
      await server.restart()
      return server
    } catch (error) {
      lastError = error
      if (!(error instanceof StartError && error.addressInUse)) break
    }
  }

  throw lastError
}

// ---------------------------------------------------------------------------------------------
// MariaDB
// ---------------------------------------------------------------------------------------------

// mariadb-install-db options that change the on-disk format; a template is cached per combination.
const INSTALL_TIME_OPTION = /^--(innodb[-_]page[-_]size|innodb[-_]data[-_]file[-_]path|innodb[-_]undo[-_]tablespaces|lower[-_]case[-_]table[-_]names|innodb[-_]checksum[-_]algorithm)=/
const templates = new Map<string, Promise<string>>()

async function installDataDir(dataDir: string, installArgs: string[]): Promise<void> {
  const args = [
    '--no-defaults',
    `--datadir=${dataDir}`,
    '--auth-root-authentication-method=normal',
    '--skip-test-db',
    // a small redo log keeps the copy of the template cheap; mariadbd resizes it at start (instant)
    '--innodb-log-file-size=8M',
    ...(isRoot ? [`--user=${os.userInfo().username}`] : []),
    ...installArgs,
  ]
  try {
    await run(requireBinary('mariadb-install-db'), args, 120_000)
  } catch (error) {
    throw new Error(`mariadb-install-db failed for ${dataDir}: ${(error as Error).message}`)
  }
}

function templateDataDir(installArgs: string[]): Promise<string> {
  const key = JSON.stringify(installArgs)
  let template = templates.get(key)
  if (!template) {
    template = (async () => {
      const dir = await makeTempDir('mariadb-template')
      const dataDir = path.join(dir, 'data')
      await installDataDir(dataDir, installArgs)
      return dataDir
    })()
    templates.set(key, template)
    template.catch(() => templates.delete(key))
  }

  return template
}

/**
 * Connects over TCP and checks that the server behind the port is OURS (by its socket path): while
 * our mariadbd is still starting, or failing to bind, another server may answer on that port.
 */
async function probeMysql(port: number, socket: string): Promise<void> {
  const conn = await mysql.createConnection({
    connectTimeout: 2000, host: '127.0.0.1', port, user: 'root',
  })
  try {
    const [rows] = await conn.query('SELECT @@socket AS socket')
    const actual = (rows as {socket: string}[])[0]?.socket
    if (actual !== socket) throw new Error(`another server answers on port ${port} (socket ${actual})`)
  } finally {
    conn.destroy()
  }
}

class MariaDb extends ManagedServer implements MariaDbServer {
  readonly dataDir: string
  readonly errorLog: string
  readonly socket: string
  readonly url: string

  constructor(
    port: number,
    home: string,
    private readonly serverArgs: string[],
    keepFiles = false,
  ) {
    super(port, home, keepFiles)
    this.dataDir = path.join(home, 'data')
    this.socket = path.join(home, 'mysqld.sock')
    this.errorLog = path.join(home, 'error.log')
    this.url = `mysql://root@127.0.0.1:${port}`
  }

  protected describe(): string {
    return `MariaDB on port ${this.port}`
  }

  async launch(): Promise<Tracked> {
    const args = [
      '--no-defaults',
      `--datadir=${this.dataDir}`,
      `--socket=${this.socket}`,
      `--port=${this.port}`,
      '--bind-address=127.0.0.1',
      '--skip-log-bin',
      '--skip-name-resolve',
      `--pid-file=${path.join(this.home, 'mysqld.pid')}`,
      `--log-error=${this.errorLog}`,
      ...(isRoot ? ['--user=root'] : []),
      ...this.serverArgs,
    ]
    const proc = spawnTracked(requireBinary('mariadbd'), args, path.join(this.home, 'stdout.log'))
    const deadline = Date.now() + READY_DEADLINE_MS
    let lastError: unknown
    while (proc.running && Date.now() < deadline) {
      try {
        await probeMysql(this.port, this.socket)
        if (proc.running) return proc
      } catch (error) {
        lastError = error
      }

      await sleep(25)
    }

    const exited = !proc.running
    await terminate(proc, 'SIGKILL')
    const log = await tail(this.errorLog)
    const why = exited
      ? `mariadbd exited (${proc.exitSignal ?? `code ${proc.exitCode}`}) before accepting connections`
      : `mariadbd did not accept connections within ${READY_DEADLINE_MS / 1000} s (last error: ${(lastError as Error | undefined)?.message})`
    throw new StartError(`${why} on 127.0.0.1:${this.port}, data dir ${this.dataDir}.\n--- tail of ${this.errorLog} ---\n${log}`, ADDRESS_IN_USE.test(log))
  }
}

export async function startMariaDb(opts: StartMariaDbOptions = {}): Promise<MariaDbServer> {
  const started = performance.now()
  requireBinary('mariadbd')
  requireBinary('mariadb-install-db')
  const extraArgs = opts.extraArgs ?? []
  const installArgs = extraArgs.filter(arg => INSTALL_TIME_OPTION.test(arg))
  const home = opts.keepIn ?? (await makeTempDir('mariadb'))
  const dataDir = path.join(home, 'data')
  try {
    if (opts.keepIn) mkdirSync(home, {recursive: true})
    // `cp -r` of the template measured 40 ms against 120 ms for fs.cp (26 MB, mostly ibdata1 and
    // the 8 MB redo log) and 500 ms for mariadb-install-db
    if (!opts.keepIn || !existsSync(dataDir)) {
      await (opts.template === false
        ? installDataDir(dataDir, installArgs)
        : run('cp', ['-r', await templateDataDir(installArgs), dataDir], 60_000))
    }

    const serverArgs = [
      `--innodb-buffer-pool-size=${opts.bufferPoolSize ?? '128M'}`,
      // what Debian's /etc/mysql/mariadb.conf.d/50-server.cnf sets (skipped by --no-defaults)
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_general_ci',
      '--innodb-buffer-pool-load-at-startup=0',
      '--innodb-buffer-pool-dump-at-shutdown=0',
      ...extraArgs,
    ]
    const server = await startOnFreePort(pickPort, port => new MariaDb(port, home, serverArgs, Boolean(opts.keepIn)))
    startupTimings.push({kind: 'mariadb', ms: Math.round(performance.now() - started)})
    return server
  } catch (error) {
    if (!opts.keepIn) await removeDir(home)
    throw error
  }
}

// ---------------------------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------------------------

/** One command over a fresh connection, raw RESP (no client library, no retries). */
export function redisCommand(port: number, args: string[], timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({host: '127.0.0.1', port})
    let buf = Buffer.alloc(0)
    const finish = (error: Error | undefined, value?: string) => {
      socket.destroy()
      if (error) reject(error)
      else resolve(value ?? '')
    }

    socket.setTimeout(timeoutMs, () => finish(new Error(`redis on port ${port}: no reply within ${timeoutMs} ms`)))
    socket.on('error', error => finish(error))
    socket.on('connect', () => {
      socket.write(`*${args.length}\r\n${args.map(a => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`)
    })
    socket.on('data', chunk => {
      buf = Buffer.concat([buf, chunk])
      const eol = buf.indexOf('\r\n')
      if (eol === -1) return
      const head = buf.subarray(0, eol).toString()
      if (head.startsWith('-')) finish(new Error(head.slice(1)))
      else if (head.startsWith('$') || head.startsWith('=') || head.startsWith('!')) {
        const len = Number(head.slice(1))
        if (len < 0) finish(undefined, '')
        else if (buf.length >= eol + 2 + len) finish(undefined, buf.subarray(eol + 2, eol + 2 + len).toString())
      } else finish(undefined, head.slice(1))
    })
    socket.on('close', () => finish(new Error(`redis on port ${port} closed the connection`)))
  })
}

/** process_id from INFO server: which redis-server answers on that port. */
async function redisPid(port: number): Promise<number> {
  const info = await redisCommand(port, ['INFO', 'server'])
  return Number(/^process_id:(\d+)/m.exec(info)?.[1])
}

class Redis extends ManagedServer implements RedisServer {
  readonly log: string
  readonly url: string

  constructor(
    port: number,
    readonly dir: string,
    private readonly extraArgs: string[],
    keepFiles = false,
  ) {
    super(port, dir, keepFiles)
    this.url = `redis://127.0.0.1:${port}`
    this.log = path.join(dir, 'redis.log')
  }

  protected describe(): string {
    return `Redis on port ${this.port}`
  }

  async launch(): Promise<Tracked> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      ...this.extraArgs,
    ]
    const proc = spawnTracked(requireBinary('redis-server'), args, this.log)
    const deadline = Date.now() + READY_DEADLINE_MS
    let lastError: unknown
    while (proc.running && Date.now() < deadline) {
      try {
        if ((await redisPid(this.port)) !== proc.pid) throw new Error(`another server answers on port ${this.port}`)

        if ((await redisCommand(this.port, ['PING'])) === 'PONG' && proc.running) return proc
      } catch (error) {
        lastError = error
      }

      await sleep(10)
    }

    const exited = !proc.running
    await terminate(proc, 'SIGKILL')
    const log = await tail(this.log)
    const why = exited
      ? `redis-server exited (${proc.exitSignal ?? `code ${proc.exitCode}`}) before answering PING`
      : `redis-server did not answer PING within ${READY_DEADLINE_MS / 1000} s (last error: ${(lastError as Error | undefined)?.message})`
    throw new StartError(`${why} on 127.0.0.1:${this.port}, dir ${this.dir}.\n--- tail of ${this.log} ---\n${log}`, ADDRESS_IN_USE.test(log))
  }
}

async function startRedisNode(extraArgs: string[], busOffset: number, keepIn?: string): Promise<Redis> {
  requireBinary('redis-server')
  const dir = keepIn ? path.resolve(keepIn) : await makeTempDir('redis')
  if (keepIn) mkdirSync(dir, {recursive: true})
  try {
    return await startOnFreePort(
      () => pickPort(busOffset),
      port => new Redis(port, dir, extraArgs.map(a => a.replaceAll('{dir}', dir)), Boolean(keepIn)),
    )
  } catch (error) {
    if (!keepIn) await removeDir(dir)
    throw error
  }
}

export interface StartRedisOptions {
  /** appended to the redis-server command line (later options win) */
  extraArgs?: string[]
  /**
   * Keep the server's files in this dir across runs (the benchmark's seeded keyspace): it loads
   * `<keepIn>/dump.rdb` at start if there is one, never removed by stop(). Still `--save ""`:
   * the data is written only when told (SAVE), so what a run changes is gone at the next start.
   */
  keepIn?: string
}

/**
 * Note: started with `--save "" --appendonly no`, so `restart()` brings back an EMPTY Redis unless
 * `extraArgs` enable persistence (or, with `keepIn`, what the last SAVE wrote).
 */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const started = performance.now()
  const keepArgs = opts.keepIn ? ['--dbfilename', 'dump.rdb'] : []
  const server = await startRedisNode([...keepArgs, ...(opts.extraArgs ?? [])], 0, opts.keepIn)
  startupTimings.push({kind: 'redis', ms: Math.round(performance.now() - started)})
  return server
}

const CLUSTER_BUS_OFFSET = 10_000

/**
 * A Redis Cluster of `masters` masters, each with `replicas` replicas (default 0): with replicas,
 * killing a master (or CLUSTER FAILOVER on its replica) promotes the replica after about
 * 2 s (--cluster-node-timeout). Which node is a master changes then: ask the servers (ROLE).
 */
export async function startRedisCluster(opts: {masters?: number; replicas?: number} = {}): Promise<RedisCluster> {
  const started = performance.now()
  const masters = opts.masters ?? 3
  const replicas = opts.replicas ?? 0
  if (masters < 3) throw new Error('a Redis Cluster needs at least 3 masters')
  const redisCli = requireBinary('redis-cli')
  const clusterArgs = [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    '{dir}/nodes.conf',
    '--cluster-node-timeout',
    '2000',
  ]
  const results = await Promise.allSettled(Array.from({length: masters * (1 + replicas)}, () => startRedisNode(clusterArgs, CLUSTER_BUS_OFFSET)))
  const nodes = results.flatMap(r => (r.status === 'fulfilled' ? [r.value] : []))
  const stop = async () => {
    await Promise.all(nodes.map(node => node.stop()))
  }

  try {
    const failed = results.find(r => r.status === 'rejected')
    if (failed) throw (failed as PromiseRejectedResult).reason
    const seeds = nodes.map(node => `127.0.0.1:${node.port}`)
    await run(redisCli, ['--cluster', 'create', ...seeds, '--cluster-replicas', String(replicas), '--cluster-yes'], 60_000)
    await waitForCluster(nodes)
    if (replicas > 0) await waitForReplicas(nodes, masters * replicas)
    startupTimings.push({kind: 'redis-cluster', ms: Math.round(performance.now() - started)})
    return {
      nodes, ready: () => waitForCluster(nodes), seeds, stop, url: `redis+cluster://${seeds.join(',')}`,
    }
  } catch (error) {
    await stop()
    throw error
  }
}

/** Until every node reports cluster_state:ok, all slots assigned and all nodes known. */
async function waitForCluster(nodes: Redis[]): Promise<void> {
  const deadline = Date.now() + READY_DEADLINE_MS
  const expected = ['cluster_state:ok', 'cluster_slots_ok:16384', `cluster_known_nodes:${nodes.length}`]
  let last = ''
  while (Date.now() < deadline) {
    const infos = await Promise.all(nodes.map(node => redisCommand(node.port, ['CLUSTER', 'INFO']).catch((error: Error) => `error: ${error.message}`)))
    const bad = infos.findIndex(info => !expected.every(line => info.split(/\r?\n/).includes(line)))
    if (bad === -1) return
    last = `node ${nodes[bad].port}:\n${infos[bad]}`

    await sleep(20)
  }

  throw new Error(`Redis Cluster not ready within ${READY_DEADLINE_MS / 1000} s; ${last}`)
}

/**
 * Until `count` nodes are replicas in sync with their master (master_link_status:up). The cluster
 * reports cluster_state:ok before the replicas have even learnt their role: a master killed then
 * would never be replaced.
 */
export async function waitForReplicas(nodes: RedisServer[], count: number): Promise<void> {
  const deadline = Date.now() + READY_DEADLINE_MS
  let synced = 0
  while (Date.now() < deadline) {
    const infos = await Promise.all(nodes.map(node => redisCommand(node.port, ['INFO', 'replication']).catch(() => '')))
    synced = infos.filter(info => /^role:slave\r?$/m.test(info) && /^master_link_status:up\r?$/m.test(info)).length
    if (synced >= count) return
    await sleep(20)
  }

  throw new Error(`Redis Cluster: ${synced} of ${count} replicas in sync within ${READY_DEADLINE_MS / 1000} s`)
}

/** 'redis+cluster://h1:p1,h2:p2' -> [{host, port}, ...] (for ioredis' Cluster). */
export function clusterSeeds(url: string): {host: string; port: number}[] {
  const match = /^redis\+cluster:\/\/([^/?#]+)/.exec(url)
  if (!match) throw new Error(`not a redis+cluster:// URL: ${url}`)
  return match[1].split(',').map(seed => {
    const at = seed.lastIndexOf(':')
    return {host: seed.slice(0, at).replaceAll(/^\[|\]$/g, ''), port: Number(seed.slice(at + 1))}
  })
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------------

export interface PostgresServer extends Controllable {
  /** the cluster's data dir (PGDATA) */
  dataDir: string
  /** pid of the current postmaster (changes on restart); the backends are its children */
  pid: number
  port: number
  /** for a replica: its primary */
  replicaOf?: PostgresServer
  /** where the Unix socket .s.PGSQL.PORT lives (postgres -k) */
  socketDir: string
  /** postgres://postgres@127.0.0.1:PORT/postgres (trust authentication, no password) */
  url: string
}

export interface StartPostgresOptions {
  /** appended to the postgres command line, e.g. ['-c', 'max_connections=20'] (later settings win) */
  extraArgs?: string[]
  /**
   * Keep the server's files in this dir across runs (the benchmark's seeded data): initialised on
   * first use, reused after, never removed by stop(). The socket goes there too, so keep the path
   * short (a Unix socket path has at most 107 bytes).
   */
  keepIn?: string
  /**
   * Start a streaming replica of this (running) primary: `pg_basebackup -R` into a new dir, then
   * a hot standby that follows it. See also startPostgresReplicaPair().
   */
  replicaOf?: PostgresServer
  /**
   * Copy a cluster initdb'd once per process instead of running initdb for every server
   * (default true; measured 0.1 s for the copy against 1 s for initdb).
   */
  template?: boolean
}

export const POSTGRES_PACKAGES = ['postgresql', 'postgresql-client']
export const POSTGRES_APT_LINE = `sudo apt-get install -y ${POSTGRES_PACKAGES.join(' ')}`

const PG_LIB_DIR = '/usr/lib/postgresql'
// initdb and postgres refuse to run as root; as root they run as this user (the package creates it)
const PG_SYSTEM_USER = 'postgres'

function isExecutable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK)
    return true
  } catch {
    return false
  }
}

/** Debian's versioned bin dirs (/usr/lib/postgresql/<major>/bin), newest first. */
function pgVersionedBinDirs(): string[] {
  let versions: string[]
  try {
    versions = readdirSync(PG_LIB_DIR).filter(v => /^\d+(\.\d+)?$/.test(v))
  } catch {
    return []
  }

  return versions.sort((a, b) => Number(b) - Number(a)).map(v => path.join(PG_LIB_DIR, v, 'bin'))
}

/**
 * A PostgreSQL binary: from the newest /usr/lib/postgresql/N/bin that has the server (Debian
 * keeps initdb and postgres out of PATH, and /usr/bin/psql is a Perl wrapper), else from PATH.
 */
function findPgBinary(name: string): string | undefined {
  const serverDir = pgVersionedBinDirs().find(dir => isExecutable(path.join(dir, 'postgres')) && isExecutable(path.join(dir, 'initdb')))
  for (const dir of [...(serverDir ? [serverDir] : []), ...pgVersionedBinDirs()]) {
    if (isExecutable(path.join(dir, name))) return path.join(dir, name)
  }

  return findBinary(name)
}

function requirePgBinary(name: string): string {
  const found = findPgBinary(name)
  if (!found) throw missingPackagesError(missingSystemPackages(POSTGRES_PACKAGES))
  return found
}

function passwdEntry(user: string): undefined | {gid: number; uid: number} {
  try {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find(l => l.startsWith(`${user}:`))
    if (!line) return undefined
    const fields = line.split(':') // name:password:uid:gid:...
    return {gid: Number(fields[3]), uid: Number(fields[2])}
  } catch {
    return undefined
  }
}

function pgUser(): {gid: number; uid: number} {
  const entry = passwdEntry(PG_SYSTEM_USER)
  if (!entry) {
    throw new Error(`running as root, and initdb/postgres refuse to run as root; there is no '${PG_SYSTEM_USER}' user to run them as (the postgresql package creates it: ${POSTGRES_APT_LINE})`)
  }

  return entry
}

/**
 * [command, args] running `file` as the postgres user when we are root. setpriv execs (unlike
 * runuser/su, which stay as a parent), so the pid we get IS postgres' and our signals reach it.
 */
function asPgUser(file: string, args: string[]): [string, string[]] {
  if (!isRoot) return [file, args]
  pgUser()
  return [requireBinary('setpriv'), [`--reuid=${PG_SYSTEM_USER}`, `--regid=${PG_SYSTEM_USER}`, '--init-groups', '--', file, ...args]]
}

/** Hands `dir` (not recursively) to the postgres user when we are root. */
function chownToPgUser(dir: string): void {
  if (!isRoot) return
  const {gid, uid} = pgUser()
  chownSync(dir, uid, gid)
}

/** Our environment without PG* variables (PGHOST, PGPORT, PGUSER... would redirect libpq). */
function pgEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('PG')))
  return {...env, ...extra}
}

function runPg(file: string, args: string[], timeoutMs: number, cwd: string): Promise<{output: string}> {
  const [command, commandArgs] = asPgUser(file, args)
  return new Promise((resolve, reject) => {
    execFile(command, commandArgs, {
      cwd, env: pgEnv(), maxBuffer: 16 * 1024 * 1024, timeout: timeoutMs,
    }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`.trim()
      if (error) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed (${error.message.split('\n')[0]}):\n${output}`))
      else resolve({output})
    })
  })
}

/**
 * Runs `sql` with psql over TCP (`-X -At`: no psqlrc, unaligned, tuples only) and resolves with
 * its stdout, trimmed (rows on lines, columns split by '|'). Rejects on an SQL error (quoting
 * psql's message) and after `timeoutMs` ("no reply within"): e.g. against a paused server.
 */
export function postgresQuery(url: string, sql: string, timeoutMs = 5000): Promise<string> {
  const u = new URL(url)
  const args = [
    '-X',
    '-At',
    '-v',
    'ON_ERROR_STOP=1',
    '-h',
    u.hostname.replaceAll(/^\[|\]$/g, ''),
    '-p',
    u.port || '5432',
    '-U',
    decodeURIComponent(u.username) || 'postgres',
    '-d',
    decodeURIComponent(u.pathname.slice(1)) || 'postgres',
    '-c',
    sql,
  ]
  const env = pgEnv({PGCONNECT_TIMEOUT: String(Math.max(2, Math.ceil(timeoutMs / 1000)))})
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password)
  return new Promise((resolve, reject) => {
    execFile(requirePgBinary('psql'), args, {env, maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs}, (error, stdout, stderr) => {
      if (!error) resolve(stdout.trim())
      else if (error.killed) reject(new Error(`postgres on port ${u.port}: no reply within ${timeoutMs} ms (${sql})`))
      else reject(new Error(`psql on port ${u.port} failed: ${stderr.trim() || error.message} (${sql})`))
    })
  })
}

// Every backend, the checkpointer, the WAL sender... is a child of the postmaster, in a session of
// its own (postgres calls setsid() in each child), so a process group is no handle on a server: we
// signal the postmaster's children one by one, found through /proc by their ppid. They exit by
// themselves soon after the postmaster dies (they watch a pipe from it), except when stopped:
// while a server is paused, the exit hook and the watchdog know its stopped children too.
interface ProcessId {
  pid: number
  /** start time in clock ticks since boot: tells the process from a later one with the same pid */
  start: string
}

const pausedProcesses = new Set<number>()
let pausedExitHookInstalled = false

function trackPaused(pid: number): void {
  if (!pausedExitHookInstalled) {
    pausedExitHookInstalled = true
    // prepended: they die before the 'exit' hook above removes their dirs
    process.prependListener('exit', () => {
      for (const p of pausedProcesses) signalPid(p, 'SIGKILL')
    })
  }

  pausedProcesses.add(pid)
  tellWatchdog(`pid ${pid}`)
}

function untrackPaused(pid: number): void {
  if (pausedProcesses.delete(pid)) tellWatchdog(`unpid ${pid}`)
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal)
  } catch {
    // gone
  }
}

/** pid, state, ppid and start time from /proc/PID/stat; undefined when gone. */
function procStat(pid: number | string): undefined | {ppid: number; start: string; state: string} {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    // cutime cstime priority nice num_threads itrealvalue starttime ...
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return {ppid: Number(fields[1]), start: fields[19], state: fields[0]}
  } catch {
    return undefined
  }
}

/** The live descendants of `pid` (children first), from /proc; zombies left out. */
function descendants(pid: number): ProcessId[] {
  let entries: string[]
  try {
    entries = readdirSync('/proc').filter(e => /^\d+$/.test(e))
  } catch {
    return []
  }

  const byParent = new Map<number, ProcessId[]>()
  for (const e of entries) {
    const stat = procStat(e)
    if (!stat || 'ZX'.includes(stat.state)) continue
    const list = byParent.get(stat.ppid) ?? []
    list.push({pid: Number(e), start: stat.start})
    byParent.set(stat.ppid, list)
  }

  const out: ProcessId[] = []
  const queue = [pid]
  while (queue.length > 0) {
    for (const child of byParent.get(queue.shift()!) ?? []) {
      out.push(child)
      queue.push(child.pid)
    }
  }

  return out
}

function isAlive(p: ProcessId): boolean {
  const stat = procStat(p.pid)
  return stat !== undefined && stat.start === p.start && !'ZX'.includes(stat.state)
}

async function waitAllGone(processes: ProcessId[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (processes.some(p => isAlive(p))) {
    if (Date.now() > deadline) return false
    await sleep(10)
  }

  return true
}

const pgTemplates = new Map<string, Promise<string>>()

function pgLocale(): string {
  return existsSync('/usr/lib/locale/C.utf8') ? 'C.UTF-8' : 'C'
}

async function initDataDir(dataDir: string): Promise<void> {
  const args = ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '--encoding=UTF8', `--locale=${pgLocale()}`]
  try {
    await runPg(requirePgBinary('initdb'), args, 120_000, path.dirname(dataDir))
  } catch (error) {
    throw new Error(`initdb failed for ${dataDir}: ${(error as Error).message}`)
  }
}

function pgTemplateDataDir(): Promise<string> {
  const key = pgLocale()
  let template = pgTemplates.get(key)
  if (!template) {
    template = (async () => {
      const dir = await makeTempDir('postgres-template')
      chownToPgUser(dir)
      const dataDir = path.join(dir, 'data')
      await initDataDir(dataDir)
      return dataDir
    })()
    pgTemplates.set(key, template)
    template.catch(() => pgTemplates.delete(key))
  }

  return template
}

/** A server setting on the command line for every server: fast, local, replication-ready. */
const PG_SERVER_SETTINGS = [
  'listen_addresses=127.0.0.1',
  'fsync=off', // data survives a kill of the server (the OS has it), not a crash of the machine
  'full_page_writes=off',
  'jit=off', // no LLVM start-up on the first big query
  'wal_level=replica', // the defaults, explicit: any server can be a primary
  'max_wal_senders=10',
  'hot_standby=on',
  'logging_collector=off', // log to stderr, i.e. our log file
  'log_min_messages=warning',
  'shared_preload_libraries=',
]

class Postgres extends ManagedServer implements PostgresServer {
  readonly dataDir: string
  // SIGTERM is a "smart" shutdown, which waits for every client to disconnect; SIGINT is "fast"
  protected override gracefulSignal: NodeJS.Signals = 'SIGINT'
  readonly log: string
  readonly socketDir: string
  readonly url: string

  constructor(
    port: number,
    home: string,
    private readonly serverArgs: string[],
    keepFiles = false,
    readonly replicaOf?: PostgresServer,
  ) {
    super(port, home, keepFiles)
    this.dataDir = path.join(home, 'data')
    this.socketDir = home
    this.log = path.join(home, 'postgres.log')
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`
  }

  protected describe(): string {
    return `PostgreSQL${this.replicaOf ? ' replica' : ''} on port ${this.port}`
  }

  async launch(): Promise<Tracked> {
    const args = [
      '-D',
      this.dataDir,
      '-k',
      this.socketDir,
      '-p',
      String(this.port),
      ...PG_SERVER_SETTINGS.flatMap(setting => ['-c', setting]),
      // the replica follows its primary's current port (the one in postgresql.auto.conf may be stale with keepIn)
      ...(this.replicaOf ? ['-c', `primary_conninfo=host=127.0.0.1 port=${this.replicaOf.port} user=postgres application_name=replica_${this.port}`] : []),
      // reconnect to a restarted primary within 0.2 s, not the default 5 s
      ...(this.replicaOf ? ['-c', 'wal_retrieve_retry_interval=200ms'] : []),
      ...this.serverArgs,
    ]
    const [command, commandArgs] = asPgUser(requirePgBinary('postgres'), args)
    const proc = spawnTracked(command, commandArgs, this.log, {cwd: this.home, env: pgEnv()})
    const deadline = Date.now() + READY_DEADLINE_MS
    let lastError: unknown
    while (proc.running && Date.now() < deadline) {
      try {
        // TCP and a real query; the data dir tells our server from another one on that port
        const actual = await postgresQuery(this.url, "select current_setting('data_directory')", 3000)
        if (actual !== this.dataDir) throw new Error(`another server answers on port ${this.port} (data directory ${actual})`)
        if (proc.running) return proc
      } catch (error) {
        lastError = error
      }

      await sleep(20)
    }

    const exited = !proc.running
    await this.terminateTracked(proc, 'SIGKILL')
    const log = await tail(this.log)
    const why = exited
      ? `postgres exited (${proc.exitSignal ?? `code ${proc.exitCode}`}) before accepting connections`
      : `postgres did not accept connections within ${READY_DEADLINE_MS / 1000} s (last error: ${(lastError as Error | undefined)?.message})`
    throw new StartError(`${why} on 127.0.0.1:${this.port}, data dir ${this.dataDir}.\n--- tail of ${this.log} ---\n${log}`, ADDRESS_IN_USE.test(log))
  }

  /** SIGSTOP to the postmaster and then to all its children (an open connection stops answering too). */
  override pause(): void {
    const pid = this.runningPid()
    process.kill(pid, 'SIGSTOP')
    // SIGSTOP is asynchronous (see ManagedServer.pause); a stopped postmaster forks no more children
    waitUntilStopped(pid)
    for (const child of descendants(pid)) {
      if (!isAlive(child)) continue
      trackPaused(child.pid)
      signalPid(child.pid, 'SIGSTOP')
      waitUntilStopped(child.pid)
    }
  }

  override resume(): void {
    const pid = this.runningPid()
    for (const child of descendants(pid)) {
      signalPid(child.pid, 'SIGCONT')
      untrackPaused(child.pid)
    }

    process.kill(pid, 'SIGCONT')
  }

  /**
   * `signal` to the postmaster, and SIGKILL to every process of the server at once (a crash: no
   * backend lingers on, holding the shared memory a restart needs). Resolves once all are gone.
   */
  protected override async terminateProc(signal: NodeJS.Signals): Promise<void> {
    if (this.proc) await this.terminateTracked(this.proc, signal)
  }

  private runningPid(): number {
    if (!this.proc?.running) throw new Error(`${this.describe()} is not running`)
    return this.proc.pid
  }

  private async terminateTracked(proc: Tracked, signal: NodeJS.Signals): Promise<void> {
    // once the postmaster is gone its orphans have another parent: list them first
    const children = proc.running ? descendants(proc.pid) : []
    // paused children must run to act on a shutdown request (or to notice the postmaster is gone)
    for (const child of children) signalPid(child.pid, signal === 'SIGKILL' ? 'SIGKILL' : 'SIGCONT')
    await terminate(proc, signal)
    if (!(await waitAllGone(children, STOP_GRACE_MS))) {
      for (const child of children) if (isAlive(child)) signalPid(child.pid, 'SIGKILL')
      await waitAllGone(children, STOP_GRACE_MS)
    }

    for (const child of children) untrackPaused(child.pid)
  }
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresServer> {
  const started = performance.now()
  for (const bin of ['postgres', 'initdb', 'psql', ...(opts.replicaOf ? ['pg_basebackup'] : [])]) requirePgBinary(bin)
  if (isRoot) pgUser()
  const {replicaOf} = opts
  if (replicaOf && replicaOf.pid === -1) throw new Error(`the primary (PostgreSQL on port ${replicaOf.port}) is not running`)
  const home = opts.keepIn ? path.resolve(opts.keepIn) : await makeTempDir(replicaOf ? 'postgres-replica' : 'postgres')
  // '.s.PGSQL.65535.lock' is the longest name postgres puts in the socket dir; sun_path has 108 bytes
  if (Buffer.byteLength(path.join(home, '.s.PGSQL.65535')) > 107) {
    if (!opts.keepIn) await removeDir(home)
    throw new Error(`${home} is too long a path for the Unix socket postgres puts in it (at most 92 bytes)`)
  }

  const dataDir = path.join(home, 'data')
  try {
    if (opts.keepIn) mkdirSync(home, {recursive: true})
    chownToPgUser(home)
    if (!existsSync(dataDir)) {
      if (replicaOf) {
        await runPg(requirePgBinary('pg_basebackup'), [
          '-h',
          '127.0.0.1',
          '-p',
          String(replicaOf.port),
          '-U',
          'postgres',
          '-D',
          dataDir,
          '-R',
          '-X',
          'stream',
          '--checkpoint=fast',
          '--no-sync',
        ], 120_000, home)
      } else if (opts.template === false) await initDataDir(dataDir)
      else await runPg('cp', ['-a', await pgTemplateDataDir(), dataDir], 60_000, home)
    }

    const server = await startOnFreePort(pickPort, port => new Postgres(port, home, opts.extraArgs ?? [], Boolean(opts.keepIn), replicaOf))
    startupTimings.push({kind: replicaOf ? 'postgres-replica' : 'postgres', ms: Math.round(performance.now() - started)})
    return server
  } catch (error) {
    if (!opts.keepIn) await removeDir(home)
    throw error
  }
}

export interface PostgresReplicaPair {
  primary: PostgresServer
  replica: PostgresServer
  /** Stops the replica, then the primary. */
  stop(): Promise<void>
}

/** A primary and a hot-standby streaming replica of it; resolves once the replica streams. */
export async function startPostgresReplicaPair(opts: Omit<StartPostgresOptions, 'keepIn' | 'replicaOf'> = {}): Promise<PostgresReplicaPair> {
  const primary = await startPostgres(opts)
  let replica: PostgresServer | undefined
  const stop = async () => {
    await replica?.stop()
    await primary.stop()
  }

  try {
    replica = await startPostgres({...opts, replicaOf: primary})
    await waitForStreaming(replica)
    return {primary, replica, stop}
  } catch (error) {
    await stop()
    throw error
  }
}

/** Until the replica's WAL receiver streams from its primary. */
export async function waitForStreaming(replica: PostgresServer, timeoutMs = READY_DEADLINE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    last = await postgresQuery(replica.url, 'select status from pg_stat_wal_receiver', 3000).catch((error: Error) => `error: ${error.message}`)
    if (last === 'streaming') return
    await sleep(20)
  }

  throw new Error(`the replica on port ${replica.port} does not stream within ${timeoutMs / 1000} s (wal receiver: ${last || 'none'})`)
}

// ---------------------------------------------------------------------------------------------
// Test helpers
// ---------------------------------------------------------------------------------------------

function requiredEnv(name: string, example: string): string {
  const value = process.env[name]
  if (!value) {
    throw new Error([
      `${name} is not set. The test servers are started by test/support/global-setup.ts, which mocha loads`,
      `through "require" in .mocharc.json: run the tests with mocha, or set ${name} to ${example} of a throwaway server.`,
    ].join(' '))
  }

  return value
}

export function testMysqlUrl(): string {
  return requiredEnv(ENV_MYSQL_URL, 'a mysql://root@127.0.0.1:PORT URL')
}

export function testRedisUrl(): string {
  return requiredEnv(ENV_REDIS_URL, 'a redis://127.0.0.1:PORT URL')
}

export function testPostgresUrl(): string {
  return requiredEnv(ENV_POSTGRES_URL, 'a postgres://postgres@127.0.0.1:PORT/postgres URL')
}

export function testRedisClusterUrl(): string {
  return requiredEnv(ENV_REDIS_CLUSTER_URL, 'a redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3 URL')
}

function mysqlOptions(url: string): ConnectionOptions {
  const u = new URL(url)
  return {
    connectTimeout: 5000,
    database: u.pathname.length > 1 ? decodeURIComponent(u.pathname.slice(1)) : undefined,
    host: u.hostname.replaceAll(/^\[|\]$/g, ''),
    password: u.password ? decodeURIComponent(u.password) : undefined,
    port: u.port ? Number(u.port) : 3306,
    user: u.username ? decodeURIComponent(u.username) : 'root',
  }
}

async function withMysql<T>(url: string, fn: (conn: Connection) => Promise<T>): Promise<T> {
  const conn = await mysql.createConnection({...mysqlOptions(url), database: undefined})
  try {
    return await fn(conn)
  } finally {
    await conn.end().catch(() => conn.destroy())
  }
}

const IDENTIFIER = /^\w{1,64}$/

/** Creates a fresh database (default name t_<random>) and returns `url` pointing at it. */
export async function createDatabase(url: string, name = `t_${randomBytes(6).toString('hex')}`): Promise<string> {
  if (!IDENTIFIER.test(name)) throw new Error(`invalid database name: ${name}`)
  await withMysql(url, conn => conn.query(`CREATE DATABASE \`${name}\``))
  const u = new URL(url)
  u.pathname = `/${name}`
  return u.toString()
}

/**
 * Creates (or re-creates) `user`@'%' with `password`, grants it everything on `database` (default:
 * the database in `url`), and returns a URL with those credentials pointing at that database.
 */
export async function createMysqlUser(
  url: string,
  spec: {database?: string; password: string; user: string},
): Promise<string> {
  registerSecret(spec.password) // the secrets grep: the tool must never print it
  const database = spec.database ?? mysqlOptions(url).database
  if (database !== undefined && !IDENTIFIER.test(database)) throw new Error(`invalid database name: ${database}`)
  await withMysql(url, async conn => {
    await conn.query('DROP USER IF EXISTS ?@\'%\'', [spec.user])
    await conn.query('CREATE USER ?@\'%\' IDENTIFIED BY ?', [spec.user, spec.password])
    if (database !== undefined) await conn.query(`GRANT ALL PRIVILEGES ON \`${database}\`.* TO ?@'%'`, [spec.user])
  })
  const u = new URL(url)
  u.username = encodeURIComponent(spec.user)
  u.password = encodeURIComponent(spec.password)
  u.pathname = database === undefined ? '/' : `/${database}`
  return u.toString()
}
