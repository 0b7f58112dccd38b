import assert from 'node:assert/strict'

import {
  formatNaive, naiveAtOrAfter, naiveOrderKey, normalizeNaive, parseNaive,
} from '../../src/stores/sql-time.js'
import {Rng} from '../support/rng.js'

describe('naive DATETIME text and time zones', () => {
  it('reads every text the way the full NAIVE pattern does: the fast positional read never disagrees (5,000 generated texts)', () => {
    // The reading before the positional fast path, kept here as the reference.
    const reference = (text: string): null | string => {
      const m = /^(\d{4,6})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(text)
      if (!m) return null
      const ms = Number((m[7] ?? '0').padEnd(3, '0').slice(0, 3))
      const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms)
      return Number.isNaN(wall) ? 'NaN' : new Date(wall).toISOString()
    }

    const rng = new Rng(7, 1)
    const noise = ['x', ' ', '-', ':', '.', 'T', '9', '0', '/', 'Z']
    let readable = 0
    for (let i = 0; i < 5000; i++) {
      const fraction = rng.int(8) === 7 ? '' : `.${String(rng.int(1_000_000)).padStart(6, '0').slice(0, 1 + rng.int(6))}`
      const year = rng.int(20) === 0 ? String(10_000 + rng.int(200_000)) : String(1900 + rng.int(200)).padStart(4, '0')
      const two = (n: number): string => String(rng.int(n)).padStart(2, '0')
      let text = `${year}-${two(13)}-${two(32)}${rng.chance(0.9) ? ' ' : 'T'}${two(25)}:${two(61)}:${two(61)}${fraction}`
      // A third damaged: a character replaced, dropped or added.
      if (rng.chance(0.33)) {
        const at = rng.int(text.length)
        const cut = rng.int(3)
        text = cut === 0 ? text.slice(0, at) + rng.pick(noise) + text.slice(at + 1) : (cut === 1 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + rng.pick(noise) + text.slice(at))
      }

      const expected = reference(text)
      const got = parseNaive(text)
      if (expected !== null) readable++
      assert.equal(got === null ? null : (Number.isNaN(got.getTime()) ? 'NaN' : got.toISOString()), expected, text)
    }

    assert.ok(readable > 2500 && readable < 5000, `readable ${readable}`)
  })

  it('reads UTC wall time by default, with microseconds', () => {
    assert.equal(parseNaive('2026-11-26 12:30:00.123456')!.toISOString(), '2026-11-26T12:30:00.123Z')
    assert.equal(parseNaive('2026-11-26 12:30:00')!.toISOString(), '2026-11-26T12:30:00.000Z')
  })

  it('reads wall time in a zone across daylight-saving changes', () => {
    assert.equal(parseNaive('2026-03-29 01:30:00', 'Europe/Paris')!.toISOString(), '2026-03-29T00:30:00.000Z')
    assert.equal(parseNaive('2026-03-29 03:30:00', 'Europe/Paris')!.toISOString(), '2026-03-29T01:30:00.000Z')
    assert.equal(parseNaive('2026-07-01 12:00:00', 'America/New_York')!.toISOString(), '2026-07-01T16:00:00.000Z')
    assert.equal(parseNaive('2026-12-01 12:00:00', 'America/New_York')!.toISOString(), '2026-12-01T17:00:00.000Z')
  })

  it('writes wall time in a zone', () => {
    assert.equal(formatNaive(new Date('2026-07-01T10:00:00Z'), 'Europe/Paris'), '2026-07-01 12:00:00.000000')
    assert.equal(formatNaive(new Date('2026-12-01T10:00:00.250Z'), 'UTC', 42), '2026-12-01 10:00:00.250042')
  })

  it('round-trips every half hour of a year in a DST zone, except the repeated autumn hour', () => {
    const walls = new Map<string, number[]>()
    for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2027, 0, 1); t += 1_800_000) {
      const wall = formatNaive(new Date(t), 'Europe/Paris')
      walls.set(wall, [...(walls.get(wall) ?? []), t])
    }

    let ambiguous = 0
    for (const [wall, instants] of walls) {
      const parsed = parseNaive(wall, 'Europe/Paris')!.getTime()
      if (instants.length === 1) assert.equal(parsed, instants[0], wall)
      else {
        // 02:00-03:00 on the last Sunday of October happens twice; read as the later, as PostgreSQL does.
        ambiguous++
        assert.equal(parsed, Math.max(...instants), wall)
      }
    }

    assert.equal(ambiguous, 2)
  })

  it('reads a repeated wall time as the later instant and a skipped one with the offset before the change, east and west of UTC', () => {
    const cases: Array<[string, string, string]> = [
      ['America/New_York', '2026-11-01 01:30:00', '2026-11-01T06:30:00.000Z'], // EST, not EDT
      ['America/New_York', '2027-03-14 02:30:00', '2027-03-14T07:30:00.000Z'], // skipped: read as EST
      ['Europe/Paris', '2026-10-25 02:30:00.5', '2026-10-25T01:30:00.500Z'], // CET, not CEST
      ['Europe/Paris', '2027-03-28 02:30:00', '2027-03-28T01:30:00.000Z'], // skipped: read as CET
      ['Pacific/Auckland', '2027-04-04 02:30:00', '2027-04-03T14:30:00.000Z'], // NZST, not NZDT
      ['Pacific/Auckland', '2026-09-27 02:30:00', '2026-09-26T14:30:00.000Z'], // skipped: read as NZST
      ['America/New_York', '2026-11-01 00:59:59', '2026-11-01T04:59:59.000Z'], // just before: EDT
      ['America/New_York', '2027-03-14 03:00:00', '2027-03-14T07:00:00.000Z'], // just after: EDT
    ]
    for (const [zone, wall, instant] of cases) assert.equal(parseNaive(wall, zone)!.toISOString(), instant, `${zone} ${wall}`)
  })

  it('the cutoff for naive times PostgreSQL compares as instants: in the first pass of a repeated hour, the repeat’s start', () => {
    const cases: Array<[string, string, string]> = [
      ['America/New_York', '2026-11-01T05:30:00.000Z', '2026-11-01 01:00:00.000000'], // 01:30 EDT: every 01:xx is read as EST, later
      ['America/New_York', '2026-11-01T06:30:00.000Z', '2026-11-01 01:30:00.000000'], // 01:30 EST: its own wall time
      ['America/New_York', '2026-11-01T04:59:59.000Z', '2026-11-01 00:59:59.000000'],
      ['Europe/Berlin', '2026-10-25T00:30:00.000Z', '2026-10-25 02:00:00.000000'], // 02:30 CEST
      ['Europe/Berlin', '2026-10-25T01:30:00.000Z', '2026-10-25 02:30:00.000000'], // 02:30 CET
      ['Europe/Berlin', '2026-07-01T12:00:00.000Z', '2026-07-01 14:00:00.000000'],
      ['UTC', '2026-11-01T05:30:00.000Z', '2026-11-01 05:30:00.000000'],
    ]
    for (const [zone, now, cutoff] of cases) assert.equal(naiveAtOrAfter(new Date(now), zone), cutoff, `${zone} ${now}`)
  })

  it('column >= that cutoff selects exactly the wall times PostgreSQL reads at or after now, around every change, east and west of UTC', () => {
    const changes: Array<[string, string]> = [
      ['America/New_York', '2026-11-01T06:00:00Z'],
      ['America/New_York', '2027-03-14T07:00:00Z'],
      ['Europe/Berlin', '2026-10-25T01:00:00Z'],
      ['Pacific/Auckland', '2027-04-03T14:00:00Z'],
      ['Australia/Lord_Howe', '2027-04-03T15:00:00Z'],
    ]
    let checked = 0
    for (const [zone, change] of changes) {
      const at = Date.parse(change)
      // The walls the store writes: instants every 7.5 minutes around the change, formatted in the zone.
      const walls = Array.from({length: 97}, (_, i) => formatNaive(new Date(at + ((i - 48) * 450_000)), zone))
      for (let i = -40; i <= 40; i++) {
        const now = new Date(at + (i * 270_000) + 123)
        const cutoff = naiveAtOrAfter(now, zone, 0)
        for (const wall of walls) {
          assert.equal(normalizeNaive(wall) >= normalizeNaive(cutoff), parseNaive(wall, zone)!.getTime() >= now.getTime(), `${zone}: ${wall} at ${now.toISOString()} (cutoff ${cutoff})`)
          checked++
        }
      }
    }

    assert.ok(checked > 30_000)
  })

  it('orders PostgreSQL timestamp text as the times: past year 9999, infinity, -infinity, BC', () => {
    assert.ok(naiveOrderKey('-infinity') < naiveOrderKey('0001-01-01 00:00:00'))
    const ordered = [
      '0044-03-15 00:00:00 BC',
      '0001-01-01 00:00:00',
      '2026-11-26 12:30:00',
      '2026-11-26 12:30:00.5',
      '9999-12-31 23:59:59.999999',
      '10000-01-01 00:00:00',
      '294276-12-31 23:59:59',
      'infinity',
    ]
    for (let i = 1; i < ordered.length; i++) assert.ok(naiveOrderKey(ordered[i - 1]) < naiveOrderKey(ordered[i]), `${ordered[i - 1]} < ${ordered[i]}`)
    assert.equal(naiveOrderKey('2026-11-26 12:30:00'), naiveOrderKey('2026-11-26 12:30:00.000000'))
    assert.equal(parseNaive('12345-01-01 00:00:00')!.toISOString(), '+012345-01-01T00:00:00.000Z')
  })

  it('rejects text that is not a DATETIME', () => {
    assert.equal(parseNaive('yesterday'), null)
  })

  it('pads to microseconds so values compare as strings', () => {
    assert.equal(normalizeNaive('2026-11-26 12:30:00'), '2026-11-26 12:30:00.000000')
    assert.equal(normalizeNaive('2026-11-26 12:30:00.5'), '2026-11-26 12:30:00.500000')
    assert.ok(normalizeNaive('2026-11-26 12:30:00') < normalizeNaive('2026-11-26 12:30:00.000001'))
  })
})
