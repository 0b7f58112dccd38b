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
  /** How the store is shown to the operator: URL without password, plus table or prefix. */
  readonly label: string
  readonly capabilities: StoreCapabilities
  /**
   * Streams the sessions that pass `filter` to `sink`, in bounded batches, and returns what was
   * scanned. Never holds the whole store in memory.
   */
  listSessions(filter: SessionFilter, sink?: SessionSink): Promise<ScanSummary>
  /**
   * Deletes exactly these sessions (as returned by listSessions), each only if it is still the
   * same version it was when selected: a session re-written or re-owned meanwhile survives.
   * Works in bounded batches, each short; stops between batches when `signal` aborts.
   */
  deleteSessions(sessions: readonly Session[], options?: DeleteOptions): Promise<DeleteSummary>
  /**
   * The operation the product is named for: deletes the sessions of `userId` (all of them, or
   * only the expired ones), except those `options.except` names, and says what it selected
   * and what it did.
   *
   * 1. Selects exactly as `listSessions({state: 'all' | 'expired', userId, keep: except})` does;
   *    a dry run stops here and returns that selection: the one a real run deletes.
   * 2. Calls `options.confirm` with the selection, when something was selected, once, before
   *    anything is deleted; `false` deletes nothing.
   * 3. Deletes exactly the selected sessions with `deleteSessions`' compare-and-delete: a session
   *    re-written, extended or re-owned since selection survives (`changed`), one removed
   *    meanwhile is counted as `gone`. The signal is checked before the first delete.
   *
   * A failure while deleting throws an error carrying what was deleted before it
   * (`PartialFailureError.deleted`). Adapters do not re-implement this: their `purgeUser` is
   * `return purgeBySelection(this, userId, options)` (`sessions/purge.ts`), built on their own
   * listSessions and deleteSessions; several stores under one confirmation are `purgeStores`.
   */
  purgeUser(userId: string, options: PurgeOptions): Promise<PurgeSummary>
  /**
   * Deletes every expired session, of every user, in bounded batches that each hold locks
   * briefly, under a lock so two cleanups never overlap (LockHeldError otherwise). A session
   * extended meanwhile survives. Stops between batches on abort or at the deadline.
   */
  cleanupExpired(options: CleanupOptions): Promise<CleanupSummary>
  /**
   * `sessions doctor`: the checks about the store itself that matter for cleanup and purge (indexes,
   * clock, privileges and locks, binary log and replicas, TTL policy, index drift), each one line.
   * Checks that come from reading the sessions are shared (sessions/doctor.ts), not the adapter's.
   * Reads only: anything it tries (a DELETE that matches nothing, a lock) is undone at once.
   */
  diagnose?(options: DiagnoseOptions): Promise<Check[]>
  close(): Promise<void>
}

export interface DiagnoseOptions {
  /** Replica URLs to check for lag (MySQL/MariaDB, PostgreSQL), as cleanup --replica takes them. */
  replicas?: readonly string[]
  signal?: AbortSignal
}

export type CheckStatus = 'fail' | 'ok' | 'warn'

/** One doctor line: `ok`, `warn` (works, but something to fix) or `fail` (cleanup or purge cannot work as meant). */
export interface Check {
  /** Stable name for --json (e.g. `expiry-index`, `clock-skew`). */
  id: string
  status: CheckStatus
  /** What was found, one line; never a password, secret or raw session key. */
  summary: string
  /** What to do about it (warn/fail). */
  hint?: string
  /** The numbers behind the line, for --json. */
  figures?: Record<string, boolean | null | number | string>
}

export interface StoreCapabilities {
  /** The store keeps expired sessions until something deletes them (SQL), unlike TTL stores. */
  keepsExpired: boolean
  /** The detail columns its sessions carry (Session.details), by label, where the layout names some. */
  details?: readonly string[]
}

export type SessionState = 'all' | 'expired' | 'live'

export interface SessionFilter {
  /** Only this user's sessions (compared as text); all sessions when absent. */
  userId?: string
  state: SessionState
  /** Sessions that must never be selected (purge --except); they are counted as kept. */
  keep?: KeepList
  /**
   * Only the sessions these keys or fingerprints name (revoke, show), whoever owns them: other
   * values are not decoded, and a named value that cannot be decoded is selected too, with
   * `Session.undecodable` (the operator named it; its owner is not needed to delete it).
   */
  names?: KeepList
  /**
   * show: the selected sessions come with their decoded payload (Session.inspection), decoded
   * again on this thread; every named value is selected, a bad signature included. Only with
   * `names` (a handful of sessions): a full scan never pays for it.
   */
  inspect?: true
  /**
   * list --undecodable: also hand over the values that could not be decoded (with a user, those
   * not settled as another user's), batch by batch. Off the hot path when absent.
   */
  onUndecodable?(values: UndecodableValue[]): void
  /**
   * The sink only counts (stats): sessions come without their version (`version` is empty), so a
   * delete could never match them; spares a hash of every value.
   */
  countOnly?: true
  /**
   * Decode every value even with a user (no prefilter), so the undecodable counts cover every
   * value, not only those not ruled out as the user's (--strict-counts; stats always does).
   */
  strictCounts?: true
  signal?: AbortSignal
}

export interface Session {
  /** The store's label. */
  store: string
  /** The raw session key (a bearer credential: display through `displayKey`). */
  key: string
  /** Where the adapter finds it again when that is more than the key (e.g. the full Redis key). */
  ref?: string
  userId: null | string
  expiresAt: Date | null
  expired: boolean
  /** Stored size in bytes. */
  size: number
  /** Identifies the exact stored version (value and expiry) for compare-and-delete. */
  version: string
  /** What the store keeps beside the session (SqlLayout.detailColumns), by label; shown by list. */
  details?: Record<string, null | string>
  /**
   * The store cannot tell when it expires without a setting the operator did not give
   * (ExpiryRule.offsetUnknown): `expiresAt` is null and `expired` false, but neither is known.
   */
  expiryUnknown?: true
  /** A Redis key without a TTL: only the payload's expiry, if it has one, ends it (the store never will). */
  noTtl?: true
  /** Selected by name (SessionFilter.names) though its value cannot be decoded: why (userId is null). */
  undecodable?: string
  /** The decoded payload, with SessionFilter.inspect (absent where the row holds none: SqlLayout.ownerColumn). */
  inspection?: SessionInspection
}

/** What a session's payload decoded to (SessionFilter.inspect): values as the format's reader returns them. */
export interface SessionInspection {
  /** The codec's name (Codec.name: the --format). */
  format: string
  data: Record<string, unknown>
  /** The format variant read (DecodedSession.variant). */
  variant: string
  signature: 'invalid' | 'unchecked' | 'valid'
  /** The user the payload names, signature aside (Session.userId is null when the signature is bad). */
  userId: null | string
}

/** A stored value that could not be decoded (list --undecodable). */
export interface UndecodableValue {
  store: string
  /** The raw key (a bearer credential when it is a session's: display through `displayKey`). */
  key: string
  reason: string
  /** The framework could read it: it may be anyone's session (Undecodable.ownerUnknown). */
  ownerUnknown: boolean
  /** Stored size in bytes. */
  size: number
}

export interface SessionSink {
  onProgress?(progress: ScanProgress): void
  onSessions?(sessions: Session[]): Promise<void> | void
  /**
   * A counting sink (stats, doctor) may take each selected session as these few values instead:
   * the SQL stores, which do no work on selected sessions, then call this and build no Session
   * object (after decoding, a full scan's main cost on the scanning thread); a store that does
   * (Redis: the TTLs) calls onSessions. A sink that sets it must count the same either way. The
   * object is reused: valid only during the call.
   */
  onTally?(session: TalliedSession): void
}

/** What onTally hands over of a selected session (the same fields as Session's). */
export type TalliedSession = Pick<Session, 'expired' | 'expiresAt' | 'expiryUnknown' | 'key' | 'noTtl' | 'size' | 'userId'>

export interface ScanProgress {
  matched: number
  scanned: number
  store: string
}

export interface ScanSummary {
  store: string
  /** Sessions read from the store (after the store-side state filter). */
  scanned: number
  /** Sessions handed to the sink. */
  matched: number
  /** Sessions of the user left alone because --except named them. */
  kept: number
  /** Values that are not readable sessions, by reason; never matched, never deleted by a purge. */
  undecodable: Record<string, number>
  /**
   * The part of `undecodable` the framework itself could read (too large, an unsupported
   * compression...), by reason: whose sessions they are is unknown, so a purge that leaves them
   * cannot say the user is logged out everywhere.
   */
  ownerUnknown: Record<string, number>
  /** Readable sessions whose signature is wrong (with --secret-key): the framework ignores them. */
  badSignature: number
  /**
   * What `undecodable` covers: 'candidates' when a scan for one user skipped the values whose
   * bytes cannot hold the user without parsing them (so a value that is also not JSON or not a
   * pickle is not counted; bad base64, bad zlib, empty and too large always are), 'all' when every
   * value was decoded (no user, --strict-counts, or a format without the prefilter). Set by
   * every scan that decodes (Selector).
   */
  undecodableCounted?: 'all' | 'candidates'
  /** The clock used to tell live from expired (the store's own clock where it has one). */
  now: Date
  /**
   * Indexed lookups (--user-column): rows the user column gives to the user whose payload says
   * otherwise (another user, anonymous). The payload decides: they are not selected.
   */
  userMismatch?: number
  /** Things the operator should know about how the store was read (e.g. a missing index). */
  warnings?: string[]
  /**
   * A per-user index the store keeps (RedisLayout.userIndex) named sessions that no longer exist
   * (Spring Session's known drift): never listed as sessions. `removed`: a purge took them out.
   */
  staleIndex?: {count: number; fingerprints: string[]; removed?: number}
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
  store: string
  deleted: number
  /** Selected sessions that changed (re-written, extended, re-owned) before the delete: kept. */
  changed: number
  /** Selected sessions that were already gone at delete time. */
  gone: number
  /** True when the signal stopped the run before every batch was done. */
  stopped: boolean
}

export interface PurgeOptions {
  /** Select and report; delete nothing (`confirm` is not called). */
  dryRun: boolean
  /** Sessions that must survive, by key or fingerprint: never selected, counted as `scan.kept`. */
  except?: KeepList
  /** Only the user's expired sessions (meaningful where the store keeps them: `keepsExpired`). */
  expiredOnly?: boolean
  /** Sessions per delete batch (the adapter's default when absent). */
  batchSize?: number
  /** Stops selection (nothing is deleted), or deletion between batches. */
  signal?: AbortSignal
  onScanProgress?(progress: ScanProgress): void
  onDeleteProgress?(progress: DeleteProgress): void
  /**
   * Called once the selection is complete and before anything is deleted, when something was
   * selected and this is no dry run: `false` deletes nothing (an error it throws comes out of
   * purgeUser, nothing deleted). Absent: no question. It may take its time (a prompt, other
   * stores' selection): the store holds nothing meanwhile.
   */
  confirm?(selection: PurgeSelection): boolean | Promise<boolean>
}

/** What a purge selected in one store: what a dry run shows and a real run deletes. */
export interface PurgeSelection {
  store: string
  /** The sessions to delete, in the order listSessions delivered them. */
  sessions: readonly Session[]
  /** How the selection scan went: scanned, kept by `except`, undecodable, owner unknown... */
  scan: ScanSummary
}

/**
 * `deleted`, `changed`, `gone` and `stopped` as deleteSessions counts them (0 when nothing was
 * attempted); `stopped` is also true when the signal stopped the selection.
 */
export interface PurgeSummary extends DeleteSummary, PurgeSelection {
  /**
   * Deletion was attempted: false for a dry run, an empty or stopped selection, or a confirm
   * that said no. True, with `stopped` and nothing deleted, when the signal came just before it.
   */
  attempted: boolean
  /** What `confirm` answered; absent when it was not asked. */
  confirmed?: boolean
}

/** What opening a store needs besides its URL: how to read values, and where sessions live. */
export interface StoreOptions {
  codec: Codec
  layout: StoreLayout
  connectTimeoutMs?: number
  /** Interpret naive DATETIME expiry columns in this IANA zone (Django USE_TZ=False). */
  timeZone?: string
}

/** Where a framework keeps its sessions (src/frameworks/); each adapter reads the part that concerns it. */
export interface StoreLayout {
  sql?: SqlLayout
  /** The PostgreSQL table where the framework's differs from `sql` (connect-pg-simple's); else `sql` serves. */
  postgres?: SqlLayout
  redis?: RedisLayout
  /**
   * SQL stores: a column holding the user id (an app's `user_id`, Laravel's `user_id`, Spring's
   * `PRINCIPAL_NAME`): with a user filter, rows are found through it instead of a scan, and the
   * payload still has to name the same user.
   */
  userColumn?: string
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
  /**
   * `hash`: each session is a Redis hash (Spring Session), handed to the codec as all its fields
   * and values (formats/field-map.ts). Absent: a string value.
   */
  value?: 'hash'
  /** Other keys that belong to the session and go with it (Spring's shadow key), by session key. */
  companions?(key: string): string[]
  /** Sets the session is a member of besides the user index (Spring's expirations sets), by key and expiry. */
  memberships?(key: string, expiresAt: Date | null): Array<{member: Buffer; set: string}>
  /** A per-user index the framework keeps: a set of session keys per user (hash-valued layouts). */
  userIndex?: UserIndex
}

/**
 * A set per user naming that user's sessions (Spring Session's principal index). Lookups for a
 * user read it instead of scanning; every member is checked against its session, and members
 * whose session is gone are stale: reported, removed by cleanup and by a purge of that user.
 */
export interface UserIndex {
  /** The set's key for a user. */
  key(userId: string): string
  /** SCAN MATCH glob of every index set (cleanup). */
  glob: string
  /** The member that names a session, and back (undefined: not a member this framework writes). */
  member(sessionKey: string): Buffer
  sessionOf(member: Buffer): string | undefined
}

export interface SqlLayout {
  table: string
  keyColumn: string
  /** Another unique column that names a session too (Spring's PRIMARY_ID), accepted by --except. */
  keyAliasColumn?: string
  dataColumn: string
  /**
   * The framework records each session's owner in this column and keeps nothing to decode in
   * the row (Spring's PRINCIPAL_NAME): it is the user, compared exactly (never by the column's
   * collation), found through its index; `dataColumn` is not read.
   */
  ownerColumn?: string
  /**
   * A table whose rows belong to a session (Spring's `<table>_ATTRIBUTES`): named by the session
   * table plus `suffix`, its `column` holds the session's `references` column. Deleting a session
   * deletes them (the foreign key's cascade, or explicitly where the table has none).
   */
  children?: {column: string; references: string; suffix: string}
  /**
   * A column that holds the user id, which the framework keeps itself (Laravel's `user_id`): a
   * user filter reads it by index, and the payload still has to name the same user.
   */
  userColumn?: string
  /**
   * A json/jsonb data column whose value is a JSON *string* holds the session's JSON in that string
   * (connect-pg-simple JSON.parses a string the driver hands it once more, and serves the result):
   * it is read as the store reads it. Other column types are read as they are.
   */
  jsonStringHoldsSession?: true
  /** When a row expires, by the framework's rule: state filters and cleanup derive their SQL from it. */
  expiry: ExpiryRule
  /**
   * Columns the framework keeps beside the session that help an operator tell sessions apart
   * (Laravel's ip_address, user_agent, last_activity): list shows those the table has.
   */
  detailColumns?: readonly DetailColumn[]
}

export interface DetailColumn {
  column: string
  /** The name shown (JSON field, table header). */
  label: string
  /** A time in Unix seconds or milliseconds, shown as ISO-8601. */
  unit?: 'unix-ms' | 'unix-seconds'
}

/**
 * A framework's expiry rule for a SQL row, as data:
 *   expires at = the column's time (in `unit`) + `offsetSeconds`
 *   live       = expires at > now (`after-now`, Django) or ≥ now (`not-before-now`, express)
 *   cleanup    = what is not live, unless `cleanup` says the framework's own cleanup differs
 * Conditions keep the column bare (`column > now - offset`), so its index serves them.
 */
export interface ExpiryRule {
  column: string
  /** How the column encodes time; `auto` = from the column type, refusing to guess ints. */
  unit: ExpiryUnit
  /**
   * Added to the column's time to get the expiry, e.g. Laravel's `last_activity` + its lifetime
   * (from a flag such as --lifetime). 0 when the column holds the expiry itself.
   */
  offsetSeconds?: number
  /**
   * Set when the offset is a setting the operator did not give and that has no safe default
   * (Rails' session lifetime): what is missing, for messages. Expiry is then unknown: rows have
   * no expiry and are not expired, only `all` can be selected, and cleanup refuses to run.
   */
  offsetUnknown?: string
  /** The framework's rule for "still live" (see above). */
  liveWhen: 'after-now' | 'not-before-now'
  /**
   * What the framework's own cleanup deletes, where it differs from "not live": Laravel reads
   * `expires at < now` as expired but its gc() deletes `≤ now` (`not-after-now`); Spring reads
   * `expires at ≤ now` as expired and deletes `< now` (`before-now`).
   */
  cleanupWhen?: 'before-now' | 'not-after-now'
  /**
   * What a NULL in the column means: the session never expires (`never`, the default: it is live
   * and cleanup leaves it), or it is expired (`expired`: Flask-Session ≥ 0.7 reads it so).
   */
  nullMeans?: 'expired' | 'never'
  /**
   * Unix-seconds columns: how the framework turns now into whole seconds (express-mysql-session
   * rounds Date.now() / 1000, the default; PHP's time() floors).
   */
  nowSeconds?: 'floor' | 'round'
  /**
   * Naive time columns: the framework writes them in the database session's time zone
   * (connect-pg-simple's `to_timestamp()` into a `timestamp` column), so they are read in the
   * server's TimeZone setting unless --time-zone says otherwise, and compared as PostgreSQL compares
   * them with a timestamptz (an hour the clocks repeat is read as its second pass). Absent: UTC
   * unless --time-zone, compared as wall-clock text.
   */
  naiveZone?: 'session'
}

export type ExpiryUnit = 'auto' | 'datetime' | 'unix-ms' | 'unix-seconds'

export interface CleanupOptions {
  dryRun: boolean
  /** Connections deleting in parallel (MySQL's key-order walk, default 4; PostgreSQL's page walk, default 2; 1 is the gentlest). */
  workers?: number
  /** Rows per batch to start with; adapted to keep each statement near `targetMs`. */
  batchSize: number
  /** Keep the batch statements about this long (ms); the batch size follows. */
  targetMs: number
  /** Fixed pause between batches (ms). */
  sleepMs: number
  /** Pause between batches, as a multiple of the last batch's time. */
  sleepFactor: number
  /** Stop (cleanly, between batches) at this time (ms since epoch). */
  deadline?: number
  signal?: AbortSignal
  /** MySQL: replicas to watch, and the lag (s) above which batches wait. */
  replicas?: string[]
  maxReplicaLagS?: number
  /** Redis: delete keys without TTL whose payload has expired, and give a TTL to live ones. */
  fixNoTtl?: boolean
  onBatch?(progress: CleanupProgress): void
  onWarning?(text: string): void
}

export interface CleanupProgress {
  store: string
  deleted: number
  batches: number
  lastBatchMs: number
}

export type CleanupStop = 'deadline' | 'done' | 'signal'

export interface CleanupSummary {
  store: string
  /** What ended the run. */
  stoppedBy: CleanupStop
  deleted: number
  batches: number
  seconds: number
  /** The longest single statement, as timed by the client (an upper bound of server time). */
  maxStatementMs: number
  /** Retries after deadlocks and lock-wait timeouts. */
  retries: number
  /** Time spent waiting for replicas to catch up (s). */
  replicaWaitS: number
  /** The expired sessions found (dry run: that would be deleted). */
  expired: number
  /**
   * Dry run: the batches the run would take, from fast statements (min) to statements at
   * --target-ms (max), as the run sizes them (pacing.ts estimateBatches). SQL stores only.
   */
  batchEstimate?: {max: number; min: number}
  oldestExpiry: Date | null
  newestExpiry: Date | null
  /** Redis: keys without a TTL (never expire by themselves), and what --fix-no-ttl did. */
  noTtl?: {found: number; expired: number; deleted: number; ttlSet: number; noExpiry: number}
  /**
   * Per-user index sets (RedisLayout.userIndex): members whose session is gone (found; removed
   * unless a dry run), and members that name no session this framework writes (left alone).
   */
  staleIndex?: {found: number; removed: number; sets: number; unreadable: number}
  /** SqlLayout.children without a cascading foreign key: rows of deleted sessions removed too. */
  orphans?: {deleted: number; found: number; table: string}
  /** PostgreSQL: dead tuples the deleted rows left until VACUUM (reported after a large cleanup, with a hint). */
  deadTuples?: number
}
