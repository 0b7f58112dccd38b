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

/** How errors name a value: `name` before the value when it is shown, `one` when it is not (a credential). */
export interface EntryName {
  name: string
  one: string
}

const EXCEPT: EntryName = {name: '--except', one: 'an --except value'}

/**
 * Checks one value that names a session (`--except`, revoke's arguments) before anything is read:
 * it must be a session key or a fingerprint as `list` prints it. An empty value (an unset shell
 * variable), blanks, a bare `…` or a cut-off fingerprint names nothing: `--except` would keep
 * nothing (and the session meant to be kept would go), revoke would revoke nothing.
 * `what` names the value in the errors (`--except`; revoke's "argument 2", "stdin line 3").
 */
export function checkKeepEntry(entry: string, what: EntryName = EXCEPT): void {
  if (entry.length === 0) {
    throw new UsageError(`${what.name} "" names no session (an unset shell variable?): pass a session key or the fingerprint list printed`)
  }

  // The value may be a raw key (a credential): it is quoted only when it is clearly not one.
  if (NOT_IN_A_KEY.test(entry)) {
    const which = entry.trim() === '' ? `${what.name} ${JSON.stringify(entry)}` : what.one
    throw new UsageError(`${which} holds spaces or control characters, which no session key has: pass the key or fingerprint alone`)
  }

  if ((entry.includes(ELLIPSIS) || entry.includes('...')) && !FINGERPRINT.test(entry)) {
    const which = entry.length <= 3 ? `${what.name} ${JSON.stringify(entry)}` : what.one
    throw new UsageError(`${which} is not a whole fingerprint: copy it as list prints it (4 characters, …, 8 hex digits), or pass the key`)
  }
}

import type {KeyForm} from '../frameworks/framework.js'

export type {KeyForm} from '../frameworks/framework.js'

/** How one given value named sessions (KeepList.report), masked. */
export interface NameReport {
  /** The value as shown: its fingerprint, or the fingerprint as given. */
  name: string
  /** What it matched as ("raw key", "fingerprint", "Rails public id"...); empty when it matched nothing. */
  matchedAs: string[]
  /** The stored key it stood for where that is another one (masked), by form. */
  forms: Array<{as: string; key: string; note?: string; refused?: string}>
}

/**
 * The keys that must survive a purge (`--except`), or the sessions revoke names, given raw or as
 * fingerprints (`abcd…1a2b3c4d`, or with `...` for terminals that cannot type `…`).
 * It remembers which entries matched, and as what, so the command can refuse to go on when one
 * names nothing and say which form each one matched.
 */
export class KeepList {
  private readonly entries: string[] = []
  /** Each fingerprint, as `fingerprint` prints it, and the entries that gave it (`abcd…` and `abcd...` alike). */
  private readonly fingerprints = new Map<string, string[]>()
  private readonly forms = new Map<string, KeyForm[]>()
  /** Each key kept, the entries that name it (itself, or the entry it is a form of), and as what. */
  private readonly raw = new Map<string, Array<{as: string; entry: string}>>()
  private readonly seen = new Map<string, Set<string>>()

  /**
   * `aliases` gives the other stored keys an entry stands for (Framework.keyForms: a Rails
   * public id's private id; Framework.cookie: an express cookie's sid): keeping one of those
   * counts as the entry matched. `what` names the entries in errors (default `--except`).
   * @throws UsageError for a value that cannot be a key or a fingerprint (see checkKeepEntry).
   */
  constructor(
    entries: readonly string[] = [],
    aliases: (entry: string) => ReadonlyArray<KeyForm | string> = () => [],
    what: EntryName = EXCEPT,
  ) {
    for (const entry of entries) {
      checkKeepEntry(entry, what)
      if (this.seen.has(entry)) continue
      this.entries.push(entry)
      this.seen.set(entry, new Set())
      if (FINGERPRINT.test(entry)) {
        add(this.fingerprints, normalFingerprint(entry), entry)
        continue
      }

      add(this.raw, entry, {as: 'raw key', entry})
      const forms = aliases(entry).map(form => (typeof form === 'string' ? {as: 'key form', key: form} : form))
      this.forms.set(entry, forms)
      for (const form of forms) if (!form.refused) add(this.raw, form.key, {as: form.as, entry})
    }
  }

  get size(): number {
    return this.raw.size + this.fingerprints.size
  }

  /**
   * True when `key` must be kept (is named); records every entry that names it as seen, and as
   * what (a key given raw and as its fingerprint both matched).
   */
  keeps(key: string): boolean {
    if (this.size === 0) return false
    const named = this.raw.get(key) ?? []
    for (const {as, entry} of named) this.seen.get(entry)!.add(as)
    const byFingerprint = this.fingerprints.size > 0 ? this.fingerprints.get(fingerprint(key)) ?? [] : []
    for (const entry of byFingerprint) this.seen.get(entry)!.add('fingerprint')
    return named.length > 0 || byFingerprint.length > 0
  }

  /** Each entry, masked, in the order given: what it matched as, and the keys its forms stand for. */
  report(): NameReport[] {
    return this.entries.map(entry => ({
      name: FINGERPRINT.test(entry) ? normalFingerprint(entry) : fingerprint(entry),
      matchedAs: [...this.seen.get(entry)!],
      // A refused form may have no key to show (a cookie that could not be opened).
      forms: (this.forms.get(entry) ?? []).map(f => ({...f, key: f.key === '' ? '' : fingerprint(f.key)})),
    }))
  }

  /** Entries that matched no selected session, shown masked. */
  unmatched(): string[] {
    return this.report().filter(r => r.matchedAs.length === 0).map(r => r.name)
  }
}

function add<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list) list.push(value)
  else map.set(key, [value])
}

/** A fingerprint entry as `fingerprint` prints it (`...` read as `…`); other values unchanged. */
function normalFingerprint(entry: string): string {
  const match = FINGERPRINT.exec(entry)
  return match ? `${match[1]}${ELLIPSIS}${match[2]}` : entry
}
