/**
 * Issue 17, point 1: what a new operator types first. `help`, `-h`, `version`, `-v`, a mistyped
 * command ("Did you mean …?", with spaces, never a prompt) and the shell completion script, each
 * from the built binary. Nothing here writes to ~: the completion cache goes to a temp dir.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {
  existsSync, mkdtempSync, readFileSync, rmSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {sessionctl} from '../support/cli.js'
import {onTerminal} from '../support/terminal.js'

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {version: string}).version

describe('discoverability', function () {
  this.timeout(60_000)

  it('help and -h print the root help with the sessions topic; help <command> and -h on a command too', async () => {
    for (const args of [['help'], ['-h'], ['--help']]) {
      const r = await sessionctl(args)
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stdout, /^USAGE\n {2}\$ sessionctl \[COMMAND\]$/m, args.join(' '))
      assert.match(r.stdout, /^TOPICS\n {2}sessions +Server-side sessions in MySQL\/MariaDB, PostgreSQL and Redis stores/m, args.join(' '))
      assert.match(r.stdout, /^ {2}autocomplete +Display autocomplete/m, args.join(' '))
    }

    for (const args of [['help', 'sessions', 'list'], ['sessions', 'list', '-h']]) {
      const r = await sessionctl(args)
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stdout, /^ {2}\$ sessionctl sessions list /m, args.join(' '))
      assert.doesNotMatch(r.stdout, /sessions:list/, args.join(' '))
    }
  })

  it('--help says what the commands do now: cleanup\'s statements, the config file search', async () => {
    const cleanup = (await sessionctl(['sessions', 'cleanup', '--help'])).stdout.replaceAll(/\s+/g, ' ')
    assert.doesNotMatch(cleanup, /SELECT the next keys, then DELETE/, 'not the old SELECT-then-DELETE walk')
    assert.ok(cleanup.includes('walks the table in key order on --workers connections'), cleanup)
    assert.ok(cleanup.includes('--batch-size, --target-ms and --workers apply to SQL stores only'), cleanup)
    const list = (await sessionctl(['sessions', 'list', '--help'])).stdout.replaceAll(/\s+/g, ' ')
    assert.ok(list.includes('(default ./sessionctl.json, else ~/.config/sessionctl/config.json)'), list)
  })

  it('version, -v and --version print the same line', async () => {
    const lines = new Set<string>()
    for (const args of [['version'], ['-v'], ['--version']]) {
      const r = await sessionctl(args)
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
      assert.equal(r.stderr, '')
      lines.add(r.stdout)
    }

    assert.deepEqual([...lines], [`sessionctl/${VERSION} ${process.platform}-${process.arch} node-${process.version}\n`])
  })

  it('--version and -v load neither oclif nor a driver; help loads no driver', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sessionctl-modules-'))
    const preload = fileURLToPath(new URL('../../scripts/bench/module-log.mjs', import.meta.url))
    // the CommonJS modules a run loaded (oclif and the drivers are CommonJS), as the startup benchmark lists them
    const loaded = (args: string[]): string[] => {
      const file = join(dir, 'modules.json')
      const r = spawnSync(process.execPath, ['--import', preload, BIN, ...args], {encoding: 'utf8', env: {...process.env, BENCH_MODULE_LOG: file}})
      assert.equal(r.status, 0, r.stderr)
      return JSON.parse(readFileSync(file, 'utf8')) as string[]
    }

    try {
      for (const args of [['--version'], ['-v']]) {
        assert.deepEqual(loaded(args).filter(m => m.includes('/node_modules/')), [], `${args.join(' ')} loads no package`)
      }

      for (const args of [['help'], ['sessions', 'list', '--help'], ['version']]) {
        const drivers = loaded(args).filter(m => /\/node_modules\/(mysql2|ioredis|pg|pg-cursor)\//.test(m))
        assert.deepEqual(drivers, [], `${args.join(' ')} loads no driver`)
      }
    } finally {
      rmSync(dir, {force: true, recursive: true})
    }
  })

  it('a mistyped command: "Did you mean …?" with spaces, one line, exit 2; nothing suggested when nothing is close', async () => {
    for (const [typed, meant] of [
      [['sesions', 'list', '--user', '42'], 'sessions list'],
      [['sessions', 'purg', '42'], 'sessions purge'],
      [['sessions', 'clean'], 'sessions cleanup'],
      [['list'], 'sessions list'],
      [['sesion'], 'sessions'],
      [['hlep'], 'help'],
    ] as const) {
      const r = await sessionctl([...typed])
      assert.equal(r.code, 2, r.stderr)
      assert.equal(r.stdout, '')
      assert.match(r.stderr, new RegExp(`^sessionctl: unknown command "[^"\\n]+"\\. Did you mean ${meant}\\? The commands are [^\\n]+\\(see sessionctl --help\\)\\n$`), typed.join(' '))
      assert.doesNotMatch(r.stderr, /\w:\w/, 'never oclif\'s colon form')
    }

    const far = await sessionctl(['frobnicate'])
    assert.equal(far.code, 2)
    assert.match(far.stderr, /^sessionctl: unknown command "frobnicate": the commands are autocomplete, help, sessions cleanup, /)
    assert.doesNotMatch(far.stderr, /Did you mean/)

    const json = await sessionctl(['sesions', 'list', '--json'])
    assert.equal(json.code, 2)
    assert.equal(json.stderr, '')
    assert.match((JSON.parse(json.stdout) as {error: {message: string}}).error.message, /Did you mean sessions list\?/)
  })

  it('an argument to a command that takes none names the command, not an unknown one', async () => {
    const r = await sessionctl(['sessions', 'list', 'x'])
    assert.equal(r.code, 2)
    assert.equal(r.stderr, 'sessionctl: sessions list takes no arguments, got "x" (see sessionctl sessions list --help)\n')
  })

  it('on a terminal, a mistyped command is reported at once: no "Did you mean …? (Y/n)" prompt', async () => {
    const r = await onTerminal(['sesions', 'list'])
    assert.equal(r.exitCode, 2, r.output)
    assert.match(r.output, /Did you mean sessions list\? The commands are/)
    assert.doesNotMatch(r.output, /\(Y\/n\)|\(y\/N\)/)
  })

  it('autocomplete: the generated bash script completes commands (spaces) and flags, zsh gets one too; nothing is written to ~', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sessionctl-complete-'))
    try {
      const env = {HOME: join(dir, 'home'), XDG_CACHE_HOME: join(dir, 'cache')}
      const refresh = await sessionctl(['autocomplete', '--refresh-cache'], {env})
      assert.equal(refresh.code, 0, refresh.stderr)
      // what bash offers at <TAB>, from the generated completion function itself
      const bash = join(dir, 'cache/sessionctl/autocomplete/functions/bash/sessionctl.bash')
      const complete = (words: string) => {
        const script = `source "$1"; COMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _sessionctl_autocomplete; printf '%s\\n' "\${COMPREPLY[@]}"`
        return spawnSync('bash', ['-c', script, 'complete', bash], {encoding: 'utf8'}).stdout.split('\n').filter(Boolean)
      }

      assert.deepEqual(complete('sessionctl sessions l'), ['list'])
      assert.deepEqual(complete('sessionctl sessions purge --ex').sort(), ['--except', '--expired-only', '--expiry-column', '--expiry-unit'])
      const zsh = readFileSync(join(dir, 'cache/sessionctl/autocomplete/functions/zsh/_sessionctl'), 'utf8')
      assert.match(zsh, /purge/)
      const script = await sessionctl(['autocomplete', 'script', 'bash'], {env})
      assert.equal(script.code, 0, script.stderr)
      assert.ok(script.stdout.includes(join(dir, 'cache/sessionctl/autocomplete/bash_setup')), script.stdout)
      assert.ok(!existsSync(env.HOME), 'nothing under HOME')
    } finally {
      rmSync(dir, {force: true, recursive: true})
    }
  })
})
