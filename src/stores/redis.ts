import calculateSlot from 'cluster-key-slot'
import {Cluster, Redis, type RedisOptions} from 'ioredis'
import {isUtf8} from 'node:buffer'
import {randomUUID} from 'node:crypto'

import type {
  Check,
  CleanupOptions,
  CleanupStop,
  CleanupSummary,
  DeleteOptions,
  DeleteSummary,
  PurgeOptions,
  PurgeSummary,
  RedisLayout,
  ScanSummary,
  Session,
  SessionFilter,
  SessionSink,
  SessionStore,
  StoreOptions,
} from './contract.js'

import {redact, registerSecret} from '../cli/redact.js'
import {
  LockHeldError, PartialFailureError, StoreError, UsageError,
} from '../errors.js'
import {purgeBySelection} from '../sessions/purge.js'
import {type RawSession, Selector, sessionVersion} from '../sessions/select.js'
import {deleteInBatches} from './delete-batches.js'
import {newCleanupSummary, sleep} from './pacing.js'
import {
  awaitOwner, eachConcurrently, failoverError, MAX_RESCANS, nodeKey, scanConcurrency, type Shard, shardsOf, throughFailover,
} from './redis-shards.js'
import {SeenKeys} from './seen-keys.js'
import {
  databaseNumber, decodePart, type ParamKind, parseStoreUrl, readCaFile,
} from './url.js'

const SCAN_COUNT = 1000
/** MGETs a scan keeps queued on the server while it decodes. */
const FETCH_AHEAD = 2
const DEFAULT_DELETE_BATCH = 500
/** Bytes of values one MGET fetches at most (a larger value is fetched alone). */
const FETCH_BYTES = 8 * 1024 * 1024
/** Bytes of each value a cluster scan fetches ahead of its turn (a longer one is read whole at its turn). */
const HEAD_BYTES = 4096
const DEFAULT_CONNECT_TIMEOUT_MS = 3000
const COMMAND_TIMEOUT_MS = 15_000

/**
 * Deletes each key only if its value is still the one selected: the version is the hex SHA-1
 * of value, NUL, expiry token (empty for Redis), as `sessionVersion` computes it.
 * All KEYS of one call are in one slot (cluster) or one batch (standalone).
 */
const COMPARE_AND_DELETE = `
local deleted, changed, gone = 0, 0, 0
for i, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if not value then
    gone = gone + 1
  elseif redis.sha1hex(value .. '\\0') == ARGV[i] then
    redis.call('UNLINK', key)
    deleted = deleted + 1
  else
    changed = changed + 1
  end
end
return {deleted, changed, gone}
`

/**
 * Sets an absolute expiry (ms) on a key whose value is unchanged (ARGV[1] = version), or, with
 * an empty version, on a key holding the token ARGV[3] (lease renewal). Returns 1 when set.
 */
const COMPARE_AND_EXPIRE = `
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
if ARGV[1] == '' then
  if value ~= ARGV[3] then return 0 end
elseif redis.sha1hex(value .. '\\0') ~= ARGV[1] then
  return 0
end
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
`

/**
 * MGET when the values together are within ARGV[1] bytes ({1, values}), else only their sizes
 * ({0, sizes}; STRLEN, 0 for a key that is not a string): one round trip, as a bare MGET, in the
 * common case, and never a reply larger than the budget unless one value alone is.
 */
const MGET_WITHIN = `
local sizes, total = {}, 0
for i, key in ipairs(KEYS) do
  local n = redis.pcall('STRLEN', key)
  if type(n) ~= 'number' then n = 0 end
  sizes[i] = n
  total = total + n
end
if total > tonumber(ARGV[1]) then return {0, sizes} end
return {1, redis.call('MGET', unpack(KEYS))}
`

const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`
const LEASE_MS = 60_000

/**
 * A lease (SET NX PX) so two cleanups of the same prefixes never overlap; renewed while the run
 * lasts and released only by its owner.
 */
export async function cleanupLease(client: Client, layout: RedisLayout, label: string): Promise<{release(): Promise<void>}> {
  const key = `sessionctl:cleanup-lock:${layout.prefixes.join('|')}`
  const token = randomUUID()
  const got = await client.set(key, token, 'PX', LEASE_MS, 'NX').catch((error: unknown) => {
    throw runtimeError(error, label)
  })
  if (got !== 'OK') throw new LockHeldError(`another cleanup of ${label} is running (Redis key "${key}" is held); nothing was done`)
  const renew = setInterval(() => {
    client.eval(COMPARE_AND_EXPIRE, 1, key, '', Date.now() + LEASE_MS, token).catch(() => {})
  }, LEASE_MS / 3)
  renew.unref()
  return {
    async release() {
      clearInterval(renew)
      await client.eval(RELEASE_LEASE, 1, key, token).catch(() => {})
    },
  }
}

type Client = Cluster | Redis

/** Cluster scans in this process (for tests and diagnostics): SCAN replies, shards read again after a failover, and the last scan's concurrency. */
export const scanStats = {concurrency: 0, rescans: 0, scans: 0}

/** An error of the Selector or the sink, which the master's failover does not explain (never retried). */
class Downstream extends Error {
  constructor(readonly inner: unknown) {
    super('downstream')
  }
}

/**
 * Where to connect: `redis://[user:password@]host:6379/0`, `rediss://…` (TLS),
 * `redis+cluster://host1:7000,host2:7001` (any nodes of the cluster),
 * `redis+sentinel://host1:26379,host2:26379/mymaster/0` (sentinels, master name, database).
 */
export interface RedisTarget {
  /** The database the URL names; proved on the connection before any read (see `connect`). */
  db: number
  kind: 'cluster' | 'sentinel' | 'standalone'
  label: string
  nodes: Array<{host: string; port: number}>
  options: RedisOptions
  sentinelName?: string
}

const URL_PARAMS: Record<string, ParamKind> = {'tls-ca': 'value', 'tls-insecure': 'flag'}

export function parseRedisUrl(raw: string, connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): RedisTarget {
  const url = parseStoreUrl(raw, URL_PARAMS)
  const fail = (why: string): never => {
    throw new UsageError(`invalid store URL ${JSON.stringify(url.shown)}: ${why}`)
  }

  const {scheme} = url
  if (!['redis', 'redis+cluster', 'redis+sentinel', 'rediss', 'rediss+cluster'].includes(scheme)) fail('expected redis://host:6379/0')
  const kind = scheme.includes('cluster') ? 'cluster' : (scheme.includes('sentinel') ? 'sentinel' : 'standalone')
  const tls = scheme.startsWith('rediss')
  const pass = url.password ?? process.env.REDIS_PASSWORD
  registerSecret(pass)
  const defaultPort = kind === 'sentinel' ? 26_379 : 6379
  if (url.hosts.length === 0) fail('no host (an unset variable?): redis://HOST:6379/0')
  const nodes = url.hosts.map(h => ({host: h.host, port: h.port ?? defaultPort}))
  if (kind === 'standalone' && nodes.length !== 1) fail('it names several hosts: use redis+cluster:// or redis+sentinel://')
  if (!tls && url.params.size > 0) fail(`${[...url.params.keys()].join(', ')} ${url.params.size === 1 ? 'applies' : 'apply'} to TLS connections only (rediss://)`)
  const segments = [...(url.segments ?? [])]
  let sentinelName: string | undefined
  if (kind === 'sentinel') {
    const name = segments.shift()
    sentinelName = name ? decodePart(name, 'the master name', url.shown) : undefined
    if (!sentinelName) fail('it needs the master name: redis+sentinel://host:26379/mymaster/0')
  }

  if (segments.length > 1) fail(kind === 'sentinel' ? 'the path must be /master/database, e.g. /mymaster/0' : 'the path must be one database number, e.g. /0')
  const db = segments.length === 0 ? 0 : databaseNumber(segments[0], url.shown)
  if (kind === 'cluster' && db !== 0) fail(`Redis Cluster has only database 0, not ${db}`)
  const options: RedisOptions = {
    connectTimeout: connectTimeoutMs,
    password: pass,
    username: url.user,
  }
  if (tls) {
    options.tls = {rejectUnauthorized: !url.params.has('tls-insecure')}
    const ca = url.params.get('tls-ca')
    if (ca !== undefined) {
      if (url.params.has('tls-insecure')) fail('tls-ca has no effect with tls-insecure: drop one of them')
      options.tls.ca = readCaFile(ca, 'tls-ca')
    }
  }

  if (kind === 'sentinel' && process.env.REDIS_SENTINEL_PASSWORD) {
    registerSecret(process.env.REDIS_SENTINEL_PASSWORD)
    options.sentinelPassword = process.env.REDIS_SENTINEL_PASSWORD
  }

  return {
    db, kind, label: url.shown, nodes, options, sentinelName,
  }
}

/** Why a cleanup stops before its next batch (the signal, the deadline), or `done` to go on. */
export function cleanupStop(o: CleanupOptions): CleanupStop {
  if (o.signal?.aborted) return 'signal'
  return o.deadline !== undefined && Date.now() >= o.deadline ? 'deadline' : 'done'
}

/** Counts a cleanup batch that took `batchMs`, reports it, and pauses as the options ask. */
export async function afterCleanupBatch(summary: CleanupSummary, o: CleanupOptions, batchMs: number): Promise<void> {
  summary.batches++
  summary.maxStatementMs = Math.max(summary.maxStatementMs, batchMs)
  o.onBatch?.({
    batches: summary.batches, deleted: summary.deleted, lastBatchMs: batchMs, store: summary.store,
  })
  const pause = o.sleepMs + (o.sleepFactor * batchMs)
  if (pause > 0) await sleep(pause, o.signal)
}

/** QUIT, or a hard disconnect when the connection is already gone. */
export async function closeClient(client: Client): Promise<void> {
  try {
    await client.quit()
  } catch {
    client.disconnect()
  }
}

/** The server's clock (TIME), so a skewed client clock cannot turn live sessions into expired ones. */
export async function serverTime(node: Redis): Promise<Date> {
  const [seconds, micros] = await node.time()
  return new Date((Number(seconds) * 1000) + Math.floor(Number(micros) / 1000))
}

/**
 * Each session's expiry becomes the earlier of its own and its key's TTL (`ttls[i]`, ms from
 * `now`; -1: no TTL, the payload's expiry stands; -2 or not a number: gone meanwhile, a purge
 * will count it). A payload that expires first (a Rails cache entry, whose key outlives it by
 * race_condition_ttl; a Spring hash, kept 5 minutes past its expiry) is gone for the framework
 * while the key remains.
 */
export function withEarlierTtl(sessions: Session[], ttls: readonly unknown[], now: Date): Session[] {
  for (const [i, session] of sessions.entries()) {
    const ttl = ttls[i]
    if (ttl === -1) session.noTtl = true
    if (typeof ttl !== 'number' || ttl < 0) continue
    const ttlAt = new Date(now.getTime() + ttl)
    if (!session.expiresAt || ttlAt < session.expiresAt) session.expiresAt = ttlAt
  }

  return sessions
}

/** Escapes glob characters so a literal prefix can go into SCAN MATCH. */
export function escapeGlob(text: string): string {
  return text.replaceAll(/[*?[\\\]]/g, c => `\\${c}`)
}

function commonPrefix(values: readonly string[]): string {
  let prefix = values[0] ?? ''
  for (const v of values) while (!v.startsWith(prefix)) prefix = prefix.slice(0, -1)
  return prefix
}

export async function openRedisStore(url: string, options: StoreOptions): Promise<SessionStore> {
  const target = parseRedisUrl(url, options.connectTimeoutMs)
  const layout = options.layout.redis
  if (!layout) throw new UsageError(`the ${options.codec.name} format keeps no sessions in Redis`)
  if (options.layout.userColumn !== undefined) {
    throw new UsageError(`--user-column applies to SQL stores (MySQL/MariaDB, PostgreSQL); ${target.label} is Redis, which keeps no columns (set userColumn on the SQL profile only)`)
  }

  if (layout.value === 'hash' && target.kind === 'cluster') {
    throw new UsageError(`--format ${options.codec.name} keeps a session in several keys of different slots (hash, shadow key, index sets), which one script cannot change atomically on Redis Cluster: not supported yet; nothing was read`)
  }

  const shown = layout.prefixes.length === 1 ? `prefix "${layout.prefixes[0]}"` : `prefixes ${layout.prefixes.map(p => `"${p}"`).join(', ')}`
  const label = `${target.label} (${shown})`
  const client = await connect(target, label)
  if (layout.value === 'hash') {
    const {RedisHashStore} = await import('./redis-hash.js')
    return new RedisHashStore(client as Redis, label, layout, options)
  }

  return new RedisStore(client, target.kind === 'cluster', label, layout, options)
}

/**
 * ioredis prints some notices itself with console.warn: "[WARN] This Redis server's `default`
 * user does not require a password, but a password was supplied". On stderr, unprefixed, every
 * run, they reach cron mail. They are collected here instead and reported once as a warning of
 * the store that read (`takeDriverNotices`); any other console.warn passes through.
 */
const driverNotices = new Set<string>()
let noticesHooked = false

function hookDriverNotices(): void {
  if (noticesHooked) return
  noticesHooked = true
  const {warn} = console
  console.warn = (...args: unknown[]) => {
    const text = args.map(String).join(' ')
    if (/^\[WARN] .*does not require a password/.test(text)) {
      driverNotices.add('the server accepts connections without a password: the password given was not checked')
      return
    }

    warn.apply(console, args)
  }
}

export function takeDriverNotices(): string[] {
  const notices = [...driverNotices]
  driverNotices.clear()
  return notices
}

async function connect(target: RedisTarget, label: string): Promise<Client> {
  hookDriverNotices()
  // Fail fast: by default ioredis retries forever and queues commands while offline.
  const common: RedisOptions = {
    ...target.options,
    commandTimeout: COMMAND_TIMEOUT_MS,
    // ioredis waits this long for a socket that never reports "close" (e.g. a refused one)
    // before letting the process exit; 2 s by default.
    disconnectTimeout: 100,
    enableOfflineQueue: false,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    protocol: 2,
    retryStrategy: () => null,
  }
  let lastError: Error | undefined
  let client: Client
  if (target.kind === 'cluster') {
    client = new Cluster(target.nodes, {
      clusterRetryStrategy: () => null,
      enableOfflineQueue: false,
      enableReadyCheck: true,
      lazyConnect: true,
      redisOptions: {...common, retryStrategy: undefined} as Cluster['options']['redisOptions'],
      slotsRefreshTimeout: target.options.connectTimeout,
    })
  } else if (target.kind === 'sentinel') {
    client = new Redis({
      ...common,
      name: target.sentinelName,
      sentinelRetryStrategy: () => null,
      sentinels: target.nodes,
    })
  } else {
    client = new Redis({...common, host: target.nodes[0].host, port: target.nodes[0].port})
  }

  client.on('error', (error: Error) => {
    lastError = error
  })
  // connectTimeout bounds the TCP handshake only; a server that accepts and then stays silent
  // (stopped, overloaded) would stall the ready check. One deadline covers the whole connect.
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timed out'), {code: 'ETIMEDOUT'})), target.options.connectTimeout)
  })
  try {
    await Promise.race([client.connect().then(async () => {
      if (target.kind !== 'cluster') await proveDatabase(client as Redis, target)
    }), deadline])
    return client
  } catch (error) {
    client.disconnect()
    if (error instanceof StoreError) throw error
    throw connectionError((error as {code?: string}).code === 'ETIMEDOUT' ? (error as Error) : (lastError ?? (error as Error)), label, target)
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The connection is on the database the URL names, or the store does not open. ioredis
 * reports a failed SELECT (`/99`, `/16` on a 16-database server) only as an error event and
 * goes on with database 0, where a purge would then delete: so the SELECT is ours and must
 * succeed, and CLIENT INFO (Redis 6.2+) confirms where the connection is.
 */
async function proveDatabase(client: Redis, target: RedisTarget): Promise<void> {
  const where = target.nodes.map(n => `${n.host}:${n.port}`).join(',')
  if (target.db !== 0) {
    try {
      await client.select(target.db)
    } catch (error) {
      const message = redact((error as Error)?.message ?? String(error))
      const why = /out of range|invalid db/i.test(message) ? 'the server has no such database (see its "databases" setting)' : message
      throw new StoreError(`cannot use database ${target.db} on ${where}: ${why}; nothing was read`, {cause: error})
    }
  }

  let info: unknown
  try {
    info = await client.client('INFO')
  } catch {
    // Older than 6.2, or denied by an ACL: the SELECT reply above is then the proof.
    return
  }

  const on = /(?:^|\s)db=(\d+)/.exec(String(info))?.[1]
  if (on !== undefined && Number(on) !== target.db) {
    throw new StoreError(`the connection to ${where} is on database ${on}, not ${target.db} as the URL says; nothing was read`)
  }
}

function connectionError(error: Error, label: string, target: RedisTarget): StoreError {
  const e = error as Error & {code?: string}
  const where = target.nodes.map(n => `${n.host}:${n.port}`).join(',')
  const message = e.message ?? String(error)
  if (e.code === 'ECONNREFUSED' || /ECONNREFUSED/.test(message)) {
    return new StoreError(`cannot connect to ${where}: connection refused (is the Redis server running there?)`, {cause: error})
  }

  if (/WRONGPASS|NOAUTH|invalid username-password|invalid password/i.test(message)) {
    return new StoreError(`authentication failed on ${where}: check the user and password (or REDIS_PASSWORD)`, {cause: error})
  }

  if (e.code === 'ETIMEDOUT' || /timeout|timed out/i.test(message)) return new StoreError(`cannot connect to ${where}: timed out`, {cause: error})
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return new StoreError(`cannot connect to ${where}: unknown host`, {cause: error})
  return new StoreError(`${label}: ${redact(message)}`, {cause: error})
}

export function runtimeError(error: unknown, label: string): StoreError {
  if (error instanceof StoreError) return error
  const message = (error as Error)?.message ?? String(error)
  if (/Connection is closed|ECONNRESET|ECONNREFUSED|Stream isn't writeable|EPIPE/i.test(message)) {
    return new StoreError(`lost the connection to ${label}`, {cause: error})
  }

  if (/Command timed out/i.test(message)) return new StoreError(`${label} stopped answering (no reply in ${COMMAND_TIMEOUT_MS / 1000} s)`, {cause: error})
  return new StoreError(`${label}: ${message}`, {cause: error})
}

/** `keys` in groups of at most FETCH_BYTES of values (a larger value alone) and SCAN_COUNT keys. */
function splitBySize(keys: Buffer[], sizes: readonly number[]): Buffer[][] {
  const groups: Buffer[][] = []
  let group: Buffer[] = []
  let bytes = 0
  for (const [i, key] of keys.entries()) {
    const size = Number(sizes[i]) || 0
    if (group.length > 0 && (bytes + size > FETCH_BYTES || group.length >= SCAN_COUNT)) {
      groups.push(group)
      group = []
      bytes = 0
    }

    group.push(key)
    bytes += size
  }

  if (group.length > 0) groups.push(group)
  return groups
}

const strictUtf8 = new TextDecoder('utf8', {fatal: true})

/**
 * A Redis key name (bytes) as text, losslessly: UTF-8 as is, a backslash as `\\`, and each byte
 * that is not part of valid UTF-8 as `\xNN`. Two different keys never show, fingerprint or
 * match --except the same; decoding with replacement characters made keys with invalid bytes
 * unreachable (the name read back was another key) or counted twice.
 */
export function keyText(bytes: Buffer): string {
  if (isUtf8(bytes)) {
    const text = bytes.toString()
    return text.includes('\\') ? text.replaceAll('\\', '\\\\') : text
  }

  let out = ''
  let i = 0
  while (i < bytes.length) {
    let char: string | undefined
    let n = 1
    for (; n <= 4 && i + n <= bytes.length; n++) {
      try {
        char = strictUtf8.decode(bytes.subarray(i, i + n))
        break
      } catch {
        // an incomplete or invalid sequence so far: try one byte more
      }
    }

    if (char === undefined) {
      out += `\\x${bytes[i].toString(16).padStart(2, '0')}`
      i++
    } else {
      out += char === '\\' ? '\\\\' : char
      i += n
    }
  }

  return out
}

class RedisStore implements SessionStore {
  readonly capabilities = {keepsExpired: false}
  private readonly prefixBytes: Buffer[]
  private readonly scanPattern: string

  constructor(
    private readonly client: Client,
    private readonly cluster: boolean,
    readonly label: string,
    private readonly layout: RedisLayout,
    private readonly options: StoreOptions,
  ) {
    const {prefixes} = layout
    this.prefixBytes = prefixes.map(p => Buffer.from(p))
    this.scanPattern = prefixes.length === 1 ? `${escapeGlob(prefixes[0])}${layout.keyGlob}` : `${escapeGlob(commonPrefix(prefixes))}*`
  }

  /**
   * Redis expires sessions by TTL, so cleanup looks for what TTL misses: session keys without
   * a TTL. Those whose payload says they expired are deleted, live ones get their TTL back
   * (--fix-no-ttl); keys with no expiry anywhere are only counted.
   */
  async cleanupExpired(o: CleanupOptions): Promise<CleanupSummary> {
    const started = Date.now()
    const noTtl = {
      deleted: 0, expired: 0, found: 0, noExpiry: 0, ttlSet: 0,
    }
    const summary = newCleanupSummary(this.label, {noTtl})
    const fix = Boolean(o.fixNoTtl) && !o.dryRun
    const lease = fix ? await this.lease() : undefined
    try {
      const now = await serverTime(this.masters()[0])
      // Every master at once, as listSessions reads them; each paced on its own.
      const masters = this.masters()
      await eachConcurrently(masters, scanConcurrency(masters.length), async (node, failed) => {
        let cursor = '0'
        do {
          // The first reason to stop stands: another master going on must not reset it to 'done'.
          const stop = cleanupStop(o)
          if (stop !== 'done' && summary.stoppedBy === 'done') summary.stoppedBy = stop
          if (summary.stoppedBy !== 'done' || failed()) break
          const [next, found] = await node.scanBuffer(cursor, 'MATCH', this.scanPattern, 'COUNT', SCAN_COUNT)
          cursor = String(next)
          const keys = found.filter(k => this.sessionKey(k) !== undefined)
          if (keys.length === 0) continue
          const t0 = performance.now()
          const ttls = await this.pipelined(node, keys, (p, k) => p.pttl(k))
          const persistent = keys.filter((_, i) => ttls[i] === -1)
          noTtl.found += persistent.length
          for (const group of persistent.length > 0 ? await this.fetchGroups(node, persistent) : []) {
            const values = await this.values(node, group)
            const doomed: Array<[Buffer, string]> = []
            const revive: Array<[Buffer, string, number]> = []
            for (const [i, key] of group.entries()) {
              const value = values[i]
              if (!value) continue
              const decoded = this.options.codec.decode(value)
              const expiresAt = decoded.ok ? decoded.expiresAt : undefined
              if (!expiresAt) {
                noTtl.noExpiry++
              } else if (expiresAt.getTime() <= now.getTime()) {
                noTtl.expired++
                summary.expired++
                if (!summary.oldestExpiry || expiresAt < summary.oldestExpiry) summary.oldestExpiry = expiresAt
                if (!summary.newestExpiry || expiresAt > summary.newestExpiry) summary.newestExpiry = expiresAt
                doomed.push([key, sessionVersion(value, '')])
              } else {
                revive.push([key, sessionVersion(value, ''), expiresAt.getTime()])
              }
            }

            if (fix) {
              for (const [key, version] of doomed) {
                const [deleted] = await this.client.eval(COMPARE_AND_DELETE, 1, key, version) as [number]
                noTtl.deleted += deleted
              }

              for (const [key, version, at] of revive) {
                // Awaited before the sum: `a += await b` reads `a` first, and loses what other masters add meanwhile.
                const set = Number(await this.client.eval(COMPARE_AND_EXPIRE, 1, key, version, at))
                noTtl.ttlSet += set
              }
            }
          }

          summary.deleted = noTtl.deleted
          await afterCleanupBatch(summary, o, performance.now() - t0)
        } while (cursor !== '0')
      })
    } catch (error) {
      if (error instanceof StoreError) throw error
      throw PartialFailureError.during(runtimeError(error, this.label), summary.deleted, summary.expired)
    } finally {
      await lease?.release()
      for (const notice of takeDriverNotices()) o.onWarning?.(`${this.label}: ${notice}`)
    }

    return {...summary, seconds: (Date.now() - started) / 1000}
  }

  async close(): Promise<void> {
    await closeClient(this.client)
  }

  async deleteSessions(sessions: readonly Session[], options: DeleteOptions = {}): Promise<DeleteSummary> {
    return deleteInBatches(this.label, sessions, options, DEFAULT_DELETE_BATCH, async batch => {
      // One script call per slot: a cluster refuses multi-key commands across slots.
      const groups = new Map<number, Session[]>()
      for (const session of batch) {
        const slot = this.cluster ? calculateSlot(this.redisKey(session)) : 0
        groups.set(slot, [...(groups.get(slot) ?? []), session])
      }

      const outcome = {changed: 0, deleted: 0, gone: 0}
      const results = await Promise.all([...groups.values()].map(group =>
        this.client.eval(COMPARE_AND_DELETE, group.length, ...group.map(s => this.redisKey(s)), ...group.map(s => s.version)) as Promise<
          [number, number, number]
        >))
      for (const [deleted, changed, gone] of results) {
        outcome.deleted += deleted
        outcome.changed += changed
        outcome.gone += gone
      }

      return outcome
    }, error => runtimeError(error, this.label))
  }

  async diagnose(): Promise<Check[]> {
    const {diagnoseRedis} = await import('./redis-doctor.js')
    try {
      return await diagnoseRedis({cluster: this.cluster, masters: this.masters()})
    } catch (error) {
      throw runtimeError(error, this.label)
    }
  }

  /**
   * Every master at once on a cluster (up to scanConcurrency), each a pipeline of its own feeding
   * the one Selector. A master that fails mid-scan is read again, from the start, on the replica
   * promoted in its place: the SCAN cursor means nothing on another node, so the keys already
   * submitted from that shard are remembered (SeenKeys) and skipped, and none is lost or counted
   * twice. A standalone or Sentinel store is one shard, read as before.
   */
  async listSessions(filter: SessionFilter, sink: SessionSink = {}): Promise<ScanSummary> {
    try {
      const now = await serverTime(this.masters()[0])
      const selector = new Selector(this.options.codec, filter, this.label, now, {
        enrich: sessions => this.withTtl(sessions, now),
        onSessions: sink.onSessions,
      })
      const warnings: string[] = []
      const shards: Shard[] = this.cluster ? shardsOf(this.client as Cluster) : [{first: '', node: this.client as Redis, slots: []}]
      scanStats.concurrency = scanConcurrency(shards.length)
      const halt = (failed: () => boolean) => (): boolean => failed() || Boolean(filter.signal?.aborted)
      await eachConcurrently(shards, scanStats.concurrency, (shard, failed) => this.scanShard(shard, selector, filter, sink, {halt: halt(failed), warnings}))
      const summary = await selector.finish()
      warnings.push(...takeDriverNotices())
      if (warnings.length > 0) summary.warnings = [...(summary.warnings ?? []), ...warnings]
      return summary
    } catch (error) {
      throw runtimeError(error instanceof Downstream ? error.inner : error, this.label)
    }
  }

  async purgeUser(userId: string, options: PurgeOptions): Promise<PurgeSummary> {
    return purgeBySelection(this, userId, options)
  }

  /**
   * The session keys among `found`, as parts that each fetch their values as raw sessions (keys
   * gone meanwhile left out). A SCAN batch within FETCH_BYTES is fetched at once, ahead of its
   * turn; a larger one is split by size and each part fetched only when its turn comes, so a
   * few large values are never all in memory (nor in one reply) together.
   */
  private async fetchBatch(node: Redis, found: Buffer[]): Promise<Array<() => Promise<RawSession[]>>> {
    const names = new Map<Buffer, string>()
    for (const redisKey of found) {
      const key = this.sessionKey(redisKey)
      if (key !== undefined) names.set(redisKey, key)
    }

    if (names.size === 0) return []
    const toRaw = (group: Buffer[], values: Array<Buffer | null>): RawSession[] => {
      const batch: RawSession[] = []
      for (const [i, redisKey] of group.entries()) {
        const value = values[i]
        // Expired or deleted between SCAN and GET: no longer a session.
        if (value) batch.push({
          expiresAt: null, expiryToken: '', key: names.get(redisKey)!, ref: redisKey.toString('latin1'), value,
        })
      }

      return batch
    }

    const fetch = async (group: Buffer[]): Promise<RawSession[]> => toRaw(group, await this.values(node, group))

    const keys = [...names.keys()]
    if (!this.cluster) {
      // Standalone: values and sizes in one script call; most batches come back whole.
      const [whole, reply] = await node.callBuffer('EVAL', MGET_WITHIN, keys.length, ...keys, FETCH_BYTES) as [number, Array<Buffer | null> | number[]]
      if (whole === 1) {
        const values = reply as Array<Buffer | null>
        return [async () => toRaw(keys, values)]
      }

      return splitBySize(keys, reply as number[]).map(group => () => fetch(group))
    }

    // Cluster: multi-key commands may not span slots, so one GETRANGE a key, pipelined, ahead of
    // its turn: HEAD_BYTES of each value at most, so one reply stays within SCAN_COUNT ×
    // HEAD_BYTES. A value that fills its head is read whole, by size, when its turn comes; an
    // empty head is a key gone meanwhile or an empty value (EXISTS tells). One command a key
    // where STRLEN then GET took two: the client's cost per command is what a cluster scan spends.
    const heads = await this.heads(node, keys)
    const whole: Buffer[] = []
    const values: Buffer[] = []
    const long: Buffer[] = []
    const empty: Buffer[] = []
    for (const [i, key] of keys.entries()) {
      const head = heads[i]
      if (head === null) continue
      if (head.length >= HEAD_BYTES) long.push(key)
      else if (head.length === 0) empty.push(key)
      else {
        whole.push(key)
        values.push(head)
      }
    }

    if (empty.length > 0) {
      const exists = await this.pipelined<number>(node, empty, (p, k) => p.exists(k))
      for (const [i, key] of empty.entries()) {
        if (exists[i] !== 1) continue
        whole.push(key)
        values.push(Buffer.alloc(0))
      }
    }

    const parts: Array<() => Promise<RawSession[]>> = whole.length > 0 ? [async () => toRaw(whole, values)] : []
    if (long.length > 0) parts.push(...(await this.fetchGroups(node, long)).map(group => () => fetch(group)))
    return parts
  }

  /**
   * `keys` in fetch groups of at most FETCH_BYTES of values (by STRLEN; a larger value is a
   * group alone) and SCAN_COUNT keys. A value rewritten larger between STRLEN and GET is read
   * at its new size: the bound is the sizes seen, not a hard cap.
   */
  private async fetchGroups(node: Redis, keys: Buffer[]): Promise<Buffer[][]> {
    // Single-key commands, pipelined: in a cluster one command may not span slots (a key that
    // is not a string counts 0).
    const pipeline = node.pipeline()
    for (const key of keys) pipeline.strlen(key)
    const sizes = ((await pipeline.exec()) ?? []).map(([error, n]) => (error ? 0 : Number(n)))
    return splitBySize(keys, sizes)
  }

  /** The first HEAD_BYTES of each key's value (GETRANGE, pipelined); null for a key that is not a string. */
  private async heads(node: Redis, keys: Buffer[]): Promise<Array<Buffer | null>> {
    const pipeline = node.pipeline()
    for (const key of keys) pipeline.getrangeBuffer(key, 0, HEAD_BYTES - 1)
    return ((await pipeline.exec()) ?? []).map(([error, value]) => {
      if (!error) return value as Buffer
      // What MGET answers for such a key (standalone): nil, nobody's session.
      if (error.message.startsWith('WRONGTYPE')) return null
      throw error
    })
  }

  /**
   * A lease (SET NX PX) so two cleanups never overlap; renewed while the run lasts and
   * released only by its owner.
   */
  private async lease(): Promise<{release(): Promise<void>}> {
    return cleanupLease(this.client, this.layout, this.label)
  }

  private masters(): Redis[] {
    return this.cluster ? (this.client as Cluster).nodes('master') : [this.client as Redis]
  }

  /** One single-key command per key, in one round trip to the node. */
  private async pipelined<T>(node: Redis, keys: Buffer[], add: (pipeline: ReturnType<Redis['pipeline']>, key: Buffer) => unknown): Promise<T[]> {
    const pipeline = node.pipeline()
    for (const key of keys) add(pipeline, key)
    const replies = (await pipeline.exec()) ?? []
    return replies.map(([error, value]) => {
      if (error) throw error
      return value as T
    })
  }

  /** The exact bytes of the session's Redis key (`ref` carries them, latin1: one char per byte). */
  private redisKey(session: Session): Buffer {
    return session.ref === undefined ? Buffer.from(`${this.layout.prefixes[0]}${session.key}`) : Buffer.from(session.ref, 'latin1')
  }

  /**
   * One master's keys through `selector`: a pipeline that keeps the server busy, SCANs running
   * ahead and the fetches of up to FETCH_AHEAD batches queued while this process decodes an
   * earlier one. `seen` (cluster) drops keys already submitted from this shard.
   */
  private async scanNode(node: Redis, selector: Selector, sink: SessionSink, o: {halt(): boolean; seen?: SeenKeys}): Promise<void> {
    let scan = node.scanBuffer('0', 'MATCH', this.scanPattern, 'COUNT', SCAN_COUNT)
    const fetched: Array<Promise<Array<() => Promise<RawSession[]>>>> = []
    for (;;) {
      const [nextCursor, found] = await scan
      scanStats.scans++
      const next = String(nextCursor)
      const last = next === '0' || o.halt()
      if (!last) {
        scan = node.scanBuffer(next, 'MATCH', this.scanPattern, 'COUNT', SCAN_COUNT)
        // Handled when awaited; this only keeps a failure meanwhile from being "unhandled".
        scan.catch(() => {})
      }

      const batch = this.fetchBatch(node, found)
      batch.catch(() => {})
      fetched.push(batch)
      while (fetched.length > (last ? 0 : FETCH_AHEAD)) {
        for (const part of await fetched.shift()!) {
          let raw = await part()
          if (o.seen) {
            const {seen} = o
            raw = raw.filter(r => seen.add(r.ref!))
          }

          if (raw.length === 0) continue
          try {
            await selector.submit(raw)
            sink.onProgress?.({matched: selector.summary.matched, scanned: selector.summary.scanned, store: this.label})
          } catch (error) {
            throw new Downstream(error)
          }
        }
      }

      if (last) break
    }
  }

  /**
   * scanNode on the shard's master; on a cluster, after an error a failover explains, again on
   * whichever master serves the shard's slots now, skipping the keys already submitted.
   */
  private async scanShard(shard: Shard, selector: Selector, filter: SessionFilter, sink: SessionSink, o: {halt(): boolean; warnings: string[]}): Promise<void> {
    const seen = this.cluster ? new SeenKeys() : undefined
    let {node} = shard
    for (let rescans = 0; ; rescans++) {
      try {
        await this.scanNode(node, selector, sink, {halt: o.halt, seen})
        return
      } catch (error) {
        if (!this.cluster || error instanceof Downstream || rescans >= MAX_RESCANS || !failoverError(error) || o.halt()) throw error
        const why = redact((error as Error)?.message ?? String(error))
        const failed = nodeKey(node)
        node = await awaitOwner(this.client as Cluster, {...shard, node}, this.label, why, filter.signal)
        scanStats.rescans++
        o.warnings.push(`master ${failed} failed during the scan (${why}): its slots were read again on ${nodeKey(node)}, skipping the ${seen!.size} keys already read`)
      }
    }
  }

  /** The session key inside a Redis key, or undefined when the key is not a session's. */
  private sessionKey(redisKey: Buffer): string | undefined {
    for (const prefix of this.prefixBytes) {
      if (redisKey.length >= prefix.length && redisKey.subarray(0, prefix.length).equals(prefix)) {
        const key = keyText(redisKey.subarray(prefix.length))
        return this.layout.keyPattern.test(key) ? key : undefined
      }
    }

    return undefined
  }

  private async values(node: Redis, keys: Buffer[]): Promise<Array<Buffer | null>> {
    // In a cluster the keys of one node span many slots: single-key GETs, pipelined.
    return this.cluster ? this.pipelined<Buffer | null>(node, keys, (p, k) => p.getBuffer(k)) : node.mgetBuffer(keys)
  }

  /** Expiry from the key's TTL, fetched only for the selected sessions. */
  private async withTtl(sessions: Session[], now: Date): Promise<Session[]> {
    const keys = sessions.map(s => this.redisKey(s))
    // A cluster pipeline must stay within one slot: the few selected keys go one by one there.
    const ttls = this.cluster
      ? await throughFailover(this.client as Cluster, () => Promise.all(keys.map(k => this.client.pttl(k))))
      : await this.pipelined<number>(this.client as Redis, keys, (p, k) => p.pttl(k))
    return withEarlierTtl(sessions, ttls, now)
  }
}
