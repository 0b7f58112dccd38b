/**
 * Flask-Session 0.3.2's SQLAlchemy backend on PostgreSQL, with the real framework as the writer and
 * the oracle: a Flask 2.2 app with Flask-Session, Flask-SQLAlchemy 3.0 over postgresql+psycopg2 and
 * Flask-Login writes sessions through Flask's test client into the table SQLAlchemy creates from
 * Flask-Session's own model (`data` bytea, `expiry` naive timestamp); the built CLI lists, purges
 * and cleans with `--store postgres://…`; Flask-Session then says which sessions still load. The
 * database's TimeZone is Pacific/Chatham (UTC+13:45) and its bytea_output 'escape': Flask-Session
 * writes utcnow() whatever the server's zone, and the tool reads bytea its own way.
 */
import assert from 'node:assert/strict'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {sessionctl, sessionctlJson} from '../support/cli.js'
import {
  flaskIds, flaskMigrate, type FlaskPgTarget, flaskRaw, flaskRead, type FlaskReadAnswer, type FlaskSession, flaskWrite, postgresParams, requireFlaskPostgres,
} from '../support/flask.js'
import {createPgDatabase, pgClient} from '../support/postgres.js'

const HOUR = 3600
const auditLog = join(mkdtempSync(join(tmpdir(), 'sessionctl-flask-pg-')), 'audit.log')

interface Doc {
  deleted?: number
  kept?: number
  sessions: Array<{expired: boolean; id: string; userId: string}>
}

const cli = (args: string[]): Promise<{code: null | number; doc: Doc; stderr: string}> => sessionctlJson<Doc>(args)
const ids = (doc: Doc): string[] => doc.sessions.map(s => s.id).sort()
/** --show-keys prints the session_id column: `session:<sid>`. */
const shown = (sids: Array<string | undefined>): string[] => sids.map(sid => `session:${sid}`).sort()
const loadedAs = (answers: FlaskReadAnswer[], user: string): string[] => answers.filter(a => a.loaded && a.user === user).map(a => a.id).sort()

/** 42's sessions (live, within half an hour of expiring either side, non-permanent) and the others'. */
const CAST: Array<[string, FlaskSession]> = [
  ['42a', {attrs: {cart: [1, 2, 3]}, user: '42'}],
  ['42-int', {rawUserId: 42}],
  ['42-soon', {expiresInSeconds: HOUR / 2, user: '42'}],
  ['42-expired', {expiresInSeconds: -HOUR / 2, user: '42'}],
  ['42-not-permanent', {permanent: false, user: '42'}],
  ['4', {user: '4'}],
  ['420', {user: '420'}],
  ['420-int', {rawUserId: 420}],
  ['alice', {user: 'alice'}],
  ['7-expired', {expiresInSeconds: -5 * HOUR, user: '7'}],
  ['anonymous', {attrs: {note: '_user_id 42', user_id: 42}}],
]
const LIVE_42 = ['42a', '42-int', '42-soon', '42-msgpack']
const EXPIRED_42 = ['42-expired', '42-not-permanent']
const EXPIRED = [...EXPIRED_42, '7-expired']

describe('Flask-Session 0.3.2 on PostgreSQL (Flask-SQLAlchemy 3.0 over psycopg2, the model’s own table)', function () {
  this.timeout(120_000)
  let url: string
  let n = 0

  before(async function () {
    requireFlaskPostgres(this)
    url = await createPgDatabase()
    const client = await pgClient(url)
    try {
      const database = new URL(url).pathname.slice(1)
      await client.query(`ALTER DATABASE "${database}" SET timezone = 'Pacific/Chatham'`)
      await client.query(`ALTER DATABASE "${database}" SET bytea_output = 'escape'`)
    } finally {
      await client.end()
    }
  })

  /** A fresh table from Flask-Session's model, the cast written by the app, and a msgpack row of Flask-Session ≥ 0.7. */
  async function seed(): Promise<{s: Map<string, string>; store: string[]; target: FlaskPgTarget}> {
    const table = `sessions_${++n}`
    const target: FlaskPgTarget = {
      postgres: postgresParams(url), serializer: 'any', store: 'sql', table,
    }
    const {columns, indexes} = await flaskMigrate({...target, fresh: true})
    assert.deepEqual(columns, {
      data: 'bytea NULL', expiry: 'timestamp without time zone NULL', id: 'integer NOT NULL', session_id: 'character varying(255) NULL',
    })
    assert.deepEqual(indexes, [`CREATE UNIQUE INDEX ${table}_pkey ON public.${table} USING btree (id)`, `CREATE UNIQUE INDEX ${table}_session_id_key ON public.${table} USING btree (session_id)`])
    const written = await flaskWrite({...target, serializer: 'pickle'}, CAST.map(([, spec]) => spec))
    const [msgpack] = await flaskRaw(target, [{data: {_fresh: false, _permanent: true, _user_id: '42'}, encoding: 'msgpack'}])
    const s = new Map(CAST.map(([name], i) => [name, written[i]]))
    s.set('42-msgpack', msgpack)
    return {s, store: ['--store', url, '--format', 'flask', '--table', table], target}
  }

  const of = (s: Map<string, string>, names: string[]): string[] => names.map(x => s.get(x)!).sort()

  it('list --user 42 (live, --all, --expired-only): the live ones are exactly what Flask-Session loads as 42’s', async () => {
    const {s, store, target} = await seed()
    const live = await cli(['sessions', 'list', ...store, '--user', '42'])
    assert.equal(live.code, 0, live.stderr)
    assert.deepEqual(ids(live.doc), shown(of(s, LIVE_42)))
    const all = await cli(['sessions', 'list', ...store, '--user', '42', '--all'])
    assert.deepEqual(ids(all.doc), shown(of(s, [...LIVE_42, ...EXPIRED_42])))
    assert.deepEqual(all.doc.sessions.filter(x => x.expired).map(x => x.id).sort(), shown(of(s, EXPIRED_42)))
    const expired = await cli(['sessions', 'list', ...store, '--user', '42', '--expired-only'])
    assert.deepEqual(ids(expired.doc), shown(of(s, EXPIRED_42)))
    for (const [user, names] of [['4', ['4']], ['420', ['420', '420-int']], ['alice', ['alice']], ['7', []]] as Array<[string, string[]]>) {
      const other = await cli(['sessions', 'list', ...store, '--user', user])
      assert.deepEqual(ids(other.doc), shown(of(s, names)), `user ${user}`)
    }

    // Flask-Session agrees (reading, it deletes the row past its expiry; the NULL expiry kills 0.3.2's request).
    const answers = await flaskRead(target, [...s.values()])
    assert.deepEqual(loadedAs(answers, '42'), of(s, LIVE_42))
    // After a request that died (the NULL expiry), Flask-Login still tells each later user apart.
    for (const [user, names] of [['4', ['4']], ['420', ['420', '420-int']], ['alice', ['alice']]] as Array<[string, string[]]>) assert.deepEqual(loadedAs(answers, user), of(s, names), `user ${user}`)
    const byId = new Map(answers.map(a => [a.id, a]))
    assert.equal(byId.get(s.get('42-expired')!)!.loaded, false)
    assert.match(byId.get(s.get('42-not-permanent')!)!.error ?? '', /^TypeError: /)
  })

  it('purge --except <sid> --dry-run deletes nothing; --yes: Flask-Session loads only the kept one of 42’s, and every other live one', async () => {
    const {s, store, target} = await seed()
    const before = (await flaskIds(target)).ids
    const doomed = ['42-int', '42-soon', '42-msgpack', ...EXPIRED_42]
    const dry = await cli(['sessions', 'purge', ...store, '--user', '42', '--except', s.get('42a')!, '--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    assert.equal(dry.doc.deleted, 0)
    assert.equal(dry.doc.kept, 1)
    assert.deepEqual(ids(dry.doc), shown(of(s, doomed)))
    assert.deepEqual((await flaskIds(target)).ids, before, 'the dry run deleted nothing')

    const r = await cli(['sessions', 'purge', ...store, '--user', '42', '--except', s.get('42a')!, '--yes', '--audit-log', auditLog])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.doc.deleted, doomed.length)
    const gone = new Set(of(s, doomed))
    assert.deepEqual((await flaskIds(target)).ids.sort(), [...s.values()].filter(id => !gone.has(id)).sort())
    const left = await flaskRead(target, [...s.values()])
    assert.deepEqual(loadedAs(left, '42'), [s.get('42a')])
    assert.deepEqual(left.filter(a => a.loaded).map(a => a.id).sort(), of(s, ['42a', '4', '420', '420-int', 'alice', 'anonymous']))
  })

  it('cleanup deletes every row past its expiry or without one, and nothing Flask-Session still serves', async () => {
    const {s, store, target} = await seed()
    const dry = await sessionctl(['sessions', 'cleanup', ...store, '--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    assert.match(dry.stdout, new RegExp(` ${EXPIRED.length} expired sessions `))
    const clean = await cli(['sessions', 'cleanup', ...store])
    assert.equal(clean.code, 0, clean.stderr)
    assert.equal(clean.doc.deleted, EXPIRED.length)
    const left = (await flaskIds(target)).ids as string[]
    assert.deepEqual(left.sort(), [...s].filter(([name]) => !EXPIRED.includes(name)).map(([, sid]) => sid).sort())
    const reads = await flaskRead(target, left)
    assert.ok(reads.every(a => a.loaded && a.error === null), `every row left is one Flask-Session serves: ${JSON.stringify(reads.filter(a => !a.loaded))}`)
    assert.equal((await cli(['sessions', 'cleanup', ...store])).doc.deleted, 0)
  })
})
