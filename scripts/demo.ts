import mysql from 'mysql2/promise'
/**
 * `npm run demo`: starts a throwaway MariaDB from the system binaries, seeds a django_session
 * table with realistic sessions (signed and compressed like Django writes them, legacy rows,
 * anonymous and expired sessions, a few corrupt rows), runs sessionctl against it as an
 * operator would, then removes everything. Nothing outside a temp dir is touched.
 */
import {spawnSync} from 'node:child_process'
import {createHmac, randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {fingerprint} from '../src/sessions/keys.js'
import {encodeLegacy, encodeSigned} from '../test/support/django-encode.js'
import {djangoSessionDdl, utcDatetime} from '../test/support/mysql.js'
import {APT_LINE, missingSystemPackages, startMariaDb} from '../test/support/servers.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SECRET = `demo-${randomBytes(8).toString('hex')}`
const SESSIONS = 20_000
const DAY = 86_400_000

function sessionKey(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  return [...randomBytes(32)].map(b => alphabet[b % alphabet.length]).join('')
}

function login(user: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...extra,
    _auth_user_backend: 'django.contrib.auth.backends.ModelBackend',
    _auth_user_hash: createHmac('sha256', SECRET).update(`password-of-${user}`).digest('hex'),
    _auth_user_id: String(user),
  }
}

const bold = (text: string): string => (process.env.NO_COLOR || !process.stdout.isTTY ? text : `\u001B[1m${text}\u001B[0m`)

function sessionctl(args: string[]): void {
  process.stdout.write(`\n${bold(`$ sessionctl ${args.map(a => (/[\s…]/.test(a) ? `'${a}'` : a)).join(' ')}`)}\n`)
  spawnSync(process.execPath, [`${ROOT}/bin/run.js`, ...args], {env: {...process.env, DJANGO_SECRET_KEY: SECRET}, stdio: 'inherit'})
}

async function main(): Promise<void> {
  const missing = missingSystemPackages()
  if (missing.length > 0) {
    console.error(`The demo starts a throwaway MariaDB and needs: ${missing.join(', ')}\n  ${APT_LINE}`)
    process.exit(1)
  }

  if (!existsSync(`${ROOT}/dist/commands`)) spawnSync('npm', ['run', 'build'], {cwd: ROOT, stdio: 'inherit'})

  console.log('Starting a throwaway MariaDB from the system binaries…')
  const server = await startMariaDb()
  try {
    const conn = await mysql.createConnection({multipleStatements: true, uri: server.url})
    await conn.query('CREATE DATABASE app; USE app')
    await conn.query(djangoSessionDdl('django_session'))
    const now = Date.now()
    const rows: Array<[string, string, string]> = []
    let keep = ''
    for (let i = 0; i < SESSIONS; i++) {
      const expired = i % 5 === 0
      const expires = new Date(now + (expired ? -((i % 13) + 1) * DAY : ((i % 14) + 1) * DAY))
      const user = 1 + ((i * 7919) % 4000)
      const data = i % 17 === 0 ? {django_language: 'fr', visits: i % 9} : login(user, i % 3 === 0 ? {cart: [{qty: 1, sku: `SKU-${i % 50}`}]} : {})
      rows.push([sessionKey(), i % 29 === 0 ? encodeLegacy(data, {secretKey: SECRET}) : encodeSigned(data, {secretKey: SECRET}), utcDatetime(expires)])
    }

    // User 42: three live sessions (phone, laptop, tablet) and an expired one.
    for (const [days, device] of [[13, 'phone'], [9, 'laptop'], [2, 'tablet'], [-3, 'old laptop']] as const) {
      const key = sessionKey()
      if (device === 'phone') keep = key
      rows.push([key, encodeSigned(login(42, {device}), {secretKey: SECRET}), utcDatetime(new Date(now + (days * DAY)))])
    }

    rows.push([sessionKey(), '.eJxub3QtemxpYi1hdC1hbGw:1xWfJ4:abc', utcDatetime(new Date(now + DAY))], [sessionKey(), '', utcDatetime(new Date(now + DAY))])
    for (let i = 0; i < rows.length; i += 1000) await conn.query('INSERT INTO django_session VALUES ?', [rows.slice(i, i + 1000)])
    await conn.end()
    const url = `${server.url}/app`
    console.log(`Seeded ${rows.length.toLocaleString('en-US')} Django sessions (20% expired, some legacy, 2 corrupt) into ${url}`)
    console.log('Session keys are bearer credentials: sessionctl shows fingerprints unless --show-keys.')

    sessionctl(['sessions', 'stats', '--store', url, '--top', '3'])
    sessionctl(['sessions', 'doctor', '--store', url])
    sessionctl(['sessions', 'list', '--store', url, '--user', '42'])
    sessionctl(['sessions', 'purge', '--store', url, '--user', '42', '--except', fingerprint(keep), '--dry-run'])
    sessionctl(['sessions', 'purge', '--store', url, '--user', '42', '--except', fingerprint(keep), '--yes'])
    sessionctl(['sessions', 'list', '--store', url, '--user', '42', '--all', '--json'])
  } finally {
    await server.stop()
    console.log('\nStopped the throwaway MariaDB and removed its files.')
  }
}

await main()
