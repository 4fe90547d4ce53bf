import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach, describe, expect, it } from 'vitest'
import { agreed, type Mesh, startMesh, waitFor } from '../control/testing/mesh.js'
import { ClawmeshError } from '../errors.js'
import { type ClawmeshNode, createNode, HEALTH_TOPIC } from '../net/index.js'
import { encodeHeartbeat, type Heartbeat, MAX_HEARTBEAT_BYTES } from './heartbeat.js'

const timings = { heartbeatIntervalMs: 200, suspectAfterMs: 600, deadAfterMs: 1200, stabilizationMs: 400 }

describe('HeartbeatService validation with a hostile peer on the mesh', () => {
  let mesh: Mesh | undefined
  const extra: ClawmeshNode[] = []
  afterEach(async () => {
    await Promise.all(extra.splice(0).map((node) => node.stop()))
    await mesh?.stop()
    mesh = undefined
  })

  async function intruder(member: boolean): Promise<ClawmeshNode> {
    const node = await createNode({
      privateKey: await generateKeyPair('Ed25519'),
      ipColocationFactorWeight: 0,
    })
    extra.push(node)
    if (member) mesh!.register(node.peerId.toString(), { name: 'intruder', trust: 'high' })
    await Promise.all(mesh!.running().map((peer) => node.dial(peer.node.getMultiaddrs()[0]!)))
    // Raw gossipsub publishes reach only peers whose subscription we already know.
    await waitFor(
      () => node.services.pubsub.getSubscribers(HEALTH_TOPIC).length === mesh!.running().length,
      5000,
    )
    return node
  }

  it('drops forged, replayed, oversized, malformed and non-member heartbeats; nobody crashes', async () => {
    mesh = await startMesh(4, timings)
    const peers = mesh.running()
    await waitFor(() => agreed(peers) !== undefined, 10_000)
    const victim = peers[1]!
    const hostile = await intruder(true)
    const stranger = await intruder(false)
    const publish = (node: ClawmeshNode, data: Uint8Array) => node.services.pubsub.publish(HEALTH_TOPIC, data)
    const own = (sequence: number, overrides: Partial<Heartbeat> = {}): Heartbeat => ({
      peerId: hostile.peerId.toString(),
      name: 'intruder',
      epoch: 1_000,
      sequence,
      uptimeMs: 1,
      inFlight: 0,
      term: 0,
      ...overrides,
    })

    // A valid beat first, so the intruder is a known member with (epoch 1000, sequence 5).
    await publish(hostile, encodeHeartbeat(own(5)))
    await waitFor(
      () => peers.every((peer) => peer.membership.get(hostile.peerId.toString())?.state === 'alive'),
      3000,
    )

    // Forged: signed by the intruder, claiming to be the victim (with an absurd load and a takeover term).
    await publish(
      hostile,
      encodeHeartbeat({ ...own(6), peerId: victim.peerId, name: victim.name, inFlight: 999, term: 10_000 }),
    )
    // Forged too: its own peer ID, another member's name.
    await publish(hostile, encodeHeartbeat({ ...own(7), name: victim.name }))
    // Replayed: the same sequence again, an older one, and an older boot epoch.
    await publish(hostile, encodeHeartbeat(own(5)))
    await publish(hostile, encodeHeartbeat(own(4)))
    await publish(hostile, encodeHeartbeat(own(99, { epoch: 999 })))
    // Oversized (valid JSON padded past the limit) and malformed of several kinds.
    const padded = JSON.stringify({ pad: 'x'.repeat(MAX_HEARTBEAT_BYTES) })
    await publish(hostile, new TextEncoder().encode(padded))
    await publish(hostile, new TextEncoder().encode('{"v":1,"id":"'))
    await publish(hostile, new TextEncoder().encode(JSON.stringify({ ...own(8), sequence: -1 })))
    await publish(hostile, new Uint8Array([0xc3, 0x28]))
    // Not a member: a well-formed, honestly signed beat from a peer the manifest does not list.
    await publish(
      stranger,
      encodeHeartbeat({ ...own(1), peerId: stranger.peerId.toString(), name: 'stranger' }),
    )

    const expected = { forged: 2, replayed: 3, oversized: 1, malformed: 3, unsigned: 0 }
    await waitFor(
      () =>
        peers.every((peer) => {
          const dropped = peer.heartbeats.stats().dropped
          return Object.entries(expected).every(
            ([reason, count]) => dropped[reason as keyof typeof dropped] === count,
          )
        }) &&
        // Without flood publishing the stranger's beat reaches only its mesh peers, and an ignored
        // message is not forwarded: some peers drop it, none accepts it, none sees it twice.
        peers.some((peer) => peer.heartbeats.stats().dropped['not-member'] === 1) &&
        peers.every((peer) => peer.heartbeats.stats().dropped['not-member'] <= 1),
      5000,
    ).catch((error: unknown) => {
      throw new ClawmeshError(
        'TEST_TIMEOUT',
        `${String(error)}: ${JSON.stringify(peers.map((peer) => peer.heartbeats.stats()))}`,
      )
    })
    for (const peer of peers) {
      // Exactly one message from the intruder was accepted: the first valid one.
      expect(peer.membership.get(hostile.peerId.toString())?.state).toBe('alive')
      expect(peer.membership.get(stranger.peerId.toString())).toBeUndefined()
      if (peer !== victim) expect(peer.membership.get(victim.peerId)?.inFlight).not.toBe(999)
      expect(peer.mission.current().term).toBeLessThan(10_000)
    }
    // Bad messages were not forwarded: each peer counted each one once (it came straight from the intruder).
    // Everyone is still running and agrees; a valid beat after the garbage is accepted again.
    await publish(hostile, encodeHeartbeat(own(9, { inFlight: 4 })))
    await waitFor(
      () => peers.every((peer) => peer.membership.get(hostile.peerId.toString())?.inFlight === 4),
      3000,
    )
    await waitFor(() => agreed(peers) !== undefined, 5000)
    expect(peers.every((peer) => peer.node.status === 'started')).toBe(true)
  })

  it('sends backend health only on change and on every K-th beat', async () => {
    mesh = await startMesh(2, { ...timings, fullStateEvery: 5, probeIntervalMs: 60_000 })
    const [a, b] = mesh.running()
    await waitFor(() => b!.membership.get(a!.peerId)?.backends.length === 1, 5000)
    const sizes: number[] = []
    b!.node.services.pubsub.addEventListener('message', (event) => {
      if (
        event.detail.topic === HEALTH_TOPIC &&
        event.detail.type === 'signed' &&
        event.detail.from.equals(a!.node.peerId)
      ) {
        sizes.push(event.detail.data.byteLength)
      }
    })
    await waitFor(() => sizes.length >= 10, 5000)
    const full = sizes.filter((size) => size > Math.min(...sizes) + 20)
    // Two of ten beats carry the backend list (sequence ≡ 1 mod 5); the rest are short.
    expect(full.length).toBe(2)
  })

  it('beats at the interval only for the leader and its next two successors; the rest announce a slower period', async () => {
    mesh = await startMesh(8, timings)
    const peers = mesh.running()
    // The gossipsub options for small federations are in force (createNode defaults).
    const opts = (peers[0]!.node.services.pubsub as unknown as { opts: Record<string, unknown> }).opts
    expect(opts).toMatchObject({
      D: 4,
      Dlo: 3,
      Dhi: 6,
      Dlazy: 2,
      floodPublish: false,
      maxInboundDataLength: 65_536,
    })
    const byRank = [...peers].sort((a, b) => (a.peerId < b.peerId ? -1 : 1))
    const fast = (list: typeof peers) => list.map((peer) => peer.heartbeats.stats().periodMs === 200)
    // 8 alive peers × 250 ms = 2000 ms for the others (a whole number of 200 ms intervals).
    await waitFor(
      () =>
        agreed(peers)?.leader === byRank[0]!.peerId &&
        fast(byRank).join() === [true, true, true, false, false, false, false, false].join() &&
        byRank.slice(3).every((peer) => peer.heartbeats.stats().periodMs === 2000),
      10_000,
    )
    // Receivers scale a slow peer's timings from its announced period (3 × 2000 ms), not 600 ms.
    await waitFor(
      () =>
        peers.every(
          (peer) => peer === byRank[7] || peer.membership.get(byRank[7]!.peerId)?.periodMs === 2000,
        ),
      5000,
    )
    await new Promise((resolve) => setTimeout(resolve, 2500))
    for (const peer of peers) {
      if (peer === byRank[7]) continue
      expect(peer.membership.get(byRank[7]!.peerId)).toMatchObject({ state: 'alive', suspectAfterMs: 6000 })
      expect(peer.membership.get(byRank[1]!.peerId)).toMatchObject({ state: 'alive', suspectAfterMs: 600 })
    }
    // The leader still beats every interval, so its failure is seen at the base timings; the next in line speeds up.
    const before = agreed(peers)!
    await mesh.kill(byRank[0]!)
    const survivors = mesh.running()
    const failover = await waitFor(() => {
      const now = agreed(survivors)
      return now?.leader === byRank[1]!.peerId && now.term > before.term
    }, 5000)
    expect(failover).toBeLessThan(2000)
    await waitFor(() => byRank[3]!.heartbeats.stats().periodMs === 200, 3000)
  })
})
