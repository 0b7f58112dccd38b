import {gunzipSync} from 'node:zlib'

import {inflateZlib} from './inflate.js'
import {decodeLz4, LZ4_MAGIC} from './lz4.js'
import {decodeZstd, ZSTD_MAGIC} from './zstd.js'

/** `ownerUnknown`: django-redis could read the value, this reader cannot (see Undecodable). */
export type Decompressed = {bytes: Buffer; compression: string; ok: true} | {ok: false; ownerUnknown?: true; reason: string}

export type Compression = 'gzip' | 'lz4' | 'none' | 'xz' | 'zlib' | 'zstd'

// CMF 0x78 (deflate, 32 KiB window: what zlib.compress writes) and the FLG bytes that make
// the header a multiple of 31 for each compression level class (RFC 1950 §2.2).
const ZLIB_CMF = 0x78
const ZLIB_FLG = new Set([0x01, 0x5E, 0x9C, 0xDA])
// RFC 1952 §2.3.1.
const GZIP_MAGIC = [0x1F, 0x8B]
// "\xFD7zXZ\0", the xz stream header magic.
const XZ_MAGIC = Buffer.from([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00])

/**
 * Undoes what django-redis's COMPRESSOR wrote, recognised by magic bytes: zlib, gzip, zstd and
 * lz4 frames; xz is recognised and refused. Anything else is returned as is (`compression:
 * 'none'`): django-redis leaves values of 15 bytes or less uncompressed.
 *
 * Output is capped at `maxBytes` for every format. zstd and lz4 input is measured first (frame
 * headers, every block, and for zstd the sequences inside each block) and only decoded when it
 * is well formed and within the limit, so a small bomb is refused as 'too large' or 'bad zstd' /
 * 'bad lz4' quickly and without filling memory. A value of more blocks than a real session has
 * (512 zstd, 1024 lz4) is refused as 'too many zstd blocks' / 'too many lz4 blocks' before any
 * is decoded. Never throws.
 */
export function decompress(bytes: Buffer, maxBytes: number): Decompressed {
  switch (compressionOf(bytes)) {
  case 'zlib': {
    return viaZlib('zlib', () => inflateZlib(bytes, maxBytes))
  }

  case 'gzip': {
    return viaZlib('gzip', () => gunzipSync(bytes, {maxOutputLength: maxBytes}))
  }

  case 'zstd': {
    return result('zstd', decodeZstd(bytes, maxBytes))
  }

  case 'lz4': {
    return result('lz4', decodeLz4(bytes, maxBytes))
  }

  case 'xz': {
    return failed('xz-compressed (unsupported)')
  }

  default: {
    return {bytes, compression: 'none', ok: true}
  }
  }
}

/** Which of django-redis's compressors wrote `bytes`, by magic bytes ('none': not compressed). */
export function compressionOf(bytes: Buffer): Compression {
  const [a, b] = bytes
  if (a === ZLIB_CMF && ZLIB_FLG.has(b)) return 'zlib'
  if (a === GZIP_MAGIC[0] && b === GZIP_MAGIC[1]) return 'gzip'
  const magic = bytes.length >= 4 ? bytes.readUInt32LE(0) : undefined
  if (magic === ZSTD_MAGIC) return 'zstd'
  if (magic === LZ4_MAGIC) return 'lz4'
  if (bytes.subarray(0, XZ_MAGIC.length).equals(XZ_MAGIC)) return 'xz'
  return 'none'
}

/**
 * Failures of this reader, not of the data: django-redis would decompress these values (lzma,
 * more blocks or bytes than this reader accepts, a zstd/lz4 dictionary a custom compressor may
 * hold), so whose session they are is unknown. A corrupt stream is nobody's.
 */
const READER_LIMITS = new Set([
  'lz4 dictionary (unsupported)', 'too large', 'too many lz4 blocks', 'too many zstd blocks', 'xz-compressed (unsupported)', 'zstd dictionary (unsupported)',
])

function viaZlib(compression: string, inflate: () => Buffer): Decompressed {
  try {
    return {bytes: inflate(), compression, ok: true}
  } catch (error) {
    // maxOutputLength is enforced with ERR_BUFFER_TOO_LARGE, a RangeError.
    const {code} = error as {code?: string}
    return failed(code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError ? 'too large' : `bad ${compression}`)
  }
}

function result(compression: string, decoded: Buffer | string): Decompressed {
  return typeof decoded === 'string' ? failed(decoded) : {bytes: decoded, compression, ok: true}
}

function failed(reason: string): Decompressed {
  return READER_LIMITS.has(reason) ? {ok: false, ownerUnknown: true, reason} : {ok: false, reason}
}
