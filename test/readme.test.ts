/**
 * Issue 17, point 2: the README's command reference is generated from the commands
 * (scripts/readme.js, `npm run readme`), so it cannot drift from `--help`; this fails when it has.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {
  mkdtempSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const SCRIPT = fileURLToPath(new URL('../scripts/readme.js', import.meta.url))
const README = fileURLToPath(new URL('../README.md', import.meta.url))

function check(file?: string): {code: null | number; stderr: string} {
  const r = spawnSync(process.execPath, [SCRIPT, '--check', ...(file ? ['--file', file] : [])], {encoding: 'utf8'})
  return {code: r.status, stderr: r.stderr}
}

describe('README command reference', function () {
  this.timeout(60_000)

  it('is what the commands print: run npm run readme when this fails', () => {
    const r = check()
    assert.equal(r.code, 0, r.stderr)
    const readme = readFileSync(README, 'utf8')
    for (const command of ['sessions cleanup', 'sessions list', 'sessions purge', 'sessions revoke', 'help', 'version']) {
      assert.ok(readme.includes(`### \`sessionctl ${command}\``), `the reference has sessionctl ${command}`)
    }

    assert.match(readme, /^ {2}\$ sessionctl sessions list \[--\S+/m, 'the usage lines are there, with spaces')
  })

  it('a reference that no longer matches a flag\'s help is caught', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sessionctl-readme-'))
    try {
      const stale = join(dir, 'README.md')
      const readme = readFileSync(README, 'utf8')
      const edited = readme.replace('Config file with store profiles (default ./sessionctl.json,', 'Config file with store profiles (default ./sessionctl.json only,')
      assert.notEqual(edited, readme)
      writeFileSync(stale, edited)
      const r = check(stale)
      assert.equal(r.code, 1)
      assert.match(r.stderr, /^readme: the command reference in README\.md is stale .*run npm run readme/)
    } finally {
      rmSync(dir, {force: true, recursive: true})
    }
  })
})
