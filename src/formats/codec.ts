/**
 * A format codec reads one stored session value. It is pure and synchronous, never executes
 * anything found in the payload, and never throws: an undecodable value is a result with a
 * reason, which the caller counts and reports and never matches to a user.
 */
export interface Codec {
  /** Short name shown in reports, e.g. "django". */
  readonly name: string
  decode(value: Buffer): Decoded
  /**
   * Like decode, for a scan that only wants `userId`'s sessions: may return undefined when it
   * settles cheaply that the value cannot be that user's session (e.g. the decompressed JSON
   * never names the user), skipping the rest of the work. Never undefined for the user's own
   * sessions. A value skipped this way is not checked further, so a malformed payload among
   * other users' sessions is not counted as undecodable.
   */
  decodeFor?(value: Buffer, userId: string): Decoded | undefined
  /**
   * Like decode for a caller that reads only `userId`, `expiresAt`, `signature` and `variant` (a
   * scan): the same answer, the same undecodable reasons, but `data` may be empty when the user
   * was read without building the payload. decodeFor's results are lite too.
   */
  decodeLite?(value: Buffer): Decoded
  /** How to build the same codec elsewhere (a worker thread); frameworks' codecs have one. */
  readonly spec?: CodecSpec
}

/** A framework's codec, rebuildable from plain data (src/frameworks/). */
export interface CodecSpec {
  framework: string
  settings: CodecSettings
}

export interface CodecSettings {
  /** Keys the codec decrypts with (Laravel's APP_KEY, as given). */
  appKeys?: readonly string[]
  secretKeys: readonly string[]
  salt?: string
  userPath: readonly string[]
}

export type Decoded = DecodedSession | Undecodable

export interface DecodedSession {
  /** The session dict. */
  data: Record<string, unknown>
  /** Expiry recorded inside the payload, where the format keeps one. */
  expiresAt?: Date
  ok: true
  /**
   * Whether the payload's signature was checked: `invalid` means the framework itself would
   * refuse the payload, so the session belongs to nobody.
   */
  signature: 'invalid' | 'unchecked' | 'valid'
  /** The user the session belongs to, as text (`42` and `"42"` are the same user), or null. */
  userId: null | string
  /** Which variant of the family was read (e.g. "signed", "legacy"), for diagnostics. */
  variant: string
}

export interface Undecodable {
  ok: false
  /**
   * The framework itself could read the value, this reader cannot (over a size or depth limit,
   * a compression or pickle feature it refuses): it may be anyone's session, including the
   * user's a purge is for. Absent: the framework cannot read it either (empty, bad base64 or
   * zlib, not JSON...), so it is nobody's session.
   */
  ownerUnknown?: true
  /** Short, stable, human text: "bad zlib", "not JSON"... Counted per reason in reports. */
  reason: string
}

export function undecodable(reason: string): Undecodable {
  return {ok: false, reason}
}

/** An Undecodable whose owner is unknown (see Undecodable.ownerUnknown). */
export function ownerUnknown(reason: string): Undecodable {
  return {ok: false, ownerUnknown: true, reason}
}

/**
 * User ids compare as text: Django stores `"42"`, express/passport may store `42`.
 * Anything that is not a string, a finite number or a bigint is not a user id.
 */
export function userIdText(value: unknown): null | string {
  if (typeof value === 'string') return value
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : null
  if (typeof value === 'bigint') return value.toString()
  return null
}

/**
 * Reads a dotted path (`passport.user`) from a decoded session. Segments are own properties
 * only, so a payload cannot reach into prototypes.
 */
export function readPath(data: unknown, path: readonly string[]): unknown {
  let current: unknown = data
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined
    if (!Object.hasOwn(current, segment)) return undefined
    current = (current as Record<string, unknown>)[segment]
  }

  return current
}

/** Parses a `--user-path` value into segments; throws on an empty segment. */
export function parseUserPath(path: string): string[] {
  const segments = path.split('.')
  if (segments.some(s => s.length === 0)) throw new Error(`invalid user path "${path}": empty segment`)
  return segments
}
