/**
 * `sessions show` on sessions real frameworks wrote: Django 3.2's db engine in MariaDB (JSON and
 * pickle serializers, signed), its cache and cached_db engines through django-redis in Redis, and
 * express-session through connect-redis. The payload's keys come with their types and sizes;
 * values only with --reveal, and never those under secret-looking keys (registered with the
 * secrets grep, which fails the run if any output carries them).
 */
import {RedisStore} from 'connect-redis'
import session from 'express-session'
import {Redis} from 'ioredis'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {createClient} from 'redis'

import {sessionctl} from '../support/cli.js'
import {django, mysqlTarget, requireDjango} from '../support/django-oracle.js'
import {freshDatabase} from '../support/mysql.js'
import {
  laravelMigrate, type LaravelTarget, laravelWrite, mysqlParams, requirePhp,
} from '../support/php.js'
import {
  cacheWrite, redisParams as railsRedisParams, type RailsWritten, requireRails,
} from '../support/rails.js'
import {registerSecret, registerSessionKeys} from '../support/secrets.js'
import {testRedisUrl} from '../support/servers.js'

const SECRET = 'show-test-secret-key'
const CSRF = 'csrf-value-that-must-never-print'
const API_TOKEN = 'nested-api-token-never-printed'
const EXPRESS_CSRF = 'express-csrf-secret-never-printed'

interface Seeded {
  key: string
  ref: string
  redisKey?: null | string
}

interface KeyJson {
  key: string
  masked: boolean
  size: number
  type: string
  value?: unknown
}

interface ShowJson {
  sessions: Array<{
    format?: string
    id: string
    keys?: KeyJson[]
    signature?: string
    size: number
    state: string
    store: string
    ttlSeconds: null | number
    undecodable?: string
    userId: null | string
    variant?: string
  }>
}

async function showJson(args: string[]): Promise<ShowJson> {
  const r = await sessionctl(['sessions', 'show', ...args, '--json'])
  assert.equal(r.code, 0, r.stderr + r.stdout)
  return JSON.parse(r.stdout) as ShowJson
}

describe('sessions show on sessions written by Django, django-redis and express-session', function () {
  this.timeout(120_000)
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let redisUrl: string
  let keys: Map<string, Seeded>
  const cachePrefix = `show${Date.now()}`
  const express = {prefix: `showsess${Date.now()}:`, sid: 'expressshowsidaaaaaaaaaaaaaaaaaa'}

  const mysqlStore = (): string[] => ['--store', db.url]
  const key = (ref: string): string => keys.get(ref)!.key

  before(async function () {
    requireDjango(this)
    db = await freshDatabase()
    redisUrl = testRedisUrl()
    const u = new URL(redisUrl)
    const common = {cachePrefix, cacheVersion: 1, compressor: 'zlib'}
    const out = await django<{sessions: Seeded[]}>('seed', {
      mysql: mysqlTarget(db.url),
      redis: {db: Number(u.pathname.slice(1) || 0), host: u.hostname, port: Number(u.port)},
      secretKey: SECRET,
      sessions: [
        {
          data: {cart: [1, 2, 3], csrf_token: CSRF, profile: {api_token: API_TOKEN, name: 'Ann'}}, format: 'signed', ref: 'json42', user: '42',
        },
        {
          data: {theme: 'dark'}, format: 'pickle', ref: 'pickle7', user: '7',
        },
        {
          data: {visits: 2}, format: 'signed', ref: 'anon', user: null,
        },
        {
          data: {'\u001B[2Jkey': '\u001B]0;pwned\u0007 \u202Eevil', note: 'line1\nline2'}, format: 'signed', ref: 'hostile', user: '9\u001B[31m',
        },
        {
          ...common, data: {lang: 'fr'}, engine: 'cache', ref: 'cache42', user: '42',
        },
        {
          ...common, engine: 'cached_db', ref: 'cdb42', user: '42',
        },
      ],
    })
    keys = new Map(out.sessions.map(s => [s.ref, s]))
    registerSessionKeys(out.sessions.map(s => s.key))
    for (const secret of [CSRF, API_TOKEN, EXPRESS_CSRF, SECRET]) registerSecret(secret)
    // A row that is not a session, named by its key.
    await db.conn.query("INSERT INTO django_session VALUES ('notasessionxxxxxxxxxxxxxxxxxxxx1', 'bm90IGEgc2Vzc2lvbg==', '2099-01-01')")

    // express-session's own Redis store writes the express session.
    const client = createClient({url: redisUrl})
    await client.connect()
    const store = new RedisStore({client, prefix: express.prefix})
    const cookie = new (session.Cookie as unknown as new (o: Record<string, unknown>) => session.Cookie)({httpOnly: true, path: '/'})
    cookie.expires = new Date(Date.now() + 3_600_000)
    cookie.originalMaxAge = 3_600_000
    await new Promise<void>((resolve, reject) => {
      store.set(express.sid, {
        cookie, csrfSecret: EXPRESS_CSRF, flash: {}, passport: {user: 42}, views: 3,
      } as unknown as session.SessionData, e => (e ? reject(e) : resolve()))
    })
    await client.quit()
    registerSessionKeys([express.sid])
  })

  after(async () => {
    await db?.conn.end()
  })

  it('shows a Django db session by key on stdin: user, expiry, format, and its keys with types and sizes, no values', async () => {
    const r = await sessionctl(['sessions', 'show', ...mysqlStore(), '-'], {input: `${key('json42')}\n`})
    assert.equal(r.code, 0, r.stderr)
    const out = r.stdout
    assert.match(out, /^Session +\S{4}…[\da-f]{8}$/m)
    assert.match(out, /^User +42$/m)
    assert.match(out, /^State +live$/m)
    assert.match(out, /^Expires +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(in 13d\)$/m)
    assert.match(out, /^Format +django \(signed\)$/m)
    assert.match(out, /^Signature +not checked \(--secret-key checks it\)$/m)
    assert.match(out, /^cart +list \(3 items\) +7$/m)
    assert.match(out, /^profile +dict \(2 keys\) +\d+$/m)
    assert.match(out, /^_auth_user_id +str +2$/m)
    assert.match(out, /^_auth_user_hash +str +64$/m)
    assert.doesNotMatch(out, /Ann|ModelBackend/, 'no values without --reveal')
    assert.match(out, /values not shown \(--reveal shows them, secrets masked\)/)
  })

  it('--reveal shows the values, and masks secret-looking keys even then, at any depth', async () => {
    const r = await sessionctl(['sessions', 'show', ...mysqlStore(), key('json42'), '--reveal'], {env: {COLUMNS: '200'}})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^cart +list \(3 items\) +7 +\[1,2,3\]$/m)
    assert.match(r.stdout, /^csrf_token +str +\d+ +\(masked\)$/m)
    assert.match(r.stdout, /^_auth_user_hash +str +64 +\(masked\)$/m)
    assert.match(r.stdout, /^profile .*\{"api_token":"\(masked\)","name":"Ann"\}$/m)
    assert.match(r.stdout, /^_auth_user_backend +str +41 +"django\.contrib\.auth\.backends\.ModelBackend"$/m)
    const doc = await showJson([...mysqlStore(), key('json42'), '--reveal'])
    const byKey = new Map(doc.sessions[0].keys!.map(k => [k.key, k]))
    assert.deepEqual(byKey.get('cart'), {
      key: 'cart', masked: false, size: 7, type: 'list (3 items)', value: [1, 2, 3],
    })
    assert.deepEqual(byKey.get('csrf_token'), {
      key: 'csrf_token', masked: true, size: CSRF.length, type: 'str',
    })
    assert.equal(byKey.get('_auth_user_hash')!.value, undefined)
    assert.deepEqual(byKey.get('profile')!.value, {api_token: '(masked)', name: 'Ann'})
    // Without --reveal the JSON has no values at all.
    const plain = await showJson([...mysqlStore(), key('json42')])
    assert.ok(plain.sessions[0].keys!.every(k => !('value' in k)))
  })

  it('finds a session by the fingerprint list printed; a pickled one reads the same; --secret-key checks the signature', async () => {
    const listed = await sessionctl(['sessions', 'list', ...mysqlStore(), '--user', '7', '--json'])
    const {id} = JSON.parse(listed.stdout).sessions[0] as {id: string}
    const doc = await showJson([...mysqlStore(), id, '--reveal'])
    assert.equal(doc.sessions.length, 1)
    const [s] = doc.sessions
    assert.equal(s.id, id)
    assert.equal(s.userId, '7')
    assert.equal(s.format, 'django')
    assert.ok(s.ttlSeconds! > 13 * 86_400 && s.ttlSeconds! <= 14 * 86_400, String(s.ttlSeconds))
    assert.deepEqual(s.keys!.find(k => k.key === 'theme'), {
      key: 'theme', masked: false, size: 4, type: 'str', value: 'dark',
    })
    const checked = await showJson([...mysqlStore(), id, '--secret-key', SECRET])
    assert.equal(checked.sessions[0].signature, 'valid')
    const bad = await sessionctl(['sessions', 'show', ...mysqlStore(), id, '--secret-key', 'not-the-secret-key'])
    assert.equal(bad.code, 0, bad.stderr)
    assert.match(bad.stdout, /^User +nobody: the signature is bad \(the payload names 7\)$/m)
    const raw = await sessionctl(['sessions', 'show', ...mysqlStore(), id, '--show-keys'])
    assert.match(raw.stdout, new RegExp(`^Session +${key('pickle7')}$`, 'm'), 'the raw key only with --show-keys')
  })

  it('an anonymous session shows no user; a named value that is no session shows its size and why (exit 0)', async () => {
    const anon = await sessionctl(['sessions', 'show', ...mysqlStore(), key('anon')])
    assert.equal(anon.code, 0, anon.stderr)
    assert.match(anon.stdout, /^User +\(anonymous\)$/m)
    assert.match(anon.stdout, /^visits +int +1$/m)
    const bad = await sessionctl(['sessions', 'show', ...mysqlStore(), 'notasessionxxxxxxxxxxxxxxxxxxxx1'])
    assert.equal(bad.code, 0, bad.stderr)
    assert.match(bad.stdout, /^Size +20 bytes$/m)
    assert.match(bad.stdout, /^Undecodable +not a Django session: /m)
    assert.doesNotMatch(bad.stdout, /^KEY/m)
  })

  it('payload text cannot act on the terminal: keys, values and the user id are shown escaped', async () => {
    const r = await sessionctl(['sessions', 'show', ...mysqlStore(), key('hostile'), '--reveal'], {env: {COLUMNS: '200'}})
    assert.equal(r.code, 0, r.stderr)
    // No control character but the newlines that end lines, no bidi override.
    assert.ok(![...r.stdout].some(ch => (ch < ' ' && ch !== '\n') || ch === '\u007F' || ch === '\u202E'), r.stdout)
    assert.match(r.stdout, /^User +9\\x1b\[31m$/m)
    assert.match(r.stdout, /^\\x1b\[2Jkey +str +\d+ +"\\u001b\]0;pwned\\u0007 \\u202eevil"$/m)
    assert.match(r.stdout, /^note +str +11 +"line1\\nline2"$/m)
  })

  it('shows a Django cache session from Redis, and a cached_db session in both of its stores', async () => {
    const cache = ['--store', redisUrl, '--format', 'django-cache', '--prefix', `${cachePrefix}:1:`]
    const doc = await showJson([...cache, key('cache42'), '--reveal'])
    const [s] = doc.sessions
    assert.equal(s.userId, '42')
    assert.equal(s.format, 'django-cache')
    assert.match(s.variant!, /pickle/)
    assert.equal(s.signature, 'unchecked')
    assert.ok(s.ttlSeconds! > 0)
    assert.deepEqual(s.keys!.map(k => [k.key, k.type, k.masked]), [
      ['lang', 'str', false], ['_auth_user_id', 'str', false], ['_auth_user_backend', 'str', false], ['_auth_user_hash', 'str', true],
    ])
    // cached_db keeps the session in the table and in the cache: one name, two stores, both shown.
    const dir = mkdtempSync(join(tmpdir(), 'sessionctl-show-'))
    const config = join(dir, 'sessionctl.json')
    writeFileSync(config, JSON.stringify({
      profiles: {site: {stores: [{format: 'django', store: db.url}, {format: 'django-cache', prefix: `${cachePrefix}:1:`, store: redisUrl}]}},
    }))
    const r = await sessionctl(['sessions', 'show', '--config', config, '--store', 'site', key('cdb42')])
    rmSync(dir, {force: true, recursive: true})
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.match(/^Session /gm)?.length, 2)
    assert.match(r.stdout, /^2 sessions named \S+, in 2 stores$/m)
  })

  it('shows an express session from connect-redis with JavaScript type names', async () => {
    const doc = await showJson(['--store', redisUrl, '--format', 'express', '--prefix', express.prefix, express.sid, '--reveal'])
    const [s] = doc.sessions
    assert.equal(s.userId, '42')
    assert.equal(s.format, 'express')
    assert.equal(s.signature, 'unchecked')
    const byKey = new Map(s.keys!.map(k => [k.key, k]))
    assert.equal(byKey.get('views')!.type, 'number')
    assert.deepEqual(byKey.get('passport')!.value, {user: 42})
    assert.equal(byKey.get('passport')!.type, 'object (1 key)')
    assert.equal(byKey.get('csrfSecret')!.masked, true)
    assert.equal(byKey.get('csrfSecret')!.value, undefined)
    assert.equal(byKey.get('cookie')!.type, 'object (4 keys)')
    const text = await sessionctl(['sessions', 'show', '--store', redisUrl, '--format', 'express', '--prefix', express.prefix, express.sid])
    assert.match(text.stdout, /^Signature +none \(the format is not signed\)$/m)
  })

  it('a name that matches nothing exits 3 with one line; bad names exit 2 before any store is read', async () => {
    const none = await sessionctl(['sessions', 'show', ...mysqlStore(), 'nosuchsessionxxxxxxxxxxxxxxxxxx'])
    assert.equal(none.code, 3)
    assert.equal(none.stdout, '')
    assert.match(none.stderr, /^sessionctl: no session named nosu…[\da-f]{8} in mysql:\/\/\S+ \(table \S+\)\n$/)
    assert.doesNotMatch(none.stderr, /nosuchsession/, 'the raw key is not echoed')
    const json = await sessionctl(['sessions', 'show', ...mysqlStore(), 'abcd…12345678', '--json'])
    assert.equal(json.code, 3)
    assert.equal(JSON.parse(json.stdout).error.exitCode, 3)
    // Refused before connecting: an unreachable store would otherwise be the error.
    const unreachable = ['--store', 'mysql://root@127.0.0.1:1/x']
    for (const [args, input, message] of [
      [[''], '', /KEY "" names no session/],
      [['abcd…1234'], '', /the KEY argument is not a whole fingerprint/],
      [['a b'], '', /the KEY argument holds spaces or control characters/],
      [['-'], '', /KEY -: stdin is empty/],
      [['-'], 'one\ntwo\n', /the KEY argument holds spaces or control characters/],
      [[], '', /missing KEY/],
      [['a', 'b'], '', /Unexpected argument/],
    ] as Array<[string[], string, RegExp]>) {
      const r = await sessionctl(['sessions', 'show', ...unreachable, ...args], {input})
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, message)
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    }
  })
})

describe('sessions show on sessions written by Laravel 8 (database driver, MariaDB)', function () {
  this.timeout(120_000)
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let id: string
  const target = (): LaravelTarget => ({driver: 'database', mysql: mysqlParams(db.url), table: 'sessions'})

  before(async function () {
    requirePhp(this)
    db = await freshDatabase()
    await laravelMigrate({...target(), fresh: true});
    [id] = await laravelWrite(target(), [{
      attrs: {
        cart: {items: [3, 4], total: 9.5}, locale: 'fr', pin: 1234, remember: true,
      }, ip: '203.0.113.7', user: 42, userAgent: 'Mozilla/5.0 (Laravel test)',
    }])
    registerSessionKeys([id])
  })

  after(async () => {
    await db?.conn.end()
  })

  it('names PHP types, shows the row’s ip and user agent, and masks the CSRF _token', async () => {
    const store = ['--store', db.url, '--format', 'laravel']
    const r = await sessionctl(['sessions', 'show', ...store, id, '--reveal'], {env: {COLUMNS: '200'}})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^User +42$/m)
    assert.match(r.stdout, /^Ip +203\.0\.113\.7$/m)
    assert.match(r.stdout, /^User agent +Mozilla\/5\.0 \(Laravel test\)$/m)
    assert.match(r.stdout, /^Format +laravel \(/m)
    assert.match(r.stdout, /^_token +string +40 +\(masked\)$/m)
    assert.match(r.stdout, /^cart +array \(2 keys\) +\d+ +\{"items":\[3,4\],"total":9\.5\}$/m)
    assert.match(r.stdout, /^pin +int +4 +1234$/m)
    assert.match(r.stdout, /^remember +bool +4 +true$/m)
    assert.match(r.stdout, /^login_web_59ba36addc2b2f9401580f014c7f58ea4e30989d +int +2 +42$/m)
    const doc = await showJson([...store, id, '--reveal'])
    const token = doc.sessions[0].keys!.find(k => k.key === '_token')!
    assert.deepEqual(token, {
      key: '_token', masked: true, size: 40, type: 'string',
    })
  })
})

describe('sessions show on sessions written by Rails 6.1 (cache store over Redis)', function () {
  this.timeout(120_000)
  const DB = 13
  let written: RailsWritten

  before(async function () {
    requireRails(this)
    const redis = new Redis(`${testRedisUrl()}/${DB}`)
    await redis.flushdb()
    await redis.quit()
    written = await cacheWrite({redis: railsRedisParams(testRedisUrl(), DB)}, [{
      attrs: {
        admin: false, cart: [1, 2], prefs: {theme: 'dark'}, ratio: 0.5,
      }, user: 42,
    }])
    registerSessionKeys([...written.ids, ...written.keys])
  })

  it('finds it by the cookie’s public id, names Ruby types, and masks the CSRF token and Devise’s salt-bearing key', async () => {
    const store = ['--store', `${testRedisUrl()}/${DB}`, '--format', 'rails']
    const r = await sessionctl(['sessions', 'show', ...store, '-', '--reveal'], {env: {COLUMNS: '200'}, input: written.ids[0]})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^User +42$/m)
    assert.match(r.stdout, /^Format +rails \(cache-entry\)$/m)
    assert.match(r.stdout, /^_csrf_token +String +44 +\(masked\)$/m)
    assert.match(r.stdout, /^warden\.user\.user\.key +Array \(2 items\) +\d+ +\(masked\)$/m)
    assert.match(r.stdout, /^prefs +Hash \(1 key\) +16 +\{"theme":"dark"\}$/m)
    assert.match(r.stdout, /^ratio +Float +3 +0\.5$/m)
    assert.match(r.stdout, /^admin +false +5 +false$/m)
    const doc = await showJson([...store, written.ids[0], '--reveal'])
    assert.equal(doc.sessions[0].keys!.find(k => k.key === 'warden.user.user.key')!.value, undefined)
  })
})
