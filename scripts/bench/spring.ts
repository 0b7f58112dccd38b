/* eslint-disable no-bitwise -- hashing row numbers and packing JDK-serialized bytes */
/**
 * The benchmark's "spring" section: `sessionctl sessions list --format spring --user U --all`
 * on `--rows` Spring Session sessions, in both of Spring's indexed stores, answered through the
 * index (the issue's target: under 1 s wall, whole process):
 *
 *   JDBC    spring_bench.SPRING_SESSION + SPRING_SESSION_ATTRIBUTES, the exact DDL of
 *           test/fixtures/spring.json (FK cascade), loaded with LOAD DATA LOCAL INFILE streamed
 *           from the generator. Floor: a child process doing `SELECT SESSION_ID, PRINCIPAL_NAME
 *           … WHERE PRINCIPAL_NAME = ?` with mysql2 (exact comparison in JS, as the column's
 *           collation also matches the mixed-case twin).
 *   Redis   RedisIndexedSessionRepository's keys: a hash `spring:session:sessions:<id>` (JDK
 *           Long/Integer/String values), the shadow key, the minute expiration sets and the
 *           principal index set (JDK String members, some stale: ids without a hash). Floor: a
 *           child process doing SMEMBERS + HGETALL of each member with ioredis.
 *
 * The data is deterministic for a row number: principals are short ids (2–3 chars), emails and a
 * few heavy users, 20% anonymous, and some users have a mixed-case twin (`K7`/`k7`); 2–4
 * attributes of 50 B – 4 KB (a few up to 64 KB), JDK-serialized; expiry live, expired or never.
 * The ids each user must get come from the generator, not from any store. No hash has a TTL
 * (Spring's would be maxInactiveInterval + 5 min), so a reused seed stays whole; expired
 * sessions are therefore still there, listed by --all.
 */
import type mysql from 'mysql2/promise'

import {Redis} from 'ioredis'
import {Readable} from 'node:stream'

import {parseJavaSerialized, writeJavaString} from '../../src/formats/java-serialization.js'
import {springFixtures} from '../../test/support/java-serialization.js'
import {startRedis} from '../../test/support/servers.js'
import {
  CLI, fixed, fixedOrNull, log, median, printTargets, processFailed, type ProcessRun, ROOT, runNode, settle, target, type Target,
} from './common.js'

/** Bump when the generated data changes: the section then reseeds both stores. */
export const SPRING_SEED_VERSION = 1
const DATABASE = 'spring_bench'
const NS = 'spring:session:'
const PRINCIPAL_ATTR = 'org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME'
const INDEX_PREFIX = `${NS}index:${PRINCIPAL_ATTR}:`
const META_KEY = 'bench:spring:meta'
const LONG_MAX = '9223372036854775807'
const DAY_MS = 86_400_000
/** Sessions per LOAD DATA statement (one transaction each) and per Redis pipeline. */
const LOAD_CHUNK = 100_000
const PIPELINE_SESSIONS = 1000

export interface SpringOptions {
  benchDir: string
  conn: mysql.Connection
  fresh: boolean
  /** mysql://root@127.0.0.1:PORT (no database) */
  mysqlUrl: string
  repeat: number
  rows: number
}

// ------------------------------------------------------------------------------------------
// The generator
// ------------------------------------------------------------------------------------------

/** murmur3's finalizer over (row, salt): a cheap, well-mixed 32-bit hash. */
function h(i: number, salt: number): number {
  let x = (Math.imul(i, 0x9E_37_79_B1) ^ Math.imul(salt + 1, 0x7F_4A_7C_15)) >>> 0
  x = Math.imul(x ^ (x >>> 16), 0x85_EB_CA_6B)
  x = Math.imul(x ^ (x >>> 13), 0xC2_B2_AE_35)
  return (x ^ (x >>> 16)) >>> 0
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0')

/** A version-4-looking UUID for (row, salt): 1 the SESSION_ID, 2 the PRIMARY_ID, 3 a stale index member's id. */
export function uuid(i: number, salt: number): string {
  const a = hex8(h(i, salt * 4))
  const b = hex8(h(i, (salt * 4) + 1))
  const c = hex8(h(i, (salt * 4) + 2))
  const d = hex8(h(i, (salt * 4) + 3))
  return `${a}-${b.slice(0, 4)}-4${b.slice(5)}-${'89ab'[h(i, salt) & 3]}${c.slice(1, 4)}-${c.slice(4)}${d}`
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz'
const ALNUM = `${LETTERS}0123456789`
const SHORT_MAX = (26 * 36) + (26 * 36 * 36)
const FIRST = ['alice',
  'bruno',
  'chen',
  'dana',
  'emil',
  'fatima',
  'gus',
  'hana',
  'ivan',
  'jules',
  'kofi',
  'lena',
  'marta',
  'nils',
  'olga',
  'pedro',
  'quinn',
  'rosa',
  'sami',
  'tara',
  'ugo',
  'vera',
  'wei',
  'xenia',
  'yusuf',
  'zoe',
  'arjun',
  'bea',
  'cyril',
  'dmitri',
  'elif',
  'femi']
const LAST = ['smith',
  'garcia',
  'muller',
  'rossi',
  'kowalski',
  'nguyen',
  'okafor',
  'tanaka',
  'silva',
  'johansson',
  'dubois',
  'novak',
  'haddad',
  'kim',
  'murphy',
  'weber',
  'costa',
  'ivanova',
  'lindqvist',
  'moreau',
  'nakamura',
  'petrov',
  'quispe',
  'rahman',
  'schulz',
  'torres',
  'usman',
  'vargas',
  'wong',
  'yilmaz',
  'zhang',
  'ahmed']
/** Heavy users, each on the rows i ≡ residue (mod modulus): 500, 250, 100 and 50 sessions in 1M rows. */
const HEAVY: Array<{modulus: number; name: string; residue: number}> = [
  {modulus: 2000, name: 'svc.batch@example.com', residue: 7},
  {modulus: 4000, name: 'kiosk-7', residue: 1013},
  {modulus: 10_000, name: 'ops-admin', residue: 3017},
  {modulus: 20_000, name: 'reporting.robot@example.com', residue: 5019},
]

const ANON = 0
const SHORT = 1
const EMAIL = 2
const HEAVY_KIND = 3

interface Population {
  email: number
  short: number
}

function population(rows: number): Population {
  // About 6 sessions per short id and 4 per email address, at any --rows.
  return {email: Math.max(200, Math.floor(rows * 0.45 / 4)), short: Math.min(SHORT_MAX, Math.max(200, Math.floor(rows * 0.35 / 6)))}
}

/** Row i's principal as a number: kind in bits 0–1, the twin (capitalised) variant in bit 2, the user's index above. */
export function whoOf(i: number, pop: Population): number {
  for (const [k, heavy] of HEAVY.entries()) if (i % heavy.modulus === heavy.residue) return (k << 3) | HEAVY_KIND
  const r = h(i, 1) % 100
  if (r < 20) return ANON
  const kind = r < 55 ? SHORT : EMAIL
  const k = h(i, kind === SHORT ? 2 : 4) % (kind === SHORT ? pop.short : pop.email)
  // One user in 20 has a twin whose name differs only in case, holding a quarter of its sessions.
  const twin = k % 20 === 0 && (h(i, 3) & 3) === 0 ? 4 : 0
  return (k << 3) | twin | kind
}

const capitalised = (s: string): string => s[0].toUpperCase() + s.slice(1)

export function principalOf(who: number): null | string {
  const kind = who & 3
  const k = who >>> 3
  if (kind === ANON) return null
  if (kind === HEAVY_KIND) return HEAVY[k].name
  let name: string
  if (kind === SHORT) {
    const j = k < 936 ? k : k - 936
    name = LETTERS[j % 26] + ALNUM[Math.floor(j / 26) % 36] + (k < 936 ? '' : ALNUM[Math.floor(j / 936) % 36])
  } else {
    name = `${FIRST[k % 32]}.${LAST[(k >>> 5) % 32]}${1000 + (k >>> 10)}@example.com`
  }

  return who & 4 ? capitalised(name) : name
}

/** Logged-in row i's index set also holds a member whose session is gone (Spring's drift): 1 in 40. */
const hasStale = (i: number): boolean => h(i, 5) % 40 === 0

interface Times {
  creation: number
  expiry: string
  /** expiry in ms, Infinity for never */
  expiryMs: number
  last: number
  maxInactive: number
}

/** 25% expired (30-minute sessions last used 1 h – 10 days ago), 0.3% never (interval −1), the rest live for 2–30 days. */
export function timesOf(i: number, seededAt: number): Times {
  const r = h(i, 6) % 1000
  let last: number
  let maxInactive: number
  if (r < 250) {
    last = seededAt - 3_600_000 - (h(i, 9) % (10 * DAY_MS))
    maxInactive = 1800
  } else {
    last = seededAt - (h(i, 9) % (DAY_MS / 2))
    maxInactive = r < 253 ? -1 : [2, 7, 14, 30][h(i, 10) & 3] * 86_400
  }

  const expiryMs = maxInactive < 0 ? Infinity : last + (maxInactive * 1000)
  return {
    creation: last - (h(i, 11) % (2 * DAY_MS)), expiry: maxInactive < 0 ? LONG_MAX : String(expiryMs), expiryMs, last, maxInactive,
  }
}

// JDK-serialized values: the fixed prefixes of what OpenJDK 17 wrote (test/fixtures/spring.json).
const fixtures = springFixtures()
const fixtureBytes = (name: string): Buffer => {
  const found = fixtures.cases.find(c => c.name === name) as undefined | {bytesBase64: string}
  if (!found) throw new Error(`spring.json has no case ${name}`)
  return Buffer.from(found.bytesBase64, 'base64')
}

const LONG_PREFIX = fixtureBytes('long-epoch-ms').subarray(0, -8)
const INTEGER_PREFIX = fixtureBytes('integer-1800').subarray(0, -4)
const DATE_BYTES = fixtureBytes('date')
/** `…77 08 <8 bytes> 78`: the ms inside TC_BLOCKDATA, then TC_ENDBLOCKDATA. */
const DATE_PREFIX = DATE_BYTES.subarray(0, -9)
/** byte[]: TC_ARRAY, class desc `[B` (serialVersionUID ACF317F8060854E0), TC_NULL, u32 length. */
const BYTE_ARRAY_PREFIX = Buffer.from('aced0005757200025b42acf317f8060854e0020000787000000000', 'hex')
/** The JDBC fixtures' `prefs` HashMaps (pageSize/theme variants). */
const PREFS = [...new Map(fixtures.cases.flatMap(c => ('attributes' in c ? c.attributes : []))
.filter(a => a.name === 'prefs').map(a => [a.bytesBase64, Buffer.from(a.bytesBase64, 'base64')])).values()]

function jdkLong(value: number): Buffer {
  const out = Buffer.alloc(LONG_PREFIX.length + 8)
  LONG_PREFIX.copy(out)
  out.writeBigInt64BE(BigInt(value), LONG_PREFIX.length)
  return out
}

function jdkInteger(value: number): Buffer {
  const out = Buffer.alloc(INTEGER_PREFIX.length + 4)
  INTEGER_PREFIX.copy(out)
  out.writeInt32BE(value, INTEGER_PREFIX.length)
  return out
}

function jdkDate(ms: number): Buffer {
  const out = Buffer.alloc(DATE_BYTES.length)
  DATE_PREFIX.copy(out)
  out.writeBigInt64BE(BigInt(ms), DATE_PREFIX.length)
  out[out.length - 1] = 0x78
  return out
}

/** 1 MB of deterministic noise: byte[] contents and String texts are slices of it. */
const NOISE = (() => {
  const out = Buffer.alloc(1 << 20)
  for (let i = 0; i < out.length; i += 4) out.writeUInt32LE(h(i, 99), i)
  return out
})()
const NOISE_TEXT = NOISE.toString('base64')

function jdkByteArray(length: number, offset: number): Buffer {
  const out = Buffer.alloc(BYTE_ARRAY_PREFIX.length + length)
  BYTE_ARRAY_PREFIX.copy(out)
  out.writeUInt32BE(length, BYTE_ARRAY_PREFIX.length - 4)
  NOISE.copy(out, BYTE_ARRAY_PREFIX.length, offset, offset + length)
  return out
}

/** Row i's attributes other than the principal's: 1–3 (logged in) or 2–3 (anonymous), 50 B – 4 KB, 1 in 200 carts 16–64 KB. */
export function otherAttributes(i: number, loggedIn: boolean, creation: number): Array<[string, Buffer]> {
  const n = loggedIn ? 1 + (h(i, 7) % 3) : 2 + (h(i, 7) % 2)
  const start = h(i, 8) & 3
  const out: Array<[string, Buffer]> = []
  for (let j = 0; j < n; j++) {
    switch ((start + j) & 3) {
    case 0: {
      out.push(['loginTime', jdkDate(creation)])
      break
    }

    case 1: {
      out.push(['prefs', PREFS[h(i, 12) % PREFS.length]])
      break
    }

    case 2: {
      const size = h(i, 13) % 200 === 0 ? 16_384 + (h(i, 14) % 49_152) : 300 + (h(i, 14) % 3700)
      out.push(['scopedTarget.cart', jdkByteArray(size, h(i, 15) % (NOISE.length - 65_536))])
      break
    }

    default: {
      const length = 20 + (h(i, 16) % 180)
      const at = h(i, 17) % (NOISE_TEXT.length - 200)
      out.push(['greeting', writeJavaString(`Hello ${NOISE_TEXT.slice(at, at + length)}`)])
    }
    }
  }

  return out
}

/** The writers read back as the values they wrote, with sessionctl's own Java reader. */
function selfCheck(): void {
  const checks: Array<[string, unknown, unknown]> = [
    ['Long', parseJavaSerialized(jdkLong(1_404_360_000_000)), 1_404_360_000_000],
    ['Long fixture bytes', jdkLong(1_404_360_000_000).equals(fixtureBytes('long-epoch-ms')), true],
    ['Integer fixture bytes', jdkInteger(1800).equals(fixtureBytes('integer-1800')), true],
    ['Date fixture bytes', jdkDate(1_764_590_400_000).equals(DATE_BYTES), true],
    ['Integer −1', parseJavaSerialized(jdkInteger(-1)), -1],
    ['byte[] length', (parseJavaSerialized(jdkByteArray(300, 5)) as Uint8Array).length, 300],
    ['prefs', PREFS.length > 0, true],
  ]
  for (const [what, got, want] of checks) {
    if (got !== want && !(typeof got === 'bigint' && Number(got) === want)) throw new Error(`spring seed self-check: ${what} reads back as ${String(got)}, not ${String(want)}`)
  }
}

// ------------------------------------------------------------------------------------------
// The users measured, and what each must get
// ------------------------------------------------------------------------------------------

interface BenchUser {
  label: string
  name: string
  /** its SESSION_IDs, live and expired, as generated */
  ids: string[]
  /** ids expired at `now` (by EXPIRY_TIME), for the informational live/expired check */
  expiryMs: Map<string, number>
  /** index members without a hash, seeded for it (Redis) */
  stale: number
  /** sessions of its mixed-case twin, which it must never get */
  twinSessions: number
}

/**
 * Three users: a short id and an email address, each the first (from a fixed offset) with at
 * least 3 sessions, a mixed-case twin that has sessions, and a stale index member; and the
 * heaviest user. Fallback where --rows is small: the best such user there is.
 */
function benchUsers(rows: number, seededAt: number): BenchUser[] {
  const pop = population(rows)
  const counts = {
    email: {n: new Uint32Array(pop.email), stale: new Uint32Array(pop.email), twin: new Uint32Array(pop.email)},
    short: {n: new Uint32Array(pop.short), stale: new Uint32Array(pop.short), twin: new Uint32Array(pop.short)},
  }
  for (let i = 0; i < rows; i++) {
    const who = whoOf(i, pop)
    const kind = who & 3
    if (kind !== SHORT && kind !== EMAIL) continue
    const c = kind === SHORT ? counts.short : counts.email
    const k = who >>> 3
    if (who & 4) c.twin[k]++
    else {
      c.n[k]++
      if (hasStale(i)) c.stale[k]++
    }
  }

  const pick = (kind: number): number => {
    const c = kind === SHORT ? counts.short : counts.email
    const size = c.n.length
    let best = -1
    let bestScore = -1
    for (let step = 0; step < size; step++) {
      const k = (Math.floor(size / 3) + step) % size
      if (k % 20 !== 0) continue
      const score = (c.twin[k] > 0 ? 1000 : 0) + (c.stale[k] > 0 ? 100 : 0) + Math.min(c.n[k], 3)
      if (score > bestScore) {
        best = k
        bestScore = score
      }

      if (score === 1103) break
    }

    return (best << 3) | kind
  }

  const targets: Array<{label: string; who: number}> = [
    {label: 'short id', who: pick(SHORT)},
    {label: 'email', who: pick(EMAIL)},
    {label: 'heavy user', who: HEAVY_KIND},
  ]
  const users: BenchUser[] = targets.map(t => ({
    expiryMs: new Map(), ids: [], label: t.label, name: principalOf(t.who)!, stale: 0, twinSessions: 0,
  }))
  for (let i = 0; i < rows; i++) {
    const who = whoOf(i, pop)
    for (const [j, t] of targets.entries()) {
      if (who === t.who) {
        const id = uuid(i, 1)
        users[j].ids.push(id)
        users[j].expiryMs.set(id, timesOf(i, seededAt).expiryMs)
        if (hasStale(i)) users[j].stale++
      } else if (who === (t.who | 4)) users[j].twinSessions++
    }
  }

  return users
}

// ------------------------------------------------------------------------------------------
// Seeding
// ------------------------------------------------------------------------------------------

/** A field for LOAD DATA (FIELDS TERMINATED BY '\t' ESCAPED BY '\\', lines by '\n'): \, tab, newline and NUL escaped. */
function escapeField(bytes: Buffer): Buffer {
  let specials = 0
  for (const b of bytes) if (b === 0x5C || b === 0x09 || b === 0x0A || b === 0x00) specials++
  if (specials === 0) return bytes
  const out = Buffer.alloc(bytes.length + specials)
  let at = 0
  for (const b of bytes) {
    if (b === 0x5C || b === 0x09 || b === 0x0A || b === 0x00) {
      out[at++] = 0x5C
      out[at++] = ESCAPED[b]
    } else out[at++] = b
  }

  return out
}

const NEWLINE = Buffer.from('\n')
/** What follows the backslash: \t, \n, \0, \\. */
const ESCAPED: Record<number, number> = {
  0x00: 0x30, 0x09: 0x74, 0x0A: 0x6E, 0x5C: 0x5C,
}

/**
 * The TSV lines of rows [from, to) for SPRING_SESSION or SPRING_SESSION_ATTRIBUTES.
 * @yields the lines of 2000 sessions at a time
 */
function * tsv(table: 'attributes' | 'sessions', from: number, to: number, seededAt: number, pop: Population): Generator<Buffer> {
  for (let start = from; start < to; start += 2000) {
    const parts: Buffer[] = []
    for (let i = start; i < Math.min(to, start + 2000); i++) {
      const who = whoOf(i, pop)
      const principal = principalOf(who)
      const t = timesOf(i, seededAt)
      const primary = uuid(i, 2)
      if (table === 'sessions') {
        parts.push(Buffer.from(`${primary}\t${uuid(i, 1)}\t${t.creation}\t${t.last}\t${t.maxInactive}\t${t.expiry}\t${principal ?? String.raw`\N`}\n`))
        continue
      }

      const attributes = otherAttributes(i, principal !== null, t.creation)
      if (principal !== null) attributes.push([PRINCIPAL_ATTR, writeJavaString(principal)])
      for (const [name, bytes] of attributes) parts.push(Buffer.from(`${primary}\t${name}\t`), escapeField(bytes), NEWLINE)
    }

    yield Buffer.concat(parts)
  }
}

async function jdbcMeta(conn: mysql.Connection): Promise<Record<string, string>> {
  try {
    const [rows] = await conn.query(`SELECT name, value FROM ${DATABASE}.meta`) as unknown as [Array<{name: string; value: string}>]
    return Object.fromEntries(rows.map(r => [r.name, r.value]))
  } catch {
    return {}
  }
}

/** The JDBC seed: made once (kept in .bench/mariadb), remade on --fresh, another --rows or seed version. */
async function ensureJdbcSeed(o: SpringOptions): Promise<{attributeRows: number; attributeBytes: number; seeded: boolean; seededAt: number; seconds: null | number}> {
  const {conn} = o
  const meta = await jdbcMeta(conn)
  const counts = async (): Promise<{attributeBytes: number; attributeRows: number}> => {
    const [[row]] = await conn.query(`SELECT COUNT(*) AS n, SUM(LENGTH(ATTRIBUTE_BYTES)) AS bytes FROM ${DATABASE}.SPRING_SESSION_ATTRIBUTES`) as unknown as [[{bytes: string; n: number}]]
    return {attributeBytes: Number(row.bytes), attributeRows: Number(row.n)}
  }

  if (!o.fresh && Number(meta.rows) === o.rows && Number(meta.version) === SPRING_SEED_VERSION) {
    return {
      ...(await counts()), seeded: false, seededAt: Number(meta.seededAt), seconds: null,
    }
  }

  log(`spring: seeding ${o.rows.toLocaleString('en-US')} Spring JDBC sessions into ${DATABASE} (once; kept in .bench/mariadb)…`)
  const seededAt = Date.now()
  const pop = population(o.rows)
  const started = performance.now()
  // Scaffolding, not what is measured: kept out of the binary log, checks off while loading.
  await conn.query('SET SESSION sql_log_bin = 0, foreign_key_checks = 0, unique_checks = 0')
  try {
    await conn.query(`DROP DATABASE IF EXISTS ${DATABASE}`)
    await conn.query(`CREATE DATABASE ${DATABASE}`)
    await conn.query(`USE ${DATABASE}`)
    for (const statement of fixtures.schemaMysql.split(';').map(s => s.trim()).filter(Boolean)) await conn.query(statement)
    await conn.query('CREATE TABLE meta (name varchar(64) PRIMARY KEY, value varchar(255))')
    for (let from = 0; from < o.rows; from += LOAD_CHUNK) {
      const to = Math.min(o.rows, from + LOAD_CHUNK)
      for (const table of ['sessions', 'attributes'] as const) {
        const into = table === 'sessions' ? 'SPRING_SESSION' : 'SPRING_SESSION_ATTRIBUTES'
        await conn.query({
          infileStreamFactory: () => Readable.from(tsv(table, from, to, seededAt, pop)),
          sql: `LOAD DATA LOCAL INFILE '${table}.tsv' INTO TABLE ${into} CHARACTER SET binary FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'`,
        })
      }

      log(`  ${to.toLocaleString('en-US')} sessions (${((performance.now() - started) / 1000).toFixed(0)} s)`)
    }

    await conn.query('REPLACE INTO meta VALUES (?, ?), (?, ?), (?, ?)', ['rows', String(o.rows), 'version', String(SPRING_SEED_VERSION), 'seededAt', String(seededAt)])
  } finally {
    await conn.query('SET SESSION sql_log_bin = 1, foreign_key_checks = 1, unique_checks = 1')
  }

  const seconds = (performance.now() - started) / 1000
  log(`spring: JDBC seeded in ${seconds.toFixed(0)} s`)
  return {
    ...(await counts()), seeded: true, seededAt, seconds,
  }
}

const indexKey = (principal: string): string => `${INDEX_PREFIX}${principal}`

/** The Redis seed (its own server, .bench/redis-spring, SAVEd to dump.rdb): made once, like the JDBC one. */
async function ensureRedisSeed(redis: Redis, o: SpringOptions, seededAtJdbc: number): Promise<{keys: number; seeded: boolean; seededAt: number; seconds: null | number; stale: number}> {
  const meta = await redis.hgetall(META_KEY)
  const current = Number(meta.version) === SPRING_SEED_VERSION && Number(meta.count) === o.rows && Number(meta.seededAt) === seededAtJdbc
  if (!o.fresh && current && (await redis.dbsize()) === Number(meta.keys)) {
    return {
      keys: Number(meta.keys), seeded: false, seededAt: Number(meta.seededAt), seconds: null, stale: Number(meta.stale),
    }
  }

  // The same sessions as the JDBC seed (same ids, times and principals), so one generator answers for both.
  const seededAt = seededAtJdbc
  log(`spring: seeding ${o.rows.toLocaleString('en-US')} Spring Session hashes (indexed repository) into Redis (once; kept in .bench/redis-spring)…`)
  const started = performance.now()
  const pop = population(o.rows)
  await redis.flushdb()
  let stale = 0
  let pending: Promise<unknown> | undefined
  const check = async (): Promise<void> => {
    const results = await pending as Array<[Error | null, unknown]> | null
    const error = results?.find(([e]) => e)?.[0]
    if (error) throw error
  }

  for (let from = 0; from < o.rows; from += PIPELINE_SESSIONS) {
    const pipeline = redis.pipeline()
    for (let i = from; i < Math.min(o.rows, from + PIPELINE_SESSIONS); i++) {
      const id = uuid(i, 1)
      const principal = principalOf(whoOf(i, pop))
      const t = timesOf(i, seededAt)
      const fields: Array<Buffer | string> = [
        'creationTime', jdkLong(t.creation), 'lastAccessedTime', jdkLong(t.last), 'maxInactiveInterval', jdkInteger(t.maxInactive),
      ]
      if (principal !== null) fields.push(`sessionAttr:${PRINCIPAL_ATTR}`, writeJavaString(principal))
      for (const [name, bytes] of otherAttributes(i, principal !== null, t.creation)) fields.push(`sessionAttr:${name}`, bytes)
      pipeline.hset(`${NS}sessions:${id}`, ...fields)
      const live = t.expiryMs > seededAt
      // The shadow key and the minute set exist while the session is live (Spring's expiry removes them).
      if (live) pipeline.set(`${NS}sessions:expires:${id}`, '')
      if (live && Number.isFinite(t.expiryMs)) pipeline.sadd(`${NS}expirations:${Math.ceil(t.expiryMs / 60_000) * 60_000}`, writeJavaString(`expires:${id}`))
      if (principal !== null) {
        pipeline.sadd(indexKey(principal), writeJavaString(id))
        if (hasStale(i)) {
          pipeline.sadd(indexKey(principal), writeJavaString(uuid(i, 3)))
          stale++
        }
      }
    }

    if (pending) await check()
    pending = pipeline.exec()
    if ((from / PIPELINE_SESSIONS) % 100 === 0) log(`  ${from.toLocaleString('en-US')} sessions (${((performance.now() - started) / 1000).toFixed(0)} s)`)
  }

  await check()
  const keys = (await redis.dbsize()) + 1
  await redis.hset(META_KEY, {
    count: String(o.rows), keys: String(keys), seededAt: String(seededAt), stale: String(stale), version: String(SPRING_SEED_VERSION),
  })
  const seconds = (performance.now() - started) / 1000
  log(`spring: Redis seeded in ${seconds.toFixed(0)} s; SAVE…`)
  await redis.save()
  return {
    keys, seeded: true, seededAt, seconds, stale,
  }
}

// ------------------------------------------------------------------------------------------
// Floors: the bare driver doing the same lookup, in its own process (plain Node, no tsx)
// ------------------------------------------------------------------------------------------

/** argv: root, mysql url (with database), user. Prints {ids, rows, queryMs}. */
const FLOOR_MYSQL = `
import {createRequire} from 'node:module'
const [, root, url, user] = process.argv
const mysql = createRequire(root + 'package.json')('mysql2/promise')
const started = performance.now()
const conn = await mysql.createConnection({uri: url})
const [rows] = await conn.query('SELECT SESSION_ID, PRINCIPAL_NAME FROM SPRING_SESSION WHERE PRINCIPAL_NAME = ?', [user])
// The column's collation also matches a mixed-case twin: the user is compared exactly here.
const ids = rows.filter(r => r.PRINCIPAL_NAME === user).map(r => r.SESSION_ID)
const queryMs = performance.now() - started
await conn.end()
process.stdout.write(JSON.stringify({ids, queryMs, rows: rows.length}) + '\\n')
`

/** argv: root, redis url, index key, session hash prefix. SMEMBERS, then HGETALL of each (one pipeline). Prints {ids, stale, queryMs}. */
const FLOOR_REDIS = `
import {createRequire} from 'node:module'
const [, root, url, set, prefix] = process.argv
const {Redis} = createRequire(root + 'package.json')('ioredis')
const started = performance.now()
const redis = new Redis(url, {lazyConnect: true, maxRetriesPerRequest: 0})
await redis.connect()
const members = await redis.smembersBuffer(set)
// JDK String members: AC ED 00 05 74 <u16 length> <modified UTF-8> (ids are ASCII)
const ids = members.map(m => m.subarray(7, 7 + m.readUInt16BE(5)).toString('latin1'))
const pipeline = redis.pipeline()
for (const id of ids) pipeline.hgetallBuffer(prefix + id)
const replies = await pipeline.exec()
let bytes = 0
const found = []
let stale = 0
for (const [i, [error, hash]] of replies.entries()) {
  if (error) throw error
  const fields = Object.entries(hash)
  if (fields.length === 0) stale++
  else {
    found.push(ids[i])
    for (const [, v] of fields) bytes += v.length
  }
}
const queryMs = performance.now() - started
await redis.quit()
process.stdout.write(JSON.stringify({bytes, ids: found, queryMs, stale}) + '\\n')
`

// ------------------------------------------------------------------------------------------
// Measuring
// ------------------------------------------------------------------------------------------

interface Run {
  cpuS: null | number
  exact: boolean
  ms: number
  rssMb: null | number
  /** what did not match, when not exact */
  problem?: string
  /** the floor's own connect + query time, in-process */
  queryMs?: number
}

interface Row {
  id: string
  label: string
  floor?: string
  runs: Run[]
  /** the first, unmeasured run (buffer pool / page cache cold after the server started) */
  first?: Run
}

function sameIds(got: string[], want: string[]): string | undefined {
  const w = new Set(want)
  const g = new Set(got)
  if (got.length !== g.size) return `${got.length - g.size} ids listed twice`
  const missing = want.filter(id => !g.has(id))
  const extra = got.filter(id => !w.has(id))
  if (missing.length === 0 && extra.length === 0) return undefined
  return `${missing.length} missing (${missing.slice(0, 3).join(', ')}), ${extra.length} not the user's (${extra.slice(0, 3).join(', ')})`
}

async function floorRun(script: string, args: string[], user: BenchUser, store: 'jdbc' | 'redis'): Promise<Run> {
  const run = await runNode(['--input-type=module', '-e', script, ROOT, ...args])
  if (run.code !== 0) throw new Error(`spring floor (${store}) failed (exit ${run.code}): ${run.stderr.trim().slice(0, 2000)}`)
  const doc = JSON.parse(run.stdout) as {ids: string[]; queryMs: number; stale?: number}
  let problem = sameIds(doc.ids, user.ids)
  if (!problem && store === 'redis' && doc.stale !== user.stale) problem = `${doc.stale} stale members, ${user.stale} seeded`
  return {
    cpuS: fixedOrNull(run.cpuS, 2), exact: problem === undefined, ms: fixed(run.ms, 1), problem, queryMs: fixed(doc.queryMs, 1), rssMb: fixedOrNull(run.rssMb, 1),
  }
}

function cliFailed(argv: string[], run: ProcessRun): Error {
  return processFailed(`sessionctl ${argv.slice(0, 2).join(' ')}`, run)
}

/** One CLI run, its ids checked against the user's, its stale count against the seeded one (Redis), its expired flags against the generator's. */
async function cliRun(argv: string[], user: BenchUser, store: 'jdbc' | 'redis'): Promise<Run & {expiredMismatch: number; warnings: string[]}> {
  const run = await runNode([CLI, ...argv])
  if (run.code !== 0) throw cliFailed(argv, run)
  const now = Date.now()
  const doc = JSON.parse(run.stdout) as {sessions: Array<{expired: boolean | null; id: string; userId: null | string}>; stores: Array<{staleIndex?: {count: number}; warnings?: string[]}>}
  let problem = sameIds(doc.sessions.map(s => s.id), user.ids)
  const wrongUser = doc.sessions.filter(s => s.userId !== user.name).length
  if (!problem && wrongUser > 0) problem = `${wrongUser} sessions with another userId`
  const stale = doc.stores[0]?.staleIndex?.count ?? 0
  if (!problem && store === 'redis' && stale !== user.stale) problem = `staleIndex.count ${stale}, ${user.stale} stale members seeded`
  if (!problem && store === 'jdbc' && stale !== 0) problem = `staleIndex.count ${stale} on JDBC`
  // Informational: expired as the generator says (sessions expiring within a minute of now left out).
  let expiredMismatch = 0
  for (const s of doc.sessions) {
    const at = user.expiryMs.get(s.id)
    if (at === undefined || Math.abs(at - now) < 60_000) continue
    if (s.expired !== (at < now)) expiredMismatch++
  }

  return {
    cpuS: fixedOrNull(run.cpuS, 2), exact: problem === undefined, expiredMismatch, ms: fixed(run.ms, 1), problem, rssMb: fixedOrNull(run.rssMb, 1),
    warnings: doc.stores[0]?.warnings ?? [],
  }
}

interface Summary {
  cpuS: null | number
  exact: boolean
  firstSeconds: null | number
  id: string
  label: string
  problems: string[]
  queryMs: null | number
  ratio: null | number
  rssMb: null | number
  seconds: number
}

function summarize(rows: Row[]): Summary[] {
  const seconds = new Map(rows.map(r => [r.id, median(r.runs.map(x => x.ms)) / 1000]))
  const known = (values: Array<null | number | undefined>): number[] => values.filter((v): v is number => typeof v === 'number')
  return rows.map(r => {
    const s = seconds.get(r.id)!
    const floor = r.floor === undefined ? undefined : seconds.get(r.floor)
    const cpu = known(r.runs.map(x => x.cpuS))
    const rss = known(r.runs.map(x => x.rssMb))
    const query = known(r.runs.map(x => x.queryMs))
    return {
      cpuS: cpu.length > 0 ? fixed(median(cpu), 2) : null,
      exact: r.runs.every(x => x.exact) && (r.first?.exact ?? true),
      firstSeconds: r.first ? fixed(r.first.ms / 1000, 3) : null,
      id: r.id,
      label: r.label,
      problems: [...new Set([r.first, ...r.runs].flatMap(x => (x?.problem ? [x.problem] : [])))],
      queryMs: query.length > 0 ? fixed(median(query), 1) : null,
      ratio: floor ? fixed(s / floor, 2) : null,
      rssMb: rss.length > 0 ? fixed(Math.max(...rss), 1) : null,
      seconds: fixed(s, 3),
    }
  })
}

function printTable(title: string, summaries: Summary[]): void {
  const fmt = (value: null | number, digits: number, suffix = ''): string => (value === null ? '—' : `${value.toFixed(digits)}${suffix}`)
  console.log(`\n${title}`)
  console.log(`  ${'measurement'.padEnd(52)} ${'seconds'.padStart(8)} ${'1st run'.padStart(8)} ${'ratio'.padStart(8)} ${'peak RSS MB'.padStart(12)} ${'cpu s'.padStart(6)}  exact`)
  for (const s of summaries) {
    const ratio = s.ratio === null ? (s.id.includes('floor') || s.id === 'startup' ? 'floor' : '—') : fmt(s.ratio, 2, '×')
    const figures = `${fmt(s.seconds, 3).padStart(8)} ${fmt(s.firstSeconds, 3).padStart(8)} ${ratio.padStart(8)} ${fmt(s.rssMb, 0).padStart(12)} ${fmt(s.cpuS, 2).padStart(6)}`
    console.log(`  ${s.label.padEnd(52)} ${figures}  ${s.exact}`)
    for (const problem of s.problems) console.log(`      MISMATCH: ${problem}`)
  }
}

export async function benchSpring(o: SpringOptions): Promise<{exact: boolean; result: Record<string, unknown>}> {
  selfCheck()
  const jdbcStore = `${o.mysqlUrl}/${DATABASE}`
  const jdbc = await ensureJdbcSeed(o)
  const users = benchUsers(o.rows, jdbc.seededAt)
  for (const u of users) {
    log(`spring: ${u.label} ${JSON.stringify(u.name)}: ${u.ids.length} sessions, ${u.stale} stale index members, its mixed-case twin ${u.twinSessions} sessions (from the generator)`)
  }

  const redisServer = await startRedis({extraArgs: ['--maxmemory', '0', '--maxmemory-policy', 'noeviction'], keepIn: `${o.benchDir}/redis-spring`})
  const redisStore = `${redisServer.url}/0`
  const client = new Redis(redisStore, {maxRetriesPerRequest: 1})
  const rows: Row[] = []
  const warnings = new Map<string, string[]>()
  let expiredMismatch = 0
  let redis: Awaited<ReturnType<typeof ensureRedisSeed>>
  let usedMemory: string | undefined
  try {
    redis = await ensureRedisSeed(client, o, jdbc.seededAt)
    usedMemory = /used_memory_human:(\S+)/.exec(await client.info('memory'))?.[1]
    const [[jdbcRows]] = await o.conn.query(`SELECT COUNT(*) AS n, SUM(PRINCIPAL_NAME IS NULL) AS anonymous, SUM(EXPIRY_TIME < UNIX_TIMESTAMP(NOW(3)) * 1000) AS expired,
      SUM(EXPIRY_TIME = ${LONG_MAX}) AS never, COUNT(DISTINCT PRINCIPAL_NAME) AS principals FROM ${DATABASE}.SPRING_SESSION`) as unknown as [[Record<string, number | string>]]
    const [explain] = await o.conn.query(`EXPLAIN SELECT SESSION_ID FROM ${DATABASE}.SPRING_SESSION WHERE PRINCIPAL_NAME = ?`, [users[0].name]) as unknown as [Array<{key: null | string}>]
    await client.quit()

    const stores = [
      {name: 'jdbc' as const, title: 'JDBC', store: jdbcStore},
      {name: 'redis' as const, title: 'Redis', store: redisStore},
    ]
    const byId = new Map<string, Row>()
    const add = (row: Row): Row => {
      rows.push(row)
      byId.set(row.id, row)
      return row
    }

    // What every whole-process figure below includes: Node, oclif and the command's modules starting.
    const startup = add({id: 'startup', label: 'sessionctl --version (start-up alone)', runs: []})
    for (const s of stores) {
      for (const u of users) {
        add({id: `${s.name}.floor.${u.label}`, label: `${s.title} floor (${s.name === 'jdbc' ? 'mysql2 SELECT' : 'ioredis SMEMBERS+HGETALL'}): ${u.label}`, runs: []})
        add({
          floor: `${s.name}.floor.${u.label}`, id: `${s.name}.list.${u.label}`, label: `${s.title} list --user ${u.label} (${u.ids.length})`, runs: [],
        })
      }

      add({
        floor: `${s.name}.floor.${users[0].label}`, id: `${s.name}.purge.${users[0].label}`, label: `${s.title} purge --dry-run --user ${users[0].label}`, runs: [],
      })
    }

    const listArgs = (store: string, u: BenchUser): string[] => ['sessions', 'list', '--store', store, '--format', 'spring', '--user', u.name, '--all', '--json', '--show-keys']
    const purgeArgs = (store: string, u: BenchUser): string[] => ['sessions', 'purge', '--store', store, '--format', 'spring', '--user', u.name, '--dry-run', '--json', '--show-keys']
    const floorOf = (s: typeof stores[number], u: BenchUser): Promise<Run> => (s.name === 'jdbc'
      ? floorRun(FLOOR_MYSQL, [jdbcStore, u.name], u, 'jdbc')
      : floorRun(FLOOR_REDIS, [redisStore, indexKey(u.name), `${NS}sessions:`], u, 'redis'))
    const record = (row: Row, run: Run & {expiredMismatch?: number; warnings?: string[]}, first: boolean): void => {
      if (first) row.first = run
      else row.runs.push(run)
      expiredMismatch += run.expiredMismatch ?? 0
      if (run.warnings && run.warnings.length > 0) warnings.set(row.id, run.warnings)
    }

    // Whatever the seeding left to InnoDB (dirty pages, purge) is done before anything is measured.
    await settle(o.conn)
    // Round 0 is the first run of each after the servers started (recorded, not in the medians).
    for (let round = 0; round <= o.repeat; round++) {
      log(round === 0 ? 'spring: first runs (not in the medians)' : `spring: round ${round} of ${o.repeat}`)
      const version = await runNode([CLI, '--version'])
      record(startup, {
        cpuS: fixedOrNull(version.cpuS, 2), exact: version.code === 0, ms: fixed(version.ms, 1), rssMb: fixedOrNull(version.rssMb, 1),
      }, round === 0)
      for (const s of stores) {
        for (const u of users) {
          record(byId.get(`${s.name}.floor.${u.label}`)!, await floorOf(s, u), round === 0)
          record(byId.get(`${s.name}.list.${u.label}`)!, await cliRun(listArgs(s.store, u), u, s.name), round === 0)
        }

        record(byId.get(`${s.name}.purge.${users[0].label}`)!, await cliRun(purgeArgs(s.store, users[0]), users[0], s.name), round === 0)
      }
    }

    const summaries = summarize(rows)
    const lists = summaries.filter(s => s.id.includes('.list.'))
    const slowest = Math.max(...lists.map(s => s.seconds))
    const targets: Target[] = [
      target('list --user, slowest median (both stores)', slowest, 1, ' s', 3),
      target('list --user, slowest first run', Math.max(...lists.map(s => s.firstSeconds ?? 0)), 1, ' s', 3),
      target('sessionctl peak RSS (every spring run)', Math.max(...summaries.filter(s => !s.id.includes('floor')).map(s => s.rssMb ?? 0)), 150, ' MB', 0),
      target('list --user minus start-up, slowest median', slowest - summaries.find(s => s.id === 'startup')!.seconds, 1, ' s', 3),
    ]
    const exact = summaries.every(s => s.exact)
    const n = (x: number | string): string => Number(x).toLocaleString('en-US')
    printTable(
      `spring: one user's sessions among ${n(o.rows)} Spring Session sessions, through the principal index (JDBC: ${n(jdbcRows.n)} rows, ${n(jdbc.attributeRows)} attribute rows, `
      + `${(jdbc.attributeBytes / 1_048_576).toFixed(0)} MB of attributes; Redis: ${n(redis.keys)} keys, ${usedMemory}); medians of ${o.repeat} rounds, whole processes, same run`,
      summaries,
    )
    console.log('  (ratio: to the bare driver doing the same lookup in its own process; exact: the ids are exactly the generator\'s for that principal, never its mixed-case twin\'s,')
    console.log('   no stale member listed, and on Redis staleIndex.count = the stale members seeded; 1st run: right after the servers started, not in the medians)')
    for (const u of users) {
      console.log(`  ${u.label.padEnd(10)} ${JSON.stringify(u.name).padEnd(36)} ${String(u.ids.length).padStart(4)} sessions, ${u.stale} stale index members, twin ${u.twinSessions} sessions`)
    }

    console.log(`  expired flags differing from the generator's (informational): ${expiredMismatch}; JDBC EXPLAIN uses index ${explain[0]?.key ?? 'none'}`)
    for (const [id, w] of warnings) console.log(`  warnings from ${id}: ${w.join(' | ')}`)
    printTargets(targets)
    if (!exact) console.log('  RESULT: MISMATCH (see exact: false above)')

    return {
      exact,
      result: {
        exact,
        expiredFlagMismatches: expiredMismatch,
        jdbc: {
          anonymous: Number(jdbcRows.anonymous), attributeBytes: jdbc.attributeBytes, attributeRows: jdbc.attributeRows, database: DATABASE, expired: Number(jdbcRows.expired),
          explainKey: explain[0]?.key ?? null, never: Number(jdbcRows.never), principals: Number(jdbcRows.principals), rows: Number(jdbcRows.n),
          seededAt: new Date(jdbc.seededAt).toISOString(), seededThisRun: jdbc.seeded, seedSeconds: fixedOrNull(jdbc.seconds, 1),
        },
        measurements: summaries.map(s => {
          const row = rows.find(r => r.id === s.id)!
          return {...s, first: row.first, rounds: row.runs}
        }),
        redis: {
          keys: redis.keys, seededAt: new Date(redis.seededAt).toISOString(), seededThisRun: redis.seeded, seedSeconds: fixedOrNull(redis.seconds, 1), staleMembers: redis.stale, usedMemory,
        },
        repeat: o.repeat,
        rows: o.rows,
        seedVersion: SPRING_SEED_VERSION,
        targets,
        users: users.map(u => ({
          label: u.label, name: u.name, sessions: u.ids.length, staleMembers: u.stale, twinSessions: u.twinSessions,
        })),
        warnings: Object.fromEntries(warnings),
      },
    }
  } finally {
    client.disconnect()
    await redisServer.stop()
  }
}
