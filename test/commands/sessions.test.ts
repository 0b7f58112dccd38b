/**
 * The commands as an operator sees them (output, exit codes, prompts, refusals), against the
 * in-memory store. The same behaviour against real MariaDB is in test/integration.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {fingerprint} from '../../src/sessions/keys.js'
import {encodeSigned} from '../support/django-encode.js'
import {
  lockedNames, memoryData, type MemoryRow, useMemoryStores,
} from '../support/memory-store.js'
import {run} from '../support/run.js'

const SECRET = 'command-test-secret'
const HOUR = 3_600_000

function key(name: string): string {
  return name.padEnd(32, '0')
}

function row(user: null | string, expiresIn: number, extra: Record<string, unknown> = {}): MemoryRow {
  const data = user === null ? {visits: 1, ...extra} : {_auth_user_id: user, ...extra}
  return {expiresAt: new Date(Date.now() + expiresIn), value: Buffer.from(encodeSigned(data, {secretKey: SECRET}))}
}

function seed(name: string): Map<string, MemoryRow> {
  const rows = new Map<string, MemoryRow>([
    [key('a42live'), row('42', 2 * HOUR)],
    [key('b42live'), row('42', 5 * 24 * HOUR)],
    [key('c42old'), row('42', -HOUR)],
    [key('d420'), row('420', HOUR)],
    [key('e4'), row('4', HOUR)],
    [key('fanon'), row(null, HOUR)],
    [key('ggarbage'), {expiresAt: new Date(Date.now() + HOUR), value: Buffer.from('.eJxub3QtemxpYi1hdC1hbGw:1xWfJ4:abc')}],
  ])
  memoryData.set(name, rows)
  return rows
}

describe('sessions list', () => {
  before(() => useMemoryStores())

  it('prints the user’s live sessions as a table with masked keys', async () => {
    seed('list1')
    const {exitCode, stderr, stdout} = await run(['sessions', 'list', '--store', 'memory://list1', '--user', '42'])
    assert.equal(exitCode, 0, stderr)
    assert.match(stdout, /SESSION\s+USER\s+EXPIRES \(UTC\)\s+STATE\s+SIZE/)
    assert.ok(stdout.includes(fingerprint(key('a42live'))))
    assert.ok(stdout.includes(fingerprint(key('b42live'))))
    assert.ok(!stdout.includes(fingerprint(key('c42old'))), 'expired sessions are not listed by default')
    assert.ok(!stdout.includes(key('a42live')), 'raw keys are never printed without --show-keys')
    // The summary goes to stderr: stdout is the table alone, so `list | wc -l` counts sessions (and its header).
    assert.equal(stdout.trimEnd().split('\n').length, 3, stdout)
    assert.match(stderr, /^2 live sessions of user 42 \(scanned 6 in/m)
    assert.match(stderr, /1 undecodable value skipped \(bad zlib: 1\)/)
  })

  it('prints raw keys only with --show-keys', async () => {
    seed('list2')
    const {stdout} = await run(['sessions', 'list', '--store', 'memory://list2', '--user', '42', '--show-keys'])
    assert.ok(stdout.includes(key('a42live')))
  })

  it('--json prints one document with the sessions and what was scanned', async () => {
    seed('list3')
    const {exitCode, stdout} = await run(['sessions', 'list', '--store', 'memory://list3', '--user', '42', '--all', '--json'])
    assert.equal(exitCode, 0)
    const doc = JSON.parse(stdout)
    assert.equal(doc.sessions.length, 3)
    for (const s of doc.sessions) {
      assert.equal(s.userId, '42')
      assert.match(s.id, /^\w{4}…[\da-f]{8}$/)
      assert.match(s.expiresAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
      assert.equal(typeof s.expired, 'boolean')
    }

    assert.deepEqual(doc.sessions.filter((s: {expired: boolean}) => s.expired).length, 1)
    assert.deepEqual(doc.summary, {
      badSignature: 0, matched: 3, ownerUnknown: 0, scanned: 7, undecodable: 1, undecodableCounted: 'candidates',
    })
    assert.deepEqual(doc.stores[0].undecodable, {'bad zlib': 1})
  })

  it('--json says what the undecodable counts cover: with --user, not JSON is counted among candidates only; --strict-counts counts it', async () => {
    const rows = seed('list3s')
    const notJson = (text: string): MemoryRow => ({expiresAt: new Date(Date.now() + HOUR), value: Buffer.from(`${Buffer.from(text).toString('base64url')}:1xWfJ4:abc`)})
    rows.set(key('hnotjson7'), notJson('{"_auth_user_id":"7",'))
    rows.set(key('inotjson42'), notJson('{"_auth_user_id":"42",'))
    const counts = async (...flags: string[]): Promise<{stores: Array<{undecodable: unknown; undecodableCounted: string}>; summary: {undecodable: number; undecodableCounted: string}}> =>
      JSON.parse((await run(['sessions', 'list', '--store', 'memory://list3s', ...flags, '--json'])).stdout)
    const user = await counts('--user', '42')
    assert.deepEqual(user.stores[0].undecodable, {'bad zlib': 1, 'not JSON': 1}, 'the not-JSON value that cannot be user 42’s is not parsed')
    assert.equal(user.summary.undecodableCounted, 'candidates')
    assert.equal(user.stores[0].undecodableCounted, 'candidates')
    const strict = await counts('--user', '42', '--strict-counts')
    assert.deepEqual(strict.stores[0].undecodable, {'bad zlib': 1, 'not JSON': 2})
    assert.equal(strict.summary.undecodableCounted, 'all')
    const everyone = await counts()
    assert.deepEqual(everyone.stores[0].undecodable, {'bad zlib': 1, 'not JSON': 2})
    assert.equal(everyone.summary.undecodableCounted, 'all')
  })

  it('--expired-only lists only the expired ones', async () => {
    seed('list4')
    const {stdout} = await run(['sessions', 'list', '--store', 'memory://list4', '--user', '42', '--expired-only', '--json'])
    const doc = JSON.parse(stdout)
    assert.deepEqual(doc.sessions.map((s: {id: string}) => s.id), [fingerprint(key('c42old'))])
  })

  it('streams NDJSON and CSV', async () => {
    seed('list5')
    const nd = await run(['sessions', 'list', '--store', 'memory://list5', '--output', 'ndjson'])
    const lines = nd.stdout.trim().split('\n').map(l => JSON.parse(l))
    assert.equal(lines.length, 5, 'every live decodable session, any user')
    const csv = await run(['sessions', 'list', '--store', 'memory://list5', '--user', '42', '--output', 'csv'])
    const rows = csv.stdout.trim().split('\n')
    assert.equal(rows[0], 'id,userId,expiresAt,state,size,store')
    assert.equal(rows.length, 3)
  })

  it('matches user ids as text: 4 is not 42 and 42 is not 420', async () => {
    seed('list6')
    const four = JSON.parse((await run(['sessions', 'list', '--store', 'memory://list6', '--user', '4', '--json'])).stdout)
    assert.deepEqual(four.sessions.map((s: {id: string}) => s.id), [fingerprint(key('e4'))])
  })

  it('ignores forged sessions when --secret-key is given', async () => {
    const rows = seed('list7')
    rows.set(key('hforged'), {expiresAt: new Date(Date.now() + HOUR), value: Buffer.from(encodeSigned({_auth_user_id: '42'}, {secretKey: 'wrong'}))})
    const without = JSON.parse((await run(['sessions', 'list', '--store', 'memory://list7', '--user', '42', '--json'])).stdout)
    assert.equal(without.sessions.length, 3)
    const checked = await run(['sessions', 'list', '--store', 'memory://list7', '--user', '42', '--json'], {DJANGO_SECRET_KEY: SECRET})
    const doc = JSON.parse(checked.stdout)
    assert.equal(doc.sessions.length, 2)
    assert.equal(doc.summary.badSignature, 1)
    assert.match(checked.stderr, /1 session with a bad signature ignored/)
    assert.ok(!checked.stderr.includes(SECRET) && !checked.stdout.includes(SECRET))
  })
})

describe('sessions purge', () => {
  before(() => useMemoryStores())

  it('refuses to delete without a terminal unless --yes, and deletes nothing', async () => {
    const rows = seed('p1')
    const {exitCode, stderr} = await run(['sessions', 'purge', '--store', 'memory://p1', '--user', '42'])
    assert.equal(exitCode, 3)
    assert.match(stderr, /refusing to delete without confirmation: there is no terminal to ask on; add --yes/)
    assert.equal(rows.size, 7)
  })

  it('--dry-run prints exactly what would go and deletes nothing', async () => {
    const rows = seed('p2')
    const {exitCode, stdout} = await run(['sessions', 'purge', '--store', 'memory://p2', '--user', '42', '--dry-run'])
    assert.equal(exitCode, 0)
    for (const k of ['a42live', 'b42live', 'c42old']) assert.ok(stdout.includes(fingerprint(key(k))), k)
    assert.match(stdout, /Dry run: would delete 3 sessions; nothing was deleted\./)
    assert.equal(rows.size, 7)
    const json = JSON.parse((await run(['sessions', 'purge', '--store', 'memory://p2', '--user', '42', '--dry-run', '--json'])).stdout)
    assert.deepEqual({deleted: json.deleted, dryRun: json.dryRun, matched: json.matched}, {deleted: 0, dryRun: true, matched: 3})
  })

  it('--yes deletes all of the user’s sessions, live and expired, and nothing else', async () => {
    const rows = seed('p3')
    const {exitCode, stdout} = await run(['sessions', 'purge', '--store', 'memory://p3', '--user', '42', '--yes'])
    assert.equal(exitCode, 0)
    assert.match(stdout, /Deleted 3 sessions of user 42\./)
    assert.deepEqual([...rows.keys()].sort(), [key('d420'), key('e4'), key('fanon'), key('ggarbage')])
  })

  it('--except keeps sessions named by key or by fingerprint', async () => {
    const rows = seed('p4')
    const json = JSON.parse((
      await run([
        'sessions',
        'purge',
        '--store',
        'memory://p4',
        '--user',
        '42',
        '--yes',
        '--json',
        '--except',
        key('a42live'),
        '--except',
        fingerprint(key('b42live')).replace('…', '...'),
      ])
    ).stdout)
    assert.equal(json.deleted, 1)
    assert.equal(json.kept, 2)
    assert.ok(rows.has(key('a42live')) && rows.has(key('b42live')) && !rows.has(key('c42old')))
  })

  it('refuses --except keys that are not the user’s (exit 3, nothing deleted) unless --allow-unmatched-except', async () => {
    const rows = seed('p5')
    const before = rows.size
    const refused = await run(['sessions', 'purge', '--store', 'memory://p5', '--user', '42', '--yes', '--except', key('d420')])
    assert.equal(refused.exitCode, 3)
    assert.match(refused.stderr, new RegExp(`--except ${fingerprint(key('d420'))} names none of user 42's selected sessions`))
    assert.equal(rows.size, before, 'nothing deleted')
    const {exitCode, stderr} = await run(['sessions', 'purge', '--store', 'memory://p5', '--user', '42', '--yes', '--except', key('d420'), '--allow-unmatched-except'])
    assert.equal(exitCode, 0)
    assert.match(stderr, new RegExp(`--except ${fingerprint(key('d420'))} names none of user 42's selected sessions; nothing to keep for it`))
    assert.ok(!stderr.includes(key('d420')), 'the raw key is not echoed')
    assert.ok(rows.size < before)
  })

  it('--expired-only deletes only the expired sessions', async () => {
    const rows = seed('p6')
    await run(['sessions', 'purge', '--store', 'memory://p6', '--user', '42', '--expired-only', '--yes'])
    assert.ok(rows.has(key('a42live')) && rows.has(key('b42live')))
    assert.ok(!rows.has(key('c42old')))
  })

  it('says so and exits 0 when the user has no sessions', async () => {
    seed('p7')
    const {exitCode, stderr} = await run(['sessions', 'purge', '--store', 'memory://p7', '--user', '999', '--yes'])
    assert.equal(exitCode, 0)
    assert.match(stderr, /0 sessions of user 999 selected/)
  })
})

describe('bad input', () => {
  let dir: string

  before(() => {
    useMemoryStores()
    dir = mkdtempSync(join(tmpdir(), 'sessionctl-config-'))
  })

  after(() => rmSync(dir, {force: true, recursive: true}))

  const cases: Array<[string, string[], RegExp]> = [
    ['an empty user', ['sessions', 'list', '--store', 'memory://b', '--user', ''], /--user must not be empty|--user/],
    ['conflicting state flags', ['sessions', 'list', '--store', 'memory://b', '--all', '--expired-only'], /--all and --expired-only cannot be used together: drop one/],
    ['an unknown format', ['sessions', 'list', '--store', 'memory://b', '--format', 'nope'], /Expected --format=nope to be one of/],
    ['a URL with an unsupported scheme', ['sessions', 'list', '--store', 'mongodb://h/db'], /unsupported store URL "mongodb:\/\/h\/db": use mariadb:\/\/, mysql:\/\/, postgres:\/\/, postgresql:\/\//],
    ['no store at all', ['sessions', 'list'], /no store given/],
    ['an unknown time zone', ['sessions', 'list', '--store', 'memory://b', '--time-zone', 'Mars/Olympus'], /unknown time zone "Mars\/Olympus"/],
    ['a profile without a config file', ['sessions', 'list', '--store', 'prod'], /"prod" is neither a store URL .* nor a profile/],
    ['purge without --user', ['sessions', 'purge', '--store', 'memory://b', '--yes'], /missing required flag --user/],
    ['a SQL metacharacter in --table', ['sessions', 'list', '--store', 'mysql://root@127.0.0.1:1/app', '--table', 'x`;DROP'], /invalid table name "x`;DROP"/],
  ]
  for (const [what, args, message] of cases) {
    it(`rejects ${what} with one line and exit code 2`, async () => {
      memoryData.set('b', new Map())
      const {exitCode, stderr, stdout} = await run(args, {SESSIONCTL_STORE: undefined})
      assert.equal(exitCode, 2, stderr)
      assert.match(stderr, message)
      assert.equal(stderr.trim().split('\n').length, 1, stderr)
      assert.equal(stdout, '')
    })
  }

  it('rejects a config file that is not JSON', async () => {
    const path = join(dir, 'broken.json')
    writeFileSync(path, '{"profiles": {')
    const {exitCode, stderr} = await run(['sessions', 'list', '--store', 'prod', '--config', path])
    assert.equal(exitCode, 2)
    assert.match(stderr, /config file .*broken\.json is not valid JSON/)
  })

  it('rejects a missing profile and names the ones that exist', async () => {
    const path = join(dir, 'ok.json')
    writeFileSync(path, JSON.stringify({profiles: {db: {store: 'memory://cfg'}}}))
    const {exitCode, stderr} = await run(['sessions', 'list', '--store', 'prod', '--config', path])
    assert.equal(exitCode, 2)
    assert.match(stderr, /no profile "prod" in .*ok\.json \(profiles: db\)/)
  })

  it('uses a profile from the config file named by SESSIONCTL_CONFIG', async () => {
    seed('cfg')
    const path = join(dir, 'env.json')
    writeFileSync(path, JSON.stringify({profiles: {db: {format: 'django', store: 'memory://cfg'}}}))
    const {exitCode, stdout} = await run(['sessions', 'list', '--store', 'db', '--user', '42', '--json'], {SESSIONCTL_CONFIG: path})
    assert.equal(exitCode, 0)
    assert.equal(JSON.parse(stdout).sessions.length, 2)
  })

  it('takes the store from SESSIONCTL_STORE', async () => {
    seed('envstore')
    const {exitCode, stdout} = await run(['sessions', 'list', '--user', '42', '--json'], {SESSIONCTL_STORE: 'memory://envstore'})
    assert.equal(exitCode, 0)
    assert.equal(JSON.parse(stdout).sessions.length, 2)
  })

  it('prints errors as a JSON document with --json', async () => {
    const {exitCode, stdout} = await run(['sessions', 'list', '--store', 'mongodb://h/db', '--json'])
    assert.equal(exitCode, 2)
    const doc = JSON.parse(stdout)
    assert.equal(doc.error.exitCode, 2)
    assert.match(doc.error.message, /unsupported store URL/)
  })
})

describe('sessions cleanup', () => {
  before(() => useMemoryStores())

  it('deletes every expired session of every user, says so in one line, exits 0', async () => {
    const rows = seed('c1')
    const {exitCode, stderr, stdout} = await run(['sessions', 'cleanup', '--store', 'memory://c1'])
    assert.equal(exitCode, 0, stderr)
    assert.equal(stderr, '')
    assert.match(stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ memory:\/\/c1: deleted 1 expired session in 1 batch, [\d.]+ s \(longest statement \d+ ms\); done\n$/)
    assert.ok(!rows.has(key('c42old')))
    assert.equal(rows.size, 6)
  })

  it('--dry-run counts and deletes nothing; --json is one document', async () => {
    const rows = seed('c2')
    const {stdout} = await run(['sessions', 'cleanup', '--store', 'memory://c2', '--dry-run', '--json'])
    const doc = JSON.parse(stdout)
    assert.deepEqual({
      batches: doc.batches, deleted: doc.deleted, dryRun: doc.dryRun, stoppedBy: doc.stoppedBy,
    }, {
      batches: 0, deleted: 0, dryRun: true, stoppedBy: 'done',
    })
    assert.equal(doc.stores[0].expired, 1)
    assert.equal(rows.size, 7)
  })

  it('exits 5 when another cleanup holds the lock', async () => {
    seed('c3')
    lockedNames.add('memory://c3')
    try {
      const {exitCode, stderr} = await run(['sessions', 'cleanup', '--store', 'memory://c3'])
      assert.equal(exitCode, 5)
      assert.match(stderr, /another cleanup of memory:\/\/c3 is running/)
    } finally {
      lockedNames.delete('memory://c3')
    }
  })

  it('rejects pacing options that make no sense', async () => {
    for (const args of [['--sleep-factor', 'fast'], ['--sleep-factor', '-1'], ['--max-replica-lag', '2'], ['--target-ms', '0'], ['--batch-size', '0']]) {
      const {exitCode, stderr} = await run(['sessions', 'cleanup', '--store', 'memory://c3', ...args])
      assert.equal(exitCode, 2, `${args.join(' ')}: ${stderr}`)
    }
  })
})
