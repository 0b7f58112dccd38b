#!/usr/bin/env node
import {readFileSync} from 'node:fs'
import {arch, release} from 'node:os'
import {fileURLToPath} from 'node:url'

import {guardOutput} from '../dist/cli/output.js'

// --version and -v print the line oclif prints (its config.userAgent; oclif, too, looks at the
// first argument only) without loading oclif and its plugins: most of the start-up time, and what
// keeps --version under 300 ms. On WSL (platform "wsl" in oclif's line) oclif prints it.
const [first] = process.argv.slice(2)
const versionOnly = (first === '--version' || first === '-v') && !(process.platform === 'linux' && /microsoft/i.test(release()))
// oclif first, when it is needed: loading it adds its own stdout error listener, which guardOutput replaces.
const oclif = versionOnly ? undefined : await import('@oclif/core')

// Before any command: a failed standard output (--version or --help > /dev/full) is one line, not
// the stack trace oclif's own listener would throw.
guardOutput()

if (oclif) {
  // No user plugins (sessionctl installs none): oclif would otherwise read ~/.local/share/sessionctl
  // at every start and print an EACCES warning where that is unreadable (cron, systemd, sudo -u).
  await oclif.execute({loadOptions: {root: fileURLToPath(new URL('..', import.meta.url)), userPlugins: false}})
} else {
  const {name, version} = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(`${name}/${version} ${process.platform}-${arch() === 'ia32' ? 'x86' : arch()} node-${process.version}\n`)
}
