import {parentPort, workerData} from 'node:worker_threads'

import {codecFromSpec, type CodecSpec} from '../formats/presets.js'
import {classify} from './classify.js'

/** A decode-pool thread: rebuilds the codec from its spec, classifies the batches it is sent. */
const codec = codecFromSpec(workerData as CodecSpec)

parentPort!.on('message', ({bytes, ends, id, userId}: {bytes: Uint8Array; ends: Uint32Array; id: number; userId?: string}) => {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const values: Buffer[] = []
  let start = 0
  for (const end of ends) {
    values.push(buffer.subarray(start, end))
    start = end
  }

  parentPort!.postMessage({id, result: classify(codec, values, userId)})
})
