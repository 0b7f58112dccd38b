import {ExitCode} from '../errors.js'
import {plural} from './render.js'

/**
 * Standard output that cannot be written to. oclif's own listener rethrows every stdout error but
 * EPIPE, so a full disk behind `>> cleanup.log` (the README's cron line) ended in a Node stack trace
 * after the work was done. Here a failed stdout is one line on stderr and an exit code that tells
 * the truth: 4 when the run had deleted sessions (its report was lost, the audit line was not), 1
 * otherwise. A reader that went away (EPIPE: `| head`; EIO: the terminal closed after SIGHUP) is not
 * an error: nobody is left to read, and the run's own exit code stands.
 */
const GONE = new Set(['EIO', 'EPIPE'])

let failure: string | undefined
let deleted = 0
let guarded = false
/** Called once when stdout's reader goes away (EPIPE, EIO): a scan stops instead of reading on for nobody. */
const readerGoneListeners: Array<() => void> = []
let gone = false

/** Installs the listeners, once per process (the command's init). */
export function guardOutput(): void {
  if (guarded) return
  guarded = true
  process.stdout.removeAllListeners('error')
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    failure ??= error.code ?? 'write error'
    if (!gone && GONE.has(failure)) {
      gone = true
      for (const listener of readerGoneListeners.splice(0)) listener()
    }
  })
  // Nowhere is left to report a failed stderr.
  process.stderr.on('error', () => {})
  // Said at the end, when the count of what was deleted is known.
  process.on('exit', code => {
    if (failure === undefined || GONE.has(failure)) return
    try {
      process.stderr.write(`sessionctl: could not write to standard output (${failure}): the report is lost${
        deleted > 0 ? `; ${plural(deleted, 'session')} had been deleted (see the audit log)` : ''
      }\n`)
    } catch {}

    if (code === ExitCode.OK) process.exitCode = deleted > 0 ? ExitCode.PARTIAL : ExitCode.ERROR
  })
}

const deletedBy = new Map<string, number>()

/**
 * The deleting commands keep this up to date (a store's running count, from their progress
 * events), so a lost report still exits with the right code and says how many went.
 */
export function noteDeleted(store: string, count: number): void {
  deletedBy.set(store, Math.max(deletedBy.get(store) ?? 0, count))
  deleted = Math.max(deleted, [...deletedBy.values()].reduce((n, d) => n + d, 0))
}

/** Sessions deleted so far, as the deleting commands reported them. */
export function deletedSoFar(): number {
  return deleted
}

/**
 * Why standard output failed, once pending writes have reported (stream errors arrive a tick
 * after the write); undefined when it did not, or when its reader merely went away.
 */
export async function outputFailure(): Promise<string | undefined> {
  await new Promise(resolve => {
    setImmediate(resolve)
  })
  return failure === undefined || GONE.has(failure) ? undefined : failure
}

/**
 * `fn` runs once, when stdout's reader goes away (`list | head -1`): the command aborts its scan
 * through the same AbortSignal a SIGINT uses. The run's exit code stands (not "stopped": nobody
 * is left to read, as for any reader that went away).
 */
export function onReaderGone(fn: () => void): void {
  if (gone) fn()
  else readerGoneListeners.push(fn)
}

/** Whether stdout's reader went away (EPIPE or EIO). */
export function readerGone(): boolean {
  return gone
}
