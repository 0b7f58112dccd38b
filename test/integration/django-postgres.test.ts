import type pg from 'pg'

/**
 * Parity with real Django on PostgreSQL: sessions written by Django 3.2 itself (db backend through
 * psycopg2, signed ≥3.1 and legacy formats, JSON and pickle serializers, anonymous, expired and
 * nearly-expired rows) into a real PostgreSQL, then `sessionctl` (the built binary) must give
 * exactly Django's own answer for every filter, and a purge must leave every other row exactly as
 * it was. Django's migration makes expire_date `timestamp with time zone`, so the answers must
 * not depend on the database's TimeZone: the whole suite runs on the server's default zone and
 * on databases whose TimeZone is America/New_York (behind UTC) and Asia/Kolkata (ahead, +05:30).
 */
import assert from 'node:assert/strict'

import {sessionctl} from '../support/cli.js'
import {django, postgresTarget, requireDjango} from '../support/django-oracle.js'
import {createPgDatabase, pgClient} from '../support/postgres.js'

const SECRET = 'parity-secret-key-do-not-print'
const UUID = '7c9e6679-7425-40de-944b-e07fc1f69e30'
// Sessions this close to their expiry flip live/expired if a zone offset (≥ 4 h here) is misapplied.
const NEAR = 300

interface Seeded {
  expireDate: null | string
  key: string
  ref: string
  sessionData: string
}

interface Answer {
  keys: string[]
  undecodable: number
}

const GARBAGE: Record<string, string> = {
  badbase64x0000000000000000000000: 'e30!!!!:1xWfJ4:abc',
  badzlibx000000000000000000000000: '.eJxub3QtemxpYi1hdC1hbGw:1xWfJ4:abc',
  emptyx00000000000000000000000000: '',
  notjsonx000000000000000000000000: 'e25vdCBqc29u:1xWfJ4:abc',
  truncatedx0000000000000000000000: '.eJxVjEEOwiAURO_y14ZIKTS6',
}

function keysOf(doc: {sessions: Array<{id: string}>}): string[] {
  return doc.sessions.map(s => s.id).sort()
}

for (const zone of [undefined, 'America/New_York', 'Asia/Kolkata']) {
  describe(`parity with real Django 3.2 on PostgreSQL (database TimeZone: ${zone ?? 'server default'})`, function () {
    this.timeout(120_000)
    let url: string
    let client: pg.Client
    let seeded: Map<string, Seeded>
    let tamperedKey: string

    async function answer(user: string, state: 'all' | 'expired' | 'live', table = 'django_session', serializer = 'json'): Promise<Answer> {
      return django<Answer>('answer', {
        engine: 'db', postgres: postgresTarget(url), secretKey: SECRET, serializer, state, table, user,
      })
    }

    async function cli(args: string[]): Promise<{code: null | number; doc: Record<string, unknown> & {sessions: Array<{id: string}>}; stderr: string;}> {
      const r = await sessionctl([...args, '--store', url, '--show-keys', '--json'], {env: {DJANGO_SECRET_KEY: SECRET}})
      assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET), 'the secret key is never printed')
      return {code: r.code, doc: JSON.parse(r.stdout), stderr: r.stderr}
    }

    /** Every row as stored: key → data and the exact instant (microseconds, in UTC). */
    async function rows(table = 'django_session'): Promise<Map<string, string>> {
      const result = await client.query<Record<string, string>>(`SELECT session_key, session_data, to_char(expire_date AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS expire FROM "${table}"`)
      return new Map(result.rows.map(r => [r.session_key, `${r.session_data}|${r.expire}`]))
    }

    before(async function () {
      requireDjango(this)
      url = await createPgDatabase()
      if (zone) {
        const admin = await pgClient(url)
        await admin.query(`ALTER DATABASE "${new URL(url).pathname.slice(1)}" SET timezone = '${zone}'`)
        await admin.end()
      }

      client = await pgClient(url)
      if (zone) assert.equal((await client.query('SHOW timezone')).rows[0].TimeZone, zone)
      const sessions = [
        {
          data: {cart: [1, 2, 3]}, format: 'signed', ref: '42-signed', user: '42',
        },
        {format: 'signed', ref: '42-signed-2', user: '42'},
        {format: 'legacy', ref: '42-legacy', user: '42'},
        {
          expired: true, format: 'signed', ref: '42-expired', user: '42',
        },
        {
          expired: true, format: 'legacy', ref: '42-legacy-expired', user: '42',
        },
        {
          expiryAge: NEAR, format: 'signed', ref: '42-live-5min', user: '42',
        },
        {
          expiryAge: -NEAR, format: 'signed', ref: '42-expired-5min', user: '42',
        },
        {
          data: {greeting: 'Grüß Gott — 東京'}, format: 'signed', ref: '42-non-ascii', user: '42',
        },
        {format: 'signed', ref: '420', user: '420'},
        {format: 'signed', ref: '4', user: '4'},
        {format: 'signed', ref: '7', user: '7'},
        {
          expired: true, format: 'signed', ref: '7-expired', user: '7',
        },
        {
          expiryAge: -NEAR, format: 'legacy', ref: '7-expired-5min', user: '7',
        },
        {format: 'legacy', ref: '7-legacy', user: '7'},
        {
          data: {django_language: 'fr'}, format: 'signed', ref: 'anonymous', user: null,
        },
        {
          data: {a: 1}, format: 'signed', ref: 'anonymous-small', user: null,
        },
        {
          expired: true, format: 'signed', ref: 'uuid-expired', user: UUID,
        },
        {format: 'signed', ref: 'uuid', user: UUID},
      ]
      const out = await django<{sessions: Seeded[]}>('seed', {
        postgres: postgresTarget(url), secretKey: SECRET, sessions, storeUsers: true,
      })
      seeded = new Map(out.sessions.map(s => [s.ref, s]))
      // Rows no framework wrote: garbage, and a user-42 payload with a forged signature.
      for (const [key, data] of Object.entries(GARBAGE)) {
        await client.query("INSERT INTO django_session VALUES ($1, $2, now() + interval '1 day')", [key, data])
      }

      const genuine = seeded.get('42-signed-2')!.sessionData
      tamperedKey = 'tamperedx00000000000000000000000'
      await client.query("INSERT INTO django_session VALUES ($1, $2, now() + interval '1 day')", [
        tamperedKey,
        genuine.slice(0, -4) + (genuine.endsWith('AAAA') ? 'BBBB' : 'AAAA'),
      ])
    })

    after(async () => {
      await client?.end()
    })

    it('Django made expire_date a timestamp with time zone and wrote the near-expiry rows 5 minutes either side of now', async () => {
      const type = await client.query("SELECT data_type FROM information_schema.columns WHERE table_name = 'django_session' AND column_name = 'expire_date'")
      assert.equal(type.rows[0].data_type, 'timestamp with time zone')
      for (const [ref, sign] of [['42-live-5min', 1], ['42-expired-5min', -1]] as const) {
        // expire_date = seeding time ± NEAR, and the seeding was less than two minutes ago.
        const fromNow = (Date.parse(seeded.get(ref)!.expireDate!) - Date.now()) / 1000
        const behind = (sign * NEAR) - fromNow
        assert.ok(behind >= 0 && behind < 120, `${ref}: expires ${fromNow} s from now`)
      }
    })

    for (const [flag, state] of [
      [[], 'live'],
      [['--expired-only'], 'expired'],
      [['--all'], 'all'],
    ] as const) {
      it(`list --user 42 ${flag.join(' ')} gives Django's ${state} answer`, async () => {
        const expected = await answer('42', state)
        assert.ok(expected.keys.length > 0)
        const {code, doc} = await cli(['sessions', 'list', '--user', '42', ...flag])
        assert.equal(code, 0)
        assert.deepEqual(keysOf(doc), expected.keys)
      })
    }

    it('list --all shows each session of 42 with Django’s expire_date and Django’s live/expired state', async () => {
      const live = new Set((await answer('42', 'live')).keys)
      const expireDate = new Map([...seeded.values()].map(s => [s.key, s.expireDate]))
      const {doc} = await cli(['sessions', 'list', '--all', '--user', '42'])
      const sessions = doc.sessions as Array<{expiresAt: string; id: string; state: string}>
      assert.equal(sessions.length, (await answer('42', 'all')).keys.length)
      for (const s of sessions) {
        assert.equal(s.state, live.has(s.id) ? 'live' : 'expired', s.id)
        // Django's isoformat() has microseconds, sessionctl's ISO-8601 milliseconds.
        assert.ok(Math.abs(Date.parse(s.expiresAt) - Date.parse(expireDate.get(s.id)!)) < 1, `${s.id}: ${s.expiresAt} vs ${expireDate.get(s.id)}`)
      }
    })

    it('the near-expiry rows fall on the side of now that Django puts them', async () => {
      const live = (await cli(['sessions', 'list', '--user', '42'])).doc
      const expired = (await cli(['sessions', 'list', '--user', '42', '--expired-only'])).doc
      assert.ok(keysOf(live).includes(seeded.get('42-live-5min')!.key))
      assert.ok(keysOf(expired).includes(seeded.get('42-expired-5min')!.key))
      assert.deepEqual((await answer('42', 'live')).keys, keysOf(live))
      assert.deepEqual((await answer('42', 'expired')).keys, keysOf(expired))
    })

    for (const user of ['420', '4', '7', UUID]) {
      it(`list --all --user ${user} gives Django's answer (ids compare as text)`, async () => {
        const {doc} = await cli(['sessions', 'list', '--all', '--user', user])
        assert.deepEqual(keysOf(doc), (await answer(user, 'all')).keys)
      })
    }

    it('counts what Django cannot decode: garbage as undecodable, the forged row as a bad signature', async () => {
      const {doc, stderr} = await cli(['sessions', 'list', '--all', '--user', '42'])
      const summary = doc.summary as {badSignature: number; undecodable: number}
      assert.equal(summary.undecodable, Object.keys(GARBAGE).length)
      assert.equal(summary.badSignature, 1)
      assert.equal(summary.undecodable + summary.badSignature, (await answer('42', 'all')).undecodable)
      assert.match(stderr, /5 undecodable values skipped/)
    })

    it('without the secret key the forged row is read by its payload (signatures cannot be checked)', async () => {
      const r = await sessionctl(['sessions', 'list', '--all', '--user', '42', '--store', url, '--show-keys', '--json'])
      const keys = keysOf(JSON.parse(r.stdout))
      assert.deepEqual(keys, [...(await answer('42', 'all')).keys, tamperedKey].sort())
    })

    it('--time-zone is refused on a timestamp with time zone column: one line, non-zero exit', async () => {
      const r = await sessionctl(['sessions', 'list', '--user', '42', '--store', url, '--time-zone', 'Asia/Tokyo'], {env: {DJANGO_SECRET_KEY: SECRET}})
      assert.notEqual(r.code, 0)
      assert.equal(r.stdout, '')
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
      assert.match(r.stderr, /--time-zone: django_session\.expire_date is a timestamp with time zone/)
    })

    it('purge --dry-run selects exactly Django’s answer and deletes nothing', async () => {
      const before = await rows()
      const {doc} = await cli(['sessions', 'purge', '--user', '42', '--dry-run'])
      assert.deepEqual(keysOf(doc), (await answer('42', 'all')).keys)
      assert.equal(doc.dryRun, true)
      assert.equal(doc.deleted, 0)
      assert.deepEqual(await rows(), before)
    })

    it('purge --expired-only --yes deletes only user 7’s expired sessions', async () => {
      const before = await rows()
      const expired = (await answer('7', 'expired')).keys
      assert.equal(expired.length, 2)
      const {code, doc} = await cli(['sessions', 'purge', '--user', '7', '--expired-only', '--yes'])
      assert.equal(code, 0)
      assert.equal(doc.deleted, expired.length)
      const after = await rows()
      assert.deepEqual([...after.keys()].sort(), [...before.keys()].filter(k => !expired.includes(k)).sort())
      for (const [key, value] of after) assert.equal(value, before.get(key), `${key} must be untouched`)
      assert.deepEqual((await answer('7', 'expired')).keys, [])
      assert.equal((await answer('7', 'live')).keys.length, 2)
    })

    it('purge --except keeps one session; every other user’s row stays byte for byte', async () => {
      const before = await rows()
      const all42 = (await answer('42', 'all')).keys
      const keep = seeded.get('42-signed')!.key
      const {code, doc} = await cli(['sessions', 'purge', '--user', '42', '--except', keep, '--yes'])
      assert.equal(code, 0)
      assert.equal(doc.deleted, all42.length - 1)
      assert.equal(doc.kept, 1)
      assert.deepEqual((await answer('42', 'all')).keys, [keep])
      const after = await rows()
      for (const [key, value] of before) {
        if (all42.includes(key) && key !== keep) assert.ok(!after.has(key), `${key} should be gone`)
        else assert.equal(after.get(key), value, `${key} must be untouched`)
      }

      assert.equal(after.size, before.size - (all42.length - 1))
    })

    describe('with the pickle serializer', () => {
      const table = 'pickle_sessions'

      before(async () => {
        await django('seed', {
          postgres: postgresTarget(url),
          secretKey: SECRET,
          sessions: [
            {format: 'pickle', ref: 'p42', user: '42'},
            {
              expired: true, format: 'pickle', ref: 'p42-expired', user: '42',
            },
            {
              expiryAge: -NEAR, format: 'pickle', ref: 'p42-expired-5min', user: '42',
            },
            {format: 'pickle', ref: 'p7', user: '7'},
          ],
          storeUsers: true,
          table,
        })
      })

      it('lists and purges exactly what Django (PickleSerializer) says', async () => {
        for (const [flag, state] of [[[], 'live'], [['--expired-only'], 'expired']] as const) {
          const {doc} = await cli(['sessions', 'list', '--user', '42', '--table', table, ...flag])
          assert.deepEqual(keysOf(doc), (await answer('42', state, table, 'pickle')).keys)
        }

        const expected = await answer('42', 'all', table, 'pickle')
        assert.equal(expected.keys.length, 3)
        const {doc} = await cli(['sessions', 'list', '--all', '--user', '42', '--table', table])
        assert.deepEqual(keysOf(doc), expected.keys)
        const before = await rows(table)
        const purge = await cli(['sessions', 'purge', '--user', '42', '--table', table, '--yes'])
        assert.equal(purge.code, 0)
        assert.equal(purge.doc.deleted, 3)
        assert.deepEqual((await answer('42', 'all', table, 'pickle')).keys, [])
        assert.equal((await answer('7', 'all', table, 'pickle')).keys.length, 1)
        const after = await rows(table)
        assert.equal(after.size, 1)
        for (const [key, value] of after) assert.equal(value, before.get(key))
      })
    })
  })
}
