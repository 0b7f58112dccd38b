import type pg from 'pg'

import {DJANGO_USER_PATH} from '../../src/frameworks/django.js'
import {frameworkCodec, getFramework, layoutFor} from '../../src/frameworks/index.js'
import {openPostgresStore} from '../../src/stores/postgres.js'
import {djangoSessionPgDdl, freshPgDatabase} from '../support/postgres.js'
import {storeContractSuite} from './contract-suite.js'

let db: undefined | {client: pg.Client; url: string}
let tables = 0

describe('postgres adapter', () => {
  after(async () => {
    await db?.client.end()
  })

  storeContractSuite('postgres', {
    async create() {
      db ??= await freshPgDatabase()
      const {client, url} = db
      const table = `django_session_${++tables}`
      await client.query(djangoSessionPgDdl(table))
      return {
        async drop() {
          await client.query(`DROP TABLE "${table}"`)
        },
        async keys() {
          const {rows} = await client.query<{session_key: string}>(`SELECT session_key FROM "${table}"`)
          return rows.map(r => r.session_key)
        },
        async open(options) {
          return openPostgresStore(url, {
            codec: frameworkCodec(getFramework('django'), {secretKeys: options?.secretKeys ?? [], userPath: DJANGO_USER_PATH}),
            layout: layoutFor(getFramework('django'), {table}),
          })
        },
        async put(key, value, expiresAt) {
          await client.query(
            `INSERT INTO "${table}" VALUES ($1, $2, $3) ON CONFLICT (session_key) DO UPDATE SET session_data = EXCLUDED.session_data, expire_date = EXCLUDED.expire_date`,
            [key, value, expiresAt.toISOString()],
          )
        },
      }
    },
    keepsExpired: true,
  })
})
