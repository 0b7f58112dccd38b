import type {
  ScanProgress, ScanSummary, Session, SessionFilter, SessionStore,
} from '../stores/contract.js'

/** What one store gave for a scan: its summary, or the error that stopped it. */
export interface StoreScan {
  error?: Error
  store: string
  summary?: ScanSummary
}

/**
 * Scans every store in turn with the same filter. A failing store is recorded and the others
 * still run: the operator sees what each store did.
 */
export async function scanStores(
  stores: readonly SessionStore[],
  filter: SessionFilter,
  onSessions: (sessions: Session[]) => Promise<void> | void,
  onProgress?: (progress: ScanProgress) => void,
): Promise<StoreScan[]> {
  const results: StoreScan[] = []
  for (const store of stores) {
    if (filter.signal?.aborted) break
    try {
      const summary = await store.listSessions(filter, {onProgress, onSessions})
      results.push({store: store.label, summary})
    } catch (error) {
      results.push({error: error as Error, store: store.label})
    }
  }

  return results
}

export interface ScanTotals {
  badSignature: number
  kept: number
  matched: number
  /** Undecodable values whose owner is unknown (ScanSummary.ownerUnknown), and by reason. */
  ownerUnknown: number
  ownerUnknownReasons: Record<string, number>
  scanned: number
  undecodable: number
  undecodableReasons: Record<string, number>
  /** Indexed lookups: rows whose user column named the user but whose payload did not. */
  userMismatch: number
  warnings: string[]
}

export function totals(scans: readonly StoreScan[]): ScanTotals {
  const t: ScanTotals = {
    badSignature: 0, kept: 0, matched: 0, ownerUnknown: 0, ownerUnknownReasons: {}, scanned: 0, undecodable: 0, undecodableReasons: {}, userMismatch: 0, warnings: [],
  }
  for (const {summary} of scans) {
    if (!summary) continue
    t.scanned += summary.scanned
    t.matched += summary.matched
    t.kept += summary.kept
    t.badSignature += summary.badSignature
    t.userMismatch += summary.userMismatch ?? 0
    for (const w of summary.warnings ?? []) t.warnings.push(w.includes(summary.store) ? w : `${summary.store}: ${w}`)
    for (const [reason, n] of Object.entries(summary.undecodable)) {
      t.undecodable += n
      t.undecodableReasons[reason] = (t.undecodableReasons[reason] ?? 0) + n
    }

    for (const [reason, n] of Object.entries(summary.ownerUnknown ?? {})) {
      t.ownerUnknown += n
      t.ownerUnknownReasons[reason] = (t.ownerUnknownReasons[reason] ?? 0) + n
    }
  }

  return t
}
