import type {CodecSettings} from '../formats/codec.js'
import type {KeyForm} from './framework.js'

import {parseJavaSerialized, writeJavaString} from '../formats/java-serialization.js'
import {createSpringSessionCodec, PRINCIPAL_NAME_INDEX_NAME} from '../formats/spring-session.js'
import {defineFramework} from './framework.js'

const DEFAULT_NAMESPACE = 'spring:session:'
const MINUTE_MS = 60_000

export function createSpringCodec(options: Partial<CodecSettings> & {maxPayloadBytes?: number} = {}) {
  return createSpringSessionCodec({maxPayloadBytes: options.maxPayloadBytes, name: 'spring', userPath: options.userPath ?? [PRINCIPAL_NAME_INDEX_NAME]})
}

/** A JDK-serialized String member (index and expirations sets), as text; undefined for anything else. */
function memberText(member: Buffer): string | undefined {
  try {
    const value = parseJavaSerialized(member, {maxBytes: 64 * 1024, maxHandles: 4, maxItems: 4})
    return typeof value === 'string' ? value : undefined
  } catch {
    return undefined
  }
}

/**
 * Spring's `SESSION` cookie: DefaultCookieSerializer base64-encodes the id (useBase64Encoding,
 * true by default; java.util.Base64, padded). Only a value that decodes to an id Spring makes
 * (letters, digits, `-`, `_`) is taken for one: a raw UUID has dashes and is not base64.
 */
export function springCookie(given: string): KeyForm | undefined {
  if (given.length < 8 || given.length % 4 !== 0 || !/^[\d+/A-Za-z]+={0,2}$/.test(given)) return undefined
  const id = Buffer.from(given, 'base64').toString('latin1')
  return /^[\w-]{1,255}$/.test(id) && id !== given ? {as: 'Spring SESSION cookie (base64)', key: id} : undefined
}

/**
 * Spring Session (docs/session-formats.md §4 and the corrections of issue 14).
 *
 * JDBC (`SPRING_SESSION`, attributes in `SPRING_SESSION_ATTRIBUTES`): the owner is the
 * `PRINCIPAL_NAME` column Spring fills from the principal, compared exactly (the column's default
 * collation makes `Alice` equal `alice`); `SESSION_ID` is the key, `PRIMARY_ID` names it too;
 * `EXPIRY_TIME` is epoch ms (Long.MAX_VALUE for a session that never expires); Spring's cleanup
 * deletes `EXPIRY_TIME < now`.
 *
 * Redis (`--prefix` is the namespace, default `spring:session:`): a hash per session
 * (`sessions:<id>`, JDK-serialized values), and for the indexed repository a shadow key
 * (`sessions:expires:<id>`), minute sets (`expirations:<ms>`) and a principal index set whose
 * members are JDK Strings of the ids, which Spring lets drift (stale members).
 */
export default defineFramework({
  codec: createSpringCodec,
  cookie: springCookie,
  language: 'java',
  name: 'spring',
  redis(prefix) {
    const ns = prefix ?? DEFAULT_NAMESPACE
    const indexPrefix = `${ns}index:${PRINCIPAL_NAME_INDEX_NAME}:`
    return {
      companions: key => [`${ns}sessions:expires:${key}`],
      keyGlob: '*',
      // UUIDs by default; `expires:<id>` shadow keys share the prefix and are not sessions.
      keyPattern: /^[^:]{1,255}$/,
      // RedisSessionExpirationPolicy: the minute after the expiry, rounded up.
      memberships: (key, expiresAt) => (expiresAt === null
        ? []
        : [{member: writeJavaString(`expires:${key}`), set: `${ns}expirations:${Math.ceil(expiresAt.getTime() / MINUTE_MS) * MINUTE_MS}`}]),
      prefixes: [`${ns}sessions:`],
      userIndex: {
        glob: `${indexPrefix.replaceAll(/[*?[\\\]]/g, c => `\\${c}`)}*`,
        key: userId => `${indexPrefix}${userId}`,
        member: writeJavaString,
        sessionOf: memberText,
      },
      value: 'hash',
    }
  },
  // PostgreSQL: schema-postgresql.sql creates the same names unquoted (spring_session, expiry_time,
  // found case-insensitively), BYTEA attributes, the same cascading FK: `sql` serves it.
  sql: {
    table: 'SPRING_SESSION',
    keyColumn: 'SESSION_ID',
    keyAliasColumn: 'PRIMARY_ID',
    dataColumn: 'PRINCIPAL_NAME',
    ownerColumn: 'PRINCIPAL_NAME',
    children: {column: 'SESSION_PRIMARY_ID', references: 'PRIMARY_ID', suffix: '_ATTRIBUTES'},
    detailColumns: [
      {column: 'CREATION_TIME', label: 'created', unit: 'unix-ms'},
      {column: 'LAST_ACCESS_TIME', label: 'lastActivity', unit: 'unix-ms'},
    ],
    // isExpired(): now ≥ lastAccessed + maxInactive; cleanUpExpiredSessions(): EXPIRY_TIME < now.
    expiry: {
      column: 'EXPIRY_TIME', liveWhen: 'after-now', cleanupWhen: 'before-now', unit: 'unix-ms',
    },
  },
  summary: 'Spring Session JDBC (SPRING_SESSION, user = PRINCIPAL_NAME) and Redis (spring:session: hashes, principal index); JDK serialization',
  userPath: [PRINCIPAL_NAME_INDEX_NAME],
})
