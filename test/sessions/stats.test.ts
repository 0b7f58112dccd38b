/**
 * The fixed-size structures behind `sessions stats`, against exact answers computed from the
 * same generated streams: percentiles, the top accounts with their error bound, distinct users.
 */
import assert from 'node:assert/strict'

import type {ScanSummary, Session} from '../../src/stores/contract.js'

import {frameworkCodec, getFramework} from '../../src/frameworks/index.js'
import {type RawSession, Selector} from '../../src/sessions/select.js'
import {
  DistinctEstimate, HeavyHitters, SizeDistribution, StatsCollector,
} from '../../src/sessions/stats.js'
import {encodeSigned} from '../support/django-encode.js'
import {Rng} from '../support/rng.js'

function nearestRank(sorted: readonly number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]
}

describe('sessions stats: bounded structures', () => {
  it('size percentiles are exact up to 64 KiB and within 1% above', () => {
    const rng = new Rng(7)
    for (const spread of [300, 5000, 2_000_000]) {
      const sizes = Array.from({length: 20_000}, () => Math.floor(((rng.u32() / (2 ** 32)) ** 3) * spread))
      const d = new SizeDistribution()
      for (const s of sizes) d.add(s)
      sizes.sort((a, b) => a - b)
      assert.equal(d.max, sizes.at(-1))
      for (const q of [0.01, 0.5, 0.95, 0.99, 1]) {
        const exact = nearestRank(sizes, q)
        const got = d.quantile(q)!
        if (exact < 65_536) assert.equal(got, exact, `q=${q} spread=${spread}`)
        else assert.ok(Math.abs(got - exact) <= exact * 0.011, `q=${q}: ${got} vs ${exact}`)
      }
    }

    assert.equal(new SizeDistribution().quantile(0.5), null)
  })

  it('the top accounts: exact while every account fits, never high and within the stated error beyond', () => {
    const rng = new Rng(11)
    // A few heavy accounts (a bot, a shared login) among 300k ordinary ones.
    const stream: string[] = []
    for (let i = 0; i < 400_000; i++) {
      const r = (rng.u32() / (2 ** 32))
      stream.push(r < 0.02 ? 'bot' : (r < 0.03 ? `heavy${Math.floor((rng.u32() / (2 ** 32)) * 5)}` : `u${Math.floor((rng.u32() / (2 ** 32)) * 300_000)}`))
    }

    const truth = new Map<string, number>()
    for (const u of stream) truth.set(u, (truth.get(u) ?? 0) + 1)
    const small = new HeavyHitters(1024)
    const large = new HeavyHitters(1_000_000)
    for (const u of stream) {
      small.add(u)
      large.add(u)
    }

    assert.ok(large.complete)
    assert.equal(large.size, truth.size)
    const exactTop = [...truth].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 6)
    assert.deepEqual(large.top(6).users.map(t => [t.key, t.count]), exactTop)
    assert.equal(large.top(6).othersAtMost, [...truth.values()].sort((a, b) => b - a)[6], 'exact: the next account\'s count')

    assert.ok(!small.complete && small.error > 0)
    const {othersAtMost, users: top} = small.top(6)
    // Only accounts certainly above every unlisted one: a prefix of the exact top, in its order.
    assert.ok(top.length >= 2, JSON.stringify(top))
    assert.deepEqual(top.map(t => t.key), exactTop.slice(0, top.length).map(([k]) => k), 'the same accounts, in the same order')
    for (const {count, key} of top) {
      const real = truth.get(key)!
      assert.ok(count <= real && real - count <= small.error, `${key}: ${count} vs ${real}, error ${small.error}`)
    }

    for (const [key, real] of truth) if (!top.some(t => t.key === key)) assert.ok(real <= othersAtMost, `${key}: ${real} > ${othersAtMost}`)
  })

  it('beyond its capacity, lists only accounts certain to outrank every unlisted one, and bounds the rest', () => {
    // The bench's shape: one account with 500 sessions among 300k holding 1–4 each. A kept counter
    // of 1 says nothing then (thousands of accounts hold 4): listing it as "second" would mislead.
    const rng = new Rng(5)
    const truth = new Map<string, number>([['1000', 500]])
    for (let i = 0; i < 300_000; i++) truth.set(`u${i}`, 1 + Math.floor((rng.u32() / (2 ** 32)) * 4))
    const stream = [...truth].flatMap(([k, n]) => Array.from({length: n}, () => k))
    for (let i = stream.length - 1; i > 0; i--) {
      const j = Math.floor((rng.u32() / (2 ** 32)) * (i + 1));
      [stream[i], stream[j]] = [stream[j], stream[i]]
    }

    const hitters = new HeavyHitters(4096)
    for (const u of stream) hitters.add(u)
    const {othersAtMost, users} = hitters.top(3)
    assert.ok(!hitters.complete)
    assert.deepEqual(users.map(u => u.key), ['1000'], JSON.stringify(users))
    assert.ok(users[0].count <= 500 && 500 - users[0].count <= hitters.error)
    assert.ok(users[0].count > othersAtMost - hitters.error, 'the listed account certainly outranks the rest')
    for (const [key, real] of truth) if (key !== '1000') assert.ok(real <= othersAtMost, `${key}: ${real} > ${othersAtMost}`)
  })

  it('distinct users: estimated within 2% at 10k, 100k and 1M', () => {
    for (const n of [10_000, 100_000, 1_000_000]) {
      const d = new DistinctEstimate()
      for (let i = 0; i < n; i++) d.add(String(i * 7919))
      // Each id again: duplicates change nothing.
      for (let i = 0; i < n; i += 3) d.add(String(i * 7919))
      const got = d.estimate()
      assert.ok(Math.abs(got - n) / n < 0.02, `${got} for ${n}`)
    }
  })

  it('a collector beyond its capacity says the figures are estimates, with the bound', () => {
    const now = new Date('2026-12-01T00:00:00Z')
    const c = new StatsCollector(now, true, 100)
    const batch: Session[] = []
    for (let i = 0; i < 5000; i++) {
      batch.push({
        expired: false, expiresAt: new Date(now.getTime() + 60_000), key: `k${i}`.padEnd(32, '0'), size: 100 + (i % 50), store: 's', userId: i % 4 === 0 ? 'bot' : `u${i}`, version: '',
      })
    }

    c.addSessions(batch)
    const summary: ScanSummary = {
      badSignature: 0, kept: 0, matched: 5000, now, ownerUnknown: {}, scanned: 5000, store: 's', undecodable: {},
    }
    const r = c.result(summary, 1)
    assert.equal(r.users.exact, false)
    assert.ok(Math.abs(r.users.count - 3751) / 3751 < 0.03, `${r.users.count}`)
    assert.equal(r.top.countsExact, false)
    assert.equal(r.top.users[0].userId, 'bot')
    assert.ok(r.top.users[0].count <= 1250 && 1250 - r.top.users[0].count <= r.top.maxError)
    assert.equal(r.expiresIn[0].count, 5000)
  })

  it('a store that hands sessions over one by one (onTally, the SQL stores) counts exactly what one that hands Session batches does', async () => {
    const secretKey = 'tally-secret'
    const codec = frameworkCodec(getFramework('django'), {secretKeys: [secretKey], userPath: ['_auth_user_id']})
    const now = new Date('2026-12-01T00:00:00Z')
    const rng = new Rng(23)
    const raws: RawSession[] = []
    for (let i = 0; i < 3000; i++) {
      const expiresAt = new Date(now.getTime() + ((rng.int(40 * 86_400) - (8 * 86_400)) * 1000))
      const user = rng.chance(0.1) ? null : String(rng.chance(0.05) ? 7 : rng.int(900))
      const session = {...(user === null ? {} : {_auth_user_id: user}), cart: Array.from({length: rng.int(20)}, (_, j) => j)}
      // Some values no framework wrote, some signed with another key.
      const text = i % 97 === 0 ? 'bm90IGEgc2Vzc2lvbg==' : encodeSigned(session, {secretKey: i % 89 === 0 ? 'other-key' : secretKey})
      raws.push({
        expired: expiresAt.getTime() <= now.getTime(), expiresAt, expiryToken: expiresAt.toISOString(), key: `k${String(i).padStart(31, '0')}`, value: Buffer.from(text),
      })
    }

    const run = async (tally: boolean) => {
      const collector = new StatsCollector(now, true)
      const selector = new Selector(codec, {countOnly: true, onUndecodable: v => collector.addUndecodable(v), state: 'all'}, 's', now, {
        onSessions: batch => collector.addSessions(batch), ...(tally ? {onTally: (t: Parameters<StatsCollector['add']>[0]) => collector.add(t)} : {}),
      })
      for (let i = 0; i < raws.length; i += 500) await selector.submit(raws.slice(i, i + 500))
      return collector.result(await selector.finish(), 5)
    }

    const batches = await run(false)
    const tallied = await run(true)
    assert.deepEqual(tallied, batches)
    assert.ok(batches.expired > 300 && batches.live > 2000 && batches.anonymous > 100, JSON.stringify(batches))
    assert.ok(batches.undecodable.length > 0 && batches.badSignature > 0)
    assert.equal(batches.top.users[0].userId, '7')
    assert.equal(batches.sizes.largest.length, 5)
  })
})
