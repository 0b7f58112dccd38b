import type {Codec, CodecSettings} from '../formats/codec.js'
import type {RedisLayout, SqlLayout} from '../stores/contract.js'

/**
 * A framework family, declared in one file of this directory: how its sessions are encoded
 * (which readers of src/formats/, composed how), where the user id and the expiry live, and
 * where its stores keep sessions (SQL table and expiry rule, Redis key pattern). Adapters read
 * the layouts and never see a framework; readers never see either.
 *
 * docs/adding-a-framework.md walks through writing one.
 */
export interface Framework {
  /** The `--format` value. */
  name: string
  /** One line for `--help` and the README's formats table. */
  summary: string
  /** Where the user id sits in the decoded session, unless --user-path says otherwise. */
  userPath: readonly string[]
  /** The codec: pure, synchronous, never throws (src/formats/codec.ts). */
  codec(settings: CodecSettings): Codec
  /** The codec reads `--salt` (a signing salt): refused for frameworks that do not. */
  signed?: boolean
  /** The framework's SQL table, columns and expiry rule, where it has a SQL store. */
  sql?: SqlLayout
  /** Its Redis keys for a `--prefix` value (undefined = the framework's default), where it has a Redis store. */
  redis?(prefix: string | undefined): RedisLayout
}

/** Identity, for type checking a framework file's declaration. */
export function defineFramework(framework: Framework): Framework {
  return framework
}
