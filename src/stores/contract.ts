import type {Codec} from '../formats/codec.js'
import type {KeepList} from '../sessions/keys.js'

/**
 * The store adapter contract. An adapter knows its backend (SQL table and columns, Redis key
 * pattern, cluster nodes) and nothing about payload formats: it hands raw values to the codec
 * it was opened with, through the shared selection code (`sessions/select.ts`).
 *
 * Every adapter passes the same conformance suite (`test/stores/contract-suite.ts`).
 */
export interface SessionStore {
  readonly capabilities: StoreCapabilities
  close(): Promise<void>
  /**
   * Deletes exactly these sessions (as returned by listSessions), each only if it is still the
   * same version it was when selected: a session re-written or re-owned meanwhile survives.
   * Works in bounded batches, each short; stops between batches when `signal` aborts.
   */
  deleteSessions(sessions: readonly Session[], options?: DeleteOptions): Promise<DeleteSummary>
  /** How the store is shown to the operator: URL without password, plus table or prefix. */
  readonly label: string
  /**
   * Streams the sessions that pass `filter` to `sink`, in bounded batches, and returns what was
   * scanned. Never holds the whole store in memory.
   */
  listSessions(filter: SessionFilter, sink?: SessionSink): Promise<ScanSummary>
}

export interface StoreCapabilities {
  /** The store keeps expired sessions until something deletes them (SQL), unlike TTL stores. */
  keepsExpired: boolean
}

export type SessionState = 'all' | 'expired' | 'live'

export interface SessionFilter {
  /** Sessions that must never be selected (purge --except); they are counted as kept. */
  keep?: KeepList
  signal?: AbortSignal
  state: SessionState
  /** Only this user's sessions (compared as text); all sessions when absent. */
  userId?: string
}

export interface Session {
  expired: boolean
  expiresAt: Date | null
  /** The raw session key (a bearer credential: display through `displayKey`). */
  key: string
  /** Where the adapter finds it again when that is more than the key (e.g. the full Redis key). */
  ref?: string
  /** Stored size in bytes. */
  size: number
  /** The store's label. */
  store: string
  userId: null | string
  /** Identifies the exact stored version (value and expiry) for compare-and-delete. */
  version: string
}

export interface SessionSink {
  onProgress?(progress: ScanProgress): void
  onSessions?(sessions: Session[]): Promise<void> | void
}

export interface ScanProgress {
  matched: number
  scanned: number
  store: string
}

export interface ScanSummary {
  /** Readable sessions whose signature is wrong (with --secret-key): the framework ignores them. */
  badSignature: number
  /** Sessions of the user left alone because --except named them. */
  kept: number
  /** Sessions handed to the sink. */
  matched: number
  /** The clock used to tell live from expired (the store's own clock where it has one). */
  now: Date
  /** Sessions read from the store (after the store-side state filter). */
  scanned: number
  store: string
  /** Values that are not readable sessions, by reason; never matched, never deleted by a purge. */
  undecodable: Record<string, number>
}

export interface DeleteOptions {
  batchSize?: number
  onProgress?(progress: DeleteProgress): void
  signal?: AbortSignal
}

export interface DeleteProgress {
  deleted: number
  store: string
  total: number
}

export interface DeleteSummary {
  /** Selected sessions that changed (re-written, extended, re-owned) before the delete: kept. */
  changed: number
  deleted: number
  /** Selected sessions that were already gone at delete time. */
  gone: number
  /** True when the signal stopped the run before every batch was done. */
  stopped: boolean
  store: string
}

/** What opening a store needs besides its URL: how to read values, and where sessions live. */
export interface StoreOptions {
  codec: Codec
  connectTimeoutMs?: number
  layout: StoreLayout
  /** Interpret naive DATETIME expiry columns in this IANA zone (Django USE_TZ=False). */
  timeZone?: string
}

/** Where a preset keeps its sessions; each adapter reads the part that concerns it. */
export interface StoreLayout {
  sql?: SqlLayout
  redis?: RedisLayout
}

export interface RedisLayout {
  /**
   * Literal key prefixes in front of the session key, longest first (Django's cache engine
   * and cached_db keep one each). Shown to the operator and escaped for SCAN MATCH.
   */
  prefixes: string[]
  /** SCAN MATCH glob for the session-key part (e.g. 32 × `[a-z0-9]` for Django keys). */
  keyGlob: string
  /** What a session key looks like; keys under the prefix that do not match are skipped. */
  keyPattern: RegExp
}

export interface SqlLayout {
  table: string
  keyColumn: string
  dataColumn: string
  expiryColumn: string
  /** How the expiry column encodes time; `auto` = from the column type, refusing to guess ints. */
  expiryUnit: ExpiryUnit
  /**
   * The framework's rule for "still live": Django serves `expire_date > now`,
   * express-mysql-session serves `expires >= now` (in whole seconds).
   */
  liveWhen?: 'after-now' | 'not-before-now'
}

export type ExpiryUnit = 'auto' | 'datetime' | 'unix-ms' | 'unix-seconds'
