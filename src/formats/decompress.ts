import {gunzipSync, inflateSync} from 'node:zlib'

/**
 * Undoes what django-redis's COMPRESSOR did, recognised by magic bytes. Every decompressor is
 * capped at `maxBytes` of output, so a small bomb cannot fill memory.
 */
export type Decompressed = {bytes: Buffer; compression: string; ok: true} | {ok: false; reason: string}

export function decompress(bytes: Buffer, maxBytes: number): Decompressed {
  const [a, b] = bytes
  if (a === 0x78 && (b === 0x01 || b === 0x5E || b === 0x9C || b === 0xDA)) return run('zlib', () => inflateSync(bytes, {maxOutputLength: maxBytes}))
  if (a === 0x1F && b === 0x8B) return run('gzip', () => gunzipSync(bytes, {maxOutputLength: maxBytes}))
  if (startsWith(bytes, [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00])) return {ok: false, reason: 'xz-compressed (unsupported)'}
  if (startsWith(bytes, [0x28, 0xB5, 0x2F, 0xFD])) return {ok: false, reason: 'zstd-compressed (unsupported)'}
  if (startsWith(bytes, [0x04, 0x22, 0x4D, 0x18])) return {ok: false, reason: 'lz4-compressed (unsupported)'}
  return {bytes, compression: 'none', ok: true}
}

function run(compression: string, inflate: () => Buffer): Decompressed {
  try {
    return {bytes: inflate(), compression, ok: true}
  } catch (error) {
    const {code} = (error as {code?: string})
    return {ok: false, reason: code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError ? 'too large' : `bad ${compression}`}
  }
}

function startsWith(bytes: Buffer, magic: number[]): boolean {
  return magic.every((byte, i) => bytes[i] === byte)
}
