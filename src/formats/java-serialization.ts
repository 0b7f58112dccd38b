/* eslint-disable no-bitwise -- a binary format reader: byte masks and shifts are the point */
import {Buffer} from 'node:buffer'

import {ReaderError} from './reader-error.js'

/**
 * Thrown for any stream that is malformed, unsupported or over a limit. Nothing else escapes
 * `parseJavaSerialized`.
 */
export class JavaSerializationError extends ReaderError {
  override name = 'JavaSerializationError'
}

/** Resource limits for `parseJavaSerialized`; every limit breach is a `JavaSerializationError`. */
export interface JavaSerializationLimits {
  /** Object handles (objects, strings, class descriptors...) the stream may assign (default 1 000 000). */
  maxHandles?: number
  /** Largest accepted input (default 64 MiB). */
  maxBytes?: number
  /** Deepest nesting of objects and class descriptors while reading, and of containers in the result (default 200). */
  maxDepth?: number
  /** Values read (array elements, fields, custom data), and nodes in the result counted as a tree (default 1 000 000). */
  maxItems?: number
}

/**
 * Inert stand-in for a Java object: `__class__` is the class name the stream gave (nothing is
 * loaded or resolved), then the serializable fields of the class and of its superclasses by name.
 * A field whose name a subclass's field already holds (or `__class__`, `__data__`,
 * `__interfaces__`) is kept as `<DeclaringClass>.<field>`. `__data__` holds what custom
 * writeObject/writeExternal methods wrote beyond the fields, in stream order: block data as
 * Uint8Array, objects as values. A dynamic proxy is `__class__: '<proxy>'` with its
 * `__interfaces__`. Synthetic names have no dot: `<proxy>`, `<cycle>`.
 */
export interface JavaObject {
  [field: string]: unknown
  __class__: string
  __data__?: unknown[]
  __interfaces__?: string[]
}

/**
 * Reads one Java Object Serialization Stream (magic `AC ED`, version `00 05`: what
 * `ObjectOutputStream.writeObject` writes, so Spring's SerializingConverter and
 * JdkSerializationRedisSerializer) into plain values, without loading, resolving or running
 * anything it names.
 *
 * null → null; String → string (modified UTF-8: `C0 80` is U+0000, surrogate pairs are kept as
 * the UTF-16 they are); Integer/Short/Byte/Float/Double → number, Long → number (bigint beyond
 * 2^53), Boolean → boolean, Character → one-char string; java.util.Date → ISO-8601 UTC text with
 * milliseconds (`Date#toISOString`; a Date beyond JavaScript's range stays a JavaObject);
 * java.util.UUID → canonical text; HashMap, LinkedHashMap, Hashtable, Properties, TreeMap,
 * ConcurrentHashMap, Map.of, Collections' empty/singleton maps → null-prototype object keyed by the
 * text of each key (strings as they are, numbers and bigints in decimal, booleans and null as
 * `true`/`false`/`null`, an enum by its name, another object as `<ClassName>`; the last of equal
 * texts wins); ArrayList, LinkedList, ArrayDeque, Vector, Arrays$ArrayList, HashSet,
 * LinkedHashSet, TreeSet, List.of/Set.of, Collections' empty/singleton lists and sets → array;
 * Collections' unmodifiable/synchronized wrappers → what they wrap; arrays → array (byte[] →
 * Uint8Array, char[] → array of one-char strings, long[] like Long); an enum constant →
 * `{__class__: EnumClass, name}`; a Class → `{__class__: 'java.lang.Class', name}`, a class
 * descriptor read as an object → `{__class__: 'java.io.ObjectStreamClass', name}`; any other
 * object → a {@link JavaObject}. A collection whose custom data does not have the shape its JDK
 * class writes stays a JavaObject.
 *
 * The result is acyclic and at most `maxDepth` deep: references shared through handles stay
 * shared, a reference back to an object still being read (an enclosing one) becomes
 * `{__class__: '<cycle>'}`, so callers may recurse over it. Like `ObjectInputStream.readObject`,
 * it reads the first object and ignores what follows it; a TC_RESET may precede it.
 * @throws JavaSerializationError for anything malformed, unsupported (protocol-1 externalizable
 * data, TC_EXCEPTION) or over a limit.
 */
export function parseJavaSerialized(input: Uint8Array, limits: JavaSerializationLimits = {}): unknown {
  if (!(input instanceof Uint8Array)) throw new JavaSerializationError('Java serialization input must be bytes')
  if (input.length > (limits.maxBytes ?? DEFAULT_MAX_BYTES)) {
    throw new JavaSerializationError('Java serialization stream larger than maxBytes', LIMIT)
  }

  try {
    return new Reader(input, limits).readStream()
  } catch (error) {
    if (error instanceof JavaSerializationError) throw error
    // RangeErrors from V8 (out of memory for a string, call stack) are this reader's limits.
    throw new JavaSerializationError(
      `malformed Java serialization stream: ${error instanceof Error ? error.message : String(error)}`,
      {cause: error, limit: error instanceof RangeError},
    )
  }
}

/** Cheap sniff, no parsing: the stream magic `AC ED` and version `00 05`. */
export function isJavaSerialized(input: Uint8Array): boolean {
  return input.length >= 4 && input[0] === 0xAC && input[1] === 0xED && input[2] === 0x00 && input[3] === 0x05
}

const LIMIT = {limit: true}
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024
const DEFAULT_MAX_DEPTH = 200
const DEFAULT_MAX_ITEMS = 1_000_000
const BASE_HANDLE = 0x7E_00_00

const TC_NULL = 0x70
const TC_REFERENCE = 0x71
const TC_CLASSDESC = 0x72
const TC_OBJECT = 0x73
const TC_STRING = 0x74
const TC_ARRAY = 0x75
const TC_CLASS = 0x76
const TC_BLOCKDATA = 0x77
const TC_ENDBLOCKDATA = 0x78
const TC_RESET = 0x79
const TC_BLOCKDATALONG = 0x7A
const TC_EXCEPTION = 0x7B
const TC_LONGSTRING = 0x7C
const TC_PROXYCLASSDESC = 0x7D
const TC_ENUM = 0x7E

const SC_WRITE_METHOD = 0x01
const SC_SERIALIZABLE = 0x02
const SC_EXTERNALIZABLE = 0x04
const SC_BLOCK_DATA = 0x08
const SC_ENUM = 0x10

// Field and array element type codes, with their size in bytes (0: an object).
const TYPE_SIZE: Record<string, number> = {
  '[': 0, B: 1, C: 2, D: 8, F: 4, I: 4, J: 8, L: 0, S: 2, Z: 1,
}

interface Field {
  name: string
  type: string
}

class ClassDesc {
  constructor(
    readonly name: string,
    readonly flags: number,
    readonly fields: Field[],
    readonly superDesc: ClassDesc | null,
    readonly interfaces?: string[],
  ) {}
}

/** Custom data written in block-data mode (merged across TC_BLOCKDATA segments). */
class Block {
  constructor(readonly bytes: Uint8Array) {}
}

/** What one class of an object's chain contributed: its field values and its custom data. */
interface Slot {
  data: undefined | unknown[]
  desc: ClassDesc
  values: unknown[]
}

type Dict = Record<string, unknown>

// The handle of an object still being read: a reference to it is a cycle.
const BUILDING = Symbol('building')

// Nested-class wrappers whose value is the collection or map they hold in one field.
const WRAPPER_FIELD: Record<string, string> = {
  'java.util.Collections$SynchronizedCollection': 'c',
  'java.util.Collections$SynchronizedList': 'c',
  'java.util.Collections$SynchronizedMap': 'm',
  'java.util.Collections$SynchronizedRandomAccessList': 'c',
  'java.util.Collections$SynchronizedSet': 'c',
  'java.util.Collections$SynchronizedSortedMap': 'm',
  'java.util.Collections$SynchronizedSortedSet': 'c',
  'java.util.Collections$UnmodifiableCollection': 'c',
  'java.util.Collections$UnmodifiableList': 'c',
  'java.util.Collections$UnmodifiableMap': 'm',
  'java.util.Collections$UnmodifiableNavigableMap': 'm',
  'java.util.Collections$UnmodifiableNavigableSet': 'c',
  'java.util.Collections$UnmodifiableRandomAccessList': 'c',
  'java.util.Collections$UnmodifiableSet': 'c',
  'java.util.Collections$UnmodifiableSortedMap': 'm',
  'java.util.Collections$UnmodifiableSortedSet': 'c',
}

// Boxed primitives: the type code of their one `value` field.
const BOXED: Record<string, string> = {
  'java.lang.Boolean': 'Z',
  'java.lang.Byte': 'B',
  'java.lang.Character': 'C',
  'java.lang.Double': 'D',
  'java.lang.Float': 'F',
  'java.lang.Integer': 'I',
  'java.lang.Long': 'J',
  'java.lang.Short': 'S',
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const MAX_DATE_MS = 8.64e15

class Reader {
  // Height and tree size of every container this reader built (leaves: 0 and 1).
  private readonly built = new Map<object, [number, number]>()
  private readonly bytes: Uint8Array
  private count = 0
  private depth = 0
  private readonly enums = new Set<object>()
  private handles: unknown[] = []
  private readonly maxDepth: number
  private readonly maxHandles: number
  private readonly maxItems: number
  private pos = 0
  private readonly view: DataView

  constructor(input: Uint8Array, limits: JavaSerializationLimits) {
    this.bytes = input
    this.view = new DataView(input.buffer, input.byteOffset, input.byteLength)
    this.maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH
    this.maxItems = limits.maxItems ?? DEFAULT_MAX_ITEMS
    this.maxHandles = limits.maxHandles ?? DEFAULT_MAX_ITEMS
  }

  readStream(): unknown {
    if (this.bytes.length < 4) throw new JavaSerializationError('Java serialization stream truncated (no header)')
    if (this.u16() !== 0xAC_ED) throw new JavaSerializationError('not a Java serialization stream (bad magic)')
    if (this.u16() !== 5) throw new JavaSerializationError('unsupported Java serialization stream version')
    return this.readObject()
  }

  // ---------------------------------------------------------------------------------------------
  // Grammar.

  private ancestorsExceeded(): never {
    throw new JavaSerializationError('Java serialization stream nested deeper than maxDepth', LIMIT)
  }

  private collSer(tag: number, items: unknown[]): unknown {
    switch (tag) {
    case 1:
    case 2:
    case 4: {
      return this.list(items)
    }

    case 3: {
      return items.length % 2 === 0 ? this.map(items) : undefined
    }

    default: {
      return undefined
    }
    }
  }

  private convert(desc: ClassDesc, slots: Slot[]): unknown {
    const known = this.convertKnown(desc, slots)
    return known === undefined ? this.inert(desc, slots) : known
  }

  private convertKnown(desc: ClassDesc, slots: Slot[]): unknown {
    const own = slots.at(-1)!
    const {name} = desc
    const boxed = BOXED[name]
    if (boxed !== undefined) {
      const [field] = own.desc.fields
      return own.values.length === 1 && field.name === 'value' && field.type === boxed ? own.values[0] : undefined
    }

    const wrapped = WRAPPER_FIELD[name]
    if (wrapped !== undefined) {
      const inner = fieldOf(slots, wrapped)
      return Array.isArray(inner) || isDict(inner) ? inner : undefined
    }

    switch (name) {
    case 'java.util.ArrayDeque':
    case 'java.util.ArrayList':
    case 'java.util.LinkedList': {
      // writeObject: defaultWriteObject, writeInt(size), then each element.
      const data = dataOf(slots, name)
      return data !== undefined && intsAt(data[0], 1)?.[0] === data.length - 1 ? this.list(data.slice(1)) : undefined
    }

    case 'java.util.Arrays$ArrayList': {
      const a = fieldOf(slots, 'a')
      return Array.isArray(a) ? a : undefined
    }

    case 'java.util.CollSer': {
      // List.of/Set.of/Map.of: field tag, then writeInt(length) and the elements (a map's keys and values interleaved).
      const data = dataOf(slots, name)
      const tag = fieldOf(slots, 'tag')
      const length = data === undefined ? undefined : intsAt(data[0], 1)?.[0]
      if (length === undefined || typeof tag !== 'number') return undefined
      return data!.length === 1 + length ? this.collSer(tag & 0xFF, data!.slice(1)) : undefined
    }

    case 'java.util.Collections$EmptyList':
    case 'java.util.Collections$EmptySet': {
      return this.list([])
    }

    case 'java.util.Collections$EmptyMap': {
      return this.map([])
    }

    case 'java.util.Collections$SingletonList':
    case 'java.util.Collections$SingletonSet': {
      const element = fieldOf(slots, 'element')
      return element === undefined ? undefined : this.list([element])
    }

    case 'java.util.Collections$SingletonMap': {
      const [k, v] = [fieldOf(slots, 'k'), fieldOf(slots, 'v')]
      return k === undefined || v === undefined ? undefined : this.map([k, v])
    }

    case 'java.util.concurrent.ConcurrentHashMap': {
      // writeObject: putFields (segments...), then key, value... and a null key and value.
      const data = dataOf(slots, name)
      if (data === undefined || data.length % 2 !== 0 || data.length < 2 || data.at(-1) !== null || data.at(-2) !== null) return undefined
      return data.some(v => v instanceof Block) ? undefined : this.map(data.slice(0, -2))
    }

    case 'java.util.Date': {
      // writeObject: writeLong(getTime()).
      const data = dataOf(slots, name)
      const block = data?.length === 1 ? data[0] : undefined
      if (!(block instanceof Block) || block.bytes.length !== 8) return undefined
      const ms = Number(new DataView(block.bytes.buffer, block.bytes.byteOffset, 8).getBigInt64(0))
      return Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : undefined
    }

    case 'java.util.HashMap':
    case 'java.util.Hashtable':
    case 'java.util.LinkedHashMap':
    case 'java.util.Properties': {
      // HashMap/Hashtable writeObject: defaultWriteObject, writeInt(capacity), writeInt(size), then key, value...
      const base = name === 'java.util.HashMap' || name === 'java.util.LinkedHashMap' ? 'java.util.HashMap' : 'java.util.Hashtable'
      const data = dataOf(slots, base)
      const size = data === undefined ? undefined : intsAt(data[0], 2)?.[1]
      return size !== undefined && data!.length === 1 + (2 * size) ? this.map(data!.slice(1)) : undefined
    }

    case 'java.util.HashSet':
    case 'java.util.LinkedHashSet': {
      // HashSet writeObject: defaultWriteObject, writeInt(capacity), writeFloat(loadFactor), writeInt(size), then each element.
      const data = dataOf(slots, 'java.util.HashSet')
      const size = data === undefined ? undefined : intsAt(data[0], 3)?.[2]
      return size !== undefined && data!.length === 1 + size ? this.list(data!.slice(1)) : undefined
    }

    case 'java.util.TreeMap': {
      // writeObject: defaultWriteObject (the comparator), writeInt(size), then key, value...
      const data = dataOf(slots, name)
      const size = data === undefined ? undefined : intsAt(data[0], 1)?.[0]
      return size !== undefined && data!.length === 1 + (2 * size) ? this.map(data!.slice(1)) : undefined
    }

    case 'java.util.TreeSet': {
      // writeObject: defaultWriteObject, writeObject(comparator), writeInt(size), then each element.
      const data = dataOf(slots, name)
      const size = data === undefined || data[0] instanceof Block ? undefined : intsAt(data[1], 1)?.[0]
      return size !== undefined && data!.length === 2 + size ? this.list(data!.slice(2)) : undefined
    }

    case 'java.util.UUID': {
      const most = fieldOf(slots, 'mostSigBits')
      const least = fieldOf(slots, 'leastSigBits')
      if (own.desc.fields.some(f => f.type !== 'J')) return undefined
      return uuidText(most, least)
    }

    case 'java.util.Vector':
    case 'java.util.Stack': {
      const elements = fieldOf(slots, 'elementData')
      const count = fieldOf(slots, 'elementCount')
      if (!Array.isArray(elements) || typeof count !== 'number' || count < 0 || count > elements.length) return undefined
      return this.list(elements.slice(0, count))
    }

    default: {
      return undefined
    }
    }
  }

  private copy(n: number): Uint8Array {
    // A plain copy (Buffer#slice would be a view): the caller may reuse its input.
    const start = this.take(n)
    const out = new Uint8Array(n)
    out.set(this.bytes.subarray(start, start + n))
    return out
  }

  /** A cycle marker: a leaf, a new object each time so that nothing is shared through it. */
  private cycle(): JavaObject {
    return {__class__: '<cycle>'}
  }

  private enter(): void {
    if (++this.depth > this.maxDepth) this.ancestorsExceeded()
  }

  private i16(): number {
    return this.view.getInt16(this.take(2))
  }

  private i32(): number {
    return this.view.getInt32(this.take(4))
  }

  private inert(desc: ClassDesc, slots: Slot[]): JavaObject {
    const out: JavaObject = {__class__: desc.name}
    if (desc.interfaces !== undefined) out.__interfaces__ = [...desc.interfaces]
    // The most derived class that declares a name holds it; any other gets `<Class>.<name>`.
    const owner = new Map<string, Slot>()
    // A class without SC_SERIALIZABLE has no field values in the stream (nor in ObjectInputStream's reading).
    const read = slots.filter(slot => slot.values.length === slot.desc.fields.length)
    for (const slot of read) for (const f of slot.desc.fields) if (!RESERVED.has(f.name)) owner.set(f.name, slot)
    let height = 0
    let items = 2 + (desc.interfaces?.length ?? 0)
    const data: unknown[] = []
    for (const slot of slots) {
      const fields = read.includes(slot) ? slot.desc.fields : []
      const prims = fields.filter(f => TYPE_SIZE[f.type] > 0)
      const objects = fields.filter(f => TYPE_SIZE[f.type] === 0)
      const ordered = [...prims, ...objects]
      for (const [i, f] of ordered.entries()) {
        const key = owner.get(f.name) === slot ? f.name : `${slot.desc.name}.${f.name}`
        const v = slot.values[i]
        const [h, s] = this.measure(v)
        height = Math.max(height, h)
        items += s
        defineField(out, key, v)
      }

      for (const v of slot.data ?? []) data.push(v instanceof Block ? v.bytes : v)
    }

    if (data.length > 0) {
      for (const v of data) {
        const [h, s] = this.measure(v)
        height = Math.max(height, h + 1)
        items += s
      }

      out.__data__ = data
      items++
    }

    return this.seal(out, height + 1, items) as JavaObject
  }

  private item(): void {
    if (++this.count > this.maxItems) {
      throw new JavaSerializationError('Java serialization stream has more than maxItems values', LIMIT)
    }
  }

  private keyText(key: unknown): string {
    if (typeof key === 'string') return key
    if (typeof key === 'number' || typeof key === 'bigint' || typeof key === 'boolean' || key === null) return String(key)
    if (this.enums.has(key as object)) return (key as JavaObject).name as string
    if (isJavaObject(key)) return `<${key.__class__}>`
    throw new JavaSerializationError('unsupported map key (an array, a map or bytes)', LIMIT)
  }

  private list(items: unknown[]): undefined | unknown[] {
    if (items.some(v => v instanceof Block)) return undefined
    let height = 0
    let size = 1
    for (const v of items) {
      const [h, s] = this.measure(v)
      height = Math.max(height, h)
      size += s
    }

    return this.seal(items, height + 1, size)
  }

  private longLength(): number {
    const n = this.view.getBigInt64(this.take(8))
    // ObjectInputStream reads a negative long length as an empty string.
    if (n < 0n) return 0
    if (n > BigInt(this.bytes.length - this.pos)) throw new JavaSerializationError('Java serialization stream truncated (long string)')
    return Number(n)
  }

  private map(pairs: unknown[]): Dict | undefined {
    if (pairs.some(v => v instanceof Block)) return undefined
    const dict: Dict = Object.create(null)
    let height = 0
    let size = 1
    for (let i = 0; i < pairs.length; i += 2) {
      const v = pairs[i + 1]
      dict[this.keyText(pairs[i])] = v
      const [h, s] = this.measure(v)
      height = Math.max(height, h)
      size += s
    }

    return this.seal(dict, height + 1, size)
  }

  private measure(v: unknown): [number, number] {
    if (typeof v !== 'object' || v === null) return [0, 1]
    return this.built.get(v) ?? [0, 1]
  }

  private newHandle(value: unknown): number {
    if (this.handles.length >= this.maxHandles) {
      throw new JavaSerializationError('Java serialization stream assigns more than maxHandles handles', LIMIT)
    }

    this.handles.push(value)
    return this.handles.length - 1
  }

  private newString(n: number): string {
    const value = this.utf(n)
    this.newHandle(value)
    return value
  }

  // ---------------------------------------------------------------------------------------------
  // From the classdata of an object to its value.

  private peek(): number {
    if (this.pos >= this.bytes.length) throw new JavaSerializationError('Java serialization stream truncated')
    return this.bytes[this.pos]
  }

  private readAnnotation(): unknown[] {
    // Custom data up to TC_ENDBLOCKDATA: block data (adjacent segments merged) and objects.
    const items: unknown[] = []
    let pending: Uint8Array[] = []
    const flush = (): void => {
      if (pending.length > 0) {
        items.push(new Block(pending.length === 1 ? pending[0] : Buffer.concat(pending)))
        pending = []
      }
    }

    for (;;) {
      const tc = this.peek()
      if (tc === TC_ENDBLOCKDATA) {
        this.pos++
        break
      }

      this.item()
      if (tc === TC_BLOCKDATA) {
        this.pos++
        const n = this.u8()
        pending.push(this.copy(n))
      } else if (tc === TC_BLOCKDATALONG) {
        this.pos++
        const n = this.i32()
        if (n < 0) throw new JavaSerializationError('negative block data length')
        pending.push(this.copy(n))
      } else {
        flush()
        items.push(this.readObject())
      }
    }

    flush()
    return items
  }

  private readArray(): unknown {
    const desc = this.readClassDesc()
    if (desc === null) throw new JavaSerializationError('array without a class descriptor')
    const {name} = desc
    const type = name.length >= 2 && name[0] === '[' ? name[1] : ''
    const size = TYPE_SIZE[type]
    if (size === undefined) throw new JavaSerializationError(`array class descriptor with a non-array name: ${name}`)
    const handle = this.newHandle(BUILDING)
    const n = this.i32()
    if (n < 0) throw new JavaSerializationError('negative array length')
    // Every element takes at least one byte: a huge declared length cannot be allocated for.
    if (n * Math.max(size, 1) > this.bytes.length - this.pos) throw new JavaSerializationError('Java serialization stream truncated (array)')
    if (this.count + n > this.maxItems) throw new JavaSerializationError('array longer than maxItems', LIMIT)
    let value: unknown
    if (type === 'B') {
      this.count += n
      value = this.copy(n)
    } else if (size > 0) {
      this.count += n
      const out: unknown[] = Array.from({length: n})
      for (let i = 0; i < n; i++) out[i] = this.readPrimitive(type)
      value = this.seal(out, 1, n + 1)
    } else {
      const out: unknown[] = []
      let height = 0
      let items = 1
      for (let i = 0; i < n; i++) {
        this.item()
        const v = this.readObject()
        const [h, s] = this.measure(v)
        height = Math.max(height, h)
        items += s
        out.push(v)
      }

      value = this.seal(out, height + 1, items)
    }

    this.handles[handle] = value
    return value
  }

  private readClassDesc(): ClassDesc | null {
    const tc = this.u8()
    switch (tc) {
    case TC_NULL: {
      return null
    }

    case TC_CLASSDESC: {
      return this.readNewClassDesc()
    }

    case TC_PROXYCLASSDESC: {
      return this.readProxyClassDesc()
    }

    case TC_REFERENCE: {
      const entry = this.readHandle()
      if (!(entry instanceof ClassDesc)) throw new JavaSerializationError('reference to a non-class where a class descriptor should be')
      return entry
    }

    default: {
      throw new JavaSerializationError(`invalid type code 0x${hex(tc)} where a class descriptor should be`)
    }
    }
  }

  private readContentObject(): JavaObject | unknown {
    const desc = this.readClassDesc()
    if (desc === null) throw new JavaSerializationError('object without a class descriptor')
    const handle = this.newHandle(BUILDING)
    const chain: ClassDesc[] = []
    for (let d: ClassDesc | null = desc; d !== null; d = d.superDesc) {
      if (chain.length >= this.maxDepth) this.ancestorsExceeded()
      chain.push(d)
    }

    chain.reverse()
    const slots: Slot[] = []
    if (desc.flags & SC_EXTERNALIZABLE) {
      // Protocol 2 (the default since JDK 1.2) wraps writeExternal's output in block data; protocol 1 has no
      // framing at all, and only the class's own readExternal knows where it ends.
      if (!(desc.flags & SC_BLOCK_DATA)) {
        throw new JavaSerializationError('externalizable data in the old protocol-1 form cannot be read without the class', LIMIT)
      }

      slots.push({data: this.readAnnotation(), desc, values: []})
    } else {
      for (const d of chain) {
        const values = d.flags & SC_SERIALIZABLE ? this.readFieldValues(d) : []
        const data = d.flags & SC_SERIALIZABLE && d.flags & SC_WRITE_METHOD ? this.readAnnotation() : undefined
        slots.push({data, desc: d, values})
      }
    }

    const value = this.convert(desc, slots)
    this.handles[handle] = value
    return value
  }

  private readEnum(): unknown {
    const desc = this.readClassDesc()
    if (desc === null) throw new JavaSerializationError('enum without a class descriptor')
    if (!(desc.flags & SC_ENUM)) throw new JavaSerializationError(`non-enum class in TC_ENUM: ${desc.name}`)
    const handle = this.newHandle(BUILDING)
    const name = this.readString()
    if (typeof name !== 'string') throw new JavaSerializationError('enum constant without a name')
    const value: JavaObject = {__class__: desc.name, name}
    this.enums.add(value)
    this.seal(value, 1, 3)
    this.handles[handle] = value
    return value
  }

  private readFieldValues(desc: ClassDesc): unknown[] {
    // ObjectOutputStream writes all primitive values first, then the objects, in descriptor order.
    const values: unknown[] = []
    for (const f of desc.fields) {
      if (TYPE_SIZE[f.type] > 0) {
        this.item()
        values.push(this.readPrimitive(f.type))
      }
    }

    for (const f of desc.fields) {
      if (TYPE_SIZE[f.type] === 0) {
        this.item()
        values.push(this.readObject())
      }
    }

    return values
  }

  // ---------------------------------------------------------------------------------------------
  // Result bounds and bytes.

  private readHandle(): unknown {
    const index = this.i32() - BASE_HANDLE
    if (index < 0 || index >= this.handles.length) throw new JavaSerializationError('invalid handle in TC_REFERENCE')
    return this.handles[index]
  }

  private readNewClassDesc(): ClassDesc {
    this.enter()
    const name = this.utf(this.u16())
    // serialVersionUID: only the JDK's check against a local class needs it, and the enum rule below.
    const suid = this.view.getBigInt64(this.take(8))
    const handle = this.newHandle(BUILDING)
    const flags = this.u8()
    if (flags & SC_EXTERNALIZABLE && flags & SC_SERIALIZABLE) {
      throw new JavaSerializationError(`serializable and externalizable flags conflict: ${name}`)
    }

    const isEnum = (flags & SC_ENUM) !== 0
    if (isEnum && suid !== 0n) throw new JavaSerializationError(`enum descriptor has a non-zero serialVersionUID: ${name}`)
    // A negative count reads no fields, as in ObjectStreamClass.readNonProxy.
    const n = this.i16()
    if (isEnum && n > 0) throw new JavaSerializationError(`enum descriptor has fields: ${name}`)
    const fields: Field[] = []
    let objects = false
    for (let i = 0; i < n; i++) {
      this.item()
      const code = this.u8()
      const type = String.fromCharCode(code)
      if (TYPE_SIZE[type] === undefined) throw new JavaSerializationError(`invalid field type code 0x${hex(code)} in ${name}`)
      const fieldName = this.utf(this.u16())
      if (TYPE_SIZE[type] === 0) {
        const typeName = this.readString()
        if (typeof typeName !== 'string') throw new JavaSerializationError(`field ${fieldName} of ${name} has no type name`)
        objects = true
      } else if (objects) {
        throw new JavaSerializationError(`illegal field order in ${name}`)
      }

      fields.push({name: fieldName, type})
    }

    // The descriptor is registered before its annotation and superclass, which may refer to it; its
    // superclass is only known after them, so the handle holds a stand-in until then.
    const placeholder = new ClassDesc(name, flags, fields, null)
    this.handles[handle] = placeholder
    this.readAnnotation()
    const superDesc = this.readClassDesc()
    const desc = new ClassDesc(name, flags, fields, superDesc)
    this.handles[handle] = desc
    this.depth--
    return desc
  }

  /** One `object` of the grammar: what readObject returns at this point of the stream. */
  private readObject(): unknown {
    this.enter()
    let tc = this.u8()
    while (tc === TC_RESET) {
      // ObjectInputStream refuses a reset inside an object ("unexpected reset").
      if (this.depth > 1) throw new JavaSerializationError('unexpected TC_RESET inside an object')
      this.handles = []
      tc = this.u8()
    }

    let value: unknown
    switch (tc) {
    case TC_NULL: {
      value = null
      break
    }

    case TC_REFERENCE: {
      const entry = this.readHandle()
      if (entry === BUILDING) value = this.cycle()
      else if (entry instanceof ClassDesc) value = this.streamClass(entry)
      else value = entry
      break
    }

    case TC_STRING: {
      value = this.newString(this.u16())
      break
    }

    case TC_LONGSTRING: {
      value = this.newString(this.longLength())
      break
    }

    case TC_OBJECT: {
      value = this.readContentObject()
      break
    }

    case TC_ARRAY: {
      value = this.readArray()
      break
    }

    case TC_ENUM: {
      value = this.readEnum()
      break
    }

    case TC_CLASS: {
      const desc = this.readClassDesc()
      if (desc === null) throw new JavaSerializationError('TC_CLASS without a class descriptor')
      value = this.seal({__class__: 'java.lang.Class', name: className(desc)}, 1, 3)
      this.newHandle(value)
      break
    }

    case TC_CLASSDESC:
    case TC_PROXYCLASSDESC: {
      this.pos--
      value = this.streamClass(this.readClassDesc()!)
      break
    }

    case TC_EXCEPTION: {
      // The writer failed mid-stream; ObjectInputStream throws WriteAbortedException.
      throw new JavaSerializationError('Java serialization stream aborted by the writer (TC_EXCEPTION)')
    }

    case TC_BLOCKDATA:
    case TC_BLOCKDATALONG:
    case TC_ENDBLOCKDATA: {
      throw new JavaSerializationError('block data where an object should be')
    }

    default: {
      throw new JavaSerializationError(`invalid type code 0x${hex(tc)}`)
    }
    }

    this.depth--
    return value
  }

  private readPrimitive(type: string): unknown {
    switch (type) {
    case 'B': {
      return this.view.getInt8(this.take(1))
    }

    case 'C': {
      return String.fromCharCode(this.u16())
    }

    case 'D': {
      return this.view.getFloat64(this.take(8))
    }

    case 'F': {
      return this.view.getFloat32(this.take(4))
    }

    case 'I': {
      return this.i32()
    }

    case 'J': {
      return toInt(this.view.getBigInt64(this.take(8)))
    }

    case 'S': {
      return this.i16()
    }

    default: { // 'Z'
      return this.u8() !== 0
    }
    }
  }

  private readProxyClassDesc(): ClassDesc {
    this.enter()
    const handle = this.newHandle(BUILDING)
    const n = this.i32()
    // ObjectInputStream's own limit on proxy interfaces.
    if (n < 0 || n > 65_535) throw new JavaSerializationError('invalid proxy interface count')
    const interfaces: string[] = []
    for (let i = 0; i < n; i++) {
      this.item()
      interfaces.push(this.utf(this.u16()))
    }

    this.handles[handle] = new ClassDesc('<proxy>', SC_SERIALIZABLE, [], null, interfaces)
    this.readAnnotation()
    const desc = new ClassDesc('<proxy>', SC_SERIALIZABLE, [], this.readClassDesc(), interfaces)
    this.handles[handle] = desc
    this.depth--
    return desc
  }

  /** A String where the grammar wants one (field type names, enum constant names). */
  private readString(): unknown {
    const tc = this.u8()
    switch (tc) {
    case TC_NULL: {
      return null
    }

    case TC_STRING: {
      return this.newString(this.u16())
    }

    case TC_LONGSTRING: {
      return this.newString(this.longLength())
    }

    case TC_REFERENCE: {
      const entry = this.readHandle()
      if (typeof entry !== 'string') throw new JavaSerializationError('reference to a non-string where a string should be')
      return entry
    }

    default: {
      throw new JavaSerializationError(`invalid type code 0x${hex(tc)} where a string should be`)
    }
    }
  }

  private seal<T extends object>(value: T, height: number, items: number): T {
    if (height > this.maxDepth) this.ancestorsExceeded()
    if (items > this.maxItems) throw new JavaSerializationError('Java serialization stream expands to more than maxItems values', LIMIT)
    this.built.set(value, [height, items])
    return value
  }

  private streamClass(desc: ClassDesc): JavaObject {
    return this.seal({__class__: 'java.io.ObjectStreamClass', name: className(desc)}, 1, 3) as JavaObject
  }

  private take(n: number): number {
    if (n > this.bytes.length - this.pos) throw new JavaSerializationError('Java serialization stream truncated')
    const start = this.pos
    this.pos += n
    return start
  }

  private u16(): number {
    return this.view.getUint16(this.take(2))
  }

  private u8(): number {
    return this.bytes[this.take(1)]
  }

  /** Modified UTF-8 of `n` bytes (DataInput.readUTF): 1-3 byte forms only, each UTF-16 unit on its own. */
  private utf(n: number): string {
    const start = this.take(n)
    const end = start + n
    const {bytes} = this
    let ascii = true
    for (let i = start; i < end; i++) {
      if (bytes[i] >= 0x80) {
        ascii = false
        break
      }
    }

    if (ascii) return Buffer.from(bytes.buffer, bytes.byteOffset + start, n).toString('latin1')
    const units = Buffer.allocUnsafe(2 * n)
    let u = 0
    let i = start
    while (i < end) {
      const c = bytes[i]
      let unit: number
      if (c < 0x80) {
        unit = c
        i++
      } else if ((c & 0xE0) === 0xC0) {
        if (i + 1 >= end || (bytes[i + 1] & 0xC0) !== 0x80) throw new JavaSerializationError('malformed modified UTF-8')
        unit = ((c & 0x1F) << 6) | (bytes[i + 1] & 0x3F)
        i += 2
      } else if ((c & 0xF0) === 0xE0) {
        if (i + 2 >= end || (bytes[i + 1] & 0xC0) !== 0x80 || (bytes[i + 2] & 0xC0) !== 0x80) {
          throw new JavaSerializationError('malformed modified UTF-8')
        }

        unit = ((c & 0x0F) << 12) | ((bytes[i + 1] & 0x3F) << 6) | (bytes[i + 2] & 0x3F)
        i += 3
      } else {
        throw new JavaSerializationError('malformed modified UTF-8')
      }

      units[u++] = unit & 0xFF
      units[u++] = unit >>> 8
    }

    return units.toString('utf16le', 0, u)
  }
}

const RESERVED = new Set(['__class__', '__data__', '__interfaces__'])

function defineField(out: JavaObject, key: string, value: unknown): void {
  // An own data property even for `__proto__`: assignment would set the object's prototype.
  Object.defineProperty(out, key, {
    configurable: true, enumerable: true, value, writable: true,
  })
}

/** The value of the field `name` in the most derived class of the chain that declares it. */
function fieldOf(slots: Slot[], name: string): unknown {
  for (let s = slots.length - 1; s >= 0; s--) {
    const {fields} = slots[s].desc
    if (slots[s].values.length !== fields.length) continue
    const ordered = [...fields.filter(f => TYPE_SIZE[f.type] > 0), ...fields.filter(f => TYPE_SIZE[f.type] === 0)]
    const i = ordered.findIndex(f => f.name === name)
    if (i !== -1) return slots[s].values[i]
  }

  return undefined
}

/** The custom data that class `name` of the chain wrote, if it wrote any (with SC_WRITE_METHOD). */
function dataOf(slots: Slot[], name: string): undefined | unknown[] {
  return slots.find(s => s.desc.name === name)?.data
}

/** The first `n` big-endian ints of a block written by writeInt/writeFloat, if it is exactly that long. */
function intsAt(block: unknown, n: number): number[] | undefined {
  if (!(block instanceof Block) || block.bytes.length !== 4 * n) return undefined
  const view = new DataView(block.bytes.buffer, block.bytes.byteOffset, block.bytes.byteLength)
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push(view.getInt32(4 * i))
  return out[n - 1] < 0 ? undefined : out
}

function className(desc: ClassDesc): string {
  return desc.interfaces === undefined ? desc.name : `<proxy ${desc.interfaces.join(',')}>`
}

function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === null
}

function isJavaObject(value: unknown): value is JavaObject {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype
}

function toInt(value: bigint): bigint | number {
  return value >= -MAX_SAFE && value <= MAX_SAFE ? Number(value) : value
}

function uuidText(most: unknown, least: unknown): string | undefined {
  if ((typeof most !== 'number' && typeof most !== 'bigint') || (typeof least !== 'number' && typeof least !== 'bigint')) return undefined
  const hex64 = (v: bigint | number): string => BigInt.asUintN(64, BigInt(v)).toString(16).padStart(16, '0')
  const h = hex64(most) + hex64(least)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0')
}

/**
 * What `ObjectOutputStream.writeObject(text)` writes for a String, alone in its stream: the header,
 * TC_STRING with a 2-byte length (TC_LONGSTRING with 8 beyond 65 535 bytes) and modified UTF-8
 * (U+0000 as C0 80, each UTF-16 unit of a surrogate pair as 3 bytes). How Spring Session's Redis
 * index sets name their members (`"alice"` = `aced0005740005616c696365`).
 */
export function writeJavaString(text: string): Buffer {
  const body: number[] = []
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 0x01 && c <= 0x7F) body.push(c)
    else if (c <= 0x7_FF) body.push(0xC0 | (c >> 6), 0x80 | (c & 0x3F))
    else body.push(0xE0 | (c >> 12), 0x80 | ((c >> 6) & 0x3F), 0x80 | (c & 0x3F))
  }

  const long = body.length > 0xFF_FF
  const head = Buffer.alloc(long ? 13 : 7)
  head.writeUInt32BE(0xAC_ED_00_05, 0)
  if (long) {
    head[4] = TC_LONGSTRING
    head.writeBigUInt64BE(BigInt(body.length), 5)
  } else {
    head[4] = TC_STRING
    head.writeUInt16BE(body.length, 5)
  }

  return Buffer.concat([head, Buffer.from(body)])
}
