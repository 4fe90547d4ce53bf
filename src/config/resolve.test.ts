import { describe, expect, it } from 'vitest'
import { UnknownBackendError, UnknownNodeError, UnknownSoulError } from './errors.js'
import {
  addressToMultiaddr,
  backendMinTrust,
  backendTimeoutMs,
  backendUrl,
  controlPlaneNodeName,
  electionSettings,
  findNode,
  healthSettings,
  limitSettings,
  nodeApiAddress,
  routingSettings,
  soulOwner,
  soulSensitivity,
} from './resolve.js'
import { Manifest } from './schema.js'

const manifest = Manifest.parse({
  federation: {
    control_plane: 'home.example.com:8081',
    nodes: [
      {
        name: 'home',
        address: 'home.example.com:8082',
        trust: 'high',
        souls: ['inbox', 'finance'],
        backends: [{ name: 'local' }, { name: 'shared', min_trust: 'low', timeout_ms: 10 }],
      },
      {
        name: 'vps',
        address: '/dns4/vps.example.com/tcp/8082',
        trust: 'low',
        souls: ['weather'],
        api: '10.0.0.2:9000',
        backends: [{ name: 'cloud', type: 'openai-compatible', url: 'https://api.example.com/v1' }],
      },
    ],
  },
  souls: { finance: { sensitivity: 'medium' } },
})

describe('findNode and soulOwner', () => {
  it('find by name', () => {
    expect(findNode(manifest, 'vps').trust).toBe('low')
    expect(soulOwner(manifest, 'weather')?.name).toBe('vps')
    expect(soulOwner(manifest, 'nobody')).toBeUndefined()
  })

  it('throw UnknownNodeError for a missing node', () => {
    expect(() => findNode(manifest, 'ghost')).toThrow(UnknownNodeError)
    expect(() => findNode(manifest, 'ghost')).toThrow('unknown node ghost (the manifest defines home, vps)')
  })
})

describe('trust defaults', () => {
  it("a soul's sensitivity defaults to its node's trust", () => {
    expect(soulSensitivity(manifest, 'inbox')).toBe('high')
    expect(soulSensitivity(manifest, 'finance')).toBe('medium')
    expect(soulSensitivity(manifest, 'weather')).toBe('low')
    expect(() => soulSensitivity(manifest, 'ghost')).toThrow(UnknownSoulError)
  })

  it("a backend's min_trust defaults to its node's trust", () => {
    const home = findNode(manifest, 'home')
    expect(backendMinTrust(home, 'local')).toBe('high')
    expect(backendMinTrust(home, 'shared')).toBe('low')
    expect(backendMinTrust(home, home.backends[0]!)).toBe('high')
    expect(() => backendMinTrust(home, 'nope')).toThrow(UnknownBackendError)
  })
})

describe('backend defaults', () => {
  it('url and timeout', () => {
    const [local, shared] = findNode(manifest, 'home').backends
    const [cloud] = findNode(manifest, 'vps').backends
    expect(backendUrl(local!)).toBe('http://127.0.0.1:11434')
    expect(backendUrl(cloud!)).toBe('https://api.example.com/v1')
    expect(backendUrl({ ...cloud!, url: undefined } as never)).toBeUndefined()
    expect(backendTimeoutMs(local!)).toBe(120_000)
    expect(backendTimeoutMs(shared!)).toBe(10)
  })
})

describe('controlPlaneNodeName', () => {
  it('matches home.example.com:8081 to home by host (address port is 8082)', () => {
    expect(controlPlaneNodeName(manifest)).toBe('home')
  })

  it('matches by name, by address and by api, multiaddrs included', () => {
    const withControlPlane = (control_plane: string) => ({
      ...manifest,
      federation: { ...manifest.federation, control_plane },
    })
    expect(controlPlaneNodeName(withControlPlane('vps'))).toBe('vps')
    expect(controlPlaneNodeName(withControlPlane('vps.example.com:8082'))).toBe('vps')
    expect(controlPlaneNodeName(withControlPlane('10.0.0.2:9000'))).toBe('vps')
    expect(controlPlaneNodeName(withControlPlane('HOME.example.com'))).toBe('home')
    expect(controlPlaneNodeName(withControlPlane('elsewhere:1'))).toBeUndefined()
  })

  it('is undefined when unset', () => {
    expect(
      controlPlaneNodeName({ ...manifest, federation: { nodes: manifest.federation.nodes } }),
    ).toBeUndefined()
  })
})

describe('settings with defaults', () => {
  it('api address', () => {
    expect(nodeApiAddress(findNode(manifest, 'home'))).toBe('127.0.0.1:8081')
    expect(nodeApiAddress(findNode(manifest, 'vps'))).toBe('10.0.0.2:9000')
  })

  it('health, limits and election', () => {
    expect(healthSettings(manifest)).toEqual({
      heartbeatIntervalMs: 1000,
      suspectAfterMs: 3000,
      deadAfterMs: 6000,
      probeIntervalMs: 5000,
    })
    expect(limitSettings(manifest)).toEqual({
      maxBodyBytes: 8 * 1024 * 1024,
      maxFrameBytes: 8 * 1024 * 1024 + 64 * 1024,
      maxStreamsPerPeer: 64,
    })
    expect(electionSettings(manifest)).toEqual({ allowLowTrustLeader: false })
    expect(routingSettings(manifest)).toEqual({ mergeDeltas: true })
    const tuned = Manifest.parse({
      federation: {
        nodes: manifest.federation.nodes,
        health: { heartbeat_interval_ms: 500, dead_after_ms: 4000 },
        limits: { max_body_bytes: 1024 },
        election: { allow_low_trust_leader: true },
        routing: { merge_deltas: false },
      },
    })
    expect(healthSettings(tuned)).toEqual({
      heartbeatIntervalMs: 500,
      suspectAfterMs: 1500,
      deadAfterMs: 4000,
      probeIntervalMs: 5000,
    })
    expect(limitSettings(tuned).maxBodyBytes).toBe(1024)
    expect(electionSettings(tuned).allowLowTrustLeader).toBe(true)
    expect(routingSettings(tuned).mergeDeltas).toBe(false)
    expect(() =>
      Manifest.parse({ federation: { nodes: manifest.federation.nodes, routing: { merge: 1 } } }),
    ).toThrow()
  })

  it('re-exports addressToMultiaddr', () => {
    expect(addressToMultiaddr('1.2.3.4:5')).toBe('/ip4/1.2.3.4/tcp/5')
  })
})
