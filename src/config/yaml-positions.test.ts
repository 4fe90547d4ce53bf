import { describe, expect, it } from 'vitest'
import { LineCounter, parseDocument } from 'yaml'
import { locatePath, visitStringScalars } from './yaml-positions.js'

const text = [
  'federation:', // 1
  '  nodes:', // 2
  '    - name: home', // 3
  '      souls: [a, b]', // 4
  '    - &second', // 5
  '      name: vps', // 6
  'other: *second', // 7
  'flag: yes', // 8
].join('\n')

function parse() {
  const lineCounter = new LineCounter()
  const document = parseDocument(text, { lineCounter })
  return { lineCounter, document }
}

describe('locatePath', () => {
  it('finds keys at their key line and items at their first line', () => {
    const { document, lineCounter } = parse()
    expect(locatePath(document, lineCounter, ['federation'])).toEqual({ line: 1, found: true })
    expect(locatePath(document, lineCounter, ['federation', 'nodes', 0])).toEqual({ line: 3, found: true })
    expect(locatePath(document, lineCounter, ['federation', 'nodes', 0, 'souls', 1])).toEqual({
      line: 4,
      found: true,
    })
    expect(locatePath(document, lineCounter, ['federation', 'nodes', 1, 'name'])).toEqual({
      line: 6,
      found: true,
    })
  })

  it('gives the deepest existing parent for a missing path', () => {
    const { document, lineCounter } = parse()
    expect(locatePath(document, lineCounter, ['federation', 'nodes', 0, 'trust'])).toEqual({
      line: 3,
      found: false,
    })
    expect(locatePath(document, lineCounter, ['federation', 'nodes', 5])).toEqual({ line: 2, found: false })
    expect(locatePath(document, lineCounter, ['nope'])).toEqual({ line: 1, found: false })
  })

  it('follows aliases to their anchor', () => {
    const { document, lineCounter } = parse()
    expect(locatePath(document, lineCounter, ['other', 'name'])).toEqual({ line: 6, found: true })
  })

  it('puts an empty document at line 1', () => {
    const lineCounter = new LineCounter()
    const document = parseDocument('', { lineCounter })
    expect(locatePath(document, lineCounter, [])).toEqual({ line: 1, found: true })
  })
})

describe('visitStringScalars', () => {
  it('visits string values in order with path, line and style', () => {
    const { document, lineCounter } = parse()
    const seen: unknown[] = []
    visitStringScalars(document, lineCounter, (scalar) => {
      seen.push([scalar.path.join('/'), scalar.line, scalar.value, scalar.plain])
    })
    expect(seen).toEqual([
      ['federation/nodes/0/name', 3, 'home', true],
      ['federation/nodes/0/souls/0', 4, 'a', true],
      ['federation/nodes/0/souls/1', 4, 'b', true],
      ['federation/nodes/1/name', 6, 'vps', true],
      ['flag', 8, 'yes', true],
    ])
  })

  it('lets the visitor replace a value', () => {
    const { document, lineCounter } = parse()
    visitStringScalars(document, lineCounter, (scalar) => {
      if (scalar.value === 'yes') scalar.set(true)
    })
    expect(document.toJS().flag).toBe(true)
  })
})
