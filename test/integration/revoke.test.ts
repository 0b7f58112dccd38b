/**
 * sessions revoke through the built binary, on sessions the real frameworks wrote: express-session
 * (connect-redis on Redis, express-mysql-session on MariaDB) named by the signed cookie the browser
 * holds, Rails' CacheStore on Redis named by the cookie's public id, Django's db backend on MariaDB
 * named by its key. After each revoke the framework itself is asked: the named session is gone,
 * every other one is still served, unchanged. Then the trust cases: names that match nothing, a
 * session re-written between selection and delete, names on stdin, dry run, no terminal, audit.
 */
import {RedisStore} from 'connect-redis'
import session from 'express-session'
import {Redis} from 'ioredis'
import mysql from 'mysql2/promise'
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {
  mkdtempSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs'
import {createRequire} from 'node:module'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {fingerprint} from '../../src/sessions/keys.js'
import {sessionctl, startSessionctl} from '../support/cli.js'
import {encodeSigned} from '../support/django-encode.js'
import {django, mysqlTarget, requireDjango} from '../support/django-oracle.js'
import {
  cookie, type ExpressStores, get, openExpressStores, set,
} from '../support/express-session.js'
import {djangoSessionDdl, freshDatabase, utcDatetime} from '../support/mysql.js'
import {
  laravelCookies, laravelMigrate, laravelRead, type LaravelTarget, laravelWrite, mysqlParams, requirePhp,
} from '../support/php.js'
import {
  cacheRead, type CacheTarget, cacheWrite, redisParams, requireRails,
} from '../support/rails.js'
import {registerSecret, registerSessionKeys} from '../support/secrets.js'
import {testRedisUrl} from '../support/servers.js'

const require = createRequire(import.meta.url)
type StoreLike = ExpressStores['mysqlStore']
const {sign} = require('cookie-signature') as {sign(value: string, secret: string): string}

const HOUR = 3_600_000
const EXPRESS_SECRET = 'revoke-test-express-secret'
registerSecret(EXPRESS_SECRET, 'secret key')

interface RevokeDoc {
  changed: number
  deleted: number
  dryRun: boolean
  gone: number
  matched: number
  names: Array<{forms: Array<{as: string; key: string; note?: string; refused?: string}>; matchedAs: string[]; name: string}>
  sessions: Array<{id: string; undecodable?: string; userId: null | string}>
  unmatched: string[]
}

async function revokeJson(args: string[], options: Parameters<typeof sessionctl>[1] = {}): Promise<{code: null | number; doc: RevokeDoc; stderr: string}> {
  const r = await sessionctl(['sessions', 'revoke', ...args, '--json'], options)
  return {code: r.code, doc: JSON.parse(r.stdout) as RevokeDoc, stderr: r.stderr}
}

/** The cookie express-session sets for a sid: `s:` + cookie-signature's sign, as the browser keeps it (URL-encoded). */
const signedCookie = (sid: string, secret = EXPRESS_SECRET): string => `s:${sign(sid, secret)}`

describe('sessions revoke (built binary, real framework data)', function () {
  this.timeout(180_000)

  describe('express-session: connect-redis and express-mysql-session', () => {
    // uid-safe sids as express-session makes them (24 bytes, base64url); one starts with '-'.
    const SIDS = ['Vn3GyM0xq1oZ2wYv8rTtKqHm5pL9sC4a', 'xK2mP9qR4tW7yZ1bD5fH8jL3nQ6sV0cE', '-7gH3kM6pR9tW2yB5dF8jL1nQ4sV7xZ0', 'aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF']
    const USERS = [42, 42, 7, 'guest']
    let redisStore: RedisStore
    let mysqlStore: StoreLike
    let db: Awaited<ReturnType<typeof freshDatabase>>
    let prefix: string
    let run = 0
    let stores: ExpressStores

    beforeEach(async () => {
      run++
      prefix = `rv${run}:${Date.now()}:`
      registerSessionKeys(SIDS)
      registerSessionKeys(SIDS.map(sid => signedCookie(sid)))
      stores = await openExpressStores(prefix)
      db = stores.mysqlDb
      mysqlStore = stores.mysqlStore
      redisStore = stores.redisStore
      for (const [i, sid] of SIDS.entries()) {
        const data = {cookie: cookie(HOUR * (i + 1)), passport: {user: USERS[i]}} as unknown as session.SessionData
        await set(redisStore, sid, data)
        await set(mysqlStore, sid, data)
      }
    })

    afterEach(async () => {
      await stores.close()
    })

    const redisArgs = (): string[] => ['--store', testRedisUrl(), '--prefix', prefix, '--format', 'express']

    async function served(store: session.Store): Promise<Record<string, unknown>> {
      const out: Record<string, unknown> = {}
      for (const sid of SIDS) {
        const value = await get(store, sid)
        if (value) out[sid] = value
      }

      return out
    }

    it('a signed cookie (as set, and URL-encoded as the browser keeps it) revokes its sid on both stores, whoever owns it; every other session is still served', async () => {
      const before = {mysql: await served(mysqlStore), redis: await served(redisStore)}
      const cookies = [signedCookie(SIDS[0]), encodeURIComponent(signedCookie(SIDS[2]))]
      const {code, doc, stderr} = await revokeJson([...redisArgs(), '--store', db.url, '--secret-key', EXPRESS_SECRET, '--yes', ...cookies])
      assert.equal(code, 0, stderr)
      assert.equal(doc.deleted, 4)
      assert.deepEqual(doc.names.map(n => n.matchedAs), [['express signed cookie'], ['express signed cookie (URL-encoded)']])
      assert.deepEqual(doc.names.map(n => n.forms[0].key), [fingerprint(SIDS[0]), fingerprint(SIDS[2])])
      assert.equal(doc.names[0].forms[0].note, 'signature checked')
      assert.deepEqual(doc.sessions.map(s => s.userId).sort(), ['42', '42', '7', '7'])
      for (const [name, store] of [['mysql', mysqlStore], ['redis', redisStore]] as const) {
        const after = await served(store)
        assert.deepEqual(Object.keys(after).sort(), [SIDS[1], SIDS[3]].sort(), name)
        for (const sid of Object.keys(after)) assert.deepEqual(after[sid], before[name][sid], `${name} ${sid} unchanged`)
      }

      const [rows] = await db.conn.query('SELECT COUNT(*) AS n FROM sessions')
      assert.equal((rows as Array<{n: number}>)[0].n, 2)
    })

    it('a cookie whose signature does not match --secret-key names nothing: exit 3, nothing deleted, the sid shown masked', async () => {
      const forged = signedCookie(SIDS[0], 'another-secret')
      registerSessionKeys([forged])
      const r = await sessionctl(['sessions', 'revoke', ...redisArgs(), '--secret-key', EXPRESS_SECRET, '--yes', forged])
      assert.equal(r.code, 3, r.stderr)
      assert.match(r.stdout, /express signed cookie: signature does not match --secret-key, so it names nothing \(session Vn3G…[\da-f]{8} left alone/)
      assert.match(r.stderr, /nothing to revoke: 1 name matched no session .*nothing was deleted/)
      assert.equal(Object.keys(await served(redisStore)).length, 4)
      // Without --secret-key the signature is not checked, and the output says so.
      const unchecked = await revokeJson([...redisArgs(), '--dry-run', forged])
      assert.equal(unchecked.code, 0, unchecked.stderr)
      assert.equal(unchecked.doc.names[0].forms[0].note, 'signature not checked: no --secret-key')
      assert.equal(unchecked.doc.matched, 1)
      assert.equal(Object.keys(await served(redisStore)).length, 4)
    })

    it('names on stdin (-): never in argv, never in the output; the table and the trail carry fingerprints only', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sessionctl-revoke-'))
      try {
        const log = join(dir, 'audit.jsonl')
        let argv = ''
        const input = `${signedCookie(SIDS[1])}\r\n\n${SIDS[3]}\n`
        const run = startSessionctl(['sessions', 'revoke', '--store', db.url, '--format', 'express', '--yes', '--reason', 'INC-7', '--audit-log', log, '-'], {
          input,
          onSpawn(pid) {
            try {
              argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
            } catch {}
          },
        })
        const r = await run
        assert.equal(r.code, 0, r.stderr)
        assert.ok(argv.includes('revoke'), 'read the process command line')
        for (const secret of [SIDS[1], SIDS[3], signedCookie(SIDS[1])]) {
          assert.ok(!argv.includes(secret), 'not in argv')
          assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), 'not in the output')
        }

        assert.match(r.stdout, new RegExp(`${fingerprint(SIDS[3])}\\s+raw key`))
        assert.match(r.stdout, /Deleted 2 named sessions\./)
        assert.deepEqual(Object.keys(await served(mysqlStore)).sort(), [SIDS[0], SIDS[2]].sort())
        const lines = readFileSync(log, 'utf8').trim().split('\n').map(l => JSON.parse(l) as Record<string, unknown>)
        assert.deepEqual(lines.map(l => l.event), ['started', 'finished'])
        const finished = lines[1]
        assert.equal(finished.command, 'sessions revoke')
        assert.equal(finished.outcome, 'ok')
        assert.equal(finished.deleted, 2)
        assert.equal(finished.reason, 'INC-7')
        assert.deepEqual((finished.keys as string[]).sort(), [fingerprint(SIDS[1]), fingerprint(SIDS[3])].sort())
        const text = readFileSync(log, 'utf8')
        for (const secret of [SIDS[1], SIDS[3], signedCookie(SIDS[1])]) assert.ok(!text.includes(secret), 'never raw in the trail')
      } finally {
        rmSync(dir, {force: true, recursive: true})
      }
    })

    it('a key starting with - after --; --dry-run deletes nothing; no terminal without --yes refuses (exit 3)', async () => {
      const dry = await sessionctl(['sessions', 'revoke', '--store', db.url, '--format', 'express', '--dry-run', '--', SIDS[2]])
      assert.equal(dry.code, 0, dry.stderr)
      assert.match(dry.stdout, /Dry run: would delete 1 session; nothing was deleted\./)
      const refused = await sessionctl(['sessions', 'revoke', '--store', db.url, '--format', 'express', '--', SIDS[2]])
      assert.equal(refused.code, 3)
      assert.match(refused.stderr, /refusing to delete without confirmation: there is no terminal to ask on/)
      const stdin = await sessionctl(['sessions', 'revoke', '--store', db.url, '--format', 'express', '-'], {input: `${SIDS[0]}\n`})
      assert.equal(stdin.code, 3)
      assert.match(stdin.stderr, /the names come from stdin \(-\), so there is no terminal to ask on; add --yes/)
      // Without --, it is refused as a flag, never taken for a name.
      const flagLike = await sessionctl(['sessions', 'revoke', '--store', db.url, '--format', 'express', '--yes', SIDS[0], '--', '--dry-run'])
      assert.equal(flagLike.code, 2)
      assert.equal(Object.keys(await served(mysqlStore)).length, 4)
    })

    it('some names match, some do not: the matched ones are revoked, the others reported masked (exit 0)', async () => {
      const {code, doc, stderr} = await revokeJson(['--store', db.url, '--format', 'express', '--yes', SIDS[0], fingerprint(SIDS[1]), 'zzzz…00000000', 'nosuchsidnosuchsidnosuchsid'])
      assert.equal(code, 0, stderr)
      assert.equal(doc.deleted, 2)
      assert.deepEqual(doc.unmatched, ['zzzz…00000000', fingerprint('nosuchsidnosuchsidnosuchsid')])
      assert.match(stderr, /warning: 2 names matched no session \(zzzz…00000000, nosu…[\da-f]{8}\)/)
      assert.deepEqual(Object.keys(await served(mysqlStore)).sort(), [SIDS[2], SIDS[3]].sort())
    })
  })

  describe('Rails CacheStore over Redis: the cookie’s public id', () => {
    const DB = 13
    let redis: Redis

    before(function () {
      requireRails(this)
      redis = new Redis(`${testRedisUrl()}/${DB}`)
    })

    after(() => redis?.disconnect())

    it('revokes the session Rails loads for that cookie, and only it', async () => {
      await redis.flushdb()
      const target: CacheTarget = {redis: redisParams(testRedisUrl(), DB)}
      const written = await cacheWrite(target, [{user: 42}, {user: 42}, {user: 7}, {attrs: {locale: 'de'}}])
      registerSessionKeys([...written.ids, ...written.keys])
      const before = await redis.keys('*')
      const {code, doc, stderr} = await revokeJson(['--store', `${testRedisUrl()}/${DB}`, '--format', 'rails', '--yes', written.ids[2]])
      assert.equal(code, 0, stderr)
      assert.equal(doc.deleted, 1)
      assert.deepEqual(doc.names[0].matchedAs, ['Rails public id'])
      assert.equal(doc.sessions[0].userId, '7')
      const loaded = await cacheRead(target, written.ids)
      assert.deepEqual(loaded.map(a => a.loaded), [true, true, false, true])
      assert.deepEqual((await redis.keys('*')).sort(), before.filter(k => k !== written.keys[2]).sort())
    })
  })

  describe('Laravel 8 database driver on MariaDB: the encrypted session cookie', () => {
    const appKey = `base64:${randomBytes(32).toString('base64')}`
    registerSecret(appKey, 'secret key')
    let db: Awaited<ReturnType<typeof freshDatabase>>

    before(async function () {
      requirePhp(this)
      db = await freshDatabase()
    })

    after(async () => {
      await db?.conn.end()
    })

    it('the cookie Laravel sent, decrypted with APP_KEY, revokes its session: Laravel no longer loads it, the others it still does', async () => {
      const target: LaravelTarget = {
        appKey, driver: 'database', encrypt: true, mysql: mysqlParams(db.url), table: 'sessions',
      }
      await laravelMigrate({...target, fresh: true})
      const ids = await laravelWrite(target, [{user: 42}, {user: 42}, {user: 7}])
      const cookies = await laravelCookies(target, ids)
      registerSessionKeys([...ids, ...cookies, ...cookies.map(c => decodeURIComponent(c))])
      const args = ['--store', db.url, '--format', 'laravel', '--yes']
      // Without the key the cookie cannot be opened: it names nothing.
      const locked = await sessionctl(['sessions', 'revoke', ...args, cookies[1]], {env: {APP_KEY: undefined}})
      assert.equal(locked.code, 3, locked.stderr)
      assert.match(locked.stdout, /matched nothing; Laravel encrypted cookie: encrypted: pass --app-key \(or APP_KEY\) to read it, so it names nothing/)
      const {code, doc, stderr} = await revokeJson([...args, cookies[1], decodeURIComponent(cookies[2])], {env: {APP_KEY: appKey}})
      assert.equal(code, 0, stderr)
      assert.equal(doc.deleted, 2)
      assert.deepEqual(doc.names.map(n => n.matchedAs), [['Laravel encrypted cookie'], ['Laravel encrypted cookie']])
      assert.deepEqual(doc.names.map(n => n.forms[0].key), [fingerprint(ids[1]), fingerprint(ids[2])])
      assert.deepEqual((await laravelRead(target, ids)).map(a => a.loaded), [true, false, false])
    })
  })

  describe('Django db backend on MariaDB: the key, and the trust cases', () => {
    const SECRET = 'revoke-django-secret'
    registerSecret(SECRET, 'secret key')
    let db: Awaited<ReturnType<typeof freshDatabase>>
    let keys: Map<string, string>

    before(function () {
      requireDjango(this)
    })

    beforeEach(async () => {
      db = await freshDatabase()
      const seeded = await django<{sessions: Array<{key: string; ref: string}>}>('seed', {
        mysql: mysqlTarget(db.url),
        secretKey: SECRET,
        sessions: [
          {format: 'signed', ref: '42a', user: '42'},
          {format: 'signed', ref: '42b', user: '42'},
          {format: 'signed', ref: '7a', user: '7'},
          {
            expired: true, format: 'signed', ref: '7-expired', user: '7',
          },
        ],
        storeUsers: true,
      })
      keys = new Map(seeded.sessions.map(s => [s.ref, s.key]))
      registerSessionKeys(keys.values())
    })

    afterEach(async () => {
      await db.conn.end()
    })

    const answer = async (user: string): Promise<string[]> => (await django<{keys: string[]}>('answer', {
      engine: 'db', mysql: mysqlTarget(db.url), secretKey: SECRET, serializer: 'json', state: 'all', table: 'django_session', user,
    })).keys

    async function rows(): Promise<Map<string, string>> {
      const [result] = await db.conn.query('SELECT session_key, session_data, expire_date FROM django_session')
      return new Map((result as Array<Record<string, string>>).map(r => [r.session_key, `${r.session_data}|${r.expire_date}`]))
    }

    it('a key and a fingerprint, live and expired, any user: Django then serves neither; the rest is untouched', async () => {
      const before = await rows()
      const named = [keys.get('42a')!, fingerprint(keys.get('7-expired')!)]
      const {code, doc, stderr} = await revokeJson(['--store', db.url, '--yes', ...named], {env: {DJANGO_SECRET_KEY: SECRET}})
      assert.equal(code, 0, stderr)
      assert.equal(doc.deleted, 2)
      assert.deepEqual(doc.names.map(n => n.matchedAs), [['raw key'], ['fingerprint']])
      assert.deepEqual(await answer('42'), [keys.get('42b')])
      assert.deepEqual(await answer('7'), [keys.get('7a')])
      const after = await rows()
      assert.equal(after.size, before.size - 2)
      for (const [key, value] of after) assert.equal(value, before.get(key), `${key} untouched`)
    })

    it('a fingerprint of a session in another store or format matches nothing: exit 3, nothing deleted, audit line refused', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sessionctl-revoke-'))
      try {
        const log = join(dir, 'audit.jsonl')
        const before = await rows()
        // Read as another format (express's table, absent from a Django database): nothing is deleted.
        const other = await sessionctl(['sessions', 'revoke', '--store', db.url, '--format', 'express', '--yes', fingerprint(keys.get('42a')!)])
        assert.notEqual(other.code, 0, other.stderr)
        assert.deepEqual(await rows(), before)
        const elsewhere = await freshDatabase()
        await elsewhere.conn.query(djangoSessionDdl('django_session'))
        const r = await sessionctl(['sessions', 'revoke', '--store', elsewhere.url, '--yes', '--audit-log', log, fingerprint(keys.get('42a')!)])
        await elsewhere.conn.end()
        assert.equal(r.code, 3, r.stderr)
        assert.match(r.stderr, /nothing to revoke: 1 name matched no session \(.*\); .*nothing was deleted/)
        assert.deepEqual(await rows(), before)
        const line = JSON.parse(readFileSync(log, 'utf8').trim()) as Record<string, unknown>
        assert.equal(line.outcome, 'refused')
        assert.equal(line.deleted, 0)
      } finally {
        rmSync(dir, {force: true, recursive: true})
      }
    })

    it('nothing matched while another store could not be read: exit 4 (the names may be there), nothing deleted', async () => {
      const before = await rows()
      const r = await sessionctl(['sessions', 'revoke', '--store', db.url, '--store', 'redis://127.0.0.1:1/0', '--yes', 'zzzz…00000000'])
      assert.equal(r.code, 4, r.stderr)
      assert.match(r.stderr, /nothing revoked: 1 name matched no session \(zzzz…00000000\), and redis:\/\/127\.0\.0\.1:1\/0 could not be read and may hold them/)
      assert.deepEqual(await rows(), before)
    })

    it('a named session re-written between selection and delete survives (compare-and-delete)', async () => {
      // Many named rows, one delete per batch, and a row lock held on the last one: the run
      // selects, starts deleting, and meanwhile the last session is re-written by its user.
      const extra = Array.from({length: 40}, (_, i) => `zz${String(i).padStart(30, '0')}`)
      registerSessionKeys(extra)
      const expires = utcDatetime(new Date(Date.now() + HOUR))
      for (const k of extra) await db.conn.query('INSERT INTO django_session VALUES (?, ?, ?)', [k, encodeSigned({_auth_user_id: '9'}, {secretKey: SECRET}), expires])
      const last = extra.at(-1)!
      const locker = await mysql.createConnection({uri: db.url})
      try {
        await locker.beginTransaction()
        await locker.query('SELECT session_key FROM django_session WHERE session_key = ? FOR UPDATE', [last])
        const dir = mkdtempSync(join(tmpdir(), 'sessionctl-revoke-'))
        const names = join(dir, 'names')
        writeFileSync(names, `${extra.join('\n')}\n`)
        const run = sessionctl(['sessions', 'revoke', '--store', db.url, '--yes', '--batch-size', '1', '--json', '-'], {input: readFileSync(names, 'utf8')})
        rmSync(dir, {force: true, recursive: true})
        // Wait until every row before the locked one is gone, then re-write the locked one and let go.
        for (let i = 0; i < 200; i++) {
          const [n] = await db.conn.query("SELECT COUNT(*) AS n FROM django_session WHERE session_key LIKE 'zz%'")
          if ((n as Array<{n: number}>)[0].n === 1) break
          await sleep(100)
        }

        await locker.query('UPDATE django_session SET session_data = ? WHERE session_key = ?', [encodeSigned({_auth_user_id: '9', cart: [1]}, {secretKey: SECRET}), last])
        await locker.commit()
        const r = await run
        assert.equal(r.code, 0, r.stderr)
        const doc = JSON.parse(r.stdout) as RevokeDoc
        assert.equal(doc.deleted, extra.length - 1)
        assert.equal(doc.changed, 1)
        assert.match(r.stdout, /"changed": 1/)
        const [left] = await db.conn.query("SELECT session_key FROM django_session WHERE session_key LIKE 'zz%'")
        assert.deepEqual((left as Array<{session_key: string}>).map(x => x.session_key), [last])
        assert.equal((await rows()).size, 5, 'Django’s four seeded sessions and the re-written one')
      } finally {
        await locker.end()
      }
    })

    it('a named value Django cannot decode is revoked with its reason; an unnamed one is left alone', async () => {
      const expires = utcDatetime(new Date(Date.now() + HOUR))
      const junk = ['junkjunkjunkjunkjunkjunkjunk0001', 'junkjunkjunkjunkjunkjunkjunk0002']
      registerSessionKeys(junk)
      for (const k of junk) await db.conn.query('INSERT INTO django_session VALUES (?, ?, ?)', [k, '.eJxub3QtemxpYi1hdC1hbGw:1xWfJ4:abc', expires])
      const {code, doc, stderr} = await revokeJson(['--store', db.url, '--yes', junk[0]])
      assert.equal(code, 0, stderr)
      assert.deepEqual(doc.sessions.map(s => s.undecodable), ['bad zlib'])
      assert.doesNotMatch(stderr, /skipped/)
      const [left] = await db.conn.query("SELECT session_key FROM django_session WHERE session_key LIKE 'junk%'")
      assert.deepEqual((left as Array<{session_key: string}>).map(x => x.session_key), [junk[1]])
    })
  })

  describe('bad names: one line, exit 2, before any I/O (the store is a closed port), the value never echoed', () => {
    const STORE = ['--store', 'mysql://root@127.0.0.1:1/app', '--dry-run']
    const cases: Array<{args: string[]; input?: string; message: RegExp; name: string}> = [
      {args: [], message: /no session named: pass session keys/, name: 'no name'},
      {
        args: ['-', '-'], input: 'k\n', message: /- is given twice/, name: '- twice',
      },
      {
        args: ['-'], input: '\n \n\t\n', message: /stdin \(-\) holds no session name/, name: 'blank stdin',
      },
      {
        args: ['-'], input: 'secretA1\nsecret B2\n', message: /^sessionctl: stdin line 2 holds spaces or control characters/, name: 'a stdin line with a space',
      },
      {
        args: ['-'], input: 'x'.repeat((1024 * 1024) + 1), message: /more than 1 MiB/, name: 'stdin too large',
      },
      {args: ['secret\u001B[2Jkey'], message: /^sessionctl: argument 1 holds spaces or control characters/, name: 'a terminal escape'},
      {args: ['okname', ''], message: /argument 2 "" names no session/, name: 'an empty argument'},
      {args: ['abcd…1234'], message: /argument 1 is not a whole fingerprint/, name: 'a cut-off fingerprint'},
      {args: ['--dryrun', 'okname'], message: /Nonexistent flag: --dryrun/, name: 'a mistyped flag'},
      {args: ['okname', '--', '--yes'], message: /unknown flag --yes \(argument 2\)/, name: 'a flag after --'},
      {args: ['-secretkey'], message: /no session named|unknown flag|Nonexistent flag/, name: 'a key starting with - without -- (oclif may read -s… as --store)'},
    ]
    for (const c of cases) {
      it(c.name, async () => {
        const r = await sessionctl(['sessions', 'revoke', ...STORE, ...c.args], {input: c.input})
        assert.equal(r.code, 2, r.stderr)
        assert.match(r.stderr, c.message)
        assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr)
        for (const secret of ['secretA1', 'secret B2', 'secret\u001B[2Jkey', 'ecretkey']) assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret))
        assert.doesNotMatch(r.stderr, /connect|ECONNREFUSED/)
      })
    }
  })
})
