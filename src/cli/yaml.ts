/**
 * `--output yaml`: the JSON document as YAML, for our plain data only (objects, arrays, strings,
 * finite numbers, booleans, null). A string is left plain only when no YAML 1.1 or 1.2 reader can
 * take it for anything else (a conservative pattern, and none of the words that read as booleans
 * or null); every other one is double-quoted with every control, invisible or line-breaking
 * character escaped, so the document reads back to exactly the JSON values and prints safely.
 */

/** Plain scalars: a letter first, then letters, digits and a few punctuation marks that mean nothing to YAML. */
const PLAIN = /^[A-Za-z][\w./-]*$/
/** Words YAML 1.1 readers (PyYAML, libyaml's users) resolve to booleans or null. */
const RESERVED = /^(?:y|yes|n|no|true|false|on|off|null|nan|inf)$/i
/** Characters a double-quoted scalar must escape beyond what JSON does: DEL, C1, line/paragraph separators, format characters, surrogates. */
const ESCAPE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu

export function toYaml(value: unknown): string {
  return lines(value, 0).join('\n')
}

function lines(value: unknown, indent: number): string[] {
  const pad = ' '.repeat(indent)
  if (Array.isArray(value)) {
    if (value.length === 0) return [`${pad}[]`]
    return value.flatMap(item => {
      if (isBlock(item)) {
        const inner = lines(item, indent + 2)
        return [`${pad}- ${inner[0].trimStart()}`, ...inner.slice(1)]
      }

      return [`${pad}- ${scalar(item)}`]
    })
  }

  if (isObject(value)) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined)
    if (entries.length === 0) return [`${pad}{}`]
    return entries.flatMap(([key, v]) => (isBlock(v) ? [`${pad}${scalar(key)}:`, ...lines(v, indent + 2)] : [`${pad}${scalar(key)}: ${scalar(v)}`]))
  }

  return [`${pad}${scalar(value)}`]
}

/** A non-empty array or object: written on its own lines. */
function isBlock(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0
  return isObject(value) && Object.values(value).some(v => v !== undefined)
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !(value instanceof Date)
}

function scalar(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (Array.isArray(value)) return '[]'
  if (isObject(value)) return '{}'
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (typeof value === 'number') return number(value)
  const text = value instanceof Date ? value.toISOString() : String(value)
  if (PLAIN.test(text) && !RESERVED.test(text)) return text
  return JSON.stringify(text).replaceAll(ESCAPE, escape)
}

function number(value: number): string {
  if (Number.isFinite(value)) return String(value)
  if (Number.isNaN(value)) return '.nan'
  return value > 0 ? '.inf' : '-.inf'
}

function escape(ch: string): string {
  const code = ch.codePointAt(0)!
  return code > 0xFF_FF ? `\\U${code.toString(16).padStart(8, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}
