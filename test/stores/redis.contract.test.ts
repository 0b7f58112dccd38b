import {Cluster, Redis} from 'ioredis'

import {DJANGO_USER_PATH} from '../../src/frameworks/django.js'
import {frameworkCodec, getFramework, layoutFor} from '../../src/frameworks/index.js'
import {openRedisStore} from '../../src/stores/redis.js'
import {clusterSeeds, testRedisClusterUrl, testRedisUrl} from '../support/servers.js'
import {type ContractFixture, storeContractSuite} from './contract-suite.js'

let fixtures = 0

/** django-redis-sessions keys (`<prefix><key>`, the signed string, SETEX) under a fresh prefix. */
function redisHarness(name: string, url: () => string, client: () => Cluster | Redis): void {
  let redis: Cluster | Redis | undefined
  describe(`${name} adapter`, () => {
    after(async () => {
      await redis?.quit()
    })

    storeContractSuite(name, {
      async create(): Promise<ContractFixture> {
        redis ??= client()
        const r = redis
        const prefix = `contract${++fixtures}:`
        const keys = async (): Promise<string[]> => {
          const nodes = r instanceof Cluster ? r.nodes('master') : [r]
          const all: string[] = []
          for (const node of nodes) {
            let cursor = '0'
            do {
              const [next, found] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
              cursor = next
              all.push(...found)
            } while (cursor !== '0')
          }

          return all.map(k => k.slice(prefix.length))
        }

        return {
          async drop() {
            for (const key of await keys()) await r.del(`${prefix}${key}`)
          },
          keys,
          async open(options) {
            return openRedisStore(url(), {
              codec: frameworkCodec(getFramework('django'), {secretKeys: options?.secretKeys ?? [], userPath: DJANGO_USER_PATH}),
              layout: layoutFor(getFramework('django'), {prefix}),
            })
          },
          async put(key, value, expiresAt) {
            await r.set(`${prefix}${key}`, value, 'PX', Math.max(1, expiresAt.getTime() - Date.now()))
          },
        }
      },
      keepsExpired: false,
    })
  })
}

redisHarness('redis', testRedisUrl, () => new Redis(testRedisUrl()))
redisHarness('redis cluster', testRedisClusterUrl, () => new Cluster(clusterSeeds(testRedisClusterUrl())))
