/**
 * express-session's Store API as promises, and its Cookie, for the suites that write sessions
 * through the real stores (connect-redis, express-mysql-session, connect-pg-simple).
 */
import {RedisStore} from 'connect-redis'
import session from 'express-session'
import {createRequire} from 'node:module'
import {createClient} from 'redis'

import {freshDatabase} from './mysql.js'
import {testRedisUrl} from './servers.js'

export function set(store: session.Store, sid: string, data: session.SessionData): Promise<void> {
  return new Promise((resolve, reject) => {
    store.set(sid, data, error => (error ? reject(error) : resolve()))
  })
}

export function get(store: session.Store, sid: string): Promise<null | session.SessionData | undefined> {
  return new Promise((resolve, reject) => {
    store.get(sid, (error, value) => (error ? reject(error) : resolve(value)))
  })
}

/** A cookie expiring `expiresIn` ms from now, as express-session makes it. */
export function cookie(expiresIn: number): session.Cookie {
  // @types/express-session omits the constructor's options; the class takes them.
  const c = new (session.Cookie as unknown as new (options: Record<string, unknown>) => session.Cookie)({httpOnly: true, path: '/'})
  c.expires = new Date(Date.now() + expiresIn)
  c.originalMaxAge = expiresIn
  return c
}

type StoreLike = session.Store & {close?(): Promise<void>; onReady?(): Promise<void>}
const require = createRequire(import.meta.url)
const MySQLStore = (require('express-mysql-session') as (s: typeof session) => new (options: Record<string, unknown>) => StoreLike)(session)

export interface ExpressStores {
  close(): Promise<void>
  /** A fresh database, where express-mysql-session made its `sessions` table. */
  mysqlDb: Awaited<ReturnType<typeof freshDatabase>>
  mysqlStore: StoreLike
  redisClient: ReturnType<typeof createClient>
  redisStore: RedisStore
}

/** The real connect-redis (keys under `prefix`) and express-mysql-session (a fresh database, its own cleanup off) on the test servers. */
export async function openExpressStores(prefix: string): Promise<ExpressStores> {
  const redisClient = createClient({url: testRedisUrl()})
  await redisClient.connect()
  const redisStore = new RedisStore({client: redisClient, prefix})
  const mysqlDb = await freshDatabase()
  const u = new URL(mysqlDb.url)
  const mysqlStore = new MySQLStore({
    clearExpired: false, database: mysqlDb.database, host: u.hostname, password: '', port: Number(u.port), user: 'root',
  })
  await mysqlStore.onReady!()
  return {
    async close() {
      await redisClient.quit()
      await mysqlStore.close?.()
      await mysqlDb.conn.end()
    },
    mysqlDb,
    mysqlStore,
    redisClient,
    redisStore,
  }
}
