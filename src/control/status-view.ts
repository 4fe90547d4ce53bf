/**
 * The status view (DESIGN.md, `GET /status`): one shape whether it comes from
 * the elected Mission Control or, as a fallback, from the answering peer.
 * Trust always comes from the manifest; the adverts only say what a peer has.
 */
import { z } from 'zod'
import { type Manifest, soulSensitivity, TrustLevel } from '../config/index.js'
import type { AdvertBody } from '../discovery/advert.js'

/** Liveness states of the membership view. */
export const PeerState = z.enum(['alive', 'suspect', 'dead'])
export type PeerState = z.infer<typeof PeerState>

/** One peer in the view. */
export const StatusPeer = z.object({
  peerId: z.string(),
  name: z.string(),
  trust: TrustLevel,
  state: PeerState,
  /** Age in ms of the last heartbeat heard (0 for self). */
  lastSeenMs: z.number().int().nonnegative(),
  addrs: z.array(z.string()),
  inFlight: z.number().int().nonnegative(),
  souls: z.array(z.object({ name: z.string(), sensitivity: TrustLevel })),
  backends: z.array(
    z.object({
      name: z.string(),
      type: z.string(),
      models: z.array(z.string()),
      /** null until a probe has run. */
      healthy: z.boolean().nullable(),
      latencyMs: z.number().nonnegative().nullable(),
    }),
  ),
})
export type StatusPeer = z.infer<typeof StatusPeer>

/** The whole view. */
export const StatusView = z.object({
  missionControl: z
    .object({ peerId: z.string(), name: z.string(), term: z.number().int().nonnegative() })
    .nullable(),
  self: z.object({ peerId: z.string(), name: z.string() }),
  source: z.enum(['mission-control', 'self']),
  generatedAt: z.number().int(),
  peers: z.array(StatusPeer),
})
export type StatusView = z.infer<typeof StatusView>

/** What the caller knows of a peer's liveness. */
export interface PeerLiveness {
  state: PeerState
  lastSeenMs: number
  inFlight: number
  /** Backend health by backend name. */
  backends?: ReadonlyMap<string, { ok: boolean; latencyMs: number }>
}

/** Inputs of `buildStatusView`. */
export interface StatusInputs {
  manifest: Manifest
  self: { peerId: string; name: string }
  adverts: AdvertBody[]
  liveness: (peerId: string) => PeerLiveness | undefined
  missionControl: { peerId: string; name: string; term: number } | null
  source: 'mission-control' | 'self'
}

/**
 * Builds the view from adverts, keeping only peers the manifest names (and,
 * where a node has a `peer_id`, only that identity).
 */
export function buildStatusView(inputs: StatusInputs): StatusView {
  const nodes = new Map(inputs.manifest.federation.nodes.map((node) => [node.name, node]))
  const peers: StatusPeer[] = []
  for (const advert of inputs.adverts) {
    const node = nodes.get(advert.name)
    if (node === undefined) continue
    if (node.peer_id !== undefined && node.peer_id !== advert.peerId) continue
    // Known from its advert but not heard from yet: not proven alive, not seen to die.
    const liveness = inputs.liveness(advert.peerId) ?? { state: 'suspect', lastSeenMs: 0, inFlight: 0 }
    peers.push({
      peerId: advert.peerId,
      name: advert.name,
      trust: node.trust,
      state: liveness.state,
      lastSeenMs: Math.max(0, Math.round(liveness.lastSeenMs)),
      addrs: advert.addrs,
      inFlight: liveness.inFlight,
      souls: advert.souls
        .filter((soul) => node.souls.includes(soul))
        .map((soul) => ({ name: soul, sensitivity: soulSensitivity(inputs.manifest, soul) })),
      backends: advert.backends.map((backend) => {
        const health = liveness.backends?.get(backend.name)
        return {
          name: backend.name,
          type: backend.type,
          models: backend.models,
          healthy: health?.ok ?? null,
          latencyMs: health?.latencyMs ?? null,
        }
      }),
    })
  }
  peers.sort((a, b) => a.name.localeCompare(b.name))
  return {
    missionControl: inputs.missionControl,
    self: inputs.self,
    source: inputs.source,
    generatedAt: Date.now(),
    peers,
  }
}
