import type {Redis} from 'ioredis'

import type {
  Check,
  CleanupOptions,
  CleanupSummary,
  DeleteOptions,
  DeleteSummary,
  DiagnoseOptions,
  PurgeOptions,
  PurgeSummary,
  RedisLayout,
  ScanSummary,
  Session,
  SessionFilter,
  SessionSink,
  SessionStore,
  StoreOptions,
  UserIndex,
} from './contract.js'

import {PartialFailureError, StoreError, UsageError} from '../errors.js'
import {encodeFieldMap} from '../formats/field-map.js'
import {fingerprint} from '../sessions/keys.js'
import {purgeBySelection} from '../sessions/purge.js'
import {type RawSession, Selector} from '../sessions/select.js'
import {deleteInBatches} from './delete-batches.js'
import {newCleanupSummary} from './pacing.js'
import {
  afterCleanupBatch, cleanupLease, cleanupStop, closeClient, escapeGlob, keyText, runtimeError, serverTime, takeDriverNotices, withEarlierTtl,
} from './redis.js'

const SCAN_COUNT = 1000
const DEFAULT_DELETE_BATCH = 500
/** Bytes of hash fields and values one fetch returns at most (a larger hash comes alone). */
const FETCH_BYTES = 8 * 1024 * 1024
/** Fingerprints of stale index members a scan reports (the count is exact). */
const STALE_SHOWN = 10

/**
 * HGETALL of KEYS in order, as far as ARGV[1] bytes allow (the first always): {n, replies…},
 * each reply the flat field/value array, 0 for a key gone, 1 for a key that is not a hash.
 */
const HGETALL_WITHIN = `
local out, total = {0}, 0
for i, key in ipairs(KEYS) do
  local t = redis.call('TYPE', key)['ok']
  local r
  if t == 'hash' then
    r = redis.call('HGETALL', key)
    local n = 0
    for j = 1, #r do n = n + #r[j] end
    if i > 1 and total + n > tonumber(ARGV[1]) then break end
    total = total + n
  elseif t == 'none' then
    r = 0
  else
    r = 1
  end
  out[i + 1] = r
  out[1] = i
end
return out
`

/**
 * Compare-and-delete of one hash-valued session: KEYS[1] the hash, then ARGV[2] companion keys
 * (deleted with it), then sets it is a member of (ARGV[3…], one member each: removed). The
 * version is SHA-1 of the hash framed as formats/field-map.ts frames it (fields in byte order,
 * compared byte by byte: Lua's `<` follows the server's locale), NUL. A hash gone meanwhile still
 * loses its set memberships (they name nothing). Returns 1 deleted, 2 changed, 0 gone.
 */
const COMPARE_AND_DELETE_HASH = `
local nc = tonumber(ARGV[2])
local ok, flat = pcall(redis.call, 'HGETALL', KEYS[1])
if not ok then return 2 end
if #flat == 0 then
  for i = 2 + nc, #KEYS do redis.call('SREM', KEYS[i], ARGV[i - nc + 1]) end
  return 0
end
local function lt(a, b)
  local n = math.min(#a, #b)
  for k = 1, n do
    local x, y = a:byte(k), b:byte(k)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local idx = {}
for j = 1, #flat, 2 do idx[#idx + 1] = j end
table.sort(idx, function(a, b) return lt(flat[a], flat[b]) end)
local parts = {}
for _, j in ipairs(idx) do
  local f, v = flat[j], flat[j + 1]
  parts[#parts + 1] = #f .. ':' .. f .. #v .. ':' .. v
end
if redis.sha1hex(table.concat(parts) .. '\\0') ~= ARGV[1] then return 2 end
for i = 1, 1 + nc do redis.call('UNLINK', KEYS[i]) end
for i = 2 + nc, #KEYS do redis.call('SREM', KEYS[i], ARGV[i - nc + 1]) end
return 1
`

/** Removes an index member (ARGV[1]) from KEYS[1] only while its session hash KEYS[2] does not exist. */
const REMOVE_STALE = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
return redis.call('SREM', KEYS[1], ARGV[1])
`

type HashReply = 0 | 1 | Buffer[]

/**
 * The Redis adapter for hash-valued sessions (RedisLayout.value `hash`: Spring Session), with the
 * per-user index the layout declares. Lookups for a user read the index set and check every
 * member against its hash: members whose hash is gone are stale (reported, never sessions).
 * Without a user, or without an index set for the user, the session hashes are scanned.
 * Standalone and Sentinel only (openRedisStore refuses a cluster).
 */
export class RedisHashStore implements SessionStore {
  readonly capabilities = {keepsExpired: false}
  private readonly prefix: Buffer
  /** Stale members the last lookup of a user found, for that user's purge to remove. */
  private readonly stale = new Map<string, Buffer[]>()

  constructor(
    private readonly client: Redis,
    readonly label: string,
    private readonly layout: RedisLayout,
    private readonly options: StoreOptions,
  ) {
    this.prefix = Buffer.from(layout.prefixes[0])
  }

  /**
   * Redis expires the hashes (Spring sets their TTL); what it never cleans is the principal index:
   * members whose session is gone. Cleanup removes those (each only while its hash is still
   * absent); a dry run counts them.
   */
  async cleanupExpired(o: CleanupOptions): Promise<CleanupSummary> {
    if (o.fixNoTtl) throw new UsageError(`--fix-no-ttl: ${this.label} keeps sessions as hashes whose TTL Spring sets; drop --fix-no-ttl`)
    const started = Date.now()
    const staleIndex = {
      found: 0, removed: 0, sets: 0, unreadable: 0,
    }
    const summary = newCleanupSummary(this.label, {staleIndex})
    const index = this.layout.userIndex
    if (!index) return summary
    const lease = o.dryRun ? undefined : await cleanupLease(this.client, this.layout, this.label)
    try {
      let cursor = '0'
      do {
        summary.stoppedBy = cleanupStop(o)
        if (summary.stoppedBy !== 'done') break
        const [next, sets] = await this.client.scanBuffer(cursor, 'MATCH', index.glob, 'COUNT', SCAN_COUNT, 'TYPE', 'set')
        cursor = String(next)
        for (const set of sets) {
          staleIndex.sets++
          await this.eachMemberBatch(set, async members => {
            // A user's index set can be large: stop between its batches too.
            summary.stoppedBy = cleanupStop(o)
            if (summary.stoppedBy !== 'done') return false
            const t0 = performance.now()
            const {stale, unreadable} = await this.staleMembers(index, members)
            staleIndex.unreadable += unreadable
            staleIndex.found += stale.length
            if (!o.dryRun) staleIndex.removed += await this.removeStale(set, stale)
            await afterCleanupBatch(summary, o, performance.now() - t0)
            return true
          })
          if (summary.stoppedBy !== 'done') break
        }
      } while (cursor !== '0')
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
      const outcome = {changed: 0, deleted: 0, gone: 0}
      const results = await Promise.all(batch.map(session => {
        const companions = this.layout.companions?.(session.key) ?? []
        const sets = this.setsOf(session)
        return this.client.eval(
          COMPARE_AND_DELETE_HASH,
          1 + companions.length + sets.length,
          this.hashKey(session),
          ...companions,
          ...sets.map(s => s.set),
          session.version,
          companions.length,
          ...sets.map(s => s.member),
        ) as Promise<number>
      }))
      for (const result of results) {
        if (result === 1) outcome.deleted++
        else if (result === 2) outcome.changed++
        else outcome.gone++
      }

      return outcome
    }, error => runtimeError(error, this.label))
  }

  /** The server's checks, and the principal index's stale members (cleanup's dry run counts them). */
  async diagnose(o: DiagnoseOptions): Promise<Check[]> {
    const {diagnoseRedis, staleIndexCheck} = await import('./redis-doctor.js')
    try {
      const checks = await diagnoseRedis({cluster: false, masters: [this.client]})
      if (this.layout.userIndex) {
        checks.push(staleIndexCheck(await this.cleanupExpired({
          batchSize: SCAN_COUNT, dryRun: true, signal: o.signal, sleepFactor: 0, sleepMs: 0, targetMs: 100,
        })))
      }

      return checks
    } catch (error) {
      throw runtimeError(error, this.label)
    }
  }

  async listSessions(filter: SessionFilter, sink: SessionSink = {}): Promise<ScanSummary> {
    try {
      const now = await serverTime(this.client)
      const selector = new Selector(this.options.codec, filter, this.label, now, {enrich: sessions => this.withTtl(sessions, now), onSessions: sink.onSessions})
      const progress = (): void => sink.onProgress?.({matched: selector.summary.matched, scanned: selector.summary.scanned, store: this.label})
      const warnings: string[] = []
      const index = this.layout.userIndex
      let stale: Buffer[] | undefined
      const staleShown: string[] = []
      let indexed = false
      if (filter.userId !== undefined && index) {
        const set = Buffer.from(index.key(filter.userId))
        const seen = new Set<string>()
        stale = []
        let unreadable = 0
        await this.eachMemberBatch(set, async members => {
          indexed = true
          if (filter.signal?.aborted) return false
          const fresh = members.filter(m => !seen.has(m.toString('latin1')))
          for (const m of fresh) seen.add(m.toString('latin1'))
          const ids: string[] = []
          const named: Buffer[] = []
          for (const member of fresh) {
            const id = index.sessionOf(member)
            if (id === undefined) unreadable++
            else {
              ids.push(id)
              named.push(member)
            }
          }

          const keys = ids.map(id => Buffer.concat([this.prefix, Buffer.from(id)]))
          const replies = await this.hashes(keys)
          const batch: RawSession[] = []
          for (const [i, reply] of replies.entries()) {
            if (reply === 0) {
              stale!.push(named[i])
              if (staleShown.length < STALE_SHOWN) staleShown.push(fingerprint(ids[i]))
            } else {
              batch.push(this.raw(keys[i], ids[i], reply))
            }
          }

          if (batch.length > 0) await selector.submit(batch)
          progress()
        })
        if (unreadable > 0) warnings.push(`${unreadable} member${unreadable === 1 ? '' : 's'} of the index set for "${filter.userId}" name no session this format writes: left alone`)
        if (!indexed) {
          warnings.push(`no index set for "${filter.userId}" (a store without the principal index, or a user without indexed sessions): scanned every session instead`)
        }
      }

      if (!indexed) await this.scan(selector, filter, progress)
      const summary = await selector.finish()
      if (stale && indexed) {
        this.stale.set(filter.userId!, stale)
        if (stale.length > 0) {
          summary.staleIndex = {count: stale.length, fingerprints: staleShown}
          warnings.push(`${stale.length} stale member${stale.length === 1 ? '' : 's'} of the index set for "${filter.userId}" name sessions that no longer exist (${staleShown.join(', ')}${stale.length > staleShown.length ? ', …' : ''}): not sessions; a purge of the user or cleanup removes them`)
        }
      }

      warnings.push(...takeDriverNotices())
      if (warnings.length > 0) summary.warnings = [...(summary.warnings ?? []), ...warnings]
      return summary
    } catch (error) {
      throw runtimeError(error, this.label)
    }
  }

  /**
   * purgeBySelection, then the user's stale index members (found by its selection) are removed,
   * each only while its hash is still absent: a purge leaves nothing of the user in the index.
   */
  async purgeUser(userId: string, options: PurgeOptions): Promise<PurgeSummary> {
    this.stale.delete(userId)
    const summary = await purgeBySelection(this, userId, options)
    const stale = this.stale.get(userId) ?? []
    const index = this.layout.userIndex
    if (index && stale.length > 0 && !options.dryRun && !summary.stopped && summary.confirmed !== false) {
      try {
        const removed = await this.removeStale(Buffer.from(index.key(userId)), stale)
        summary.scan.staleIndex = {...summary.scan.staleIndex!, removed}
        summary.scan.warnings = [...(summary.scan.warnings ?? []), `removed ${removed} stale member${removed === 1 ? '' : 's'} of the index set for "${userId}"`]
      } catch (error) {
        throw PartialFailureError.during(runtimeError(error, this.label), summary.deleted, summary.sessions.length)
      }
    }

    return summary
  }

  /** Calls `work` with the members of a set, a bounded batch at a time (SSCAN), until it returns false. */
  private async eachMemberBatch(set: Buffer, work: (members: Buffer[]) => Promise<boolean | void>): Promise<void> {
    let cursor = '0'
    do {
      const [next, members] = await this.client.sscanBuffer(set, cursor, 'COUNT', SCAN_COUNT)
      cursor = String(next)
      if (members.length > 0 && (await work(members)) === false) return
    } while (cursor !== '0')
  }

  /** HGETALL of each key, in replies of at most FETCH_BYTES (a larger hash alone). */
  private async hashes(keys: Buffer[]): Promise<HashReply[]> {
    const out: HashReply[] = []
    let at = 0
    while (at < keys.length) {
      const part = keys.slice(at, at + SCAN_COUNT)
      const [n, ...replies] = await this.client.callBuffer('EVAL', HGETALL_WITHIN, part.length, ...part, FETCH_BYTES) as [number, ...HashReply[]]
      out.push(...replies.slice(0, n))
      at += n
    }

    return out
  }

  /** The session key's hash as it is stored (`ref`, latin1: one char per byte). */
  private hashKey(session: Session): Buffer {
    return session.ref === undefined ? Buffer.concat([this.prefix, Buffer.from(session.key)]) : Buffer.from(session.ref, 'latin1')
  }

  private raw(redisKey: Buffer, key: string, reply: HashReply): RawSession {
    const pairs: Array<[Buffer, Buffer]> = []
    if (Array.isArray(reply)) for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([reply[i], reply[i + 1]])
    return {
      // A key of another type under the prefix is nobody's session: the codec says so.
      expiresAt: null, expiryToken: '', key, ref: redisKey.toString('latin1'), value: reply === 1 ? NOT_A_HASH : encodeFieldMap(pairs),
    }
  }

  private async removeStale(set: Buffer, members: Buffer[]): Promise<number> {
    const index = this.layout.userIndex!
    let removed = 0
    for (const member of members) {
      const id = index.sessionOf(member)
      if (id === undefined) continue
      removed += Number(await this.client.eval(REMOVE_STALE, 2, set, Buffer.concat([this.prefix, Buffer.from(id)]), member))
    }

    return removed
  }

  /** Every session hash under the prefix (SCAN), in batches. */
  private async scan(selector: Selector, filter: SessionFilter, progress: () => void): Promise<void> {
    const match = `${escapeGlob(this.layout.prefixes[0])}${this.layout.keyGlob}`
    let cursor = '0'
    do {
      if (filter.signal?.aborted) break
      const [next, found] = await this.client.scanBuffer(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT)
      cursor = String(next)
      const keys: Buffer[] = []
      const names: string[] = []
      for (const redisKey of found) {
        if (!redisKey.subarray(0, this.prefix.length).equals(this.prefix)) continue
        const name = keyText(redisKey.subarray(this.prefix.length))
        if (!this.layout.keyPattern.test(name)) continue
        keys.push(redisKey)
        names.push(name)
      }

      if (keys.length === 0) continue
      const replies = await this.hashes(keys)
      const batch = replies.flatMap((reply, i) => (reply === 0 ? [] : [this.raw(keys[i], names[i], reply)]))
      if (batch.length > 0) await selector.submit(batch)
      progress()
    } while (cursor !== '0')
  }

  /** The sets naming a session: its user's index set, and the layout's memberships. */
  private setsOf(session: Session): Array<{member: Buffer; set: string}> {
    const index = this.layout.userIndex
    return [
      ...(index && session.userId !== null ? [{member: index.member(session.key), set: index.key(session.userId)}] : []),
      ...(this.layout.memberships?.(session.key, session.expiresAt) ?? []),
    ]
  }

  /** Of these index members, those whose session hash is gone, and how many name no session at all. */
  private async staleMembers(index: UserIndex, members: Buffer[]): Promise<{stale: Buffer[]; unreadable: number}> {
    const stale: Buffer[] = []
    let unreadable = 0
    const named: Array<[Buffer, Buffer]> = []
    for (const member of members) {
      const id = index.sessionOf(member)
      if (id === undefined) unreadable++
      else named.push([member, Buffer.concat([this.prefix, Buffer.from(id)])])
    }

    const pipeline = this.client.pipeline()
    for (const [, key] of named) pipeline.exists(key)
    const replies = (await pipeline.exec()) ?? []
    for (const [i, [error, exists]] of replies.entries()) {
      if (error) throw error
      if (Number(exists) === 0) stale.push(named[i][0])
    }

    return {stale, unreadable}
  }

  /** The earlier of the payload's expiry and the hash's TTL, for the selected sessions (withEarlierTtl). */
  private async withTtl(sessions: Session[], now: Date): Promise<Session[]> {
    const pipeline = this.client.pipeline()
    for (const session of sessions) pipeline.pttl(this.hashKey(session))
    const replies = (await pipeline.exec()) ?? []
    return withEarlierTtl(sessions, replies.map(([error, ttl]) => (error ? undefined : ttl)), now)
  }
}

const NOT_A_HASH = Buffer.from('not a hash')
