import type mysql from 'mysql2/promise'

import {DJANGO_USER_PATH} from '../../src/frameworks/django.js'
import {frameworkCodec, getFramework, layoutFor} from '../../src/frameworks/index.js'
import {openMysqlStore} from '../../src/stores/mysql.js'
import {djangoSessionDdl, freshDatabase, utcDatetime} from '../support/mysql.js'
import {storeContractSuite} from './contract-suite.js'

let db: undefined | {conn: mysql.Connection; url: string}
let tables = 0

describe('mysql adapter', () => {
  after(async () => {
    await db?.conn.end()
  })

  storeContractSuite('mysql', {
    async create() {
      db ??= await freshDatabase()
      const {conn, url} = db
      const table = `django_session_${++tables}`
      await conn.query(djangoSessionDdl(table))
      return {
        async drop() {
          await conn.query(`DROP TABLE \`${table}\``)
        },
        async keys() {
          const [rows] = await conn.query(`SELECT session_key FROM \`${table}\``)
          return (rows as Array<{session_key: string}>).map(r => r.session_key)
        },
        async open(options) {
          return openMysqlStore(url, {
            codec: frameworkCodec(getFramework('django'), {secretKeys: options?.secretKeys ?? [], userPath: DJANGO_USER_PATH}),
            layout: layoutFor(getFramework('django'), {table}),
          })
        },
        async put(key, value, expiresAt) {
          await conn.query(
            `INSERT INTO \`${table}\` VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE session_data = VALUES(session_data), expire_date = VALUES(expire_date)`,
            [key, value, utcDatetime(expiresAt)],
          )
        },
      }
    },
    keepsExpired: true,
  })
})
