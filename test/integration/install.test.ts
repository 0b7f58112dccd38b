/**
 * Issue 17, point 3: the package as an operator installs it. `npm pack`, `npm install -g` of the
 * tarball into a temp prefix, then the installed `sessionctl` (not this checkout's bin/run.js):
 * help, --version, the completion script, and a cleanup against the test-started MariaDB.
 * Nothing is written to ~ or to npm's global prefix: the prefix, npm's cache and logs, and the
 * HOME and XDG dirs of every sessionctl run are under a temp dir. The install fetches from the registry
 * what npm's temp cache lacks (about 100 packages).
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {
  existsSync, mkdtempSync, readdirSync, readFileSync, rmSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {djangoSessionDdl, freshDatabase} from '../support/mysql.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {version: string}).version

describe('install: npm pack, npm install -g into a temp prefix, run from there', function () {
  this.timeout(300_000)
  let dir: string
  let bin: string
  let installed: string
  let installLog: string
  // npm keeps the operator's own config (~/.npmrc: registry, proxy) but caches and logs in the
  // temp dir; the installed sessionctl gets a temp HOME and XDG dirs
  let npmEnv: NodeJS.ProcessEnv
  let env: NodeJS.ProcessEnv

  function run(command: string, args: string[], options: {cwd?: string; npm?: boolean} = {}): {code: null | number; stderr: string; stdout: string} {
    const r = spawnSync(command, args, {
      cwd: options.cwd ?? dir, encoding: 'utf8', env: options.npm ? npmEnv : env, timeout: 240_000,
    })
    return {code: r.status, stderr: r.stderr ?? String(r.error ?? ''), stdout: r.stdout ?? ''}
  }

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'sessionctl-install-'))
    const home = join(dir, 'home')
    // the node that runs the tests runs the installed bin (#!/usr/bin/env node)
    const PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`
    npmEnv = {
      ...process.env,
      npm_config_audit: 'false',
      npm_config_cache: join(dir, 'npm-cache'),
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
      PATH,
    }
    env = {
      ...process.env,
      HOME: home,
      NO_COLOR: '1',
      PATH,
      XDG_CACHE_HOME: join(home, '.cache'),
      XDG_CONFIG_HOME: join(home, '.config'),
      XDG_DATA_HOME: join(home, '.local/share'),
    }
    delete env.SESSIONCTL_CONFIG
    delete env.SESSIONCTL_STORE
    // the built dist/ as the tests run it (pretest built it): no prepack rebuild under the other tests
    const pack = run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], {cwd: ROOT, npm: true})
    assert.equal(pack.code, 0, pack.stderr)
    const tarball = readdirSync(dir).find(f => f.endsWith('.tgz'))
    assert.equal(tarball, `sessionctl-${VERSION}.tgz`)
    const prefix = join(dir, 'prefix')
    const install = run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', `./${tarball}`], {npm: true})
    installLog = install.stdout + install.stderr
    if (install.code !== 0 && /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT/.test(installLog)) {
      // no registry to fetch the dependencies from: say so rather than pass
      if (process.env.SESSIONCTL_TEST_REQUIRE_ALL) assert.fail(`npm install -g needs the registry: ${installLog}`)
      console.log(`      (skipped: npm install -g could not reach the registry: ${installLog.split('\n').find(l => /ERR/.test(l))})`)
      this.skip()
    }

    assert.equal(install.code, 0, installLog)
    bin = join(prefix, 'bin', 'sessionctl')
    installed = join(prefix, 'lib', 'node_modules', 'sessionctl')
  })

  after(() => {
    if (dir) rmSync(dir, {force: true, recursive: true})
  })

  it('installs without install scripts, and the tree holds no development files', () => {
    assert.doesNotMatch(installLog, /install-scripts|prepare|postinstall/i, 'no install script runs for the operator')
    assert.ok(existsSync(join(installed, 'bin', 'run.js')))
    assert.ok(!existsSync(join(installed, 'bin', 'dev.js')), 'bin/dev.js is not shipped')
    for (const f of ['LICENSE', 'npm-shrinkwrap.json', 'oclif.manifest.json', '.oclifrc.json']) assert.ok(existsSync(join(installed, f)), `${f} is shipped`)
    assert.ok(!existsSync(join(installed, 'src')) && !existsSync(join(installed, 'test')), 'no sources or tests')
    const modules = join(installed, 'node_modules')
    for (const dev of ['typescript', 'tsx', 'mocha', 'eslint', '@oclif/test', '@types/mocha', '@types/pg', 'express-session']) {
      assert.ok(!existsSync(join(modules, dev)), `${dev} (a dev dependency) is not installed`)
    }

    assert.match(readFileSync(join(installed, 'LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) \d{4} sessionctl authors\n/)
  })

  it('sessionctl help, --version and -v from the installed bin', () => {
    const help = run(bin, ['help'])
    assert.equal(help.code, 0, help.stderr)
    assert.match(help.stdout, /^TOPICS\n {2}sessions /m)
    assert.match(help.stdout, /^ {2}autocomplete /m)
    for (const flag of ['--version', '-v']) {
      const v = run(bin, [flag])
      assert.equal(v.code, 0, v.stderr)
      assert.equal(v.stdout, `sessionctl/${VERSION} ${process.platform}-${process.arch} node-${process.version}\n`)
    }

    const typo = run(bin, ['sesions', 'list'])
    assert.equal(typo.code, 2)
    assert.match(typo.stderr, /^sessionctl: unknown command "sesions list"\. Did you mean sessions list\?/)
  })

  it('autocomplete: the bash completion script, in the temp cache dir', () => {
    const refresh = run(bin, ['autocomplete', '--refresh-cache'])
    assert.equal(refresh.code, 0, refresh.stderr)
    const script = readFileSync(join(env.XDG_CACHE_HOME!, 'sessionctl/autocomplete/functions/bash/sessionctl.bash'), 'utf8')
    assert.match(script, /complete -F _sessionctl_autocomplete sessionctl/)
    assert.match(script, /sessions:cleanup .*--max-runtime/)
    const setup = run(bin, ['autocomplete', 'script', 'bash'])
    assert.equal(setup.code, 0, setup.stderr)
    assert.ok(setup.stdout.includes(join(env.XDG_CACHE_HOME!, 'sessionctl/autocomplete/bash_setup')), setup.stdout)
  })

  it('sessions cleanup against a MariaDB the tests started: the expired rows go, the live stay', async () => {
    const db = await freshDatabase()
    try {
      await db.conn.query(djangoSessionDdl('django_session'))
      await db.conn.query(`INSERT INTO django_session SELECT CONCAT('k', LPAD(seq, 31, '0')), 'data',
          IF(seq % 4 = 0, UTC_TIMESTAMP(6) - INTERVAL seq MINUTE, UTC_TIMESTAMP(6) + INTERVAL 1 DAY) FROM seq_1_to_200`)
      const prom = join(dir, 'cleanup.prom')
      const r = run(bin, ['sessions', 'cleanup', '--store', db.url, '--json', '--metrics-file', prom])
      assert.equal(r.code, 0, r.stderr)
      assert.equal((JSON.parse(r.stdout) as {deleted: number}).deleted, 50)
      // The textfile node_exporter reads: what was deleted, and a success
      const metrics = readFileSync(prom, 'utf8')
      assert.match(metrics, /^# TYPE sessionctl_cleanup_deleted_sessions gauge$/m)
      assert.match(metrics, /^sessionctl_cleanup_deleted_sessions\{store="mysql:[^"]*"\} 50$/m)
      assert.match(metrics, /^sessionctl_cleanup_exit_code\{store="[^"]*"\} 0$/m)
      const {password} = new URL(db.url)
      if (password) assert.ok(!metrics.includes(decodeURIComponent(password)), 'no password in the metrics')
      const [rows] = await db.conn.query('SELECT COUNT(*) AS n FROM django_session')
      assert.equal(Number((rows as Array<{n: number}>)[0].n), 150)
    } finally {
      await db.conn.end()
    }
  })

  it('wrote nothing to HOME', () => {
    // every run had HOME and the XDG dirs under the temp dir; only the completion cache is expected there
    const home = join(dir, 'home')
    const found = existsSync(home) ? readdirSync(home, {recursive: true}).map(String).filter(p => !p.startsWith('.cache')) : []
    assert.deepEqual(found, [])
  })
})
