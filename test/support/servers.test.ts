import {Cluster, Redis} from 'ioredis'
import mysql from 'mysql2/promise'
import {strict as assert} from 'node:assert'
import {existsSync} from 'node:fs'
import net from 'node:net'
import path from 'node:path'

import {
  APT_LINE,
  clusterSeeds,
  createDatabase,
  createMysqlUser,
  ENV_MYSQL_URL,
  freePort,
  type MariaDbServer,
  missingPackagesError,
  missingSystemPackages,
  type RedisServer,
  startMariaDb,
  startRedis,
  startupTimings,
  testMysqlUrl,
  testRedisClusterUrl,
  testRedisUrl,
} from './servers.js'

const redisOptions = {
  connectTimeout: 2000,
  enableOfflineQueue: false,
  lazyConnect: true,
  maxRetriesPerRequest: 1,
  retryStrategy: () => null,
}

async function withRedis<T>(url: string, fn: (redis: Redis) => Promise<T>, extra: {commandTimeout?: number} = {}): Promise<T> {
  const redis = new Redis(url, {...redisOptions, ...extra})
  redis.on('error', () => {})
  try {
    await redis.connect()
    return await fn(redis)
  } finally {
    redis.disconnect()
  }
}

async function query(url: string, sql: string, params: unknown[] = []): Promise<unknown[]> {
  const conn = await mysql.createConnection({connectTimeout: 3000, uri: url})
  try {
    const [rows] = await conn.query(sql, params)
    return rows as unknown[]
  } finally {
    conn.destroy()
  }
}

describe('test servers (test/support/servers.ts)', () => {
  it('finds the system binaries, and names the packages when they are missing', () => {
    assert.deepEqual(missingSystemPackages(), [])
    const {message} = missingPackagesError(['mariadb-server'])
    assert.match(message, /mariadb-server \(mariadbd, mariadb-install-db\)/)
    assert.ok(message.includes(APT_LINE))
  })

  it('freePort() gives a bindable port outside the defaults and the ephemeral range', async () => {
    const port = await freePort()
    assert.ok(![3306, 6379].includes(port))
    const server = net.createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', resolve)
    })
    await new Promise(resolve => {
      server.close(resolve)
    })
  })

  it('the test*Url() helpers explain an unset variable', () => {
    const saved = process.env[ENV_MYSQL_URL]
    delete process.env[ENV_MYSQL_URL]
    try {
      assert.throws(() => testMysqlUrl(), /SESSIONCTL_TEST_MYSQL_URL is not set.*global-setup/s)
    } finally {
      process.env[ENV_MYSQL_URL] = saved
    }
  })

  describe('global servers (from global-setup.ts)', () => {
    it('MariaDB answers SELECT 1', async () => {
      assert.match(testMysqlUrl(), /^mysql:\/\//)
      assert.deepEqual(await query(testMysqlUrl(), 'SELECT 1 AS one'), [{one: 1}])
    })

    it('createDatabase() and createMysqlUser() give isolated URLs with real authentication', async () => {
      const dbUrl = await createDatabase(testMysqlUrl())
      const database = new URL(dbUrl).pathname.slice(1)
      assert.match(database, /^t_[0-9a-f]{12}$/)
      const userUrl = await createMysqlUser(dbUrl, {database, password: 's3cret/:@pw', user: `u_${database.slice(2, 10)}`})
      await query(userUrl, 'CREATE TABLE t (id INT PRIMARY KEY)')
      assert.deepEqual(await query(userUrl, 'SELECT DATABASE() AS db'), [{db: database}])

      const wrong = new URL(userUrl)
      wrong.password = 'wrong'
      await assert.rejects(query(wrong.toString(), 'SELECT 1'), (error: {code?: string}) => error.code === 'ER_ACCESS_DENIED_ERROR')
      await query(testMysqlUrl(), `DROP DATABASE \`${database}\``)
    })

    it('Redis answers PING', async () => {
      assert.equal(await withRedis(testRedisUrl(), redis => redis.ping()), 'PONG')
    })

    it('the Redis Cluster stores keys on every master (ioredis Cluster)', async () => {
      const cluster = new Cluster(clusterSeeds(testRedisClusterUrl()), {
        clusterRetryStrategy: () => null,
        enableOfflineQueue: false,
        lazyConnect: true,
        redisOptions: {connectTimeout: 2000, maxRetriesPerRequest: 1},
      })
      cluster.on('error', () => {})
      try {
        await cluster.connect()
        const prefix = `servers-test:${Date.now()}:`
        const keys = Array.from({length: 30}, (_, i) => `${prefix}${i}`)
        await Promise.all(keys.map(key => cluster.set(key, key, 'EX', 60)))
        assert.deepEqual(await Promise.all(keys.map(key => cluster.get(key))), keys)
        const masters = cluster.nodes('master')
        assert.equal(masters.length, 3)
        const counts = await Promise.all(masters.map(node => node.dbsize()))
        assert.ok(counts.every(n => n > 0), `keys per master: ${counts.join(', ')}`)
        await Promise.all(keys.map(key => cluster.del(key)))
      } finally {
        cluster.disconnect()
      }
    })
  })

  describe('a separately started MariaDB', () => {
    let server: MariaDbServer

    before(async () => {
      const started = performance.now()
      server = await startMariaDb({bufferPoolSize: '64M'})
      console.log(`      startMariaDb(): ${Math.round(performance.now() - started)} ms`)
    })

    after(async () => {
      await server?.stop()
    })

    it('keeps its data through a SIGKILL and a restart on the same port', async () => {
      const dbUrl = await createDatabase(server.url)
      await query(dbUrl, 'CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB')
      await query(dbUrl, "INSERT INTO t VALUES (1, 'before crash')")
      const {pid, port} = server

      await server.kill('SIGKILL')
      assert.equal(server.pid, -1)
      assert.throws(() => process.kill(pid, 0), /ESRCH/)
      await assert.rejects(query(server.url, 'SELECT 1'), (error: {code?: string}) => error.code === 'ECONNREFUSED')

      const started = performance.now()
      await server.restart()
      console.log(`      restart() after SIGKILL: ${Math.round(performance.now() - started)} ms`)
      assert.equal(server.port, port)
      assert.notEqual(server.pid, pid)
      assert.deepEqual(await query(dbUrl, 'SELECT v FROM t'), [{v: 'before crash'}])
    })

    it('pause() makes queries time out, resume() brings it back', async () => {
      const conn = await mysql.createConnection({uri: server.url})
      server.pause()
      try {
        await assert.rejects(conn.query({sql: 'SELECT 1', timeout: 300}), /timeout/i)
      } finally {
        server.resume()
        conn.destroy()
      }

      assert.deepEqual(await query(server.url, 'SELECT 2 AS two'), [{two: 2}])
    })

    it('a bad option fails fast, quoting the error log', async () => {
      const started = performance.now()
      await assert.rejects(startMariaDb({extraArgs: ['--no-such-option=1']}), /tail of .*error\.log[\s\S]*unknown (option|variable)/)
      assert.ok(performance.now() - started < 5000)
    })

    it('stop() removes the temp dir and can be called twice', async () => {
      const home = path.dirname(server.dataDir)
      assert.ok(existsSync(home))
      await server.stop()
      assert.ok(!existsSync(home))
      await server.stop()
      await assert.rejects(server.restart(), /cannot restart/)
    })
  })

  describe('a separately started Redis', () => {
    let server: RedisServer

    before(async () => {
      const started = performance.now()
      server = await startRedis()
      console.log(`      startRedis(): ${Math.round(performance.now() - started)} ms`)
    })

    after(async () => {
      await server?.stop()
    })

    it('pauses, resumes, dies and restarts on the same port', async () => {
      await withRedis(
        server.url,
        async redis => {
          assert.equal(await redis.ping(), 'PONG')
          server.pause()
          try {
            await assert.rejects(redis.ping(), /timed out/i)
          } finally {
            server.resume()
          }
        },
        {commandTimeout: 300},
      )

      assert.equal(await withRedis(server.url, redis => redis.set('k', 'v')), 'OK')
      await server.kill()
      await assert.rejects(withRedis(server.url, redis => redis.ping()), /ECONNREFUSED|Connection is closed/)
      await server.restart()
      // --save "" --appendonly no: a restarted Redis is empty
      assert.equal(await withRedis(server.url, redis => redis.get('k')), null)
    })

    it('stop() removes its dir', async () => {
      assert.ok(existsSync(server.dir))
      await server.stop()
      assert.ok(!existsSync(server.dir))
    })
  })

  after(() => {
    console.log('  startup timings in this process (global servers first, started in parallel):')
    for (const {kind, ms} of startupTimings) console.log(`    ${kind}: ${ms} ms`)
  })
})
