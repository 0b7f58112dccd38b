import {terminalSafe} from './render.js'

/**
 * Confirmation prompts. "No terminal" is decided up front: prompts throw when stdin is at
 * end-of-file, and a purge from a script must refuse cleanly rather than half-ask.
 */
export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY) && Boolean(process.stderr.isTTY)
}

/**
 * Asks on stderr (stdout may carry JSON); the default answer is no. `signal` (the command's
 * SIGINT/SIGTERM/SIGHUP/SIGQUIT) ends the question with "no" too.
 */
export async function confirmOnTerminal(message: string, signal?: AbortSignal): Promise<boolean> {
  const {default: confirm} = await import('@inquirer/confirm')
  if (signal?.aborted) return false
  try {
    return await confirm({default: false, message: terminalSafe(message)}, {output: process.stderr, signal})
  } catch {
    // Ctrl-C, a signal or a closed terminal while asking: treat as "no".
    return false
  }
}
