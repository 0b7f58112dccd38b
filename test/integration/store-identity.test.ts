/**
 * A store is exactly the one named, or the run stops before reading. Every URL shape an unset
 * variable, a typo or an unencoded password produces is refused with one line (exit 2; exit 1
 * where only the server can tell, e.g. a Redis database it does not have), never prints a
 * password, and leaves the servers byte-for-byte as they were, for purge and for cleanup.
 */
import type mysql from 'mysql2/promise'

import {Redis} from 'ioredis'
import assert from 'node:assert/strict'
import {createHash, randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {type CliResult, sessionctl} from '../support/cli.js'
import {encodeSigned} from '../support/django-encode.js'
import {djangoSessionDdl, freshDatabase, seededKey} from '../support/mysql.js'
import {testRedisUrl} from '../support/servers.js'

const PASSWORD = 'Hunter2-identity-pw'
const HOUR = 3_600_000

function assertRefused(r: CliResult, code: number, shape: string): void {
  const what = `${JSON.stringify(shape)}: exit ${r.code}, stderr ${JSON.stringify(r.stderr)}`
  assert.equal(r.code, code, what)
  assert.equal(r.stdout, '', what)
  const lines = r.stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, what)
  assert.match(lines[0], /^sessionctl: /, what)
  assert.ok(!r.stderr.includes(PASSWORD) && !r.stderr.includes(encodeURIComponent(PASSWORD)), `${what}: the password is never printed`)
  assert.doesNotMatch(r.stderr, /URI malformed|unexpected error/, what)
}

describe('store identity: the store named or nothing (built binary)', function () {
  this.timeout(180_000)
  let dir: string
  let audit: string

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sessionctl-identity-'))
    audit = path.join(dir, 'audit.log')
    writeFileSync(path.join(dir, 'not-a-ca.pem'), 'just text\n')
  })

  after(() => {
    rmSync(dir, {force: true, recursive: true})
  })

  describe('Redis', () => {
    let redis: Redis
    let base: string
    let hostPort: string
    const prefix = `ident:${randomBytes(4).toString('hex')}:`

    /** Every key under the prefix in every database, with its exact value and TTL state. */
    async function snapshot(): Promise<string> {
      const out: string[] = []
      for (let db = 0; db < 16; db++) {
        await redis.select(db)
        const keys = (await redis.keys(`${prefix}*`)).sort()
        for (const key of keys) out.push(`${db} ${key} ${(await redis.getBuffer(key))!.toString('hex')} ${(await redis.pttl(key)) > 0}`)
      }

      await redis.select(0)
      return createHash('sha256').update(out.join('\n')).digest('hex') + ` (${out.length} keys)`
    }

    before(async () => {
      base = testRedisUrl().replace(/\/$/, '')
      hostPort = base.replace(/^redis:\/\//, '')
      redis = new Redis(base)
      // User 42's sessions in database 0, without TTL and expired (cleanup --fix-no-ttl would
      // delete them), plus a live one with a TTL.
      const cookie = (ms: number): object => ({expires: new Date(Date.now() + ms).toISOString(), originalMaxAge: ms, path: '/'})
      for (let i = 0; i < 3; i++) await redis.set(`${prefix}old${i}`, JSON.stringify({cookie: cookie(-HOUR), passport: {user: 42}}))
      await redis.set(`${prefix}live`, JSON.stringify({cookie: cookie(HOUR), passport: {user: 42}}), 'PX', HOUR)
    })

    after(async () => {
      await redis.select(0)
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length > 0) await redis.del(...keys)
      redis.disconnect()
    })

    it('works with the right URL (the baseline: the cases below would find 4 sessions)', async () => {
      const r = await sessionctl(['sessions', 'list', '--store', `${base}/0`, '--format', 'express', '--prefix', prefix, '--user', '42', '--all', '--json'])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(JSON.parse(r.stdout).sessions.length, 4)
    })

    // Each shape is refused by purge; cleanup --fix-no-ttl (the other deleting command) is run
    // too for the database ones and a sample of the others: they share the parser.
    const shapes: Array<[string, number, (b: string, hp: string) => string]> = [
      ['a database the server does not have', 1, b => `${b}/99`],
      ['database 16 on a 16-database server', 1, b => `${b}/16`],
      ['a leading zero', 2, b => `${b}/01`],
      ['a negative database', 2, b => `${b}/-1`],
      ['a database with letters', 2, b => `${b}/1x`],
      ['two path segments', 2, b => `${b}/1/2`],
      ['a percent-encoded database', 2, b => `${b}/%31`],
      ['a "/" and no database', 2, b => `${b}/`],
      ['no host', 2, () => 'redis:///0'],
      ['no host, a port', 2, hp => `redis://:${hp.split(':')[1]}/0`],
      ['port 0', 2, () => 'redis://127.0.0.1:0/0'],
      ['a ":" and no port', 2, () => 'redis://127.0.0.1:/0'],
      ['a port beyond 65535', 2, () => 'redis://127.0.0.1:65536/0'],
      ['a cluster database other than 0', 2, (_b, hp) => `redis+cluster://${hp}/3`],
      ['an empty cluster node', 2, (_b, hp) => `redis+cluster://${hp},,${hp}`],
      ['an empty cluster host list', 2, () => 'redis+cluster:///'],
      ['sentinel without master name', 2, (_b, hp) => `redis+sentinel://${hp}`],
      ['sentinel with a bad database', 2, (_b, hp) => `redis+sentinel://${hp}/mymaster/01`],
      ['several hosts on redis://', 2, (_b, hp) => `redis://${hp},${hp}/0`],
      ['a bad %-escape in the password', 2, (_b, hp) => `redis://:${PASSWORD}%ZZ@${hp}/0`],
      ['a bad %-escape in the user', 2, (_b, hp) => `redis://us%G1:${PASSWORD}@${hp}/0`],
      ['%-escapes that are not UTF-8', 2, (_b, hp) => `redis://:${PASSWORD}%C3%28@${hp}/0`],
      ['an unencoded "@" in the password', 2, (_b, hp) => `redis://:${PASSWORD}@x@${hp}/0`],
      ['an empty password after ":"', 2, (_b, hp) => `redis://user:@${hp}/0`],
      ['nothing before "@"', 2, (_b, hp) => `redis://@${hp}/0`],
      ['an unknown option', 2, b => `${b}/0?db=3`],
      ['a TLS option on redis://', 2, b => `${b}/0?tls-insecure`],
      ['an unreadable tls-ca', 2, (_b, hp) => `rediss://${hp}/0?tls-ca=/nonexistent/ca.pem`],
      ['tls-insecure=false', 2, (_b, hp) => `rediss://${hp}/0?tls-insecure=false`],
      ['an empty option value', 2, (_b, hp) => `rediss://${hp}/0?tls-ca=`],
      ['a fragment', 2, b => `${b}/0#3`],
      ['a trailing newline', 2, b => `${b}/0\n`],
      ['an unbracketed IPv6 address', 2, (_b, hp) => `redis://::1:${hp.split(':')[1]}/0`],
      ['an unclosed IPv6 bracket', 2, () => 'redis://[::1/0'],
    ]

    for (const [name, code, make] of shapes) {
      it(`refuses ${name}, touching nothing (purge and cleanup --fix-no-ttl)`, async () => {
        const url = make(base, hostPort)
        const before = await snapshot()
        const purge = await sessionctl(['sessions', 'purge', '--store', url, '--format', 'express', '--prefix', prefix, '--user', '42', '--yes', '--audit-log', audit])
        assertRefused(purge, code, url)
        if (code === 1 || /database|host|password/.test(name)) {
          const cleanup = await sessionctl(['sessions', 'cleanup', '--store', url, '--format', 'express', '--prefix', prefix, '--fix-no-ttl', '--audit-log', audit])
          assertRefused(cleanup, code, url)
        }

        assert.equal(await snapshot(), before)
      })
    }

    it("a password the server does not need is one sessionctl warning, not ioredis's own line", async () => {
      const url = `redis://:${PASSWORD}@${hostPort}/0`
      const r = await sessionctl(['sessions', 'list', '--store', url, '--format', 'express', '--prefix', prefix, '--user', '42', '--all'])
      assert.equal(r.code, 0, r.stderr)
      assert.doesNotMatch(r.stderr, /\[WARN]/)
      // Beside the table's summary line (on stderr too), one warning.
      const lines = r.stderr.trimEnd().split('\n').filter(l => !/^4 sessions of user 42 \(scanned 4 in/.test(l))
      assert.equal(lines.length, 1, r.stderr)
      assert.match(lines[0], /^sessionctl: warning: .*accepts connections without a password/)
      assert.ok(!r.stderr.includes(PASSWORD))
    })

    it('a database the server has is used, and only it', async () => {
      const before = await snapshot()
      const r = await sessionctl(['sessions', 'purge', '--store', `${base}/15`, '--format', 'express', '--prefix', prefix, '--user', '42', '--yes', '--json', '--audit-log', audit])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(JSON.parse(r.stdout).deleted, 0)
      assert.equal(await snapshot(), before)
    })
  })

  describe('MySQL', () => {
    let db: {conn: mysql.Connection; database: string; url: string}
    let hostPort: string
    let port: string

    async function snapshot(): Promise<string> {
      const [rows] = await db.conn.query(`SELECT session_key, HEX(session_data) AS d, expire_date FROM \`${db.database}\`.django_session ORDER BY session_key`)
      return createHash('sha256').update(JSON.stringify(rows)).digest('hex') + ` (${(rows as unknown[]).length} rows)`
    }

    before(async () => {
      db = await freshDatabase()
      await db.conn.query(djangoSessionDdl('django_session'))
      const past = new Date(Date.now() - HOUR).toISOString().replace('T', ' ').replace('Z', '')
      for (let i = 0; i < 3; i++) {
        await db.conn.query('INSERT INTO django_session VALUES (?, ?, ?)', [seededKey('idnt', i), encodeSigned({_auth_user_id: '42'}, {secretKey: 'identity-test-secret-key'}), past])
      }

      const u = new URL(db.url)
      hostPort = u.host
      port = u.port
    })

    after(async () => {
      await db?.conn.end()
    })

    const shapes: Array<[string, (hp: string, database: string, port: string) => string]> = [
      ['no host (an unset variable)', (_hp, d) => `mysql:///${d}`],
      ['no host, a user and a port', (_hp, d, p) => `mysql://root@:${p}/${d}`],
      ['nothing at all', () => 'mysql://:@/'],
      ['port 0', (_hp, d) => `mysql://root@127.0.0.1:0/${d}`],
      ['a ":" and no port', (_hp, d) => `mysql://root@127.0.0.1:/${d}`],
      ['a port beyond 65535', (_hp, d) => `mysql://root@127.0.0.1:99999/${d}`],
      ['a non-numeric port', (_hp, d) => `mysql://root@127.0.0.1:33o6/${d}`],
      ['an empty password after ":"', (hp, d) => `mysql://root:@${hp}/${d}`],
      ['a password and no user', (hp, d) => `mysql://:${PASSWORD}@${hp}/${d}`],
      ['two path segments', (hp, d) => `mysql://root@${hp}/${d}/x`],
      ['a bad %-escape in the database', (hp, d) => `mysql://root@${hp}/${d}%ZZ`],
      ['a bad %-escape in the password', (hp, d) => `mysql://root:${PASSWORD}%ZZ@${hp}/${d}`],
      ['a bad %-escape in the user', (hp, d) => `mysql://ro%zzot@${hp}/${d}`],
      ['an unencoded "@" in the password', (hp, d) => `mysql://root:${PASSWORD}@x@${hp}/${d}`],
      ['an unknown option', (hp, d) => `mysql://root@${hp}/${d}?database=other`],
      ['an option given twice', (hp, d) => `mysql://root@${hp}/${d}?ssl=false&ssl=true`],
      ['an invalid ssl mode', (hp, d) => `mysql://root@${hp}/${d}?ssl=maybe`],
      ['?socket= and a host:port', (hp, d) => `mysql://root@${hp}/${d}?socket=/tmp/mysqld.sock`],
      ['an empty ?socket=', (_hp, d) => `mysql:///${d}?socket=`],
      ['an unreadable ssl-ca', (hp, d) => `mysql://root@${hp}/${d}?ssl-ca=/nonexistent/ca.pem`],
      ['an ssl-ca that is not PEM', (hp, d) => `mysql://root@${hp}/${d}?ssl-ca=${path.join(dir, 'not-a-ca.pem')}`],
      ['ssl-ca with ssl=false', (hp, d) => `mysql://root@${hp}/${d}?ssl=false&ssl-ca=/nonexistent`],
      ['several hosts', (hp, d) => `mysql://root@${hp},${hp}/${d}`],
      ['an unbracketed IPv6 address', (_hp, d, p) => `mysql://root@::1:${p}/${d}`],
      ['a host with a "$" (an unexpanded variable)', (_hp, d) => `mysql://root@$DB_HOST/${d}`],
      ['a trailing space', (hp, d) => `mysql://root@${hp}/${d} `],
      ['no database, none in --table', hp => `mysql://root@${hp}`],
    ]

    for (const [name, make] of shapes) {
      it(`refuses ${name} (exit 2), touching nothing`, async () => {
        const url = make(hostPort, db.database, port)
        const before = await snapshot()
        const purge = await sessionctl(['sessions', 'purge', '--store', url, '--user', '42', '--yes', '--audit-log', audit])
        assertRefused(purge, 2, url)
        if (/host|port/.test(name)) {
          const cleanup = await sessionctl(['sessions', 'cleanup', '--store', url, '--audit-log', audit])
          assertRefused(cleanup, 2, url)
        }

        assert.equal(await snapshot(), before)
      })
    }

    it('refuses a bad --replica URL before deleting anything', async () => {
      const before = await snapshot()
      for (const replica of ['mysql:///', 'mysql://root@127.0.0.1:0', `mysql://root:@${hostPort}`, 'mysql://root@h:/']) {
        const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--replica', replica, '--audit-log', audit])
        assertRefused(r, 2, replica)
      }

      assert.equal(await snapshot(), before)
    })

    it('accepts the same store written another valid way (upper-case scheme, --table database.table)', async () => {
      const r1 = await sessionctl(['sessions', 'list', '--store', db.url.replace(/^mysql:/, 'MYSQL:'), '--user', '42', '--all', '--json'])
      assert.equal(r1.code, 0, r1.stderr)
      assert.equal(JSON.parse(r1.stdout).sessions.length, 3)
      const r2 = await sessionctl(['sessions', 'list', '--store', `mysql://root@${hostPort}`, '--table', `${db.database}.django_session`, '--user', '42', '--all', '--json'])
      assert.equal(r2.code, 0, r2.stderr)
      assert.equal(JSON.parse(r2.stdout).sessions.length, 3)
    })
  })
})
