/**
 * Expiry rules as data (contract.ts ExpiryRule): the SQL a rule gives for the state filters and
 * for cleanup, and the same decision for a row in hand, for the rules the frameworks declare.
 */
import assert from 'node:assert/strict'

import type {ExpiryRule} from '../../src/stores/contract.js'

import {type ExpiryClock, type ExpiryKind, SqlExpiry} from '../../src/stores/sql-expiry.js'

const clock: ExpiryClock = {now: new Date('2026-12-02T10:00:00.400Z'), timeZone: 'UTC', wallNow: '2026-12-02 10:00:00.400123'}
const NOW_S = Date.parse('2026-12-02T10:00:00Z') / 1000

function expiry(rule: Partial<ExpiryRule>, kind: ExpiryKind = 'unix-seconds', nullable = false): SqlExpiry {
  return new SqlExpiry({
    column: 'e', liveWhen: 'after-now', unit: kind, ...rule,
  }, kind, '`e`', nullable)
}

describe('SqlExpiry (expiry rules as data)', () => {
  it('Django: live while expire_date > now; expired and cleanup are the rest, on the server’s wall clock', () => {
    const django = expiry({}, 'datetime')
    assert.deepEqual(django.condition('live', clock), ['`e` > ?', ['2026-12-02 10:00:00.400123']])
    assert.deepEqual(django.condition('expired', clock), ['`e` <= ?', ['2026-12-02 10:00:00.400123']])
    assert.deepEqual(django.cleanupCondition(clock), ['`e` <= ?', ['2026-12-02 10:00:00.400123']])
    assert.deepEqual(django.condition('all', clock), ['', []])
    assert.equal(django.isExpired('2026-12-02 10:00:00.400123', clock), true)
    assert.equal(django.isExpired('2026-12-02 10:00:00.400124', clock), false)
    assert.equal(django.isExpired('2026-12-02 10:00:01', clock), false)
    assert.equal(django.expiresAt('2026-12-02 11:00:00', clock)?.toISOString(), '2026-12-02T11:00:00.000Z')
  })

  it('Spring: expired once EXPIRY_TIME <= now (ms), cleanup deletes < now, Long.MAX_VALUE never expires', () => {
    const spring = expiry({cleanupWhen: 'before-now', unit: 'unix-ms'}, 'unix-ms')
    const now = clock.now.getTime()
    assert.deepEqual(spring.condition('live', clock), ['`e` > ?', [now]])
    assert.deepEqual(spring.condition('expired', clock), ['`e` <= ?', [now]])
    assert.deepEqual(spring.cleanupCondition(clock), ['`e` < ?', [now]])
    assert.equal(spring.isExpired(String(now), clock), true)
    assert.equal(spring.isExpired(String(now + 1), clock), false)
    assert.equal(spring.isExpired('9223372036854775807', clock), false)
    assert.equal(spring.expiresAt('9223372036854775807', clock), null)
    assert.equal(spring.expiresAt(String(now), clock)?.getTime(), now)
  })

  it('express: live while expires >= now in rounded seconds', () => {
    const express = expiry({liveWhen: 'not-before-now', nowSeconds: 'round'})
    assert.deepEqual(express.condition('live', clock), ['`e` >= ?', [NOW_S]])
    assert.deepEqual(express.condition('expired', clock), ['`e` < ?', [NOW_S]])
    assert.equal(express.isExpired(NOW_S, clock), false)
    assert.equal(express.isExpired(NOW_S - 1, clock), true)
    // 10:00:00.6 rounds up: a session expiring at 10:00:00 is then expired.
    const later = {...clock, now: new Date('2026-12-02T10:00:00.600Z')}
    assert.equal(express.isExpired(NOW_S, later), true)
  })

  it('Laravel-shaped: last_activity + lifetime, floored seconds, read says < and gc says <=', () => {
    const laravel = expiry({
      cleanupWhen: 'not-after-now', liveWhen: 'not-before-now', nowSeconds: 'floor', offsetSeconds: 7200,
    })
    const cutoff = NOW_S - 7200
    assert.deepEqual(laravel.condition('live', clock), ['`e` >= ?', [cutoff]])
    assert.deepEqual(laravel.condition('expired', clock), ['`e` < ?', [cutoff]])
    assert.deepEqual(laravel.cleanupCondition(clock), ['`e` <= ?', [cutoff]], 'gc() takes the boundary second too')
    // At the boundary: read serves it, gc deletes it.
    assert.equal(laravel.isExpired(cutoff, clock), false)
    assert.equal(laravel.expiresAt(cutoff, clock)?.getTime(), NOW_S * 1000)
    const later = {...clock, now: new Date('2026-12-02T10:00:00.999Z')}
    assert.deepEqual(laravel.condition('live', later)[1], [cutoff], 'floored: still the same second')
  })

  it('an offset on a DATETIME column moves the cutoff, keeping the microseconds and the zone', () => {
    const rails = expiry({offsetSeconds: 1800}, 'datetime')
    assert.deepEqual(rails.condition('live', clock), ['`e` > ?', ['2026-12-02 09:30:00.400123']])
    const paris = new SqlExpiry({
      column: 'e', liveWhen: 'after-now', offsetSeconds: 1800, unit: 'datetime',
    }, 'datetime', '`e`', false)
    assert.deepEqual(paris.condition('live', {...clock, timeZone: 'Europe/Paris', wallNow: '2026-12-02 11:00:00.400123'}), ['`e` > ?', ['2026-12-02 10:30:00.400123']])
    assert.equal(rails.expiresAt('2026-12-02 09:30:00', clock)?.toISOString(), '2026-12-02T10:00:00.000Z')
  })

  it('unix-ms columns (Spring-shaped) compare in milliseconds', () => {
    const spring = expiry({liveWhen: 'not-before-now'}, 'unix-ms')
    assert.deepEqual(spring.condition('expired', clock), ['`e` < ?', [clock.now.getTime()]])
    assert.equal(spring.expiresAt(clock.now.getTime(), clock)?.getTime(), clock.now.getTime())
  })

  it('NULL: never expires by default, expired where the rule says so; spelled out only for nullable columns', () => {
    const never = expiry({}, 'datetime', true)
    assert.deepEqual(never.condition('live', clock)[0], '(`e` > ? OR `e` IS NULL)')
    assert.deepEqual(never.condition('expired', clock)[0], '`e` <= ?')
    assert.deepEqual(never.cleanupCondition(clock)[0], '`e` <= ?')
    assert.equal(never.isExpired(null, clock), false)
    const flask = expiry({nullMeans: 'expired'}, 'datetime', true)
    assert.deepEqual(flask.condition('live', clock)[0], '`e` > ?')
    assert.deepEqual(flask.condition('expired', clock)[0], '(`e` <= ? OR `e` IS NULL)')
    assert.deepEqual(flask.cleanupCondition(clock)[0], '(`e` <= ? OR `e` IS NULL)')
    assert.equal(flask.isExpired(null, clock), true)
    assert.equal(flask.expiresAt(null, clock), null)
    // A NOT NULL column gets no IS NULL branch (it would only cost the planner).
    assert.deepEqual(expiry({nullMeans: 'expired'}, 'datetime', false).cleanupCondition(clock)[0], '`e` <= ?')
  })
})
