import { describe, expect, it } from 'vitest'
import { backendUrl, nodeApiAddress, soulOwner } from './resolve.js'
import { sanitizeNodeName, standaloneManifest } from './standalone-manifest.js'

describe('standaloneManifest', () => {
  it('is one high-trust loopback node with the local ollama backend and no souls', () => {
    const manifest = standaloneManifest('laptop.local')
    expect(manifest).toEqual({
      federation: {
        nodes: [
          {
            name: 'laptop.local',
            address: '127.0.0.1:0',
            trust: 'high',
            souls: [],
            backends: [{ name: 'ollama', type: 'ollama' }],
          },
        ],
      },
    })
    const node = manifest.federation.nodes[0]!
    expect(nodeApiAddress(node)).toBe('127.0.0.1:8081')
    expect(backendUrl(node.backends[0]!)).toBe('http://127.0.0.1:11434')
    expect(soulOwner(manifest, 'anything')).toBeUndefined()
  })
})

describe('sanitizeNodeName', () => {
  it('keeps only name characters', () => {
    expect(sanitizeNodeName('My Mac (2)')).toBe('My-Mac-2-')
    expect(sanitizeNodeName('__host')).toBe('host')
    expect(sanitizeNodeName('')).toBe('clawmesh')
    expect(sanitizeNodeName('!!!')).toBe('clawmesh')
    expect(sanitizeNodeName('x'.repeat(80))).toHaveLength(63)
  })
})
