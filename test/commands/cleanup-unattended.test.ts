/**
 * `sessions cleanup` as cron, systemd and Kubernetes run it, against the in-memory store:
 * --exit-zero-on, timestamped summary lines, one compact JSON line, and --metrics-file (a
 * Prometheus text file, checked here by a parser of the text format). The same on real servers,
 * with --progress and --max-runtime, is in test/integration/cleanup-mysql.test.ts.
 */
import assert from 'node:assert/strict'
import {
  chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {MetricsFile} from '../../src/cli/metrics.js'
import {encodeSigned} from '../support/django-encode.js'
import {
  lockedNames, memoryData, type MemoryRow, useMemoryStores,
} from '../support/memory-store.js'
import {run} from '../support/run.js'

const HOUR = 3_600_000
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ /

function seed(name: string, expired = 3, live = 2): Map<string, MemoryRow> {
  const rows = new Map<string, MemoryRow>()
  for (let i = 0; i < expired + live; i++) {
    rows.set(`k${name}${i}`.padEnd(32, '0'), {
      expiresAt: new Date(Date.now() + (i < expired ? -HOUR : HOUR)),
      value: Buffer.from(encodeSigned({_auth_user_id: String(i)}, {secretKey: 'unattended-test'})),
    })
  }

  memoryData.set(name, rows)
  return rows
}

async function locked<T>(name: string, body: () => Promise<T>): Promise<T> {
  lockedNames.add(`memory://${name}`)
  try {
    return await body()
  } finally {
    lockedNames.delete(`memory://${name}`)
  }
}

/** One sample of the Prometheus text format: name, labels, value. */
interface Sample {
  labels: Record<string, string>
  name: string
  value: number
}

/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), as node_exporter's
 * textfile collector parses it: HELP and TYPE once per metric family, before its samples, metric
 * and label names by the format's grammar, label values quoted with \\ \" \n escapes, a float
 * value, a final newline. Throws on anything else.
 */
function parsePrometheus(text: string): {families: Map<string, {help: string; type: string}>; samples: Sample[]} {
  assert.ok(text.endsWith('\n'), 'the file ends with a newline')
  const families = new Map<string, {help: string; type: string}>()
  const samples: Sample[] = []
  const seen = new Set<string>()
  for (const [i, line] of text.slice(0, -1).split('\n').entries()) {
    const at = `line ${i + 1}: ${JSON.stringify(line)}`
    const help = /^# HELP ([A-Za-z_:][\w:]*) (.+)$/.exec(line)
    const type = /^# TYPE ([A-Za-z_:][\w:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (help) {
      assert.ok(!families.has(help[1]), `${at}: a second HELP`)
      families.set(help[1], {help: help[2], type: ''})
      continue
    }

    if (type) {
      const family = families.get(type[1])
      assert.ok(family && family.type === '', `${at}: TYPE without its HELP, or twice`)
      family.type = type[2]
      continue
    }

    assert.ok(!line.startsWith('#') && line.trim() !== '', `${at}: not a sample`)
    const m = /^([A-Za-z_:][\w:]*)(?:\{((?:[A-Za-z_]\w*="(?:[^"\\\n]|\\["\\n])*",?)*)\})? (\S+)$/.exec(line)
    assert.ok(m, `${at}: not a sample line`)
    assert.ok(families.get(m[1])?.type, `${at}: a sample before its HELP and TYPE`)
    const value = Number(m[3].replace(/^\+Inf$/, 'Infinity').replace(/^-Inf$/, '-Infinity'))
    assert.ok(!Number.isNaN(value) || m[3] === 'NaN', `${at}: not a number`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([A-Za-z_]\w*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replaceAll(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
    }

    const id = `${m[1]}${JSON.stringify(labels)}`
    assert.ok(!seen.has(id), `${at}: the same series twice`)
    seen.add(id)
    samples.push({labels, name: m[1], value})
  }

  return {families, samples}
}

function value(samples: Sample[], name: string, store: string): number | undefined {
  return samples.find(s => s.name === name && s.labels.store === store)?.value
}

describe('sessions cleanup, unattended', () => {
  let dir: string

  before(() => useMemoryStores())

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sessionctl-unattended-'))
  })

  afterEach(() => rmSync(dir, {force: true, recursive: true}))

  it('every summary line starts with an ISO 8601 UTC time', async () => {
    seed('u1')
    const before = Date.now()
    const r = await run(['sessions', 'cleanup', '--store', 'memory://u1'])
    assert.equal(r.exitCode, 0, r.stderr)
    const lines = r.stdout.trimEnd().split('\n')
    assert.equal(lines.length, 1)
    assert.match(lines[0], TIME)
    const stamped = Date.parse(lines[0].split(' ')[0])
    assert.ok(stamped >= Math.floor(before / 1000) * 1000 && stamped <= Date.now(), lines[0])
    const dry = await run(['sessions', 'cleanup', '--store', 'memory://u1', '--dry-run'])
    assert.match(dry.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ dry run: memory:\/\/u1: 0 expired sessions; nothing was deleted\n$/)
  })

  it('purge\'s and revoke\'s final line starts with the time too', async () => {
    seed('u8')
    const purge = await run(['sessions', 'purge', '--store', 'memory://u8', '--user', '0', '--yes'])
    assert.equal(purge.exitCode, 0, purge.stderr)
    assert.match(purge.stdout, /\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ Deleted 1 session of user 0\.\n$/)
    const revoke = await run(['sessions', 'revoke', '--store', 'memory://u8', '--yes', 'ku81'.padEnd(32, '0')])
    assert.equal(revoke.exitCode, 0, revoke.stderr)
    assert.match(revoke.stdout, /\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ Deleted 1 named session\.\n$/)
  })

  it('--exit-zero-on 5: a held lock exits 0 and says so on stdout; without it, exit 5 and stderr', async () => {
    seed('u2')
    await locked('u2', async () => {
      const plain = await run(['sessions', 'cleanup', '--store', 'memory://u2'])
      assert.equal(plain.exitCode, 5)
      assert.match(plain.stderr, /another cleanup of memory:\/\/u2 is running/)
      const zero = await run(['sessions', 'cleanup', '--store', 'memory://u2', '--exit-zero-on', '5,6'])
      assert.equal(zero.exitCode, 0, zero.stderr)
      assert.equal(zero.stderr, '', 'a chosen outcome mails nothing from cron')
      assert.match(zero.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ another cleanup of memory:\/\/u2 is running; exit 0 \(--exit-zero-on 5\)\n$/)
      const json = await run(['sessions', 'cleanup', '--store', 'memory://u2', '--exit-zero-on', '5', '--json'])
      assert.equal(json.exitCode, 0)
      const doc = JSON.parse(json.stdout)
      assert.equal(doc.stoppedBy, 'lock-held', 'the document still says what happened')
      assert.equal(doc.exitCode, 0)
      // --exit-zero-on 6 says nothing about a held lock.
      assert.equal((await run(['sessions', 'cleanup', '--store', 'memory://u2', '--exit-zero-on', '6'])).exitCode, 5)
    })
    assert.equal(memoryData.get('u2')!.size, 5, 'nothing was deleted under the held lock')
  })

  it('--exit-zero-on takes only sessionctl\'s codes of outcomes a scheduler may count as success', async () => {
    seed('u3')
    const cases: Array<[string, RegExp]> = [
      ['9', /^sessionctl: --exit-zero-on: 9 is not an exit code of sessionctl \(0 ok, 1 error, 2 usage, 3 refused, 4 partial, 5 locked, 6 stopped, 7 incomplete, 130 signalled\)/],
      ['1', /^sessionctl: --exit-zero-on: exit 1 \(error\) cannot be made 0; only 5 \(lock held\) and 6 \(stopped by --max-runtime or a signal\) can/],
      ['0', /cannot be made 0/],
      ['5,', /give exit codes separated by commas, e\.g\. --exit-zero-on 5,6/],
      ['lock', /give exit codes separated by commas/],
      ['', /give exit codes separated by commas/],
    ]
    for (const [given, message] of cases) {
      const r = await run(['sessions', 'cleanup', '--store', 'memory://u3', `--exit-zero-on=${given}`])
      assert.equal(r.exitCode, 2, `${given}: ${r.stderr}`)
      assert.match(r.stderr, message)
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr)
    }

    assert.equal(memoryData.get('u3')!.size, 5, 'nothing was deleted')
  })

  it('--json is one compact line; --json-pretty (or a terminal) the indented document', async () => {
    const isTTY = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY')
    Object.defineProperty(process.stdout, 'isTTY', {configurable: true, value: false})
    try {
      seed('u4')
      const compact = await run(['sessions', 'cleanup', '--store', 'memory://u4', '--json'])
      assert.equal(compact.exitCode, 0, compact.stderr)
      assert.match(compact.stdout, /^\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ","dryRun":false,"stoppedBy":"done","deleted":3,.*\}\n$/)
      assert.equal(compact.stdout.split('\n').length, 2, 'one line')
      seed('u4')
      const pretty = await run(['sessions', 'cleanup', '--store', 'memory://u4', '--json-pretty'])
      assert.equal(pretty.exitCode, 0, pretty.stderr)
      assert.match(pretty.stdout, /^\{\n {2}"time": /)
      assert.deepEqual(Object.keys(JSON.parse(pretty.stdout)), Object.keys(JSON.parse(compact.stdout)))
      const error = await run(['sessions', 'cleanup', '--store', 'memory://u4', '--json', '--sleep-factor', 'x'])
      assert.equal(error.exitCode, 2)
      assert.match(error.stdout, /^\{"error":\{"exitCode":2,"message":"invalid --sleep-factor \\"x\\": use a number from 0 to 100"\}\}\n$/)
    } finally {
      if (isTTY) Object.defineProperty(process.stdout, 'isTTY', isTTY)
      else delete (process.stdout as {isTTY?: boolean}).isTTY
    }
  })

  it('--metrics-file writes a valid Prometheus text file atomically, after a run that deleted and after one that failed', async () => {
    seed('u5')
    const file = join(dir, 'sessionctl.prom')
    const started = Math.floor(Date.now() / 1000)
    const ok = await run(['sessions', 'cleanup', '--store', 'memory://u5', '--metrics-file', file])
    assert.equal(ok.exitCode, 0, ok.stderr)
    const first = parsePrometheus(readFileSync(file, 'utf8'))
    const store = 'memory://u5'
    for (const [name, type] of first.families) assert.equal(type.type, 'gauge', name)
    assert.equal(value(first.samples, 'sessionctl_cleanup_deleted_sessions', store), 3)
    assert.equal(value(first.samples, 'sessionctl_cleanup_expired_sessions', store), 3)
    assert.equal(value(first.samples, 'sessionctl_cleanup_batches', store), 1)
    assert.equal(value(first.samples, 'sessionctl_cleanup_exit_code', store), 0)
    assert.ok(value(first.samples, 'sessionctl_cleanup_duration_seconds', store)! >= 0)
    assert.ok(value(first.samples, 'sessionctl_cleanup_longest_statement_seconds', store)! >= 0)
    const success = value(first.samples, 'sessionctl_cleanup_last_success_timestamp_seconds', store)!
    assert.ok(success >= started && success <= Date.now() / 1000, String(success))
    assert.deepEqual(readdirSync(dir), ['sessionctl.prom'], 'no temp file left behind')

    // A failed run (lock held) writes its exit code, and carries the last success over.
    await new Promise(resolve => {
      setTimeout(resolve, 1100)
    })
    seed('u5')
    const failed = await locked('u5', () => run(['sessions', 'cleanup', '--store', 'memory://u5', '--metrics-file', file, '--exit-zero-on', '5']))
    assert.equal(failed.exitCode, 0, 'exit 0 by --exit-zero-on')
    const second = parsePrometheus(readFileSync(file, 'utf8'))
    assert.equal(value(second.samples, 'sessionctl_cleanup_exit_code', store), 5, 'the metrics keep the real code')
    assert.equal(value(second.samples, 'sessionctl_cleanup_deleted_sessions', store), 0)
    assert.equal(value(second.samples, 'sessionctl_cleanup_expired_sessions', store), undefined, 'a failed store claims no total')
    assert.equal(value(second.samples, 'sessionctl_cleanup_last_success_timestamp_seconds', store), success, 'carried over from the previous file')
    assert.ok(value(second.samples, 'sessionctl_cleanup_last_run_timestamp_seconds', store)! > success)
    assert.deepEqual(readdirSync(dir), ['sessionctl.prom'])
  })

  it('the store label never holds a password', async () => {
    // An unreachable MySQL store with a password in its URL: the run fails, the file is still written.
    const file = join(dir, 'down.prom')
    const r = await run(['sessions', 'cleanup', '--store', 'mysql://app:hunter2-secret@127.0.0.1:1/app', '--metrics-file', file, '--connect-timeout', '1'])
    assert.equal(r.exitCode, 1, r.stderr)
    const text = readFileSync(file, 'utf8')
    assert.ok(!text.includes('hunter2'), text)
    assert.ok(!text.includes('****'), text)
    const {samples} = parsePrometheus(text)
    assert.equal(value(samples, 'sessionctl_cleanup_exit_code', 'mysql://app@127.0.0.1:1/app'), 1, text)
    assert.equal(value(samples, 'sessionctl_cleanup_last_success_timestamp_seconds', 'mysql://app@127.0.0.1:1/app'), undefined)
  })

  it('a bad --metrics-file is one line and exit 2, before anything is deleted', async () => {
    const rows = seed('u6')
    mkdirSync(join(dir, 'locked'))
    chmodSync(join(dir, 'locked'), 0o500)
    mkdirSync(join(dir, 'a.prom'))
    const cases: Array<[string, RegExp]> = [
      [join(dir, 'missing', 'x.prom'), /^sessionctl: --metrics-file .*x\.prom: cannot create a file in .*missing \(ENOENT\); nothing was deleted\n$/],
      [join(dir, 'sessionctl.txt'), /^sessionctl: --metrics-file .*sessionctl\.txt: node_exporter's textfile collector reads only files named \*\.prom: e\.g\. .*sessionctl\.prom\n$/],
      [join(dir, 'a.prom'), /^sessionctl: --metrics-file .*a\.prom is a directory: name a file in it/],
      ...(process.getuid?.() === 0 ? [] : [[join(dir, 'locked', 'x.prom'), /cannot create a file in .*locked \(EACCES\); nothing was deleted\n$/] as [string, RegExp]]),
    ]
    for (const [path, message] of cases) {
      const r = await run(['sessions', 'cleanup', '--store', 'memory://u6', '--metrics-file', path])
      assert.equal(r.exitCode, 2, `${path}: ${r.stderr}`)
      assert.match(r.stderr, message)
      assert.equal(rows.size, 5, 'nothing was deleted')
    }

    const dry = await run(['sessions', 'cleanup', '--store', 'memory://u6', '--metrics-file', join(dir, 'x.prom'), '--dry-run'])
    assert.equal(dry.exitCode, 2)
    assert.match(dry.stderr, /--metrics-file records deleting runs: drop it for --dry-run/)
    assert.ok(!existsSync(join(dir, 'x.prom')))
    chmodSync(join(dir, 'locked'), 0o700)
  })

  it('the metrics file replaces a previous one whole; a label with quotes, backslashes and newlines is escaped and read back', async () => {
    const file = join(dir, 'sessionctl.prom')
    writeFileSync(file, 'garbage that is not the format\n')
    seed('u7')
    const r = await run(['sessions', 'cleanup', '--store', 'memory://u7', '--metrics-file', file])
    assert.equal(r.exitCode, 0, r.stderr)
    const {samples} = parsePrometheus(readFileSync(file, 'utf8'))
    assert.equal(value(samples, 'sessionctl_cleanup_deleted_sessions', 'memory://u7'), 3)
    // A label with a quote, a backslash and a newline (a profile name, a table) is escaped, and read back.
    const odd = 'redis://h:6379/0 (prefix "a\\b\nc")'
    const metrics = new MetricsFile(join(dir, 'odd.prom'))
    metrics.write([{deleted: 1, store: odd, succeeded: true}], 0)
    const back = parsePrometheus(readFileSync(join(dir, 'odd.prom'), 'utf8'))
    assert.equal(value(back.samples, 'sessionctl_cleanup_deleted_sessions', odd), 1)
    assert.equal(new MetricsFile(join(dir, 'odd.prom')).write([{deleted: 2, store: odd, succeeded: false}], 1), undefined)
    const again = parsePrometheus(readFileSync(join(dir, 'odd.prom'), 'utf8'))
    assert.ok(value(again.samples, 'sessionctl_cleanup_last_success_timestamp_seconds', odd), 'carried over through the escapes')
  })
})
