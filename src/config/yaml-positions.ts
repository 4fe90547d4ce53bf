/**
 * Maps field paths of a parsed YAML document back to 1-based lines, so every
 * manifest problem can say where it is. Uses the node ranges the `yaml`
 * package keeps and a `LineCounter` filled while parsing.
 */
import { type Document, isAlias, isMap, isPair, isScalar, isSeq, type LineCounter, type Node } from 'yaml'

/** Where a path points in a document. */
export interface PathLocation {
  /** 1-based line of the deepest part of the path that exists. */
  readonly line: number | undefined
  /** Did the whole path exist? False for a missing key: then `line` is its parent's. */
  readonly found: boolean
}

/** A string scalar and where it sits. */
export interface StringScalarVisit {
  readonly path: readonly (string | number)[]
  readonly line: number | undefined
  /** The scalar's type: plain (unquoted) scalars may resolve to numbers or booleans. */
  readonly plain: boolean
  readonly value: string
  /** Replaces the scalar's value in the document. */
  set(value: unknown): void
}

/**
 * Finds the line of `path`. A map entry is located at its key (where the
 * field's name is written); a sequence item at its first character.
 */
export function locatePath(
  document: Document,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
): PathLocation {
  let node: unknown = document.contents
  let line = lineOf(lineCounter, node) ?? (document.contents === null ? 1 : undefined)
  for (const segment of path) {
    node = resolveAlias(document, node)
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && keyText(item.key) === String(segment))
      if (pair === undefined) return { line, found: false }
      line = lineOf(lineCounter, pair.key) ?? line
      node = pair.value
    } else if (isSeq(node) && typeof segment === 'number') {
      const item: unknown = node.items[segment]
      if (item === undefined) return { line, found: false }
      line = lineOf(lineCounter, item) ?? line
      node = item
    } else {
      return { line, found: false }
    }
  }
  return { line, found: true }
}

/** Calls `visit` for every string scalar that is a value (map keys are left alone), in document order. */
export function visitStringScalars(
  document: Document,
  lineCounter: LineCounter,
  visit: (scalar: StringScalarVisit) => void,
): void {
  const walk = (node: unknown, path: (string | number)[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) walk(pair.value, [...path, keyText(pair.key)])
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        walk(item, [...path, index])
      })
    } else if (isScalar(node) && typeof node.value === 'string') {
      const scalar = node
      visit({
        path,
        line: lineOf(lineCounter, scalar),
        plain: scalar.type === 'PLAIN',
        value: scalar.value as string,
        set(value) {
          scalar.value = value
        },
      })
    }
    // Aliases are skipped: their anchor is visited where it is defined.
  }
  walk(document.contents, [])
}

function resolveAlias(document: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(document) : node
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key)
}

function lineOf(lineCounter: LineCounter, node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range
  return range === undefined || range === null ? undefined : lineCounter.linePos(range[0]).line
}
