/**
 * Plain-language messages for zod's built-in issues, passed per parse so a
 * message written on the schema (e.g. the trust enum's) still wins. Values
 * are described by kind, never echoed: an interpolated secret must not end
 * up in an error message.
 */
import type { z } from 'zod'

/** zod error map giving manifest-friendly messages for built-in checks. */
export const manifestErrorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'missing required field'
      return `expected ${expectedKind(issue.expected)}, got ${kindOf(issue.input)}`
    case 'too_small':
      return tooSmall(issue.origin, Number(issue.minimum), issue.inclusive ?? true)
    case 'too_big':
      return tooBig(issue.origin, Number(issue.maximum), issue.inclusive ?? true)
    case 'invalid_format':
      return issue.format === 'url' ? 'expected a URL' : `expected a valid ${issue.format}`
    case 'invalid_value':
      return `expected ${issue.values.map((value) => String(value)).join(', ')}`
    default:
      return undefined
  }
}

/** Describes a value by its kind (`a string`, `a list`...), never by its content. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  switch (typeof value) {
    case 'string':
      return 'a string'
    case 'number':
      return Number.isInteger(value) ? 'an integer' : 'a number'
    case 'boolean':
      return 'a boolean'
    case 'object':
      return 'a mapping'
    default:
      return typeof value
  }
}

function expectedKind(expected: string): string {
  switch (expected) {
    case 'object':
      return 'a mapping'
    case 'array':
      return 'a list'
    case 'int':
      return 'an integer'
    case 'boolean':
      return 'true or false'
    default:
      return `a ${expected}`
  }
}

function tooSmall(origin: string, minimum: number, inclusive: boolean): string {
  if (origin === 'string')
    return minimum === 1 ? 'expected a non-empty string' : `expected at least ${minimum} characters`
  if (origin === 'array') return `expected at least ${minimum} item${minimum === 1 ? '' : 's'}`
  if (origin === 'number' || origin === 'int') {
    return minimum === 0 && !inclusive
      ? 'expected a positive number'
      : `expected a number ${inclusive ? '>=' : '>'} ${minimum}`
  }
  return `too small: expected at least ${minimum}`
}

function tooBig(origin: string, maximum: number, inclusive: boolean): string {
  if (origin === 'string') return `expected at most ${maximum} characters`
  if (origin === 'array') return `expected at most ${maximum} items`
  return `expected a number ${inclusive ? '<=' : '<'} ${maximum}`
}
