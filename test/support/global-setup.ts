/**
 * Mocha global fixtures (loaded through "require" in .mocharc.json): one MariaDB, one PostgreSQL, one
 * Redis and one 3-master Redis Cluster for the whole run, started in parallel from the system
 * binaries. Their URLs go to the tests through SESSIONCTL_TEST_MYSQL_URL / _POSTGRES_URL /
 * _REDIS_URL / _REDIS_CLUSTER_URL; a variable
 * that is already set is used as is and nothing is started for it.
 *
 * Missing binaries fail the run loudly: a skipped integration suite is a failure.
 */
import {closeDecodePools} from '../../src/sessions/select.js'
import {
  ENV_MYSQL_URL,
  ENV_POSTGRES_URL,
  ENV_REDIS_CLUSTER_URL,
  ENV_REDIS_URL,
  missingPackagesError,
  missingSystemPackages,
  POSTGRES_PACKAGES,
  startMariaDb,
  startPostgres,
  startRedis,
  startRedisCluster,
} from './servers.js'

// Root hooks: the secrets grep over every run's output (test/support/secrets.ts).
export {secretsHooks as mochaHooks} from './secrets.js'

const stoppers: (() => Promise<void>)[] = []

export async function mochaGlobalSetup(): Promise<void> {
  const wanted: {env: string; pkg: string; start: () => Promise<{stop(): Promise<void>; url: string}>}[] = [
    {env: ENV_MYSQL_URL, pkg: 'mariadb-server', start: () => startMariaDb()},
    {env: ENV_POSTGRES_URL, pkg: 'postgresql', start: () => startPostgres()},
    {env: ENV_REDIS_URL, pkg: 'redis-server', start: () => startRedis()},
    {env: ENV_REDIS_CLUSTER_URL, pkg: 'redis-server', start: () => startRedisCluster({masters: 3})},
  ].filter(({env}) => !process.env[env])
  if (wanted.length === 0) return

  // PostgreSQL's server needs its client package too (psql, pg_basebackup).
  const packages = [...new Set(wanted.flatMap(w => (w.pkg === 'postgresql' ? POSTGRES_PACKAGES : [w.pkg])))]
  const missing = missingSystemPackages(packages)
  if (missing.length > 0) throw missingPackagesError(missing)

  const results = await Promise.allSettled(wanted.map(({start}) => start()))
  for (const [i, result] of results.entries()) {
    if (result.status === 'fulfilled') {
      const {env} = wanted[i]
      process.env[env] = result.value.url
      stoppers.push(async () => {
        delete process.env[env]
        await result.value.stop()
      })
    }
  }

  const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [`${wanted[i].env}: ${(r.reason as Error)?.stack ?? r.reason}`] : []))
  if (failures.length > 0) {
    await mochaGlobalTeardown()
    throw new Error(`could not start the test servers:\n${failures.join('\n\n')}`)
  }
}

export async function mochaGlobalTeardown(): Promise<void> {
  // In-process scans (contract suites) leave their decode threads up for the next scan.
  await closeDecodePools()
  const all = stoppers.splice(0)
  await Promise.allSettled(all.map(stop => stop()))
}
