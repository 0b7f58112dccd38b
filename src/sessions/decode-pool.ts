import {availableParallelism} from 'node:os'
import {Worker} from 'node:worker_threads'

import type {CodecSpec} from '../formats/codec.js'
import type {Classified, ClassifyOptions} from './classify.js'

/**
 * Decodes batches on worker threads, one per core but one, so a scan of a million sessions decodes at
 * the speed values arrive. A codec that can be rebuilt from a spec (every framework's can) is
 * rebuilt in each worker; values travel in one transferred buffer per batch.
 */
export class DecodePool {
  private next = 0
  private readonly workers: PoolWorker[]

  private constructor(spec: CodecSpec, size: number) {
    this.workers = Array.from({length: size}, () => new PoolWorker(spec))
  }

  /**
   * Worker count: SESSIONCTL_DECODE_THREADS, else one per core but one (none on a single core):
   * the scanning thread decodes too whenever every worker is busy (Selector.submit), and each
   * thread costs its own heap.
   */
  static defaultSize(): number {
    const configured = Number(process.env.SESSIONCTL_DECODE_THREADS)
    if (Number.isInteger(configured) && configured >= 0) return configured
    return Math.max(0, availableParallelism() - 1)
  }

  static start(spec: CodecSpec, size = DecodePool.defaultSize()): DecodePool | undefined {
    return size > 0 ? new DecodePool(spec, size) : undefined
  }

  /** Batches in flight, across workers. */
  get pending(): number {
    return this.workers.reduce((n, w) => n + w.pending, 0)
  }

  get size(): number {
    return this.workers.length
  }

  classify(values: readonly Uint8Array[], userId: string | undefined, options: ClassifyOptions = {}): Promise<Classified> {
    // The least busy worker, round-robin among equals.
    let best = this.workers[this.next % this.workers.length]
    for (const w of this.workers) if (w.backlog < best.backlog) best = w
    this.next++
    return best.classify(values, userId, options)
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map(w => w.terminate()))
  }

  /**
   * Whether every worker has at least `depth` batches it has not finished decoding. Read from
   * counters the workers keep in shared memory, so it is current even while this thread has not
   * yet run the callbacks of the batches they finished.
   */
  saturated(depth: number): boolean {
    return this.workers.every(w => w.backlog >= depth)
  }
}

const WORKER_YOUNG_MB = 4

class PoolWorker {
  pending = 0
  /** Batches decoded, counted by the worker in memory shared with it. */
  private readonly decoded = new Int32Array(new SharedArrayBuffer(4))
  private failed: Error | undefined
  private id = 0
  /** Batches sent. */
  private sent = 0
  private readonly waiting = new Map<number, {reject(error: Error): void; resolve(result: Classified): void}>()
  private readonly worker: Worker

  constructor(spec: CodecSpec) {
    // From TypeScript sources (tests, bin/dev.js) the worker first registers the same loader.
    const fromSource = import.meta.url.endsWith('.ts')
    const script = new URL(`decode-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url)
    // Decoding allocates many short-lived objects: a small young generation keeps each thread's
    // memory to a few MB instead of V8's default of tens (peak RSS is part of the contract).
    const options = {resourceLimits: {maxYoungGenerationSizeMb: WORKER_YOUNG_MB}, workerData: {decoded: this.decoded, spec}}
    this.worker = fromSource
      ? new Worker(`import('tsx/esm/api').then(({register}) => { register(); return import(${JSON.stringify(script.href)}) })`, {...options, eval: true})
      : new Worker(script, options)
    this.worker.unref()
    this.worker.on('message', ({id, result}: {id: number; result: Classified}) => {
      const job = this.waiting.get(id)
      this.waiting.delete(id)
      this.pending--
      job?.resolve(result)
    })
    this.worker.on('error', error => this.fail(error))
    this.worker.on('exit', code => {
      if (code !== 0) this.fail(new Error(`a decode worker exited with code ${code}`))
    })
  }

  /** Batches sent that the worker has not finished decoding. */
  get backlog(): number {
    return this.sent - Atomics.load(this.decoded, 0)
  }

  classify(values: readonly Uint8Array[], userId: string | undefined, options: ClassifyOptions): Promise<Classified> {
    if (this.failed) return Promise.reject(this.failed)
    let total = 0
    for (const v of values) total += v.length
    const bytes = new Uint8Array(total)
    const ends = new Uint32Array(values.length)
    let at = 0
    for (const [i, v] of values.entries()) {
      bytes.set(v, at)
      at += v.length
      ends[i] = at
    }

    const id = ++this.id
    this.pending++
    this.sent++
    return new Promise((resolve, reject) => {
      this.waiting.set(id, {reject, resolve})
      this.worker.postMessage({
        bytes, ends, id, options, userId,
      }, [bytes.buffer, ends.buffer])
    })
  }

  async terminate(): Promise<void> {
    await this.worker.terminate()
  }

  private fail(error: Error): void {
    this.failed = error
    for (const job of this.waiting.values()) job.reject(error)
    this.waiting.clear()
  }
}
