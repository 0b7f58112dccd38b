import {
  type Codec, type Decoded, ownerUnknown, readPath, type Undecodable, undecodable, userIdText,
} from './codec.js'
import {readFieldMap} from './field-map.js'
import {isJavaSerialized, JavaSerializationError, parseJavaSerialized} from './java-serialization.js'

/** The session attribute Spring Session indexes sessions by (FindByIndexNameSessionRepository). */
export const PRINCIPAL_NAME_INDEX_NAME = 'org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME'
/** The attribute Spring Security keeps its SecurityContext in (HttpSessionSecurityContextRepository). */
export const SPRING_SECURITY_CONTEXT = 'SPRING_SECURITY_CONTEXT'
const ATTRIBUTE = 'sessionAttr:'
const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024

/**
 * Spring Session's Redis hashes (docs/session-formats.md §4.2, §4.3), framed by the adapter
 * (formats/field-map.ts): `creationTime`, `lastAccessedTime` (Long ms), `maxInactiveInterval`
 * (Integer s) and `sessionAttr:<name>` fields, each value JDK-serialized. Read with the safe Java
 * reader: nothing a stream names is loaded or run.
 *
 * The user, by default, is whom Spring's PrincipalNameIndexResolver names: the
 * PRINCIPAL_NAME_INDEX_NAME attribute, else the SPRING_SECURITY_CONTEXT's authentication name (a
 * String principal, or a UserDetails' `username`); a principal of another class, whose name only
 * its own getName() knows, is owner unknown. A `userPath` other than the default reads the decoded
 * attributes by path (`SPRING_SECURITY_CONTEXT.authentication.principal.username`).
 *
 * Expiry: lastAccessedTime + maxInactiveInterval, none when the interval is negative. Never throws.
 */
export function createSpringSessionCodec(options: {maxPayloadBytes?: number; name: string; userPath: readonly string[]}): Codec {
  const maxPayload = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD
  const byPath = !(options.userPath.length === 1 && options.userPath[0] === PRINCIPAL_NAME_INDEX_NAME)

  function read(value: Buffer, all: boolean): Decoded {
    if (value.length === 0) return undecodable('empty')
    if (value.length > maxPayload) return ownerUnknown('too large')
    const fields = readFieldMap(value)
    if (!fields) return undecodable('not a Spring Session hash')
    if (fields.size === 0) return undecodable('empty hash')
    const attribute: Attribute = name => {
      const bytes = fields.get(`${ATTRIBUTE}${name}`)
      return bytes === undefined ? undefined : java(bytes)
    }

    const data: Record<string, unknown> = Object.create(null)
    if (all) {
      for (const [field, bytes] of fields) {
        if (!field.startsWith(ATTRIBUTE)) continue
        const parsed = java(bytes)
        data[field.slice(ATTRIBUTE.length)] = parsed.ok ? parsed.value : {__unreadable__: parsed.reason}
      }
    }

    let userId: null | string
    if (byPath) {
      const [first] = options.userPath
      const root = attribute(first)
      if (root !== undefined && !root.ok) return root.ownerUnknown ? root : ownerUnknown(`${first}: ${root.reason}`)
      userId = root === undefined ? null : userIdText(readPath({[first]: root.value}, options.userPath) ?? null)
    } else {
      const resolved = principal(attribute)
      if (typeof resolved !== 'string' && resolved !== null) return resolved
      userId = resolved
    }

    const expiry = expiresAt(fields)
    if (expiry !== undefined && !(expiry instanceof Date)) return expiry
    return {
      data, ok: true, signature: 'unchecked', userId, variant: fields.has('maxInactiveInterval') ? 'hash' : 'hash (no maxInactiveInterval)',
      ...(expiry ? {expiresAt: expiry} : {}),
    }
  }

  function java(bytes: Buffer): Parsed | Undecodable {
    if (!isJavaSerialized(bytes)) return undecodable('not Java serialization')
    try {
      return {ok: true, value: parseJavaSerialized(bytes, {maxBytes: maxPayload})}
    } catch (error) {
      // Over a limit: Spring reads it, so it may be anyone's; malformed: Spring cannot read it either.
      if (error instanceof JavaSerializationError && error.limit) return ownerUnknown('Java value over a limit')
      return undecodable('bad Java serialization')
    }
  }

  return {
    decode: value => read(value, true),
    decodeFor: value => read(value, false),
    name: options.name,
  }
}

interface Parsed {
  ok: true
  value: unknown
}

type Attribute = (name: string) => Parsed | Undecodable | undefined

/** PrincipalNameIndexResolver: the index attribute, else `authentication.getName()` of the security context. */
function principal(attribute: Attribute): null | string | Undecodable {
  const named = attribute(PRINCIPAL_NAME_INDEX_NAME)
  if (named !== undefined) {
    if (!named.ok) return named.ownerUnknown ? named : ownerUnknown(`principal attribute: ${named.reason}`)
    if (named.value === null) return null
    const text = userIdText(named.value)
    return text ?? ownerUnknown('principal attribute not a String')
  }

  const context = attribute(SPRING_SECURITY_CONTEXT)
  if (context === undefined) return null
  if (!context.ok) return context.ownerUnknown ? context : ownerUnknown(`security context: ${context.reason}`)
  const authentication = readPath(context.value, ['authentication'])
  if (authentication === null || authentication === undefined) return null
  const who = readPath(authentication, ['principal'])
  if (typeof who === 'string') return who
  const username = readPath(who, ['username'])
  if (typeof username === 'string') return username
  const kind = readPath(who, ['__class__'])
  return ownerUnknown(`principal of class ${typeof kind === 'string' ? kind : typeof who}: give --user-path`)
}

/** lastAccessedTime + maxInactiveInterval (none when negative or absent); a field of another type is undecodable. */
function expiresAt(fields: Map<string, Buffer>): Date | Undecodable | undefined {
  const number = (name: string): false | number | undefined => {
    const bytes = fields.get(name)
    if (bytes === undefined) return undefined
    try {
      const value = parseJavaSerialized(bytes, {maxBytes: 4096})
      if (typeof value === 'number') return value
      if (typeof value === 'bigint') return Number(value)
    } catch {}

    return false
  }

  const last = number('lastAccessedTime')
  const interval = number('maxInactiveInterval')
  if (last === false) return undecodable('bad lastAccessedTime')
  if (interval === false) return undecodable('bad maxInactiveInterval')
  if (last === undefined || interval === undefined || interval < 0) return undefined
  const at = new Date(last + (interval * 1000))
  return Number.isFinite(at.getTime()) ? at : undefined
}
