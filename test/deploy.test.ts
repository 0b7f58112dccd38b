/**
 * deploy/: the systemd unit and timer, the Kubernetes CronJob and the Dockerfile, as an operator
 * copies them, and the README's cron recipe. The units pass `systemd-analyze verify` (where systemd
 * is installed) and score under `systemd-analyze security`; the manifest parses; the command lines
 * of the unit and the manifest are accepted by `sessions cleanup` (run in-process against the
 * in-memory store, their paths moved to a temp dir); the README shows the files as they are.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {
  copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {encodeSigned} from './support/django-encode.js'
import {memoryData, type MemoryRow, useMemoryStores} from './support/memory-store.js'
import {ROOT, run} from './support/run.js'

const DEPLOY = join(ROOT, 'deploy')
const UNIT = readFileSync(join(DEPLOY, 'sessionctl-cleanup.service'), 'utf8')
const TIMER = readFileSync(join(DEPLOY, 'sessionctl-cleanup.timer'), 'utf8')
const README = readFileSync(join(ROOT, 'README.md'), 'utf8')

function hasSystemdAnalyze(): boolean {
  return spawnSync('systemd-analyze', ['--version'], {encoding: 'utf8'}).status === 0
}

/** A unit's settings, by key, in order (repeated keys kept). */
function settings(unit: string): Array<[string, string]> {
  return unit.split('\n').filter(l => /^[A-Z]\w*=/.test(l)).map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])
}

function setting(unit: string, key: string): string[] {
  return settings(unit).filter(([k]) => k === key).map(([, v]) => v)
}

function seed(name: string): Map<string, MemoryRow> {
  const rows = new Map<string, MemoryRow>()
  for (let i = 0; i < 6; i++) {
    rows.set(`deploy${name}${i}`.padEnd(32, '0'), {
      expiresAt: new Date(Date.now() + (i % 2 === 0 ? -3_600_000 : 3_600_000)),
      value: Buffer.from(encodeSigned({_auth_user_id: String(i)}, {secretKey: 'deploy-test'})),
    })
  }

  memoryData.set(name, rows)
  return rows
}

/** A command line's arguments with --store given the memory store and every path moved into `dir`. */
function localised(args: readonly string[], store: string, dir: string): string[] {
  return args.map((a, i) => {
    if (args[i - 1] === '--store') return store
    if (a.startsWith('/') && args[i - 1]?.startsWith('--')) return join(dir, a.split('/').at(-1)!)
    return a
  })
}

describe('deploy files', function () {
  this.timeout(60_000)
  let dir: string

  before(() => useMemoryStores())

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sessionctl-deploy-'))
  })

  afterEach(() => rmSync(dir, {force: true, recursive: true}))

  it('the systemd unit and timer pass systemd-analyze verify, silently', function () {
    if (!hasSystemdAnalyze()) this.skip()
    // verify checks that ExecStart's program exists: point it at this tree's bin/run.js.
    writeFileSync(join(dir, 'sessionctl-cleanup.service'), UNIT.replace('/usr/local/bin/sessionctl', join(ROOT, 'bin', 'run.js')))
    copyFileSync(join(DEPLOY, 'sessionctl-cleanup.timer'), join(dir, 'sessionctl-cleanup.timer'))
    const r = spawnSync('systemd-analyze', ['verify', join(dir, 'sessionctl-cleanup.service'), join(dir, 'sessionctl-cleanup.timer')], {encoding: 'utf8'})
    // verify exits 0 on a setting it ignores ("Failed to parse …, ignoring"): any output is a failure.
    assert.equal(r.status, 0, r.stderr)
    assert.equal(`${r.stdout}${r.stderr}`, '')
    // And it does catch a bad value: the check has teeth.
    writeFileSync(join(dir, 'broken.service'), UNIT.replace('ProtectSystem=strict', 'ProtectSystem=strictly').replace('/usr/local/bin/sessionctl', join(ROOT, 'bin', 'run.js')))
    const broken = spawnSync('systemd-analyze', ['verify', join(dir, 'broken.service')], {encoding: 'utf8'})
    assert.match(broken.stderr, /Failed to parse protect system value/)
  })

  it('the unit is hardened, and systemd-analyze security rates it 2.0 or less (OK)', function () {
    const on = (key: string, value: string): void => assert.ok(setting(UNIT, key).includes(value), `${key}=${value}`)
    on('NoNewPrivileges', 'yes')
    on('ProtectSystem', 'strict')
    on('PrivateTmp', 'yes')
    on('Wants', 'network-online.target')
    on('After', 'network-online.target')
    on('SuccessExitStatus', '5 6')
    assert.ok(setting(UNIT, 'ReadWritePaths').some(v => v.split(' ').includes('/var/log/sessionctl')), 'the audit log directory is writable')
    assert.match(setting(UNIT, 'ExecStart')[0], / --audit-log \/var\/log\/sessionctl\/audit\.jsonl /)
    // Node's JIT needs writable code pages: this one would kill every run.
    assert.deepEqual(setting(UNIT, 'MemoryDenyWriteExecute'), [])
    // A oneshot's start times out after 90 s by default, far less than --max-runtime 1800.
    assert.match(setting(UNIT, 'TimeoutStartSec')[0], /^3[1-9]min$/)
    if (!hasSystemdAnalyze()) this.skip()
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', join(DEPLOY, 'sessionctl-cleanup.service')], {encoding: 'utf8'})
    const m = /Overall exposure level for sessionctl-cleanup\.service: ([\d.]+) (\w+)/.exec(r.stdout)
    if (!m && /offline/i.test(r.stderr)) this.skip()
    assert.ok(m, r.stdout + r.stderr)
    assert.ok(Number(m[1]) <= 2, `exposure ${m[1]} ${m[2]}`)
  })

  it('the unit\'s and the CronJob\'s command lines are accepted by sessions cleanup, and do what they say', async () => {
    const exec = setting(UNIT, 'ExecStart')[0].split(' ')
    assert.equal(exec[0], '/usr/local/bin/sessionctl')
    const rows = seed('unit')
    const r = await run(localised(exec.slice(1), 'memory://unit', dir))
    assert.equal(r.exitCode, 0, r.stderr)
    assert.equal(rows.size, 3, 'the expired sessions are gone')
    assert.ok(existsSync(join(dir, 'sessionctl.prom')), 'the metrics file is written')
    assert.ok(existsSync(join(dir, 'audit.jsonl')), 'the audit line is written')

    const yaml = spawnSync('python3', ['-c', 'import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))', join(DEPLOY, 'cronjob.yaml')], {encoding: 'utf8'})
    assert.equal(yaml.status, 0, yaml.stderr)
    interface Container {args: unknown[]; env: Array<{name: string; value?: string; valueFrom?: {secretKeyRef?: {key: string; name: string}}}>}
    interface Job {
      apiVersion: string
      kind: string
      spec: {concurrencyPolicy: string; jobTemplate: {spec: {template: {spec: {containers: Container[]; restartPolicy: string; securityContext: {runAsNonRoot: boolean}}}}}}
    }
    const [job] = JSON.parse(yaml.stdout) as Job[]
    assert.equal(job.apiVersion, 'batch/v1')
    assert.equal(job.kind, 'CronJob')
    assert.equal(job.spec.concurrencyPolicy, 'Forbid')
    const pod = job.spec.jobTemplate.spec.template.spec
    assert.equal(pod.restartPolicy, 'Never')
    assert.equal(pod.securityContext.runAsNonRoot, true)
    const [container] = pod.containers
    assert.ok(container.args.every(a => typeof a === 'string'), 'every argument a string (YAML would make 1800 a number)')
    const args = container.args as string[]
    assert.deepEqual(args.slice(args.indexOf('--exit-zero-on'), args.indexOf('--exit-zero-on') + 2), ['--exit-zero-on', '5,6'])
    assert.ok(args.includes('--json'))
    // The password from a Secret, through the environment, never in the arguments.
    const {env} = container
    const password = env.find(e => e.name === 'MYSQL_PWD')
    assert.ok(password?.valueFrom?.secretKeyRef?.name && password.value === undefined, JSON.stringify(env))
    assert.ok(!args.some(a => /:[^/@]*@/.test(a.replace(/^\w+:\/\//, ''))), 'no password in a URL')
    seed('k8s')
    const isTTY = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY')
    Object.defineProperty(process.stdout, 'isTTY', {configurable: true, value: false})
    try {
      const k = await run(localised(args, 'memory://k8s', dir))
      assert.equal(k.exitCode, 0, k.stderr)
      assert.equal(k.stdout.split('\n').length, 2, `one JSON line: ${k.stdout}`)
      assert.equal(JSON.parse(k.stdout).deleted, 3)
    } finally {
      if (isTTY) Object.defineProperty(process.stdout, 'isTTY', isTTY)
      else delete (process.stdout as {isTTY?: boolean}).isTTY
    }
  })

  it('the Dockerfile builds on the official Node 20 image and runs as a non-root user', () => {
    const docker = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8')
    const from = [...docker.matchAll(/^FROM (\S+)/gm)].map(m => m[1])
    assert.ok(from.length > 0 && from.every(f => /^node:20(?:[.-]|$)/.test(f)), from.join(', '))
    const users = [...docker.matchAll(/^USER (\S+)/gm)].map(m => m[1])
    assert.ok(users.length > 0 && !/^(?:0|root)(?::|$)/.test(users.at(-1)!), users.join(', '))
    assert.match(docker, /^ENTRYPOINT \["sessionctl"\]$/m)
    const job = readFileSync(join(DEPLOY, 'cronjob.yaml'), 'utf8')
    // runAsNonRoot checks a numeric user: the image's must match the manifest's.
    assert.equal(users.at(-1)!.split(':')[0], /runAsUser: (\d+)/.exec(job)![1])
  })

  it('the README shows the unit and timer as deploy/ has them, and a cron recipe that works with cron\'s PATH', () => {
    assert.ok(README.includes(`# /etc/systemd/system/sessionctl-cleanup.service\n${UNIT}\`\`\``), 'the README\'s unit is deploy/sessionctl-cleanup.service')
    assert.ok(README.includes(`# /etc/systemd/system/sessionctl-cleanup.timer\n${TIMER}\`\`\``), 'the README\'s timer is deploy/sessionctl-cleanup.timer')
    const cron = /```cron\n([\S\s]*?)```/.exec(README)![1]
    // cron's own PATH is /usr/bin:/bin; bin/run.js starts with `#!/usr/bin/env node`, so node must be found too.
    const path = /^PATH=(\S+)$/m.exec(cron)
    assert.ok(path && path[1].split(':').includes('/usr/local/bin'), cron)
    const line = cron.split('\n').find(l => /^[\d*]/.test(l))!
    const command = line.split(/\s+/)[5]
    assert.ok(command.startsWith('/'), `the command has its full path: ${command}`)
    assert.match(readFileSync(join(ROOT, 'bin', 'run.js'), 'utf8'), /^#!\/usr\/bin\/env node\n/)
    assert.match(README, /command -v sessionctl/)
  })
})
