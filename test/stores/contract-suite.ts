/**
 * The store-adapter conformance suite. Every adapter runs it (see the *.contract.test.ts files,
 * a few lines each): what "list", "purge" and "compare-and-delete" mean must not depend on the
 * backend. Sessions are written in Django's signed format, natively for each backend.
 */
import assert from 'node:assert/strict'

import type {
  PurgeSelection, Session, SessionFilter, SessionStore,
} from '../../src/stores/contract.js'

import {fingerprint, KeepList} from '../../src/sessions/keys.js'
import {decodeStats, decodeTuning} from '../../src/sessions/select.js'
import {encodeSigned} from '../support/django-encode.js'

export interface ContractFixture {
  drop(): Promise<void>
  /** The session keys present now. */
  keys(): Promise<string[]>
  /** Opens the adapter on this fixture's location with the Django codec. */
  open(options?: {secretKeys?: string[]}): Promise<SessionStore>
  /** Writes a session the way the framework would (row, or key with TTL). */
  put(key: string, value: string, expiresAt: Date): Promise<void>
}

export interface ContractHarness {
  /** A fresh, empty location (database table, key prefix) for one test. */
  create(): Promise<ContractFixture>
  /** False for TTL stores, where an expired session no longer exists. */
  keepsExpired: boolean
  /** False when the fixture's codec cannot be rebuilt on worker threads (an ad-hoc codec, no CodecSpec). */
  pooled?: boolean
}

export const SECRET = 'contract-suite-secret'
const HOUR = 3_600_000

export function session(user: null | number | string, extra: Record<string, unknown> = {}): string {
  const data = user === null ? {visits: 1, ...extra} : {_auth_user_id: user, ...extra}
  return encodeSigned(data, {secretKey: SECRET})
}

function key(name: string): string {
  // Django keys: 32 chars of [a-z0-9].
  return name.padEnd(32, '0').slice(0, 32)
}

async function collect(store: SessionStore, filter: SessionFilter): Promise<{keys: string[]; sessions: Session[]; summary: Awaited<ReturnType<SessionStore['listSessions']>>}> {
  const sessions: Session[] = []
  const summary = await store.listSessions(filter, {
    onSessions(batch) {
      sessions.push(...batch)
    },
  })
  return {keys: sessions.map(s => s.key).sort(), sessions, summary}
}

export function storeContractSuite(name: string, harness: ContractHarness): void {
  describe(`store contract: ${name}`, function () {
    this.timeout(60_000)
    let fixture: ContractFixture
    let store: SessionStore | undefined
    const now = Date.now()
    const live = new Date(now + (24 * HOUR))

    beforeEach(async () => {
      fixture = await harness.create()
    })

    afterEach(async () => {
      await store?.close()
      store = undefined
      await fixture.drop()
    })

    async function seedUsers(): Promise<void> {
      await fixture.put(key('u42a'), session('42'), live)
      await fixture.put(key('u42b'), session('42', {cart: [1, 2, 3]}), new Date(now + (2 * HOUR)))
      await fixture.put(key('u420'), session('420'), live)
      await fixture.put(key('u4x'), session('4'), live)
      await fixture.put(key('u042'), session('042'), live)
      await fixture.put(key('anon'), session(null), live)
      await fixture.put(key('uuid'), session('7c9e6679-7425-40de-944b-e07fc1f69e30'), live)
      if (harness.keepsExpired) {
        await fixture.put(key('u42old'), session('42'), new Date(now - HOUR))
        await fixture.put(key('u7old'), session('7'), new Date(now - HOUR))
      }
    }

    it('lists exactly the user’s live sessions, comparing ids as text', async () => {
      await seedUsers()
      store = await fixture.open()
      const {keys, sessions, summary} = await collect(store, {state: 'live', userId: '42'})
      assert.deepEqual(keys, [key('u42a'), key('u42b')])
      assert.ok(sessions.every(s => s.userId === '42' && !s.expired && s.store === store!.label))
      assert.ok(sessions.every(s => s.expiresAt instanceof Date && s.expiresAt.getTime() > now))
      assert.equal(summary.matched, 2)
      assert.equal(summary.scanned, 7)
      const uuid = await collect(store, {state: 'live', userId: '7c9e6679-7425-40de-944b-e07fc1f69e30'})
      assert.deepEqual(uuid.keys, [key('uuid')])
    })

    it('lists every live session when no user is given, anonymous ones included', async () => {
      await seedUsers()
      store = await fixture.open()
      const {keys} = await collect(store, {state: 'live'})
      assert.equal(keys.length, 7)
      assert.ok(keys.includes(key('anon')))
    })

    // TTL stores hold no expired sessions: there is nothing to tell apart.
    if (harness.keepsExpired) it('tells expired from live sessions by the store’s expiry', async () => {
      await seedUsers()
      store = await fixture.open()
      assert.deepEqual((await collect(store, {state: 'expired', userId: '42'})).keys, [key('u42old')])
      assert.deepEqual((await collect(store, {state: 'all', userId: '42'})).keys, [key('u42a'), key('u42b'), key('u42old')].sort())
      const expired = (await collect(store, {state: 'expired'})).sessions
      assert.ok(expired.every(s => s.expired && s.expiresAt!.getTime() < now))
      assert.equal(expired.length, 2)
    })

    it('counts undecodable values, never matches them, and keeps scanning', async () => {
      await fixture.put(key('good'), session('42'), live)
      await fixture.put(key('garbage'), 'not a session at all', live)
      await fixture.put(key('badzlib'), '.eJxub3QtemxpYi1hdC1hbGw:1xWfJ4:abc', live)
      await fixture.put(key('notjson'), 'e25vdCBqc29u:1xWfJ4:abc', live)
      await fixture.put(key('empty'), '', live)
      await fixture.put(key('good2'), session('42'), live)
      // Not JSON, but it may have been meant as user 42's: not ruled out by the prefilter.
      await fixture.put(key('notjson42'), `${Buffer.from('{"_auth_user_id":"42",').toString('base64url')}:1xWfJ4:abc`, live)
      store = await fixture.open()
      const {keys, summary} = await collect(store, {state: 'live', userId: '42'})
      assert.deepEqual(keys, [key('good'), key('good2')])
      // With a user: the values not ruled out as the user's ("{not json" cannot hold user 42).
      assert.deepEqual(summary.undecodable, {
        'bad zlib': 1, empty: 1, 'not a Django session': 1, 'not JSON': 1,
      }, JSON.stringify(summary.undecodable))
      // Without one, every value is parsed and counted.
      const everyone = await collect(store, {state: 'live'})
      assert.deepEqual(everyone.summary.undecodable, {
        'bad zlib': 1, empty: 1, 'not a Django session': 1, 'not JSON': 2,
      }, JSON.stringify(everyone.summary.undecodable))
    })

    it('ignores sessions with a bad signature when given the secret key', async () => {
      await fixture.put(key('signed'), session('42'), live)
      await fixture.put(key('forged'), encodeSigned({_auth_user_id: '42'}, {secretKey: 'not-the-key'}), live)
      store = await fixture.open({secretKeys: [SECRET]})
      const {keys, summary} = await collect(store, {state: 'live', userId: '42'})
      assert.deepEqual(keys, [key('signed')])
      assert.equal(summary.badSignature, 1)
    })

    it('keeps the sessions named in the keep list, by key or fingerprint, and counts them', async () => {
      await seedUsers()
      store = await fixture.open()
      const keep = new KeepList([key('u42a'), 'zzzz…00000000'])
      const {keys, summary} = await collect(store, {keep, state: 'live', userId: '42'})
      assert.deepEqual(keys, [key('u42b')])
      assert.equal(summary.kept, 1)
      assert.deepEqual(keep.unmatched(), ['zzzz…00000000'])
    })

    it('diagnose (sessions doctor) returns well-formed checks, prints no key, and changes nothing', async () => {
      await seedUsers()
      store = await fixture.open()
      const before = (await fixture.keys()).sort()
      assert.ok(store.diagnose, 'every adapter implements diagnose')
      const checks = await store.diagnose({})
      for (const c of checks) {
        assert.match(c.id, /^[a-z-]+$/)
        assert.ok(['fail', 'ok', 'warn'].includes(c.status), c.status)
        assert.ok(c.summary.length > 0 && !c.summary.includes('\n'))
        for (const k of before) assert.ok(!`${c.summary} ${c.hint ?? ''}`.includes(k), 'no raw session key')
      }

      assert.deepEqual((await fixture.keys()).sort(), before)
    })

    it('names: selects only the named sessions, whoever owns them, undecodable and badly signed ones with their reason, and decodes no other', async () => {
      await seedUsers()
      await fixture.put(key('garbage'), 'not a session at all', live)
      await fixture.put(key('namedjunk'), '.eJxub3QtemxpYi1hdC1hbGw:1xWfJ4:abc', live)
      await fixture.put(key('forged'), encodeSigned({_auth_user_id: '7'}, {secretKey: 'not-the-key'}), live)
      store = await fixture.open({secretKeys: [SECRET]})
      const names = new KeepList([key('u420'), fingerprint(key('anon')), key('namedjunk'), key('forged'), 'zzzz…00000000', key('nosuchkey')])
      const {keys, sessions, summary} = await collect(store, {names, state: 'all'})
      assert.deepEqual(keys, [key('anon'), key('forged'), key('namedjunk'), key('u420')].sort())
      const byKey = new Map(sessions.map(s => [s.key, s]))
      assert.equal(byKey.get(key('u420'))!.userId, '420')
      assert.equal(byKey.get(key('anon'))!.userId, null)
      assert.equal(byKey.get(key('anon'))!.undecodable, undefined)
      assert.equal(byKey.get(key('namedjunk'))!.undecodable, 'bad zlib')
      assert.equal(byKey.get(key('forged'))!.undecodable, 'bad signature')
      assert.equal(summary.matched, 4)
      // The unnamed garbage was never decoded: only the named value is counted.
      assert.deepEqual(summary.undecodable, {'bad zlib': 1}, JSON.stringify(summary.undecodable))
      assert.deepEqual(names.unmatched(), ['zzzz…00000000', fingerprint(key('nosuchkey'))])
      assert.deepEqual(names.report().slice(0, 2).map(r => r.matchedAs), [['raw key'], ['fingerprint']])
      // The selection deletes exactly those, by compare-and-delete.
      const before = await fixture.keys()
      const result = await store.deleteSessions(sessions)
      assert.equal(result.deleted, 4)
      assert.deepEqual((await fixture.keys()).sort(), before.filter(k => !byKey.has(k)).sort())
    })

    it('deletes exactly the selected sessions and nothing else', async () => {
      await seedUsers()
      store = await fixture.open()
      const before = await fixture.keys()
      const {sessions} = await collect(store, {state: 'all', userId: '42'})
      const result = await store.deleteSessions(sessions, {batchSize: 1})
      assert.equal(result.deleted, sessions.length)
      assert.equal(result.changed + result.gone, 0)
      const after = await fixture.keys()
      assert.deepEqual(after.sort(), before.filter(k => !sessions.some(s => s.key === k)).sort())
      assert.deepEqual((await collect(store, {state: 'all', userId: '42'})).keys, [])
    })

    it('keeps a selected session that was re-written before the delete (compare-and-delete)', async () => {
      await seedUsers()
      store = await fixture.open()
      const {sessions} = await collect(store, {state: 'live', userId: '42'})
      // The app saves the session again between selection and delete.
      await fixture.put(key('u42a'), session('42', {visits: 2}), live)
      // ...and another one logs out meanwhile.
      const other = await fixture.open()
      await other.deleteSessions(sessions.filter(s => s.key === key('u42b')))
      await other.close()
      const result = await store.deleteSessions(sessions)
      assert.deepEqual({changed: result.changed, deleted: result.deleted, gone: result.gone}, {changed: 1, deleted: 0, gone: 1})
      assert.ok((await fixture.keys()).includes(key('u42a')))
    })

    // Where the expiry is part of the stored session (SQL), extending it is a change.
    if (harness.keepsExpired) it('keeps a selected session whose expiry was extended before the delete', async () => {
      await fixture.put(key('ext'), session('9'), live)
      store = await fixture.open()
      const {sessions} = await collect(store, {state: 'all', userId: '9'})
      await fixture.put(key('ext'), session('9'), new Date(live.getTime() + HOUR))
      const result = await store.deleteSessions(sessions)
      assert.equal(result.deleted, 0)
      assert.equal(result.changed, 1)
    })

    it('works in bounded batches and stops between batches when aborted', async () => {
      for (let i = 0; i < 12; i++) await fixture.put(key(`b${i}x`), session('5'), live)
      store = await fixture.open()
      const {sessions} = await collect(store, {state: 'live', userId: '5'})
      assert.equal(sessions.length, 12)
      const controller = new AbortController()
      const progress: number[] = []
      const result = await store.deleteSessions(sessions, {
        batchSize: 5,
        onProgress(p) {
          progress.push(p.deleted)
          if (p.deleted >= 5) controller.abort()
        },
        signal: controller.signal,
      })
      assert.equal(result.deleted, 5)
      assert.equal(result.stopped, true)
      assert.deepEqual(progress, [5])
      assert.equal((await fixture.keys()).length, 7)
      const rest = await collect(store, {state: 'live', userId: '5'})
      assert.equal((await store.deleteSessions(rest.sessions, {batchSize: 5})).deleted, 7)
      assert.equal((await fixture.keys()).length, 0)
    })

    // purgeUser, the operation the commands call: one selection, one confirmation, compare-and-delete.
    describe('purgeUser', () => {
      /** The user 42 sessions seedUsers writes: what "all" selects. */
      const user42 = (): string[] => [key('u42a'), key('u42b'), ...(harness.keepsExpired ? [key('u42old')] : [])].sort()
      const keysOf = (sessions: readonly Session[]): string[] => sessions.map(s => s.key).sort()

      it('a dry run deletes nothing, asks nothing, and selects exactly what the real run then deletes', async () => {
        await seedUsers()
        store = await fixture.open()
        const before = (await fixture.keys()).sort()
        let asked = 0
        const dry = await store.purgeUser('42', {
          confirm() {
            asked++
            return true
          },
          dryRun: true,
        })
        assert.equal(asked, 0)
        assert.deepEqual((await fixture.keys()).sort(), before)
        assert.deepEqual(keysOf(dry.sessions), user42())
        assert.deepEqual({
          attempted: dry.attempted, changed: dry.changed, deleted: dry.deleted, gone: dry.gone, stopped: dry.stopped,
        }, {
          attempted: false, changed: 0, deleted: 0, gone: 0, stopped: false,
        })
        assert.equal(dry.confirmed, undefined)
        assert.equal(dry.store, store.label)
        assert.equal(dry.scan.matched, user42().length)

        let confirmed: PurgeSelection | undefined
        const real = await store.purgeUser('42', {
          confirm(selection) {
            confirmed = selection
            return true
          },
          dryRun: false,
        })
        assert.deepEqual(confirmed?.sessions.map(s => [s.key, s.version]).sort(), dry.sessions.map(s => [s.key, s.version]).sort())
        assert.deepEqual(keysOf(real.sessions), keysOf(dry.sessions))
        assert.deepEqual({
          attempted: real.attempted, confirmed: real.confirmed, deleted: real.deleted, stopped: real.stopped,
        }, {
          attempted: true, confirmed: true, deleted: dry.sessions.length, stopped: false,
        })
        assert.deepEqual((await fixture.keys()).sort(), before.filter(k => !user42().includes(k)))
      })

      it('keeps the sessions named by except, by key and by fingerprint, and counts them as kept', async () => {
        await seedUsers()
        await fixture.put(key('u42c'), session('42'), live)
        store = await fixture.open()
        const except = new KeepList([key('u42a'), fingerprint(key('u42b'))])
        const summary = await store.purgeUser('42', {dryRun: false, except})
        assert.equal(summary.scan.kept, 2)
        assert.deepEqual(except.unmatched(), [])
        const deleted = [key('u42c'), ...(harness.keepsExpired ? [key('u42old')] : [])].sort()
        assert.deepEqual(keysOf(summary.sessions), deleted)
        assert.equal(summary.deleted, deleted.length)
        const after = await fixture.keys()
        assert.ok(after.includes(key('u42a')) && after.includes(key('u42b')))
        assert.ok(deleted.every(k => !after.includes(k)))
      })

      it('expired-only selects and deletes only the user’s expired sessions', async () => {
        await seedUsers()
        store = await fixture.open()
        const before = await fixture.keys()
        const summary = await store.purgeUser('42', {dryRun: false, expiredOnly: true})
        // TTL stores hold no expired session: nothing to select.
        const expected = harness.keepsExpired ? [key('u42old')] : []
        assert.deepEqual(keysOf(summary.sessions), expected)
        assert.equal(summary.deleted, expected.length)
        assert.equal(summary.attempted, expected.length > 0)
        assert.deepEqual((await fixture.keys()).sort(), before.filter(k => !expected.includes(k)).sort())
      })

      it('keeps a session re-written after selection, and counts one deleted meanwhile as gone', async () => {
        await seedUsers()
        store = await fixture.open()
        const summary = await store.purgeUser('42', {
          async confirm(selection) {
            // Between selection and delete, the app saves one session again and another logs out.
            await fixture.put(key('u42a'), session('42', {visits: 2}), live)
            const other = await fixture.open()
            await other.deleteSessions(selection.sessions.filter(s => s.key === key('u42b')))
            await other.close()
            return true
          },
          dryRun: false,
        })
        assert.deepEqual({changed: summary.changed, deleted: summary.deleted, gone: summary.gone}, {
          changed: 1, deleted: harness.keepsExpired ? 1 : 0, gone: 1,
        })
        const after = await fixture.keys()
        assert.ok(after.includes(key('u42a')))
        assert.ok(!after.includes(key('u42b')))
      })

      it('deletes nothing when confirm says no', async () => {
        await seedUsers()
        store = await fixture.open()
        const before = (await fixture.keys()).sort()
        const summary = await store.purgeUser('42', {confirm: () => false, dryRun: false})
        assert.deepEqual({attempted: summary.attempted, confirmed: summary.confirmed, deleted: summary.deleted}, {
          attempted: false, confirmed: false, deleted: 0,
        })
        assert.deepEqual(keysOf(summary.sessions), user42())
        assert.deepEqual((await fixture.keys()).sort(), before)
      })

      it('stops on abort: before deleting, between batches, or while selecting (nothing asked, nothing deleted)', async () => {
        for (let i = 0; i < 12; i++) await fixture.put(key(`p${i}x`), session('5'), live)
        store = await fixture.open()
        const before = new AbortController()
        const atConfirm = await store.purgeUser('5', {
          confirm() {
            before.abort()
            return true
          },
          dryRun: false,
          signal: before.signal,
        })
        assert.deepEqual({attempted: atConfirm.attempted, deleted: atConfirm.deleted, stopped: atConfirm.stopped}, {attempted: true, deleted: 0, stopped: true})
        assert.equal((await fixture.keys()).length, 12)

        const midway = new AbortController()
        const scanned: number[] = []
        const progress: number[] = []
        const stopped = await store.purgeUser('5', {
          batchSize: 5,
          dryRun: false,
          onDeleteProgress(p) {
            progress.push(p.deleted)
            if (p.deleted >= 5) midway.abort()
          },
          onScanProgress: p => scanned.push(p.scanned),
          signal: midway.signal,
        })
        assert.ok(scanned.length > 0 && scanned.at(-1) === 12, `scan progress ${scanned.join(',')}`)
        assert.deepEqual(progress, [5])
        assert.deepEqual({deleted: stopped.deleted, stopped: stopped.stopped}, {deleted: 5, stopped: true})
        assert.equal((await fixture.keys()).length, 7)

        const aborted = new AbortController()
        aborted.abort()
        let asked = false
        const none = await store.purgeUser('5', {
          confirm() {
            asked = true
            return true
          },
          dryRun: false,
          signal: aborted.signal,
        })
        assert.deepEqual({asked, attempted: none.attempted, stopped: none.stopped}, {asked: false, attempted: false, stopped: true})
        assert.equal((await fixture.keys()).length, 7)
      })
    })

    if (harness.pooled !== false) it('decodes a large store on worker threads with the same results', async function () {
      this.timeout(120_000)
      const total = 30_000
      const values = [session('1'), session('2'), session('3', {pad: 'x'.repeat(300)}), 'garbage', session('42', {}), encodeSigned({_auth_user_id: '42'}, {secretKey: 'forged'})]
      const puts: Array<Promise<void>> = []
      for (let i = 0; i < total; i++) {
        puts.push(fixture.put(key(`w${i}x`), values[i % values.length], live))
        if (puts.length >= 500) await Promise.all(puts.splice(0))
      }

      await Promise.all(puts)
      store = await fixture.open({secretKeys: [SECRET]})
      const before = decodeStats.pooledBatches
      // These values are cheap to decode: force the threads on to test them.
      const worth = decodeTuning.poolWorthShare
      decodeTuning.poolWorthShare = 0
      const {sessions, summary} = await collect(store, {state: 'live', userId: '42'}).finally(() => {
        decodeTuning.poolWorthShare = worth
      })
      assert.ok(decodeStats.pooledBatches > before, 'worker threads decoded some batches')
      assert.equal(summary.scanned, total)
      assert.equal(sessions.length, total / values.length)
      assert.ok(sessions.every(s => s.userId === '42'))
      assert.equal(summary.badSignature, total / values.length)
      assert.equal(Object.values(summary.undecodable).reduce((a, b) => a + b, 0), total / values.length)
    })

    it('streams large stores in batches and finds sessions in every batch', async () => {
      const total = 2500
      const values = [session('1'), session('2'), session('3')]
      const puts: Array<Promise<void>> = []
      for (let i = 0; i < total; i++) {
        puts.push(fixture.put(key(`big${i}x`), i % 500 === 0 ? session('77') : values[i % 3], live))
        if (puts.length >= 200) await Promise.all(puts.splice(0))
      }

      await Promise.all(puts)
      store = await fixture.open()
      let batches = 0
      const sessions: Session[] = []
      const summary = await store.listSessions({state: 'live', userId: '77'}, {
        onProgress() {
          batches++
        },
        onSessions(b) {
          sessions.push(...b)
        },
      })
      assert.equal(summary.scanned, total)
      assert.equal(sessions.length, total / 500)
      assert.ok(batches >= 2, `progress reported ${batches} times`)
    })
  })
}
