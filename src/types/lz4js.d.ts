// lz4js 0.2.0 ships no types; only what sessionctl and its tests use is declared.
declare module 'lz4js' {
  /** One lz4 frame of `src` (4 MiB blocks, no content size, no content checksum). */
  export function compress(src: Uint8Array, maxSize?: number): Uint8Array

  /**
   * Decodes the LZ4 block `src[sIndex, sIndex + sLength)` into `dst` from `dIndex` and returns the
   * new end of output. Nothing is bounds-checked: out-of-range reads give 0 and out-of-range
   * writes are dropped, so callers validate the block first.
   */
  export function decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number
}

declare module 'lz4js/xxh32.js' {
  /** XXH32 of `src[index, index + length)`, as an unsigned 32-bit number. */
  export function hash(seed: number, src: Uint8Array, index: number, length: number): number
}
