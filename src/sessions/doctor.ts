import type {
  Check, DiagnoseOptions, SessionStore, TalliedSession,
} from '../stores/contract.js'

import {isoMinute, plural, relative} from '../cli/render.js'
import {displayKey} from './keys.js'
import {StatsCollector, type StoreStats} from './stats.js'

/**
 * `sessions doctor`, the part every store shares: the store's own checks (SessionStore.diagnose),
 * then the checks that come from reading its sessions once (`{state: 'all'}`, no user: every value
 * is parsed in full, so every undecodable one is counted, as `sessions stats` reads them: its
 * StatsCollector does the counting): undecodable share, bad signatures with
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

/** Expiries outside what the app can have written, which the statistics do not single out. */
interface Implausible {
  future: {latest: Date | null; n: number}
  past: {earliest: Date | null; n: number}
}

/**
 * One pass as `sessions stats` reads (StatsCollector: every value parsed, undecodable ones and keys
 * without TTL sampled), plus the expiries implausibly far ahead or behind; the checks come from both.
 */
async function sessionChecks(store: SessionStore, options: DoctorOptions, signatures: Signatures): Promise<Check[]> {
  const stop = new AbortController()
  const forward = (): void => stop.abort()
  options.signal?.addEventListener('abort', forward, {once: true})
  const started = new Date()
  const horizon = started.getTime() + options.maxAgeMs + SLACK_MS
  const farPast = started.getTime() - FAR_PAST_MS
  const collector = new StatsCollector(started, store.capabilities.keepsExpired)
  const odd: Implausible = {future: {latest: null, n: 0}, past: {earliest: null, n: 0}}
  let summary
  try {
    summary = await store.listSessions({
      countOnly: true, onUndecodable: v => collector.addUndecodable(v), signal: stop.signal, state: 'all',
    }, {
      onProgress(p) {
        if (options.sample !== undefined && p.scanned >= options.sample) stop.abort()
      },
      onSessions(batch) {
        collector.addSessions(batch)
        for (const s of batch) see(odd, s, horizon, farPast)
      },
      onTally(s) {
        collector.add(s)
        see(odd, s, horizon, farPast)
      },
    })
  } finally {
    options.signal?.removeEventListener('abort', forward)
  }

  const stats = collector.result(summary, 0)
  const sampled = stop.signal.aborted && !options.signal?.aborted
  const of = `${stats.total.toLocaleString('en-US')} ${sampled ? 'values sampled' : 'values read'}`
  const shown = (keys: readonly string[], n: number): string => `${keys.map(k => displayKey(k, options.showKeys)).join(', ')}${n > keys.length ? ', …' : ''}`
  const checks = [undecodableCheck(stats, of, shown)]
  const signature = signatureCheck(signatures, stats.badSignature, stats.sessions + stats.badSignature)
  if (signature) checks.push(signature)
  const later = store.capabilities.keepsExpired ? 'expired-kept' : 'no-ttl'
  if (stats.sessions === 0) {
    // Nothing readable (an empty store, or every value undecodable or refused): nothing to say about expiries.
    const what = {'expired-kept': 'expired rows', 'expiry-plausible': 'expiries', 'no-ttl': 'TTLs'}
    for (const id of ['expiry-plausible', later] as const) checks.push({
      figures: {read: 0}, id, status: 'ok', summary: `${what[id]} not checked: no readable sessions`,
    })
    return checks
  }

  checks.push(expiryCheck(odd, stats.sessions, summary.now, options.maxAgeMs, store.capabilities.keepsExpired))
  if (store.capabilities.keepsExpired) checks.push(expiredCheck(stats.expired, stats.sessions))
  else checks.push(noTtlCheck(stats.noTtl, stats.sessions, shown))
  return checks
}

function see(odd: Implausible, s: TalliedSession, horizon: number, farPast: number): void {
  const at = s.expiresAt?.getTime()
  if (at === undefined || s.expiryUnknown) return
  if (at > horizon) {
    odd.future.n++
    if (!odd.future.latest || at > odd.future.latest.getTime()) odd.future.latest = s.expiresAt
  } else if (at < farPast) {
    odd.past.n++
    if (!odd.past.earliest || at < odd.past.earliest.getTime()) odd.past.earliest = s.expiresAt
  }
}

export function percent(part: number, whole: number): string {
  const p = (100 * part) / Math.max(1, whole)
  return `${p < 0.1 && part > 0 ? '<0.1' : p.toFixed(p < 10 && p !== Math.round(p) ? 1 : 0)}%`
}

type Shown = (keys: readonly string[], n: number) => string

function undecodableCheck(stats: StoreStats, of: string, shown: Shown): Check {
  const n = stats.undecodable.reduce((sum, u) => sum + u.count, 0)
  const unknown = stats.undecodable.filter(u => u.ownerUnknown).reduce((sum, u) => sum + u.count, 0)
  const figures = {ownerUnknown: unknown, scanned: stats.total, undecodable: n}
  if (n === 0) return {
    figures, id: 'undecodable', status: 'ok', summary: `every value decodes (${of})`,
  }
  const reasons = new Map<string, number>()
  for (const u of stats.undecodable) reasons.set(u.reason, (reasons.get(u.reason) ?? 0) + u.count)
  const why = [...reasons].map(([reason, k]) => `${reason}: ${k}`).join(', ')
  const keys = stats.undecodable.flatMap(u => u.keys).slice(0, SHOWN)
  const mostly = n / Math.max(1, stats.total) >= MOSTLY
  const owners = unknown > 0 ? `, ${plural(unknown, 'value')} may be anyone's session (a purge cannot say the user is logged out everywhere)` : ''
  return {
    figures,
    hint: mostly
      ? 'most values cannot be read: a wrong --format, --prefix or --table? look at them with sessions list --undecodable'
      : 'never matched, never deleted by a purge; look at them with sessions list --undecodable',
    id: 'undecodable',
    status: mostly ? 'fail' : 'warn',
    summary: `${n.toLocaleString('en-US')} of ${of} (${percent(n, stats.total)}) cannot be decoded (${why})${owners}; ${shown(keys, n)}`,
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

function expiryCheck(odd: Implausible, read: number, now: Date, maxAgeMs: number, sql: boolean): Check {
  const {future, past} = odd
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
      summary: `${future.n.toLocaleString('en-US')} of ${plural(read, 'session')} expire more than ${age} (--max-age) from now, the latest ${isoMinute(future.latest)} (${relative(future.latest, now)})`,
    }
  }

  if (past.n > 0) {
    return {
      figures,
      hint: 'a wrong --expiry-unit (seconds read as milliseconds?), or expired rows nothing ever deleted: sessions cleanup',
      id: 'expiry-plausible',
      status: 'warn',
      summary: `${past.n.toLocaleString('en-US')} of ${plural(read, 'session')} expired more than 5 years ago, the earliest ${isoMinute(past.earliest)}`,
    }
  }

  return {
    figures, id: 'expiry-plausible', status: 'ok', summary: `expiries plausible: none more than ${age} ahead or 5 years behind (${plural(read, 'session')})`,
  }
}

function expiredCheck(expired: number, read: number): Check {
  const figures = {expired, read}
  const line = `${expired.toLocaleString('en-US')} of ${plural(read, 'session')} (${percent(expired, read)}) are expired and still stored`
  if (read > 0 && expired / read >= EXPIRED_MOSTLY) {
    return {
      figures, hint: 'is sessions cleanup scheduled? (cron or a systemd timer, see README)', id: 'expired-kept', status: 'warn', summary: line,
    }
  }

  return {
    figures, id: 'expired-kept', status: 'ok', summary: line,
  }
}

function noTtlCheck(noTtl: StoreStats['noTtl'], read: number, shown: Shown): Check {
  const figures = {noTtl: noTtl.count, read}
  if (noTtl.count === 0) return {
    figures, id: 'no-ttl', status: 'ok', summary: `every session key has a TTL (${plural(read, 'session')})`,
  }
  return {
    figures,
    hint: 'they never expire by themselves: sessions cleanup --fix-no-ttl deletes the expired ones and gives live ones their TTL back',
    id: 'no-ttl',
    status: 'warn',
    summary: `${noTtl.count.toLocaleString('en-US')} of ${plural(read, 'session key')} have no TTL (${shown(noTtl.keys, noTtl.count)})`,
  }
}
