import type pg from 'pg'

/**
 * `sessions doctor` (issue 16, item 4) against real servers and real framework data: Django 3.2
 * writes the MariaDB rows and the Redis cache keys, Spring Session's JDK code the Redis hashes and
 * their principal index. Each warning and failure is made to happen for real (an index dropped, an
 * account without DELETE, a wrong --secret-key, a lock held, keys without TTL, a STATEMENT binary
 * log, a stopped replica), and each is checked through the built binary: its line, --json, exit code.
 */
import {Redis} from 'ioredis'
import mysql from 'mysql2/promise'
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'

import type {Check} from '../../src/stores/contract.js'

import {fingerprint} from '../../src/sessions/keys.js'
import {type CliResult, sessionctl} from '../support/cli.js'
import {
  django, mysqlTarget, postgresTarget, requireDjango,
} from '../support/django-oracle.js'
import {freshDatabase, type MariaDbReplicaPair, startMariaDbReplicaPair} from '../support/mysql.js'
import {createPgDatabase, createPgRole, pgClient} from '../support/postgres.js'
import {
  createMysqlUser, type MariaDbServer, testRedisClusterUrl, testRedisUrl,
} from '../support/servers.js'
import {requireSpring, springRedisWrite} from '../support/spring.js'

const SECRET = 'doctor-secret-key'

interface Doc {
  stores: Array<{checks: Check[]; store: string}>
  summary: {fail: number; ok: number; warn: number}
}

function doc(r: CliResult): Doc {
  try {
    return JSON.parse(r.stdout) as Doc
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout} ${r.stderr}`)
  }
}

function check(d: Doc, id: string, store = 0): Check {
  const found = d.stores[store].checks.find(c => c.id === id)
  assert.ok(found, `no ${id} check in ${JSON.stringify(d.stores[store].checks.map(c => c.id))}`)
  return found
}

/** The printed line of a check. */
function line(r: CliResult, pattern: RegExp): string {
  const found = r.stdout.split('\n').find(l => pattern.test(l))
  assert.ok(found, `no line matching ${pattern} in:\n${r.stdout}\n${r.stderr}`)
  return found
}

function redisTarget(url: string): {db: number; host: string; port: number} {
  const u = new URL(url)
  return {db: Number(u.pathname.slice(1) || 0), host: u.hostname, port: Number(u.port)}
}

describe('sessions doctor on MariaDB, with sessions Django wrote', function () {
  this.timeout(120_000)
  let db: Awaited<ReturnType<typeof freshDatabase>>
  const run = (extra: string[] = [], env?: Record<string, string>): Promise<CliResult> => sessionctl(['sessions', 'doctor', '--store', db.url, ...extra], {env})

  before(async function () {
    requireDjango(this)
    db = await freshDatabase()
    // Django creates django_session itself (its migration: the expiry index django_session_expire_date_a5c62663).
    await django('seed', {
      mysql: mysqlTarget(db.url),
      secretKey: SECRET,
      sessions: [
        {ref: 'a42', user: '42'},
        {data: {cart: [1, 2, 3]}, ref: 'b42', user: '42'},
        {ref: 'c7', user: '7'},
        {expired: true, ref: 'd7', user: '7'},
        {data: {visits: 2}, ref: 'anon', user: null},
      ],
      storeUsers: true,
    })
    // A value Django cannot read either (no signature: not what any Django version writes).
    await db.conn.query("INSERT INTO django_session VALUES ('zzzzbadzlib0000000000000000000000', '.eJzLSM3JyVcozy_KSQEAGgQEXw', UTC_TIMESTAMP(6) + INTERVAL 1 DAY)")
  })

  after(async () => {
    await db?.conn.end()
  })

  it('a healthy Django table: exit 0, one line per check, the user-index line with DDL for this table', async () => {
    const r = await run(['--secret-key', SECRET])
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(line(r, /expiry column/), /^ok {4}expiry column expire_date indexed \(django_session_expire_date_a5c62663\)$/)
    assert.match(line(r, /user index/), /^warn {2}no user index: every purge reads about \d+ rows: add a user_id column kept by your app at login, as django-user-sessions does, then pass --user-column user_id: ALTER TABLE t_\w+\.django_session ADD COLUMN user_id VARCHAR\(150\) NULL, ADD INDEX django_session_user_id \(user_id\)$/)
    assert.match(line(r, /clock:/), /^ok {4}clock: the store is \d\.\d{3} s (ahead of|behind) this host/)
    assert.match(line(r, /DELETE/), /^ok {4}account root@\S+ may DELETE from t_\w+\.django_session$/)
    assert.match(line(r, /cleanup's lock/), /^ok {4}cleanup's lock can be taken \(GET_LOCK "sessionctl-cleanup:t_\w+\.django_session"\)$/)
    // The test server runs with --skip-log-bin.
    assert.match(line(r, /binary log/), /^ok {4}binary log off/)
    assert.match(line(r, /decode/), /^warn {2}1 of 6 values read \(17%\) cannot be decoded \(not a Django session: 1\); zzzz…[\da-f]{8}: never matched/)
    assert.match(line(r, /signature/), /^ok {4}every signature checks with the given --secret-key \(5 sessions\)$/)
    assert.match(line(r, /expiries plausible|expire more than/), /^ok {4}expiries plausible/)
    assert.match(line(r, /still stored/), /^ok {4}1 of 5 sessions \(20%\) are expired and still stored$/)
    assert.match(r.stdout.trim().split('\n').at(-1)!, /^mysql:\/\/root@127\.0\.0\.1:\d+\/t_\w+ \(table t_\w+\.django_session\): 8 ok, 2 warnings, 0 failures$/)
    assert.equal(r.stderr, '')
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(SECRET))
  })

  it('--json: one document with every check, and a summary', async () => {
    const r = await run(['--json'], {DJANGO_SECRET_KEY: SECRET})
    assert.equal(r.code, 0, r.stderr)
    const d = doc(r)
    assert.deepEqual(d.stores[0].checks.map(c => c.id), [
      'expiry-index', 'user-index', 'clock-skew', 'privileges', 'cleanup-lock', 'binlog', 'undecodable', 'signatures', 'expiry-plausible', 'expired-kept',
    ])
    assert.deepEqual(d.summary, {fail: 0, ok: 8, warn: 2})
    assert.equal(check(d, 'expiry-index').figures!.index, 'django_session_expire_date_a5c62663')
    assert.deepEqual(check(d, 'signatures').figures, {badSignature: 0, signed: 5})
    assert.equal(check(d, 'undecodable').figures!.undecodable, 1)
  })

  it('a wrong --secret-key: the signature line fails (exit 1) and says so; the key is never printed', async () => {
    const wrong = 'not-the-apps-secret-key'
    const r = await run(['--secret-key', wrong])
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.match(line(r, /signature/), /^fail {2}5 of 5 signed sessions \(100%\) fail the signature check: a wrong --secret-key\?: pass the app's SECRET_KEY/)
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(wrong))
    const j = doc(await run(['--secret-key', wrong, '--json']))
    assert.equal(check(j, 'signatures').status, 'fail')
    assert.equal(j.summary.fail, 1)
    // Without a key: not checked, and not a warning.
    const none = await run()
    assert.equal(none.code, 0)
    assert.match(line(none, /signature/), /^ok {4}signatures not checked \(no --secret-key\)/)
  })

  it('the expiry index dropped: a warning with the CREATE INDEX for this table (exit 0)', async () => {
    await db.conn.query('DROP INDEX django_session_expire_date_a5c62663 ON django_session')
    try {
      const r = await run()
      assert.equal(r.code, 0, r.stdout + r.stderr)
      assert.match(line(r, /expiry column/), /^warn {2}expiry column expire_date has no index: every cleanup batch and every live\/expired listing scans the table; add one: CREATE INDEX django_session_expire_date ON t_\w+\.django_session \(expire_date\)$/)
    } finally {
      await db.conn.query('CREATE INDEX django_session_expire_date_a5c62663 ON django_session (expire_date)')
    }
  })

  it('a user column: indexed is ok, without an index a warning with its DDL', async () => {
    await db.conn.query('ALTER TABLE django_session ADD COLUMN user_id VARCHAR(150) NULL')
    try {
      const bare = await run(['--user-column', 'user_id'])
      assert.match(line(bare, /user column/), /^warn {2}user column user_id has no index: every purge reads about \d+ rows: add one: CREATE INDEX django_session_user_id ON t_\w+\.django_session \(user_id\)$/)
      await db.conn.query('CREATE INDEX django_session_user_id ON django_session (user_id)')
      const indexed = await run(['--user-column', 'user_id'])
      assert.match(line(indexed, /user column/), /^ok {4}user column user_id indexed \(django_session_user_id\): a purge reads only the user's rows$/)
    } finally {
      await db.conn.query('ALTER TABLE django_session DROP COLUMN user_id')
    }
  })

  it('an account that may only SELECT: the privilege line fails (exit 1) with the GRANT to run; nothing deleted', async () => {
    const password = randomBytes(9).toString('hex')
    const url = await createMysqlUser(db.url, {password, user: 'doctor_ro'})
    await db.conn.query(`REVOKE DELETE ON \`${db.database}\`.* FROM 'doctor_ro'@'%'`)
    const [before] = await db.conn.query('SELECT COUNT(*) AS n FROM django_session')
    const r = await sessionctl(['sessions', 'doctor', '--store', url])
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.match(line(r, /DELETE/), /^fail {2}account doctor_ro@% may not DELETE from t_\w+\.django_session \(DELETE command denied to user 'doctor_ro'@'[^']+' for table [^)]+\): purge and cleanup cannot delete: GRANT SELECT, DELETE ON t_\w+\.django_session TO doctor_ro@%$/)
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(password))
    const [after] = await db.conn.query('SELECT COUNT(*) AS n FROM django_session')
    assert.deepEqual(after, before)
    const j = doc(await sessionctl(['sessions', 'doctor', '--store', url, '--json']))
    assert.deepEqual(check(j, 'privileges').figures, {account: 'doctor_ro@%', delete: false})
  })

  it('cleanup\'s lock held by another connection: a warning naming it', async () => {
    const other = await mysql.createConnection({uri: db.url})
    try {
      const name = `sessionctl-cleanup:${db.database}.django_session`
      await other.query('SELECT GET_LOCK(?, 0)', [name])
      const [[{id}]] = await other.query('SELECT CONNECTION_ID() AS id') as unknown as [[{id: number}]]
      const r = await run()
      assert.equal(r.code, 0)
      assert.equal(line(r, /cleanup's lock/), `warn  cleanup's lock "${name}" is held by connection ${id}: a cleanup is running now (a second one exits 5); if none should be, look at that connection (SHOW PROCESSLIST)`)
    } finally {
      await other.end()
    }
  })

  it('expiries in Tokyo wall time read as UTC (Django USE_TZ=False, TIME_ZONE=Asia/Tokyo): the USE_TZ hint; --time-zone Asia/Tokyo is ok', async () => {
    // What Django with USE_TZ=False writes in Tokyo: the same expiries as local wall time, 9 hours ahead of UTC.
    await db.conn.query('UPDATE django_session SET expire_date = expire_date + INTERVAL 9 HOUR')
    try {
      const r = await run()
      assert.equal(r.code, 0)
      assert.match(line(r, /expire more than/), /^warn {2}4 of 5 sessions expire more than 14d \(--max-age\) from now, the latest \S+ \S+Z \(in 14d\): naive expiry times read in the wrong zone\? Django with USE_TZ=False writes TIME_ZONE's wall time: pass --time-zone TIME_ZONE/)
      const tokyo = await run(['--time-zone', 'Asia/Tokyo'])
      assert.match(line(tokyo, /expiries plausible|expire more than/), /^ok {4}expiries plausible: none more than 14d ahead or 5 years behind \(5 sessions\)$/)
      assert.match(line(await run(['--max-age', String(15 * 86_400)]), /expiries plausible|expire more than/), /^ok {4}expiries plausible/)
    } finally {
      await db.conn.query('UPDATE django_session SET expire_date = expire_date - INTERVAL 9 HOUR')
    }
  })

  it('bad input is a usage error before any I/O', async () => {
    for (const args of [['--max-age', '0'], ['--sample', '0'], ['--sample', '1.5'], ['--replica', 'redis://x:1'], ['--replica', 'mysql://u:pw@h:1?bogus=1'], ['--replica', '']]) {
      const r = await run(args)
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.doesNotMatch(r.stderr, /:pw@/)
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
      assert.match(r.stderr, /^sessionctl: /)
      assert.equal(r.stdout, '')
    }
  })

  it('a MySQL --replica for a Redis store is a usage error before anything connects', async () => {
    const r = await sessionctl(['sessions', 'doctor', '--store', 'redis://127.0.0.1:1', '--replica', 'mysql://u@127.0.0.1:1'])
    assert.equal(r.code, 2, r.stderr)
    assert.equal(r.stderr, 'sessionctl: --replica applies to MySQL/MariaDB or PostgreSQL stores only, one kind per run\n')
  })

  it('--sample reads about that many values and says so', async () => {
    await db.conn.query('INSERT INTO django_session SELECT CONCAT(\'s\', LPAD(seq, 31, \'0\')), \'x\', UTC_TIMESTAMP(6) + INTERVAL 1 DAY FROM seq_1_to_3000')
    try {
      const r = await run(['--sample', '1000'])
      assert.match(line(r, /decode/), /of 1,000 values sampled/)
      assert.match(line(await run(), /decode/), /of 3,006 values read/)
    } finally {
      await db.conn.query("DELETE FROM django_session WHERE session_key LIKE 's%' AND session_data = 'x'")
    }
  })
})

describe('sessions doctor on a MariaDB primary with a STATEMENT binary log and a replica', function () {
  this.timeout(120_000)
  let pair: MariaDbReplicaPair
  let primary: MariaDbServer
  let replica: MariaDbServer
  let replicaConn: mysql.Connection

  before(async () => {
    pair = await startMariaDbReplicaPair('STATEMENT');
    ({primary, replica, replicaConn} = pair)
    // The replica has the table once it has replayed its creation.
    for (let i = 0; i < 50; i++) {
      const [rows] = await replicaConn.query('SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = \'app\'')
      if (Number((rows as Array<{n: number}>)[0].n) > 0) break
      await new Promise(resolve => {
        setTimeout(resolve, 100)
      })
    }
  })

  after(async () => {
    await pair?.stop()
  })

  it('STATEMENT: a warning with what to set; a replica in step is ok', async () => {
    const r = await sessionctl(['sessions', 'doctor', '--store', `${primary.url}/app`, '--replica', replica.url])
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(line(r, /binlog_format/), /^warn {2}binlog_format = STATEMENT: DELETE … LIMIT is unsafe to replicate as a statement, .*SET GLOBAL binlog_format = MIXED$/)
    assert.match(line(r, /^\S+ +replica /), /^ok {4}replica mysql:\/\/root@127\.0\.0\.1:\d+ is 0 s behind$/)
  })

  it('a replica that stopped replicating fails (exit 1); a --replica that is no replica fails; the store itself a replica is a warning', async () => {
    await replicaConn.query('STOP SLAVE')
    try {
      const stopped = await sessionctl(['sessions', 'doctor', '--store', `${primary.url}/app`, '--replica', replica.url, '--json'])
      assert.equal(stopped.code, 1, stopped.stdout + stopped.stderr)
      const c = check(doc(stopped), 'replica-lag')
      assert.equal(c.status, 'fail')
      assert.match(c.summary, /is not replicating$/)
    } finally {
      await replicaConn.query('START SLAVE')
    }

    const notReplica = await sessionctl(['sessions', 'doctor', '--store', `${primary.url}/app`, '--replica', primary.url])
    assert.equal(notReplica.code, 1)
    assert.match(line(notReplica, /^\S+ +replica:/), /^fail {2}replica: .*it is not a replica \(SHOW SLAVE STATUS is empty\)$/)
    const onReplica = await sessionctl(['sessions', 'doctor', '--store', `${replica.url}/app`])
    assert.equal(onReplica.code, 1, 'a read-only server cannot delete')
    assert.match(line(onReplica, /read-only/), /^fail {2}the server is read-only \(@@read_only = 1\): purge and cleanup cannot delete here: point --store at the primary$/)
    assert.match(line(onReplica, /is a replica/), /^warn {2}the store is a replica \(\d+ s behind\)/)
  })
})

describe('sessions doctor on PostgreSQL, with sessions Django wrote', function () {
  this.timeout(120_000)
  let url: string
  let client: pg.Client

  before(async function () {
    requireDjango(this)
    url = await createPgDatabase()
    await django('seed', {
      postgres: postgresTarget(url), secretKey: SECRET, sessions: [{ref: 'a', user: '42'}, {expired: true, ref: 'b', user: '7'}], storeUsers: true,
    })
    client = await pgClient(url)
  })

  after(async () => {
    await client?.end()
  })

  it('a healthy table: the index Django made, the clock, DELETE and the advisory lock are ok (exit 0)', async () => {
    const r = await sessionctl(['sessions', 'doctor', '--store', url, '--secret-key', SECRET])
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(line(r, /expiry column/), /^ok {4}expiry column expire_date indexed \(django_session_expire_date_a5c62663\)$/)
    assert.match(line(r, /user index/), /^warn {2}no user index: .*ALTER TABLE public\.django_session ADD COLUMN user_id varchar\(150\); CREATE INDEX ON public\.django_session \(user_id\)$/)
    assert.match(line(r, /DELETE/), /^ok {4}role postgres may DELETE from public\.django_session$/)
    assert.match(line(r, /advisory lock/), /^ok {4}cleanup's advisory lock can be taken \("sessionctl-cleanup:t_\w+\.public\.django_session"\)$/)
    assert.match(line(r, /signature/), /^ok {4}every signature checks with the given --secret-key \(2 sessions\)$/)
  })

  it('a role with SELECT only fails the privilege line (exit 1); a held advisory lock is a warning', async () => {
    const password = randomBytes(9).toString('hex')
    const ro = await createPgRole(url, {grants: ['GRANT SELECT ON django_session TO doctor_ro'], password, user: 'doctor_ro'})
    const r = await sessionctl(['sessions', 'doctor', '--store', ro])
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.equal(line(r, /DELETE/), 'fail  role doctor_ro may not DELETE from public.django_session: purge and cleanup cannot delete: GRANT SELECT, DELETE ON public.django_session TO doctor_ro')
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(password))
    const database = new URL(url).pathname.slice(1)
    const name = `sessionctl-cleanup:${database}.public.django_session`
    await client.query("SELECT pg_advisory_lock(hashtext('sessionctl'), hashtext($1))", [name])
    try {
      const held = await sessionctl(['sessions', 'doctor', '--store', url, '--json'])
      assert.equal(held.code, 0, held.stderr)
      const c = check(doc(held), 'cleanup-lock')
      assert.equal(c.status, 'warn')
      assert.equal(c.summary, `cleanup's advisory lock "${name}" is held by another session`)
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtext('sessionctl'), hashtext($1))", [name])
    }
  })
})

describe('sessions doctor on Redis', function () {
  this.timeout(120_000)
  let redis: Redis

  before(() => {
    redis = new Redis(testRedisUrl())
  })

  after(async () => {
    await redis?.quit()
  })

  describe('Django cache sessions', () => {
    const cachePrefix = `doctor${randomBytes(4).toString('hex')}`
    const keyPrefix = `${cachePrefix}:1:`
    const args = (): string[] => ['sessions', 'doctor', '--store', testRedisUrl(), '--format', 'django-cache', '--prefix', keyPrefix]
    let persisted: string

    before(async function () {
      requireDjango(this)
      const db = await freshDatabase()
      const common = {
        cachePrefix, cacheVersion: 1, compressor: 'zlib', engine: 'cache', format: 'signed',
      }
      const out = await django<{sessions: Array<{key: string; redisKey: string}>}>('seed', {
        mysql: mysqlTarget(db.url),
        redis: redisTarget(testRedisUrl()),
        secretKey: SECRET,
        sessions: [{...common, ref: 'a', user: '42'}, {...common, ref: 'b', user: '7'}],
        storeUsers: true,
      })
      await db.conn.end()
      // A key that lost its TTL (a PERSIST, a restore without TTL): it would never expire.
      persisted = out.sessions[0].key
      assert.equal(await redis.persist(out.sessions[0].redisKey), 1)
    })

    it('a key without TTL is a warning with its fingerprint; the clock and eviction policy are ok', async () => {
      const r = await sessionctl(args())
      assert.equal(r.code, 0, r.stdout + r.stderr)
      assert.match(line(r, /clock:/), /^ok {4}clock: the store is \d\.\d{3} s/)
      assert.match(line(r, /maxmemory-policy/), /^ok {4}maxmemory-policy noeviction/)
      assert.equal(line(r, /session keys? ha/), `warn  1 of 2 session keys have no TTL (${fingerprint(persisted)}): they never expire by themselves: sessions cleanup --fix-no-ttl deletes the expired ones and gives live ones their TTL back`)
      assert.match(line(r, /decode/), /^ok {4}every value decodes \(2 values read\)$/)
      assert.doesNotMatch(r.stdout, new RegExp(persisted))
      assert.ok((await sessionctl([...args(), '--show-keys'])).stdout.includes(persisted))
    })

    it('maxmemory-policy allkeys-lru: a warning; --json has every check', async () => {
      const [, before] = await redis.config('GET', 'maxmemory-policy') as string[]
      await redis.config('SET', 'maxmemory-policy', 'allkeys-lru')
      try {
        const r = await sessionctl([...args(), '--json'])
        assert.equal(r.code, 0, r.stderr)
        const d = doc(r)
        assert.deepEqual(d.stores[0].checks.map(c => c.id), ['clock-skew', 'eviction', 'undecodable', 'expiry-plausible', 'no-ttl'])
        const eviction = check(d, 'eviction')
        assert.equal(eviction.status, 'warn')
        assert.match(eviction.hint!, /evicts session keys like any other/)
        assert.deepEqual(check(d, 'no-ttl').figures, {noTtl: 1, read: 2})
      } finally {
        await redis.config('SET', 'maxmemory-policy', before)
      }
    })

    it('Redis Cluster: every master answers', async () => {
      const r = await sessionctl(['sessions', 'doctor', '--store', testRedisClusterUrl(), '--format', 'django-cache', '--prefix', keyPrefix])
      assert.equal(r.code, 0, r.stdout + r.stderr)
      assert.match(line(r, /cluster:/), /^ok {4}cluster: 3 masters answer, cluster_state ok$/)
    })
  })

  describe('Spring Session hashes with a principal index', () => {
    it('stale index members are a warning', async function () {
      requireSpring(this)
      const ns = `spdoc${randomBytes(4).toString('hex')}:`
      await springRedisWrite(testRedisUrl(), [{principal: 'alice'}, {principal: 'bob'}], {
        indexed: true, namespace: ns, staleIndexMembers: [{id: 'dead0000-0000-4000-8000-000000000001', principal: 'alice'}, {id: 'dead0000-0000-4000-8000-000000000002', principal: 'alice'}],
      })
      const r = await sessionctl(['sessions', 'doctor', '--store', testRedisUrl(), '--format', 'spring', '--prefix', ns])
      assert.equal(r.code, 0, r.stdout + r.stderr)
      assert.match(line(r, /index sets/), /^warn {2}index sets: 2 stale members name sessions that no longer exist \(in 2 sets\): Spring leaves them/)
      assert.match(line(r, /session keys? ha/), /^ok {4}every session key has a TTL \(2 sessions\)$/)
    })
  })
})
