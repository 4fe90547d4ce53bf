import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../test/cli-process.js'
import { type MeshFixture, startMeshFixture } from '../../test/mesh-fixture.js'
import { dropReasons } from '../health/index.js'
import type { Peer } from '../peer.js'

const health = {
  heartbeat_interval_ms: 200,
  suspect_after_ms: 600,
  dead_after_ms: 1_200,
  probe_interval_ms: 300,
}

/** One sample of the exposition text. */
interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Parses Prometheus text exposition (format 0.0.4): samples plus `# TYPE` lines. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice('# TYPE '.length).split(' ')
      types.set(name!, type!)
      continue
    }
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) throw new Error(`unparseable exposition line: ${line}`)
    const labels: Record<string, string> = {}
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1]!] = pair[2]!
    samples.push({ name: match[1]!, labels, value: Number(match[3]) })
  }
  return { samples, types }
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find(
    (sample) =>
      sample.name === name &&
      Object.keys(labels).length === Object.keys(sample.labels).length &&
      Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted),
  )?.value
}

async function scrape(
  peer: Peer,
): Promise<{ samples: Sample[]; types: Map<string, string>; contentType: string }> {
  const response = await fetch(`${peer.apiUrl}/metrics`)
  expect(response.status).toBe(200)
  return {
    ...parseExposition(await response.text()),
    contentType: response.headers.get('content-type') ?? '',
  }
}

describe('GET /metrics (3 in-process peers, real HTTP)', () => {
  let mesh: MeshFixture
  beforeAll(async () => {
    mesh = await startMeshFixture({ api: true, health })
    await waitFor(
      () =>
        Object.values(mesh.peers).every(
          (peer) =>
            peer.parts.membership.snapshot().filter((member) => member.state === 'alive').length === 3 &&
            peer.parts.missionControl.missionControl()?.name === 'home' &&
            // Every backend probed and reported.
            peer.parts.membership.snapshot().filter((member) => member.backends.length > 0).length === 2,
        ),
      20_000,
      'three alive peers, home elected, both backends probed',
    )
  })
  afterAll(async () => {
    await mesh?.stop()
  })

  it('exposes every metric with values matching the peer, with the registry content type', async () => {
    const home = mesh.peers.home!
    const sentBefore = home.parts.heartbeats.stats().sent
    const { samples, types, contentType } = await scrape(home)
    const statsAfter = home.parts.heartbeats.stats()
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/)

    expect(types.get('clawmesh_peers')).toBe('gauge')
    expect(types.get('clawmesh_heartbeats_sent_total')).toBe('counter')
    expect(types.get('clawmesh_heartbeats_received_total')).toBe('counter')
    expect(types.get('clawmesh_heartbeats_dropped_total')).toBe('counter')

    expect(value(samples, 'clawmesh_peers', { state: 'alive' })).toBe(3)
    expect(value(samples, 'clawmesh_peers', { state: 'suspect' })).toBe(0)
    expect(value(samples, 'clawmesh_peers', { state: 'dead' })).toBe(0)
    expect(value(samples, 'clawmesh_is_mission_control')).toBe(1)
    expect(value(samples, 'clawmesh_mission_control_term')).toBe(home.parts.missionControl.current().term)
    expect(value(samples, 'clawmesh_mission_control_term')).toBeGreaterThan(0)

    const sent = value(samples, 'clawmesh_heartbeats_sent_total')!
    expect(sent).toBeGreaterThanOrEqual(Math.max(1, sentBefore))
    expect(sent).toBeLessThanOrEqual(statsAfter.sent)
    const received = value(samples, 'clawmesh_heartbeats_received_total')!
    expect(received).toBeGreaterThan(0)
    expect(received).toBeLessThanOrEqual(statsAfter.accepted)
    for (const reason of dropReasons) {
      expect(value(samples, 'clawmesh_heartbeats_dropped_total', { reason })).toBe(statsAfter.dropped[reason])
    }
    expect(value(samples, 'clawmesh_requests_in_flight')).toBe(home.inFlight())

    // Backend series, by peer name, as the heartbeats reported them.
    for (const member of home.parts.membership.snapshot()) {
      for (const backend of member.backends) {
        const labels = { peer: member.name, backend: backend.name }
        expect(value(samples, 'clawmesh_backend_healthy', labels)).toBe(backend.ok ? 1 : 0)
        expect(value(samples, 'clawmesh_backend_latency_ms', labels)).toBeTypeOf('number')
      }
    }
    expect(value(samples, 'clawmesh_backend_healthy', { peer: 'home', backend: 'private' })).toBe(1)
    expect(value(samples, 'clawmesh_backend_healthy', { peer: 'vps-fast', backend: 'fast' })).toBe(1)
    expect(
      value(samples, 'clawmesh_backend_latency_ms', { peer: 'vps-fast', backend: 'fast' }),
    ).toBeGreaterThanOrEqual(0)
  })

  it('each peer has its own registry (not the global one)', async () => {
    const { samples } = await scrape(mesh.peers['vps-fast']!)
    expect(value(samples, 'clawmesh_is_mission_control')).toBe(0)
    expect(value(samples, 'clawmesh_mission_control_term')).toBe(
      mesh.peers['vps-fast']!.parts.missionControl.current().term,
    )
  })

  it('a backend that fails its probe and a stopped peer show in the next scrape', async () => {
    const home = mesh.peers.home!
    await mesh.providers.fast!.close()
    await mesh.peers['vps-public']!.parts.node.stop()
    const samples = await waitFor(
      async () => {
        const { samples } = await scrape(home)
        return value(samples, 'clawmesh_peers', { state: 'alive' }) === 2 &&
          value(samples, 'clawmesh_backend_healthy', { peer: 'vps-fast', backend: 'fast' }) === 0
          ? samples
          : undefined
      },
      10_000,
      'vps-public not alive and fast unhealthy in the metrics',
    )
    const notAlive =
      (value(samples, 'clawmesh_peers', { state: 'suspect' }) ?? 0) +
      (value(samples, 'clawmesh_peers', { state: 'dead' }) ?? 0)
    expect(notAlive).toBe(1)
    expect(value(samples, 'clawmesh_backend_healthy', { peer: 'home', backend: 'private' })).toBe(1)
  })
})
