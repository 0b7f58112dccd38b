/* eslint-disable no-bitwise -- byte packing of a binary format */
import {Buffer} from 'node:buffer'
import {readFileSync} from 'node:fs'

/** The golden Spring Session fixtures written by the real JDK (see test/fixtures/MORE-FIXTURES.md). */
export interface SpringFixtures {
  cases: SpringCase[]
  generator: string
  redisNamespace: string
  schemaMysql: string
}

/** One JDK-serialized value, as `ObjectOutputStream.writeObject` wrote it; `value` is what it holds. */
export interface SpringValue {
  bytesBase64: string
  javaClass: string
  name: string
  value: unknown
}

export type SpringCase = SpringJdbcCase | SpringRedisCase | SpringValueCase

export interface SpringValueCase extends SpringValue {
  family: 'spring-jdk-value'
  note: string
}

export interface SpringJdbcCase {
  attributes: SpringValue[]
  expect: {expired: boolean; userId: null | string}
  family: 'spring-jdbc'
  name: string
  row: Record<string, null | number | string>
}

export interface SpringRedisCase {
  expect: {expired: boolean; expiresAtMs: null | number; stale: boolean; userId: null | string}
  expirationsKey?: string
  expirationsMemberBase64?: string
  family: 'spring-redis-indexed'
  hashFieldsBase64: null | Record<string, string>
  hashKey: string
  hashPttlMs: number
  indexKey?: string
  indexMemberBase64?: string
  name: string
  sessionId: string
  shadowKey: string
  shadowPttlMs: number
  shadowValue: null | string
}

export const PRINCIPAL_ATTRIBUTE = 'org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME'

export function springFixtures(): SpringFixtures {
  return JSON.parse(readFileSync(new URL('../fixtures/spring.json', import.meta.url), 'utf8')) as SpringFixtures
}

/** Every JDK-serialized blob of the fixtures, with where it came from. */
export function springBlobs(fixtures = springFixtures()): Array<{bytes: Buffer; where: string}> {
  return fixtures.cases.flatMap(c => {
    const b = (where: string, base64: string): {bytes: Buffer; where: string} => ({bytes: Buffer.from(base64, 'base64'), where: `${c.name}: ${where}`})
    switch (c.family) {
    case 'spring-jdbc': {
      return c.attributes.map(a => b(a.name, a.bytesBase64))
    }

    case 'spring-jdk-value': {
      return [b('value', c.bytesBase64)]
    }

    default: {
      const fields = Object.entries(c.hashFieldsBase64 ?? {}).map(([k, v]) => b(k, v))
      if (c.indexMemberBase64 !== undefined) fields.push(b('index member', c.indexMemberBase64))
      if (c.expirationsMemberBase64 !== undefined) fields.push(b('expirations member', c.expirationsMemberBase64))
      return fields
    }
    }
  })
}

// ---------------------------------------------------------------------------------------------
// A small writer of stream bytes, for hand-made and generated streams (big-endian, as Java writes).

export const TC = {
  ARRAY: 0x75,
  BLOCKDATA: 0x77,
  BLOCKDATALONG: 0x7A,
  CLASS: 0x76,
  CLASSDESC: 0x72,
  ENDBLOCKDATA: 0x78,
  ENUM: 0x7E,
  EXCEPTION: 0x7B,
  LONGSTRING: 0x7C,
  NULL: 0x70,
  OBJECT: 0x73,
  PROXYCLASSDESC: 0x7D,
  REFERENCE: 0x71,
  RESET: 0x79,
  STRING: 0x74,
} as const

export const SC = {
  BLOCK_DATA: 0x08, ENUM: 0x10, EXTERNALIZABLE: 0x04, SERIALIZABLE: 0x02, WRITE_METHOD: 0x01,
} as const

export const HEADER = Buffer.from('aced0005', 'hex')

export type Part = Buffer | number | string

/** Bytes from parts: a number is one byte, a string its modified UTF-8 with a u16 length. */
export function jbytes(...parts: Part[]): Buffer {
  return Buffer.concat(parts.map(p => {
    if (typeof p === 'number') return Buffer.from([p & 0xFF])
    if (typeof p === 'string') return utfField(p)
    return p
  }))
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n & 0xFF_FF)
  return b
}

export function i32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0)
  return b
}

export function i64(n: bigint): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigInt64BE(BigInt.asIntN(64, n))
  return b
}

/** Modified UTF-8 (DataOutput.writeUTF) without the length. */
export function mutf8(text: string): Buffer {
  const out: number[] = []
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 1 && c < 0x80) out.push(c)
    else if (c < 0x8_00) out.push(0xC0 | (c >> 6), 0x80 | (c & 0x3F))
    else out.push(0xE0 | (c >> 12), 0x80 | ((c >> 6) & 0x3F), 0x80 | (c & 0x3F))
  }

  return Buffer.from(out)
}

export function utfField(text: string): Buffer {
  const body = mutf8(text)
  return Buffer.concat([u16(body.length), body])
}

/** TC_STRING (one handle). */
export function jstring(text: string): Buffer {
  return jbytes(TC.STRING, text)
}

export function jref(handle: number): Buffer {
  return jbytes(TC.REFERENCE, i32(0x7E_00_00 + handle))
}

/** A field of a class descriptor: a primitive type code, or 'L'/'[' with its type name (a TC_STRING: one handle). */
export type FieldSpec = [type: string, name: string, typeName?: Buffer | string]

/**
 * TC_CLASSDESC: one handle for the descriptor, one per object field's type name given as text,
 * then whatever the annotation and superclass assign.
 */
export function jdesc(name: string, flags: number, fields: FieldSpec[] = [], superDesc: Buffer = Buffer.from([TC.NULL]), annotation: Buffer = Buffer.alloc(0)): Buffer {
  const fieldBytes = fields.map(([type, fieldName, typeName]) => {
    const head = jbytes(type.charCodeAt(0), fieldName)
    if (type !== 'L' && type !== '[') return head
    return Buffer.concat([head, typeof typeName === 'string' || typeName === undefined ? jstring(typeName ?? 'Ljava/lang/Object;') : typeName])
  })
  return Buffer.concat([jbytes(TC.CLASSDESC, name, i64(1n), flags, u16(fields.length)), ...fieldBytes, annotation, Buffer.from([TC.ENDBLOCKDATA]), superDesc])
}

/** TC_BLOCKDATA segments of at most 255 bytes. */
export function jblock(data: Buffer): Buffer {
  const parts: Buffer[] = []
  for (let at = 0; at < data.length; at += 255) {
    const chunk = data.subarray(at, at + 255)
    parts.push(Buffer.from([TC.BLOCKDATA, chunk.length]), chunk)
  }

  return Buffer.concat(parts)
}
