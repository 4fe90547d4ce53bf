import { afterEach, describe, expect, it } from 'vitest'
import { agreed, type Mesh, startMesh, waitFor } from './testing/mesh.js'

// Short timings keep the suite fast: 200 ms heartbeats, suspect at 600 ms, dead at 1200 ms.
const timings = {
  heartbeatIntervalMs: 200,
  suspectAfterMs: 600,
  deadAfterMs: 1200,
  probeIntervalMs: 500,
  stabilizationMs: 400,
}

const lowest = (ids: string[]): string => [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[0]!

describe('Mission Control on real libp2p nodes', () => {
  let mesh: Mesh | undefined
  afterEach(async () => {
    await mesh?.stop()
    mesh = undefined
  })

  it('agrees on one leader, and on a successor with a higher term after the leader stops abruptly', async () => {
    mesh = await startMesh(6, timings)
    const all = mesh.running()
    await waitFor(() => agreed(all) !== undefined, 10_000)
    const first = agreed(all)!
    // Equal trust, no preference: the lowest peer ID leads.
    expect(first.leader).toBe(lowest(all.map((peer) => peer.peerId)))
    expect(all.filter((peer) => peer.mission.isLeader())).toHaveLength(1)

    // Abrupt stop: node.stop() closes its connections; no leave message exists in the protocol.
    const leader = all.find((peer) => peer.peerId === first.leader)!
    const killedAt = performance.now()
    await mesh.kill(leader)
    const survivors = mesh.running()
    await waitFor(() => {
      const now = agreed(survivors)
      return now !== undefined && now.leader !== first.leader
    }, 10_000)
    const elapsed = performance.now() - killedAt
    const second = agreed(survivors)!
    expect(second.leader).toBe(lowest(survivors.map((peer) => peer.peerId)))
    expect(second.term).toBeGreaterThan(first.term)
    // Detected within the dead timeout at most (suspicion alone deposes a leader).
    expect(elapsed).toBeLessThan(timings.deadAfterMs + 1000)
    for (const peer of survivors) expect(peer.membership.get(first.leader)?.state).not.toBe('alive')
  })

  it('a silent peer becomes suspect, then dead everywhere, and alive again when it speaks', async () => {
    mesh = await startMesh(5, timings)
    const all = mesh.running()
    await waitFor(() => all.every((peer) => peer.membership.snapshot().length === 5), 10_000)
    const quiet = all[2]!
    const others = all.filter((peer) => peer !== quiet)
    const stateEverywhere = (state: string) => () =>
      others.every((peer) => peer.membership.get(quiet.peerId)?.state === state)
    // It stops heartbeating but keeps its connections: silence alone must be enough.
    quiet.heartbeats.stop()
    await waitFor(stateEverywhere('suspect'), 3000, 10)
    await waitFor(stateEverywhere('dead'), 3000, 10)
    quiet.heartbeats.start()
    await waitFor(stateEverywhere('alive'), 3000)
    for (const peer of others) expect(peer.membership.get(quiet.peerId)?.recentReturns).toBe(1)
  })

  it('shows a failing backend unhealthy in every view within one probe interval', async () => {
    mesh = await startMesh(5, timings)
    const all = mesh.running()
    const target = all[3]!
    const backendOk = (ok: boolean) => () =>
      all.every((peer) => peer.membership.get(target.peerId)?.backends[0]?.ok === ok)
    await waitFor(backendOk(true), 10_000)
    target.backend.ok = false
    const elapsed = await waitFor(backendOk(false), 3000, 5)
    // One probe interval plus a little for the gossip hop and the polling.
    expect(elapsed).toBeLessThan(timings.probeIntervalMs + 150)
    target.backend.ok = true
    await waitFor(backendOk(true), 3000, 5)
    // A hung probe times out and counts as unhealthy too.
    target.backend.delayMs = 60_000
    const hung = await waitFor(backendOk(false), 3000, 5)
    expect(hung).toBeLessThan(timings.probeIntervalMs + target.prober.timeoutMs + 150)
    expect(target.membership.get(target.peerId)?.backends[0]?.error).toMatch(/timed out/)
  })

  it('after a partition heals there is exactly one leader again', async () => {
    mesh = await startMesh(6, timings)
    const all = mesh.running()
    await waitFor(() => agreed(all) !== undefined, 10_000)
    const before = agreed(all)!
    await mesh.partition([
      [0, 1, 2],
      [3, 4, 5],
    ])
    const left = all.slice(0, 3)
    const right = all.slice(3)
    // Each side elects the lowest peer ID among its own members.
    await waitFor(
      () =>
        agreed(left)?.leader === lowest(left.map((peer) => peer.peerId)) &&
        agreed(right)?.leader === lowest(right.map((peer) => peer.peerId)),
      10_000,
    )
    expect(all.filter((peer) => peer.mission.isLeader())).toHaveLength(2)
    await mesh.heal()
    await waitFor(
      () =>
        agreed(all) !== undefined &&
        all.every((p) => p.membership.snapshot().every((m) => m.state === 'alive')),
      10_000,
    )
    const after = agreed(all)!
    expect(after.leader).toBe(before.leader)
    expect(after.term).toBeGreaterThan(before.term)
    expect(all.filter((peer) => peer.mission.isLeader())).toHaveLength(1)
  })
  it('a restarting peer causes no flapping', async () => {
    mesh = await startMesh(5, timings)
    const all = mesh.running()
    await waitFor(() => agreed(all) !== undefined, 10_000)
    const first = agreed(all)!
    const ranked = [...all].sort((a, b) => (a.peerId < b.peerId ? -1 : 1))
    const changes = () => new Map(mesh!.running().map((peer) => [peer.peerId, peer.mission.changes]))
    const base = changes()

    // A non-leader restarts twice (same key, new boot epoch): nobody changes leader.
    const follower = ranked[3]!
    await mesh.restart(follower)
    await waitFor(() => agreed(mesh!.running()) !== undefined, 10_000)
    await mesh.restart(mesh.peers[follower.index]!)
    await waitFor(() => agreed(mesh!.running()) !== undefined, 10_000)
    await new Promise((resolve) => setTimeout(resolve, 1000))
    for (const [peerId, count] of changes()) {
      if (peerId !== follower.peerId) expect(count).toBe(base.get(peerId))
    }
    expect(agreed(mesh.running())?.leader).toBe(first.leader)

    // The leader restarts: at most one failover and one return per survivor, then quiet.
    const leader = ranked[0]!
    const beforeLeader = changes()
    await mesh.restart(leader)
    await waitFor(() => {
      const now = agreed(mesh!.running())
      return now?.leader === leader.peerId && now.term > first.term
    }, 10_000)
    const settled = changes()
    for (const [peerId, count] of settled) {
      if (peerId !== leader.peerId) expect(count - beforeLeader.get(peerId)!).toBeLessThanOrEqual(2)
    }
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(changes()).toEqual(settled)
  })
})
