import type pg from 'pg'

/**
 * express-session sessions written by the real connect-pg-simple 10 (its own table.sql, through
 * createTableIfMissing) and read back through the same store: sessionctl's list/purge must select
 * exactly what connect-pg-simple itself serves (live) or no longer serves (expired) for the user.
 *
 * connect-pg-simple keeps `expire timestamp(6)` (naive), written as to_timestamp() in the
 * connection's TimeZone and served while `expire >= to_timestamp(now)` in that same zone. So the
 * suite runs on the server's default zone and on databases whose TimeZone is Pacific/Auckland
 * (ahead of UTC) and America/New_York (behind), with sessions expiring 3 minutes either side of
 * now: reading the naive column in any other zone flips them.
 *
 * connect-pg-simple 10 implements get/set/destroy/touch only (no all(), no length()), so "what
 * the store holds" is every sid in its table, each asked through store.get().
 */
import session from 'express-session'
import assert from 'node:assert/strict'
import {createRequire} from 'node:module'

import {sessionctl} from '../support/cli.js'
import {get, set} from '../support/express-session.js'
import {createPgDatabase, pgClient} from '../support/postgres.js'

const require = createRequire(import.meta.url)
type PgStore = session.Store & {close(): Promise<void>}
const PGStore = (require('connect-pg-simple') as (s: typeof session) => new (options: Record<string, unknown>) => PgStore)(session)

const MINUTE = 60_000
const HOUR = 60 * MINUTE

interface Seed {
  data: Record<string, unknown>
  /** ms from now; null = a browser-session cookie (connect-pg-simple then stores now + its 1-day ttl) */
  expiresIn: null | number
  sid: string
}

function cookie(expiresIn: null | number): session.Cookie {
  // @types/express-session omits the constructor's options; the class takes them.
  const c = new (session.Cookie as unknown as new (options: Record<string, unknown>) => session.Cookie)({httpOnly: true, path: '/'})
  c.expires = expiresIn === null ? null as unknown as Date : new Date(Date.now() + expiresIn)
  c.originalMaxAge = expiresIn
  return c
}

const SEEDS: Seed[] = [
  {data: {passport: {user: 42}}, expiresIn: 2 * HOUR, sid: 'numeric42aaaaaaaaaaaaaaaaaaaaaaaa'},
  {data: {passport: {user: 42}, views: 3}, expiresIn: 5 * HOUR, sid: 'numeric42bbbbbbbbbbbbbbbbbbbbbbbb'},
  {data: {passport: {user: '42'}}, expiresIn: HOUR, sid: 'string42ccccccccccccccccccccccccc'},
  {data: {passport: {user: 42}}, expiresIn: 3 * MINUTE, sid: 'nearlive42dddddddddddddddddddddd'},
  {data: {passport: {user: 42}}, expiresIn: -3 * MINUTE, sid: 'nearexpired42eeeeeeeeeeeeeeeeeee'},
  {data: {passport: {user: 42}}, expiresIn: -HOUR, sid: 'expired42fffffffffffffffffffffff'},
  {data: {name: 'Grüß Gott — 東京', passport: {user: 42}}, expiresIn: HOUR, sid: 'nonascii42gggggggggggggggggggggg'},
  {data: {passport: {user: 42}}, expiresIn: null, sid: 'browsercookie42hhhhhhhhhhhhhhhhh'},
  {data: {passport: {user: 420}}, expiresIn: HOUR, sid: 'user420iiiiiiiiiiiiiiiiiiiiiiiii'},
  {data: {passport: {user: 4}}, expiresIn: HOUR, sid: 'user4jjjjjjjjjjjjjjjjjjjjjjjjjjj'},
  {data: {passport: {user: 7}}, expiresIn: HOUR, sid: 'user7kkkkkkkkkkkkkkkkkkkkkkkkkkk'},
  {data: {passport: {user: 7}}, expiresIn: -3 * MINUTE, sid: 'nearexpired7lllllllllllllllllllll'},
  {data: {passport: {user: 7}}, expiresIn: 3 * MINUTE, sid: 'nearlive7mmmmmmmmmmmmmmmmmmmmmmm'},
  {data: {passport: {}}, expiresIn: HOUR, sid: 'loggedoutnnnnnnnnnnnnnnnnnnnnnnn'},
  {data: {views: 1}, expiresIn: HOUR, sid: 'anonymousooooooooooooooooooooooo'},
  {data: {auth: {userId: 42}, passport: {user: 7}}, expiresIn: HOUR, sid: 'custompathppppppppppppppppppppppp'},
]

// Rows no express-session wrote (sess is json, so only valid JSON gets in), expiring in a day.
const FOREIGN: Record<string, string> = {
  jsonarrayqqqqqqqqqqqqqqqqqqqqqqq: '[1,2]',
  jsonnullrrrrrrrrrrrrrrrrrrrrrrrr: 'null',
  // Served by the store (a JSON object with passport.user 42) although its cookie is not an object.
  oddcookie42tttttttttttttttttttttt: '{"cookie":"not an object","passport":{"user":42}}',
}

const userOf = (value: unknown): string | undefined => {
  const user = (value as null | {passport?: {user?: unknown}})?.passport?.user
  return user === undefined ? undefined : String(user)
}

const ids = (doc: {sessions: Array<{id: string}>}): string[] => doc.sessions.map(s => s.id).sort()

interface Doc {
  deleted?: number
  kept?: number
  sessions: Array<{expiresAt: string; id: string; state: string; userId: string}>
}

async function cli(args: string[]): Promise<{code: null | number; doc: Doc; stderr: string}> {
  const r = await sessionctl([...args, '--format', 'express', '--show-keys', '--json'])
  return {code: r.code, doc: JSON.parse(r.stdout), stderr: r.stderr}
}

for (const zone of [undefined, 'Pacific/Auckland', 'America/New_York']) {
  describe(`connect-pg-simple parity (database TimeZone: ${zone ?? 'server default'})`, function () {
    this.timeout(60_000)
    let url: string
    let client: pg.Client
    let store: PgStore
    /** what each seed was written with (the store no longer says for expired ones) */
    let written: Map<string, unknown>
    /** sid → the expiry connect-pg-simple stores (ms, whole seconds), for cookies that have one */
    let expires: Map<string, number>

    /** sid → what connect-pg-simple's get() serves, for every row of its table (null: not served). */
    async function served(): Promise<Map<string, unknown>> {
      const {rows} = await client.query<{sid: string}>('SELECT sid FROM session ORDER BY sid')
      const out = new Map<string, unknown>()
      for (const {sid} of rows) out.set(sid, (await get(store, sid)) ?? null)
      return out
    }

    /** The store's own answer for `user`: live = served with that passport.user; expired = held, not served, written for that user. */
    async function ownAnswer(user: string): Promise<{expired: string[]; live: string[]}> {
      const live: string[] = []
      const expired: string[] = []
      for (const [sid, value] of await served()) {
        if (value !== null) {
          if (userOf(value) === user) live.push(sid)
        } else if (userOf(written.get(sid)) === user) {
          expired.push(sid)
        }
      }

      return {expired: expired.sort(), live: live.sort()}
    }

    /** Every row exactly as stored (the naive expire as text). */
    async function rawRows(): Promise<Map<string, string>> {
      const {rows} = await client.query<{expire: string; sess: string; sid: string}>('SELECT sid, sess::text AS sess, expire::text AS expire FROM session')
      return new Map(rows.map(r => [r.sid, `${r.sess}|${r.expire}`]))
    }

    beforeEach(async () => {
      url = await createPgDatabase()
      if (zone) {
        const admin = await pgClient(url)
        await admin.query(`ALTER DATABASE "${new URL(url).pathname.slice(1)}" SET timezone = '${zone}'`)
        await admin.end()
      }

      client = await pgClient(url)
      store = new PGStore({conString: url, createTableIfMissing: true, pruneSessionInterval: false})
      written = new Map()
      expires = new Map()
      for (const seed of SEEDS) {
        const data = {...seed.data, cookie: cookie(seed.expiresIn)} as session.SessionData
        await set(store, seed.sid, data)
        written.set(seed.sid, seed.data)
        if (data.cookie.expires) expires.set(seed.sid, Math.ceil(data.cookie.expires.getTime() / 1000) * 1000)
      }

      for (const [sid, sess] of Object.entries(FOREIGN)) {
        await client.query("INSERT INTO session (sid, sess, expire) VALUES ($1, $2, now() + interval '1 day')", [sid, sess])
        written.set(sid, JSON.parse(sess))
      }
    })

    afterEach(async () => {
      await store?.close()
      await client?.end()
    })

    it('connect-pg-simple made a naive expire column holding wall time in the database’s zone', async () => {
      const {rows} = await client.query<{data_type: string}>("SELECT data_type FROM information_schema.columns WHERE table_name = 'session' AND column_name = 'expire'")
      assert.equal(rows[0].data_type, 'timestamp without time zone')
      const {rows: [row]} = await client.query<{asutc: string; tz: string; zoned: string}>(`SELECT
        extract(epoch FROM expire AT TIME ZONE current_setting('TimeZone'))::text AS zoned,
        extract(epoch FROM expire AT TIME ZONE 'UTC')::text AS asutc,
        current_setting('TimeZone') AS tz
        FROM session WHERE sid = 'nearlive42dddddddddddddddddddddd'`)
      if (zone) assert.equal(row.tz, zone)
      const offsetHours = Math.abs(Number(row.asutc) - Number(row.zoned)) / 3600
      // In the zone the value is the cookie's expiry (3 min from now, rounded up to the second).
      assert.ok(Math.abs((Number(row.zoned) * 1000) - Date.now() - (3 * MINUTE)) < MINUTE, `${row.zoned}`)
      if (zone) assert.ok(offsetHours >= 4, `read as UTC it would be ${offsetHours} h off`)
    })

    it('list --user 42 / --expired-only / --all give what connect-pg-simple serves and no longer serves', async () => {
      const own = await ownAnswer('42')
      assert.ok(own.live.includes('nearlive42dddddddddddddddddddddd') && own.live.includes('browsercookie42hhhhhhhhhhhhhhhhh'))
      assert.deepEqual(own.expired, ['expired42fffffffffffffffffffffff', 'nearexpired42eeeeeeeeeeeeeeeeeee'])
      const live = await cli(['sessions', 'list', '--store', url, '--user', '42'])
      assert.equal(live.code, 0, live.stderr)
      assert.deepEqual(ids(live.doc), own.live)
      assert.ok(live.doc.sessions.every(s => s.userId === '42'))
      // The two JSON-string sess values cannot hold user 42 (the prefilter rules them out unparsed);
      // --strict-counts parses every value and counts them.
      assert.doesNotMatch(live.stderr, /undecodable/)
      const strict = await cli(['sessions', 'list', '--store', url, '--user', '42', '--strict-counts'])
      assert.equal(strict.code, 0, strict.stderr)
      assert.deepEqual(ids(strict.doc), own.live)
      assert.match(strict.stderr, /2 undecodable values skipped \(not a session dict: 2\)/)
      const expired = await cli(['sessions', 'list', '--store', url, '--user', '42', '--expired-only'])
      assert.equal(expired.code, 0, expired.stderr)
      assert.deepEqual(ids(expired.doc), own.expired)
      const all = await cli(['sessions', 'list', '--store', url, '--user', '42', '--all'])
      assert.deepEqual(ids(all.doc), [...own.live, ...own.expired].sort())
      for (const s of all.doc.sessions) {
        assert.equal(s.state, own.live.includes(s.id) ? 'live' : 'expired', s.id)
        // connect-pg-simple stores the cookie's expiry rounded up to the second.
        if (expires.has(s.id)) assert.equal(s.expiresAt, new Date(expires.get(s.id)!).toISOString(), s.id)
      }
    })

    for (const user of ['7', '420', '4']) {
      it(`list --user ${user} (live and expired) matches the store (ids compare as text)`, async () => {
        const own = await ownAnswer(user)
        assert.deepEqual(ids((await cli(['sessions', 'list', '--store', url, '--user', user])).doc), own.live)
        assert.deepEqual(ids((await cli(['sessions', 'list', '--store', url, '--user', user, '--expired-only'])).doc), own.expired)
      })
    }

    it('purge --dry-run selects the store’s sessions of user 42 and deletes nothing', async () => {
      const before = await rawRows()
      const own = await ownAnswer('42')
      const {code, doc} = await cli(['sessions', 'purge', '--store', url, '--user', '42', '--dry-run'])
      assert.equal(code, 0)
      assert.deepEqual(ids(doc), [...own.live, ...own.expired].sort())
      assert.equal(doc.deleted, 0)
      assert.deepEqual(await rawRows(), before)
    })

    it('purge --except: the store then serves only the kept session of 42, everything else unchanged', async () => {
      const keep = 'nearlive42dddddddddddddddddddddd'
      const beforeRows = await rawRows()
      const beforeServed = await served()
      const own = await ownAnswer('42')
      const gone = [...own.live, ...own.expired].filter(sid => sid !== keep)
      const {code, doc} = await cli(['sessions', 'purge', '--store', url, '--user', '42', '--except', keep, '--yes'])
      assert.equal(code, 0)
      assert.equal(doc.deleted, gone.length)
      assert.equal(doc.kept, 1)
      const after = await ownAnswer('42')
      assert.deepEqual(after, {expired: [], live: [keep]})
      const afterServed = await served()
      const afterRows = await rawRows()
      assert.deepEqual([...afterRows.keys()].sort(), [...beforeRows.keys()].filter(sid => !gone.includes(sid)).sort())
      for (const [sid, value] of afterRows) {
        assert.equal(value, beforeRows.get(sid), `row ${sid} must be untouched`)
        assert.deepEqual(afterServed.get(sid), beforeServed.get(sid), `the store must serve ${sid} as before`)
      }
    })

    it('a sess that is a JSON string is never listed nor deleted by sessionctl (connect-pg-simple itself destroys it on get)', async () => {
      const sid = 'jsonstringuuuuuuuuuuuuuuuuuuuuuu'
      await client.query("INSERT INTO session (sid, sess, expire) VALUES ($1, $2, now() + interval '1 day')", [sid, '"passport.user=42"'])
      const all = await cli(['sessions', 'list', '--store', url, '--user', '42', '--all'])
      assert.ok(!ids(all.doc).includes(sid))
      const purge = await cli(['sessions', 'purge', '--store', url, '--user', '42', '--yes'])
      assert.equal(purge.code, 0)
      assert.equal(purge.doc.deleted, ids(all.doc).length)
      const left = await client.query<{sid: string}>('SELECT sid FROM session WHERE sid = $1', [sid])
      assert.equal(left.rows.length, 1, 'only what was selected is deleted')
      assert.deepEqual(await ownAnswer('42'), {expired: [], live: []})
      // connect-pg-simple: JSON.parse of the string fails, so get() destroys the row and serves nothing.
      assert.equal(await get(store, sid), undefined)
      assert.equal((await client.query('SELECT sid FROM session WHERE sid = $1', [sid])).rows.length, 0)
    })

    it('a sess that is a JSON string holding a session is read as connect-pg-simple reads it: listed and purged as 42’s', async () => {
      const sid = 'jsonstringsessionuuuuuuuuuuuuuuu'
      const inner = JSON.stringify({
        cookie: {
          expires: new Date(Date.now() + HOUR).toISOString(), httpOnly: true, originalMaxAge: HOUR, path: '/',
        }, passport: {user: 42},
      })
      await client.query("INSERT INTO session (sid, sess, expire) VALUES ($1, to_json($2::text), now() + interval '1 hour')", [sid, inner])
      // The store serves it: connect-pg-simple parses the string pg hands it once more.
      assert.deepEqual((await get(store, sid) as unknown as {passport: {user: number}}).passport, {user: 42})
      const live = await cli(['sessions', 'list', '--store', url, '--user', '42'])
      assert.ok(ids(live.doc).includes(sid), 'listed as user 42’s')
      const purge = await cli(['sessions', 'purge', '--store', url, '--user', '42', '--yes'])
      assert.equal(purge.code, 0, purge.stderr)
      assert.equal(await get(store, sid), undefined)
      assert.deepEqual(await ownAnswer('42'), {expired: [], live: []})
    })

    it('purge --expired-only deletes only 42’s expired rows; the live ones are still served', async () => {
      const own = await ownAnswer('42')
      const before = await rawRows()
      const {code, doc} = await cli(['sessions', 'purge', '--store', url, '--user', '42', '--expired-only', '--yes'])
      assert.equal(code, 0)
      assert.equal(doc.deleted, own.expired.length)
      const after = await rawRows()
      assert.deepEqual([...after.keys()].sort(), [...before.keys()].filter(sid => !own.expired.includes(sid)).sort())
      assert.deepEqual(await ownAnswer('42'), {expired: [], live: own.live})
      // User 7's expired session is no business of this purge.
      assert.deepEqual((await ownAnswer('7')).expired, ['nearexpired7lllllllllllllllllllll'])
    })
  })
}

describe('connect-pg-simple expiry times past year 9999 and infinite', function () {
  this.timeout(60_000)

  it('list, --expired-only and --all agree with what connect-pg-simple serves, and show the expiry', async () => {
    const url = await createPgDatabase()
    const client = await pgClient(url)
    const store = new PGStore({conString: url, createTableIfMissing: true, pruneSessionInterval: false})
    try {
      const far = new Date(Date.UTC(12_345, 0, 1))
      const c = cookie(HOUR)
      c.expires = far
      await set(store, 'year12345'.padEnd(32, 'x'), {cookie: c, passport: {user: 42}} as unknown as session.SessionData)
      await set(store, 'soon'.padEnd(32, 'x'), {cookie: cookie(HOUR), passport: {user: 42}} as unknown as session.SessionData)
      for (const [sid, expire] of [['infinity', 'infinity'], ['minusinfinity', '-infinity'], ['bc', '0044-03-15 00:00:00 BC']]) {
        await client.query('INSERT INTO session (sid, sess, expire) VALUES ($1, $2, $3)', [sid.padEnd(32, 'x'), '{"passport":{"user":42}}', expire])
      }

      const {rows} = await client.query<{sid: string}>('SELECT sid FROM session')
      const live: string[] = []
      for (const {sid} of rows) if (await get(store, sid)) live.push(sid)
      assert.equal(live.length, 3)
      const listed = await cli(['sessions', 'list', '--store', url, '--user', '42'])
      assert.deepEqual(ids(listed.doc), live.sort())
      const expired = await cli(['sessions', 'list', '--store', url, '--user', '42', '--expired-only'])
      assert.deepEqual(ids(expired.doc), rows.map(r => r.sid).filter(sid => !live.includes(sid)).sort())
      const all = await cli(['sessions', 'list', '--store', url, '--user', '42', '--all'])
      for (const s of all.doc.sessions) assert.equal(s.state, live.includes(s.id) ? 'live' : 'expired', s.id)
      assert.equal(all.doc.sessions.find(s => s.id.startsWith('year12345'))?.expiresAt, far.toISOString())
    } finally {
      await store.close()
      await client.end()
    }
  })
})

describe('connect-pg-simple expiry times at daylight-saving changes', function () {
  this.timeout(60_000)
  // Wall times an offset change repeats (autumn) or skips (spring), and ones just beside them.
  const CHANGES: Record<string, string[]> = {
    'America/New_York': ['2026-11-01 00:59:59', '2026-11-01 01:30:00', '2026-11-01 02:00:00', '2027-03-14 01:59:59', '2027-03-14 02:30:00', '2027-03-14 03:00:00'],
    'Europe/Paris': ['2026-10-25 02:30:00.5', '2027-03-28 02:30:00'],
    'Pacific/Auckland': ['2027-04-04 02:30:00', '2026-09-27 02:30:00', '2027-04-04 03:00:00'],
  }

  for (const [zone, walls] of Object.entries(CHANGES)) {
    it(`${zone}: list shows each expire as the instant PostgreSQL (so connect-pg-simple's expire >= now) reads it`, async () => {
      const url = await createPgDatabase()
      const admin = await pgClient(url)
      await admin.query(`ALTER DATABASE "${new URL(url).pathname.slice(1)}" SET timezone = '${zone}'`)
      await admin.end()
      const client = await pgClient(url)
      try {
        const store = new PGStore({conString: url, createTableIfMissing: true, pruneSessionInterval: false})
        await set(store, 'created'.padEnd(32, 'x'), {cookie: cookie(HOUR), passport: {user: 7}} as unknown as session.SessionData)
        await store.close()
        for (const [i, wall] of walls.entries()) {
          await client.query('INSERT INTO session (sid, sess, expire) VALUES ($1, $2, $3)', [`dst${i}`.padEnd(32, 'x'), '{"passport":{"user":42}}', wall])
        }

        // expire::timestamptz reads the naive value in the connection's zone, the database's.
        const {rows} = await client.query<{at: string; sid: string}>(`SELECT sid,
          to_char(expire::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at
          FROM session WHERE sid LIKE 'dst%'`)
        const {code, doc} = await cli(['sessions', 'list', '--store', url, '--user', '42', '--all'])
        assert.equal(code, 0)
        assert.equal(doc.sessions.length, walls.length)
        for (const row of rows) assert.equal(doc.sessions.find(s => s.id === row.sid)?.expiresAt, row.at, `${zone} ${walls[Number(row.sid.slice(3, 4))]}`)
      } finally {
        await client.end()
      }
    })
  }
})
