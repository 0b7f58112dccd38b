import {parentPort, workerData} from 'node:worker_threads'

import type {CodecSpec} from '../formats/codec.js'

import {codecFromSpec} from '../frameworks/index.js'
import {classify, type ClassifyOptions} from './classify.js'

/**
 * A decode-pool thread: rebuilds the codec from its spec, classifies the batches it is sent, and
 * counts them in shared memory (DecodePool.saturated reads it).
 */
const {decoded, spec} = workerData as {decoded: Int32Array; spec: CodecSpec}
const codec = codecFromSpec(spec)

parentPort!.on('message', ({bytes, ends, id, options, userId}: {bytes: Uint8Array; ends: Uint32Array; id: number; options: ClassifyOptions; userId?: string}) => {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const values: Buffer[] = []
  let start = 0
  for (const end of ends) {
    values.push(buffer.subarray(start, end))
    start = end
  }

  const result = classify(codec, values, userId, options)
  Atomics.add(decoded, 0, 1)
  parentPort!.postMessage({id, result})
})
