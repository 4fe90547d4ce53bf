import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { checkManifest } from './check.js'
import { Manifest, type ManifestInput, type NodeConfig } from './schema.js'

const peerA = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'

function manifest(input: ManifestInput): Manifest {
  return Manifest.parse(input)
}

const home: z.input<typeof NodeConfig> = {
  name: 'home',
  address: 'home.example.com:8082',
  trust: 'high',
  souls: ['inbox'],
}
const vps: z.input<typeof NodeConfig> = {
  name: 'vps',
  address: 'vps.example.com:8082',
  trust: 'low',
  souls: ['weather'],
  api: '0.0.0.0:9000',
} as const

describe('checkManifest', () => {
  it('accepts a consistent manifest', () => {
    expect(
      checkManifest(
        manifest({
          federation: {
            control_plane: 'home',
            nodes: [
              { ...home, peer_id: peerA, backends: [{ name: 'local' }] },
              { ...vps, souls: ['weather'] },
            ],
          },
          souls: { inbox: { sensitivity: 'high', backend: 'local' } },
        }),
      ),
    ).toEqual([])
  })

  it('finds a soul listed twice on one node', () => {
    expect(checkManifest(manifest({ federation: { nodes: [{ ...home, souls: ['a', 'a'] }] } }))).toEqual([
      { path: ['federation', 'nodes', 0, 'souls', 1], message: 'soul a is listed twice on node home' },
    ])
  })

  it('finds an invalid api address', () => {
    expect(checkManifest(manifest({ federation: { nodes: [{ ...home, api: 'localhost' }] } }))).toEqual([
      {
        path: ['federation', 'nodes', 0, 'api'],
        message: 'invalid address "localhost": expected host:port or a multiaddr',
      },
    ])
  })

  it('accepts a control_plane given by name, address, api or host alone', () => {
    for (const controlPlane of [
      'vps',
      'vps.example.com:8082',
      '0.0.0.0:9000',
      'vps.example.com',
      'vps.example.com:1',
    ]) {
      expect(
        checkManifest(manifest({ federation: { control_plane: controlPlane, nodes: [home, vps] } })),
      ).toEqual([])
    }
  })

  it('flags an ambiguous control_plane', () => {
    const twin = { ...vps, name: 'twin', address: 'vps.example.com:8083', souls: [] }
    expect(
      checkManifest(manifest({ federation: { control_plane: 'vps.example.com:9999', nodes: [vps, twin] } })),
    ).toEqual([
      {
        path: ['federation', 'control_plane'],
        message: 'vps.example.com:9999 is ambiguous: it matches nodes vps, twin; name one node',
      },
    ])
  })

  it('checks health timings after defaults', () => {
    expect(
      checkManifest(manifest({ federation: { nodes: [home], health: { suspect_after_ms: 7000 } } })),
    ).toEqual([
      {
        path: ['federation', 'health', 'suspect_after_ms'],
        message: 'dead_after_ms (6000) must be longer than suspect_after_ms (7000)',
      },
    ])
    expect(
      checkManifest(manifest({ federation: { nodes: [home], health: { heartbeat_interval_ms: 2000 } } })),
    ).toEqual([])
  })
})
