import {Cluster, Redis} from 'ioredis'
import mysql from 'mysql2/promise'
import {strict as assert} from 'node:assert'
import {type ChildProcessWithoutNullStreams, execFileSync, spawn} from 'node:child_process'
import {
  existsSync, mkdtempSync, readFileSync, rmSync, statSync,
} from 'node:fs'
import net from 'node:net'
import os from 'node:os'
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
  POSTGRES_APT_LINE,
  POSTGRES_PACKAGES,
  postgresQuery,
  type PostgresReplicaPair,
  type PostgresServer,
  type RedisServer,
  startMariaDb,
  startPostgres,
  startPostgresReplicaPair,
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

const PSQL = ['/usr/lib/postgresql/15/bin/psql', '/usr/bin/psql'].find(file => existsSync(file)) ?? 'psql'

/** One long-lived psql session (one backend): queries go down an open connection. */
class PsqlSession {
  private buf = ''
  private readonly child: ChildProcessWithoutNullStreams

  constructor(url: string) {
    this.child = spawn(PSQL, ['-X', '-At', '-q', url])
    this.child.stdout.setEncoding('utf8')
    this.child.stdout.on('data', (chunk: string) => {
      this.buf += chunk
    })
    this.child.on('error', () => {})
  }

  close(): void {
    this.child.kill('SIGKILL')
  }

  /** Resolves with the first output line after `sql`, rejects after `timeoutMs`. */
  async query(sql: string, timeoutMs = 5000): Promise<string> {
    this.buf = ''
    this.child.stdin.write(`${sql};\n`)
    const deadline = Date.now() + timeoutMs
    while (!this.buf.includes('\n')) {
      if (this.child.exitCode !== null) throw new Error(`psql exited (${this.child.exitCode})`)
      if (Date.now() > deadline) throw new Error(`no reply within ${timeoutMs} ms`)
      await new Promise(resolve => {
        setTimeout(resolve, 10)
      })
    }

    return this.buf.slice(0, this.buf.indexOf('\n'))
  }
}

/** Polls `fn` until it returns true (default 10 s). */
async function eventually(what: string, fn: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await fn().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`)
    await new Promise(resolve => {
      setTimeout(resolve, 20)
    })
  }
}

function isLive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !'ZX'.includes(stat.charAt(stat.lastIndexOf(')') + 2))
  } catch {
    return false
  }
}

/** pids of the live (not zombie) children of `pid`: a postmaster's backends and helpers. */
function childPids(pid: number): number[] {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,stat='], {encoding: 'utf8'})
  return out.trim().split('\n').map(line => line.trim().split(/\s+/)).filter(([, ppid, stat]) => Number(ppid) === pid && !stat.startsWith('Z')).map(([p]) => Number(p))
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

  describe('a separately started PostgreSQL', () => {
    let server: PostgresServer

    before(async () => {
      const started = performance.now()
      server = await startPostgres()
      console.log(`      startPostgres(): ${Math.round(performance.now() - started)} ms`)
    })

    after(async () => {
      await server?.stop()
    })

    it('finds the binaries, and names the packages when they are missing', () => {
      assert.deepEqual(missingSystemPackages(POSTGRES_PACKAGES), [])
      const {message} = missingPackagesError(['postgresql'])
      assert.match(message, /postgresql \(initdb, postgres\).*\/usr\/lib\/postgresql\/\*\/bin/)
      assert.match(message, /^ {2}sudo apt-get install -y postgresql$/m)
      assert.ok(missingPackagesError(POSTGRES_PACKAGES).message.includes(POSTGRES_APT_LINE))
      // the default list (global setup, demo, benchmark) does not ask for PostgreSQL
      assert.ok(!APT_LINE.includes('postgresql'))
    })

    it('answers a query with psql over TCP, on a port that is not 5432, as the postgres user', async () => {
      assert.notEqual(server.port, 5432)
      assert.equal(server.url, `postgres://postgres@127.0.0.1:${server.port}/postgres`)
      const out = execFileSync(PSQL, ['-X', '-At', '-h', '127.0.0.1', '-p', String(server.port), '-U', 'postgres', '-c', 'select 1'], {encoding: 'utf8'})
      assert.equal(out.trim(), '1')
      assert.equal(
        await postgresQuery(server.url, "select current_user, pg_encoding_to_char(encoding), datcollate in ('C', 'C.UTF-8') from pg_database where datname = current_database()"),
        'postgres|UTF8|t',
      )
      assert.equal(await postgresQuery(server.url, "select current_setting('data_directory') = $$" + server.dataDir + "$$, current_setting('fsync')"), 't|off')
      assert.ok(existsSync(path.join(server.socketDir, `.s.PGSQL.${server.port}`)))
      // as root, postgres runs as the postgres user; the pid we hold is the postmaster's itself (setpriv execs)
      assert.equal(readFileSync(`/proc/${server.pid}/comm`, 'utf8').trim(), 'postgres')
      const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))?.[1])
      assert.equal(uid, process.getuid?.() === 0 ? statSync(server.dataDir).uid : process.getuid?.())
      if (process.getuid?.() === 0) assert.notEqual(uid, 0)
      await assert.rejects(postgresQuery(server.url, 'select * from no_such_table'), /relation "no_such_table" does not exist/)
    })

    it('keeps its data through a SIGKILL and a restart on the same port', async () => {
      await postgresQuery(server.url, "create table t (id int primary key, v text); insert into t values (1, 'before crash')")
      const {pid, port} = server
      const children = childPids(pid)
      assert.ok(children.length >= 4, `the postmaster's children: ${children.join(' ')}`) // checkpointer, WAL writer...

      await server.kill('SIGKILL')
      assert.equal(server.pid, -1)
      assert.throws(() => process.kill(pid, 0), /ESRCH/)
      assert.deepEqual(children.filter(child => isLive(child)), [], 'no child outlives the postmaster')
      await assert.rejects(postgresQuery(server.url, 'select 1'), /Connection refused/)

      const started = performance.now()
      await server.restart()
      console.log(`      restart() after SIGKILL: ${Math.round(performance.now() - started)} ms`)
      assert.equal(server.port, port)
      assert.notEqual(server.pid, pid)
      assert.equal(await postgresQuery(server.url, 'select v from t'), 'before crash')
    })

    it('pause() makes queries time out (an open connection too), resume() brings it back', async () => {
      const session = new PsqlSession(server.url)
      try {
        assert.equal(await session.query('select 1'), '1')
        server.pause()
        try {
          await assert.rejects(postgresQuery(server.url, 'select 2', 500), /no reply within 500 ms/)
          await assert.rejects(session.query('select 3', 300), /no reply within 300 ms/)
        } finally {
          server.resume()
        }

        assert.equal(await session.query('select 4'), '3') // the queued query, answered now
        assert.equal(await postgresQuery(server.url, 'select 5'), '5')
      } finally {
        session.close()
      }
    })

    it('a bad setting fails fast, quoting the server log', async () => {
      const started = performance.now()
      await assert.rejects(startPostgres({extraArgs: ['-c', 'no_such_setting=1']}), /tail of .*postgres\.log[\s\S]*unrecognized configuration parameter "no_such_setting"/)
      assert.ok(performance.now() - started < 5000)
    })

    it('two servers run at once on different ports, each with its own data', async () => {
      const other = await startPostgres()
      try {
        assert.notEqual(other.port, server.port)
        assert.notEqual(other.dataDir, server.dataDir)
        await postgresQuery(other.url, 'create table only_here (x int)')
        assert.equal(await postgresQuery(other.url, "select to_regclass('only_here') is not null"), 't')
        assert.equal(await postgresQuery(server.url, "select to_regclass('only_here') is not null"), 'f')
      } finally {
        await other.stop()
      }
    })

    it('stop() removes the temp dir and can be called twice', async () => {
      const home = path.dirname(server.dataDir)
      const children = childPids(server.pid)
      assert.ok(existsSync(home))
      await server.stop()
      assert.ok(!existsSync(home))
      assert.deepEqual(children.filter(child => isLive(child)), [])
      await server.stop()
      await assert.rejects(server.restart(), /cannot restart/)
    })
  })

  it('the watchdog kills a running and a paused PostgreSQL, children too, when the test process is SIGKILLed', async function () {
    this.timeout(30_000)
    const servers = path.resolve('test/support/servers.ts')
    const code = [
      `import {startPostgres} from ${JSON.stringify(servers)}`,
      'const [a, b] = await Promise.all([startPostgres(), startPostgres()])',
      'b.pause()',
      'console.log(JSON.stringify({pids: [a.pid, b.pid], homes: [a.socketDir, b.socketDir]}))',
      'setInterval(() => {}, 1000)',
    ].join('\n')
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {stdio: ['ignore', 'pipe', 'inherit']})
    let out = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      out += chunk
    })
    let homes: string[]
    let family: number[]
    try {
      await eventually('the child started two servers', async () => out.includes('\n'), 20_000)
      const started = JSON.parse(out) as {homes: string[]; pids: number[]}
      homes = started.homes
      family = started.pids.flatMap(pid => [pid, ...childPids(pid)])
    } finally {
      child.kill('SIGKILL')
    }

    assert.ok(family.length >= 8, `postmasters and children: ${family.join(' ')}`)
    assert.ok(homes.every(home => existsSync(home)))
    await eventually('every postgres process gone and both dirs removed', async () => !family.some(pid => isLive(pid)) && !homes.some(home => existsSync(home)))
  })

  it('startPostgres({keepIn}) keeps the data across servers and stop() keeps the dir', async () => {
    const keepIn = mkdtempSync(path.join(os.tmpdir(), 'sessionctl-test-pg-keep-'))
    try {
      const first = await startPostgres({keepIn})
      await postgresQuery(first.url, "create table kept (v text); insert into kept values ('seeded')")
      await first.stop()
      assert.ok(existsSync(path.join(keepIn, 'data', 'PG_VERSION')))

      const second = await startPostgres({extraArgs: ['-c', 'max_connections=20'], keepIn})
      try {
        assert.equal(await postgresQuery(second.url, "select v, current_setting('max_connections') from kept"), 'seeded|20')
      } finally {
        await second.stop()
      }
    } finally {
      rmSync(keepIn, {force: true, recursive: true})
    }
  })

  describe('a PostgreSQL streaming replica pair', () => {
    let pair: PostgresReplicaPair

    before(async () => {
      const started = performance.now()
      pair = await startPostgresReplicaPair()
      console.log(`      startPostgresReplicaPair(): ${Math.round(performance.now() - started)} ms`)
    })

    after(async () => {
      await pair?.stop()
    })

    it('replicates a table to a hot standby that reports replay progress', async () => {
      const {primary, replica} = pair
      assert.notEqual(primary.port, replica.port)
      assert.equal(replica.replicaOf, primary)
      assert.equal(await postgresQuery(primary.url, 'select pg_is_in_recovery()'), 'f')
      assert.equal(await postgresQuery(replica.url, 'select pg_is_in_recovery()'), 't')
      assert.equal(await postgresQuery(primary.url, 'select state from pg_stat_replication'), 'streaming')

      await postgresQuery(primary.url, "create table r (id int primary key, v text); insert into r select g, 'row ' || g from generate_series(1, 100) g")
      const started = performance.now()
      await eventually('the rows on the replica', async () => {
        const tables = await postgresQuery(replica.url, "select count(*) from pg_class where relname = 'r'")
        return tables === '1' && (await postgresQuery(replica.url, 'select count(*) from r')) === '100'
      })
      console.log(`      replicated in ${Math.round(performance.now() - started)} ms`)
      assert.equal(await postgresQuery(replica.url, 'select v from r where id = 42'), 'row 42')
      assert.equal(await postgresQuery(replica.url, 'select pg_last_xact_replay_timestamp() is not null'), 't')
      await assert.rejects(postgresQuery(replica.url, 'insert into r values (101, \'no\')'), /read-only transaction/)
    })

    it('the replica catches up after its primary restarts', async () => {
      const {primary, replica} = pair
      await primary.restart()
      await postgresQuery(primary.url, "insert into r values (1000, 'after restart')")
      await eventually('the new row on the replica', async () => (await postgresQuery(replica.url, 'select v from r where id = 1000')) === 'after restart', 20_000)
    })
  })

  after(() => {
    console.log('  startup timings in this process (global servers first, started in parallel):')
    for (const {kind, ms} of startupTimings) console.log(`    ${kind}: ${ms} ms`)
  })
})
