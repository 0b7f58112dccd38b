/**
 * `sessions doctor`'s shared session checks and its output, in-process against the memory store:
 * thresholds (a few bad signatures warn, most fail), expiries far ahead or behind, several stores,
 * one that cannot be opened among them. The checks against real servers: test/integration/doctor.test.ts.
 */
import assert from 'node:assert/strict'

import type {Check} from '../../src/stores/contract.js'

import {clockCheck} from '../../src/stores/doctor-checks.js'
import {encodeSigned} from '../support/django-encode.js'
import {memoryData, type MemoryRow, useMemoryStores} from '../support/memory-store.js'
import {run} from '../support/run.js'

const SECRET = 'doctor-command-secret'
const DAY = 86_400_000

function rows(name: string, spec: {bad?: number; good: number; expiresIn?: number; farPast?: number}): void {
  const data = new Map<string, MemoryRow>()
  const add = (i: string, secretKey: string, expiresIn: number): void => {
    data.set(i.padEnd(32, '0'), {expiresAt: new Date(Date.now() + expiresIn), value: Buffer.from(encodeSigned({_auth_user_id: '42'}, {secretKey}))})
  }

  for (let i = 0; i < spec.good; i++) add(`g${i}`, SECRET, spec.expiresIn ?? DAY)
  for (let i = 0; i < (spec.bad ?? 0); i++) add(`b${i}`, 'another-key', DAY)
  for (let i = 0; i < (spec.farPast ?? 0); i++) add(`p${i}`, SECRET, -10 * 366 * DAY)
  memoryData.set(name, data)
}

type Doc = {stores: Array<{checks: Check[]; store: string}>; summary: {fail: number; ok: number; warn: number}}

describe('sessions doctor (memory store)', () => {
  before(() => useMemoryStores())

  it('a few bad signatures warn (exit 0), most fail (exit 1)', async () => {
    rows('d1', {bad: 1, good: 9})
    const few = await run(['sessions', 'doctor', '--store', 'memory://d1', '--secret-key', SECRET])
    assert.equal(few.exitCode, 0, few.stderr)
    assert.match(few.stdout, /^warn {2}1 of 10 signed sessions \(10%\) fail the signature check: forged, or signed with a retired key/m)
    rows('d2', {bad: 6, good: 4})
    const most = await run(['sessions', 'doctor', '--store', 'memory://d2', '--json'], {DJANGO_SECRET_KEY: SECRET})
    assert.equal(most.exitCode, 1)
    const doc = JSON.parse(most.stdout) as Doc
    const signatures = doc.stores[0].checks.find(c => c.id === 'signatures')!
    assert.equal(signatures.status, 'fail')
    assert.equal(signatures.summary, '6 of 10 signed sessions (60%) fail the signature check: a wrong --secret-key?')
    assert.deepEqual(doc.summary, {fail: 1, ok: 3, warn: 0})
  })

  it('no readable session (every signature fails): the expiry lines say they checked nothing', async () => {
    rows('d6', {bad: 3, good: 0})
    const r = await run(['sessions', 'doctor', '--store', 'memory://d6', '--secret-key', SECRET])
    assert.equal(r.exitCode, 1)
    assert.match(r.stdout, /^fail {2}3 of 3 signed sessions \(100%\) fail the signature check: a wrong --secret-key\?/m)
    assert.match(r.stdout, /^ok {4}expiries not checked: no readable sessions$/m)
    assert.match(r.stdout, /^ok {4}expired rows not checked: no readable sessions$/m)
  })

  it('expiries far ahead of --max-age, or years behind, warn', async () => {
    rows('d3', {expiresIn: 30 * DAY, good: 2})
    const ahead = await run(['sessions', 'doctor', '--store', 'memory://d3'])
    assert.match(ahead.stdout, /^warn {2}2 of 2 sessions expire more than 14d \(--max-age\) from now/m)
    assert.match((await run(['sessions', 'doctor', '--store', 'memory://d3', '--max-age', String(31 * 86_400)])).stdout, /^ok {4}expiries plausible/m)
    rows('d4', {farPast: 1, good: 3})
    const behind = await run(['sessions', 'doctor', '--store', 'memory://d4'])
    assert.match(behind.stdout, /^warn {2}1 of 4 sessions expired more than 5 years ago, the earliest \S+ \S+Z: a wrong --expiry-unit/m)
  })

  it('several stores: a header and indented checks each; a store that cannot be opened fails its line, the others still run', async () => {
    rows('d5', {good: 2})
    const r = await run(['sessions', 'doctor', '--store', 'memory://d5', '--store', 'memory://nosuch'])
    assert.equal(r.exitCode, 1, r.stdout + r.stderr)
    const lines = r.stdout.trim().split('\n')
    assert.equal(lines[0], 'memory://d5')
    assert.match(lines[1], /^ {2}ok {4}every value decodes \(2 values read\)$/)
    assert.ok(lines.includes('memory://nosuch'), r.stdout)
    assert.match(r.stdout, /^ {2}fail {2}could not read the sessions: no memory dataset "nosuch"$/m)
    assert.equal(lines.at(-1), '2 stores: 4 ok, 0 warnings, 1 failure')
  })
})

describe('doctor clock check', () => {
  it('takes half the round trip off, and warns past 2 s, fails past 60 s', () => {
    // Sent at 1000, answered at 1200: the store read its clock at about 1100.
    assert.equal(clockCheck(new Date(1100), 1000, 1200).status, 'ok')
    assert.deepEqual(clockCheck(new Date(1100), 1000, 1200).figures, {roundTripMs: 200, skewSeconds: 0})
    const warn = clockCheck(new Date(1100 + 5000), 1000, 1200)
    assert.equal(warn.status, 'warn')
    assert.equal(warn.summary, 'clock: the store is 5.000 s ahead of this host (round trip 200 ms)')
    const fail = clockCheck(new Date(1100 - 90_000), 1000, 1200)
    assert.equal(fail.status, 'fail')
    assert.equal(fail.summary, 'clock: the store is 90 s behind this host (round trip 200 ms)')
  })
})
