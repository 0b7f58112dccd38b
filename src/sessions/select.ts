import {createHash} from 'node:crypto'

import type {Codec} from '../formats/codec.js'
import type {
  ScanSummary, Session, SessionFilter, TalliedSession,
} from '../stores/contract.js'
import type {KeepList} from './keys.js'

import {type Classified, classify, type ClassifyOptions} from './classify.js'
import {DecodePool} from './decode-pool.js'

/** One stored session as an adapter reads it, before decoding. */
export interface RawSession {
  key: string
  value: Buffer
  /**
   * Expiry as the store records it (column or TTL); null when the store has none; undefined
   * when the adapter works it out only for selected sessions (SelectorOptions.expiryOf).
   */
  expiresAt?: Date | null
  /**
   * Whether the store considers it expired, by the framework's own rule (e.g. Django's
   * `expire_date > now` is live). Undefined when the store keeps no expiry: the payload decides.
   */
  expired?: boolean
  /** The store's own text of the expiry (column value, TTL), part of the version. */
  expiryToken: string
  /** Adapter-specific locator (see Session.ref). */
  ref?: string
  /** Session.details, where the store keeps some. */
  details?: Record<string, null | string>
  /** Session.expiryUnknown. */
  expiryUnknown?: true
  /**
   * The owner as the store records it (SqlLayout.ownerColumn), null for none: the value is not
   * decoded, and a user filter compares it exactly.
   */
  owner?: null | string
  /** Other keys that name the session (SqlLayout.keyAliasColumn), for --except. */
  aliases?: readonly string[]
  /** Stored size in bytes where it is not the value's (owner rows: their attributes). */
  size?: number
}

/**
 * The version of a stored session: a session is deleted only if its version is unchanged since
 * selection. Adapters compute it the same way when they re-read rows at delete time.
 */
export function sessionVersion(value: Buffer, expiryToken: string): string {
  // Hex SHA-1 of value, NUL, expiry: Redis computes the same in Lua (redis.sha1hex).
  return createHash('sha1').update(value).update('\0').update(expiryToken).digest('hex')
}

/** Values decoded on the main thread before a scan starts worker threads. */
const LOCAL_BEFORE_POOL = 20_000
/**
 * This thread decodes a batch itself once every worker has this many batches it has not
 * finished; batches handed to workers and not yet delivered are at most MAX_QUEUED per worker
 * (memory stays bounded while this thread is busy). npm run bench, 2 cores, 1M Django rows: one
 * worker and this thread, 2.37 s and 153 MB; two workers that this thread waits for, 2.35 s and 172 MB.
 */
const SHARE_DEPTH = 2
const MAX_QUEUED = 3
/** And at most this many bytes of values handed to workers and not delivered (one batch at least). */
const MAX_QUEUED_BYTES = 32 * 1024 * 1024

export interface SelectorOptions {
  /** Receives the selected sessions, batch by batch (with worker threads, in completion order). */
  onSessions?(sessions: Session[]): Promise<void> | void
  /** Receives each selected session instead, as plain values (SessionSink.onTally); not with `enrich`, names or inspect. */
  onTally?(session: TalliedSession): void
  /** The store's expiry of a selected session that came without one (parsed only when needed). */
  expiryOf?(raw: RawSession): Date | null
  /** Adapter work on selected sessions before they are delivered (e.g. Redis TTLs). */
  enrich?(sessions: Session[]): Promise<Session[]>
}

/**
 * Decides, for each raw session an adapter reads, whether it is selected: decodes it with the
 * store's codec, applies the user, state and --except filters, and keeps the scan's counts.
 * Shared by every adapter so that selection means the same thing everywhere.
 *
 * Large scans decode on worker threads too: `submit` hands a batch to a worker and returns at
 * once, so the adapter keeps reading while earlier batches decode, or decodes it on this thread
 * when every worker is busy.
 */
export class Selector {
  readonly summary: ScanSummary
  private failure: unknown
  private readonly inFlight = new Set<Promise<void>>()
  private inFlightBytes = 0
  /** Decoding done on this thread so far, to decide whether threads are worth starting. */
  private readonly local = {ms: 0, values: 0}
  /** When the first batch came in. */
  private startedAt: number | undefined
  private readonly tallied: TalliedSession = {
    expired: false, expiresAt: null, key: '', size: 0, userId: null,
  }
  /** SelectorOptions.onTally where it applies, and the one object it is handed. */
  private readonly tally: ((session: TalliedSession) => void) | undefined
  private usePool: boolean | undefined

  constructor(
    private readonly codec: Codec,
    private readonly filter: SessionFilter,
    store: string,
    now: Date,
    private readonly options: SelectorOptions = {},
  ) {
    this.summary = {
      store, scanned: 0, matched: 0, kept: 0, undecodable: {}, ownerUnknown: {}, badSignature: 0, now,
      // As classify decides whether it prefilters.
      undecodableCounted: filter.userId !== undefined && filter.strictCounts !== true && codec.decodeFor !== undefined ? 'candidates' : 'all',
    }
    this.tally = options.enrich || filter.names || filter.inspect ? undefined : options.onTally
  }

  /** Waits for every batch; the scan's counts. */
  async finish(): Promise<ScanSummary> {
    await Promise.all(this.inFlight)
    if (this.failure) throw this.failure
    return this.summary
  }

  /**
   * Takes a batch; resolves when there is room for the next one. Several producers may submit at
   * once (a cluster's masters, scanned in parallel): the counts change before the first await,
   * and each producer waits for room, so batches in flight on worker threads exceed the bound
   * by at most one per producer.
   */
  async submit(batch: readonly RawSession[]): Promise<void> {
    if (this.failure) throw this.failure
    this.startedAt ??= performance.now()
    // The store's own expiry settles the state before any decoding; a payload expiry only
    // counts where the store keeps none (e.g. a Redis key without TTL).
    const {names} = this.filter
    const inState = batch.filter(raw => raw.expired === undefined || this.wantsState(raw.expired))
    this.summary.scanned += inState.length
    // Named sessions only (revoke, show): the others are never decoded.
    const candidates = names ? inState.filter(raw => namedBy(names, raw)) : inState
    if (candidates.length === 0) return
    if (candidates[0].owner !== undefined) {
      await this.deliver(candidates, owned(candidates, this.filter.userId))
      return
    }

    const values = candidates.map(raw => raw.value)
    const pool = this.pool()
    // Every worker already has batches queued: this thread decodes the batch itself rather
    // than wait (so one worker fewer than cores keeps every core busy).
    if (!pool || pool.saturated(SHARE_DEPTH)) {
      if (pool) decodeStats.localBatches++
      const started = performance.now()
      const result = classify(this.codec, values, this.filter.userId, this.classifyOptions())
      this.local.ms += performance.now() - started
      this.local.values += values.length
      await this.deliver(candidates, result)
      return
    }

    decodeStats.pooledBatches++
    const bytes = values.reduce((n, v) => n + v.length, 0)
    const job = pool.classify(values, this.filter.userId, this.classifyOptions()).then(result => this.deliver(candidates, result))
    const tracked = job.catch(error => {
      this.failure ??= error
    }).finally(() => {
      this.inFlight.delete(tracked)
      this.inFlightBytes -= bytes
    })
    this.inFlight.add(tracked)
    this.inFlightBytes += bytes
    while (this.inFlight.size >= pool.size * MAX_QUEUED || (this.inFlightBytes > MAX_QUEUED_BYTES && this.inFlight.size > 0)) await Promise.race(this.inFlight)
    if (this.failure) throw this.failure
  }

  /** Whether classify must say which values it could not decode, and whether it may prefilter. */
  private classifyOptions(): ClassifyOptions {
    return {rejects: this.filter.onUndecodable !== undefined || this.filter.names !== undefined, strict: this.filter.strictCounts === true}
  }

  private async deliver(candidates: readonly RawSession[], result: Classified): Promise<void> {
    const {filter, summary} = this
    for (const [reason, n] of Object.entries(result.undecodable)) summary.undecodable[reason] = (summary.undecodable[reason] ?? 0) + n
    for (const [reason, n] of Object.entries(result.ownerUnknown)) summary.ownerUnknown[reason] = (summary.ownerUnknown[reason] ?? 0) + n
    if (result.rejects && result.rejects.length > 0) {
      filter.onUndecodable?.(result.rejects.map(([index, reason, ownerUnknown]) => ({
        key: candidates[index].key, ownerUnknown, reason, size: candidates[index].value.length, store: summary.store,
      })))
    }

    summary.badSignature += result.badSignature
    let selected: Session[] = []
    if (filter.names && result.rejects) {
      // Named, so selected even though nobody owns it: a value the framework ignores for its bad signature too.
      const named: Array<[number, string]> = [
        ...result.rejects.map(([index, reason]): [number, string] => [index, reason]),
        ...(result.badSignatures ?? []).map((index): [number, string] => [index, 'bad signature']),
      ]
      for (const [index, reason] of named) {
        const raw = candidates[index]
        const expiresAt = this.storedExpiry(raw)
        summary.matched++
        const session = this.session(raw, null, expiresAt, raw.expired ?? this.isExpired(expiresAt))
        // show reads a badly signed payload (and says it is nobody's); revoke lists it as not decoded.
        selected.push(filter.inspect && reason === 'bad signature' ? this.inspected(raw, session) : {...session, undecodable: reason})
      }
    }

    const {expiries, indices, userIds} = result.matches
    for (const [m, index] of indices.entries()) {
      const raw = candidates[index]
      const userId = userIds[m]
      const stored = this.storedExpiry(raw)
      const expiresAt = stored ?? (Number.isNaN(expiries[m]) ? null : new Date(expiries[m]))
      const expired = raw.expired ?? this.isExpired(expiresAt)
      if (raw.expired === undefined && !this.wantsState(expired)) continue
      if (filter.keep && namedBy(filter.keep, raw)) {
        summary.kept++
        continue
      }

      summary.matched++
      if (this.tally) {
        const t = this.tallied
        t.key = raw.key
        t.size = raw.size ?? raw.value.length
        t.userId = userId
        t.expiresAt = expiresAt
        t.expired = expired
        t.expiryUnknown = raw.expiryUnknown
        this.tally(t)
        continue
      }

      selected.push(this.inspected(raw, this.session(raw, userId, expiresAt, expired)))
    }

    if (selected.length === 0) return
    if (this.options.enrich) selected = await this.options.enrich(selected)
    await this.options.onSessions?.(selected)
  }

  /** The session with its decoded payload, when the filter asks for it (SessionFilter.inspect). */
  private inspected(raw: RawSession, session: Session): Session {
    if (!this.filter.inspect || raw.owner !== undefined) return session
    const decoded = this.codec.decode(raw.value)
    if (!decoded.ok) return session
    return {
      ...session,
      inspection: {
        data: decoded.data, format: this.codec.name, signature: decoded.signature, userId: decoded.userId, variant: decoded.variant,
      },
    }
  }

  private isExpired(expiresAt: Date | null): boolean {
    return expiresAt !== null && expiresAt.getTime() <= this.summary.now.getTime()
  }

  /**
   * The decode pool, once the scan is large enough and decoding takes most of this thread's
   * time, so threads pay for themselves (a scan bound by the store, as a prefiltered Redis scan
   * is, spends its time waiting for the next batch instead).
   */
  private pool(): DecodePool | undefined {
    if (this.usePool === undefined && this.local.values >= LOCAL_BEFORE_POOL) {
      this.usePool = this.local.ms / (performance.now() - this.startedAt!) >= decodeTuning.poolWorthShare
    }

    return this.usePool ? sharedPool(this.codec) : undefined
  }

  private session(raw: RawSession, userId: null | string, expiresAt: Date | null, expired: boolean): Session {
    return {
      store: this.summary.store,
      key: raw.key,
      ...(raw.ref === undefined ? {} : {ref: raw.ref}),
      userId,
      expiresAt,
      expired,
      size: raw.size ?? raw.value.length,
      version: this.filter.countOnly ? '' : sessionVersion(raw.value, raw.expiryToken),
      ...(raw.details ? {details: raw.details} : {}),
      ...(raw.expiryUnknown ? {expiryUnknown: true} : {}),
    }
  }

  /** The store's expiry of a session, worked out now where the adapter left it for selected ones (expiryOf). */
  private storedExpiry(raw: RawSession): Date | null {
    return raw.expiresAt === undefined ? this.options.expiryOf?.(raw) ?? null : raw.expiresAt
  }

  private wantsState(expired: boolean): boolean {
    const {state} = this.filter
    return state === 'all' || (state === 'expired') === expired
  }
}

/** Whether `list` names the session, by its key or one of its aliases (SqlLayout.keyAliasColumn); records the match. */
function namedBy(list: KeepList, raw: RawSession): boolean {
  return list.keeps(raw.key) || (raw.aliases?.some(alias => list.keeps(alias)) ?? false)
}

/** Rows whose owner the store records: the user's (exactly, never by collation), or every one. */
function owned(batch: readonly RawSession[], userId: string | undefined): Classified {
  const matches: Classified['matches'] = {expiries: [], indices: [], userIds: []}
  for (const [i, raw] of batch.entries()) {
    if (userId !== undefined && raw.owner !== userId) continue
    matches.indices.push(i)
    matches.userIds.push(raw.owner ?? null)
    matches.expiries.push(Number.NaN)
  }

  return {
    badSignature: 0, matches, ownerUnknown: {}, undecodable: {},
  }
}

const pools = new Map<string, DecodePool | null>()

/** Batches of pooled scans decoded here and on worker threads, in this process (for tests and diagnostics). */
export const decodeStats = {localBatches: 0, pooledBatches: 0}

/**
 * Threads start when decoding the first LOCAL_BEFORE_POOL values took at least this share of the
 * scan's time so far (measured with `npm run bench`: about 0.7 for zlib-compressed Django rows
 * from MariaDB, where threads halve the time, and 0.35 for prefiltered cache pickles from Redis,
 * where the store is the limit). A share, not a cost per value: how fast values arrive decides
 * whether decoding them is the bottleneck.
 */
export const decodeTuning = {poolWorthShare: 0.5}

/** One pool per codec for the process (started on first need), or none for an ad-hoc codec. */
function sharedPool(codec: Codec): DecodePool | undefined {
  if (!codec.spec) return undefined
  const key = JSON.stringify(codec.spec)
  if (!pools.has(key)) pools.set(key, DecodePool.start(codec.spec) ?? null)
  return pools.get(key) ?? undefined
}

/** Stops the worker threads (the command's end). */
export async function closeDecodePools(): Promise<void> {
  const running = [...pools.values()].filter((p): p is DecodePool => p !== null)
  pools.clear()
  await Promise.all(running.map(p => p.close()))
}
