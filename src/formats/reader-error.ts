/**
 * What a serialization reader throws, and the only thing it throws: each reader has its own
 * subclass (PickleError, PhpSerializeError, MarshalError, MsgpackError, JavaSerializationError).
 */
export class ReaderError extends Error {
  /**
   * The language's own runtime would read this value; the reader refuses it (a limit, an
   * unsupported form): what it holds is unknown, so the codec reports its owner as unknown.
   * False: the runtime refuses it too, so it is nobody's session.
   */
  readonly limit: boolean

  constructor(message: string, options?: {cause?: unknown; limit?: boolean}) {
    super(message, options)
    this.limit = options?.limit ?? false
  }
}
