/**
 * On a real 3-master Redis Cluster, list and purge read every master and never send a
 * multi-key command whose keys span slots: every command the servers receive is recorded with
 * MONITOR and checked.
 */
import calculateSlot from 'cluster-key-slot'
import {Cluster, Redis} from 'ioredis'
import assert from 'node:assert/strict'

import {sessionctl} from '../support/cli.js'
import {encodeSigned} from '../support/django-encode.js'
import {clusterSeeds, testRedisClusterUrl} from '../support/servers.js'

/** The keys of a command, for the multi-key commands this tool could send. */
function commandKeys(args: string[]): string[] {
  const name = args[0].toLowerCase()
  if (name === 'mget' || name === 'del' || name === 'unlink' || name === 'exists') return args.slice(1)
  if (name === 'eval' || name === 'evalsha') return args.slice(3, 3 + Number(args[2]))
  return []
}

function sessionKey(i: number, tag: string): string {
  return `${tag}${String(i).padStart(6, '0')}`.padEnd(32, 'q')
}

describe('Redis Cluster: no cross-slot commands', function () {
  this.timeout(120_000)
  let cluster: Cluster
  let clients: Redis[] = []
  const seen: string[][] = []

  before(async () => {
    cluster = new Cluster(clusterSeeds(testRedisClusterUrl()))
    await new Promise<void>(resolve => {
      cluster.once('ready', () => resolve())
    })
  })

  after(() => {
    cluster.disconnect()
  })

  beforeEach(async () => {
    seen.length = 0
    clients = []
    for (const node of cluster.nodes('master')) {
      const client = new Redis({host: node.options.host, port: node.options.port})
      const monitor = await client.monitor()
      monitor.on('monitor', (_time: string, args: string[]) => seen.push(args))
      clients.push(client, monitor)
    }
  })

  afterEach(() => {
    for (const c of clients) c.disconnect()
  })

  async function seed(prefix: string, users: string[], perUser: number): Promise<void> {
    let i = 0
    for (const user of users) {
      for (let n = 0; n < perUser; n++) {
        await cluster.set(`${prefix}${sessionKey(i++, user === '42' ? 'a' : 'b')}`, encodeSigned({_auth_user_id: user}, {secretKey: 'k'}), 'EX', 3600)
      }
    }
  }

  async function count(prefix: string): Promise<number> {
    let n = 0
    for (const node of cluster.nodes('master')) {
      let cursor = '0'
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
        cursor = next
        n += keys.length
      } while (cursor !== '0')
    }

    return n
  }

  function assertSingleSlot(): number {
    let multiKey = 0
    for (const args of seen) {
      const keys = commandKeys(args)
      if (keys.length > 1) multiKey++
      const slots = new Set(keys.map(k => calculateSlot(k)))
      assert.ok(slots.size <= 1, `cross-slot command: ${args.slice(0, 6).join(' ')}…`)
    }

    return multiKey
  }

  for (const [what, prefix] of [['keys spread over every slot', 'xs:'], ['keys sharing one slot through a hash tag', '{app}:']] as const) {
    it(`purges a user on ${what}`, async () => {
      await seed(prefix, ['42', '7', '420'], 150)
      const url = testRedisClusterUrl()
      const list = await sessionctl(['sessions', 'list', '--store', url, '--format', 'django', '--prefix', prefix, '--user', '42', '--json'])
      assert.equal(JSON.parse(list.stdout).sessions.length, 150, list.stderr)
      const r = await sessionctl(['sessions', 'purge', '--store', url, '--format', 'django', '--prefix', prefix, '--user', '42', '--yes', '--batch-size', '50', '--json'])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(JSON.parse(r.stdout).deleted, 150)
      assert.equal(await count(prefix), 300, 'the other users’ sessions are all there')
      await new Promise(resolve => {
        setTimeout(resolve, 200)
      }) // MONITOR output trails the replies a little
      const scans = seen.filter(a => a[0].toLowerCase() === 'scan')
      assert.ok(scans.length >= 6, 'every master was scanned, twice')
      const evals = seen.filter(a => a[0].toLowerCase() === 'eval')
      assert.ok(evals.length > 0)
      const multiKey = assertSingleSlot()
      if (prefix.startsWith('{')) assert.ok(multiKey > 0, 'same-slot keys are deleted together')
      for (const node of cluster.nodes('master')) {
        const keys = await node.keys(`${prefix}a*`)
        assert.deepEqual(keys, [])
      }
    })
  }
})
