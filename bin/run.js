#!/usr/bin/env node
import {execute} from '@oclif/core'
import {fileURLToPath} from 'node:url'

// No user plugins (sessionctl installs none): oclif would otherwise read ~/.local/share/sessionctl
// at every start and print an EACCES warning where that is unreadable (cron, systemd, sudo -u).
await execute({loadOptions: {root: fileURLToPath(new URL('..', import.meta.url)), userPlugins: false}})
