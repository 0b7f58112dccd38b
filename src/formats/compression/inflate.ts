import zlib, {inflateSync} from 'node:zlib'

/**
 * zlib (RFC 1950) inflate for the many small values of a scan, byte for byte what
 * `inflateSync(bytes, {maxOutputLength})` returns or throws.
 *
 * `inflateSync` builds a new native zlib stream for every call, and for a 140-byte session that
 * costs more than the inflating itself (npm run bench: about 2.9 µs a value against 1.4 µs). Here
 * one stream per thread is reset and reused, through the handle Node's own `inflateSync` drives
 * (`_handle.writeSync`, `_writeState`). That handle is internal to Node: its shape is checked
 * once, and anything unexpected (another Node, a value whose output does not fit the buffer)
 * goes through `inflateSync` itself. test/formats/inflate.test.ts compares both on valid,
 * corrupt, truncated, oversized and padded input.
 *
 * With `borrow`, the result may be a view of the thread's output buffer, valid until the next
 * call: for a caller that is done with it before inflating again (it saves an allocation per value).
 */
export function inflateZlib(bytes: Uint8Array, maxOutputLength: number, borrow = false): Buffer {
  reused ??= openStream()
  const stream = reused
  if (stream === null || bytes.length === 0) return inflateSync(bytes, {maxOutputLength})
  stream.failure = undefined
  stream.handle.reset()
  stream.handle.writeSync(zlib.constants.Z_FINISH, bytes, 0, bytes.length, stream.out, 0, stream.out.length)
  if (stream.failure !== undefined) {
    // A corrupt value: let inflateSync throw its own error (same message, code and class).
    stream.failure = undefined
    return inflateSync(bytes, {maxOutputLength})
  }

  const availOut = stream.state[0]
  const written = stream.out.length - availOut
  // A full buffer may mean more output: inflateSync grows its buffers and enforces the limit.
  if (availOut === 0 || written > maxOutputLength) return inflateSync(bytes, {maxOutputLength})
  const view = stream.out.subarray(0, written)
  return borrow ? view : Buffer.from(view)
}

/** Whether this thread inflates through the reused stream (false: Node's internals differ, inflateSync does it all). */
export function reusesStream(): boolean {
  reused ??= openStream()
  return reused !== null
}

/** Values whose output fits this go through the reused stream (sessions are a few hundred bytes). */
const OUT_BYTES = 64 * 1024

interface Handle {
  reset(): void
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void
  onerror?: (message: string, errno: number) => void
}

interface Stream {
  failure: string | undefined
  handle: Handle
  out: Buffer
  state: Uint32Array
}

let reused: null | Stream | undefined

/** This thread's reusable stream, or null when Node's internals are not what this expects. */
function openStream(): null | Stream {
  try {
    const inflater = zlib.createInflate() as unknown as {_handle?: Handle; _writeState?: unknown}
    const handle = inflater._handle
    const state = inflater._writeState
    if (!handle || typeof handle.writeSync !== 'function' || typeof handle.reset !== 'function' || !(state instanceof Uint32Array) || state.length < 2) return null
    const stream: Stream = {
      failure: undefined, handle, out: Buffer.allocUnsafeSlow(OUT_BYTES), state,
    }
    // The native handle reports errors by calling this property (it is no EventEmitter).
    // eslint-disable-next-line unicorn/prefer-add-event-listener
    handle.onerror = message => {
      stream.failure = message
    }

    // Known answers before trusting it: a value, a corrupt one, then the value again.
    const probe = Buffer.from('{"probe":"sessionctl"}')
    const packed = zlib.deflateSync(probe)
    const corrupt = Buffer.from(packed)
    corrupt[corrupt.length - 1] = 255 - corrupt.at(-1)!
    reused = stream
    const ok = inflateZlib(packed, 1024).equals(probe) && threw(() => inflateZlib(corrupt, 1024)) && inflateZlib(packed, 1024).equals(probe)
    return ok ? stream : null
  } catch {
    return null
  }
}

function threw(f: () => unknown): boolean {
  try {
    f()
    return false
  } catch {
    return true
  }
}

/** Output of one step of inflateChunks: a value over the in-memory limit is read in pieces this size. */
const CHUNK_BYTES = 256 * 1024

interface ChunkStream {
  errno: number
  failure: string | undefined
  handle: Handle
  out: Buffer
  state: Uint32Array
}

// zlib's error numbers by name, reversed: the code inflateSync gives its errors (Z_DATA_ERROR...).
const ERROR_CODES = new Map(Object.entries(zlib.constants).filter(([name]) => /^Z_[A-Z_]+_ERROR$|^Z_NEED_DICT$/.test(name)).map(([name, n]) => [n, name]))

const chunkStreams = new Map<'gzip' | 'zlib', ChunkStream | null>()

/**
 * Inflates zlib or gzip data in steps of at most 256 KiB of output, handing each to `onChunk` (a
 * view valid during the call), so a value far larger than memory allows is read in constant
 * memory. The steps are those `inflateSync`/`gunzipSync` take internally (the same handle, the
 * same loop), so the bytes and the failures are theirs: a corrupt or truncated stream throws an
 * Error, more than `maxOutputLength` bytes a RangeError with code ERR_BUFFER_TOO_LARGE (also
 * thrown, as "cannot read", when this Node's internals are not what this expects).
 * `onChunk` may throw to stop early.
 */
export function inflateChunks(kind: 'gzip' | 'zlib', bytes: Uint8Array, maxOutputLength: number, onChunk: (chunk: Buffer) => void): void {
  if (!chunkStreams.has(kind)) chunkStreams.set(kind, openChunkStream(kind))
  const stream = chunkStreams.get(kind)
  if (!stream) throw tooLarge(maxOutputLength)
  const {handle, out, state} = stream
  stream.failure = undefined
  handle.reset()
  let inOff = 0
  let inLen = bytes.length
  let total = 0
  for (;;) {
    handle.writeSync(zlib.constants.Z_FINISH, bytes, inOff, inLen, out, 0, out.length)
    if (stream.failure !== undefined) throw Object.assign(new Error(stream.failure), {code: ERROR_CODES.get(stream.errno)})
    const availOut = state[0]
    const availIn = state[1]
    const produced = out.length - availOut
    total += produced
    if (total > maxOutputLength) throw tooLarge(maxOutputLength)
    if (produced > 0) onChunk(out.subarray(0, produced))
    // A full output buffer: more may come (as in Node's own processChunkSync).
    if (availOut !== 0) return
    inOff += inLen - availIn
    inLen = availIn
  }
}

function tooLarge(max: number): RangeError {
  return Object.assign(new RangeError(`Cannot create a Buffer larger than ${max} bytes`), {code: 'ERR_BUFFER_TOO_LARGE'})
}

function openChunkStream(kind: 'gzip' | 'zlib'): ChunkStream | null {
  try {
    const inflater = (kind === 'zlib' ? zlib.createInflate() : zlib.createGunzip()) as unknown as {_handle?: Handle; _writeState?: unknown}
    const handle = inflater._handle
    const state = inflater._writeState
    if (!handle || typeof handle.writeSync !== 'function' || typeof handle.reset !== 'function' || !(state instanceof Uint32Array) || state.length < 2) return null
    const stream: ChunkStream = {
      errno: 0, failure: undefined, handle, out: Buffer.allocUnsafeSlow(CHUNK_BYTES), state,
    }
    // eslint-disable-next-line unicorn/prefer-add-event-listener
    handle.onerror = (message, errno) => {
      stream.failure = message
      stream.errno = errno
    }

    return stream
  } catch {
    return null
  }
}
