import type {Codec} from '../formats/codec.js'

/**
 * What decoding a batch of values decided: which ones are candidates (decodable, signature not
 * refused, and the user's when a user is given), and what the others were. Plain data, so a
 * worker thread can compute it and post it back.
 */
export interface Classified {
  /**
   * The candidates, as three parallel columns (one array each rather than a tuple per value, so a
   * batch of a full scan crosses from a worker thread as three objects, not thousands): index in
   * the batch, user id, and the payload's expiry in ms (NaN: none).
   */
  matches: {expiries: number[]; indices: number[]; userIds: Array<null | string>}
  undecodable: Record<string, number>
  /** The part of `undecodable` whose owner is unknown (Undecodable.ownerUnknown), by reason. */
  ownerUnknown: Record<string, number>
  badSignature: number
  /** With `rejects`: each undecodable value, [index in the batch, reason, owner unknown]. */
  rejects?: Array<[number, string, boolean]>
  /** With `rejects`: the index of each value whose signature is wrong (counted in badSignature). */
  badSignatures?: number[]
}

export interface ClassifyOptions {
  /** Say which values could not be decoded (Classified.rejects). */
  rejects?: boolean
  /** Decode every value, even with a user (no prefilter): the undecodable counts cover every value (--strict-counts). */
  strict?: boolean
}

export function classify(codec: Codec, values: readonly Uint8Array[], userId: string | undefined, options: ClassifyOptions = {}): Classified {
  const out: Classified = {
    badSignature: 0, matches: {expiries: [], indices: [], userIds: []}, ownerUnknown: {}, undecodable: {}, ...(options.rejects ? {badSignatures: [], rejects: []} : {}),
  }
  const decodeFor = userId === undefined || options.strict ? undefined : codec.decodeFor?.bind(codec)
  // Only the user, expiry and signature are read here: the lite decode where the codec has one.
  const decode = (codec.decodeLite ?? codec.decode).bind(codec)
  for (const [i, value] of values.entries()) {
    const decoded = decodeFor ? decodeFor(value as Buffer, userId!) : decode(value as Buffer)
    if (decoded === undefined) {
      // Settled without a full decode: not the user's.
    } else if (!decoded.ok) {
      out.undecodable[decoded.reason] = (out.undecodable[decoded.reason] ?? 0) + 1
      if (decoded.ownerUnknown) out.ownerUnknown[decoded.reason] = (out.ownerUnknown[decoded.reason] ?? 0) + 1
      out.rejects?.push([i, decoded.reason, decoded.ownerUnknown === true])
    } else if (decoded.signature === 'invalid') {
      // A payload the framework would refuse belongs to nobody.
      out.badSignature++
      out.badSignatures?.push(i)
    } else if (userId === undefined || decoded.userId === userId) {
      out.matches.indices.push(i)
      out.matches.userIds.push(decoded.userId)
      out.matches.expiries.push(decoded.expiresAt ? decoded.expiresAt.getTime() : Number.NaN)
    }
  }

  return out
}
