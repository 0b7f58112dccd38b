import type pg from 'pg'

/**
 * `sessions cleanup` on PostgreSQL, as cron runs it (the built binary): every expired session
 * goes and no live one, byte for byte, on one or two workers, on Django's table and on
 * connect-pg-simple's (naive times in a non-UTC TimeZone); two runs never overlap (advisory
 * lock, exit 5); a signal or the run-time cap stops it between batches (exit 6) and the next run
 * finishes; a held row is waited for at most lock_timeout and retried; a large cleanup says what
 * VACUUM has to do; a streaming replica behind on replay pauses it.
 */
import session from 'express-session'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {createRequire} from 'node:module'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {createDjangoCodec} from '../../src/frameworks/django.js'
import {getFramework, layoutFor} from '../../src/frameworks/index.js'
import {openPostgresStore} from '../../src/stores/postgres.js'
import {type CliResult, sessionctl, startSessionctl} from '../support/cli.js'
import {
  connectPgSimpleDdl, createPgDatabase, djangoSessionPgDdl, freshPgDatabase, pgClient,
} from '../support/postgres.js'
import {registerSessionKeys} from '../support/secrets.js'
import {freePort, type PostgresReplicaPair, startPostgresReplicaPair} from '../support/servers.js'

const require = createRequire(import.meta.url)
type StoreLike = session.Store & {close(): Promise<void>}
/** connect-pg-simple 10 (no type declarations of its own). */
const PGStore = (require('connect-pg-simple') as (s: typeof session) => new (options: Record<string, unknown>) => StoreLike)(session)

type Db = Awaited<ReturnType<typeof freshPgDatabase>>
type Doc = Record<string, unknown> & {
  deleted: number
  stoppedBy: string
  stores: Array<Record<string, unknown> & {deadTuples?: number; expired: number; orphans?: {deleted: number; found: number; table: string}; replicaWaitS: number; retries: number}>
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => {
    setTimeout(resolve, ms)
  })
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

const key = (n: number): string => `k${String(n).padStart(31, '0')}`

/** `total` rows (numbered from `first`), every fifth expired (n seconds ago), the rest live (a day and n seconds on). */
async function fill(client: pg.Client, table: string, total: number, first = 1): Promise<void> {
  await client.query(`INSERT INTO "${table}" SELECT 'k' || lpad(g::text, 31, '0'), 'data-' || g || repeat('x', g % 40),
       CASE WHEN g % 5 = 0 THEN now() - g * interval '1 second' ELSE now() + interval '1 day' + g * interval '1 second' END
     FROM generate_series($1::int, $2::int) g`, [first, first + total - 1])
}

async function counts(client: pg.Client, table = 'django_session'): Promise<{expired: number; live: number}> {
  const {rows} = await client.query<{expired: string; live: string}>(`SELECT count(*) FILTER (WHERE expire_date < now()) AS expired,
     count(*) FILTER (WHERE expire_date >= now()) AS live FROM "${table}"`)
  return {expired: Number(rows[0].expired), live: Number(rows[0].live)}
}

/**
 * Keeps a copy of `table`'s rows matching `where` (as `columns`); the function returned counts
 * the rows that differ from it since, either way, byte for byte (rows keyed by `keyColumn` in
 * `except` left out on both sides).
 */
async function keepRows(client: pg.Client, table: string, where: string, o: {columns?: string; keyColumn?: string} = {}): Promise<(except?: string[]) => Promise<{extra: number; missing: number}>> {
  const columns = o.columns ?? '*'
  const copy = `${table}_kept`
  await client.query(`DROP TABLE IF EXISTS "${copy}"; CREATE TABLE "${copy}" AS SELECT ${columns} FROM "${table}" WHERE ${where}`)
  return async (except = []) => {
    const skip = `${o.keyColumn ?? 'session_key'} <> ALL($1::text[])`
    const {rows} = await client.query<{extra: string; missing: string}>(`SELECT
        (SELECT count(*) FROM (SELECT ${columns} FROM "${table}" WHERE ${skip} EXCEPT ALL SELECT * FROM "${copy}" WHERE ${skip}) x) AS extra,
        (SELECT count(*) FROM (SELECT * FROM "${copy}" WHERE ${skip} EXCEPT ALL SELECT ${columns} FROM "${table}" WHERE ${skip}) y) AS missing`, [except])
    return {extra: Number(rows[0].extra), missing: Number(rows[0].missing)}
  }
}

function json(r: CliResult): Doc {
  return JSON.parse(r.stdout)
}

/** Backends this database has seen start (pg_stat_database.sessions). */
async function sessionsStarted(client: pg.Client): Promise<number> {
  const {rows} = await client.query<{n: string}>('SELECT sessions AS n FROM pg_stat_database WHERE datname = current_database()')
  return Number(rows[0].n)
}

/**
 * From `run`'s first delete until it exits, extends expired sessions of fill()'s 4,000 (every
 * fifth key) one by one, as Django does when their user comes back: the keys it did extend.
 */
async function extendWhile(db: Db, table: string, run: Promise<CliResult>): Promise<{extended: Set<string>; r: CliResult}> {
  const writer = await pgClient(db.url)
  const extended = new Set<string>()
  const activity = {running: true}
  const finished = run.then(r => {
    activity.running = false
    return r
  })
  try {
    await waitFor('the first batch', async () => !activity.running || (await counts(db.client, table)).expired < 4000)
    for (let i = 0; activity.running; i++) {
      const k = key((((i * 7919) % 4000) + 1) * 5)
      const result = await writer.query(`UPDATE "${table}" SET expire_date = now() + interval '1 hour' WHERE session_key = $1`, [k])
      if (result.rowCount === 1) extended.add(k)
      await sleep(2)
    }
  } finally {
    await writer.end()
  }

  return {extended, r: await finished}
}

/** Django's django_session columns, partitioned by the expiry (the key must then include it). */
const djangoPartitioned = `CREATE TABLE django_part ("session_key" varchar(40) NOT NULL, "session_data" text NOT NULL, "expire_date" timestamp with time zone NOT NULL,
  PRIMARY KEY (session_key, expire_date)) PARTITION BY RANGE (expire_date);`

const lockName = (database: string, table = 'django_session'): string => `sessionctl-cleanup:${database}.public.${table}`

describe('sessions cleanup on PostgreSQL', function () {
  this.timeout(120_000)
  let db: Db

  beforeEach(async () => {
    db = await freshPgDatabase()
    await db.client.query(djangoSessionPgDdl('django_session'))
  })

  afterEach(async () => {
    await db.client.end()
  })

  it('deletes exactly the expired rows on 1 and 2 workers, in many batches; the live rows stay byte for byte; one line on stdout', async () => {
    const opened: Record<string, number> = {}
    for (const workers of ['1', '2']) {
      await db.client.query('TRUNCATE django_session')
      await fill(db.client, 'django_session', 30_000)
      const unchanged = await keepRows(db.client, 'django_session', 'expire_date >= now()')
      if (workers === '1') {
        const dry = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--dry-run', '--batch-size', '50'])
        assert.equal(dry.code, 0, dry.stderr)
        assert.match(dry.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ dry run: postgres:\/\/.*\(table public\.django_session\): 6,000 expired sessions \(expired .* … .*\), \d+–\d+ batches \(sized to --target-ms as they run: fewer when statements are fast\); nothing was deleted\n$/)
        assert.deepEqual(await counts(db.client), {expired: 6000, live: 24_000})
      }

      const before = await sessionsStarted(db.client)
      const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--workers', workers, '--batch-size', '50', '--target-ms', '5'])
      opened[workers] = (await sessionsStarted(db.client)) - before
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stderr, '', 'fewer deletes than the VACUUM hint wants: nothing on stderr')
      const m = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ postgres:\/\/.*\(table public\.django_session\): deleted 6,000 expired sessions in (\d+) batches, [\d.]+ s \(longest statement \d+ ms\); done\n$/.exec(r.stdout)
      assert.ok(m, r.stdout)
      assert.ok(Number(m[1]) >= 6, `${m[1]} batches`)
      assert.deepEqual(await counts(db.client), {expired: 0, live: 24_000})
      assert.deepEqual(await unchanged(), {extra: 0, missing: 0})
    }

    assert.deepEqual(opened, {1: 1, 2: 2}, 'one connection per worker')
    const bad = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--workers', '0'])
    assert.equal(bad.code, 2, bad.stderr)
  })

  it('the dry run\'s batch count covers what the real run on the same data takes', async () => {
    for (const args of [[], ['--batch-size', '50', '--workers', '1'], ['--batch-size', '200', '--target-ms', '20']]) {
      await db.client.query('TRUNCATE django_session')
      await fill(db.client, 'django_session', 30_000)
      const dry = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--dry-run', ...args])
      assert.equal(dry.code, 0, dry.stderr)
      const m = /6,000 expired sessions \(expired .* … .*\), (?:about ([\d,]+) batch(?:es)?|([\d,]+)–([\d,]+) batches \(sized to --target-ms as they run: fewer when statements are fast\)); nothing was deleted\n$/.exec(dry.stdout)
      assert.ok(m, dry.stdout)
      const [min, max] = (m[1] === undefined ? [m[2], m[3]] : [m[1], m[1]]).map(n => Number(n.replaceAll(',', '')))
      const real = json(await sessionctl(['sessions', 'cleanup', '--store', db.url, '--json', ...args]))
      assert.equal(real.deleted, 6000)
      const batches = Number(real.batches)
      assert.ok(batches >= min && batches <= max, `${args.join(' ') || 'defaults'}: the dry run said ${min}–${max}, the run took ${batches}`)
    }
  })

  it('a range whose statement runs into statement_timeout (5 s) is deleted in halves, not retried whole until it fails', async () => {
    await fill(db.client, 'django_session', 3000)
    // Deleting any of 24 expired rows spread over the table takes 0.3 s (a slow trigger): all in one
    // statement, 7.2 s, past the cleanup's statement_timeout; in halves, well within it.
    await db.client.query(`CREATE FUNCTION slow_delete() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF OLD.session_key IN (SELECT 'k' || lpad((g * 125)::text, 31, '0') FROM generate_series(1, 24) g) THEN PERFORM pg_sleep(0.3); END IF; RETURN OLD; END $$`)
    await db.client.query('CREATE TRIGGER slow BEFORE DELETE ON django_session FOR EACH ROW EXECUTE FUNCTION slow_delete()')
    const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--workers', '1', '--batch-size', '5000', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const doc = json(r)
    assert.equal(doc.deleted, 600)
    assert.ok((doc.stores[0].retries as number) >= 1, JSON.stringify(doc))
    assert.deepEqual(await counts(db.client), {expired: 0, live: 2400})
  })

  it('--dry-run --json: one document with the summary, nothing deleted', async () => {
    await fill(db.client, 'django_session', 5000)
    const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--dry-run', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, '')
    const doc = json(r)
    assert.equal(doc.dryRun, true)
    assert.equal(doc.stoppedBy, 'done')
    assert.equal(doc.deleted, 0)
    assert.equal(doc.stores.length, 1)
    const [s] = doc.stores
    assert.match(String(s.store), /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/t_\w+ \(table public\.django_session\)$/)
    assert.equal(s.expired, 1000)
    assert.equal(s.deleted, 0)
    // Row 5000 expired 5000 s ago, row 5 five seconds ago.
    const oldest = Date.parse(String(s.oldestExpiry))
    const newest = Date.parse(String(s.newestExpiry))
    assert.ok(Math.abs(Date.now() - oldest - 5_000_000) < 60_000, String(s.oldestExpiry))
    assert.ok(Math.abs(Date.now() - newest - 5000) < 60_000, String(s.newestExpiry))
    assert.deepEqual(await counts(db.client), {expired: 1000, live: 4000})
    const real = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--json'])
    assert.equal(real.code, 0, real.stderr)
    const done = json(real)
    assert.equal(done.dryRun, false)
    assert.equal(done.deleted, 1000)
    assert.equal(done.stores[0].deleted, 1000)
    assert.ok((done.batches as number) >= 1)
    assert.deepEqual(await counts(db.client), {expired: 0, live: 4000})
  })

  it('pages with no expired rows first (a rerun after --max-runtime): each batch still deletes about the rows it was sized for', async () => {
    // The first 10,000 rows (the first pages) live, then every other one expired.
    await db.client.query(`INSERT INTO django_session SELECT 'k' || lpad(g::text, 31, '0'), 'data-' || g || repeat('x', g % 40),
         CASE WHEN g > 10000 AND g % 2 = 0 THEN now() - g * interval '1 second' ELSE now() + interval '1 day' END
       FROM generate_series(1, 20000) g`)
    const store = await openPostgresStore(db.url, {codec: createDjangoCodec(), layout: layoutFor(getFramework('django'), {})})
    const deleted: number[] = []
    try {
      const summary = await store.cleanupExpired({
        batchSize: 50,
        dryRun: false,
        onBatch: p => deleted.push(p.deleted - deleted.reduce((a, b) => a + b, 0)),
        sleepFactor: 0,
        sleepMs: 0,
        targetMs: 5,
        workers: 1,
      })
      assert.equal(summary.deleted, 5000)
    } finally {
      await store.close()
    }

    // Batch i is sized at most 50 × 2^(i-1) rows (the size at most doubles from one to the next).
    const over = deleted.map((n, i) => [i + 1, n, 50 * (2 ** i)]).filter(([, n, size]) => n > 3 * size)
    assert.deepEqual(over, [], `rows per batch: ${deleted.join(', ')}`)
    assert.deepEqual(await counts(db.client), {expired: 0, live: 15_000})
  })

  it('connect-pg-simple’s naive expire in a non-UTC TimeZone, rows minutes either side of now: exactly the expired ones go, on 1 and 2 workers', async () => {
    // connect-pg-simple writes to_timestamp(…) into a timestamp(6): wall time in the session's TimeZone.
    await db.client.query(`ALTER DATABASE "${db.database}" SET timezone TO 'America/New_York'`)
    await db.client.end()
    db.client = await pgClient(db.url)
    await db.client.query(connectPgSimpleDdl())
    const store = new PGStore({conString: db.url, pruneSessionInterval: false})
    const set = (sid: string, data: session.SessionData): Promise<void> => new Promise((resolve, reject) => {
      store.set(sid, data, error => (error ? reject(error) : resolve()))
    })
    const get = (sid: string): Promise<null | session.SessionData | undefined> => new Promise((resolve, reject) => {
      store.get(sid, (error, data) => (error ? reject(error) : resolve(data)))
    })
    try {
      for (const workers of ['1', '2']) {
        await db.client.query('TRUNCATE session')
        // 200 sessions saved by connect-pg-simple itself, expiring 30 s … 10 min either side of now.
        const own: Array<{expired: boolean; sid: string}> = []
        for (let i = 0; i < 200; i++) {
          const expired = i % 2 === 0
          const offsetMs = (30 + ((i * 37) % 570)) * 1000 * (expired ? -1 : 1)
          const sid = `own${workers}-${String(i).padStart(4, '0')}-${'s'.repeat(20)}`
          await set(sid, {cookie: {expires: new Date(Date.now() + offsetMs), originalMaxAge: offsetMs}, passport: {user: i}} as unknown as session.SessionData)
          own.push({expired, sid})
        }

        // And 30,000 more the same way (to_timestamp of whole seconds), every fifth expired.
        await db.client.query(`INSERT INTO session SELECT 'bulk-' || lpad(g::text, 28, '0'), json_build_object('cookie', json_build_object('originalMaxAge', 600000), 'n', g),
             to_timestamp(ceil(extract(epoch FROM now())) + CASE WHEN g % 5 = 0 THEN -30 - g % 570 ELSE 30 + g % 570 END)
           FROM generate_series(1, 30000) g`)
        const {rows: [{expired, total}]} = await db.client.query<{expired: string; total: string}>('SELECT count(*) FILTER (WHERE expire < localtimestamp) AS expired, count(*) AS total FROM session')
        assert.equal(Number(expired), 6100)
        // A reader taking these wall times for UTC would find every one of them expired (New York is behind UTC).
        const misread = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--format', 'express', '--time-zone', 'UTC', '--dry-run', '--json'])
        assert.equal(misread.code, 0, misread.stderr)
        assert.equal(json(misread).stores[0].expired, Number(total), 'the data tells a misread zone apart')

        const unchanged = await keepRows(db.client, 'session', 'expire >= localtimestamp', {columns: 'sid, sess::text AS sess, expire', keyColumn: 'sid'})
        const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--format', 'express', '--workers', workers, '--batch-size', '50', '--target-ms', '5', '--json'])
        assert.equal(r.code, 0, r.stderr)
        const doc = json(r)
        assert.equal(doc.deleted, 6100)
        assert.ok((doc.batches as number) >= 6, String(doc.batches))
        assert.deepEqual(await unchanged(), {extra: 0, missing: 0})
        assert.equal(Number((await db.client.query('SELECT count(*) AS n FROM session')).rows[0].n), Number(total) - 6100)
        // By connect-pg-simple's own rule (expire < to_timestamp(now)) nothing expired is left, and it still serves every live session.
        const {rows: left} = await db.client.query('SELECT count(*) AS n FROM session WHERE expire < to_timestamp($1)', [Math.ceil(Date.now() / 1000)])
        assert.equal(Number(left[0].n), 0)
        for (const s of own) {
          const data = await get(s.sid)
          if (s.expired) assert.equal(data ?? null, null, s.sid)
          else assert.ok(data, `${s.sid} is still served`)
        }

        const {rows: gone} = await db.client.query('SELECT count(*) AS n FROM session WHERE sid = ANY($1)', [own.filter(s => s.expired).map(s => s.sid)])
        assert.equal(Number(gone[0].n), 0, 'the expired rows connect-pg-simple wrote are gone')
      }
    } finally {
      await store.close()
    }
  })

  it('keeps every session a concurrent writer extends while the cleanup runs', async () => {
    await fill(db.client, 'django_session', 20_000)
    const unchanged = await keepRows(db.client, 'django_session', 'expire_date >= now()')
    const run = startSessionctl(['sessions', 'cleanup', '--store', db.url, '--batch-size', '50', '--target-ms', '5', '--sleep', '150', '--json'])
    const {extended, r} = await extendWhile(db, 'django_session', run)
    assert.equal(r.code, 0, r.stderr)
    const doc = json(r)
    assert.ok(extended.size > 20, `the writer extended only ${extended.size} sessions`)
    const {rows} = await db.client.query('SELECT count(*) AS n FROM django_session WHERE session_key = ANY($1)', [[...extended]])
    assert.equal(Number(rows[0].n), extended.size, 'every extended session survived')
    assert.equal(doc.deleted + extended.size, 4000, 'every expired row was either deleted or extended')
    assert.deepEqual(await counts(db.client), {expired: 0, live: 16_000 + extended.size})
    assert.deepEqual(await unchanged(extended.size > 0 ? [...extended] : []), {extra: 0, missing: 0})
  })

  it('a partitioned table (PARTITION BY RANGE on expire_date) takes the key walk: exact, and rows a writer moves to the other partition survive', async () => {
    const t0 = (await db.client.query<{t: string}>("SELECT (now() + interval '30 minutes')::text AS t")).rows[0].t
    await db.client.query(`${djangoPartitioned}
      CREATE INDEX django_part_expire_date ON django_part (expire_date);
      CREATE TABLE django_part_past PARTITION OF django_part FOR VALUES FROM (MINVALUE) TO ('${t0}');
      CREATE TABLE django_part_future PARTITION OF django_part FOR VALUES FROM ('${t0}') TO (MAXVALUE);`)
    await fill(db.client, 'django_part', 20_000)
    const unchanged = await keepRows(db.client, 'django_part', 'expire_date >= now()')
    const dry = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--table', 'django_part', '--dry-run', '--json'])
    assert.equal(dry.code, 0, dry.stderr)
    assert.equal(json(dry).stores[0].expired, 4000)
    const run = startSessionctl(['sessions', 'cleanup', '--store', db.url, '--table', 'django_part', '--batch-size', '50', '--target-ms', '5', '--sleep', '100', '--json'])
    // Extending moves the row from django_part_past to django_part_future.
    const {extended, r} = await extendWhile(db, 'django_part', run)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, '')
    const doc = json(r)
    assert.ok(extended.size > 20, `the writer extended only ${extended.size} sessions`)
    assert.equal(doc.deleted + extended.size, 4000)
    assert.deepEqual(await counts(db.client, 'django_part'), {expired: 0, live: 16_000 + extended.size})
    const {rows} = await db.client.query("SELECT count(*) AS n FROM django_part_future WHERE session_key = ANY($1) AND expire_date > now() + interval '50 minutes'", [[...extended]])
    assert.equal(Number(rows[0].n), extended.size, 'every extended session survived, in the other partition')
    assert.deepEqual(await unchanged([...extended]), {extra: 0, missing: 0})
  })

  it('warns when the key walk has no expiry index (a partitioned table), not when the page walk needs none', async () => {
    await db.client.query('DROP INDEX django_session_expire_date_a5c62663')
    await fill(db.client, 'django_session', 1000)
    const plain = await sessionctl(['sessions', 'cleanup', '--store', db.url])
    assert.equal(plain.code, 0, plain.stderr)
    assert.equal(plain.stderr, '', 'the page walk reads each page once, index or not')
    assert.deepEqual(await counts(db.client), {expired: 0, live: 800})

    await db.client.query(`${djangoPartitioned}
      CREATE TABLE django_part_all PARTITION OF django_part DEFAULT`)
    await fill(db.client, 'django_part', 1000)
    const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--table', 'django_part'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /^sessionctl: warning: postgres:\/\/.*: the expiry column expire_date has no index, so every batch scans the table; add one: CREATE INDEX ON public\.django_part \(expire_date\)\n$/)
    assert.deepEqual(await counts(db.client, 'django_part'), {expired: 0, live: 800})
  })

  it('an advisory lock held on the table: exit 5 at once, nothing deleted; locks on other names do not block', async () => {
    await fill(db.client, 'django_session', 5000)
    const holder = await pgClient(db.url)
    try {
      // An app's own one-key lock on the same text, and our lock on another table's name: no conflict.
      await holder.query("SELECT pg_advisory_lock(hashtext('sessionctl')), pg_advisory_lock(hashtext('sessionctl'), hashtext($1))", [lockName(db.database, 'other_table')])
      const free = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--json'])
      assert.equal(free.code, 0, free.stderr)
      assert.equal(json(free).deleted, 1000)

      await fill(db.client, 'django_session', 5000, 5001)
      // As the cleanup takes it: pg_try_advisory_lock(hashtext('sessionctl'), hashtext(name)).
      await holder.query("SELECT pg_advisory_lock(hashtext('sessionctl'), hashtext($1))", [lockName(db.database)])
      const r = await sessionctl(['sessions', 'cleanup', '--store', db.url])
      assert.equal(r.code, 5, r.stderr)
      assert.ok(r.ms < 3000, `${r.ms} ms`)
      assert.equal(r.stdout, '')
      assert.match(r.stderr, /^sessionctl: another cleanup of postgres:\/\/.*\(table public\.django_session\) is running \(advisory lock on "sessionctl-cleanup:t_\w+\.public\.django_session" is held\); nothing was done\n$/)
      const asJson = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--json'])
      assert.equal(asJson.code, 5, asJson.stderr)
      assert.equal(json(asJson).stoppedBy, 'lock-held')
      assert.equal(json(asJson).deleted, 0)
      assert.deepEqual(await counts(db.client), {expired: 1000, live: 8000})
    } finally {
      await holder.end()
    }

    // The holder's connection gone, so is its lock.
    const after = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--json'])
    assert.equal(after.code, 0, after.stderr)
    assert.equal(json(after).deleted, 1000)
  })

  it('two cleanups started together: one works, the other exits at once with the "lock held" code', async () => {
    await fill(db.client, 'django_session', 20_000)
    const first = sessionctl(['sessions', 'cleanup', '--store', db.url, '--batch-size', '50', '--target-ms', '5', '--sleep', '300'])
    await waitFor('the first cleanup’s advisory lock', async () => {
      const {rows} = await db.client.query(`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND granted
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
      return Number(rows[0].n) > 0
    })
    const second = await sessionctl(['sessions', 'cleanup', '--store', db.url])
    assert.equal(second.code, 5, second.stderr)
    assert.ok(second.ms < 3000, `${second.ms} ms`)
    assert.match(second.stderr, /^sessionctl: another cleanup of postgres:\/\/.* is running \(advisory lock on "sessionctl-cleanup:.*" is held\); nothing was done\n$/)
    const done = await first
    assert.equal(done.code, 0, done.stderr)
    assert.deepEqual(await counts(db.client), {expired: 0, live: 16_000})
  })

  it('SIGINT stops it between batches with exit 6, a true count and a "stopped" audit line; the next run finishes', async () => {
    await fill(db.client, 'django_session', 20_000)
    const dir = mkdtempSync(join(tmpdir(), 'sessionctl-pg-cleanup-'))
    const log = join(dir, 'audit.jsonl')
    try {
      const run = startSessionctl(['sessions', 'cleanup', '--store', db.url, '--batch-size', '50', '--target-ms', '5', '--sleep', '200'], {env: {SESSIONCTL_AUDIT_LOG: log}})
      await waitFor('some batches', async () => (await counts(db.client)).expired < 3900)
      const signalled = Date.now()
      run.kill('SIGINT')
      const r = await run
      assert.ok(Date.now() - signalled < 2000, 'it stops promptly')
      assert.equal(r.code, 6, r.stderr)
      const m = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ postgres:\/\/.*: deleted ([\d,]+) expired sessions in \d+ batch(es)?, .*; stopped by signal\n$/.exec(r.stdout)
      assert.ok(m, r.stdout)
      const reported = Number(m[1].replaceAll(',', ''))
      assert.match(r.stderr, new RegExp(`^sessionctl: stopped by SIGINT after ${m[1]} deleted sessions?; rerun to continue\\n$`))
      const left = (await counts(db.client)).expired
      assert.equal(reported, 4000 - left, 'it reports exactly what it deleted')
      assert.ok(left > 0)
      const trail = (): Array<Record<string, unknown>> => readFileSync(log, 'utf8').trim().split('\n').map(l => JSON.parse(l) as Record<string, unknown>)
      const [started, finished] = trail()
      assert.equal(trail().length, 2, 'a "started" and a "finished" line')
      assert.equal(started.event, 'started')
      assert.equal(finished.event, 'finished')
      assert.equal(finished.run, started.run)
      assert.equal(finished.command, 'sessions cleanup')
      assert.equal(finished.outcome, 'stopped')
      assert.equal(finished.exitCode, 6)
      assert.equal(finished.deleted, reported)
      assert.match(String(finished.error), /stopped by SIGINT/)
      const again = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--json'], {env: {SESSIONCTL_AUDIT_LOG: log}})
      assert.equal(again.code, 0, again.stderr)
      assert.equal(json(again).deleted, left)
      assert.deepEqual(await counts(db.client), {expired: 0, live: 16_000})
      const next = trail().at(-1)!
      assert.equal(next.event, 'finished')
      assert.equal(next.outcome, 'ok')
      assert.equal(next.deleted, left)
    } finally {
      rmSync(dir, {force: true, recursive: true})
    }
  })

  it('--max-runtime stops at a batch boundary with exit 6; --sleep-factor paces the batches', async () => {
    await fill(db.client, 'django_session', 20_000)
    const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--batch-size', '50', '--target-ms', '5', '--sleep-factor', '3', '--sleep', '300', '--max-runtime', '1', '--json'])
    assert.equal(r.code, 6, r.stderr)
    const doc = json(r)
    assert.equal(doc.stoppedBy, 'deadline')
    assert.equal(doc.stores[0].stoppedBy, 'deadline')
    assert.ok(doc.deleted > 0 && doc.deleted < 4000, String(doc.deleted))
    assert.ok((doc.seconds as number) < 2, String(doc.seconds))
    assert.equal((await counts(db.client)).expired, 4000 - doc.deleted, 'it reports exactly what it deleted')
    await db.client.query('TRUNCATE django_session')
    await fill(db.client, 'django_session', 20_000)
    const text = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--batch-size', '50', '--target-ms', '5', '--sleep', '400', '--max-runtime', '1'])
    assert.equal(text.code, 6, text.stderr)
    // The cap doing its job is a normal outcome: said on stdout (the log), nothing on stderr (no cron mail).
    assert.match(text.stdout, /; stopped at --max-runtime\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ stopped at the --max-runtime cap after [\d,]+ deleted sessions?; rerun to continue\n$/)
    assert.equal(text.stderr, '')
  })

  it('an expired row another transaction holds past lock_timeout: the batch is retried and the row deleted once released', async () => {
    await fill(db.client, 'django_session', 20_000)
    registerSessionKeys([key(10_000)])
    const locker = await pgClient(db.url)
    try {
      await locker.query('BEGIN')
      await locker.query('SELECT 1 FROM django_session WHERE session_key = $1 FOR UPDATE', [key(10_000)])
      const release = sleep(2500).then(() => locker.query('COMMIT'))
      const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--json'])
      await release
      assert.equal(r.code, 0, r.stderr)
      const doc = json(r)
      assert.equal(doc.deleted, 4000)
      assert.ok(doc.stores[0].retries >= 1, `retries ${doc.stores[0].retries}`)
      // Each wait ends at lock_timeout (1 s), far below statement_timeout.
      assert.ok((doc.maxBatchMs as number) < 2000, `longest statement ${doc.maxBatchMs} ms`)
      assert.ok(r.ms < 15_000, `${r.ms} ms`)
      assert.deepEqual(await counts(db.client), {expired: 0, live: 16_000})
    } finally {
      await locker.end()
    }
  })

  it('an expired row held for the whole run: gives up after its retries with one line and the true count, never hangs', async () => {
    await fill(db.client, 'django_session', 20_000)
    const locker = await pgClient(db.url)
    try {
      await locker.query('BEGIN')
      await locker.query('SELECT 1 FROM django_session WHERE session_key = $1 FOR UPDATE', [key(10_000)])
      const r = await sessionctl(['sessions', 'cleanup', '--store', db.url], {timeoutMs: 40_000})
      assert.ok(r.ms < 20_000, `${r.ms} ms`)
      assert.equal(r.code, 4, r.stderr)
      const m = /^sessionctl: a lock on postgres:\/\/.* stayed held by another transaction through 6 waits of 1 s each \(.*\): nothing more was done; ([\d,]+) of 4,000 sessions were deleted before the failure, the rest are intact: rerun to finish\n$/.exec(r.stderr)
      assert.ok(m, r.stderr)
      const left = (await counts(db.client)).expired
      assert.equal(Number(m[1].replaceAll(',', '')), 4000 - left)
      const {rows} = await db.client.query('SELECT count(*) AS n FROM django_session WHERE session_key = $1', [key(10_000)])
      assert.equal(Number(rows[0].n), 1)
    } finally {
      await locker.end()
    }

    const again = await sessionctl(['sessions', 'cleanup', '--store', db.url])
    assert.equal(again.code, 0, again.stderr)
    assert.deepEqual(await counts(db.client), {expired: 0, live: 16_000})
  })

  it('one worker’s connection lost while the other waits on a held row: the other’s statement is waited for, and the count reported is what was deleted', async () => {
    await fill(db.client, 'django_session', 20_000)
    // Two expired rows held, far apart: each worker ends up waiting on one of them.
    const lockers = [await pgClient(db.url), await pgClient(db.url)]
    try {
      for (const [i, locker] of lockers.entries()) {
        await locker.query('BEGIN')
        await locker.query('SELECT 1 FROM django_session WHERE session_key = $1 FOR UPDATE', [key([10_000, 19_995][i])])
      }

      const holders = await Promise.all(lockers.map(async l => Number((await l.query('SELECT pg_backend_pid() AS pid')).rows[0].pid)))
      const run = sessionctl(['sessions', 'cleanup', '--store', db.url, '--batch-size', '50', '--target-ms', '5'])
      let victim: number | undefined
      await waitFor('both workers waiting on a held row', async () => {
        const {rows} = await db.client.query<{blockers: number[]; pid: number}>(`SELECT pid, pg_blocking_pids(pid) AS blockers FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'WITH d AS (DELETE%'`)
        victim = rows.find(r => r.blockers.includes(holders[0]))?.pid
        return rows.length === 2 && victim !== undefined
      })
      // The first worker's connection goes; the other's row is released at once, so its statement commits after the failure.
      await db.client.query('SELECT pg_terminate_backend($1)', [victim])
      await lockers[1].query('COMMIT')
      const r = await run
      assert.equal(r.code, 4, r.stderr)
      const m = /^sessionctl: lost the connection to postgres:\/\/.*: terminating connection due to administrator command; ([\d,]+) of 4,000 sessions were deleted before the failure, the rest are intact: rerun to finish\n$/.exec(r.stderr)
      assert.ok(m, r.stderr)
      await sleep(300)
      assert.equal(Number(m[1].replaceAll(',', '')), 4000 - (await counts(db.client)).expired, 'the count is what was deleted')
    } finally {
      await Promise.all(lockers.map(l => l.end()))
    }
  })

  it('after 10,000 deletes (not 9,999) it names the dead tuples and VACUUM; a table with autovacuum_enabled=false says autovacuum is off for it', async () => {
    await fill(db.client, 'django_session', 49_995)
    const below = await sessionctl(['sessions', 'cleanup', '--store', db.url])
    assert.equal(below.code, 0, below.stderr)
    assert.match(below.stdout, /deleted 9,999 expired sessions/)
    assert.equal(below.stderr, '')

    const expire = (n: number): Promise<unknown> => db.client.query(`UPDATE django_session SET expire_date = now() - interval '1 minute'
       WHERE session_key IN (SELECT session_key FROM django_session WHERE expire_date > now() ORDER BY session_key LIMIT $1)`, [n])
    await expire(10_000)
    const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--json'])
    assert.equal(r.code, 0, r.stderr)
    const m = /^sessionctl: warning: postgres:\/\/.*\(table public\.django_session\): the 10,000 deleted rows stay as dead tuples \(about ([\d,]+)\) until VACUUM makes their space reusable; autovacuum will do so, or run VACUUM \(ANALYZE\) public\.django_session\n$/.exec(r.stderr)
    assert.ok(m, r.stderr)
    const dead = Number(m[1].replaceAll(',', ''))
    assert.ok(dead >= 10_000, String(dead))
    assert.equal(json(r).stores[0].deadTuples, dead)

    await db.client.query('ALTER TABLE django_session SET (autovacuum_enabled = false)')
    await expire(10_000)
    const off = await sessionctl(['sessions', 'cleanup', '--store', db.url])
    assert.equal(off.code, 0, off.stderr)
    assert.match(off.stderr, /^sessionctl: warning: .*: the 10,000 deleted rows stay as dead tuples \(about [\d,]+\) until VACUUM makes their space reusable; autovacuum is off for it, or run VACUUM \(ANALYZE\) public\.django_session\n$/)
    assert.deepEqual(await counts(db.client), {expired: 0, live: 19_996})
  })

  it('--replica refusals come before anything is deleted: another kind, an unreachable one, one that is not a replica', async () => {
    await fill(db.client, 'django_session', 5000)
    // Passwords in the replica URLs: never printed (the secrets grep checks every run).
    const mysql = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--replica', 'mysql://monitor:Repl1ca-Pa55@127.0.0.1:3306/app'])
    assert.equal(mysql.code, 2, mysql.stderr)
    assert.match(mysql.stderr, /^sessionctl: invalid --replica "mysql:\/\/monitor:\*{4}@127\.0\.0\.1:3306\/app": expected postgres:\/\/user@host:5432\/database\n$/)
    const lagOnly = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--max-replica-lag', '2'])
    assert.equal(lagOnly.code, 2, lagOnly.stderr)
    assert.match(lagOnly.stderr, /^sessionctl: --max-replica-lag needs at least one --replica\n$/)

    const port = await freePort()
    const unreachable = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--replica', `postgres://monitor:Repl1ca-Pa55@127.0.0.1:${port}/postgres`])
    assert.equal(unreachable.code, 1, unreachable.stderr)
    assert.match(unreachable.stderr, new RegExp(`^sessionctl: replica cannot connect to 127\\.0\\.0\\.1:${port}: connection refused .*; 0 of 1,000 sessions were deleted before the failure, the rest are intact: rerun to finish\\n$`))
    const primary = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--replica', db.url])
    assert.equal(primary.code, 1, primary.stderr)
    assert.match(primary.stderr, /^sessionctl: replica postgres:\/\/.*: it is not a replica \(pg_is_in_recovery\(\) is false\); 0 of 1,000 sessions were deleted before the failure/)
    assert.deepEqual(await counts(db.client), {expired: 1000, live: 4000})
    // The refused runs left no lock behind.
    const r = await sessionctl(['sessions', 'cleanup', '--store', db.url])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(await counts(db.client), {expired: 0, live: 4000})
  })

  it('follows the layout’s expiry rule as data: an offset from the column, and NULL as expired', async () => {
    // A Flask/Laravel-shaped rule no built-in framework declares yet: expired = touched + 1 h
    // passed, or never touched (NULL).
    await db.client.query('CREATE TABLE rule_as_data (k varchar(40) PRIMARY KEY, v text, touched timestamptz NULL); CREATE INDEX ON rule_as_data (touched)')
    await db.client.query(`INSERT INTO rule_as_data SELECT 'k' || lpad(g::text, 5, '0'), 'v',
         CASE WHEN g % 10 = 0 THEN NULL WHEN g % 10 = 1 THEN now() - interval '2 hours' ELSE now() - interval '10 minutes' END
       FROM generate_series(1, 3000) g`)
    const layout = layoutFor(getFramework('django'), {
      dataColumn: 'v', expiryColumn: 'touched', keyColumn: 'k', table: 'rule_as_data',
    })
    layout.sql!.expiry = {...layout.sql!.expiry, nullMeans: 'expired', offsetSeconds: 3600}
    const store = await openPostgresStore(db.url, {codec: createDjangoCodec(), layout})
    try {
      const dry = await store.cleanupExpired({
        batchSize: 50, dryRun: true, sleepFactor: 0, sleepMs: 0, targetMs: 5,
      })
      assert.equal(dry.expired, 600, 'the 300 NULL rows and the 300 touched 2 h ago')
      assert.ok(dry.oldestExpiry!.getTime() < Date.now() - 3_500_000 && dry.oldestExpiry!.getTime() > Date.now() - 3_700_000, 'expiry shown is touched + 1 h')
      const summary = await store.cleanupExpired({
        batchSize: 50, dryRun: false, sleepFactor: 0, sleepMs: 0, targetMs: 5,
      })
      assert.equal(summary.deleted, 600)
    } finally {
      await store.close()
    }

    const {rows} = await db.client.query<Record<string, string>>(`SELECT count(*) FILTER (WHERE touched IS NULL) AS nulls,
       count(*) FILTER (WHERE touched < now() - interval '1 hour') AS old, count(*) AS n FROM rule_as_data`)
    assert.deepEqual(rows.map(r => [Number(r.nulls), Number(r.old), Number(r.n)]), [[0, 0, 2400]])
  })

  it('refuses to guess the unit of an integer expiry column', async () => {
    await db.client.query('CREATE TABLE spring_like (id varchar(36) PRIMARY KEY, data text, expiry bigint NOT NULL)')
    const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--table', 'spring_like', '--key-column', 'id', '--data-column', 'data', '--expiry-column', 'expiry', '--expiry-unit', 'datetime'])
    assert.equal(r.code, 2, r.stderr) // a flag the column contradicts: usage
    assert.match(r.stderr, /spring_like\.expiry is an integer column, not a datetime/)
  })
})

describe('sessions cleanup with a lagging PostgreSQL replica', function () {
  this.timeout(120_000)
  let pair: PostgresReplicaPair
  let primary: pg.Client
  let replica: pg.Client | undefined
  let url: string
  let replicaUrl: string

  const replayState = async (): Promise<{behind: boolean; lagS: number; paused: boolean}> => {
    const {rows} = await replica!.query<{behind: boolean; lag: null | string; state: string}>(`SELECT pg_get_wal_replay_pause_state() AS state,
        pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn() AS behind, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) AS lag`)
    return {behind: rows[0].behind, lagS: Number(rows[0].lag ?? 0), paused: rows[0].state === 'paused'}
  }

  /** Replay paused with WAL received but not replayed, and the last replayed commit `lagS` old: behind by pg_last_xact_replay_timestamp(). */
  const stallReplica = async (lagS: number): Promise<void> => {
    await replica!.query('SELECT pg_wal_replay_pause()')
    await waitFor('replay paused', async () => (await replayState()).paused)
    await primary.query('CREATE TABLE IF NOT EXISTS tick (n int); INSERT INTO tick VALUES (1)')
    await waitFor('WAL received, not replayed', async () => {
      const s = await replayState()
      return s.behind && s.lagS > lagS
    })
  }

  const resumeReplica = async (): Promise<void> => {
    await replica!.query('SELECT pg_wal_replay_resume()')
    await waitFor('replay caught up', async () => !(await replayState()).behind)
  }

  before(async () => {
    pair = await startPostgresReplicaPair()
    url = await createPgDatabase(pair.primary.url)
    primary = await pgClient(url)
    await primary.query(djangoSessionPgDdl('django_session'))
    await fill(primary, 'django_session', 20_000)
    const r = new URL(pair.replica.url)
    r.pathname = new URL(url).pathname
    replicaUrl = r.toString()
    await waitFor('the table on the replica', async () => {
      try {
        replica ??= await pgClient(replicaUrl)
        return (await counts(replica)).live === 16_000
      } catch {
        return false
      }
    })
  })

  after(async () => {
    await replica?.end()
    await primary?.end()
    await pair?.stop()
  })

  it('a replica whose replay is paused: nothing is deleted, it waits and says so until --max-runtime or a signal ends the wait', async () => {
    await stallReplica(1.5)
    try {
      const stalled = await sessionctl(['sessions', 'cleanup', '--store', url, '--replica', replicaUrl, '--max-replica-lag', '1', '--max-runtime', '2'])
      assert.equal(stalled.code, 6, stalled.stderr)
      const m = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ postgres:\/\/.*: deleted 0 expired sessions in 0 batches, [\d.]+ s \(longest statement \d+ ms; ([\d.]+) s waiting for replicas\); stopped at --max-runtime\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ stopped at the --max-runtime cap after 0 deleted sessions; rerun to continue\n$/.exec(stalled.stdout)
      assert.ok(m, stalled.stdout)
      assert.ok(Number(m[1]) >= 1.5, `${m[1]} s waiting`)
      assert.equal(stalled.stderr, '')
      assert.deepEqual(await counts(primary), {expired: 4000, live: 16_000}, 'nothing is deleted while the replica is behind')
      // A signal ends the wait as promptly as the cap does.
      const waiting = startSessionctl(['sessions', 'cleanup', '--store', url, '--replica', replicaUrl, '--max-replica-lag', '1', '--json'])
      // Its watch on the replica open (a client backend there besides ours), it is waiting.
      await waitFor('the cleanup’s connection to the replica', async () => {
        const {rows} = await replica!.query("SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")
        return Number(rows[0].n) > 0
      })
      await sleep(1500)
      const signalled = Date.now()
      waiting.kill('SIGTERM')
      const stopped = await waiting
      assert.ok(Date.now() - signalled < 2000, 'it stops promptly')
      assert.equal(stopped.code, 6, stopped.stderr)
      assert.equal(json(stopped).stoppedBy, 'signal')
      assert.equal(json(stopped).deleted, 0)
      assert.ok(json(stopped).stores[0].replicaWaitS >= 1, String(json(stopped).stores[0].replicaWaitS))
    } finally {
      await resumeReplica()
    }
  })

  it('replay paused mid-run: the deletes stop until it resumes, then the run finishes and the replica ends with exactly the live rows', async () => {
    const run = startSessionctl([
      'sessions', 'cleanup', '--store', url, '--replica', replicaUrl, '--max-replica-lag', '1', '--workers', '1', '--batch-size', '50', '--target-ms', '5', '--sleep', '500', '--json',
    ])
    let resumed = false
    try {
      await waitFor('the first batch', async () => (await counts(primary)).expired < 4000)
      await replica!.query('SELECT pg_wal_replay_pause()')
      // Deletes stop within the lag limit and a check interval: then nothing moves for 2.5 s.
      let still: number | undefined
      const deadline = Date.now() + 15_000
      while (still === undefined && Date.now() < deadline) {
        const before = (await counts(primary)).expired
        await sleep(2500)
        if ((await counts(primary)).expired === before) still = before
      }

      assert.ok(still !== undefined, 'the deletes stopped while replay was paused')
      assert.ok(still > 0, 'it did not finish while the replica was behind')
      await resumeReplica()
      resumed = true
    } finally {
      if (!resumed) await replica!.query('SELECT pg_wal_replay_resume()').catch(() => {})
    }

    const r = await run
    assert.equal(r.code, 0, r.stderr)
    const doc = json(r)
    assert.equal(doc.deleted, 4000)
    assert.ok(doc.stores[0].replicaWaitS >= 1, String(doc.stores[0].replicaWaitS))
    assert.deepEqual(await counts(primary), {expired: 0, live: 16_000})
    await waitFor('the replica to replay the deletes', async () => (await counts(replica!)).expired === 0)
    assert.deepEqual(await counts(replica!), {expired: 0, live: 16_000})
  })
})

/**
 * Spring Session JDBC's schema-postgresql.sql (spring-session 3.x), with the attributes' foreign
 * key as given, without ON DELETE CASCADE, or dropped; partitioned by hash of PRIMARY_ID (the key
 * walk; a unique index there must hold the partition key, so SESSION_ID's is a plain one).
 */
function springPgSchema(foreignKey: 'cascade' | 'no-action' | 'none', partitioned: boolean): string {
  const fk = {
    cascade: ',\n\tCONSTRAINT SPRING_SESSION_ATTRIBUTES_FK FOREIGN KEY (SESSION_PRIMARY_ID) REFERENCES SPRING_SESSION(PRIMARY_ID) ON DELETE CASCADE',
    'no-action': ',\n\tCONSTRAINT SPRING_SESSION_ATTRIBUTES_FK FOREIGN KEY (SESSION_PRIMARY_ID) REFERENCES SPRING_SESSION(PRIMARY_ID)',
    none: '',
  }[foreignKey]
  return `CREATE TABLE SPRING_SESSION (
\tPRIMARY_ID CHAR(36) NOT NULL,
\tSESSION_ID CHAR(36) NOT NULL,
\tCREATION_TIME BIGINT NOT NULL,
\tLAST_ACCESS_TIME BIGINT NOT NULL,
\tMAX_INACTIVE_INTERVAL INT NOT NULL,
\tEXPIRY_TIME BIGINT NOT NULL,
\tPRINCIPAL_NAME VARCHAR(100),
\tCONSTRAINT SPRING_SESSION_PK PRIMARY KEY (PRIMARY_ID)
)${partitioned ? ' PARTITION BY HASH (PRIMARY_ID)' : ''};
${partitioned
  ? `CREATE TABLE SPRING_SESSION_P0 PARTITION OF SPRING_SESSION FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE SPRING_SESSION_P1 PARTITION OF SPRING_SESSION FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE INDEX SPRING_SESSION_IX1 ON SPRING_SESSION (SESSION_ID);`
  : 'CREATE UNIQUE INDEX SPRING_SESSION_IX1 ON SPRING_SESSION (SESSION_ID);'}
CREATE INDEX SPRING_SESSION_IX2 ON SPRING_SESSION (EXPIRY_TIME);
CREATE INDEX SPRING_SESSION_IX3 ON SPRING_SESSION (PRINCIPAL_NAME);

CREATE TABLE SPRING_SESSION_ATTRIBUTES (
\tSESSION_PRIMARY_ID CHAR(36) NOT NULL,
\tATTRIBUTE_NAME VARCHAR(200) NOT NULL,
\tATTRIBUTE_BYTES BYTEA NOT NULL,
\tCONSTRAINT SPRING_SESSION_ATTRIBUTES_PK PRIMARY KEY (SESSION_PRIMARY_ID, ATTRIBUTE_NAME)${fk}
);`
}

describe('sessions cleanup of Spring Session JDBC tables on PostgreSQL', function () {
  this.timeout(60_000)

  for (const partitioned of [false, true]) {
    for (const foreignKey of ['cascade', 'no-action', 'none'] as const) {
      const layout = `${partitioned ? 'partitioned (key walk), ' : ''}${{cascade: 'ON DELETE CASCADE', 'no-action': 'a foreign key without ON DELETE CASCADE', none: 'no foreign key'}[foreignKey]}`
      it(`${layout}: the attributes of the deleted sessions go with them, every other row stays byte for byte`, async () => {
        const db = await freshPgDatabase()
        try {
          await db.client.query(springPgSchema(foreignKey, partitioned))
          // 2,000 sessions as JdbcIndexedSessionRepository saves them (EXPIRY_TIME in epoch ms,
          // Long.MAX_VALUE for one that never expires), every fourth expired, three attributes each.
          await db.client.query(`INSERT INTO SPRING_SESSION SELECT md5('p' || g)::uuid::text, md5('s' || g)::uuid::text, now_ms - 7200000, now_ms - 60000, 1800,
               CASE WHEN g % 4 = 0 THEN now_ms - g * 1000 WHEN g % 50 = 1 THEN 9223372036854775807 ELSE now_ms + 1800000 END,
               CASE WHEN g % 7 = 0 THEN NULL ELSE 'user' || g % 10 END
             FROM generate_series(1, 2000) g, (SELECT (extract(epoch FROM now()) * 1000)::bigint AS now_ms) n`)
          await db.client.query(`INSERT INTO SPRING_SESSION_ATTRIBUTES SELECT PRIMARY_ID, a, convert_to(a || ':' || SESSION_ID, 'UTF8') || '\\xaced0005'::bytea
             FROM SPRING_SESSION, unnest(ARRAY['SPRING_SECURITY_CONTEXT', 'loginTime', 'cart']) a`)
          // Without a foreign key, attributes can outlive their session (deleted some other way): the cleanup sweeps them too.
          if (foreignKey === 'none') await db.client.query(String.raw`INSERT INTO SPRING_SESSION_ATTRIBUTES SELECT md5('gone' || g)::uuid::text, 'cart', '\xaced0005'::bytea FROM generate_series(1, 30) g`)
          const live = '(SELECT PRIMARY_ID FROM SPRING_SESSION WHERE EXPIRY_TIME >= (extract(epoch FROM now()) * 1000)::bigint)'
          const sessions = await keepRows(db.client, 'spring_session', `PRIMARY_ID IN ${live}`, {keyColumn: 'primary_id'})
          const attributes = await keepRows(db.client, 'spring_session_attributes', `SESSION_PRIMARY_ID IN ${live}`, {keyColumn: 'session_primary_id'})
          const r = await sessionctl(['sessions', 'cleanup', '--store', db.url, '--format', 'spring', '--batch-size', '50', '--target-ms', '5', '--json'])
          assert.equal(r.code, 0, r.stderr)
          const doc = json(r)
          assert.equal(doc.deleted, 500)
          if (foreignKey === 'cascade') assert.equal(doc.stores[0].orphans, undefined, 'the foreign key removes them')
          else if (foreignKey === 'no-action') assert.deepEqual(doc.stores[0].orphans, {deleted: 1500, found: 1500, table: 'spring_session_attributes'})
          else assert.deepEqual(doc.stores[0].orphans, {deleted: 1530, found: 1530, table: 'spring_session_attributes'})
          assert.deepEqual(await sessions(), {extra: 0, missing: 0})
          assert.deepEqual(await attributes(), {extra: 0, missing: 0})
          const {rows} = await db.client.query(`SELECT (SELECT count(*) FROM SPRING_SESSION) AS sessions, (SELECT count(*) FROM SPRING_SESSION_ATTRIBUTES) AS attributes,
              (SELECT count(*) FROM SPRING_SESSION_ATTRIBUTES a WHERE NOT EXISTS (SELECT 1 FROM SPRING_SESSION s WHERE s.PRIMARY_ID = a.SESSION_PRIMARY_ID)) AS orphans`)
          assert.deepEqual(rows.map(x => [Number(x.sessions), Number(x.attributes), Number(x.orphans)]), [[1500, 4500, 0]])
        } finally {
          await db.client.end()
        }
      })
    }
  }
})
