/**
 * Test and benchmark harness: N real libp2p nodes on loopback, each running
 * the full health stack (prober, heartbeats, membership, Mission Control).
 * Not part of the library build (`src/**\/testing/**` is excluded).
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { TrustLevel } from '../../config/schema.js'
import { ClawmeshError } from '../../errors.js'
import {
  BackendProber,
  HeartbeatService,
  type MemberInfo,
  MembershipView,
  type ProbedBackend,
} from '../../health/index.js'
import type { HealthResult } from '../../llm/types.js'
import { type ClawmeshNode, createNode } from '../../net/index.js'
import { MissionControl } from '../mission-control.js'

/** A backend whose health the test controls. */
export class FakeBackend implements ProbedBackend {
  ok = true
  delayMs = 0
  constructor(readonly name: string) {}

  /** Answers after `delayMs` with `ok`. */
  async health(options?: { signal?: AbortSignal }): Promise<HealthResult> {
    const started = performance.now()
    if (this.delayMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.delayMs)
        options?.signal?.addEventListener('abort', () => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    const latencyMs = performance.now() - started
    return this.ok ? { ok: true, latencyMs } : { ok: false, latencyMs, error: 'fake backend down' }
  }
}

/** Timings and policy of a test mesh (ms). */
export interface MeshOptions {
  heartbeatIntervalMs?: number
  suspectAfterMs?: number
  deadAfterMs?: number
  probeIntervalMs?: number
  stabilizationMs?: number
  fullStateEvery?: number
  /** Trust of peer i. Default: high. */
  trust?: (index: number) => TrustLevel
  preferred?: string
  allowLowTrustLeader?: boolean
  /** How many earlier peers each new peer dials. Default: all (up to 10), else 6. */
  dials?: number
}

/** One running peer of the mesh. */
export interface MeshPeer {
  index: number
  name: string
  peerId: string
  privateKey: PrivateKey
  node: ClawmeshNode
  backend: FakeBackend
  prober: BackendProber
  membership: MembershipView
  heartbeats: HeartbeatService
  mission: MissionControl
  running: boolean
}

/** N peers that know each other's names and trust. */
export class Mesh {
  readonly peers: MeshPeer[] = []
  readonly members = new Map<string, MemberInfo>()
  /** Peer ID → partition group; peers in different groups cannot connect. */
  private groups: Map<string, number> | undefined
  constructor(readonly options: MeshOptions) {}

  /** Adds a member to the shared membership list (the manifest stand-in). */
  register(peerId: string, info: MemberInfo): void {
    this.members.set(peerId, info)
  }

  /** Peers currently running. */
  running(): MeshPeer[] {
    return this.peers.filter((peer) => peer.running)
  }

  /** Starts a peer with `privateKey` (new or restarted) and dials `dialTo` running peers. */
  async startPeer(index: number, privateKey: PrivateKey, dialTo: MeshPeer[]): Promise<MeshPeer> {
    const options = this.options
    const peerId = peerIdFromPrivateKey(privateKey).toString()
    const name = `peer-${index}`
    this.register(peerId, { name, trust: options.trust?.(index) ?? 'high' })
    const blocked = (remote: string): boolean =>
      this.groups !== undefined && this.groups.get(remote) !== this.groups.get(peerId)
    const node = await createNode({
      privateKey,
      ipColocationFactorWeight: 0,
      connectionGater: {
        denyDialPeer: (remote) => blocked(remote.toString()),
        denyInboundEncryptedConnection: (remote) => blocked(remote.toString()),
        denyOutboundEncryptedConnection: (remote) => blocked(remote.toString()),
      },
    })
    const backend = this.peers[index]?.backend ?? new FakeBackend(`backend-${index}`)
    const prober = new BackendProber({ backends: [backend], intervalMs: options.probeIntervalMs ?? 5000 })
    const membership = new MembershipView({
      self: { peerId, ...this.members.get(peerId)! },
      isMember: (id) => this.members.get(id),
      suspectAfterMs: options.suspectAfterMs ?? 3000,
      deadAfterMs: options.deadAfterMs ?? 6000,
    })
    const mission = new MissionControl({
      membership,
      preferred: options.preferred,
      allowLowTrustLeader: options.allowLowTrustLeader ?? false,
      stabilizationMs: options.stabilizationMs ?? 2 * (options.heartbeatIntervalMs ?? 1000),
    })
    const heartbeats = new HeartbeatService({
      node,
      name,
      membership,
      prober,
      intervalMs: options.heartbeatIntervalMs ?? 1000,
      fullStateEvery: options.fullStateEvery ?? 10,
      control: () => mission.current(),
    })
    mission.subscribe(() => heartbeats.beatNow())
    const peer: MeshPeer = {
      index,
      name,
      peerId,
      privateKey,
      node,
      backend,
      prober,
      membership,
      heartbeats,
      mission,
      running: true,
    }
    this.peers[index] = peer
    mission.start()
    heartbeats.start()
    await Promise.all(dialTo.map((other) => node.dial(other.node.getMultiaddrs()[0]!).catch(() => undefined)))
    return peer
  }

  /** Stops a peer abruptly: the node stops (connections close, no leave message), then its timers. */
  async kill(peer: MeshPeer): Promise<void> {
    if (!peer.running) return
    peer.running = false
    await peer.node.stop()
    peer.heartbeats.stop()
    peer.mission.stop()
  }

  /** Restarts a stopped peer with the same key (new boot epoch) and dials `dials` running peers. */
  async restart(peer: MeshPeer): Promise<MeshPeer> {
    await this.kill(peer)
    return this.startPeer(peer.index, peer.privateKey, this.running().slice(0, this.options.dials ?? 6))
  }

  /** Splits the running peers into groups (lists of indexes) and closes every connection across groups. */
  async partition(groups: number[][]): Promise<void> {
    this.groups = new Map()
    for (const [group, indexes] of groups.entries()) {
      for (const index of indexes) this.groups.set(this.peers[index]!.peerId, group)
    }
    await Promise.all(
      this.running().flatMap((peer) =>
        this.running()
          .filter((other) => this.groups?.get(other.peerId) !== this.groups?.get(peer.peerId))
          .map((other) => peer.node.hangUp(other.node.peerId).catch(() => undefined)),
      ),
    )
  }

  /** Lifts the partition and reconnects every running peer to every other one. */
  async heal(): Promise<void> {
    this.groups = undefined
    const running = this.running()
    await Promise.all(
      running.flatMap((peer, i) =>
        running
          .slice(i + 1)
          .map((other) => peer.node.dial(other.node.getMultiaddrs()[0]!).catch(() => undefined)),
      ),
    )
  }

  /** Stops every peer. */
  async stop(): Promise<void> {
    await Promise.all(this.peers.map((peer) => this.kill(peer)))
  }
}

/** Starts a mesh of `size` peers; peer i dials earlier peers. */
export async function startMesh(size: number, options: MeshOptions = {}): Promise<Mesh> {
  const mesh = new Mesh(options)
  const keys = await Promise.all(Array.from({ length: size }, () => generateKeyPair('Ed25519')))
  // Every member is in the manifest before anyone starts.
  keys.forEach((key, index) => {
    mesh.register(peerIdFromPrivateKey(key).toString(), {
      name: `peer-${index}`,
      trust: options.trust?.(index) ?? 'high',
    })
  })
  const dials = options.dials ?? (size <= 10 ? size : 6)
  for (const [index, key] of keys.entries()) {
    const earlier = mesh.peers.slice(0, index)
    const targets = earlier.length <= dials ? earlier : pick(earlier, dials)
    await mesh.startPeer(index, key, targets)
  }
  return mesh
}

function pick<T>(items: T[], count: number): T[] {
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[copy[i], copy[j]] = [copy[j]!, copy[i]!]
  }
  return copy.slice(0, count)
}

/** Resolves when `predicate` holds, polling every `intervalMs`; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, intervalMs = 20): Promise<number> {
  const started = performance.now()
  while (!predicate()) {
    if (performance.now() - started > timeoutMs) {
      throw new ClawmeshError('TEST_TIMEOUT', `condition not met within ${timeoutMs} ms`)
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
  return performance.now() - started
}

/** The (leader, term) every running peer agrees on, or undefined if they disagree. */
export function agreed(peers: MeshPeer[]): { leader: string; term: number } | undefined {
  const first = peers[0]?.mission.current()
  if (first?.leader === undefined) return undefined
  for (const peer of peers) {
    const state = peer.mission.current()
    if (state.leader !== first.leader || state.term !== first.term) return undefined
  }
  return { leader: first.leader, term: first.term }
}
