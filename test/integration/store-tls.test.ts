/**
 * A private CA given by file (`?ssl-ca=/path` for MySQL, `?tls-ca=/path` for rediss://) is read
 * and verifies the server; another CA, or none (the system's), does not. Against a real
 * TLS-enabled MariaDB and Redis, with a CA made for the test by openssl.
 */
import mysql from 'mysql2/promise'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {sessionctl} from '../support/cli.js'
import {djangoSessionDdl} from '../support/mysql.js'
import {
  freePort, type MariaDbServer, type RedisServer, startMariaDb, startRedis,
} from '../support/servers.js'

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, {cwd, stdio: 'ignore'})
}

/** ca.pem and a server certificate for 127.0.0.1 it signed; other-ca.pem signed nothing here. */
function makeCerts(dir: string): void {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=sessionctl test CA'], dir)
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other-ca.pem', '-days', '2', '-subj', '/CN=another CA'], dir)
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir)
  writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf'], dir)
}

function assertOneLine(r: {code: null | number; stderr: string}, code: number): void {
  assert.equal(r.code, code, r.stderr)
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr)
}

describe('TLS with a private CA file (real MariaDB and Redis)', function () {
  this.timeout(120_000)
  let dir: string
  let maria: MariaDbServer
  let redis: RedisServer
  let tlsPort: number
  let mysqlUrl: string

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sessionctl-tls-'))
    makeCerts(dir)
    const file = (name: string): string => path.join(dir, name)
    tlsPort = await freePort()
    const redisTls = ['--tls-port', String(tlsPort), '--tls-cert-file', file('server.pem'), '--tls-key-file', file('server.key')]
    const servers = await Promise.all([
      startMariaDb({extraArgs: [`--ssl-cert=${file('server.pem')}`, `--ssl-key=${file('server.key')}`, `--ssl-ca=${file('ca.pem')}`]}),
      startRedis({extraArgs: [...redisTls, '--tls-ca-cert-file', file('ca.pem'), '--tls-auth-clients', 'no']}),
    ])
    maria = servers[0]
    redis = servers[1]
    const conn = await mysql.createConnection({
      host: '127.0.0.1', multipleStatements: true, port: maria.port, user: 'root',
    })
    await conn.query(`CREATE DATABASE app; USE app; ${djangoSessionDdl('django_session')}`)
    await conn.end()
    mysqlUrl = `mysql://root@127.0.0.1:${maria.port}/app`
  })

  after(async () => {
    await Promise.allSettled([maria?.stop(), redis?.stop()])
    rmSync(dir, {force: true, recursive: true})
  })

  it('MySQL: ?ssl-ca=<file> verifies the server with that CA', async () => {
    const r = await sessionctl(['sessions', 'list', '--store', `${mysqlUrl}?ssl-ca=${path.join(dir, 'ca.pem')}`, '--user', '42'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /0 live sessions of user 42/)
  })

  it('MySQL: another CA, or the system CAs (ssl=true), do not', async () => {
    assertOneLine(await sessionctl(['sessions', 'list', '--store', `${mysqlUrl}?ssl-ca=${path.join(dir, 'other-ca.pem')}`, '--user', '42']), 1)
    assertOneLine(await sessionctl(['sessions', 'list', '--store', `${mysqlUrl}?ssl=true`, '--user', '42']), 1)
  })

  it('Redis: rediss://…?tls-ca=<file> verifies the server with that CA; another CA or none does not', async () => {
    const url = `rediss://127.0.0.1:${tlsPort}/0`
    const ok = await sessionctl(['sessions', 'list', '--store', `${url}?tls-ca=${path.join(dir, 'ca.pem')}`, '--format', 'express'])
    assert.equal(ok.code, 0, ok.stderr)
    assertOneLine(await sessionctl(['sessions', 'list', '--store', `${url}?tls-ca=${path.join(dir, 'other-ca.pem')}`, '--format', 'express']), 1)
    assertOneLine(await sessionctl(['sessions', 'list', '--store', url, '--format', 'express']), 1)
  })
})
