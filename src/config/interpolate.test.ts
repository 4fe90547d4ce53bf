// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are manifest text with literal ${VAR}
import { describe, expect, it } from 'vitest'
import { interpolate, resolvePlainScalar } from './interpolate.js'

describe('interpolate', () => {
  const env = { A: 'alpha', B: '', PORT: '8080' }

  it('replaces every ${VAR}', () => {
    expect(interpolate('${A}-${PORT}/${B}x', env)).toEqual({
      ok: true,
      value: 'alpha-8080/x',
      substituted: true,
    })
  })

  it('leaves text without ${ alone', () => {
    expect(interpolate('plain $A $ {A}', env)).toEqual({
      ok: true,
      value: 'plain $A $ {A}',
      substituted: false,
    })
  })

  it('$${ writes a literal ${', () => {
    expect(interpolate('$${A} and ${A}', env)).toEqual({
      ok: true,
      value: '${A} and alpha',
      substituted: true,
    })
    expect(interpolate('$${A}', env)).toEqual({ ok: true, value: '${A}', substituted: false })
  })

  it('reports every unset variable and bad syntax', () => {
    expect(interpolate('${X}${A}${Y}', env)).toEqual({
      ok: false,
      problems: ['environment variable X is not set', 'environment variable Y is not set'],
    })
    expect(interpolate('${1X}', env)).toEqual({
      ok: false,
      problems: ['invalid environment variable name "1X" in ${1X}'],
    })
    expect(interpolate('x${A', env)).toEqual({
      ok: false,
      problems: ['unterminated ${ (write $${ for a literal ${)'],
    })
  })
})

describe('resolvePlainScalar', () => {
  it('resolves like the YAML 1.2 core schema', () => {
    expect(resolvePlainScalar('42')).toBe(42)
    expect(resolvePlainScalar('-1.5e3')).toBe(-1500)
    expect(resolvePlainScalar('0x1F')).toBe(31)
    expect(resolvePlainScalar('0o17')).toBe(15)
    expect(resolvePlainScalar('true')).toBe(true)
    expect(resolvePlainScalar('FALSE')).toBe(false)
    expect(resolvePlainScalar('~')).toBeNull()
    expect(resolvePlainScalar('.inf')).toBe(Number.POSITIVE_INFINITY)
    expect(resolvePlainScalar('home:8080')).toBe('home:8080')
    expect(resolvePlainScalar('')).toBe('')
    expect(resolvePlainScalar('a # not a comment')).toBe('a # not a comment')
  })
})
