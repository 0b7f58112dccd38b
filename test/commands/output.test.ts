/**
 * Output as kubectl users expect it (issue 17, point 5), against the in-memory store: -o
 * json|ndjson|csv|yaml|table|wide on list, purge and revoke (-o json|yaml on show, stats and
 * doctor), --no-headers, --columns, the summary line on stderr, warnings in the document.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'

import {fitWidths, StreamingTable} from '../../src/cli/render.js'
import {toYaml} from '../../src/cli/yaml.js'
import {fingerprint} from '../../src/sessions/keys.js'
import {sessionctl} from '../support/cli.js'
import {encodeSigned} from '../support/django-encode.js'
import {memoryData, type MemoryRow, useMemoryStores} from '../support/memory-store.js'
import {run} from '../support/run.js'

const SECRET = 'output-test-secret'
const HOUR = 3_600_000

function key(name: string): string {
  return name.padEnd(32, '0')
}

function row(user: string, expiresIn: number): MemoryRow {
  return {expiresAt: new Date(Date.now() + expiresIn), value: Buffer.from(encodeSigned({_auth_user_id: user}, {secretKey: SECRET}))}
}

function seed(name: string): void {
  memoryData.set(name, new Map<string, MemoryRow>([
    [key('a42live'), row('42', 2 * HOUR)],
    [key('b42live'), row('42', 5 * 24 * HOUR)],
    [key('c42old'), row('42', -HOUR)],
    [key('d7'), row('7', HOUR)],
    [key('ggarbage'), {expiresAt: new Date(Date.now() + HOUR), value: Buffer.from('.eJxub3QtemxpYi1hdC1hbGw:1xWfJ4:abc')}],
  ]))
}

/** What python3's yaml.safe_load makes of the text, as JSON. */
function pyYaml(text: string): unknown {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))'], {encoding: 'utf8', input: text})
  assert.equal(r.status, 0, r.stderr)
  return JSON.parse(r.stdout)
}

describe('output: -o, --no-headers, --columns', () => {
  before(() => useMemoryStores())

  it('-o json is --json: the same document', async () => {
    seed('o1')
    const flag = await run(['sessions', 'list', '--store', 'memory://o1', '--user', '42', '--json'])
    const short = await run(['sessions', 'list', '--store', 'memory://o1', '--user', '42', '-o', 'json'])
    const long = await run(['sessions', 'list', '--store', 'memory://o1', '--user', '42', '--output=json'])
    assert.equal(short.exitCode, 0, short.stderr)
    const doc = JSON.parse(short.stdout) as {sessions: Array<{id: string}>}
    assert.deepEqual(doc.sessions.map(s => s.id).sort(), [fingerprint(key('a42live')), fingerprint(key('b42live'))].sort())
    const strip = (text: string): unknown => ({...JSON.parse(text), stores: undefined, summary: undefined})
    assert.deepEqual(strip(short.stdout), strip(flag.stdout))
    assert.deepEqual(strip(long.stdout), strip(flag.stdout))
  })

  it('-o yaml prints the document as YAML that python\'s yaml.safe_load reads back to the JSON values', async () => {
    seed('o2')
    const json = await run(['sessions', 'list', '--store', 'memory://o2', '--all', '--json'])
    const yaml = await run(['sessions', 'list', '--store', 'memory://o2', '--all', '-o', 'yaml'])
    assert.equal(yaml.exitCode, 0, yaml.stderr)
    const fromJson = JSON.parse(json.stdout) as {sessions: unknown[]; summary: unknown; warnings: string[]}
    const fromYaml = pyYaml(yaml.stdout) as typeof fromJson
    assert.deepEqual(fromYaml.sessions, fromJson.sessions)
    assert.deepEqual(fromYaml.summary, fromJson.summary)
    assert.deepEqual(fromYaml.warnings, fromJson.warnings)
  })

  it('the YAML emitter quotes whatever a YAML reader would take for something else', () => {
    const tricky = {
      '': 'empty key',
      ' lead': ['yes', 'No', 'on', 'null', '~', 'true', '1e3', '0x1F', '012', '1_000', '2026-12-03', '12:30:00', '.inf', '-', '?', '- a', 'a: b', 'a #b', '#c'],
      controls: 'nl\ncr\rtab\tesc\u001B[2Jdel\u007Fc1\u0085ls\u2028bidi\u202Etag\u{E0041}',
      quotes: String.raw`say "hi" \ 'there'`,
      nested: {deep: [{a: 1, b: null}, [], {}], n: -1.5, t: false},
      unicode: 'zoë → ✓',
    }
    assert.deepEqual(pyYaml(toYaml(tricky)), tricky)
    // eslint-disable-next-line no-control-regex -- raw control characters are what must not appear
    assert.doesNotMatch(toYaml(tricky), /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u2028\u202E]/)
  })

  it('ndjson and csv stream one session per line; --no-headers drops the table\'s and csv\'s header line', async () => {
    seed('o3')
    const ndjson = await run(['sessions', 'list', '--store', 'memory://o3', '--user', '42', '-o', 'ndjson'])
    assert.deepEqual(ndjson.stdout.trimEnd().split('\n').map(l => (JSON.parse(l) as {userId: string}).userId), ['42', '42'])
    const csv = await run(['sessions', 'list', '--store', 'memory://o3', '--user', '42', '-o', 'csv', '--no-headers', '--columns', 'id,state'])
    assert.deepEqual(csv.stdout.trimEnd().split('\n').sort(), [`${fingerprint(key('a42live'))},live`, `${fingerprint(key('b42live'))},live`].sort())
    const table = await run(['sessions', 'list', '--store', 'memory://o3', '--user', '42', '--no-headers'])
    assert.equal(table.stdout.trimEnd().split('\n').length, 2, table.stdout)
    assert.doesNotMatch(table.stdout, /SESSION/)
    assert.match(table.stderr, /^2 live sessions of user 42 \(scanned/m)
  })

  it('-o wide adds the store column; table leaves it out for one store', async () => {
    seed('o4')
    const table = await run(['sessions', 'list', '--store', 'memory://o4', '--user', '42'])
    const wide = await run(['sessions', 'list', '--store', 'memory://o4', '--user', '42', '-o', 'wide'])
    assert.doesNotMatch(table.stdout.split('\n')[0], /STORE/)
    assert.match(wide.stdout.split('\n')[0], /SESSION +USER +EXPIRES \(UTC\) +STATE +SIZE +STORE$/)
    assert.match(wide.stdout.split('\n')[1], /memory:\/\/o4/)
  })

  it('refuses combinations that mean nothing, before any I/O (exit 2, one line)', async () => {
    for (const args of [
      ['--json', '-o', 'csv'],
      ['-o', 'json', '--no-headers'],
      ['-o', 'yaml', '--columns', 'id'],
      ['-o', 'ndjson', '--columns', 'id'],
      ['-o', 'xml'],
    ]) {
      const r = await sessionctl(['sessions', 'list', '--store', 'mysql://nobody@127.0.0.1:1/none', ...args])
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      // Under -o json (or --json) the error is JSON.
      if (args.some(a => a.endsWith('json') && a !== 'ndjson')) assert.equal((JSON.parse(r.stdout) as {error: {exitCode: number}}).error.exitCode, 2)
      else assert.match(r.stderr, /^sessionctl: .+\n$/)
    }
  })

  it('purge: -o csv prints the selection as CSV on stdout and its human lines on stderr; -o yaml the document', async () => {
    seed('o5')
    const csv = await run(['sessions', 'purge', '--store', 'memory://o5', '--user', '42', '--dry-run', '-o', 'csv', '--columns', 'id,state'])
    assert.equal(csv.exitCode, 0, csv.stderr)
    assert.deepEqual(csv.stdout.trimEnd().split('\n').sort(), ['id,state', `${fingerprint(key('a42live'))},live`, `${fingerprint(key('b42live'))},live`, `${fingerprint(key('c42old'))},expired`].sort())
    assert.match(csv.stderr, /Dry run: would delete 3 sessions/)
    const yaml = await run(['sessions', 'purge', '--store', 'memory://o5', '--user', '42', '--dry-run', '-o', 'yaml'])
    const doc = pyYaml(yaml.stdout) as {dryRun: boolean; matched: number; sessions: unknown[]}
    assert.equal(doc.dryRun, true)
    assert.equal(doc.sessions.length, 3)
    assert.equal(memoryData.get('o5')!.size, 5, 'a dry run deletes nothing')
  })

  it('revoke: -o ndjson prints the named sessions, one JSON line each', async () => {
    seed('o6')
    const r = await run(['sessions', 'revoke', '--store', 'memory://o6', '--dry-run', '-o', 'ndjson', fingerprint(key('d7'))])
    assert.equal(r.exitCode, 0, r.stderr)
    assert.deepEqual(r.stdout.trimEnd().split('\n').map(l => (JSON.parse(l) as {id: string}).id), [fingerprint(key('d7'))])
  })

  it('warnings (an --except that matched nothing, undecodable values) are in the JSON document too', async () => {
    seed('o7')
    const r = await run(['sessions', 'purge', '--store', 'memory://o7', '--user', '42', '--dry-run', '--json', '--allow-unmatched-except', '--except', key('d7')])
    assert.equal(r.exitCode, 0, r.stderr)
    const doc = JSON.parse(r.stdout) as {warnings?: string[]}
    assert.ok(doc.warnings?.some(w => /--except \S+ names none of user 42's selected sessions/.test(w)), r.stdout)
    assert.ok(doc.warnings?.some(w => /1 undecodable value skipped/.test(w)), r.stdout)
    assert.match(r.stderr, /names none of user 42's selected sessions/, 'still on stderr too')
    const yaml = await run(['sessions', 'list', '--store', 'memory://o7', '-o', 'yaml'])
    assert.ok((pyYaml(yaml.stdout) as {warnings?: string[]}).warnings?.some(w => /undecodable value skipped/.test(w)), yaml.stdout)
  })

  it('stats and show take -o json and -o yaml', async () => {
    seed('o8')
    const stats = await run(['sessions', 'stats', '--store', 'memory://o8', '-o', 'yaml'])
    assert.equal(stats.exitCode, 0, stats.stderr)
    assert.ok(Array.isArray((pyYaml(stats.stdout) as {stores: unknown[]}).stores))
    const show = await run(['sessions', 'show', '--store', 'memory://o8', '-o', 'json', fingerprint(key('d7'))])
    assert.equal(show.exitCode, 0, show.stderr)
    assert.equal((JSON.parse(show.stdout) as {sessions: Array<{userId: string}>}).sessions[0].userId, '7')
  })
})

describe('tables fit the terminal', () => {
  const columns = [
    {header: 'SESSION', value: (r: string[]) => r[0]},
    {header: 'USER', shrink: true as const, value: (r: string[]) => r[1]},
    {header: 'STORE', shrink: 'first' as const, value: (r: string[]) => r[2]},
  ]
  const rows = [['abcd…12345678', 'a-rather-long-user-name-that-goes-on', 'mysql://root@127.0.0.1:33061/app (table app.django_session)']]

  function print(maxWidth?: number): string[] {
    const lines: string[] = []
    const table = new StreamingTable(columns, line => lines.push(line), {maxWidth})
    table.push(rows)
    table.end()
    return lines
  }

  it('cuts the store label first, then the widest free-text column, with an ellipsis; no row wider than the terminal', () => {
    const wide = print(80)
    assert.ok(wide.every(l => l.length <= 80), wide.join('\n'))
    assert.match(wide[1], /^abcd…12345678 {2}a-rather-long-user-name-that-goes-on {2}mysql:\/\/\S*…$/)
    const narrow = print(50)
    assert.ok(narrow.every(l => l.length <= 50), narrow.join('\n'))
    assert.match(narrow[1], /^abcd…12345678 {2}a-rather-long\S*… {2}mysql:\S*…$/)
  })

  it('without a terminal nothing is cut', () => {
    const lines = print()
    assert.ok(lines[1].endsWith(rows[0][2]))
    assert.deepEqual(fitWidths(columns, [13, 36, 60]), [13, 36, 60])
  })
})
