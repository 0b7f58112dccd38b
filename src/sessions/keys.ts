import {createHash} from 'node:crypto'

import {UsageError} from '../errors.js'

/**
 * Session keys are bearer credentials: whoever has one is logged in. They are shown as a
 * fingerprint, a short prefix plus a hash, unless the operator asks for them with --show-keys.
 * The fingerprint is stable, so an operator can pass it to --except instead of a raw key.
 */
const PREFIX_LENGTH = 4
const HASH_LENGTH = 8
const ELLIPSIS = '…'

export function fingerprint(key: string): string {
  const hash = createHash('sha256').update(key).digest('hex').slice(0, HASH_LENGTH)
  // A prefix of a very short key would reveal most of it.
  const prefix = key.length >= 2 * PREFIX_LENGTH ? key.slice(0, PREFIX_LENGTH) : ''
  return `${prefix}${ELLIPSIS}${hash}`
}

export function displayKey(key: string, showKeys: boolean): string {
  return showKeys ? key : fingerprint(key)
}

// A fingerprint as `fingerprint` prints it: no prefix (a short key) or a 4-character one.
const FINGERPRINT = new RegExp(`^((?:[^…\\s]{${PREFIX_LENGTH}})?)(?:…|\\.\\.\\.)([0-9a-f]{${HASH_LENGTH}})$`)
/** Whitespace, control and invisible format characters: never part of a session key a framework makes. */
const NOT_IN_A_KEY = /[\s\p{Cc}\p{Cf}\u2028\u2029]/u

/**
 * Checks one `--except` value before anything is read: it must be a session key or a fingerprint
 * as `list` prints it. An empty value (an unset shell variable), blanks, a bare `…` or a cut-off
 * fingerprint would otherwise keep nothing, and the session the operator meant to keep would go.
 */
export function checkKeepEntry(entry: string): void {
  if (entry.length === 0) {
    throw new UsageError('--except "" names no session (an unset shell variable?): pass a session key or the fingerprint list printed')
  }

  // The value may be a raw key (a credential): it is quoted only when it is clearly not one.
  if (NOT_IN_A_KEY.test(entry)) {
    const what = entry.trim() === '' ? `--except ${JSON.stringify(entry)}` : 'an --except value'
    throw new UsageError(`${what} holds spaces or control characters, which no session key has: pass the key or fingerprint alone`)
  }

  if ((entry.includes(ELLIPSIS) || entry.includes('...')) && !FINGERPRINT.test(entry)) {
    const what = entry.length <= 3 ? `--except ${JSON.stringify(entry)}` : 'an --except value'
    throw new UsageError(`${what} is not a whole fingerprint: copy it as list prints it (4 characters, …, 8 hex digits), or pass the key`)
  }
}

/**
 * The keys that must survive a purge (`--except`), given raw or as fingerprints
 * (`abcd…1a2b3c4d`, or with `...` for terminals that cannot type `…`).
 * It remembers which entries matched so the command can refuse to go on when one names nothing.
 */
export class KeepList {
  private readonly fingerprints = new Map<string, string>()
  /** Each key kept, and the entry that named it (itself, or the entry it is a form of). */
  private readonly raw = new Map<string, string>()
  private readonly seen = new Set<string>()

  /**
   * `aliases` gives the other stored keys an entry stands for (Framework.keyForms: a Rails
   * public id's private id): keeping one of those counts as the entry matched.
   * @throws UsageError for a value that cannot be a key or a fingerprint (see checkKeepEntry).
   */
  constructor(entries: readonly string[] = [], aliases: (entry: string) => readonly string[] = () => []) {
    for (const entry of entries) {
      checkKeepEntry(entry)
      const match = FINGERPRINT.exec(entry)
      if (match) {
        this.fingerprints.set(`${match[1]}${ELLIPSIS}${match[2]}`, entry)
        continue
      }

      this.raw.set(entry, entry)
      for (const alias of aliases(entry)) if (!this.raw.has(alias)) this.raw.set(alias, entry)
    }
  }

  get size(): number {
    return this.raw.size + this.fingerprints.size
  }

  /** True when `key` must be kept; records the entry as seen. */
  keeps(key: string): boolean {
    if (this.size === 0) return false
    const named = this.raw.get(key)
    if (named !== undefined) {
      this.seen.add(named)
      return true
    }

    if (this.fingerprints.size > 0) {
      const entry = this.fingerprints.get(fingerprint(key))
      if (entry !== undefined) {
        this.seen.add(entry)
        return true
      }
    }

    return false
  }

  /** Entries that matched no selected session, shown masked. */
  unmatched(): string[] {
    const out: string[] = []
    for (const [key, entry] of this.raw) if (key === entry && !this.seen.has(entry)) out.push(fingerprint(entry))
    for (const entry of this.fingerprints.values()) if (!this.seen.has(entry)) out.push(entry)
    return out
  }
}
