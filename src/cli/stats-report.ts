import type {StoreStats} from '../sessions/stats.js'

import {displayKey} from '../sessions/keys.js'
import {relative, terminalSafe} from './render.js'

/** `sessions stats --json`: every figure, keys as fingerprints unless --show-keys. */
export function statsJson(s: StoreStats, showKeys: boolean): Record<string, unknown> {
  const keys = (list: readonly string[]) => list.map(k => displayKey(k, showKeys))
  return {
    store: s.store,
    total: s.total,
    sessions: s.sessions,
    live: s.live,
    expired: s.expired,
    expiryUnknown: s.expiryUnknown,
    authenticated: s.authenticated,
    anonymous: s.anonymous,
    badSignature: s.badSignature,
    users: s.users,
    top: s.top,
    sizes: {...s.sizes, largest: s.sizes.largest.map(l => ({id: displayKey(l.key, showKeys), size: l.size}))},
    expiresIn: s.expiresIn,
    noExpiry: {count: s.noExpiry.count, ids: keys(s.noExpiry.keys)},
    noTtl: {count: s.noTtl.count, ids: keys(s.noTtl.keys)},
    backlog: s.backlog,
    undecodable: s.undecodable.map(u => ({
      reason: u.reason, count: u.count, ownerUnknown: u.ownerUnknown, ids: keys(u.keys),
    })),
    now: s.now,
  }
}

const LABEL = 14
const COUNT = 11
/** User ids wider than this (an e-mail address) are cut in the table; --json has them whole. */
const TOP_ID_WIDTH = 40
const BAR = 24

function n(value: number): string {
  return value.toLocaleString('en-US')
}

function share(part: number, whole: number): string {
  if (whole === 0) return ''
  const pct = (100 * part) / whole
  return `${pct > 0 && pct < 0.1 ? '<0.1' : pct.toFixed(pct < 10 ? 1 : 0)}%`
}

function bytes(value: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let v = value
  let i = 0
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000
    i++
  }

  return i === 0 ? `${value} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}

/** A bar of `width` cells for `part` of `whole`, in eighths of a cell (terminals), or none. */
function bar(part: number, whole: number, width: number): string {
  if (whole === 0 || part === 0) return ''
  const eighths = Math.max(1, Math.round((8 * width * part) / whole))
  return '█'.repeat(Math.floor(eighths / 8)) + (eighths % 8 === 0 ? '' : String.fromCodePoint(0x25_90 - (eighths % 8)))
}

/**
 * The stats of one store as lines that fit 80 columns (the store label aside): one figure per
 * line, the expiry histogram as a bar chart when `bars` (a terminal), user ids terminal-safe.
 */
export function statsLines(s: StoreStats, showKeys: boolean, bars: boolean): string[] {
  const line = (label: string, text: string) => `  ${label.padEnd(LABEL)}${text}`.trimEnd()
  const figure = (label: string, count: number, text = '') => line(label, `${n(count).padStart(COUNT)}  ${text}`)
  const fp = (list: readonly string[], total: number) => (list.length === 0 ? '' : `: ${list.map(k => displayKey(k, showKeys)).join(', ')}${total > list.length ? ', …' : ''}`)
  const undecodableTotal = s.total - s.sessions - s.badSignature
  const parts = [`${n(s.sessions)} sessions`, ...(undecodableTotal > 0 ? [`${n(undecodableTotal)} undecodable`] : []), ...(s.badSignature > 0 ? [`${n(s.badSignature)} with a bad signature`] : [])]
  const out = [
    terminalSafe(s.store),
    figure('values', s.total, parts.length > 1 ? parts.join(', ') : 'all sessions'),
    figure('live', s.live, `${n(s.authenticated)} signed in, ${n(s.anonymous)} anonymous`),
  ]
  if (s.backlog) {
    const oldest = s.backlog.oldestExpiry ? `, oldest ${relative(s.backlog.oldestExpiry, s.now)}` : ''
    out.push(figure('expired', s.expired, `the cleanup backlog: ${bytes(s.backlog.bytes)}${oldest}`))
  } else if (s.expired > 0) {
    out.push(figure('expired', s.expired, 'by their payload (the keys remain)'))
  }

  if (s.expiryUnknown > 0) out.push(figure('expiry unknown', s.expiryUnknown, 'the expiry needs --lifetime'))
  if (s.noTtl.count > 0) out.push(figure('no TTL', s.noTtl.count, `keys Redis never expires${fp(s.noTtl.keys, s.noTtl.count)}`))
  if (s.noExpiry.count > 0) out.push(figure('never expire', s.noExpiry.count, `live, no expiry at all${fp(s.noExpiry.keys, s.noExpiry.count)}`))
  if (s.badSignature > 0) out.push(figure('bad signature', s.badSignature, `${share(s.badSignature, s.sessions + s.badSignature)} of signed values: a wrong --secret-key?`))
  out.push(figure('users', s.users.count, s.users.exact ? 'distinct, with live sessions' : 'distinct, with live sessions (estimated, ±2%)'))
  const {sizes} = s
  if (sizes.max !== null) {
    const largest = sizes.largest.slice(0, 3).map(l => `${displayKey(l.key, showKeys)} ${bytes(l.size)}`)
    out.push(
      line('size (bytes)', `p50 ${n(sizes.p50!)}  p95 ${n(sizes.p95!)}  p99 ${n(sizes.p99!)}  max ${n(sizes.max)}  (${bytes(sizes.bytes)} in all)`),
      line('largest', largest.join(', ')),
    )
  }

  const expiring = s.expiresIn.reduce((sum, b) => sum + b.count, 0)
  if (expiring > 0) {
    const most = Math.max(...s.expiresIn.map(b => b.count))
    out.push(line('expires in', ''))
    for (const b of s.expiresIn) {
      out.push(`${`    ${b.label}`.padEnd(LABEL + 2)}${n(b.count).padStart(COUNT)}  ${share(b.count, expiring).padStart(5)}${bars ? `  ${bar(b.count, most, BAR)}` : ''}`)
    }
  }

  if (s.top.users.length > 0) {
    const note = s.top.countsExact ? '' : ` (each may be low by up to ${n(s.top.maxError)})`
    out.push(line('top users', `by live sessions${note}`))
    const ids = s.top.users.map(u => terminalSafe(u.userId))
    const width = Math.min(TOP_ID_WIDTH, Math.max(LABEL + COUNT - 13, ...ids.map(id => id.length)))
    for (const [i, u] of s.top.users.entries()) {
      const id = ids[i].length > width ? `${ids[i].slice(0, width - 1)}…` : ids[i]
      out.push(`    ${id.padEnd(width)}  ${n(u.count).padStart(9)}  ${share(u.count, s.authenticated).padStart(5)}`)
    }
  }

  // Beyond the summary's capacity only accounts certain to outrank the rest are listed: say what the rest hold.
  if (!s.top.countsExact && s.authenticated > 0) {
    out.push(line(s.top.users.length > 0 ? '' : 'top users', `every ${s.top.users.length > 0 ? 'other ' : ''}account: at most ${n(s.top.othersAtMost)} live sessions`))
  }

  for (const u of s.undecodable) {
    out.push(figure('undecodable', u.count, `${u.reason}, ${u.ownerUnknown ? 'owner unknown' : 'nobody’s'}${fp(u.keys, u.count)}`))
  }

  return out
}
