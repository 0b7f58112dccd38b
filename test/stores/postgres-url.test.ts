/**
 * PostgreSQL store URLs, parsed without connecting: what each accepted form connects to, and a
 * one-line usage error (exit 2) for every form that could mean something else.
 */
import assert from 'node:assert/strict'

import {ExitCode, UsageError} from '../../src/errors.js'
import {parsePostgresUrl} from '../../src/stores/postgres.js'

function refused(url: string, says: RegExp): void {
  assert.throws(() => parsePostgresUrl(url), (error: unknown) => {
    assert.ok(error instanceof UsageError, `a usage error for ${url}`)
    assert.equal(error.exitCode, ExitCode.USAGE)
    assert.doesNotMatch(error.message, /\n/)
    assert.match(error.message, says)
    return true
  })
}

describe('postgres:// store URLs', () => {
  const saved = {...process.env}

  afterEach(() => {
    for (const name of ['PGPASSWORD', 'PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGSSLMODE']) {
      if (saved[name] === undefined) delete process.env[name]
      else process.env[name] = saved[name]
    }
  })

  it('connects to exactly the host, port, database and user named, both schemes', () => {
    for (const scheme of ['postgres', 'postgresql', 'POSTGRES']) {
      const t = parsePostgresUrl(`${scheme}://app@db.internal:6432/sessions`)
      assert.deepEqual([t.config.host, t.config.port, t.config.database, t.config.user], ['db.internal', 6432, 'sessions', 'app'])
      assert.equal(t.config.ssl, false)
    }

    assert.equal(parsePostgresUrl('postgres://app@db/app').config.port, 5432)
    assert.equal(parsePostgresUrl('postgres://app@[::1]:5433/app').config.host, '::1')
  })

  it('ignores PGHOST, PGPORT, PGDATABASE and PGSSLMODE: the URL names the store', () => {
    Object.assign(process.env, {
      PGDATABASE: 'other', PGHOST: 'elsewhere', PGPORT: '9999', PGSSLMODE: 'require',
    })
    const t = parsePostgresUrl('postgres://app@db:5432/app')
    assert.deepEqual([t.config.host, t.config.port, t.config.database, t.config.ssl], ['db', 5432, 'app', false])
  })

  it('takes the password from the URL (percent-decoded), else from PGPASSWORD, and never shows it', () => {
    const t = parsePostgresUrl('postgres://app:p%40ss%3Aword@db/app')
    assert.equal(t.config.password, 'p@ss:word')
    assert.doesNotMatch(t.label, /p%40ss|p@ss/)
    process.env.PGPASSWORD = 'from-env'
    assert.equal(parsePostgresUrl('postgres://app@db/app').config.password, 'from-env')
    assert.equal(parsePostgresUrl('postgres://app:url@db/app').config.password, 'url')
  })

  it('connects through a socket directory with ?host=, on ?port=', () => {
    const t = parsePostgresUrl('postgres://app@/app?host=/var/run/postgresql&port=5433')
    assert.deepEqual([t.config.host, t.config.port, t.where], ['/var/run/postgresql', 5433, '/var/run/postgresql/.s.PGSQL.5433'])
  })

  it('maps sslmode to TLS settings as libpq does', () => {
    assert.deepEqual(parsePostgresUrl('postgres://a@h/d?sslmode=require').config.ssl, {rejectUnauthorized: false})
    assert.equal((parsePostgresUrl('postgres://a@h/d?sslmode=verify-full').config.ssl as {rejectUnauthorized: boolean}).rejectUnauthorized, true)
    const ca = parsePostgresUrl('postgres://a@h/d?sslmode=verify-ca').config.ssl as {checkServerIdentity?: () => unknown; rejectUnauthorized: boolean}
    assert.equal(ca.rejectUnauthorized, true)
    assert.equal(ca.checkServerIdentity?.(), undefined, 'verify-ca checks the chain, not the host name')
    assert.equal(parsePostgresUrl('postgres://a@h/d?sslmode=disable').config.ssl, false)
  })

  it('passes server settings given as options=-c name=value', () => {
    assert.equal(parsePostgresUrl('postgres://a@h/d?options=-c%20search_path%3Dapp').config.options, '-c search_path=app')
    refused('postgres://a@h/d?options=search_path%3Dapp', /invalid options=search_path=app: give server settings as -c name=value/)
  })

  it('refuses every form that could mean another store, with one line', () => {
    refused('postgres://', /no host \(an unset variable\?\)/)
    refused('postgres://app@db', /no database: name it in the path/)
    refused('postgres://app@db/', /no database/)
    refused('postgres://app@db/a/b', /the path must be one database name/)
    refused('postgres://app@db1,db2/app', /several hosts/)
    refused('postgres://app@db/app?sslmode=prefer', /invalid sslmode=prefer \(prefer falls back to an unencrypted connection/)
    refused('postgres://app@db/app?sslmode=maybe', /invalid sslmode=maybe: use disable, require, verify-ca, verify-full/)
    refused('postgres://app@db/app?sslrootcert=/etc/ca.pem', /sslrootcert has no effect without sslmode/)
    refused('postgres://app@db/app?host=relative/dir', /must be a socket directory \(an absolute path\)/)
    refused('postgres://app@db/app?host=/run/postgresql', /the host db would be ignored/)
    refused('postgres://app@db/app?port=5433', /\?port= applies to a socket/)
    refused('postgres://app@/app?host=/run/postgresql&port=0', /invalid port "0"/)
    refused('postgres://app@db:0/app', /invalid port "0"/)
    refused('postgres://app:@db/app', /the password after ":" is empty/)
    refused('postgres://app@db/app?nope=1', /unknown option "nope": supported are/)
    refused('mysql://app@db/app'.replace('mysql', 'postgresx'), /expected postgres:\/\/ or postgresql:\/\//)
  })
})
