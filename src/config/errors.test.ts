import { describe, expect, it } from 'vitest'
import { ClawmeshError } from '../errors.js'
import {
  formatFieldPath,
  formatManifestIssue,
  InvalidAddressError,
  ManifestError,
  UnknownBackendError,
  UnknownNodeError,
  UnknownSoulError,
} from './errors.js'

describe('formatManifestIssue', () => {
  it('formats file:line field: message', () => {
    expect(
      formatManifestIssue({
        file: 'clawmesh.yaml',
        line: 12,
        field: 'federation.nodes[1].trust',
        message: 'expected low, medium or high',
      }),
    ).toBe('clawmesh.yaml:12 federation.nodes[1].trust: expected low, medium or high')
  })

  it('omits what is unknown', () => {
    expect(formatManifestIssue({ file: 'a.yaml', line: 3, field: '', message: 'bad' })).toBe('a.yaml:3: bad')
    expect(formatManifestIssue({ file: 'a.yaml', line: undefined, field: '', message: 'bad' })).toBe(
      'a.yaml: bad',
    )
  })
})

describe('formatFieldPath', () => {
  it('joins keys with dots and indexes with brackets', () => {
    expect(formatFieldPath(['federation', 'nodes', 1, 'trust'])).toBe('federation.nodes[1].trust')
    expect(formatFieldPath(['souls', 'inbox-triage', 'backend'])).toBe('souls.inbox-triage.backend')
    expect(formatFieldPath([])).toBe('')
  })
})

describe('ManifestError', () => {
  it('is a ClawmeshError with name, code and the first issue on top', () => {
    const error = new ManifestError([
      { file: 'm.yaml', line: 2, field: 'a', message: 'first' },
      { file: 'm.yaml', line: 9, field: 'b.c', message: 'second' },
    ])
    expect(error).toBeInstanceOf(ClawmeshError)
    expect(error.name).toBe('ManifestError')
    expect(ManifestError.name).toBe('ManifestError')
    expect(error.code).toBe('MANIFEST_INVALID')
    expect(error.file).toBe('m.yaml')
    expect(error.line).toBe(2)
    expect(error.field).toBe('a')
    expect(error.issues).toHaveLength(2)
    expect(error.message).toBe('m.yaml:2 a: first\nm.yaml:9 b.c: second')
  })
})

describe('lookup errors', () => {
  it('carry names and codes', () => {
    const node = new UnknownNodeError('x', ['home', 'vps'])
    expect([node.name, node.code, node.node, node.message]).toEqual([
      'UnknownNodeError',
      'UNKNOWN_NODE',
      'x',
      'unknown node x (the manifest defines home, vps)',
    ])
    const soul = new UnknownSoulError('s')
    expect([soul.name, soul.code, soul.soul]).toEqual(['UnknownSoulError', 'UNKNOWN_SOUL', 's'])
    const backend = new UnknownBackendError('home', 'b')
    expect([backend.name, backend.code, backend.message]).toEqual([
      'UnknownBackendError',
      'UNKNOWN_BACKEND',
      'node home has no backend named b',
    ])
    const address = new InvalidAddressError('zz', 'why')
    expect([address.name, address.code, address.message]).toEqual([
      'InvalidAddressError',
      'INVALID_ADDRESS',
      'invalid address "zz": why',
    ])
  })
})
