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
  /**
   * Top-level session keys `show` masks besides those that look like secrets (payload.ts): values
   * that hold a credential under an innocent name (Devise's `warden.user.<scope>.key`, whose second
   * element is the password hash's salt).
   */
  secretKeys?: RegExp
  /** The language the app reads its sessions in: `show` names payload value types as it does (`dict`, `array`, `Hash`). */
  language: ValueLanguage
  /**
   * Where the user id sits in the decoded session, unless --user-path says otherwise (a function
   * of the settings where it depends on one, e.g. Laravel's guard). Absent: --user-path is required.
   */
  userPath?: ((settings: FrameworkSettings) => readonly string[]) | readonly string[]
  /** The codec: pure, synchronous, never throws (src/formats/codec.ts). */
  codec(settings: CodecSettings): Codec
  /** The codec reads `--salt` (a signing salt): refused for frameworks that do not. */
  signed?: boolean
  /** The settings it reads besides the layout's (refused for frameworks that do not), with defaults. */
  reads?: {
    /** `--app-key` / APP_KEY: a key the codec decrypts with. */
    appKey?: true
    /** `--guard`: which authentication guard's login the user is. */
    guard?: {default: string}
    /** `--lifetime MINUTES`: the session lifetime the expiry rule adds (no default: required for state filters and cleanup). */
    lifetime?: {default?: number}
    /** `--scope`: which Devise/Warden scope's login the user is. */
    scope?: {default: string}
  }
  /**
   * The stored session keys an operator-given one may stand for, besides itself (`--except`): the
   * key as the cookie carries it, where the store keeps a derived one (Rails' public id, hashed
   * to its private id; Flask's SQL rows, which hold the key prefix too).
   */
  keyForms?(given: string): readonly string[]
  /** What the keyForms stand for, as revoke says which form a value matched ("Rails public id"). */
  keyFormsAre?: string
  /**
   * The cookie value an operator may hold where the framework derives the stored key from it
   * (express's signed `s:<sid>.<sig>`, Spring's base64 of the id): the key, with what it was taken
   * as. `keys.secrets` are --secret-key's values, to check a signature where the cookie carries
   * one; `keys.appKeys` --app-key's (Laravel), to decrypt one. Undefined: the value is not such a
   * cookie. keyForms apply to the key it gives too.
   */
  cookie?(given: string, keys: CookieKeys): KeyForm | undefined
  /** The framework's SQL table, columns and expiry rule (a function of the settings where they shape it). */
  sql?: ((settings: FrameworkSettings) => SqlLayout) | SqlLayout
  /**
   * Tables that packages keep the framework's sessions in, with columns of their own, by table
   * name: `--table <name>` (or `database.<name>`) lays the entry over `sql` (django-user-sessions'
   * `user_sessions_session`, django-qsessions' `qsessions_session`: their user and detail columns).
   */
  tables?: Readonly<Record<string, Partial<SqlLayout>>>
  /**
   * Its PostgreSQL table, where that differs from `sql` (express: connect-pg-simple's `session`
   * table, not express-mysql-session's `sessions`). Absent: `sql` serves PostgreSQL too.
   */
  postgres?: ((settings: FrameworkSettings) => SqlLayout) | SqlLayout
  /** Its Redis keys for a `--prefix` value (undefined = the framework's default), where it has a Redis store. */
  redis?(prefix?: string): RedisLayout
}

/** What checks or opens a cookie (Framework.cookie): --secret-key's values, and --app-key / APP_KEY where a store reads it. */
export interface CookieKeys {
  appKeys: readonly string[]
  secrets: readonly string[]
}

export type ValueLanguage = 'java' | 'js' | 'php' | 'python' | 'ruby'

/** Settings that shape a framework's layout or user path (from flags or a profile, checked). */
export interface FrameworkSettings {
  guard?: string
  lifetimeMinutes?: number
  scope?: string
}

/** Identity, for type checking a framework file's declaration. */
export function defineFramework(framework: Framework): Framework {
  return framework
}

/**
 * Another stored key a given value stands for (Framework.keyForms, Framework.cookie), and what the
 * value was taken as ("Rails public id", "express signed cookie"). `refused`: the value has that
 * form but must not name the key (a cookie whose signature does not match): it matches nothing.
 * `note`: said with the match (e.g. "signature not checked").
 */
export interface KeyForm {
  as: string
  key: string
  note?: string
  refused?: string
}
