/**
 * Redis key names are bytes. A session key under the prefix that is not valid UTF-8 must be
 * listed, purged and kept (--except) like any other, by its exact bytes: read as text with
 * replacement characters, it was another key (or none), so its session was invisible to a purge
 * and a neighbour was counted twice. Shown losslessly: invalid bytes as \xNN, '\' as '\\'.
 */
import {Cluster, Redis} from 'ioredis'
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'

import {fingerprint} from '../../src/sessions/keys.js'
import {sessionctl} from '../support/cli.js'
import {clusterSeeds, testRedisClusterUrl, testRedisUrl} from '../support/servers.js'

const HOUR = 3_600_000

const EXPIRES = new Date(Date.now() + (24 * HOUR)).toISOString()
function value(user: number): string {
  return JSON.stringify({cookie: {expires: EXPIRES, originalMaxAge: HOUR, path: '/'}, passport: {user}})
}

const bytes = (prefix: string, ...parts: Array<number[] | string>): Buffer => Buffer.concat([Buffer.from(prefix), ...parts.map(p => Buffer.from(p as never))])

interface Run {
  code: null | number
  doc: {deleted?: number; sessions?: Array<{id: string; userId: string}>}
  stderr: string
}

async function run(args: string[]): Promise<Run> {
  const r = await sessionctl([...args, '--json'])
  return {code: r.code, doc: r.stdout ? JSON.parse(r.stdout) : {}, stderr: r.stderr}
}

describe('Redis keys that are not valid UTF-8', function () {
  this.timeout(120_000)

  describe('standalone', () => {
    let redis: Redis
    let prefix: string
    const base = (): string[] => ['--store', testRedisUrl(), '--format', 'express', '--prefix', prefix]

    beforeEach(async () => {
      redis = new Redis(testRedisUrl())
      prefix = `bin:${randomBytes(4).toString('hex')}:`
      // 0xff can never be UTF-8; "\u{FFFD}" is what it decoded to, and here a real key of user 7.
      await redis.set(bytes(prefix, 'k', [0xFF], 'one'), value(42), 'PX', HOUR)
      await redis.set(bytes(prefix, 'k', '\uFFFD', 'one'), value(7), 'PX', HOUR)
      await redis.set(bytes(prefix, 'k', [0xFE], 'one'), value(42), 'PX', HOUR)
      await redis.set(bytes(prefix, 'k', [0xC3], '\\'), value(42), 'PX', HOUR)
    })

    afterEach(async () => {
      const keys = await redis.keysBuffer(`${prefix}*`)
      if (keys.length > 0) await redis.del(...keys)
      redis.disconnect()
    })

    it('lists each key once, by a lossless name', async () => {
      const r = await run(['sessions', 'list', ...base(), '--show-keys'])
      assert.equal(r.code, 0, r.stderr)
      const shown = r.doc.sessions!.map(s => `${s.userId} ${s.id}`).sort()
      assert.deepEqual(shown, ['42 k\\xc3\\\\', String.raw`42 k\xfeone`, String.raw`42 k\xffone`, '7 k\uFFFDone'])
    })

    it('purge --user deletes exactly those bytes; --except by fingerprint keeps one', async () => {
      const kept = fingerprint(String.raw`k\xffone`)
      const r = await run(['sessions', 'purge', ...base(), '--user', '42', '--except', kept, '--yes'])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.doc.deleted, 2)
      const left = (await redis.keysBuffer(`${prefix}*`)).map(k => k.subarray(prefix.length).toString('hex')).sort()
      assert.deepEqual(left, [bytes('', 'k', [0xFF], 'one'), bytes('', 'k', '\uFFFD', 'one')].map(b => b.toString('hex')).sort())
      assert.equal(await redis.get(bytes(prefix, 'k', '\uFFFD', 'one')), value(7))
    })
  })

  describe('Redis Cluster', () => {
    let cluster: Cluster
    let prefix: string
    const keys: Buffer[] = []

    before(async () => {
      cluster = new Cluster(clusterSeeds(testRedisClusterUrl()), {lazyConnect: true})
      await cluster.connect()
    })

    after(() => cluster.disconnect())

    beforeEach(async () => {
      prefix = `binc:${randomBytes(4).toString('hex')}:`
      keys.length = 0
      // Keys whose slot by their bytes differs from the slot of their lossy text, on every node.
      for (let i = 0; i < 30; i++) {
        const key = bytes(prefix, String(i), [0x80 + i, 0xFF])
        keys.push(key)
        await cluster.set(key, value(42), 'PX', HOUR)
      }

      await cluster.set(bytes(prefix, 'other', [0xFF]), value(7), 'PX', HOUR)
    })

    it('list and purge find every such key on every master, and delete only them', async () => {
      const args = ['--store', testRedisClusterUrl(), '--format', 'express', '--prefix', prefix]
      const list = await run(['sessions', 'list', ...args, '--user', '42'])
      assert.equal(list.code, 0, list.stderr)
      assert.equal(list.doc.sessions!.length, 30)
      const purge = await run(['sessions', 'purge', ...args, '--user', '42', '--yes'])
      assert.equal(purge.code, 0, purge.stderr)
      assert.equal(purge.doc.deleted, 30)
      for (const key of keys) assert.equal(await cluster.exists(key), 0)
      assert.equal(await cluster.get(bytes(prefix, 'other', [0xFF])), value(7))
      await cluster.del(bytes(prefix, 'other', [0xFF]))
    })
  })
})
