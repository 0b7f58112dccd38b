import {
  Command, Flags, type Interfaces, ux,
} from '@oclif/core'
import chalk from 'chalk'

import type {SessionStore, StoreLayout} from '../stores/contract.js'
import type {DeletionUi} from './deletion.js'

import {ExitCode, exitCodeOf, UsageError} from '../errors.js'
import {parseLaravelKey} from '../formats/laravel-encrypter.js'
import {
  type CookieKeys, type Framework, FRAMEWORK_NAMES, frameworkCodec, type FrameworkSettings, getFramework, layoutFor, userPathFor,
} from '../frameworks/index.js'
import {type KeyForm} from '../sessions/keys.js'
import {closeDecodePools} from '../sessions/select.js'
import {checkStoreUrl, openStore, storeKindOf} from '../stores/index.js'
import {assertTimeZone} from '../stores/sql-time.js'
import {unreachableStore} from '../stores/unreachable.js'
import {
  loadConfig, resolveStores, type StoreSettings, type StoreSpec,
} from './config.js'
import {guardOutput, onReaderGone} from './output.js'
import {Progress} from './progress.js'
import {askPasswords} from './prompt.js'
import {
  checkUrlCredentials, redact, registerSecret, safeUrl,
} from './redact.js'
import {terminalLine} from './render.js'
import {printError, resetWarnings, withWarnings} from './report.js'
import {type OutputChoice, outputJsonInArgv, yamlDocument} from './session-output.js'

/** --secret-key's and --store's options, for a command whose arguments follow them (revoke: multipleNonGreedy). */
export const secretKeyFlag = {
  env: 'DJANGO_SECRET_KEY',
  helpGroup: 'FORMAT',
  multiple: true,
  summary: 'Verify signatures with this SECRET_KEY (repeat for SECRET_KEY_FALLBACKS); bad signatures then match nobody.',
  description: [
    'A value on the command line is visible to every local user in `ps` for the whole run: prefer',
    'DJANGO_SECRET_KEY in the environment (e.g. `DJANGO_SECRET_KEY="$(cat /run/secrets/django_key)" sessionctl …`).',
  ].join(' '),
} as const

export const storeFlag = {
  char: 's',
  env: 'SESSIONCTL_STORE',
  helpGroup: 'STORE',
  multiple: true,
  summary: 'Store URL (mysql://user@host:3306/db, postgres://user@host:5432/db, redis://host:6379/0, redis+cluster://h1:7000,h2:7001, redis+sentinel://h:26379/name/0) or profile name; repeatable.',
  description: [
    'A password in a --store URL is visible to every local user in `ps` for the whole run. Keep it out of the',
    'command line: a profile with "passwordEnv" (the password is read from that variable), or MYSQL_PWD for',
    'MySQL/MariaDB, PGPASSWORD for PostgreSQL and REDIS_PASSWORD (REDIS_SENTINEL_PASSWORD for sentinels) for Redis, used when the URL has',
    'no password. A config file holding a password should be chmod 600 (sessionctl warns otherwise).',
  ].join(' '),
} as const

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof SessionsCommand)['baseFlags'] & T['flags']>

/**
 * The one base command: common flags, store opening, --json, errors, exit codes, prompts,
 * the spinner and signals. Commands stay thin: parse → open stores → call → render.
 */
export abstract class SessionsCommand extends Command {
  static baseFlags = {
    'ask-pass': Flags.boolean({
      helpGroup: 'STORE',
      summary: 'Ask on the terminal for the store password (not echoed), once per user and host; it replaces any password of the URL or the environment.',
    }),
    'app-key': Flags.string({
      helpGroup: 'FORMAT',
      summary: 'Laravel: the APP_KEY (base64:… or raw) that decrypts SESSION_ENCRYPT=true sessions; default $APP_KEY.',
      description: 'A value on the command line is visible to every local user in `ps` for the whole run: prefer APP_KEY in the environment.',
    }),
    config: Flags.string({
      env: 'SESSIONCTL_CONFIG',
      helpGroup: 'STORE',
      summary: 'Config file with store profiles (default ./sessionctl.json, else ~/.config/sessionctl/config.json).',
      description: [
        'Without --config or $SESSIONCTL_CONFIG (which must name an existing file), the first of ./sessionctl.json and',
        '$XDG_CONFIG_HOME/sessionctl/config.json (~/.config/sessionctl/config.json; $SESSIONCTL_CONFIG_DIR replaces the directory) that exists.',
      ].join(' '),
    }),
    'connect-timeout': Flags.integer({
      default: 3,
      helpGroup: 'STORE',
      max: 300,
      min: 1,
      summary: 'Seconds to wait for a store to answer when connecting.',
    }),
    'data-column': Flags.string({
      helpGroup: 'FORMAT',
      summary: 'Column holding the session payload (default from the format).',
    }),
    'expiry-column': Flags.string({
      helpGroup: 'FORMAT',
      summary: 'Column holding the expiry (default from the format).',
    }),
    'expiry-unit': Flags.option({
      helpGroup: 'FORMAT',
      options: ['datetime', 'unix-seconds', 'unix-ms'] as const,
      summary: 'What the expiry column holds (default from the format).',
    })(),
    format: Flags.string({
      char: 'f',
      helpGroup: 'FORMAT',
      options: FRAMEWORK_NAMES,
      summary: 'Session format preset (default: the profile’s, else django).',
    }),
    guard: Flags.string({
      helpGroup: 'FORMAT',
      summary: 'Laravel: the authentication guard whose login is the user (default web).',
    }),
    'key-column': Flags.string({
      helpGroup: 'FORMAT',
      summary: 'Column holding the session key (default from the format).',
    }),
    lifetime: Flags.string({
      helpGroup: 'FORMAT',
      summary: 'Session lifetime in minutes, where the expiry is the last activity plus it (Laravel SESSION_LIFETIME, default 120; Rails expire_after, no default).',
    }),
    prefix: Flags.string({
      helpGroup: 'FORMAT',
      summary: 'Redis key prefix: literal (sess:, session:, rack:session:); for django-cache the cache’s <KEY_PREFIX>:<VERSION>: (default :1:).',
    }),
    scope: Flags.string({
      helpGroup: 'FORMAT',
      summary: 'Rails: the Devise/Warden scope whose login is the user (warden.user.<scope>.key; default user).',
    }),
    salt: Flags.string({
      helpGroup: 'FORMAT',
      summary: 'Signing salt of a custom SessionStore class (default django.contrib.sessions.SessionStore).',
    }),
    'secret-key': Flags.string(secretKeyFlag),
    'show-keys': Flags.boolean({
      summary: 'Print raw session keys instead of fingerprints. Session keys are bearer credentials.',
    }),
    store: Flags.string(storeFlag),
    table: Flags.string({
      helpGroup: 'FORMAT',
      summary: 'Session table, or database.table (MySQL) / schema.table (PostgreSQL); default from the format, e.g. django_session.',
      description: 'With --format django, user_sessions_session (django-user-sessions) and qsessions_session (django-qsessions) also read those packages\' user_id (by index, cross-checked with the payload), ip, user agent and times.',
    }),
    'time-zone': Flags.string({
      helpGroup: 'FORMAT',
      summary: 'Zone of naive DATETIME expiry columns: UTC for Django USE_TZ=True (default), else TIME_ZONE.',
    }),
    'user-column': Flags.string({
      helpGroup: 'FORMAT',
      summary: 'SQL stores: a column holding the user id (e.g. user_id): list/purge --user look it up by index instead of scanning; payloads still cross-checked.',
    }),
    'user-path': Flags.string({
      helpGroup: 'FORMAT',
      summary: 'Dotted path of the user id in the session (default from the format, e.g. _auth_user_id).',
    }),
  }
  static enableJsonFlag = true
  /**
   * The stored keys an operator-given session key may stand for, by the stores' frameworks (a
   * Rails public id → its private id): for KeepList. Set by openStores.
   */
  protected keyAliases: (given: string) => readonly KeyForm[] = () => []
  protected progress = Progress.forTerminal()
  /**
   * Whether each opened store's codec verifies signatures (a signed format given --secret-key), in
   * the order openStores returned them: the doctor's signature check. Set by openStores.
   */
  protected signatureChecks: Array<'checked' | 'unchecked' | 'unsigned'> = []
  private readonly openedStores: SessionStore[] = []
  private removeSignalHandlers: (() => void) | undefined
  private signalController: AbortController | undefined

  /** One line, redacted, with the command's exit code; `{"error":…}` with --json. */
  override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<void> {
    this.progress.stop()
    const exitCode
      = exitCodeOf(error) ?? (error.oclif?.exit === 2 ? ExitCode.USAGE : (error.oclif?.exit ?? ExitCode.ERROR))
    // oclif's own exit (e.g. --help, --version) is not an error.
    if ((error as {code?: string}).code === 'EEXIT') throw error
    const message = redact(oneLine(error, exitCode))
    if (process.env.SESSIONCTL_DEBUG && error.stack) process.stderr.write(`${redact(error.stack)}\n`)
    process.exitCode = exitCode
    if (this.jsonEnabled()) {
      this.logJson({error: {exitCode, message}})
    } else {
      printError(message)
    }
  }

  /** What purge and revoke print through: data on stdout, human lines on stdout with a table, on stderr with csv/ndjson, none with a document. */
  protected deletionUi(choice: OutputChoice): DeletionUi {
    // eslint-disable-next-line unicorn/no-this-assignment, @typescript-eslint/no-this-alias -- log() is a method of the returned object
    const self = this
    const table = choice.mode === 'table' || choice.mode === 'wide'
    return {
      json: choice.document,
      log(line) {
        if (choice.document) return
        if (table) self.log(line)
        else self.logToStderr(line)
      },
      output: choice,
      progress: this.progress,
      write: line => this.log(line),
    }
  }

  /**
   * The command's document in the chosen output: returned for json (oclif prints it, see
   * toSuccessJson), printed as YAML for yaml; undefined (nothing more to print) otherwise.
   */
  protected document<R>(choice: OutputChoice, result: R): R | undefined {
    if (choice.mode === 'yaml') {
      // One line at a time: log() shows a line break inside a line as \n (see terminalLine).
      for (const line of yamlDocument(withWarnings(result)).split('\n')) this.log(line)
      return undefined
    }

    return choice.mode === 'json' ? result : undefined
  }

  protected override async finally(error: Error | undefined): Promise<void> {
    this.progress.stop()
    this.removeSignalHandlers?.()
    await Promise.allSettled(this.openedStores.map(s => s.close()))
    await closeDecodePools()
    await super.finally(error)
  }

  override async init(): Promise<void> {
    guardOutput()
    resetWarnings()
    await super.init()
    // chalk 5 ignores NO_COLOR; oclif's own colouring honours it.
    if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') chalk.level = 0
    if (!process.stdout.isTTY && process.env.FORCE_COLOR === undefined) chalk.level = 0
  }

  /** -o json (and its spellings) is --json: oclif prints the returned document, and errors are JSON too. */
  override jsonEnabled(): boolean {
    return super.jsonEnabled() || (Boolean((this.constructor as typeof Command).flags?.output) && outputJsonInArgv(this.argv))
  }

  /**
   * Every human line on stdout/stderr goes through here or report.ts: text from payloads or
   * config can never move the cursor, clear the screen or forge a line. Our own colours stay;
   * JSON lines (NDJSON) stay valid and exact (see terminalSafe).
   */
  override log(message: unknown = '', ...args: unknown[]): void {
    super.log(terminalLine(message, args))
  }

  /**
   * The JSON document, indented. oclif's own logJson tokenizes the printed text into an object per
   * token to colour it (with no theme, to colour nothing): `list --all --json` of 300k sessions
   * (82 MB of JSON) took 2 GB of memory and 22 s that way, and 1M would exhaust the heap.
   */
  override logJson(json: unknown): void {
    ux.stdout(JSON.stringify(json, null, 2))
  }

  override logToStderr(message: unknown = '', ...args: unknown[]): void {
    super.logToStderr(terminalLine(message, args))
  }

  /**
   * Resolves --store values and profiles, validates every setting before any I/O, then opens
   * the stores. They are closed when the command ends, whatever happens.
   */
  protected async openStores(flags: BaseFlags<typeof SessionsCommand>, expiry?: ExpiryNeed): Promise<SessionStore[]> {
    const specs = this.storeSpecs(flags)
    const plans = specs.map(spec => this.plan(spec, flags))
    checkSettingsApply(specs, this.settingFlags(flags))
    if (expiry) checkExpiryKnown(specs, plans, expiry)
    const appKeys = specs.some(s => getFramework(s.format ?? 'django').reads?.appKey) ? appKeysOf(flags['app-key']) : []
    this.keyAliases = keyAliasesOf(specs, {appKeys, secrets: [flags['secret-key'] ?? []].flat()})
    if (flags['app-key'] !== undefined && !specs.some(s => getFramework(s.format ?? 'django').reads?.appKey)) {
      throw new UsageError(`--app-key applies to ${readers(f => f.reads?.appKey)} only: drop it`)
    }

    // Every URL is checked before the first store connects: a malformed second one touches nothing.
    for (const plan of plans) await checkStoreUrl(plan.url)
    if (flags['ask-pass']) {
      const urls = await askPasswords(plans.map(p => p.url))
      for (const [i, plan] of plans.entries()) plan.url = urls[i]
    }

    const stores: SessionStore[] = []
    const failures: Error[] = []
    this.signatureChecks = plans.map(p => p.signatures)
    for (const plan of plans) {
      try {
        const store = await openStore(plan.url, plan.options)
        this.openedStores.push(store)
        stores.push(store)
      } catch (error) {
        // A store that is not the one named (a usage error: wrong database, bad URL) stops the
        // whole run before anything is read; one that is merely unreachable stops only itself.
        if (exitCodeOf(error) === ExitCode.USAGE || plans.length === 1) throw error
        failures.push(error as Error)
        stores.push(unreachableStore(safeUrl(plan.url), error as Error))
      }
    }

    if (failures.length === plans.length) throw failures[0]
    return stores
  }

  /**
   * Aborted by the first SIGINT, SIGTERM, SIGHUP (a closed terminal, a dropped SSH session) or
   * SIGQUIT: work stops at the next batch boundary, and the run ends with its summary and audit
   * line. A second one exits at once (130), with the audit line and, under --json, a JSON error.
   */
  protected stopSignal(onStop: (signal: NodeJS.Signals) => void, options: {whenReaderGone?: boolean} = {}): AbortSignal {
    if (this.signalController) return this.signalController.signal
    const controller = new AbortController()
    this.signalController = controller
    // A scan whose output nobody reads any more (`list | head -1`) stops as a signal stops it; a
    // deleting command is not stopped by that: its work does not depend on a reader.
    if (options.whenReaderGone) onReaderGone(() => controller.abort())
    let received = 0
    const handler = (signal: NodeJS.Signals): void => {
      received++
      if (received > 1) {
        const message = `second signal (${signal}): exited at once, without waiting for the batch under way; rerun the same command to finish`
        try {
          if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify({error: {exitCode: ExitCode.SIGNALLED, message}})}\n`)
          process.stderr.write(`sessionctl: ${message}\n`)
        } catch {}

        process.exit(ExitCode.SIGNALLED)
      }

      onStop(signal)
      controller.abort()
    }

    for (const signal of STOP_SIGNALS) process.on(signal, handler)
    // Once the work is over, a signal during teardown (closing connections, threads) ends the
    // process with the run's own exit code: its report and audit line are already out.
    this.removeSignalHandlers = () => {
      for (const signal of STOP_SIGNALS) process.off(signal, handler)
      exitOnSignalFromNowOn()
    }

    return controller.signal
  }

  /** The JSON document carries the run's warnings too (they are on stderr as well). */
  protected override toSuccessJson(result: unknown): unknown {
    return withWarnings(result)
  }

  protected userId(raw: string): string {
    if (raw.trim() === '') throw new UsageError('--user must not be empty: pass the user id, e.g. --user 42')
    // No framework's user id holds them, and they would reach the terminal in every line that names the user.
    if (/[\p{Cc}\p{Cf}\u2028\u2029]/u.test(raw)) {
      // printError shows the invisible ones as escapes (terminalSafe).
      throw new UsageError(`--user ${JSON.stringify(raw)} holds control or invisible characters: pass the user id as the app stores it`)
    }

    if (raw !== raw.trim()) {
      throw new UsageError(`--user ${JSON.stringify(raw)} has leading or trailing spaces and user ids match exactly: pass --user ${JSON.stringify(raw.trim())}`)
    }

    return raw
  }

  private plan(spec: StoreSpec, flags: BaseFlags<typeof SessionsCommand>) {
    const framework = getFramework(spec.format ?? 'django')
    const timeZone = spec.timeZone ?? 'UTC'
    try {
      assertTimeZone(timeZone)
    } catch {
      throw new UsageError(`unknown time zone "${timeZone}": use an IANA name such as UTC or Europe/Paris`)
    }

    // An env var gives a multiple flag one string, not a list.
    const secretKeys = [flags['secret-key'] ?? []].flat()
    for (const key of secretKeys) registerSecret(key)
    if (secretKeys.some(k => k.length === 0)) throw new UsageError('--secret-key must not be empty')
    const settings = frameworkSettings(framework, spec)
    const appKeys = framework.reads?.appKey ? appKeysOf(flags['app-key']) : undefined
    const codec = frameworkCodec(framework, {
      ...(appKeys ? {appKeys} : {}), salt: spec.salt, secretKeys, userPath: userPathFor(framework, spec.userPath, settings),
    })
    const layout = layoutFor(framework, spec, settings)
    const owner = layout.sql?.ownerColumn
    if (owner !== undefined && storeKindOf(spec.url) === 'sql') {
      // The row holds no payload to read a path in, or a data column to name.
      for (const [given, what] of [[spec.userPath, '--user-path'], [spec.dataColumn, '--data-column']] as const) {
        if (given !== undefined) throw new UsageError(`${what}: --format ${framework.name} on SQL stores records the user in the ${owner} column itself; drop ${what}`)
      }
    }

    return {
      signatures: framework.signed ? (secretKeys.length > 0 ? 'checked' : 'unchecked') as 'checked' | 'unchecked' : 'unsigned' as const,
      options: {
        codec,
        connectTimeoutMs: flags['connect-timeout'] * 1000,
        layout,
        // Only as given: the store's own default applies otherwise (UTC; a PostgreSQL session's zone where the framework writes in it).
        ...(spec.timeZone === undefined ? {} : {timeZone}),
      },
      url: spec.url,
    }
  }

  /** The store settings given on the command line, with the flag that gave each. */
  private settingFlags(flags: BaseFlags<typeof SessionsCommand>): Map<keyof StoreSettings, string> {
    const given = new Map<keyof StoreSettings, string>()
    for (const [flag, setting] of SETTING_FLAGS) if (flags[flag] !== undefined) given.set(setting, `--${flag}`)
    return given
  }

  private storeSpecs(flags: BaseFlags<typeof SessionsCommand>): StoreSpec[] {
    const values = [flags.store ?? []].flat()
    if (values.length === 0) {
      throw new UsageError('no store given: pass --store mysql://user@host:3306/db (or a profile name), or set SESSIONCTL_STORE')
    }

    // Passwords are registered for redaction before anything can print them.
    for (const value of values) checkUrlCredentials(value)

    const overrides: StoreSettings = {}
    for (const [flag, setting] of SETTING_FLAGS) {
      const value = flags[flag]
      if (value !== undefined) overrides[setting] = value
    }

    const needsConfig = flags.config !== undefined || values.some(v => !/^[a-z][\d+.a-z-]*:\/\//i.test(v))
    const config = needsConfig ? loadConfig(flags.config, this.config.configDir) : undefined
    const specs = resolveStores(values, config, overrides, {askPass: Boolean(flags['ask-pass'])})
    const seen = new Map<string, StoreSpec>()
    for (const spec of specs) {
      const id = JSON.stringify({...spec, profile: undefined, url: safeUrl(spec.url)})
      const first = seen.get(id)
      if (first) {
        const from = (s: StoreSpec): string => (s.profile ? `profile "${s.profile}"` : '--store')
        throw new UsageError(`store ${safeUrl(spec.url)} is given twice (${from(first)} and ${from(spec)}): name each store once`)
      }

      seen.set(id, spec)
    }

    return specs
  }
}

/** What stops a run at the next batch boundary (see stopSignal). */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']

let exitingOnSignal = false
function exitOnSignalFromNowOn(): void {
  if (exitingOnSignal) return
  exitingOnSignal = true
  for (const signal of STOP_SIGNALS) process.once(signal, () => process.exit())
}

/** Flags that override a profile's store settings, by the setting they set. */
const SETTING_FLAGS = [
  ['format', 'format'],
  ['guard', 'guard'],
  ['lifetime', 'lifetime'],
  ['table', 'table'],
  ['key-column', 'keyColumn'],
  ['data-column', 'dataColumn'],
  ['expiry-column', 'expiryColumn'],
  ['expiry-unit', 'expiryUnit'],
  ['prefix', 'prefix'],
  ['salt', 'salt'],
  ['scope', 'scope'],
  ['time-zone', 'timeZone'],
  ['user-column', 'userColumn'],
  ['user-path', 'userPath'],
] as const satisfies ReadonlyArray<readonly [keyof BaseFlags<typeof SessionsCommand>, keyof StoreSettings]>

const SQL_ONLY: ReadonlySet<keyof StoreSettings> = new Set(['table', 'keyColumn', 'dataColumn', 'expiryColumn', 'expiryUnit', 'timeZone'] as const)

/** The formats whose codec reads --salt. */
const SIGNED = FRAMEWORK_NAMES.filter(name => getFramework(name).signed)

/** `--format a and --format b`: the formats a setting applies to. */
function readers(reads: (f: Framework) => unknown): string {
  return FRAMEWORK_NAMES.filter(name => reads(getFramework(name))).map(n => `--format ${n}`).join(' and ')
}

/** A command that needs to tell live sessions from expired: what for, and how else to run it. */
export interface ExpiryNeed {
  /** E.g. "to tell live sessions from expired ones". */
  purpose: string
  /** E.g. "or pass --all to list every session"; undefined when there is no other way. */
  otherwise?: string
}

/** A SQL store whose framework cannot know expiry without a setting (Rails' --lifetime) is refused here, before any I/O. */
function checkExpiryKnown(specs: readonly StoreSpec[], plans: ReadonlyArray<{options: {layout: StoreLayout}}>, need: ExpiryNeed): void {
  for (const [i, spec] of specs.entries()) {
    const {layout} = plans[i].options
    const missing = ((/^postgres(?:ql)?:/i.test(spec.url) ? layout.postgres : undefined) ?? layout.sql)?.expiry.offsetUnknown
    if (missing === undefined || storeKindOf(spec.url) !== 'sql') continue
    const format = spec.format ?? 'django'
    throw new UsageError(`--format ${format} on ${safeUrl(spec.url)} needs ${missing} ${need.purpose}: the table does not record the app's session lifetime (Rails: expire_after)${need.otherwise ? `; ${need.otherwise}` : ''}`)
  }
}

/**
 * The union of the frameworks' key forms over the stores: the keys a value stands for
 * (Framework.keyForms), and the cookie it may be (Framework.cookie) with its key's own forms.
 */
function keyAliasesOf(specs: readonly StoreSpec[], keys: CookieKeys): (given: string) => readonly KeyForm[] {
  const frameworks = [...new Set(specs.map(s => getFramework(s.format ?? 'django')))]
  const formsOf = (f: Framework, given: string, as: string): KeyForm[] => (f.keyForms?.(given) ?? []).map(key => ({as, key}))
  return given => frameworks.flatMap(f => {
    const cookie = f.cookie?.(given, keys)
    const forms = formsOf(f, given, f.keyFormsAre ?? `${f.name} key form`)
    if (!cookie) return forms
    return [...forms, cookie, ...formsOf(f, cookie.key, cookie.as).map(form => ({...cookie, key: form.key}))]
  })
}

/** Why a setting means nothing for this store, or undefined when it applies. */
function settingMisfit(setting: keyof StoreSettings, spec: StoreSpec): string | undefined {
  const kind = storeKindOf(spec.url)
  const format = spec.format ?? 'django'
  if (kind === 'redis' && SQL_ONLY.has(setting)) return 'applies to SQL stores (MySQL/MariaDB, PostgreSQL) only'
  if (kind === 'sql' && setting === 'prefix') return 'applies to Redis stores only'
  const framework = getFramework(format)
  if (setting === 'guard' && !framework.reads?.guard) return `applies to ${readers(f => f.reads?.guard)} only`
  if (setting === 'scope' && !framework.reads?.scope) return `applies to ${readers(f => f.reads?.scope)} only`
  if (setting === 'lifetime' && !framework.reads?.lifetime) return `applies to ${readers(f => f.reads?.lifetime)} only`
  if (setting === 'lifetime' && kind === 'redis') return 'applies to SQL stores only (Redis keeps the lifetime as the TTL)'
  if (setting === 'salt' && !framework.signed) return `applies to ${SIGNED.map(n => `--format ${n}`).join(' and ')} only (the other formats are not signed)`
  if (setting === 'timeZone' && kind === 'sql') {
    // A framework's PostgreSQL table may differ from its MySQL one (Framework.postgres).
    const declared = (/^postgres(?:ql)?:/i.test(spec.url) ? framework.postgres : undefined) ?? framework.sql
    const unit = spec.expiryUnit ?? (typeof declared === 'function' ? declared({}) : declared)?.expiry.unit
    if (unit !== undefined && unit !== 'datetime' && unit !== 'auto') return `applies to DATETIME expiry columns only (this one holds ${unit})`
  }

  return undefined
}

/**
 * Settings that mean nothing where they are given are refused, not ignored: an operator who
 * typed --table on a Redis store, or --prefix on MySQL, believes it changed something. A flag is
 * refused when it applies to none of the stores (a profile of several may need it for one); a
 * profile's own setting when it does not apply to the profile's store.
 */
function checkSettingsApply(specs: readonly StoreSpec[], fromFlags: ReadonlyMap<keyof StoreSettings, string>): void {
  for (const spec of specs) {
    if (spec.salt === '') throw new UsageError('--salt must not be empty: leave it out for Django’s default')
    for (const setting of Object.keys(spec) as Array<keyof StoreSpec>) {
      if (setting === 'url' || setting === 'profile' || spec[setting] === undefined || fromFlags.has(setting)) continue
      const misfit = settingMisfit(setting, spec)
      if (misfit) throw new UsageError(`profile "${spec.profile ?? '?'}": "${setting}" ${misfit} (${safeUrl(spec.url)}): remove it`)
    }
  }

  for (const [setting, flag] of fromFlags) {
    const misfits = specs.map(spec => settingMisfit(setting, spec))
    if (misfits.every(Boolean)) throw new UsageError(`${flag} ${misfits[0]}, and it is given for ${specs.map(s => safeUrl(s.url)).join(', ')}: drop it`)
  }
}

const MAX_LIFETIME_MINUTES = 10 * 366 * 24 * 60

/** A profile's or the flags' framework settings, checked (one line, exit 2, for bad input). */
function frameworkSettings(framework: Framework, spec: StoreSpec): FrameworkSettings {
  const settings: FrameworkSettings = {}
  if (framework.reads?.guard) {
    const guard = spec.guard ?? framework.reads.guard.default
    // Laravel's guard names are config keys: the login key is login_<guard>_<sha1>.
    if (!/^[\w-]{1,64}$/.test(guard)) throw new UsageError(`--guard ${JSON.stringify(guard)} is not a guard name (letters, digits, _ and -, as in config/auth.php): e.g. --guard web`)
    settings.guard = guard
  }

  if (framework.reads?.scope) {
    const scope = spec.scope ?? framework.reads.scope.default
    // Devise scopes are mapping names (symbols): the login key is warden.user.<scope>.key.
    if (!/^[A-Za-z_]\w{0,63}$/.test(scope)) throw new UsageError(`--scope ${JSON.stringify(scope)} is not a Devise scope (a name like user or admin, as in devise_for :users)`)
    settings.scope = scope
  }

  if (framework.reads?.lifetime) {
    const text = spec.lifetime
    if (text !== undefined && !/^\d{1,9}$/.test(text)) {
      throw new UsageError(`--lifetime ${JSON.stringify(text)} is not a whole number of minutes: e.g. --lifetime 120 (the app's session lifetime)`)
    }

    const minutes = text === undefined ? framework.reads.lifetime.default : Number(text)
    if (minutes !== undefined && (minutes < 1 || minutes > MAX_LIFETIME_MINUTES)) {
      throw new UsageError(`--lifetime ${minutes} is out of range: 1 to ${MAX_LIFETIME_MINUTES} minutes`)
    }

    if (minutes !== undefined) settings.lifetimeMinutes = minutes
  }

  return settings
}

/** --app-key, else $APP_KEY (registered as secrets before anything can print them); checked, never echoed. */
function appKeysOf(flag: string | undefined): string[] {
  const given = flag ?? process.env.APP_KEY
  if (given === undefined) return []
  registerSecret(given)
  if (given.trim() === '') throw new UsageError(`${flag === undefined ? 'APP_KEY' : '--app-key'} is empty: pass Laravel's APP_KEY (base64:…), or leave it unset to list encrypted sessions as undecodable`)
  try {
    parseLaravelKey(given)
  } catch (error) {
    throw new UsageError(`${flag === undefined ? 'APP_KEY' : '--app-key'}: ${(error as Error).message}`)
  }

  return [given]
}

function oneLine(error: Error, exitCode: number): string {
  const lines = String(error.message || error).split('\n').map(l => l.trim()).filter(Boolean)
  let text = lines[0] ?? 'unknown error'
  const ours = exitCodeOf(error) !== undefined
  if (exitCode === ExitCode.USAGE && !ours) {
    text = parseErrorText(lines)
  } else if (!ours) {
    text = `unexpected error: ${text}`
  }

  return text
}

/**
 * oclif's parse errors, as one line that says what to do: its boilerplate ("The following
 * errors occurred:", "See more help with --help") dropped, each conflict said once.
 */
function parseErrorText(lines: string[]): string {
  const out: string[] = []
  const add = (text: string): void => {
    if (!out.includes(text)) out.push(text)
  }

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (/^the following errors? occurred:?$/i.test(line) || /^see more help/i.test(line)) continue
    const conflict = /^--([\w-]+)=\S* cannot also be provided when using --([\w-]+)$/.exec(line)
    const missing = /^missing required flag:? -*([\w-]+)$/i.exec(line)
    const parsing = /^parsing (--[\w-]+)$/i.exec(line)
    if (conflict) {
      const [a, b] = [conflict[1], conflict[2]].sort()
      add(`--${a} and --${b} cannot be used together: drop one`)
    } else if (missing) {
      add(`missing required flag --${missing[1]}`)
    } else if (parsing && i + 1 < lines.length) {
      const next = lines[++i]
      add(`${parsing[1]}: ${next.charAt(0).toLowerCase()}${next.slice(1)}`)
    } else {
      add(line)
    }
  }

  return `${out.join('; ') || 'invalid command line'} (see --help)`
}
