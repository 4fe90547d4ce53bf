/**
 * Tracks who is Mission Control and the term, from the membership view.
 *
 * Term rule: every heartbeat announces the sender's (leader, term). A peer
 * adopts the highest term announced by an alive peer (taking its leader too
 * when the anti-flap rule allows), and raises its term by one whenever its
 * own election changes the leader, unless it is joining a leader already
 * announced at a term above its previous one. So the term rises on every
 * change and all peers with the same view settle on the same (leader, term);
 * a deposed leader sees the higher term and the new leader, and steps down.
 *
 * Anti-flap rule: a peer newly seen, back from suspect/dead, or restarted
 * must stay alive for `stabilizationMs` (doubled for each further return
 * within the flap window, capped) before it can take leadership from a
 * sitting leader that is still alive. With no sitting leader it may lead at once.
 */
import type { MemberSnapshot, MembershipView } from '../health/index.js'
import { type ElectionCandidate, electLeader, rankCandidates } from './election.js'

/** The current Mission Control as this peer sees it. */
export interface ControlState {
  leader: string | undefined
  term: number
}

/** `current()`: the (leader, term) and this peer's place in the line of succession. */
export interface CurrentControl extends ControlState {
  /**
   * 0 when this peer leads, 1 for the next in line, and so on, by the election
   * order of its own view; undefined while it is not eligible. The heartbeat
   * service beats at the base interval only for the first ranks.
   */
  rank: number | undefined
}

/** A change of leader (the term always rises with it). */
export interface LeaderChange extends ControlState {
  previousLeader: string | undefined
  previousTerm: number
}

/** Options of `MissionControl`; all but `membership` optional. */
export interface MissionControlOptions {
  membership: MembershipView
  /** The preferred Mission Control (node name or peer ID), from `federation.control_plane`. */
  preferred?: string | undefined
  /** May a low-trust peer lead while others are alive? Default: false. */
  allowLowTrustLeader?: boolean
  /** Time a newly seen or returning peer must be alive before it can displace a sitting leader. Default: 2000 (two default heartbeats). */
  stabilizationMs?: number
  /** Upper bound of the doubled stabilisation time of a peer that keeps coming back. Default: 16 × stabilizationMs. */
  maxStabilizationMs?: number
  /** How often the election is re-evaluated besides on every membership event. Default: the membership's check interval. */
  evaluateIntervalMs?: number
}

/** The rules of an election that a manifest sets. */
export interface ElectionRules {
  /** The preferred Mission Control (node name or peer ID), from `federation.control_plane`. */
  preferred: string | undefined
  /** May a low-trust peer lead while others are alive? */
  allowLowTrustLeader: boolean
}

/** Listener of leader changes. */
export type LeaderListener = (change: LeaderChange) => void

/** Default anti-flap stabilisation period (ms). */
export const DEFAULT_STABILIZATION_MS = 2000

/** Elects and tracks the Mission Control and its term. */
export class MissionControl {
  readonly stabilizationMs: number
  readonly maxStabilizationMs: number
  readonly #options: MissionControlOptions
  #rules: ElectionRules
  readonly #listeners = new Set<LeaderListener>()
  #state: ControlState = { leader: undefined, term: 0 }
  #rank: number | undefined
  #leaderChanges = 0
  #timer: NodeJS.Timeout | undefined
  #unsubscribe: (() => void) | undefined

  constructor(options: MissionControlOptions) {
    this.#options = options
    this.#rules = { preferred: options.preferred, allowLowTrustLeader: options.allowLowTrustLeader ?? false }
    this.stabilizationMs = options.stabilizationMs ?? DEFAULT_STABILIZATION_MS
    this.maxStabilizationMs = options.maxStabilizationMs ?? 16 * this.stabilizationMs
  }

  /** Evaluates now, then on every membership event and on a timer. */
  start(): void {
    if (this.#timer !== undefined) return
    this.#unsubscribe = this.#options.membership.subscribe(() => this.evaluate())
    this.#timer = setInterval(
      () => this.evaluate(),
      this.#options.evaluateIntervalMs ?? this.#options.membership.checkIntervalMs,
    )
    this.#timer.unref?.()
    this.evaluate()
  }

  /** Stops evaluating. */
  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
  }

  /** The current (leader, term); pass this as the heartbeat service's `control`. */
  current(): CurrentControl {
    return { ...this.#state, rank: this.#rank }
  }

  /** The Mission Control's peer ID, name and term, or undefined before the first election. */
  missionControl(): { peerId: string; name: string; term: number } | undefined {
    const leader = this.#state.leader
    if (leader === undefined) return undefined
    const name = this.#options.membership.get(leader)?.name ?? leader
    return { peerId: leader, name, term: this.#state.term }
  }

  /** True when this peer is Mission Control. */
  isLeader(): boolean {
    return this.#state.leader === this.#options.membership.selfPeerId
  }

  /** How many times the leader changed since start (flap counter). */
  get changes(): number {
    return this.#leaderChanges
  }

  /** Registers a leader-change listener; returns its remover. */
  subscribe(listener: LeaderListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * Replaces the election rules (a newer manifest changed `control_plane` or
   * `election.allow_low_trust_leader`) and re-elects at once, so peers that
   * restarted and peers that did not rank candidates the same way.
   */
  setRules(rules: ElectionRules): void {
    this.#rules = { preferred: rules.preferred, allowLowTrustLeader: rules.allowLowTrustLeader }
    if (this.#timer !== undefined) this.evaluate()
  }

  /** Re-runs the term and election rules against the current membership snapshot. */
  evaluate(): void {
    const snapshot = this.#options.membership.snapshot()
    const candidates = snapshot.map((member) => this.#toCandidate(member))
    const ranked = rankCandidates(candidates, this.#rules)
    const previous = this.#state
    let { leader, term } = previous
    const sittingEligible = ranked.some((candidate) => candidate.peerId === leader)

    // 1. Adopt the highest term an alive peer announces.
    const announcements = snapshot.filter((member) => !member.self && member.state === 'alive')
    const maxTerm = announcements.reduce((max, member) => Math.max(max, member.term), 0)
    if (maxTerm > term) {
      term = maxTerm
      const announced = new Set(announcements.filter((m) => m.term === maxTerm).map((m) => m.leader))
      // Take the announced leader only if our own rules would keep it: no stable better peer in
      // our view, and (anti-flap) it is stable or our sitting leader is gone.
      const adoptable = ranked.find(
        (candidate) =>
          announced.has(candidate.peerId) &&
          (candidate.stable || !sittingEligible || candidate.peerId === leader) &&
          electLeader(candidates, { ...this.#rules, sitting: candidate.peerId }) === candidate.peerId,
      )
      if (adoptable !== undefined) leader = adoptable.peerId
    }

    // 2. Our own deterministic election, with the anti-flap rule.
    const winner = electLeader(candidates, { ...this.#rules, sitting: leader })
    if (winner !== leader) {
      const joinable =
        term > previous.term &&
        announcements.some((member) => member.leader === winner && member.term === term)
      leader = winner
      if (!joinable) term++
    }

    this.#state = { leader, term }
    const self = this.#options.membership.selfPeerId
    if (leader === self) this.#rank = 0
    else {
      const position = ranked
        .filter((candidate) => candidate.peerId !== leader)
        .findIndex((c) => c.peerId === self)
      this.#rank = position < 0 ? undefined : position + 1
    }
    this.#options.membership.updateSelf({ term, leader })
    if (leader !== previous.leader) {
      this.#leaderChanges++
      const change: LeaderChange = {
        leader,
        term,
        previousLeader: previous.leader,
        previousTerm: previous.term,
      }
      for (const listener of this.#listeners) listener(change)
    }
  }

  #toCandidate(member: MemberSnapshot): ElectionCandidate {
    const required = Math.min(
      this.maxStabilizationMs,
      this.stabilizationMs * 2 ** Math.max(0, member.recentReturns - 1),
    )
    return {
      peerId: member.peerId,
      name: member.name,
      trust: member.trust,
      state: member.state,
      stable: member.aliveForMs >= required,
    }
  }
}
