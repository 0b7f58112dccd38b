/**
 * Naive SQL DATETIME values carry no zone. Django with USE_TZ=True (the default) stores UTC;
 * with USE_TZ=False it stores wall time in TIME_ZONE. These helpers convert between such text
 * ("2026-11-26 12:30:00.000000") and instants, for any IANA zone, without a dependency.
 */
// PostgreSQL's timestamps go past year 9999 (to 294276).
const NAIVE = /^(\d{4,6})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/

const DAY = 86_400_000

const formatters = new Map<string, Intl.DateTimeFormat>()

/** Throws RangeError for a zone the runtime does not know. */
export function assertTimeZone(timeZone: string): void {
  // UTC needs no formatter (nor the ~45 ms of ICU data building one costs every command).
  if (!isUtc(timeZone)) formatter(timeZone)
}

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      day: '2-digit',
      hour: '2-digit',
      hourCycle: 'h23',
      minute: '2-digit',
      month: '2-digit',
      second: '2-digit',
      timeZone,
      year: 'numeric',
    })
    formatters.set(timeZone, f)
  }

  return f
}

function isUtc(timeZone: string): boolean {
  return timeZone === 'UTC' || timeZone === 'Etc/UTC' || timeZone === '+00:00'
}

/** Milliseconds the zone's wall clock is ahead of UTC at `instant`. */
function offsetAt(instant: number, timeZone: string): number {
  const parts: Record<string, number> = {}
  for (const p of formatter(timeZone).formatToParts(new Date(instant))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value)
  }

  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second)
  return wall - (Math.floor(instant / 1000) * 1000)
}

/** The digits of text[from, to) as a number; NaN where one is not a digit. */
function digitsAt(text: string, from: number, to: number): number {
  let n = 0
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48
    if (d < 0 || d > 9) return Number.NaN
    n = (n * 10) + d
  }

  return n
}

/**
 * Naive text's wall time as milliseconds (its fields read as UTC); undefined for text NAIVE does
 * not match. A full scan parses every row's expiry: the usual 4-digit-year shape is read by
 * position (a fifth of the regular expression's cost), anything else by NAIVE.
 */
function naiveWallMs(text: string): number | undefined {
  const n = text.length
  const punctuated = text[4] === '-' && text[7] === '-' && (text[10] === ' ' || text[10] === 'T') && text[13] === ':' && text[16] === ':'
  const shaped = n >= 19 && n <= 26 && n !== 20 && punctuated && (n === 19 || text[19] === '.')
  if (shaped) {
    const ms = n === 19 ? 0 : digitsAt(text, 20, Math.min(n, 23)) * (10 ** Math.max(0, 23 - n))
    const wall = Date.UTC(digitsAt(text, 0, 4), digitsAt(text, 5, 7) - 1, digitsAt(text, 8, 10), digitsAt(text, 11, 13), digitsAt(text, 14, 16), digitsAt(text, 17, 19), ms)
    // NaN: a non-digit somewhere (or fraction digits past the third), which NAIVE settles.
    if (!Number.isNaN(wall) && (n <= 23 || !Number.isNaN(digitsAt(text, 23, n)))) return wall
  }

  const m = NAIVE.exec(text)
  if (!m) return undefined
  const ms = Number((m[7] ?? '0').padEnd(3, '0').slice(0, 3))
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms)
}

/** Parses naive DATETIME text as wall time in `timeZone`; null for text it cannot read. */
export function parseNaive(text: string, timeZone = 'UTC'): Date | null {
  const wall = naiveWallMs(text)
  if (wall === undefined) return null
  if (isUtc(timeZone)) return new Date(wall)
  const before = offsetAt(wall - DAY, timeZone)
  const after = offsetAt(wall + DAY, timeZone)
  if (before === after) return new Date(wall - before)
  // The offset changes near this wall time. Read as PostgreSQL reads a timestamp in a zone (what
  // connect-pg-simple's `expire >= now` compares): a wall time the change repeats is the later
  // instant (the offset after it), one the change skips takes the offset before it (which is
  // also the later reading). Both are the latest reading that is valid, else the latest.
  const readings = [wall - before, wall - after]
  const valid = readings.filter(instant => offsetAt(instant, timeZone) === wall - instant)
  return new Date(Math.max(...(valid.length > 0 ? valid : readings)))
}

/** Formats an instant as naive DATETIME(6) text in `timeZone`. */
export function formatNaive(date: Date, timeZone = 'UTC', micros = 0): string {
  const shifted = isUtc(timeZone) ? date.getTime() : date.getTime() + offsetAt(date.getTime(), timeZone)
  const iso = new Date(shifted).toISOString() // YYYY-MM-DDTHH:MM:SS.mmmZ
  const fraction = `${iso.slice(20, 23)}${String(micros).padStart(3, '0')}`
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${fraction}`
}

/**
 * The least naive text in `timeZone` that PostgreSQL reads (parseNaive) as `date` or later: what
 * a bare naive column is compared with (`column >= text`) so that it selects exactly the rows
 * PostgreSQL itself puts at or after `date` when it compares the column with a timestamptz
 * (connect-pg-simple's `expire >= to_timestamp(now)`). That is the wall time of `date`, except in
 * the first pass of an hour the clocks repeat: PostgreSQL reads those wall times as the second
 * pass, so every one of them from the repeat's start on is after `date`.
 */
export function naiveAtOrAfter(date: Date, timeZone = 'UTC', micros = 0): string {
  const text = formatNaive(date, timeZone, micros)
  if (isUtc(timeZone)) return text
  const read = parseNaive(text, timeZone)
  if (read === null || read.getTime() <= date.getTime()) return text
  // The offset changes within a day of `date`: find the instant it does; its wall time starts the repeat.
  const offset = offsetAt(date.getTime(), timeZone)
  let before = date.getTime()
  let after = before + DAY
  while (after - before > 1) {
    const middle = Math.floor((before + after) / 2)
    if (offsetAt(middle, timeZone) === offset) before = middle
    else after = middle
  }

  return formatNaive(new Date(after), timeZone)
}

/**
 * Naive DATETIME text padded to microseconds, so two values compare correctly as strings
 * ("…:00" and "…:00.000000" are the same instant).
 */
export function normalizeNaive(text: string): string {
  if (text.length === 19) return `${text}.000000`
  return text.length < 26 ? text.padEnd(26, '0') : text
}

/**
 * A key that orders naive text as the times it stands for, for PostgreSQL's too: a year past
 * 9999 after every 4-digit one, `infinity` after everything, `-infinity` and BC dates before.
 */
export function naiveOrderKey(text: string): string {
  if (text === 'infinity') return '~'
  if (text === '-infinity' || text.endsWith(' BC')) return '!'
  const year = /^\d+/.exec(text)?.[0] ?? ''
  return year.padStart(6, '0') + normalizeNaive(`0000${text.slice(year.length)}`).slice(4)
}
