/**
 * Ranks the owners of one backend for one request: only those the trust
 * rules allow, healthy before unknown before unhealthy, then least in
 * flight, then already connected, then by peer ID so every peer agrees.
 */
import type { TrustLevel } from '../config/schema.js'
import type { TrustError } from './errors.js'
import { checkCallerAllowed, checkSoulMayUse } from './trust-policy.js'

/** One peer that owns the wanted backend. */
export interface OwnerCandidate {
  /** Peer ID (a `PeerId` or its string form); the tie-breaker. */
  peerId: { toString(): string }
  /** Node name from the manifest. */
  name: string
  /** The owner's trust from the manifest. */
  trust: TrustLevel
  /** Backend health from gossip; `undefined` when unknown. */
  healthy?: boolean
  /** Requests in flight on the owner, from gossip. */
  inFlight?: number
  /** A connection to the owner is open now. */
  connected: boolean
  /** The backend's `min_trust` (default: the owner's trust); checked when `callerTrust` is given. */
  backendMinTrust?: TrustLevel
}

/** What the ranking needs to know about the request. */
export interface RankOptions {
  /** The soul's sensitivity: owners below it are dropped (data rule). */
  sensitivity: TrustLevel
  /** The soul, for refusal messages. */
  soul?: string
  /** The calling peer's trust: owners whose backend requires more are dropped (resource rule). */
  callerTrust?: TrustLevel
  /** The calling peer's name, for refusal messages. */
  caller?: string
  /** The backend, for refusal messages. */
  backend?: string
}

/** Ranked eligible owners, and the ones the trust rules refused (with the rule, for a 403). */
export interface RankedOwners<C extends OwnerCandidate> {
  eligible: C[]
  refused: { candidate: C; error: TrustError }[]
}

function healthRank(candidate: OwnerCandidate): number {
  if (candidate.healthy === true) return 0
  return candidate.healthy === undefined ? 1 : 2
}

/** Orders `candidates` best first after dropping the ones the trust rules forbid. */
export function rankOwners<C extends OwnerCandidate>(
  candidates: readonly C[],
  options: RankOptions,
): RankedOwners<C> {
  const eligible: C[] = []
  const refused: { candidate: C; error: TrustError }[] = []
  for (const candidate of candidates) {
    try {
      checkSoulMayUse({
        soulSensitivity: options.sensitivity,
        ownerTrust: candidate.trust,
        owner: candidate.name,
        ...(options.soul === undefined ? {} : { soul: options.soul }),
      })
      if (options.callerTrust !== undefined) {
        checkCallerAllowed({
          callerTrust: options.callerTrust,
          backendMinTrust: candidate.backendMinTrust ?? candidate.trust,
          owner: candidate.name,
          ...(options.caller === undefined ? {} : { caller: options.caller }),
          ...(options.backend === undefined ? {} : { backend: options.backend }),
        })
      }
      eligible.push(candidate)
    } catch (error) {
      refused.push({ candidate, error: error as TrustError })
    }
  }
  eligible.sort(
    (a, b) =>
      healthRank(a) - healthRank(b) ||
      (a.inFlight ?? 0) - (b.inFlight ?? 0) ||
      Number(b.connected) - Number(a.connected) ||
      compare(a.peerId.toString(), b.peerId.toString()),
  )
  return { eligible, refused }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
