/**
 * Mission Control election: a pure, deterministic function of the
 * membership view. Alive peers are ranked by the preferred `control_plane`
 * first, then higher trust, then the lowest peer ID (plain string order of
 * the base58 text). Low-trust peers may not lead unless allowed, or unless no
 * other peer is alive (a mesh of only low-trust peers still gets a leader).
 */
import { type TrustLevel, trustLevels } from '../config/schema.js'
import type { PeerState } from '../health/index.js'

/** One peer as the election sees it. */
export interface ElectionCandidate {
  peerId: string
  name: string
  trust: TrustLevel
  state: PeerState
  /** Alive long enough to take leadership from a sitting leader (see `stabilizationMs`). */
  stable: boolean
}

/** Inputs of the election besides the candidates. */
export interface ElectionOptions {
  /** The preferred Mission Control: a node name or a peer ID (from `federation.control_plane`). */
  preferred?: string | undefined
  /** May a low-trust peer lead while a medium or high one is alive? Default: false. */
  allowLowTrustLeader?: boolean
  /** The current leader: a candidate that is not `stable` cannot take over from it while it is alive. */
  sitting?: string | undefined
}

/** Alive peers that may lead, best first. */
export function rankCandidates(
  candidates: readonly ElectionCandidate[],
  options: ElectionOptions = {},
): ElectionCandidate[] {
  const alive = candidates.filter((candidate) => candidate.state === 'alive')
  const trusted = options.allowLowTrustLeader ? alive : alive.filter((candidate) => candidate.trust !== 'low')
  // Only low-trust peers alive: one of them leads rather than none (documented in docs/health.md).
  const eligible = trusted.length > 0 ? trusted : alive
  return eligible.sort((a, b) => compareCandidates(a, b, options.preferred))
}

/** The peer that should be Mission Control, or undefined when no peer is alive. */
export function electLeader(
  candidates: readonly ElectionCandidate[],
  options: ElectionOptions = {},
): string | undefined {
  const ranked = rankCandidates(candidates, options)
  const sitting = ranked.find((candidate) => candidate.peerId === options.sitting)
  if (sitting === undefined) return ranked[0]?.peerId
  // Anti-flap: while the sitting leader is alive and eligible, only a stable better peer displaces it.
  return ranked.find((candidate) => candidate.stable || candidate === sitting)?.peerId
}

/** Negative when `a` ranks before `b`. */
export function compareCandidates(
  a: ElectionCandidate,
  b: ElectionCandidate,
  preferred?: string | undefined,
): number {
  const aPreferred = isPreferred(a, preferred)
  const bPreferred = isPreferred(b, preferred)
  if (aPreferred !== bPreferred) return aPreferred ? -1 : 1
  const trust = trustLevels.indexOf(b.trust) - trustLevels.indexOf(a.trust)
  if (trust !== 0) return trust
  return a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0
}

function isPreferred(candidate: ElectionCandidate, preferred: string | undefined): boolean {
  return preferred !== undefined && (candidate.name === preferred || candidate.peerId === preferred)
}
