/**
 * Times the scan prefilter (Codec.decodeFor) over production-shaped sessions, for a 2-digit and a
 * 5-digit user: what a `list --user` spends per value on one thread, without I/O. Not part of
 * `npm run bench`; run by hand to compare two versions of the codecs:
 *
 *   npx tsx scripts/bench/prefilter-time.ts [rows] [source root]
 *
 * `source root` is a checkout whose src/ is timed (default: this one), e.g. another worktree.
 */
import {deflateSync} from 'node:zlib'

import type {Codec} from '../../src/formats/codec.js'

import {ROOT} from './common.js'
import {pickleDumps, type PickleValue} from './pickle-write.js'
import {shapedRow, shapedSession, shapedUserId} from './seed-shaped.js'

const rows = Number(process.argv[2] ?? 200_000)
const root = process.argv[3] ?? ROOT
const USERS = ['42', '60872']
const RUNS = 3

const {createDjangoCodec} = await import(`${root}/src/frameworks/django.js`) as {createDjangoCodec(): Codec}
const {createDjangoCacheCodec} = await import(`${root}/src/frameworks/django-cache.js`) as {createDjangoCacheCodec(): Codec}

const now = Date.UTC(2026, 11, 3)
const signed: Buffer[] = []
const pickled: Buffer[] = []
const compressed: Buffer[] = []
for (let i = 0; i < rows; i++) {
  signed.push(Buffer.from(shapedRow(i, now).data))
  const pickle = pickleDumps(shapedSession(i) as PickleValue)
  pickled.push(pickle)
  if (i % 4 === 0) compressed.push(deflateSync(pickle))
}

/** Median time over the values, and how many were not skipped; no user: decode. */
function time(codec: Codec, values: Buffer[], user?: string): {ms: number; parsed: number} {
  const runs: number[] = []
  let parsed = 0
  for (let r = 0; r < RUNS; r++) {
    parsed = 0
    const start = process.hrtime.bigint()
    for (const value of values) {
      const d = user === undefined ? codec.decode(value) : codec.decodeFor!(value, user)
      if (d !== undefined) parsed++
    }

    runs.push(Number(process.hrtime.bigint() - start) / 1e6)
  }

  return {ms: runs.sort((a, b) => a - b)[1], parsed}
}

const owners = new Map<string, number>()
for (let i = 0; i < rows; i++) {
  const u = shapedUserId(i)
  if (u !== null) owners.set(u, (owners.get(u) ?? 0) + 1)
}

const sets: Array<[string, Codec, Buffer[]]> = [
  ['django (MySQL rows: signed, zlib JSON)', createDjangoCodec(), signed],
  ['django-cache (pickle protocol 5)', createDjangoCacheCodec(), pickled],
  ['django-cache (pickle + zlib, every 4th row)', createDjangoCacheCodec(), compressed],
]
console.log(`source: ${root}; ${rows} shaped sessions; median of ${RUNS} runs`)
for (const [label, codec, values] of sets) {
  const full = time(codec, values)
  console.log(`${label}: decode ${(full.ms * 1000 / values.length).toFixed(2)} µs/value`)
  for (const user of USERS) {
    const {ms, parsed} = time(codec, values, user)
    const perValue = (ms * 1000 / values.length).toFixed(2)
    const share = (100 * parsed / values.length).toFixed(2)
    console.log(`  decodeFor ${user.padEnd(6)} ${perValue} µs/value, ${ms.toFixed(0)} ms, not skipped ${parsed} (${share}%; the user owns ${owners.get(user) ?? 0} of all ${rows} rows)`)
  }
}
