/**
 * Preloaded by the startup benchmark (`node --import ./scripts/bench/module-log.mjs bin/run.js …`):
 * at exit, writes the CommonJS modules the process loaded (require.cache: the database drivers
 * are CommonJS, also when imported from ESM) as JSON to $BENCH_MODULE_LOG.
 */
import {writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'

const require = createRequire(import.meta.url)
const file = process.env.BENCH_MODULE_LOG
if (file) process.on('exit', () => writeFileSync(file, JSON.stringify(Object.keys(require.cache))))
