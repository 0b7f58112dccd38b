import {DJANGO_USER_PATH} from '../../src/frameworks/django.js'
import {frameworkCodec, getFramework} from '../../src/frameworks/index.js'
import {MemoryStore} from '../support/memory-store.js'
import {storeContractSuite} from './contract-suite.js'

storeContractSuite('memory (test double)', {
  async create() {
    const rows = new Map<string, {expiresAt: Date | null; value: Buffer}>()
    return {
      async drop() {},
      async keys() {
        return [...rows.keys()]
      },
      async open(options) {
        return new MemoryStore('contract', rows, {codec: frameworkCodec(getFramework('django'), {secretKeys: options?.secretKeys ?? [], userPath: DJANGO_USER_PATH})})
      },
      async put(key, value, expiresAt) {
        rows.set(key, {expiresAt, value: Buffer.from(value)})
      },
    }
  },
  keepsExpired: true,
})
