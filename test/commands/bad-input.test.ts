import type mysql from 'mysql2/promise'

/**
 * Bad operator input, as an operator types it, against the built binary and real stores: each
 * case gets exit code 2, exactly one line on stderr that starts with "sessionctl:" and says what
 * to do, nothing on stdout, and the stores are untouched (same rows, same keys, table still there).
 * Also: wrong MySQL/Redis passwords never come back in any output.
 */
import {Redis} from 'ioredis'
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {type CliResult, sessionctl} from '../support/cli.js'
import {encodeSigned} from '../support/django-encode.js'
import {djangoSessionDdl, freshDatabase, utcDatetime} from '../support/mysql.js'
import {registerSecret, registerSessionKeys} from '../support/secrets.js'
import {createMysqlUser, freePort, testRedisUrl} from '../support/servers.js'

const SECRET = 'bad-input-django-secret'
const HOUR = 3_600_000

function randomKey(): string {
  return randomBytes(24).toString('base64url').toLowerCase().replaceAll(/[^\da-z]/g, 'x').slice(0, 32)
}

/** exit 2, one `sessionctl:` line on stderr matching `says` (what is wrong and what to do), empty stdout. */
function assertUsage(r: CliResult, says: RegExp): void {
  assert.equal(r.code, 2, `exit code\n${r.stderr}${r.stdout}`)
  assert.equal(r.stdout, '', 'nothing on stdout')
  const lines = r.stderr.split('\n').filter(Boolean)
  assert.equal(lines.length, 1, `one line on stderr:\n${r.stderr}`)
  assert.match(lines[0], /^sessionctl: \S/)
  assert.match(lines[0], says)
  assert.doesNotMatch(lines[0], /\bat \S+ \(|\n|The following errors? occurred/, 'no stack, no oclif boilerplate')
}

describe('bad operator input (built binary, real MariaDB and Redis)', function () {
  this.timeout(60_000)
  let db: {conn: mysql.Connection; database: string; url: string}
  let redis: Redis
  let redisUrl: string
  let configDir: string
  const root = `bi${randomBytes(4).toString('hex')}:`
  const mysqlKeys = Array.from({length: 6}, () => randomKey())
  // express sessions under a prefix full of glob characters, and decoys its glob would match.
  const globPrefix = `${root}s*[ab]?:`
  const redisKeys: Record<string, string> = {
    decoy1: `${root}sXa?:${randomKey()}`,
    decoy2: `${root}s*b:x:${randomKey()}`,
    decoy3: `${root}sZZa7:${randomKey()}`,
    literal1: `${globPrefix}${randomKey()}`,
    literal2: `${globPrefix}${randomKey()}`,
  }

  async function mysqlState(): Promise<string> {
    const [tables] = await db.conn.query('SHOW TABLES')
    const [rows] = await db.conn.query('SELECT COUNT(*) AS n, MD5(GROUP_CONCAT(session_key, session_data, expire_date ORDER BY session_key)) AS h FROM django_session')
    return JSON.stringify({rows, tables})
  }

  async function redisState(): Promise<string> {
    const keys = (await redis.keys(`${root}*`)).sort()
    const values = keys.length > 0 ? await redis.mget(keys) : []
    return JSON.stringify({keys, values})
  }

  /** Runs the command and checks it was refused as bad input without touching either store. */
  async function refused(args: string[], says: RegExp, env?: Record<string, string>): Promise<CliResult> {
    const before = [await mysqlState(), await redisState()]
    const r = await sessionctl(args, {env})
    assertUsage(r, says)
    assert.deepEqual([await mysqlState(), await redisState()], before, 'the stores are untouched')
    return r
  }

  const expressValue = (user: string): string => JSON.stringify({cookie: {expires: new Date(Date.now() + HOUR).toISOString(), path: '/'}, passport: {user}})

  /** Four sessions of user 42 (one expired), two of user 7. */
  async function seedMysql(): Promise<void> {
    await db.conn.query('DELETE FROM django_session')
    for (const [i, key] of mysqlKeys.entries()) {
      const data = encodeSigned({_auth_user_id: i < 4 ? '42' : '7'}, {secretKey: SECRET})
      await db.conn.query('INSERT INTO django_session VALUES (?, ?, ?)', [key, data, utcDatetime(new Date(Date.now() + (i === 3 ? -HOUR : HOUR)))])
    }
  }

  before(async () => {
    db = await freshDatabase()
    await db.conn.query(djangoSessionDdl('django_session'))
    registerSessionKeys(mysqlKeys)
    await seedMysql()

    redisUrl = testRedisUrl()
    redis = new Redis(redisUrl)
    registerSessionKeys(Object.values(redisKeys).map(k => k.slice(k.lastIndexOf(':') + 1)))
    for (const key of Object.values(redisKeys)) await redis.set(key, expressValue('42'), 'PX', HOUR)
    configDir = mkdtempSync(join(tmpdir(), 'sessionctl-bad-input-'))
  })

  after(async () => {
    await redis?.del(...(await redis.keys(`${root}*`)), `${root}none`)
    redis?.disconnect()
    await db?.conn.end()
    rmSync(configDir, {force: true, recursive: true})
  })

  describe('identifiers: validated before connecting, never interpolated', () => {
    const cases: Array<[string, string]> = [
      ['--table', 'x; DROP TABLE django_session'],
      ['--table', 'django_session`; DROP TABLE django_session; --'],
      ['--table', "django_session' OR '1'='1"],
      ['--table', '`django_session`'],
      ['--table', 'a.b.c'],
      ['--table', ''],
      ['--table', ' django_session'],
      ['--key-column', 'session_key`; DROP TABLE django_session; --'],
      ['--key-column', 'session`key'],
      ['--data-column', 'session_data, (SELECT SLEEP(5))'],
      ['--expiry-column', 'expire_date /*'],
      ['--user-column', 'user_id` OR 1=1'],
      ['--table', `x${'y'.repeat(64)}`],
    ]
    for (const [flag, value] of cases) {
      it(`${flag} ${JSON.stringify(value)}`, async () => {
        await refused(
          ['sessions', 'purge', '--store', db.url, flag, value, '--user', '42', '--yes'],
          /^sessionctl: invalid (table name|database name|key column|data column|expiry column|user column) "[^"]*": use (1-64 letters|table or database\.table)/,
        )
      })
    }

    it('a database name with a backtick in the URL', async () => {
      const url = new URL(db.url)
      url.pathname = '/app%60%3B%20DROP%20TABLE%20x'
      await refused(['sessions', 'purge', '--store', url.toString(), '--user', '42', '--yes'], /invalid database name "app`; DROP TABLE x": use 1-64 letters/)
    })

    it('a database name with a backtick in --table db.table', async () => {
      await refused(['sessions', 'list', '--store', db.url, '--table', 'a`b.django_session'], /invalid database name "a`b": use 1-64 letters/)
    })
  })

  describe('users', () => {
    for (const user of ['', '  ', '\t']) {
      it(`purge --user ${JSON.stringify(user)}`, async () => {
        await refused(['sessions', 'purge', '--store', db.url, '--user', user, '--yes'], /--user must not be empty: pass the user id/)
      })
    }

    it('list --user "" (an empty user would otherwise mean "no user given": everyone)', async () => {
      await refused(['sessions', 'list', '--store', db.url, '--user', ''], /--user must not be empty/)
    })

    it('purge --user " 42" (leading space: user ids match exactly)', async () => {
      await refused(['sessions', 'purge', '--store', db.url, '--user', ' 42', '--yes'], /--user " 42" has leading or trailing spaces.*: pass --user "42"/)
    })

    it('purge without --user', async () => {
      await refused(['sessions', 'purge', '--store', db.url, '--yes'], /missing required flag --user/)
    })
  })

  describe('conflicting, unknown and out-of-range flags', () => {
    const cases: Array<[string, string[], RegExp]> = [
      ['list --all --expired-only', ['sessions', 'list', '--all', '--expired-only'], /--all and --expired-only cannot be used together/],
      ['--format nope', ['sessions', 'list', '--format', 'nope'], /--format=nope .*one of: django, django-cache, express/],
      ['--output nope', ['sessions', 'list', '--output', 'nope'], /--output=nope .*one of: table, wide, json, ndjson, csv, yaml/],
      ['--expiry-unit seconds', ['sessions', 'list', '--expiry-unit', 'seconds'], /--expiry-unit=seconds .*one of: datetime, unix-seconds, unix-ms/],
      ['--connect-timeout 0', ['sessions', 'list', '--connect-timeout', '0'], /--connect-timeout.*greater than or equal to 1/],
      ['--connect-timeout 3s', ['sessions', 'list', '--connect-timeout', '3s'], /--connect-timeout.*integer/],
      ['--batch-size -1', ['sessions', 'purge', '--user', '42', '--yes', '--batch-size', '-1'], /--batch-size.*greater than or equal to 1/],
      ['--batch-size 0', ['sessions', 'purge', '--user', '42', '--yes', '--batch-size', '0'], /--batch-size.*greater than or equal to 1/],
      ['--batch-size 1e9', ['sessions', 'purge', '--user', '42', '--yes', '--batch-size', '1000000000'], /--batch-size.*less than or equal to 10000/],
      ['cleanup --target-ms 1', ['sessions', 'cleanup', '--target-ms', '1'], /--target-ms.*greater than or equal to 5/],
      ['cleanup --sleep-factor abc', ['sessions', 'cleanup', '--sleep-factor', 'abc'], /invalid --sleep-factor "abc": use a number from 0 to 100/],
      ['cleanup --max-replica-lag without --replica', ['sessions', 'cleanup', '--max-replica-lag', '2'], /--max-replica-lag needs at least one --replica/],
      ['cleanup --replica that is no URL', ['sessions', 'cleanup', '--replica', 'replica1'], /invalid --replica "replica1": expected mysql:\/\/user@host:3306/],
      ['cleanup --replica redis://…', ['sessions', 'cleanup', '--replica', 'redis://127.0.0.1:6379'], /invalid --replica "redis:\/\/127.0.0.1:6379"/],
      ['cleanup --replica with an unknown option', ['sessions', 'cleanup', '--replica', 'mysql://monitor@127.0.0.1:1/app?nope=1'], /unknown option "nope"/],
      ['a misspelt flag', ['sessions', 'purge', '--user', '42', '--yes', '--dryrun'], /nonexistent flag: --dryrun/i],
      ['a stray argument', ['sessions', 'purge', '--user', '42', '--yes', '42'], /unexpected argument: 42/i],
      ['--time-zone Mars/Olympus', ['sessions', 'list', '--time-zone', 'Mars/Olympus'], /unknown time zone "Mars\/Olympus": use an IANA name/],
      ['--secret-key ""', ['sessions', 'purge', '--user', '42', '--yes', '--secret-key', ''], /--secret-key must not be empty/],
    ]
    for (const [name, args, says] of cases) {
      it(name, async () => {
        await refused([...args.slice(0, 2), '--store', db.url, ...args.slice(2)], says)
      })
    }

    it('--user-column on a Redis store', async () => {
      await refused(
        ['sessions', 'purge', '--store', redisUrl, '--format', 'express', '--prefix', globPrefix, '--user-column', 'user_id', '--user', '42', '--yes'],
        /--user-column applies to SQL stores/,
      )
    })

    it('--expiry-unit unix-seconds on a datetime column (checked once connected, before any read)', async () => {
      await refused(
        ['sessions', 'purge', '--store', db.url, '--expiry-unit', 'unix-seconds', '--user', '42', '--yes'],
        /django_session\.expire_date is a datetime column, not unix-seconds: drop --expiry-unit/,
      )
    })

    it('--expiry-unit datetime on an integer column', async () => {
      await db.conn.query('CREATE TABLE int_expiry (k varchar(40) PRIMARY KEY, d text NOT NULL, e bigint NOT NULL)')
      try {
        await refused(
          ['sessions', 'cleanup', '--store', db.url, '--table', 'int_expiry', '--key-column', 'k', '--data-column', 'd', '--expiry-column', 'e', '--expiry-unit', 'datetime'],
          /int_expiry\.e is an integer column, not a datetime: use --expiry-unit unix-seconds or unix-ms/,
        )
      } finally {
        await db.conn.query('DROP TABLE int_expiry')
      }
    })

    // activerecord-session_store keeps no lifetime: a guessed one would delete live sessions or keep dead ones.
    for (const args of [['list', '--user', '42'], ['list', '--expired-only'], ['purge', '--user', '42', '--expired-only', '--yes'], ['cleanup']]) {
      it(`--format rails ${args[0]} ${args.slice(1).join(' ')} on SQL without --lifetime`, async () => {
        await refused(['sessions', ...args, '--store', db.url, '--format', 'rails'], /--format rails on mysql:\/\/\S+ needs --lifetime MINUTES .*expire_after/)
      })
    }

    it('--scope with a format that has none, or one that is not a Devise scope', async () => {
      await refused(['sessions', 'list', '--store', db.url, '--scope', 'admin'], /--scope applies to --format rails only/)
      await refused(['sessions', 'list', '--store', db.url, '--format', 'rails', '--lifetime', '60', '--scope', 'warden.user'], /--scope "warden\.user" is not a Devise scope/)
    })

    it('the same store twice', async () => {
      await refused(['sessions', 'purge', '--store', db.url, '--store', db.url, '--user', '42', '--yes'], /given twice/)
    })

    it('--json with --output csv: the error is the JSON document on stdout', async () => {
      const r = await sessionctl(['sessions', 'list', '--store', db.url, '--output', 'csv', '--json'])
      assert.equal(r.code, 2)
      assert.equal(r.stderr, '')
      assert.deepEqual(JSON.parse(r.stdout), {error: {exitCode: 2, message: '--json and --output csv cannot be used together: drop one'}})
    })

    it('with --json, the error is the JSON document on stdout and stderr stays empty', async () => {
      const before = await mysqlState()
      const r = await sessionctl(['sessions', 'purge', '--store', db.url, '--table', 'x;DROP TABLE django_session', '--user', '42', '--yes', '--json'])
      assert.equal(r.code, 2)
      assert.equal(r.stderr, '')
      const doc = JSON.parse(r.stdout) as {error: {exitCode: number; message: string}}
      assert.equal(doc.error.exitCode, 2)
      assert.match(doc.error.message, /invalid table name/)
      assert.equal(await mysqlState(), before)
    })
  })

  describe('store URLs', () => {
    const cases: Array<[string, RegExp]> = [
      ['ftp://x', /unsupported store URL "ftp:\/\/x\/?": use mariadb:\/\/, mysql:\/\//],
      ['http://user:hunter2hunter2@example.com/db', /unsupported store URL "http:\/\/user:\*\*\*\*@example\.com\/db": use/],
      ['mysql://', /invalid store URL "mysql:\/\/": no host \(an unset variable\?\): name the server/],
      ['mysql://root@[::1/app', /invalid store URL "mysql:\/\/root@\[::1\/app": invalid IPv6 address "\[::1": use \[::1\] or \[::1\]:PORT/],
      ['mysql://root@127.0.0.1:99999/app', /invalid store URL .*: invalid port "99999": use a number from 1 to 65535/],
      ['mysql://root@127.0.0.1:1/app?sslmode=require', /invalid store URL .*: unknown option "sslmode": supported are socket, ssl, ssl-ca/],
      ['mysql://root@127.0.0.1:1/app?ssl=maybe', /invalid ssl=maybe: use ssl=true, ssl=skip-verify or ssl=false/],
      ['redis://127.0.0.1:1/abc', /invalid database "abc": use a plain number, e\.g\. \/0/],
      ['redis://127.0.0.1:1/0/extra', /the path must be one database number, e\.g\. \/0/],
      ['redis://127.0.0.1:99999/0', /invalid port "99999": use a number from 1 to 65535/],
      ['redis://a:1,b:2/0', /names several hosts: use redis\+cluster:\/\/ or redis\+sentinel:\/\//],
      ['redis+cluster://127.0.0.1:1/3', /Redis Cluster has only database 0/],
      ['redis+sentinel://127.0.0.1:1', /needs the master name: redis\+sentinel:\/\/host:26379\/mymaster\/0/],
      ['nosuchprofile', /"nosuchprofile" is neither a store URL .* nor a profile: no config file found/],
    ]
    for (const [url, says] of cases) {
      it(`--store ${url}`, async () => {
        await refused(['sessions', 'purge', '--store', url, '--user', '42', '--yes'], says)
      })
    }

    it('no --store at all', async () => {
      await refused(['sessions', 'list', '--user', '42'], /no store given: pass --store/)
    })
  })

  describe('config files and profiles', () => {
    const write = (name: string, text: string): string => {
      const path = join(configDir, name)
      writeFileSync(path, text)
      return path
    }

    it('a config file that is not JSON (its contents are not echoed)', async () => {
      const path = write('broken.json', '{"profiles": {"db": {"store": "mysql://app:NotJsonPassw0rd@db/app",}}}')
      registerSecret('NotJsonPassw0rd')
      await refused(['sessions', 'list', '--store', 'db', '--config', path], /config file .*broken\.json is not valid JSON \(line 1, column 68\): fix it/)
    })

    it('a config file that is not JSON at all (e.g. a secrets file)', async () => {
      const path = write('secrets.env', 'DB_PASSWORD=EnvFilePassw0rd\n')
      registerSecret('EnvFilePassw0rd')
      await refused(['sessions', 'list', '--store', 'db', '--config', path], /config file .*secrets\.env is not valid JSON \(line 1, column 1\): fix it, or pass another file to --config$/)
    })

    it('a config file that does not exist', async () => {
      await refused(['sessions', 'list', '--store', 'db', '--config', join(configDir, 'missing.json')], /config file .*missing\.json does not exist: pass an existing file to --config/)
    })

    it('SESSIONCTL_CONFIG naming a missing file', async () => {
      const env = {SESSIONCTL_CONFIG: join(configDir, 'gone.json')}
      await refused(['sessions', 'list', '--store', 'db'], /config file .*gone\.json does not exist: pass an existing file to --config \(or in \$SESSIONCTL_CONFIG\)$/, env)
    })

    it('a missing profile', async () => {
      const path = write('ok.json', JSON.stringify({profiles: {db: {store: db.url}, other: {store: redisUrl}}}))
      await refused(['sessions', 'purge', '--store', 'prod', '--config', path, '--user', '42', '--yes'], /no profile "prod" in .*ok\.json \(profiles: db, other\)/)
    })

    it('a profile with a password in it (not echoed)', async () => {
      const path = write('pw.json', JSON.stringify({profiles: {db: {password: 'ProfilePassw0rd', store: db.url}}}))
      registerSecret('ProfilePassw0rd')
      await refused(['sessions', 'list', '--store', 'db', '--config', path], /profile "db": unknown setting "password"/)
    })

    it('a profile whose passwordEnv is not set', async () => {
      const path = write('env.json', JSON.stringify({profiles: {db: {passwordEnv: 'BAD_INPUT_UNSET_PW', store: db.url}}}))
      await refused(['sessions', 'list', '--store', 'db', '--config', path], /reads its password from \$BAD_INPUT_UNSET_PW, which is not set/)
    })

    it('a profile that includes itself', async () => {
      const path = write('loop.json', JSON.stringify({profiles: {a: {stores: ['b']}, b: {stores: ['a']}}}))
      await refused(['sessions', 'purge', '--store', 'a', '--config', path, '--user', '42', '--yes'], /includes itself \(a → b → a\)/)
    })
  })

  describe('Redis prefixes are literal: glob characters are escaped, never matched', () => {
    it('list --prefix with * [ ] ? lists only the keys that start with it', async () => {
      const r = await sessionctl(['sessions', 'list', '--store', redisUrl, '--format', 'express', '--prefix', globPrefix, '--user', '42', '--json'])
      assert.equal(r.code, 0, r.stderr)
      const doc = JSON.parse(r.stdout) as {sessions: unknown[]; summary: {scanned: number}}
      assert.equal(doc.summary.scanned, 2)
      assert.equal(doc.sessions.length, 2)
    })

    it('purge --prefix with glob characters deletes exactly the literal prefix’s sessions', async () => {
      const r = await sessionctl(['sessions', 'purge', '--store', redisUrl, '--format', 'express', '--prefix', globPrefix, '--user', '42', '--yes'])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /Deleted 2 sessions of user 42/)
      const left = (await redis.keys(`${root}*`)).sort()
      assert.deepEqual(left, [redisKeys.decoy1, redisKeys.decoy2, redisKeys.decoy3].sort(), 'the keys the glob would have matched survive')
    })

    it('a bare "*" prefix matches no key but one literally named so', async () => {
      const r = await sessionctl(['sessions', 'list', '--store', redisUrl, '--format', 'express', '--prefix', `${root}*`, '--user', '42', '--json'])
      assert.equal(r.code, 0, r.stderr)
      assert.equal((JSON.parse(r.stdout) as {summary: {scanned: number}}).summary.scanned, 0)
    })
  })

  describe('--except with a key that matches nothing', () => {
    it('refuses (exit 3, one line naming it masked), deletes nothing; --allow-unmatched-except goes on with a warning', async () => {
      await seedMysql()
      const args = ['sessions', 'purge', '--store', db.url, '--user', '42', '--except', 'nosuchkey', '--except', 'abcd…12345678', '--yes']
      const refused = await sessionctl(args)
      assert.equal(refused.code, 3, refused.stderr)
      // After the table's summary line (stderr), the one error line.
      assert.match(refused.stderr, /^4 sessions of user 42 selected \(scanned 6 in [\d.]+ s\)\nsessionctl: refusing to purge: --except nosu…[\da-f]{8}, abcd…12345678 name none of user 42's selected sessions, so they keep nothing; .*--allow-unmatched-except; nothing was deleted\n$/)
      assert.ok(!refused.stderr.includes('nosuchkey'), 'the raw key is not echoed')
      const [before] = await db.conn.query('SELECT COUNT(*) AS n FROM django_session')
      assert.equal(Number((before as Array<{n: number}>)[0].n), mysqlKeys.length, 'nothing deleted')

      const r = await sessionctl([...args, '--allow-unmatched-except'])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /Deleted 4 sessions of user 42\./)
      // The table's summary line, then one warning.
      const [summary, ...warnings] = r.stderr.split('\n').filter(Boolean)
      assert.match(summary, /^4 sessions of user 42 selected \(scanned 6 in /)
      assert.equal(warnings.length, 1, r.stderr)
      assert.match(warnings[0], /^sessionctl: warning: --except nosu…[\da-f]{8}, abcd…12345678 name none of user 42's selected sessions; nothing to keep for them$/)
      const [rows] = await db.conn.query('SELECT session_key FROM django_session ORDER BY session_key')
      assert.deepEqual((rows as Array<{session_key: string}>).map(row => row.session_key), mysqlKeys.slice(4).sort(), 'only user 7’s sessions remain')
    })
  })
})

describe('passwords never come back, not even in driver errors (built binary)', function () {
  this.timeout(60_000)
  // URL-special characters, so both the raw and the percent-encoded forms are checked.
  const PASSWORD = 'Pw/Leak:Check@9#x'
  const ENC = encodeURIComponent(PASSWORD)
  let db: {conn: mysql.Connection; database: string; url: string}
  let userUrl: string

  function noPassword(r: CliResult, code: number, says: RegExp): void {
    const all = r.stdout + r.stderr
    for (const form of [PASSWORD, ENC, 'Leak:Check', 'Leak%3ACheck']) assert.ok(!all.includes(form), `password (${form === PASSWORD ? 'raw' : 'part'}) printed:\n${all}`)
    assert.equal(r.code, code, r.stderr)
    const lines = (r.stdout + r.stderr).split('\n').filter(Boolean)
    assert.equal(lines.length, 1, all)
    assert.match(lines[0], says)
  }

  before(async () => {
    db = await freshDatabase()
    await db.conn.query(djangoSessionDdl('django_session'))
    userUrl = await createMysqlUser(db.url, {database: db.database, password: PASSWORD, user: 'leakcheck'})
    registerSecret(PASSWORD)
  })

  after(async () => {
    await db?.conn.end()
  })

  it('MySQL: access denied (wrong password)', async () => {
    const wrong = userUrl.replace(ENC, encodeURIComponent(`${PASSWORD}1`))
    registerSecret(`${PASSWORD}1`)
    noPassword(await sessionctl(['sessions', 'purge', '--store', wrong, '--user', '42', '--yes']), 1, /^sessionctl: access denied for user "leakcheck"/)
  })

  it('MySQL: access denied to another database, with --json and SESSIONCTL_DEBUG', async () => {
    const url = new URL(userUrl)
    url.pathname = '/mysql'
    const r = await sessionctl(['sessions', 'list', '--store', url.toString(), '--user', '42', '--json'], {env: {SESSIONCTL_DEBUG: '1'}})
    for (const form of [PASSWORD, ENC]) assert.ok(!(r.stdout + r.stderr).includes(form), r.stdout + r.stderr)
    assert.equal(r.code, 1)
    assert.match((JSON.parse(r.stdout) as {error: {message: string}}).error.message, /user "leakcheck" may not use database "mysql"/)
  })

  it('MySQL: a host that does not resolve', async () => {
    const url = `mysql://leakcheck:${ENC}@no-such-host.invalid:3306/app`
    noPassword(await sessionctl(['sessions', 'list', '--store', url, '--user', '42']), 1, /^sessionctl: .*no-such-host\.invalid/)
  })

  it('MySQL: nothing listening', async () => {
    const port = await freePort()
    noPassword(await sessionctl(['sessions', 'list', '--store', `mysql://leakcheck:${ENC}@127.0.0.1:${port}/app`, '--user', '42']), 1, /connection refused/)
  })

  it('MySQL: the password typed unencoded into an unparseable URL', async () => {
    noPassword(await sessionctl(['sessions', 'list', '--store', `mysql://leakcheck:${PASSWORD}@[::1/app`, '--user', '42']), 2, /^sessionctl: the store URL "mysql:\/\/\*\*\*\*@\[::1\/app" has an "@" after its host: percent-encode the user and password/)
  })

  it('MySQL: the password typed unencoded into a URL with a bad option', async () => {
    noPassword(await sessionctl(['sessions', 'list', '--store', `mysql://leakcheck:${PASSWORD}@127.0.0.1:1/app?x=1`, '--user', '42']), 2, /^sessionctl: the store URL "mysql:\/\/\*\*\*\*@127\.0\.0\.1:1\/app\?x=1" has an "@" after its host/)
  })

  it('MySQL: a wrong password in a profile’s passwordEnv', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sessionctl-pw-'))
    try {
      const path = join(dir, 'c.json')
      writeFileSync(path, JSON.stringify({profiles: {db: {passwordEnv: 'LEAK_DB_PASSWORD', store: userUrl.replace(`:${ENC}@`, '@')}}}))
      noPassword(await sessionctl(['sessions', 'list', '--store', 'db', '--config', path, '--user', '42'], {env: {LEAK_DB_PASSWORD: `${PASSWORD}2`}}), 1, /access denied/)
    } finally {
      rmSync(dir, {force: true, recursive: true})
    }
  })

  it('cleanup: a replica URL with a wrong password', async () => {
    const wrong = userUrl.replace(ENC, encodeURIComponent(`${PASSWORD}3`))
    registerSecret(`${PASSWORD}3`)
    // An expired session, so that cleanup has work to do and checks the replica first.
    const key = randomKey()
    registerSessionKeys([key])
    await db.conn.query('INSERT INTO django_session VALUES (?, ?, ?)', [key, encodeSigned({_auth_user_id: '1'}, {secretKey: SECRET}), utcDatetime(new Date(Date.now() - HOUR))])
    const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--replica', wrong])
    for (const form of [PASSWORD, ENC]) assert.ok(!(r.stdout + r.stderr).includes(form), r.stdout + r.stderr)
    assert.notEqual(r.code, 0)
  })

  describe('Redis', () => {
    let admin: Redis
    let url: URL

    before(async () => {
      // A user with a password on the shared server (ACL), so nothing else is affected.
      admin = new Redis(testRedisUrl())
      await admin.call('ACL', 'SETUSER', 'leakcheck', 'on', `>${PASSWORD}`, '~*', '+@all')
      url = new URL(testRedisUrl())
    })

    after(async () => {
      await admin.call('ACL', 'DELUSER', 'leakcheck')
      admin.disconnect()
    })

    it('works with the right password (the baseline)', async () => {
      const r = await sessionctl(['sessions', 'list', '--store', `redis://leakcheck:${ENC}@${url.host}/0`, '--format', 'express', '--prefix', 'nothing-here:', '--user', '42'])
      assert.equal(r.code, 0, r.stderr)
      assert.ok(!(r.stdout + r.stderr).includes(PASSWORD))
    })

    it('a wrong password', async () => {
      registerSecret(`${PASSWORD}4`)
      noPassword(
        await sessionctl(['sessions', 'list', '--store', `redis://leakcheck:${encodeURIComponent(`${PASSWORD}4`)}@${url.host}/0`, '--user', '42']),
        1,
        /authentication failed .*check the user and password/,
      )
    })

    it('a wrong REDIS_PASSWORD', async () => {
      noPassword(await sessionctl(['sessions', 'list', '--store', `redis://leakcheck@${url.host}/0`, '--user', '42'], {env: {REDIS_PASSWORD: `${PASSWORD}5`}}), 1, /authentication failed/)
    })

    it('the password typed unencoded (with / and @) into the URL', async () => {
      noPassword(await sessionctl(['sessions', 'list', '--store', `redis://leakcheck:${PASSWORD}@${url.host}/0`, '--user', '42']), 2, /^sessionctl: the store URL "redis:\/\/\*\*\*\*@127\.0\.0\.1:\d+\/0" has an "@" after its host/)
    })

    it('a host that does not resolve', async () => {
      noPassword(await sessionctl(['sessions', 'list', '--store', `redis://leakcheck:${ENC}@no-such-host.invalid:6380/0`, '--user', '42']), 1, /no-such-host\.invalid/)
    })
  })
})
