/**
 * Seeded generators of hostile input for the fuzz test: a small PRNG, random
 * and mutated bytes, random JSON, field-by-field mutation of a valid object,
 * and hand-rolled protobuf for kad-dht messages (so malformed ones can be built).
 */

/** A seeded PRNG (mulberry32) with helpers; the same seed gives the same inputs. */
export class Rng {
  #state: number

  constructor(seed: number) {
    this.#state = seed >>> 0
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [0, below). */
  int(below: number): number {
    return Math.floor(this.next() * below)
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T
  }

  /** `length` random bytes. */
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length)
    for (let index = 0; index < length; index++) out[index] = this.int(256)
    return out
  }

  /** A string of `length` characters from a hostile alphabet (controls, quotes, surrogates, emoji). */
  text(length: number): string {
    const alphabet = ['a', 'Z', '0', '"', '\\', '\n', '\u0000', '\u202e', '\ud800', '💥', '/', '%', '{', '<']
    let out = ''
    for (let index = 0; index < length; index++) out += this.pick(alphabet)
    return out
  }
}

/** A derived seed per category, so each category's inputs do not depend on how the others interleave. */
export function seedFor(seed: number, category: string): number {
  let hash = seed >>> 0
  for (const char of category) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0
  return hash
}

/** A random JSON value of any shape, depth-bounded. */
export function randomJson(rng: Rng, depth = 3): unknown {
  const kind = rng.int(depth <= 0 ? 6 : 8)
  switch (kind) {
    case 0:
      return null
    case 1:
      return rng.chance(0.5)
    case 2:
      return rng.pick([0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 31, rng.int(1000)])
    case 3:
      return rng.text(rng.int(40))
    case 4:
      return ''
    case 5:
      return rng.pick(['chat', 'embed', 'user', 'high', 'low', 'end', 'parts'])
    case 6:
      return Array.from({ length: rng.int(5) }, () => randomJson(rng, depth - 1))
    default: {
      const out: Record<string, unknown> = {}
      for (let index = rng.int(5); index > 0; index--) {
        out[rng.pick(['type', 'id', 'v', 'request', '__proto__', 'constructor', rng.text(6)])] = randomJson(
          rng,
          depth - 1,
        )
      }
      return out
    }
  }
}

/** Every path (list of keys) to a value inside `value`. */
function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix]
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) out.push(...pathsOf(item, [...prefix, index]))
  } else if (value !== null && typeof value === 'object')
    for (const [key, item] of Object.entries(value)) out.push(...pathsOf(item, [...prefix, key]))
  return out
}

/** A copy of `value` with one field (picked at random, the root included) deleted, retyped or blown up. */
export function mutateField(rng: Rng, value: unknown): unknown {
  const copy = structuredClone(value)
  const paths = pathsOf(copy).filter((path) => path.length > 0)
  if (paths.length === 0) return randomJson(rng)
  const path = rng.pick(paths)
  let parent = copy as Record<string | number, unknown>
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>
  const last = path[path.length - 1] as string | number
  switch (rng.int(6)) {
    case 0:
      delete parent[last]
      break
    case 1:
      parent[last] = randomJson(rng)
      break
    case 2:
      parent[last] = rng.text(rng.chance(0.1) ? 20_000 : 300)
      break
    case 3:
      parent[last] = Array.from({ length: rng.chance(0.1) ? 5_000 : 20 }, () => parent[last])
      break
    case 4:
      parent[last] = rng.pick([-1, 1e21, 0.5, Number.MAX_SAFE_INTEGER * 4, 'NaN', true])
      break
    default:
      parent[rng.text(8)] = randomJson(rng)
  }
  return copy
}

/** A copy of `bytes` with a few bit flips, insertions, deletions, truncation or duplication. */
export function mutateBytes(rng: Rng, bytes: Uint8Array): Uint8Array {
  let out = Array.from(bytes)
  for (let round = 1 + rng.int(4); round > 0; round--) {
    const at = rng.int(Math.max(1, out.length))
    switch (rng.int(5)) {
      case 0:
        if (out.length > 0) out[at] = (out[at] ?? 0) ^ (1 << rng.int(8))
        break
      case 1:
        out.splice(at, 0, ...rng.bytes(1 + rng.int(8)))
        break
      case 2:
        out.splice(at, 1 + rng.int(8))
        break
      case 3:
        out = out.slice(0, at)
        break
      default:
        out.splice(at, 0, ...out.slice(at, at + 1 + rng.int(32)))
    }
  }
  return Uint8Array.from(out)
}

/** Unsigned LEB128 varint (also the protobuf varint). */
export function varint(value: number): Uint8Array {
  const out: number[] = []
  let rest = value
  do {
    let byte = rest % 128
    rest = Math.floor(rest / 128)
    if (rest > 0) byte |= 0x80
    out.push(byte)
  } while (rest > 0)
  return Uint8Array.from(out)
}

/** `bytes` behind a varint length prefix. */
export function lengthPrefixed(bytes: Uint8Array): Uint8Array {
  return concat([varint(bytes.byteLength), bytes])
}

/** Concatenates byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}

function field(number: number, bytes: Uint8Array): Uint8Array {
  return concat([varint((number << 3) | 2), varint(bytes.byteLength), bytes])
}

function varintField(number: number, value: number): Uint8Array {
  return concat([varint(number << 3), varint(value)])
}

/** kad-dht message types (dht.proto). */
export const KadType = {
  PUT_VALUE: 0,
  GET_VALUE: 1,
  ADD_PROVIDER: 2,
  GET_PROVIDERS: 3,
  FIND_NODE: 4,
  PING: 5,
}

/** A kad-dht `Message` protobuf (not length-prefixed). */
export function kadMessage(message: {
  type: number
  key?: Uint8Array
  record?: { key: Uint8Array; value: Uint8Array }
  providers?: { id: Uint8Array; addrs: Uint8Array[] }[]
}): Uint8Array {
  const parts = [varintField(1, message.type)]
  if (message.key !== undefined) parts.push(field(2, message.key))
  if (message.record !== undefined)
    parts.push(field(3, concat([field(1, message.record.key), field(2, message.record.value)])))
  for (const provider of message.providers ?? [])
    parts.push(field(9, concat([field(1, provider.id), ...provider.addrs.map((addr) => field(2, addr))])))
  return concat(parts)
}
