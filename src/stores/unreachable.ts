import type {
  CleanupSummary, DeleteSummary, PurgeSummary, ScanSummary, SessionStore,
} from './contract.js'

/**
 * A store that could not be opened, among several: it stands in the run so the others still run,
 * and every operation on it fails with the opening error. The command reports it like any store
 * that failed midway (exit 4), instead of stopping every store at the first unreachable one.
 */
export function unreachableStore(label: string, error: Error): SessionStore {
  const fail = async (): Promise<never> => {
    throw error
  }

  return {
    capabilities: {keepsExpired: false},
    cleanupExpired: fail as () => Promise<CleanupSummary>,
    async close() {},
    deleteSessions: fail as () => Promise<DeleteSummary>,
    label,
    listSessions: fail as () => Promise<ScanSummary>,
    purgeUser: fail as () => Promise<PurgeSummary>,
  }
}
