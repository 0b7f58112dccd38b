import mysql from 'mysql2/promise'
/**
 * Expiry is judged by the store's own UTC clock, the way Django does with USE_TZ=True, whatever
 * the server's time_zone; and --time-zone reads the naive wall times of USE_TZ=False sites.
 */
import assert from 'node:assert/strict'

import {sessionctl} from '../support/cli.js'
import {encodeSigned} from '../support/django-encode.js'
import {djangoSessionDdl, utcDatetime} from '../support/mysql.js'
import {type MariaDbServer, startMariaDb} from '../support/servers.js'

const HOUR = 3_600_000

describe('expiry and time zones (MariaDB with time_zone +05:00)', function () {
  this.timeout(60_000)
  let server: MariaDbServer
  let conn: mysql.Connection
  let url: string

  before(async () => {
    server = await startMariaDb({extraArgs: ['--default-time-zone=+05:00']})
    conn = await mysql.createConnection({dateStrings: true, multipleStatements: true, uri: server.url})
    await conn.query('CREATE DATABASE app; USE app')
    await conn.query(djangoSessionDdl('django_session'))
    await conn.query('CREATE TABLE tokyo_sessions LIKE django_session')
    url = `${server.url}/app`
  })

  after(async () => {
    await conn?.end()
    await server?.stop()
  })

  it('uses UTC_TIMESTAMP, not NOW(): a session expiring in 2 h is live on a server 5 h ahead of UTC', async () => {
    const [rows] = await conn.query('SELECT TIMESTAMPDIFF(HOUR, UTC_TIMESTAMP(), NOW()) AS ahead')
    assert.equal((rows as Array<{ahead: number}>)[0].ahead, 5)
    const now = Date.now()
    await conn.query('INSERT INTO django_session VALUES (?, ?, ?), (?, ?, ?)', [
      'soon0000000000000000000000000000',
      encodeSigned({_auth_user_id: '42'}, {secretKey: 'k'}),
      utcDatetime(new Date(now + (2 * HOUR))),
      'past0000000000000000000000000000',
      encodeSigned({_auth_user_id: '42'}, {secretKey: 'k'}),
      utcDatetime(new Date(now - HOUR)),
    ])
    const r = await sessionctl(['sessions', 'list', '--store', url, '--user', '42', '--all', '--json', '--show-keys'])
    const sessions = JSON.parse(r.stdout).sessions as Array<{expired: boolean; expiresAt: string; id: string}>
    const byKey = Object.fromEntries(sessions.map(s => [s.id.slice(0, 4), s]))
    assert.equal(byKey.soon.expired, false)
    assert.equal(byKey.past.expired, true)
    assert.ok(Math.abs(Date.parse(byKey.soon.expiresAt) - (now + (2 * HOUR))) < 1000, byKey.soon.expiresAt)
  })

  it('--time-zone reads USE_TZ=False wall times: expiry shown in UTC, state right', async () => {
    const now = Date.now()
    // Django with USE_TZ=False and TIME_ZONE='Asia/Tokyo' (UTC+9, no DST) stores local wall time.
    const tokyo = (ms: number): string => utcDatetime(new Date(ms + (9 * HOUR)))
    await conn.query('INSERT INTO tokyo_sessions VALUES (?, ?, ?), (?, ?, ?)', [
      'live0000000000000000000000000000',
      encodeSigned({_auth_user_id: '7'}, {secretKey: 'k'}),
      tokyo(now + HOUR),
      'gone0000000000000000000000000000',
      encodeSigned({_auth_user_id: '7'}, {secretKey: 'k'}),
      tokyo(now - HOUR),
    ])
    const run = async (zone: string[]) => {
      const r = await sessionctl(['sessions', 'list', '--store', url, '--table', 'tokyo_sessions', '--user', '7', '--json', '--show-keys', ...zone])
      assert.equal(r.code, 0, r.stderr)
      return JSON.parse(r.stdout).sessions as Array<{expiresAt: string; id: string}>
    }

    const right = await run(['--time-zone', 'Asia/Tokyo'])
    assert.deepEqual(right.map(s => s.id), ['live0000000000000000000000000000'])
    assert.ok(Math.abs(Date.parse(right[0].expiresAt) - (now + HOUR)) < 1000, right[0].expiresAt)
    // Read as UTC, both look 9 h later than they are: the expired one would pass for live.
    assert.equal((await run([])).length, 2)
  })
})
