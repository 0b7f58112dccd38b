/**
 * A hash-valued session (Spring Session's Redis hashes) as one value a codec can read: its fields
 * and values, sorted by field bytes, each as `<decimal length>:<bytes>`. Adapters build it from
 * HGETALL; the Redis compare-and-delete script builds the same bytes to check a version, so the
 * order must not depend on the server (no locale collation: plain byte order).
 */
import {Buffer} from 'node:buffer'

export type FieldPairs = ReadonlyArray<readonly [Buffer, Buffer]>

/** The framing of `pairs` (field, value), in field byte order. */
export function encodeFieldMap(pairs: FieldPairs): Buffer {
  const sorted = [...pairs].sort((a, b) => Buffer.compare(a[0], b[0]))
  const parts: Buffer[] = []
  for (const [field, value] of sorted) {
    parts.push(Buffer.from(`${field.length}:`), field, Buffer.from(`${value.length}:`), value)
  }

  return Buffer.concat(parts)
}

/**
 * The fields of a framed value, by name (UTF-8, as Spring's StringRedisSerializer writes them),
 * or undefined when the bytes are not this framing.
 */
export function readFieldMap(value: Uint8Array): Map<string, Buffer> | undefined {
  const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  const fields = new Map<string, Buffer>()
  let at = 0
  const chunk = (): Buffer | undefined => {
    let length = 0
    let digits = 0
    while (at < bytes.length && bytes[at] >= 0x30 && bytes[at] <= 0x39) {
      length = (length * 10) + (bytes[at] - 0x30)
      digits++
      at++
      if (digits > 10) return undefined
    }

    if (digits === 0 || bytes[at] !== 0x3A || at + 1 + length > bytes.length) return undefined
    const out = bytes.subarray(at + 1, at + 1 + length)
    at += 1 + length
    return out
  }

  while (at < bytes.length) {
    const field = chunk()
    if (field === undefined) return undefined
    const data = chunk()
    if (data === undefined) return undefined
    fields.set(field.toString('utf8'), data)
  }

  return fields
}
