import type mysql from 'mysql2/promise'

/**
 * Config files an operator (or an attacker with a writable directory) can hand the tool: a FIFO,
 * a device, a directory, a socket, an unreadable file, a huge one, profiles that fan out or loop,
 * and a config holding a password that others can read. Every refusal is exit 2 with one line
 * naming the file or the profile path, quickly, before any store is touched, never echoing the
 * file's contents. Built binary; MariaDB only where a run must succeed.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {
  chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync,
} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {type CliResult, sessionctl} from '../support/cli.js'
import {djangoSessionDdl, freshDatabase} from '../support/mysql.js'
import {createMysqlUser} from '../support/servers.js'

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
/** Well under the harness timeout: a run that blocks or goes exponential is killed and fails. */
const QUICK_MS = 15_000

function assertRefused(r: CliResult, says: RegExp): void {
  assert.notEqual(r.signal, 'SIGKILL', `killed after ${r.ms} ms: the run blocked or took too long`)
  assert.equal(r.code, 2, `exit code\n${r.stderr}${r.stdout}`)
  assert.equal(r.stdout, '')
  const lines = r.stderr.split('\n').filter(Boolean)
  assert.equal(lines.length, 1, `one line on stderr:\n${r.stderr}`)
  assert.match(lines[0], /^sessionctl: /)
  assert.match(lines[0], says)
}

describe('trust: config files and profiles (built binary)', function () {
  this.timeout(60_000)
  let dir: string
  // oclif's data dir under an unwritable HOME would add a warning line of its own.
  const env = (): Record<string, string> => ({HOME: dir, XDG_CONFIG_HOME: join(dir, 'xdg')})
  const list = (config: string, store = 'db'): Promise<CliResult> =>
    sessionctl(['sessions', 'list', '--store', store, '--config', config], {env: env(), timeoutMs: QUICK_MS})

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sessionctl-trust-config-'))
  })

  after(() => rmSync(dir, {force: true, recursive: true}))

  describe('files that are not regular files are refused without blocking', () => {
    let fifo: string
    let socketPath: string
    let server: Server

    before(async () => {
      fifo = join(dir, 'fifo.json')
      assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo')
      socketPath = join(dir, 'sock.json')
      server = createServer()
      await new Promise<void>(resolve => {
        server.listen(socketPath, resolve)
      })
    })

    after(() => server.close())

    it('--config naming a FIFO (no writer): exit 2 at once, "is a FIFO"', async () => {
      assertRefused(await list(fifo), /config file .*fifo\.json is a FIFO, not a regular file/)
    })

    it('$SESSIONCTL_CONFIG naming a FIFO, and a symlink to one: exit 2 at once', async () => {
      const link = join(dir, 'to-fifo.json')
      symlinkSync(fifo, link)
      for (const path of [fifo, link]) {
        const r = await sessionctl(['sessions', 'list', '--store', 'db'], {env: {...env(), SESSIONCTL_CONFIG: path}, timeoutMs: QUICK_MS})
        assertRefused(r, /is a FIFO, not a regular file/)
      }
    })

    it('~/.config/sessionctl/config.json as a FIFO: exit 2 at once', async () => {
      mkdirSync(join(dir, 'xdg', 'sessionctl'), {recursive: true})
      const path = join(dir, 'xdg', 'sessionctl', 'config.json')
      spawnSync('mkfifo', [path])
      try {
        const r = await sessionctl(['sessions', 'list', '--store', 'db'], {env: env(), timeoutMs: QUICK_MS})
        assertRefused(r, /config file .*xdg\/sessionctl\/config\.json is a FIFO/)
      } finally {
        rmSync(path)
      }
    })

    it('./sessionctl.json as a FIFO: exit 2 at once', async () => {
      const cwd = join(dir, 'cwd')
      mkdirSync(cwd)
      spawnSync('mkfifo', [join(cwd, 'sessionctl.json')])
      // sessionctl() has no cwd option: the same run, from that directory.
      const started = Date.now()
      const child = spawnSync(process.execPath, [BIN, 'sessions', 'list', '--store', 'db'], {
        cwd, encoding: 'utf8', env: {...process.env, ...env(), NO_COLOR: '1'}, killSignal: 'SIGKILL', timeout: QUICK_MS,
      })
      const r: CliResult = {
        code: child.status, ms: Date.now() - started, signal: child.signal, stderr: child.stderr, stdout: child.stdout,
      }
      assertRefused(r, /config file .*cwd\/sessionctl\.json is a FIFO/)
    })

    it('a device (/dev/zero), a directory and a Unix socket: exit 2, saying what it is', async () => {
      assertRefused(await list('/dev/zero'), /config file \/dev\/zero is a device, not a regular file/)
      assertRefused(await list(dir), /is a directory, not a regular file/)
      assertRefused(await list(socketPath), /sock\.json is a socket, not a regular file/)
    })

    it('a regular file over 1 MiB: exit 2 before parsing it', async () => {
      const path = join(dir, 'big.json')
      writeFileSync(path, `{"profiles": {}, "$schema": "${'x'.repeat(2 * 1024 * 1024)}"}`)
      assertRefused(await list(path), /big\.json is larger than 1 MiB/)
    })
  })

  describe('a config file that exists but cannot be read: "cannot read", never "not valid JSON"', () => {
    // Tests run as root, which ignores permission bits: unreadability is made real by a dangling
    // symlink, a symlink loop, and (EACCES) by running the binary as nobody through setpriv.
    it('a dangling symlink given to --config: exit 2, ENOENT', async () => {
      const link = join(dir, 'dangling.json')
      symlinkSync(join(dir, 'no-such-target.json'), link)
      assertRefused(await list(link), /cannot read the config file .*dangling\.json \(ENOENT/)
    })

    it('a symlink loop: exit 2, ELOOP', async () => {
      const link = join(dir, 'loop.json')
      symlinkSync(link, link)
      assertRefused(await list(link), /cannot read the config file .*loop\.json \(ELOOP\)/)
    })

    it('~/.config/sessionctl/config.json dangling: an error, not a silent "no config file"', async () => {
      const home = join(dir, 'home-dangling')
      mkdirSync(join(home, 'sessionctl'), {recursive: true})
      symlinkSync(join(home, 'gone.json'), join(home, 'sessionctl', 'config.json'))
      const r = await sessionctl(['sessions', 'list', '--store', 'db'], {env: {HOME: dir, XDG_CONFIG_HOME: home}, timeoutMs: QUICK_MS})
      assertRefused(r, /cannot read the config file .*home-dangling\/sessionctl\/config\.json \(ENOENT/)
    })

    it('a file the running user may not read (EACCES, run as nobody): exit 2, no contents', function () {
      if (spawnSync('setpriv', ['--version']).status !== 0 || process.getuid?.() !== 0) this.skip()
      const path = join(dir, 'private.json')
      writeFileSync(path, JSON.stringify({profiles: {db: {store: 'mysql://app:EaccesPassw0rd@db/app'}}}), {mode: 0o600})
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'sessions', 'list', '--store', 'db', '--config', path], {
        encoding: 'utf8', env: {
          ...process.env, HOME: '/nonexistent', NO_COLOR: '1', XDG_CONFIG_HOME: '/nonexistent', XDG_DATA_HOME: '/nonexistent',
        }, timeout: QUICK_MS,
      })
      assert.equal(r.status, 2, r.stderr)
      const lines = r.stderr.split('\n').filter(l => l.startsWith('sessionctl:'))
      assert.deepEqual(lines.length, 1, r.stderr)
      assert.match(lines[0], /cannot read the config file .*private\.json \(EACCES\): fix it/)
      assert.doesNotMatch(r.stderr, /not valid JSON|EaccesPassw0rd/)
    })
  })

  describe('profiles: each resolved once, depth capped, cycles and repeats exit 2 with the path', () => {
    const write = (name: string, profiles: Record<string, unknown>): string => {
      const path = join(dir, name)
      writeFileSync(path, JSON.stringify({profiles}), {mode: 0o600})
      return path
    }

    /** a0 → [a1 ×4], a1 → [a2 ×4] … a12 → one store: 4^12 (16 million) expansions if each reference is walked again. */
    function fanOut(levels: number, width: number): Record<string, unknown> {
      const profiles: Record<string, unknown> = {}
      for (let i = 0; i < levels; i++) profiles[`a${i}`] = {stores: Array.from({length: width}, () => `a${i + 1}`)}
      profiles[`a${levels}`] = {store: 'mysql://app@127.0.0.1:1/app'}
      return profiles
    }

    it('fan-out (a0 → [a1 ×4] … 12 levels): list and purge exit 2 at once, naming the path', async () => {
      const path = write('fan.json', fanOut(12, 4))
      const says = /^sessionctl: profile a0 → a1 → .* → a11 → a12: "a11" lists "a12" twice, and its stores would be opened twice: list each profile once/
      assertRefused(await list(path, 'a0'), says)
      const purge = await sessionctl(['sessions', 'purge', '--store', 'a0', '--config', path, '--user', '42', '--yes'], {env: env(), timeoutMs: QUICK_MS})
      assertRefused(purge, says)
    })

    it('a diamond deep down (…a10 → [b, c], b → [d], c → [d]): the second path to d is named', async () => {
      const profiles = fanOut(10, 1)
      Object.assign(profiles, {
        a10: {stores: ['b', 'c']}, b: {stores: ['d']}, c: {stores: ['d']}, d: {store: 'mysql://app@127.0.0.1:1/app'},
      })
      assertRefused(await list(write('diamond.json', profiles), 'a0'), /profile a0 → a1 → .* → a10 → c → d: "d" is already included by a0 → .* → a10 → b → d/)
    })

    it('a chain deeper than 16: exit 2, naming the path', async () => {
      const path = write('chain.json', fanOut(40, 1))
      assertRefused(await list(path, 'a0'), /profile a0 → a1 → .* → a16: profiles are nested more than 16 levels deep/)
    })

    it('inline "stores" lists nested 70,000 deep (within 1 MiB): exit 2, no stack overflow', async () => {
      const depth = 70_000
      const path = join(dir, 'inline.json')
      writeFileSync(path, `{"profiles": {"db": ${'{"stores": ['.repeat(depth)}"mysql://app@127.0.0.1:1/app"${']}'.repeat(depth)}}}`)
      assertRefused(await list(path), /profile "db(\.stores\[0\])+": "stores" lists are nested more than 16 levels deep/)
    })

    it('a cycle three profiles long: exit 2 with the loop', async () => {
      const path = write('cycle.json', {a: {stores: ['b']}, b: {stores: ['mysql://app@127.0.0.1:1/app', 'c']}, c: {stores: ['a']}})
      assertRefused(await list(path, 'a'), /profile "a" .* includes itself \(a → b → c → a\)/)
      const purge = await sessionctl(['sessions', 'purge', '--store', 'b', '--config', path, '--user', '42', '--yes'], {env: env(), timeoutMs: QUICK_MS})
      assertRefused(purge, /includes itself \(b → c → a → b\)/)
    })

    it('the same profile given twice to --store: exit 2 (as before, the same store twice)', async () => {
      const path = write('twice.json', {db: {store: 'mysql://app@127.0.0.1:1/app'}})
      const r = await sessionctl(['sessions', 'list', '--store', 'db', '--store', 'db', '--config', path], {env: env(), timeoutMs: QUICK_MS})
      assertRefused(r, /profile "db" is given twice to --store: name each store once/)
    })
  })

  describe('a config holding a password, readable by others', () => {
    let db: {conn: mysql.Connection; database: string; url: string}
    let url: string
    const PASSWORD = 'Readable-Cfg-Passw0rd'

    before(async () => {
      db = await freshDatabase()
      await db.conn.query(djangoSessionDdl('django_session'))
      url = await createMysqlUser(db.url, {database: db.database, password: PASSWORD, user: `rc${db.database.slice(-8)}`})
    })

    after(async () => db?.conn.end())

    const run = (path: string): Promise<CliResult> => sessionctl(['sessions', 'list', '--store', 'db', '--config', path, '--user', '42'], {env: env()})

    for (const mode of [0o644, 0o640, 0o604]) {
      it(`mode ${mode.toString(8)}: the run works, with one warning to chmod 600 or use passwordEnv`, async () => {
        const path = join(dir, `readable-${mode.toString(8)}.json`)
        writeFileSync(path, JSON.stringify({profiles: {db: {store: url}}}))
        chmodSync(path, mode)
        const r = await run(path)
        assert.equal(r.code, 0, r.stderr)
        const warnings = r.stderr.split('\n').filter(l => l.startsWith('sessionctl: warning:'))
        assert.equal(warnings.length, 1, r.stderr)
        const octal = mode.toString(8)
        assert.match(warnings[0], new RegExp(`config file .*readable-${octal}\\.json holds a store password and is accessible by group or others \\(mode 0${octal}\\)`))
        assert.match(warnings[0], /: chmod 600 it, or move the password out with "passwordEnv"$/)
      })
    }

    it('mode 600, or a readable one without a password (passwordEnv): no warning', async () => {
      const privatePath = join(dir, 'private-pw.json')
      writeFileSync(privatePath, JSON.stringify({profiles: {db: {store: url}}}), {mode: 0o600})
      chmodSync(privatePath, 0o600)
      const r = await run(privatePath)
      assert.equal(r.code, 0, r.stderr)
      assert.doesNotMatch(r.stderr, /warning/)

      const envPath = join(dir, 'env-pw.json')
      const bare = new URL(url)
      bare.password = ''
      writeFileSync(envPath, JSON.stringify({profiles: {db: {passwordEnv: 'TRUST_CFG_DB_PASSWORD', store: bare.toString()}}}))
      chmodSync(envPath, 0o644)
      const e = await sessionctl(['sessions', 'list', '--store', 'db', '--config', envPath, '--user', '42'], {env: {...env(), TRUST_CFG_DB_PASSWORD: PASSWORD}})
      assert.equal(e.code, 0, e.stderr)
      assert.doesNotMatch(e.stderr, /warning/)
    })

    it('a purge reads the config twice (audit log, stores): still one warning', async () => {
      const path = join(dir, 'purge-readable.json')
      writeFileSync(path, JSON.stringify({profiles: {db: {auditLog: 'audit.log', store: url}}}))
      chmodSync(path, 0o644)
      const r = await sessionctl(['sessions', 'purge', '--store', 'db', '--config', path, '--user', '42', '--yes'], {env: env()})
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stderr.split('\n').filter(l => l.includes('holds a store password')).length, 1, r.stderr)
    })
  })

  it('--help says how to keep passwords and secret keys out of ps', async () => {
    const r = await sessionctl(['sessions', 'list', '--help'], {env: env()})
    assert.equal(r.code, 0, r.stderr)
    const text = r.stdout.replaceAll(/\s+/g, ' ')
    for (const needle of ['visible to every local user in `ps`', 'passwordEnv', 'MYSQL_PWD', 'REDIS_PASSWORD', 'DJANGO_SECRET_KEY in the environment']) {
      assert.ok(text.includes(needle), `--help mentions ${needle}`)
    }
  })
})
