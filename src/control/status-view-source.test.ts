import type { Stream } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../test/cli-process.js'
import { type MeshFixture, startMeshFixture } from '../../test/mesh-fixture.js'
import { STATUS_PROTOCOL } from '../net/constants.js'
import type { Peer } from '../peer.js'
import { StatusView } from './status-view.js'

/** Fast failure detection so failover fits in a few seconds. */
const health = {
  heartbeat_interval_ms: 200,
  suspect_after_ms: 600,
  dead_after_ms: 1_200,
  probe_interval_ms: 500,
}

async function statusOf(peer: Peer): Promise<StatusView> {
  const response = await fetch(`${peer.apiUrl}/status`)
  expect(response.status).toBe(200)
  return StatusView.parse(await response.json())
}

describe('GET /status through the Mission Control (3 in-process peers, real HTTP)', () => {
  let mesh: MeshFixture
  let names: string[]
  beforeAll(async () => {
    mesh = await startMeshFixture({ api: true, health })
    names = Object.keys(mesh.peers).sort()
  })
  afterAll(async () => {
    await mesh?.stop()
  })
  const peer = (name: string): Peer => mesh.peers[name]!

  it('every peer answers with the same Mission Control and source mission-control', async () => {
    const views = await waitFor(
      async () => {
        const all = await Promise.all(names.map((name) => statusOf(peer(name))))
        return all.every(
          (view) =>
            view.source === 'mission-control' &&
            view.missionControl?.name === 'home' &&
            view.missionControl.term === all[0]?.missionControl?.term &&
            view.peers.length === 3 &&
            view.peers.every((entry) => entry.state === 'alive'),
        )
          ? all
          : undefined
      },
      20_000,
      'all three peers to report home as Mission Control with everyone alive',
    )
    const home = peer('home')
    for (const [index, view] of views.entries()) {
      const name = names[index]!
      expect(view.missionControl).toEqual({ peerId: home.peerId, name: 'home', term: expect.any(Number) })
      expect(view.self).toEqual({ peerId: peer(name).peerId, name })
      expect(view.peers.map((entry) => entry.name)).toEqual(names)
    }
    // The non-leaders' answers really came over the protocol from the leader.
    const served = home.parts.statusService.servedCount
    await statusOf(peer('vps-fast'))
    expect(home.parts.statusService.servedCount).toBe(served + 1)
  })

  it('falls back to its own view (source self) when the Mission Control cannot answer, within the bound', async () => {
    const home = peer('home')
    const asker = peer('vps-fast')
    // 1. The handler is gone: the fetch fails fast and the answer is this peer's own view.
    await home.parts.statusService.stop()
    let started = performance.now()
    let view = await statusOf(asker)
    const refusedMs = performance.now() - started
    expect(view.source).toBe('self')
    expect(view.self.name).toBe('vps-fast')
    expect(view.missionControl?.name).toBe('home')
    expect(view.peers.map((entry) => entry.name)).toEqual(names)
    expect(refusedMs).toBeLessThan(1_000)

    // 2. The leader accepts the stream but never answers (a stalled or cut link): fallback after ~1 s.
    const held: Stream[] = []
    await home.parts.node.handle(STATUS_PROTOCOL, (stream) => {
      held.push(stream)
    })
    started = performance.now()
    view = await statusOf(asker)
    const stalledMs = performance.now() - started
    expect(view.source).toBe('self')
    expect(stalledMs).toBeGreaterThanOrEqual(900)
    expect(stalledMs).toBeLessThan(2_000)
    for (const stream of held) stream.abort(new Error('test over'))
    await home.parts.node.unhandle(STATUS_PROTOCOL)

    // 3. Back: the Mission Control's view again.
    await home.parts.statusService.start()
    view = await statusOf(asker)
    expect(view.source).toBe('mission-control')
    expect(view.self.name).toBe('vps-fast')
  })

  it('stopping the Mission Control abruptly: the others report a successor with a higher term', async () => {
    const before = await statusOf(peer('vps-public'))
    const oldTerm = before.missionControl!.term
    const home = peer('home')
    const stoppedAt = performance.now()
    // No clean leave exists: the node just goes silent.
    await home.parts.node.stop()
    const survivors = ['vps-fast', 'vps-public']
    const views = await waitFor(
      async () => {
        const all = await Promise.all(survivors.map((name) => statusOf(peer(name))))
        return all.every(
          (view) =>
            view.source === 'mission-control' &&
            view.missionControl?.name === 'vps-fast' &&
            view.missionControl.term > oldTerm &&
            view.peers.find((entry) => entry.name === 'home')?.state !== 'alive',
        )
          ? all
          : undefined
      },
      15_000,
      'vps-fast (medium trust beats low) to take over with a higher term',
    )
    const failoverMs = performance.now() - stoppedAt
    expect(views[0]?.missionControl).toEqual(views[1]?.missionControl)
    expect(views.map((view) => view.self.name)).toEqual(survivors)
    // home stays visible (suspect or dead), not hidden.
    for (const view of views) expect(view.peers.map((entry) => entry.name)).toContain('home')
    expect(failoverMs).toBeLessThan(10_000)
  })
})
