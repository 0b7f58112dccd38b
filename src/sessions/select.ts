import {createHash} from 'node:crypto'

import type {Codec} from '../formats/codec.js'
import type {ScanSummary, Session, SessionFilter} from '../stores/contract.js'

/** One stored session as an adapter reads it, before decoding. */
export interface RawSession {
  key: string
  value: Buffer
  /** Expiry as the store records it (column or TTL); null when the store has none. */
  expiresAt: Date | null
  /**
   * Whether the store considers it expired, by the framework's own rule (e.g. Django's
   * `expire_date > now` is live). Undefined when the store keeps no expiry: the payload decides.
   */
  expired?: boolean
  /** The store's own text of the expiry (column value, TTL), part of the version. */
  expiryToken: string
  /** Adapter-specific locator (see Session.ref). */
  ref?: string
}

/**
 * The version of a stored session: a session is deleted only if its version is unchanged since
 * selection. Adapters compute it the same way when they re-read rows at delete time.
 */
export function sessionVersion(value: Buffer, expiryToken: string): string {
  // Hex SHA-1 of value, NUL, expiry: Redis computes the same in Lua (redis.sha1hex).
  return createHash('sha1').update(value).update('\0').update(expiryToken).digest('hex')
}

/**
 * Decides, for each raw session an adapter reads, whether it is selected: decodes it with the
 * store's codec, applies the user, state and --except filters, and keeps the scan's counts.
 * Shared by every adapter so that selection means the same thing everywhere.
 */
export class Selector {
  readonly summary: ScanSummary

  constructor(
    private readonly codec: Codec,
    private readonly filter: SessionFilter,
    store: string,
    now: Date,
  ) {
    this.summary = {
      badSignature: 0, kept: 0, matched: 0, now, scanned: 0, store, undecodable: {},
    }
  }

  consider(raw: RawSession): null | Session {
    const {filter, summary} = this
    // The store's own expiry settles the state before any decoding; a payload expiry only
    // counts where the store keeps none (e.g. a Redis key without TTL).
    if (raw.expired !== undefined && !this.wantsState(raw.expired)) return null
    summary.scanned++

    const decoded = this.codec.decode(raw.value)
    if (!decoded.ok) {
      summary.undecodable[decoded.reason] = (summary.undecodable[decoded.reason] ?? 0) + 1
      return null
    }

    // A payload the framework would refuse belongs to nobody.
    if (decoded.signature === 'invalid') {
      summary.badSignature++
      return null
    }

    const expiresAt = raw.expiresAt ?? decoded.expiresAt ?? null
    const expired = raw.expired ?? this.isExpired(expiresAt)
    if (raw.expired === undefined && !this.wantsState(expired)) return null
    if (filter.userId !== undefined && decoded.userId !== filter.userId) return null
    if (filter.keep?.keeps(raw.key)) {
      summary.kept++
      return null
    }

    summary.matched++
    return {
      expired,
      expiresAt,
      key: raw.key,
      ...(raw.ref === undefined ? {} : {ref: raw.ref}),
      size: raw.value.length,
      store: summary.store,
      userId: decoded.userId,
      version: sessionVersion(raw.value, raw.expiryToken),
    }
  }

  /** The selected sessions among `batch`, in order. */
  select(batch: readonly RawSession[]): Session[] {
    const out: Session[] = []
    for (const raw of batch) {
      const session = this.consider(raw)
      if (session) out.push(session)
    }

    return out
  }

  private isExpired(expiresAt: Date | null): boolean {
    return expiresAt !== null && expiresAt.getTime() <= this.summary.now.getTime()
  }

  private wantsState(expired: boolean): boolean {
    const {state} = this.filter
    return state === 'all' || (state === 'expired') === expired
  }
}
