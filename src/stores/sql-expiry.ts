import type {ExpiryRule, ExpiryUnit, SessionState} from './contract.js'

import {
  formatNaive, naiveAtOrAfter, naiveOrderKey, parseNaive,
} from './sql-time.js'

/** How the expiry column holds time, once read from the table (`auto` resolved). */
export type ExpiryKind = Exclude<ExpiryUnit, 'auto'>

/** The store's clock for one statement (the server's, so a skewed client cannot matter). */
export interface ExpiryClock {
  now: Date
  timeZone: string
  /** Now as naive DATETIME(6) text in the store's zone, for exact comparisons with the column. */
  wallNow: string
}

/**
 * A framework's expiry rule (contract.ts ExpiryRule) turned into what a SQL adapter runs: the
 * conditions of the state filters and of cleanup, and the same decisions for a row in hand. The
 * column stays bare in every condition (`column > ?`, the offset moved to the cutoff), so an index
 * on it serves them; NULL is spelled out only where the column can hold one.
 */
export class SqlExpiry {
  /** The last clock's cutoff (and its ordering key): isExpired runs for every row a scan reads. */
  private last: undefined | {clock: ExpiryClock; cutoff: number | string; key: string}
  private readonly offsetMs: number

  /**
   * @param column the expiry column as the adapter quotes it
   * @param nullable whether the column can hold NULL (NOT NULL columns get no `IS NULL` branch)
   */
  constructor(
    private readonly rule: ExpiryRule,
    readonly kind: ExpiryKind,
    private readonly column: string,
    private readonly nullable: boolean,
  ) {
    this.offsetMs = (rule.offsetSeconds ?? 0) * 1000
  }

  /** What is missing for the expiry to be known (ExpiryRule.offsetUnknown), or undefined. */
  get unknown(): string | undefined {
    return this.rule.offsetUnknown
  }

  /** What cleanup deletes, by the framework's rule: `[sql, params]`. */
  cleanupCondition(clock: ExpiryClock): [string, unknown[]] {
    this.requireKnown('cleanup')
    const op = this.rule.cleanupWhen === 'not-after-now' ? '<=' : (this.rule.cleanupWhen === 'before-now' ? '<' : this.expiredOp())
    return [this.withNull(`${this.column} ${op} ?`, this.nullExpired()), [this.cutoff(clock)]]
  }

  /** The rows in a state, as SQL (`''` for all): `[sql, params]`. */
  condition(state: SessionState, clock: ExpiryClock): [string, unknown[]] {
    if (state === 'all') return ['', []]
    this.requireKnown(`${state} sessions`)
    const live = state === 'live'
    const op = live ? this.liveOp() : this.expiredOp()
    return [this.withNull(`${this.column} ${op} ?`, live ? !this.nullExpired() : this.nullExpired()), [this.cutoff(clock)]]
  }

  /** The expiry a column value stands for (null: none). */
  expiresAt(value: unknown, clock: ExpiryClock): Date | null {
    if (value === null || value === undefined || this.rule.offsetUnknown !== undefined) return null
    let date: Date | null
    if (this.kind === 'datetime') {
      date = parseNaive(String(value), clock.timeZone)
    } else {
      const n = Number(value)
      date = new Date(this.kind === 'unix-ms' ? n : n * 1000)
    }

    if (date && this.offsetMs !== 0) date = new Date(date.getTime() + this.offsetMs)
    // Beyond the dates there are (Spring's Long.MAX_VALUE for a session that never expires): none.
    return date && Number.isFinite(date.getTime()) ? date : null
  }

  /** Whether a row with this column value is expired, by the same rule as `condition`. */
  isExpired(value: null | number | string, clock: ExpiryClock): boolean {
    if (this.rule.offsetUnknown !== undefined) return false
    if (value === null) return this.nullExpired()
    const {cutoff, key} = this.cutoffOf(clock)
    if (this.kind === 'datetime') {
      const stored = naiveOrderKey(String(value))
      return this.rule.liveWhen === 'not-before-now' ? stored < key : stored <= key
    }

    const stored = Number(value)
    return this.rule.liveWhen === 'not-before-now' ? stored < Number(cutoff) : stored <= Number(cutoff)
  }

  private computeCutoff(clock: ExpiryClock): number | string {
    switch (this.kind) {
    case 'datetime': {
      const micros = Number(clock.wallNow.slice(23, 26) || 0)
      // Naive times in the session's zone are compared by PostgreSQL as instants (connect-pg-simple):
      // read as it reads them, a repeated hour included.
      if (this.rule.naiveZone === 'session') return naiveAtOrAfter(new Date(clock.now.getTime() - this.offsetMs), clock.timeZone, micros)
      if (this.offsetMs === 0) return clock.wallNow
      // The microseconds of the server's clock are kept: the offset is whole seconds.
      return formatNaive(new Date(clock.now.getTime() - this.offsetMs), clock.timeZone, micros)
    }

    case 'unix-ms': {
      return clock.now.getTime() - this.offsetMs
    }

    case 'unix-seconds': {
      const seconds = clock.now.getTime() / 1000
      return (this.rule.nowSeconds === 'floor' ? Math.floor(seconds) : Math.round(seconds)) - (this.offsetMs / 1000)
    }
    }
  }

  /** The value the bare column is compared with: now minus the offset, in the column's encoding. */
  private cutoff(clock: ExpiryClock): number | string {
    return this.cutoffOf(clock).cutoff
  }

  /** cutoff, worked out once per clock (a naive one in a zone takes time-zone arithmetic). */
  private cutoffOf(clock: ExpiryClock): {cutoff: number | string; key: string} {
    if (this.last?.clock !== clock) {
      const cutoff = this.computeCutoff(clock)
      this.last = {clock, cutoff, key: this.kind === 'datetime' ? naiveOrderKey(String(cutoff)) : ''}
    }

    return this.last
  }

  private expiredOp(): '<' | '<=' {
    return this.rule.liveWhen === 'not-before-now' ? '<' : '<='
  }

  private liveOp(): '>' | '>=' {
    return this.rule.liveWhen === 'not-before-now' ? '>=' : '>'
  }

  private nullExpired(): boolean {
    return this.rule.nullMeans === 'expired'
  }

  /** The commands check this first (a usage error); reaching it here is a bug, never a guess. */
  private requireKnown(what: string): void {
    if (this.rule.offsetUnknown !== undefined) throw new Error(`${what}: the expiry is unknown without ${this.rule.offsetUnknown}`)
  }

  private withNull(condition: string, includeNull: boolean): string {
    return includeNull && this.nullable ? `(${condition} OR ${this.column} IS NULL)` : condition
  }
}
