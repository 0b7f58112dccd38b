#!/usr/bin/env node
import {execute} from '@oclif/core'
import {fileURLToPath} from 'node:url'

import {guardOutput} from '../dist/cli/output.js'

// Before any command: a failed standard output (--version or --help > /dev/full) is one line, not
// the stack trace oclif's own listener would throw.
guardOutput()
// No user plugins (sessionctl installs none): oclif would otherwise read ~/.local/share/sessionctl
// at every start and print an EACCES warning where that is unreadable (cron, systemd, sudo -u).
await execute({loadOptions: {root: fileURLToPath(new URL('..', import.meta.url)), userPlugins: false}})
