import type {Ora} from 'ora'

import {redact} from './redact.js'
import {terminalSafe} from './render.js'
import {logTime} from './report.js'

/**
 * A spinner with counts and rate on a terminal (stderr), and nothing at all without one, so
 * cron mails and pipes stay clean. ora loads only when a spinner starts (it costs ~40 ms).
 */
export class Progress {
  private spinner: Ora | undefined
  private started = 0
  private stopped = false

  constructor(private readonly enabled: boolean) {}

  static forTerminal(): Progress {
    // ora redraws by terminal width; a pty without a size (columns 0) makes it loop forever.
    const {columns, isTTY} = process.stderr
    return new Progress(Boolean(isTTY) && (columns ?? 0) > 0 && process.env.TERM !== 'dumb')
  }

  /** Whether a spinner shows (a terminal on stderr): --progress lines are for runs without one. */
  get onTerminal(): boolean {
    return this.enabled
  }

  start(text: string): void {
    if (!this.enabled) return
    this.started = Date.now()
    this.stopped = false
    import('ora').then(({default: ora}) => {
      if (this.stopped || this.spinner) return
      this.spinner = ora({discardStdin: false, stream: process.stderr, text: terminalSafe(redact(text))}).start()
    }, () => {})
  }

  stop(): void {
    this.stopped = true
    this.spinner?.stop()
    this.spinner = undefined
  }

  /** `verb` e.g. "Scanning"; the rate is computed from the start of this phase. */
  update(verb: string, count: number, noun: string, extra = ''): void {
    if (!this.spinner) return
    const seconds = (Date.now() - this.started) / 1000
    const rate = seconds > 0.5 ? ` (${Math.round(count / seconds).toLocaleString('en-US')}/s)` : ''
    this.spinner.text = terminalSafe(redact(`${verb} ${count.toLocaleString('en-US')} ${noun}${rate}${extra}`))
  }
}

/**
 * `--progress SECONDS` where no spinner shows (cron, systemd, a pod's log): every SECONDS a line
 * that starts with the time, as pt-archiver's --progress does, so a long run in a log is not
 * silent. `where` says where the run is; `write` takes the whole line.
 */
export class ProgressLog {
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly seconds: number, private readonly write: (line: string) => void) {}

  start(where: () => string): void {
    this.stop()
    this.timer = setInterval(() => this.write(`${logTime()} progress: ${terminalSafe(redact(where()))}`), this.seconds * 1000)
    // Never what keeps the process alive.
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }
}
