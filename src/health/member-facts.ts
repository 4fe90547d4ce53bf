/**
 * What other rooms read from the membership view, shaped for them: an
 * owner's gossiped health for the router's owner order, and a peer's
 * liveness for the status view. Structural types, so health imports neither.
 */
import type { MembershipView, PeerState } from './membership.js'

/** Gossiped facts about one owner's backend, when known. */
export interface OwnerFacts {
  /** Backend health from the owner's last heartbeat. */
  healthy?: boolean
  inFlight?: number
  state?: PeerState
}

/** The router's `health`: an owner's state, load and backend health from its last heartbeat. */
export function ownerFacts(membership: MembershipView): (peerId: string, backend: string) => OwnerFacts {
  return (peerId, backend) => {
    const member = membership.get(peerId)
    if (member === undefined) return {}
    const probe = member.backends.find((entry) => entry.name === backend)
    return {
      inFlight: member.inFlight,
      state: member.state,
      ...(probe === undefined ? {} : { healthy: probe.ok }),
    }
  }
}

/** A peer's liveness for the status view. */
export interface MemberLiveness {
  state: PeerState
  lastSeenMs: number
  inFlight: number
  backends: ReadonlyMap<string, { ok: boolean; latencyMs: number }>
}

/** The status view's `liveness`: state, age of the last heartbeat, load and backends; `selfInFlight` for this peer. */
export function memberLiveness(
  membership: MembershipView,
  selfInFlight: () => number,
): (peerId: string) => MemberLiveness | undefined {
  return (peerId) => {
    const member = membership.get(peerId)
    if (member === undefined) return undefined
    return {
      state: member.state,
      lastSeenMs: member.lastSeenMs,
      inFlight: member.self ? selfInFlight() : member.inFlight,
      backends: new Map(member.backends.map((backend) => [backend.name, backend])),
    }
  }
}
