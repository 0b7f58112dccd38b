import {createHash} from 'node:crypto'

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

const FINGERPRINT = new RegExp(`^([^…]{0,${PREFIX_LENGTH}})(?:…|\\.\\.\\.)([0-9a-f]{${HASH_LENGTH}})$`)

/**
 * The keys that must survive a purge (`--except`), given raw or as fingerprints
 * (`abcd…1a2b3c4d`, or with `...` for terminals that cannot type `…`).
 * It remembers which entries matched so the command can warn about the ones that did not.
 */
export class KeepList {
  private readonly fingerprints = new Map<string, string>()
  private readonly raw = new Set<string>()
  private readonly seen = new Set<string>()

  constructor(entries: readonly string[] = []) {
    for (const entry of entries) {
      const match = FINGERPRINT.exec(entry)
      if (match) this.fingerprints.set(`${match[1]}${ELLIPSIS}${match[2]}`, entry)
      else this.raw.add(entry)
    }
  }

  get size(): number {
    return this.raw.size + this.fingerprints.size
  }

  /** True when `key` must be kept; records the entry as seen. */
  keeps(key: string): boolean {
    if (this.size === 0) return false
    if (this.raw.has(key)) {
      this.seen.add(key)
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
    for (const key of this.raw) if (!this.seen.has(key)) out.push(fingerprint(key))
    for (const entry of this.fingerprints.values()) if (!this.seen.has(entry)) out.push(entry)
    return out
  }
}
