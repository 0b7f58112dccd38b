import type {
  Check, CheckStatus, DiagnoseOptions, Session, SessionStore,
} from '../stores/contract.js'

import {isoMinute, plural, relative} from '../cli/render.js'
import {displayKey} from './keys.js'

/**
 * `sessions doctor`, the part every store shares: the store's own checks (SessionStore.diagnose),
 * then the checks that come from reading its sessions once (`{state: 'all'}`, no user: every value
 * is parsed in full, so every undecodable one is counted): undecodable share, bad signatures with
 * the given --secret-key, implausible expiries (USE_TZ, units), expired rows kept, keys without TTL.
 */
export interface DoctorOptions extends DiagnoseOptions {
  /** Sessions that expire later than this after now are implausible (ms; Django's SESSION_COOKIE_AGE by default). */
  maxAgeMs: number
  /** Read at most about this many values (a scan stops at the batch that reaches it); all when absent. */
  sample?: number
  showKeys: boolean
  /**
   * By store, in the order given: `checked`, the codec verifies signatures (a signed format given
   * --secret-key); `unchecked`, a signed format without a key; `unsigned`, nothing to check.
   */
  signatures: ReadonlyArray<Signatures>
}

export type Signatures = 'checked' | 'unchecked' | 'unsigned'

export interface StoreDiagnosis {
  checks: Check[]
  store: string
}

const FAR_PAST_MS = 5 * 366 * 86_400_000
/** An expiry this much past the horizon is still plausible (clocks, rounding, a session written during the scan). */
const SLACK_MS = 5 * 60_000
const SHOWN = 3
/** Above this share of undecodable values or bad signatures, the settings are wrong rather than a few values. */
const MOSTLY = 0.5
/** Above this share of expired rows, cleanup is probably not running. */
const EXPIRED_MOSTLY = 0.5

/** Every store's checks, in turn; a store that fails (unreachable, a query refused) is a failed check, never the end of the run. */
export async function diagnoseStores(stores: readonly SessionStore[], options: DoctorOptions): Promise<StoreDiagnosis[]> {
  const out: StoreDiagnosis[] = []
  for (const [i, store] of stores.entries()) {
    if (options.signal?.aborted) break
    out.push({checks: await diagnoseStore(store, options, options.signatures[i] ?? 'unsigned'), store: store.label})
  }

  return out
}

async function diagnoseStore(store: SessionStore, options: DoctorOptions, signatures: Signatures): Promise<Check[]> {
  const checks: Check[] = []
  if (store.diagnose) {
    try {
      checks.push(...await store.diagnose(options))
    } catch (error) {
      checks.push({id: 'store', status: 'fail', summary: `could not inspect the store: ${(error as Error).message}`})
    }
  }

  try {
    checks.push(...await sessionChecks(store, options, signatures))
  } catch (error) {
    checks.push({id: 'sessions', status: 'fail', summary: `could not read the sessions: ${(error as Error).message}`})
  }

  return checks
}

/** What one pass over the sessions saw, beyond the scan's own counts. */
interface Pass {
  expired: number
  /** Readable sessions delivered. */
  read: number
  future: {latest: Date | null; n: number}
  past: {earliest: Date | null; n: number}
  noTtl: {n: number; shown: string[]}
  undecodableShown: string[]
}

async function sessionChecks(store: SessionStore, options: DoctorOptions, signatures: Signatures): Promise<Check[]> {
  const stop = new AbortController()
  const forward = (): void => stop.abort()
  options.signal?.addEventListener('abort', forward, {once: true})
  const started = Date.now()
  const horizon = started + options.maxAgeMs + SLACK_MS
  const farPast = started - FAR_PAST_MS
  const pass: Pass = {
    expired: 0, future: {latest: null, n: 0}, noTtl: {n: 0, shown: []}, past: {earliest: null, n: 0}, read: 0, undecodableShown: [],
  }
  const onSessions = (sessions: Session[]): void => {
    for (const s of sessions) see(pass, s, horizon, farPast, options.showKeys)
  }

  let summary
  try {
    summary = await store.listSessions({
      onUndecodable(values) {
        for (const v of values) if (pass.undecodableShown.length < SHOWN) pass.undecodableShown.push(displayKey(v.key, options.showKeys))
      },
      signal: stop.signal,
      state: 'all',
    }, {
      onProgress(p) {
        if (options.sample !== undefined && p.scanned >= options.sample) stop.abort()
      },
      onSessions,
    })
  } finally {
    options.signal?.removeEventListener('abort', forward)
  }

  const sampled = stop.signal.aborted && !options.signal?.aborted
  const of = `${summary.scanned.toLocaleString('en-US')} ${sampled ? 'values sampled' : 'values read'}`
  const checks = [undecodableCheck(summary.undecodable, summary.ownerUnknown, summary.scanned, of, pass)]
  const signature = signatureCheck(signatures, summary.badSignature, pass.read + summary.badSignature)
  if (signature) checks.push(signature)
  checks.push(expiryCheck(pass, summary.now, options.maxAgeMs, store.capabilities.keepsExpired))
  if (store.capabilities.keepsExpired) checks.push(expiredCheck(pass))
  else checks.push(noTtlCheck(pass))
  return checks
}

function see(pass: Pass, s: Session, horizon: number, farPast: number, showKeys: boolean): void {
  pass.read++
  if (s.expired) pass.expired++
  if (s.noTtl) {
    pass.noTtl.n++
    if (pass.noTtl.shown.length < SHOWN) pass.noTtl.shown.push(displayKey(s.key, showKeys))
  }

  const at = s.expiresAt?.getTime()
  if (at === undefined || s.expiryUnknown) return
  if (at > horizon) {
    pass.future.n++
    if (!pass.future.latest || at > pass.future.latest.getTime()) pass.future.latest = s.expiresAt
  } else if (at < farPast) {
    pass.past.n++
    if (!pass.past.earliest || at < pass.past.earliest.getTime()) pass.past.earliest = s.expiresAt
  }
}

export function percent(part: number, whole: number): string {
  const p = (100 * part) / Math.max(1, whole)
  return `${p < 0.1 && part > 0 ? '<0.1' : p.toFixed(p < 10 && p !== Math.round(p) ? 1 : 0)}%`
}

function undecodableCheck(reasons: Record<string, number>, ownerUnknown: Record<string, number>, scanned: number, of: string, pass: Pass): Check {
  const n = Object.values(reasons).reduce((a, b) => a + b, 0)
  const unknown = Object.values(ownerUnknown).reduce((a, b) => a + b, 0)
  const figures = {ownerUnknown: unknown, scanned, undecodable: n}
  if (n === 0) return {
    figures, id: 'undecodable', status: 'ok', summary: `every value decodes (${of})`,
  }
  const why = Object.entries(reasons).map(([reason, k]) => `${reason}: ${k}`).join(', ')
  const shown = pass.undecodableShown.length > 0 ? `; ${pass.undecodableShown.join(', ')}${n > pass.undecodableShown.length ? ', …' : ''}` : ''
  const mostly = n / Math.max(1, scanned) >= MOSTLY
  const status: CheckStatus = mostly ? 'fail' : 'warn'
  const owners = unknown > 0 ? `, ${plural(unknown, 'value')} may be anyone's session (a purge cannot say the user is logged out everywhere)` : ''
  return {
    figures,
    hint: mostly
      ? 'most values cannot be read: a wrong --format, --prefix or --table? look at them with sessions list --undecodable'
      : 'never matched, never deleted by a purge; look at them with sessions list --undecodable',
    id: 'undecodable',
    status,
    summary: `${n.toLocaleString('en-US')} of ${of} (${percent(n, scanned)}) cannot be decoded (${why})${owners}${shown}`,
  }
}

function signatureCheck(signatures: Signatures, bad: number, signed: number): Check | undefined {
  if (signatures === 'unsigned') return undefined
  const figures = {badSignature: bad, signed}
  if (signatures === 'unchecked') {
    return {
      figures: {}, hint: 'pass the app\'s SECRET_KEY as --secret-key (or DJANGO_SECRET_KEY) to check', id: 'signatures', status: 'ok', summary: 'signatures not checked (no --secret-key)',
    }
  }

  if (bad === 0) {
    return {
      figures, id: 'signatures', status: 'ok', summary: signed === 0 ? 'no readable sessions to check signatures on' : `every signature checks with the given --secret-key (${plural(signed, 'session')})`,
    }
  }

  const line = `${bad.toLocaleString('en-US')} of ${plural(signed, 'signed session')} (${percent(bad, signed)}) fail the signature check`
  if (bad / signed >= MOSTLY) {
    return {
      figures,
      hint: 'pass the app\'s SECRET_KEY (and each of SECRET_KEY_FALLBACKS as another --secret-key): a session whose signature fails belongs to nobody, so purge and list find nothing in it',
      id: 'signatures',
      status: 'fail',
      summary: `${line}: a wrong --secret-key?`,
    }
  }

  return {
    figures,
    hint: 'forged, or signed with a retired key: add it as another --secret-key if the app still lists it in SECRET_KEY_FALLBACKS (Django treats the others as empty)',
    id: 'signatures',
    status: 'warn',
    summary: line,
  }
}

function duration(ms: number): string {
  return relative(new Date(ms), new Date(0)).replace(/^in /, '')
}

function expiryCheck(pass: Pass, now: Date, maxAgeMs: number, sql: boolean): Check {
  const {future, past} = pass
  const figures = {farFuture: future.n, farPast: past.n, maxAgeSeconds: Math.round(maxAgeMs / 1000)}
  const age = duration(maxAgeMs)
  if (future.n > 0) {
    return {
      figures,
      hint: sql
        ? 'naive expiry times read in the wrong zone? Django with USE_TZ=False writes TIME_ZONE\'s wall time: pass --time-zone TIME_ZONE; or --max-age SECONDS if sessions last longer (SESSION_COOKIE_AGE)'
        : 'sessions set to last longer than the app\'s lifetime? pass --max-age SECONDS if they are meant to (SESSION_COOKIE_AGE)',
      id: 'expiry-plausible',
      status: 'warn',
      summary: `${future.n.toLocaleString('en-US')} of ${plural(pass.read, 'session')} expire more than ${age} (--max-age) from now, the latest ${isoMinute(future.latest)} (${relative(future.latest, now)})`,
    }
  }

  if (past.n > 0) {
    return {
      figures,
      hint: 'a wrong --expiry-unit (seconds read as milliseconds?), or expired rows nothing ever deleted: sessions cleanup',
      id: 'expiry-plausible',
      status: 'warn',
      summary: `${past.n.toLocaleString('en-US')} of ${plural(pass.read, 'session')} expired more than 5 years ago, the earliest ${isoMinute(past.earliest)}`,
    }
  }

  return {
    figures, id: 'expiry-plausible', status: 'ok', summary: `expiries plausible: none more than ${age} ahead or 5 years behind (${plural(pass.read, 'session')})`,
  }
}

function expiredCheck(pass: Pass): Check {
  const figures = {expired: pass.expired, read: pass.read}
  const line = `${pass.expired.toLocaleString('en-US')} of ${plural(pass.read, 'session')} (${percent(pass.expired, pass.read)}) are expired and still stored`
  if (pass.read > 0 && pass.expired / pass.read >= EXPIRED_MOSTLY) {
    return {
      figures, hint: 'is sessions cleanup scheduled? (cron or a systemd timer, see README)', id: 'expired-kept', status: 'warn', summary: line,
    }
  }

  return {
    figures, id: 'expired-kept', status: 'ok', summary: line,
  }
}

function noTtlCheck(pass: Pass): Check {
  const figures = {noTtl: pass.noTtl.n, read: pass.read}
  if (pass.noTtl.n === 0) return {
    figures, id: 'no-ttl', status: 'ok', summary: `every session key has a TTL (${plural(pass.read, 'session')})`,
  }
  const shown = `${pass.noTtl.shown.join(', ')}${pass.noTtl.n > pass.noTtl.shown.length ? ', …' : ''}`
  return {
    figures,
    hint: 'they never expire by themselves: sessions cleanup --fix-no-ttl deletes the expired ones and gives live ones their TTL back',
    id: 'no-ttl',
    status: 'warn',
    summary: `${pass.noTtl.n.toLocaleString('en-US')} of ${plural(pass.read, 'session key')} have no TTL (${shown})`,
  }
}
