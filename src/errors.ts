/**
 * Exit codes are part of the operator contract (README, "Exit codes"): scripts and cron wrappers
 * branch on them, so each failure mode maps to exactly one code.
 */
export const ExitCode = {
  /** Something failed before anything was deleted (connection, query, unexpected error). */
  ERROR: 1,
  /** Another cleanup holds the lock; this one did nothing. */
  LOCKED: 5,
  /** The command did what was asked (including "nothing matched"). */
  OK: 0,
  /** Some work was done, then a store failed: the message says what completed. Rerun to finish. */
  PARTIAL: 4,
  /** The operator declined, or a guard refused (no terminal and no --yes); nothing was deleted. */
  REFUSED: 3,
  /**
   * A second signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) while the first was being honoured: exited
   * at once, without waiting for the batch under way (128 + SIGINT, as shells report it).
   */
  SIGNALLED: 130,
  /** Stopped early (signal or run-time cap) after a clean batch boundary; rerun to finish. */
  STOPPED: 6,
  /**
   * The purge did what it could, but some stored values could not be read and may be the
   * user's sessions (too large, unsupported compression...): they were not deleted, and the
   * user may still be logged in somewhere. `sessions list --undecodable` shows them.
   */
  INCOMPLETE: 7,
  /** The command line, a config file or a profile is invalid; nothing was touched. */
  USAGE: 2,
} as const

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/** An error the operator can act on: one line, no stack, a defined exit code. */
export class SessionctlError extends Error {
  readonly exitCode: ExitCodeValue

  constructor(message: string, exitCode: ExitCodeValue = ExitCode.ERROR, options?: {cause?: unknown}) {
    super(message, options)
    this.name = 'SessionctlError'
    this.exitCode = exitCode
  }
}

/** Bad operator input: flags, URLs, identifiers, config files. Always exit 2, always before any I/O. */
export class UsageError extends SessionctlError {
  constructor(message: string) {
    super(message, ExitCode.USAGE)
    this.name = 'UsageError'
  }
}

/** A store could not be reached or used (connection, authentication, missing table...). */
export class StoreError extends SessionctlError {
  constructor(message: string, options?: {cause?: unknown}) {
    super(message, ExitCode.ERROR, options)
    this.name = 'StoreError'
  }
}

/**
 * A delete run that failed after it had already removed sessions. It carries the counts so the
 * operator learns exactly what happened; the store is consistent (every delete is exact) and a
 * rerun finishes the job.
 */
export class PartialFailureError extends SessionctlError {
  readonly deleted: number

  constructor(message: string, deleted: number, options?: {cause?: unknown}) {
    super(message, deleted > 0 ? ExitCode.PARTIAL : ExitCode.ERROR, options)
    this.name = 'PartialFailureError'
    this.deleted = deleted
  }

  /** A store failed after `deleted` of `total` selected sessions were deleted. */
  static during(cause: Error, deleted: number, total: number): PartialFailureError {
    const n = (x: number): string => x.toLocaleString('en-US')
    return new PartialFailureError(
      `${cause.message}; ${n(deleted)} of ${n(total)} sessions were deleted before the failure, the rest are intact: rerun to finish`,
      deleted,
      {cause},
    )
  }
}

/** Another cleanup holds the store's lock: this run did nothing (exit 5). */
export class LockHeldError extends SessionctlError {
  constructor(message: string) {
    super(message, ExitCode.LOCKED)
    this.name = 'LockHeldError'
  }
}

/**
 * The exit code an error asks for, if it is one of ours. Read by shape rather than by class,
 * so errors from another copy of this module (a test double's) are understood too.
 */
export function exitCodeOf(error: unknown): ExitCodeValue | undefined {
  const code = (error as undefined | {exitCode?: unknown})?.exitCode
  return typeof code === 'number' && (Object.values(ExitCode) as number[]).includes(code) ? (code as ExitCodeValue) : undefined
}

/** Sessions a failed run had deleted before it failed (PartialFailureError), else 0. */
export function deletedBefore(error: unknown): number {
  const deleted = (error as undefined | {deleted?: unknown})?.deleted
  return typeof deleted === 'number' ? deleted : 0
}
