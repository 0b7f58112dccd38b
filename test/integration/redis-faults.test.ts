/**
 * Redis going away and Redis reached the wrong way: a server killed in the middle of a purge,
 * authentication and connection errors, and Sentinel.
 */
import {Redis} from 'ioredis'
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {sessionctl} from '../support/cli.js'
import {encodeSigned} from '../support/django-encode.js'
import {freePort, type RedisServer, startRedis} from '../support/servers.js'

const PASSWORD = 'r3dis-Pa55word'

function key(i: number, user: string): string {
  return `${user === '42' ? 'a' : 'b'}${String(i).padStart(8, '0')}`.padEnd(32, 'z')
}

async function seed(client: Redis, users: Record<string, number>): Promise<void> {
  let i = 0
  for (const [user, n] of Object.entries(users)) {
    const value = encodeSigned({_auth_user_id: user}, {secretKey: 'k'})
    for (let done = 0; done < n; done += 1000) {
      const pipeline = client.pipeline()
      for (let j = done; j < Math.min(n, done + 1000); j++) pipeline.set(`session:${key(i++, user)}`, value, 'EX', 3600)
      await pipeline.exec()
    }
  }
}

describe('Redis faults', function () {
  this.timeout(120_000)

  describe('a server killed in the middle of a purge', () => {
    let server: RedisServer
    let client: Redis

    before(async () => {
      // Persist every write, so what was deleted before the crash stays deleted.
      server = await startRedis({extraArgs: ['--appendonly', 'yes', '--appendfsync', 'always']})
      client = new Redis(server.url)
      await seed(client, {42: 20_000, 7: 1000})
    })

    after(async () => {
      client.disconnect()
      await server.stop()
    })

    it('ends with a clear error and the count deleted before it; a rerun finishes the job', async () => {
      const args = ['sessions', 'purge', '--store', server.url, '--format', 'django', '--prefix', 'session:', '--user', '42', '--yes', '--batch-size', '20']
      let killed = false
      const watcher = new Redis(server.url)
      watcher.on('error', () => {})
      const run = sessionctl(args)
      // Kill the server once the purge is visibly under way (the delete phase).
      while (!killed) {
        const size = await watcher.dbsize().catch(() => 21_000)
        if (size < 21_000 - 500) {
          await server.kill('SIGKILL')
          killed = true
        } else {
          await new Promise(resolve => {
            setTimeout(resolve, 5)
          })
        }
      }

      watcher.disconnect()
      const r = await run
      assert.equal(r.code, 4, r.stderr)
      const message = r.stderr.trim().split('\n').at(-1)!
      assert.match(message, /^sessionctl: lost the connection to redis:\/\/127\.0\.0\.1:\d+ \(prefix "session:"\); ([\d,]+) of 20,000 sessions were deleted before the failure, the rest are intact: rerun to finish$/)
      const reported = Number(/([\d,]+) of 20,000/.exec(message)![1].replaceAll(',', ''))
      assert.ok(reported >= 500, r.stderr)

      await server.restart()
      client.disconnect()
      client = new Redis(server.url)
      const left = (await client.keys('session:a*')).length
      // A batch the server ran but could not acknowledge may be counted short, never long.
      assert.ok(20_000 - left >= reported && 20_000 - left <= reported + 20, `left ${left}, reported ${reported}`)
      const again = await sessionctl(args)
      assert.equal(again.code, 0, again.stderr)
      assert.match(again.stdout, new RegExp(`Deleted ${left.toLocaleString('en-US')} sessions of user 42\\.`))
      assert.equal((await client.keys('session:a*')).length, 0)
      assert.equal((await client.keys('session:b*')).length, 1000, 'other users untouched')
    })
  })

  describe('connection problems give one line, no password, in under 5 s', () => {
    let server: RedisServer

    before(async () => {
      server = await startRedis()
      const admin = new Redis(server.url)
      await admin.config('SET', 'requirepass', PASSWORD)
      admin.disconnect()
    })

    after(async () => {
      await server.stop()
    })

    const check = (r: {code: null | number; ms: number; stderr: string; stdout: string}, pattern: RegExp): void => {
      assert.equal(r.code, 1, r.stderr)
      assert.equal(r.stdout, '')
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
      assert.match(r.stderr, pattern)
      assert.ok(!r.stderr.includes(PASSWORD))
      assert.ok(r.ms < 5000, `${r.ms} ms`)
    }

    it('works with the password in the URL, or in REDIS_PASSWORD', async () => {
      const url = server.url.replace('redis://', `redis://:${PASSWORD}@`)
      const inUrl = await sessionctl(['sessions', 'list', '--store', url, '--user', '42'])
      assert.equal(inUrl.code, 0, inUrl.stderr)
      assert.ok(!inUrl.stdout.includes(PASSWORD))
      const fromEnv = await sessionctl(['sessions', 'list', '--store', server.url, '--user', '42'], {env: {REDIS_PASSWORD: PASSWORD}})
      assert.equal(fromEnv.code, 0, fromEnv.stderr)
    })

    it('a wrong password', async () => {
      const url = server.url.replace('redis://', `redis://:${PASSWORD}x@`)
      check(await sessionctl(['sessions', 'list', '--store', url, '--user', '42']), /authentication failed on 127\.0\.0\.1:\d+: check the user and password/)
    })

    it('no password for a server that wants one', async () => {
      check(await sessionctl(['sessions', 'list', '--store', server.url, '--user', '42']), /authentication failed/)
    })

    it('nothing listening', async () => {
      const port = await freePort()
      check(await sessionctl(['sessions', 'list', '--store', `redis://127.0.0.1:${port}/0`, '--user', '42']), /cannot connect to 127\.0\.0\.1:\d+: connection refused/)
    })

    it('a paused server times out instead of hanging', async () => {
      server.pause()
      try {
        check(await sessionctl(['sessions', 'list', '--store', server.url, '--user', '42', '--connect-timeout', '2']), /timed out|stopped answering/)
      } finally {
        server.resume()
      }
    })

    for (const [what, url] of [
      ['a database that is not a number', 'redis://127.0.0.1:6390/x'],
      ['several hosts without cluster or sentinel', 'redis://a:1,b:2/0'],
      ['a sentinel URL without the master name', 'redis+sentinel://127.0.0.1:26379'],
    ] as const) {
      it(`${what} is a usage error`, async () => {
        const r = await sessionctl(['sessions', 'list', '--store', url, '--user', '42'])
        assert.equal(r.code, 2, r.stderr)
        assert.equal(r.stderr.trim().split('\n').length, 1)
      })
    }
  })

  describe('Sentinel', () => {
    let master: RedisServer
    let sentinel: ReturnType<typeof spawn> | undefined
    let dir: string
    let port: number

    before(async () => {
      master = await startRedis()
      dir = mkdtempSync(join(tmpdir(), 'sessionctl-sentinel-'))
      port = await freePort()
      const conf = join(dir, 'sentinel.conf')
      writeFileSync(conf, `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor mymaster 127.0.0.1 ${master.port} 1\n`)
      sentinel = spawn('redis-server', [conf, '--sentinel'], {stdio: 'ignore'})
      const probe = new Redis({lazyConnect: true, port, retryStrategy: () => 50})
      probe.on('error', () => {})
      for (let i = 0; i < 100; i++) {
        const reply = await probe.call('SENTINEL', 'get-master-addr-by-name', 'mymaster').catch(() => null)
        if (reply) break
        await new Promise(resolve => {
          setTimeout(resolve, 50)
        })
      }

      probe.disconnect()
      const client = new Redis(master.url)
      await seed(client, {42: 3, 7: 2})
      client.disconnect()
    })

    after(async () => {
      sentinel?.kill('SIGKILL')
      await master.stop()
      rmSync(dir, {force: true, recursive: true})
    })

    it('finds the master through the sentinels and purges there', async () => {
      const url = `redis+sentinel://127.0.0.1:${port}/mymaster/0`
      const list = await sessionctl(['sessions', 'list', '--store', url, '--format', 'django', '--prefix', 'session:', '--user', '42', '--json'])
      assert.equal(list.code, 0, list.stderr)
      assert.equal(JSON.parse(list.stdout).sessions.length, 3)
      const purge = await sessionctl(['sessions', 'purge', '--store', url, '--format', 'django', '--prefix', 'session:', '--user', '42', '--yes'])
      assert.equal(purge.code, 0, purge.stderr)
      const client = new Redis(master.url)
      assert.equal((await client.keys('session:*')).length, 2)
      client.disconnect()
    })
  })
})
