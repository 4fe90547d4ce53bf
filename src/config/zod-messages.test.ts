import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { kindOf, manifestErrorMap } from './zod-messages.js'

function messages(schema: z.ZodType, value: unknown): string[] {
  const result = schema.safeParse(value, { error: manifestErrorMap })
  return result.success ? [] : result.error.issues.map((issue) => issue.message)
}

describe('manifestErrorMap', () => {
  it('describes built-in checks plainly', () => {
    expect(messages(z.number(), 'secret-value')).toEqual(['expected a number, got a string'])
    expect(messages(z.object({ a: z.string() }), {})).toEqual(['missing required field'])
    expect(messages(z.array(z.string()), {})).toEqual(['expected a list, got a mapping'])
    expect(messages(z.number().int(), 1.5)).toEqual(['expected an integer, got a number'])
    expect(messages(z.number().int().positive(), 0)).toEqual(['expected a positive number'])
    expect(messages(z.number().int().nonnegative(), -1)).toEqual(['expected a number >= 0'])
    expect(messages(z.string().min(1), '')).toEqual(['expected a non-empty string'])
    expect(messages(z.array(z.string()).min(2), ['a'])).toEqual(['expected at least 2 items'])
    expect(messages(z.url(), 'not a url')).toEqual(['expected a URL'])
    expect(messages(z.literal('x'), 'y')).toEqual(['expected x'])
  })

  it('never echoes the value', () => {
    expect(messages(z.number(), 'sk-live-123').join()).not.toContain('sk-live')
  })

  it('leaves messages set on the schema alone', () => {
    expect(messages(z.enum(['low', 'high'], { error: 'expected low or high' }), 'mid')).toEqual([
      'expected low or high',
    ])
  })
})

describe('kindOf', () => {
  it('names kinds', () => {
    expect([null, [], {}, 'x', 1, 1.5, true].map(kindOf)).toEqual([
      'null',
      'a list',
      'a mapping',
      'a string',
      'an integer',
      'a number',
      'a boolean',
    ])
  })
})
