/**
 * PostgreSQL helpers for tests: a fresh database on the test server started by global-setup
 * (SESSIONCTL_TEST_POSTGRES_URL), a pg client on it, and the frameworks' exact DDL.
 */
import {randomBytes} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import path from 'node:path'
import pg from 'pg'

import {registerSecret} from './secrets.js'
import {type PostgresServer, testPostgresUrl} from './servers.js'

/** A client on `url` that reads every value as the server's text (no type parsing). */
export async function pgClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({connectionString: url, connectionTimeoutMillis: 5000})
  await client.connect()
  return client
}

/** Creates a fresh database (default name t_<random>) on `url`'s server; returns its URL. */
export async function createPgDatabase(url = testPostgresUrl(), name = `t_${randomBytes(6).toString('hex')}`): Promise<string> {
  if (!/^\w{1,63}$/.test(name)) throw new Error(`invalid database name: ${name}`)
  const admin = await pgClient(url)
  try {
    await admin.query(`CREATE DATABASE "${name}"`)
  } finally {
    await admin.end()
  }

  const u = new URL(url)
  u.pathname = `/${name}`
  return u.toString()
}

/** A fresh database on the test server, and a client on it. */
export async function freshPgDatabase(): Promise<{client: pg.Client; database: string; url: string}> {
  const url = await createPgDatabase()
  return {client: await pgClient(url), database: new URL(url).pathname.slice(1), url}
}

/** Django 3.2's django_session on PostgreSQL (manage.py sqlmigrate sessions 0001). */
export const djangoSessionPgDdl = (table: string): string => `CREATE TABLE "${table}" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" timestamp with time zone NOT NULL);
CREATE INDEX "${table}_expire_date_a5c62663" ON "${table}" ("expire_date");
CREATE INDEX "${table}_session_key_c0390e0f_like" ON "${table}" ("session_key" varchar_pattern_ops);`

/** connect-pg-simple 10's table.sql. */
export const connectPgSimpleDdl = (table = 'session'): string => `CREATE TABLE "${table}" ("sid" varchar NOT NULL COLLATE "default", "sess" json NOT NULL, "expire" timestamp(6) NOT NULL) WITH (OIDS=FALSE);
ALTER TABLE "${table}" ADD CONSTRAINT "${table}_pkey" PRIMARY KEY ("sid") NOT DEFERRABLE INITIALLY IMMEDIATE;
CREATE INDEX "IDX_${table}_expire" ON "${table}" ("expire");`

/**
 * Makes `server` (one a test started itself) ask every TCP client but postgres for a password
 * (SCRAM): initdb's --auth=trust lets anyone in whatever password it gives, so a wrong password
 * would go unnoticed. postgres itself keeps trust (the helpers and the replicas connect as it).
 */
export async function requirePasswords(server: PostgresServer): Promise<void> {
  writeFileSync(path.join(server.dataDir, 'pg_hba.conf'), [
    'local all all trust',
    'host all postgres 127.0.0.1/32 trust',
    'host replication postgres 127.0.0.1/32 trust',
    'host all all 127.0.0.1/32 scram-sha-256',
    '',
  ].join('\n'))
  const client = await pgClient(server.url)
  try {
    await client.query('SELECT pg_reload_conf()')
  } finally {
    await client.end()
  }
}

/**
 * Creates (or re-creates) the login role `user` with `password`, allowed to connect to the
 * database in `url`, and runs `grants` there (e.g. GRANT SELECT, DELETE ON django_session TO ops);
 * returns `url` with those credentials. The password is registered for the secrets grep.
 */
export async function createPgRole(url: string, spec: {grants?: string[]; password: string; user: string}): Promise<string> {
  registerSecret(spec.password)
  if (!/^[a-z_]\w{0,62}$/.test(spec.user)) throw new Error(`invalid role name: ${spec.user}`)
  const database = decodeURIComponent(new URL(url).pathname.slice(1))
  const client = await pgClient(url)
  try {
    await client.query(`DROP OWNED BY ${spec.user}`).catch(() => {})
    await client.query(`DROP ROLE IF EXISTS ${spec.user}`)
    await client.query(`CREATE ROLE ${spec.user} LOGIN PASSWORD ${pg.escapeLiteral(spec.password)}`)
    await client.query(`GRANT CONNECT ON DATABASE "${database}" TO ${spec.user}`)
    for (const grant of spec.grants ?? []) await client.query(grant)
  } finally {
    await client.end()
  }

  const u = new URL(url)
  u.username = spec.user
  u.password = encodeURIComponent(spec.password)
  return u.toString()
}
