import {ownerUnknown} from './codec.js'
import {isPickle, parsePickle, PickleError} from './pickle.js'

/**
 * Python session dicts as bytes: a pickle, or JSON as Python's json.dumps writes it (bare NaN
 * and ±Infinity included). Shared by every reader of Python frameworks' payloads.
 */
export type DataResult = {data: Record<string, unknown>; ok: true} | {ok: false; ownerUnknown?: true; reason: string}

/** JSON (Django's default serializer, json.dumps) or a pickle, sniffed from the first byte. */
export function parsePayload(bytes: Buffer): DataResult {
  if (isPickle(bytes)) {
    let value: unknown
    try {
      value = parsePickle(bytes)
    } catch (error) {
      // A pickle Python reads and this reader refuses may be anyone's session.
      return error instanceof PickleError && error.limit ? ownerUnknown('pickle beyond limits') : {ok: false, reason: 'bad pickle'}
    }

    return isDict(value) ? {data: value, ok: true} : {ok: false, reason: 'not a session dict'}
  }

  let value: unknown
  // json.dumps writes pure ASCII (\u escapes) by default; latin1 avoids a UTF-8 validation pass.
  const text = bytes.toString('latin1')
  try {
    value = JSON.parse(text)
  } catch {
    // Python's json.dumps writes NaN and ±Infinity for such floats and json.loads reads them
    // back: a session holding one is still the user's, so read it as Python does.
    const python = /NaN|Infinity/.test(text) ? withoutNonFinite(text) : undefined
    try {
      if (python === undefined) throw new SyntaxError('not JSON')
      value = JSON.parse(python)
    } catch {
      return {ok: false, reason: 'not JSON'}
    }
  }

  return isDict(value) ? {data: value, ok: true} : {ok: false, reason: 'not a session dict'}
}

/**
 * `text` with the bare NaN, Infinity and -Infinity of Python's JSON (outside strings) written
 * as null: JSON.parse then reads what json.loads reads, but for those floats, which are no user id
 * (userIdText refuses non-finite numbers). Undefined when there is none outside a string.
 */
const NON_FINITE = ['NaN', '-Infinity', 'Infinity']

export function withoutNonFinite(text: string): string | undefined {
  let out = ''
  let from = 0
  let inString = false
  let found = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5C) i++
      else if (c === 0x22) inString = false
      continue
    }

    if (c === 0x22) {
      inString = true
      continue
    }

    const token = NON_FINITE.find(t => text.startsWith(t, i))
    if (token) {
      out += `${text.slice(from, i)}null`
      i += token.length - 1
      from = i + 1
      found = true
    }
  }

  return found ? out + text.slice(from) : undefined
}

export function isDict(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array)
}

