/**
 * purgeStores: several stores' purgeUser under one decision (sessions purge over a profile).
 * Selection runs store by store, `decide` sees every store's selection once before anything is
 * deleted, and the deletes run store by store; a failing store does not stop the others.
 */
import assert from 'node:assert/strict'

import type {
  DeleteOptions, DeleteSummary, ScanSummary, Session, SessionFilter, SessionSink, StoreOptions,
} from '../../src/stores/contract.js'

import {PartialFailureError, StoreError} from '../../src/errors.js'
import {purgeStores, type StoresSelection} from '../../src/sessions/purge.js'
import {unreachableStore} from '../../src/stores/unreachable.js'
import {type MemoryRow, MemoryStore} from '../support/memory-store.js'

/** Values are JSON `{"user": ID}`: enough for selection, without a framework. */
const codec: StoreOptions['codec'] = {
  decode(value) {
    try {
      const data = JSON.parse(value.toString()) as {user?: unknown}
      return {
        data, ok: true, signature: 'unchecked', userId: typeof data.user === 'string' ? data.user : null, variant: 'json',
      }
    } catch {
      return {ok: false, reason: 'not JSON'}
    }
  },
  name: 'test-json',
}

const live = new Date(Date.now() + 3_600_000)

function rows(users: Record<string, string>): Map<string, MemoryRow> {
  return new Map(Object.entries(users).map(([key, user]) => [key, {expiresAt: live, value: Buffer.from(JSON.stringify({user}))}]))
}

/** A memory store that logs its reads and deletes, and can fail its deletes after a batch. */
class LoggedStore extends MemoryStore {
  failAfterBatch = false

  constructor(name: string, data: Map<string, MemoryRow>, private readonly log: string[]) {
    super(name, data, {codec})
  }

  async deleteSessions(sessions: readonly Session[], options: DeleteOptions = {}): Promise<DeleteSummary> {
    this.log.push(`delete ${this.label}`)
    if (!this.failAfterBatch) return super.deleteSessions(sessions, options)
    const first = await super.deleteSessions(sessions.slice(0, 1), options)
    throw PartialFailureError.during(new StoreError(`${this.label}: connection lost`), first.deleted, sessions.length)
  }

  async listSessions(filter: SessionFilter, sink?: SessionSink): Promise<ScanSummary> {
    this.log.push(`select ${this.label}`)
    const summary = await super.listSessions(filter, sink)
    this.log.push(`selected ${this.label}`)
    return summary
  }
}

describe('purgeStores: one purge over several stores', () => {
  let log: string[]
  let a: LoggedStore
  let b: LoggedStore
  let c: LoggedStore

  beforeEach(() => {
    log = []
    a = new LoggedStore('a', rows({a1: '42', a2: '42', a3: '7'}), log)
    b = new LoggedStore('b', rows({b1: '42', b2: '8'}), log)
    c = new LoggedStore('c', rows({c1: '42', c2: '42', c3: '42'}), log)
  })

  it('selects store by store, decides once over every store’s selection, then deletes store by store', async () => {
    const decisions: StoresSelection[] = []
    const progress: string[] = []
    const purged = await purgeStores([a, b, c], '42', {
      batchSize: 1, dryRun: false, onDeleteProgress: p => progress.push(p.store),
    }, selection => {
      decisions.push(selection)
      log.push('decide')
      // Nothing is deleted before the decision.
      assert.deepEqual([a.rows.size, b.rows.size, c.rows.size], [3, 2, 3])
      return true
    })
    assert.equal(decisions.length, 1)
    assert.deepEqual(decisions[0].sessions.map(s => s.key), ['a1', 'a2', 'b1', 'c1', 'c2', 'c3'])
    assert.deepEqual(decisions[0].scans.map(s => [s.store, s.summary?.matched]), [['memory://a', 2], ['memory://b', 1], ['memory://c', 3]])
    assert.deepEqual(log.join(', '), [
      'select memory://a, selected memory://a, select memory://b, selected memory://b, select memory://c, selected memory://c',
      'decide, delete memory://a, delete memory://b, delete memory://c',
    ].join(', '))
    // Sequential: one store's batches, then the next one's.
    assert.deepEqual(progress, ['memory://a', 'memory://a', 'memory://b', 'memory://c', 'memory://c', 'memory://c'])
    assert.equal(purged.proceeded, true)
    assert.deepEqual(purged.deletions.map(d => [d.store, d.summary?.deleted]), [['memory://a', 2], ['memory://b', 1], ['memory://c', 3]])
    assert.deepEqual([[...a.rows.keys()], [...b.rows.keys()], [...c.rows.keys()]], [['a3'], ['b2'], []])
  })

  it('a store whose selection fails is recorded and the others still run', async () => {
    const down = unreachableStore('redis://down', new StoreError('redis://down: connection refused'))
    const purged = await purgeStores([a, down, c], '42', {dryRun: false}, () => true)
    assert.deepEqual(purged.scans.map(s => [s.store, s.error?.message]), [
      ['memory://a', undefined], ['redis://down', 'redis://down: connection refused'], ['memory://c', undefined],
    ])
    assert.deepEqual(purged.deletions.map(d => [d.store, d.summary?.deleted]), [['memory://a', 2], ['memory://c', 3]])
  })

  it('a store failing mid-delete is recorded with what it deleted before; the next store still deletes', async () => {
    b.rows.set('b3', {expiresAt: live, value: Buffer.from('{"user":"42"}')})
    b.failAfterBatch = true
    const purged = await purgeStores([a, b, c], '42', {dryRun: false}, () => true)
    assert.deepEqual(purged.deletions.map(d => [d.store, d.summary?.deleted ?? d.deletedBeforeError, d.error?.message.startsWith('memory://b: connection lost')]), [
      ['memory://a', 2, undefined], ['memory://b', 1, true], ['memory://c', 3, undefined],
    ])
    assert.equal(b.rows.size, 2)
    assert.equal(c.rows.size, 0)
  })

  it('deletes nothing anywhere when decide throws or says no, and the error comes out', async () => {
    const refused = new Error('refusing to purge')
    await assert.rejects(purgeStores([a, b, c], '42', {dryRun: false}, () => {
      throw refused
    }), refused)
    const declined = await purgeStores([a, b, c], '42', {dryRun: false}, async () => false)
    assert.equal(declined.proceeded, false)
    assert.deepEqual(declined.deletions, [])
    assert.deepEqual([a.rows.size, b.rows.size, c.rows.size], [3, 2, 3])
    assert.ok(!log.some(line => line.startsWith('delete')))
  })

  it('a dry run selects every store and decides once; nothing is deleted', async () => {
    let decided = 0
    const purged = await purgeStores([a, b, c], '42', {dryRun: true}, selection => {
      decided++
      assert.equal(selection.sessions.length, 6)
      return true
    })
    assert.equal(decided, 1)
    assert.deepEqual(purged.deletions, [])
    assert.deepEqual([a.rows.size, b.rows.size, c.rows.size], [3, 2, 3])
  })

  it('a signal between stores: the stores not yet deleting are stopped, nothing deleted there', async () => {
    const controller = new AbortController()
    const purged = await purgeStores([a, b, c], '42', {
      dryRun: false,
      onDeleteProgress(p) {
        if (p.store === 'memory://a') controller.abort()
      },
      signal: controller.signal,
    }, () => true)
    assert.deepEqual(purged.deletions.map(d => [d.store, d.summary?.deleted, d.summary?.stopped]), [
      ['memory://a', 2, false], ['memory://b', 0, true], ['memory://c', 0, true],
    ])
    assert.deepEqual([b.rows.size, c.rows.size], [2, 3])
  })

  it('a signal while selecting: no further store selects, decide still reports', async () => {
    const controller = new AbortController()
    let decided: StoresSelection | undefined
    const purged = await purgeStores([a, b, c], '42', {
      dryRun: false,
      onScanProgress(p) {
        if (p.store === 'memory://b') controller.abort()
      },
      signal: controller.signal,
    }, selection => {
      decided = selection
      return false
    })
    assert.deepEqual(decided?.scans.map(s => s.store), ['memory://a', 'memory://b'])
    assert.ok(!log.includes('select memory://c'))
    assert.deepEqual(purged.deletions, [])
    assert.deepEqual([a.rows.size, b.rows.size, c.rows.size], [3, 2, 3])
  })
})
