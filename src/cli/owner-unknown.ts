import type {ScanTotals} from '../sessions/scan.js'
import type {SessionState} from '../stores/contract.js'

import {ExitCode} from '../errors.js'
import {plural} from './render.js'
import {printError} from './report.js'

/**
 * The line that says a scan for `userId` left values whose owner is unknown (too large,
 * an unsupported compression...: Undecodable.ownerUnknown), so "every session of the user"
 * is not proven, and how to see them. Undefined when there were none.
 */
export function ownerUnknownNote(t: ScanTotals, userId: string, state: SessionState, what: 'deleted' | 'listed'): string | undefined {
  if (t.ownerUnknown === 0) return undefined
  const reasons = Object.entries(t.ownerUnknownReasons).map(([reason, n]) => `${reason}: ${n}`).join(', ')
  const stateFlag = state === 'all' ? ' --all' : (state === 'expired' ? ' --expired-only' : '')
  const they = t.ownerUnknown === 1 ? 'it was' : 'they were'
  const see = `see them with sessionctl sessions list --undecodable${stateFlag} --user ${shellWord(userId)} and the same store options`
  return `${plural(t.ownerUnknown, 'stored value')} could not be read and may be sessions of user ${userId} (${reasons}); ${they} not ${what}: ${see}`
}

function shellWord(text: string): string {
  return /^[\w%+,./:=@-]+$/.test(text) ? text : `'${text.replaceAll("'", String.raw`'\''`)}'`
}

/**
 * A purge that leaves values that may be the user's sessions is not done: one line on stderr,
 * and exit 7 (INCOMPLETE) unless the run already has a failure code (4, 6 take precedence).
 */
export function incompleteIfOwnerUnknown(t: ScanTotals, userId: string, state: SessionState): void {
  const note = ownerUnknownNote(t, userId, state, 'deleted')
  if (!note) return
  printError(note)
  if (!process.exitCode) process.exitCode = ExitCode.INCOMPLETE
}
