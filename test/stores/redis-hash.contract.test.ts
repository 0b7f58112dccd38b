/**
 * The conformance suite on the Redis adapter's hash-valued sessions (RedisLayout.value `hash`, as
 * Spring Session keeps them): each session a hash whose `data` field holds the suite's value, with
 * the Django codec reading that field, and a companion key (Spring's shadow key) beside each. The
 * per-user index path counts only the user's sessions, unlike the suite's scans: the Spring suites
 * (test/integration/spring.test.ts) cover it.
 */
import {Redis} from 'ioredis'

import type {Codec} from '../../src/formats/codec.js'
import type {RedisLayout} from '../../src/stores/contract.js'

import {undecodable} from '../../src/formats/codec.js'
import {readFieldMap} from '../../src/formats/field-map.js'
import {DJANGO_USER_PATH} from '../../src/frameworks/django.js'
import {frameworkCodec, getFramework} from '../../src/frameworks/index.js'
import {openRedisStore} from '../../src/stores/redis.js'
import {testRedisUrl} from '../support/servers.js'
import {type ContractFixture, storeContractSuite} from './contract-suite.js'

let fixtures = 0

/** The Django codec over the hash's `data` field. */
function hashCodec(secretKeys: string[]): Codec {
  const django = frameworkCodec(getFramework('django'), {secretKeys, userPath: DJANGO_USER_PATH})
  const field = (value: Buffer): Buffer | undefined => readFieldMap(value)?.get('data')
  return {
    decode(value) {
      const data = field(value)
      return data === undefined ? undecodable('no data field') : django.decode(data)
    },
    decodeFor(value, userId) {
      const data = field(value)
      return data === undefined ? undecodable('no data field') : django.decodeFor!(data, userId)
    },
    name: 'hash-django',
  }
}

function hashHarness(name: string): void {
  let redis: Redis | undefined
  describe(`${name} adapter`, () => {
    after(async () => {
      await redis?.quit()
    })

    storeContractSuite(name, {
      async create(): Promise<ContractFixture> {
        redis ??= new Redis(testRedisUrl())
        const r = redis
        const ns = `hashcontract${++fixtures}:`
        const prefix = `${ns}s:`
        const layout: RedisLayout = {
          companions: key => [`${ns}shadow:${key}`],
          keyGlob: '*',
          keyPattern: /^[\da-z]{32}$/,
          prefixes: [prefix],
          value: 'hash',
        }
        const keys = async (): Promise<string[]> => {
          const all: string[] = []
          let cursor = '0'
          do {
            const [next, found] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
            cursor = next
            all.push(...found)
          } while (cursor !== '0')

          return all.map(k => k.slice(prefix.length))
        }

        return {
          async drop() {
            let cursor = '0'
            do {
              const [next, found] = await r.scan(cursor, 'MATCH', `${ns}*`, 'COUNT', 1000)
              cursor = next
              if (found.length > 0) await r.del(...found)
            } while (cursor !== '0')
          },
          keys,
          async open(options) {
            return openRedisStore(testRedisUrl(), {codec: hashCodec(options?.secretKeys ?? []), layout: {redis: layout}})
          },
          async put(key, value, expiresAt) {
            const ttl = Math.max(1, expiresAt.getTime() - Date.now())
            await r.del(`${prefix}${key}`)
            await r.hset(`${prefix}${key}`, 'data', value, 'n', '1')
            await r.pexpire(`${prefix}${key}`, ttl)
            await r.set(`${ns}shadow:${key}`, '', 'PX', ttl)
          },
        }
      },
      keepsExpired: false,
      // The Django codec over a hash field is made here, not by a framework: no worker threads.
      pooled: false,
    })
  })
}

hashHarness('redis hash')
