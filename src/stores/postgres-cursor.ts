import type net from 'node:net'

import Cursor from 'pg-cursor'

/** What pg-cursor keeps that a byte bound needs (its rows of the current read, and the connection's socket). */
interface CursorInternals<Row> {
  _rows: null | Row[]
  connection: null | {stream: net.Socket}
}

/**
 * A server-side cursor whose reads are bounded by bytes as well as rows. pg-cursor's `read(n)`
 * holds all n rows of an Execute in memory, so a read of 1,000 rows that meets 50 sessions of
 * 20 MB held a gigabyte; rows sized by what came before cannot foresee that. Here a read hands
 * its rows over as soon as they reach `budget` bytes and pauses the socket (TCP backpressure
 * stops the server) until the next call: memory follows bytes, one large row at a time.
 */
export class BoundedCursor<Row> extends Cursor<Row> {
  private bytes = 0
  private closing = false
  private onFull: (() => void) | undefined
  private reading: Promise<Row[]> | undefined

  constructor(
    text: string,
    values: unknown[],
    private readonly sizeOf: (row: Row) => number,
    private readonly budget: number,
  ) {
    super(text, values, {rowMode: 'array'})
  }

  private get internals(): CursorInternals<Row> {
    return this as unknown as CursorInternals<Row>
  }

  /**
   * Stops reading: rows still arriving for the current Execute are dropped, not kept. A
   * connection that goes (the server killed or terminating the backend, a frozen server's socket
   * destroyed) has no portal left to close: pg-cursor would wait for a ReadyForQuery that never
   * comes, the scan's error would never be reported, and the process would end with exit 13.
   */
  override close(): Promise<void>
  override close(callback: (err: Error) => void): undefined
  override close(callback?: (err: Error) => void): Promise<void> | undefined {
    this.closing = true
    const closed = this.closePortal()
    if (!callback) return closed
    closed.then(() => (callback as () => void)(), callback)
    return undefined
  }

  /** pg-cursor's row handler, then the byte count: at the budget, the rows go to the waiting `next`. */
  handleDataRow(message: unknown): void {
    if (this.closing) return;
    (Cursor.prototype as unknown as {handleDataRow(m: unknown): void}).handleDataRow.call(this, message)
    const rows = this.internals._rows
    if (!rows || rows.length === 0) return
    this.bytes += this.sizeOf(rows.at(-1)!)
    if (this.bytes >= this.budget && this.onFull) {
      this.internals.connection?.stream.pause()
      const full = this.onFull
      this.onFull = undefined
      full()
    }
  }

  /**
   * The next rows: at most `rows` (one Execute), fewer when they reach the byte budget first;
   * an empty array at the end.
   */
  async next(rows: number): Promise<Row[]> {
    if (this.reading) this.internals.connection?.stream.resume()
    else this.reading = this.read(rows)
    const {reading} = this
    const full = new Promise<'full'>(resolve => {
      this.onFull = () => resolve('full')
    })
    const done = await Promise.race([reading, full])
    this.onFull = undefined
    if (done === 'full') {
      // Over budget mid-read: hand over what came; the rest of this Execute follows on resume.
      const taken = this.internals._rows ?? []
      this.internals._rows = []
      this.bytes = 0
      return taken
    }

    this.reading = undefined
    this.bytes = 0
    return done
  }

  /** pg-cursor's close, or as soon as the connection is gone. */
  private async closePortal(): Promise<void> {
    const stream = this.internals.connection?.stream
    if (!stream) return super.close()
    if (stream.destroyed || !stream.writable) return
    stream.resume()
    let gone: () => void = () => {}
    try {
      await Promise.race([super.close(), new Promise<void>(resolve => {
        gone = () => resolve()
        stream.once('close', gone)
      })])
    } finally {
      stream.removeListener('close', gone)
    }
  }
}
