/**
 * The membership view: every member peer heard from, with its failure
 * detector state. alive → suspect after `suspectAfterMs` of silence → dead
 * after `deadAfterMs`; any accepted heartbeat makes a peer alive again. A lost
 * connection is only a hint: it lets a silent peer turn suspect sooner
 * (`hintSuspectAfterMs`) but never makes it dead.
 */
import type { TrustLevel } from '../config/schema.js'
import type { BackendHealth } from './backend-prober.js'
import { HealthOptionsError } from './errors.js'
import type { Heartbeat } from './heartbeat.js'

/** Failure-detector state of a peer. */
export type PeerState = 'alive' | 'suspect' | 'dead'

/** What the manifest says about a member. */
export interface MemberInfo {
  name: string
  trust: TrustLevel
}

/** Looks a peer up in the federation's membership list; undefined for non-members. */
export type IsMember = (peerId: string) => MemberInfo | undefined

/** One peer as the view sees it now. */
export interface MemberSnapshot {
  peerId: string
  /** From the manifest (never from the heartbeat). */
  name: string
  /** From the manifest (never from the heartbeat). */
  trust: TrustLevel
  state: PeerState
  /** Age in ms of the last heartbeat heard; 0 for self. */
  lastSeenMs: number
  /** How long the peer has been continuously alive in this view (ms); 0 unless alive. */
  aliveForMs: number
  /** Times it came back (from suspect/dead, or restarted) within the flap window. */
  recentReturns: number
  inFlight: number
  backends: BackendHealth[]
  /** The Mission Control term the peer last announced. */
  term: number
  /** The Mission Control the peer last announced. */
  leader: string | undefined
  /** True for the local peer. */
  self: boolean
  /** The heartbeat period the peer last announced (ms), if it beats slower than its base interval. */
  periodMs?: number
  /** Silence after which this peer turns suspect (ms): `suspectAfterMs`, scaled up for a slow announced period. */
  suspectAfterMs: number
}

/** A change the view reports to its subscribers. */
export type MembershipEvent =
  | { type: 'state'; peerId: string; name: string; from: PeerState | undefined; to: PeerState }
  | { type: 'heartbeat'; peerId: string; term: number; leader: string | undefined }

/** Options of `MembershipView`; timings in ms. */
export interface MembershipOptions {
  self: { peerId: string } & MemberInfo
  isMember: IsMember
  /** Silence after which a peer is suspect. Default: 3000. */
  suspectAfterMs?: number
  /** Silence after which a peer is dead. Default: 6000. */
  deadAfterMs?: number
  /** Silence after which a peer whose connection closed is suspect. Default: suspectAfterMs / 2. */
  hintSuspectAfterMs?: number
  /** How often silence is checked. Default: suspectAfterMs / 12 (250 ms at the defaults). */
  checkIntervalMs?: number
  /**
   * A peer that announces a heartbeat period P is suspect only after
   * max(suspectAfterMs, suspectAfterBeats × P) of silence. Default: 3.
   */
  suspectAfterBeats?: number
  /** Likewise dead after max(deadAfterMs, deadAfterBeats × P). Default: 6. */
  deadAfterBeats?: number
  /** Window in which a peer's returns are counted (anti-flap). Default: 10 × deadAfterMs. */
  flapWindowMs?: number
  /** Monotonic clock in ms. Default: `performance.now`. */
  now?: () => number
}

/** Default silence before suspect (ms). */
export const DEFAULT_SUSPECT_AFTER_MS = 3000
/** Default silence before dead (ms). */
export const DEFAULT_DEAD_AFTER_MS = 6000

/** Default missed announced periods before suspect. */
export const DEFAULT_SUSPECT_AFTER_BEATS = 3
/** Default missed announced periods before dead. */
export const DEFAULT_DEAD_AFTER_BEATS = 6

/** Returns remembered per peer (bounds memory; enough to cap the anti-flap backoff). */
const MAX_RETURNS_KEPT = 16

interface Entry {
  peerId: string
  info: MemberInfo
  state: PeerState
  lastHeard: number
  aliveSince: number
  epoch: number
  returns: number[]
  inFlight: number
  backends: BackendHealth[]
  term: number
  leader: string | undefined
  disconnected: boolean
  /** Announced heartbeat period (ms), undefined for a peer at the base interval. */
  periodMs: number | undefined
}

/** Listener of membership changes. */
export type MembershipListener = (event: MembershipEvent) => void

/** Tracks member peers from accepted heartbeats and times them out. */
export class MembershipView {
  readonly selfPeerId: string
  suspectAfterMs: number
  deadAfterMs: number
  hintSuspectAfterMs: number
  readonly checkIntervalMs: number
  flapWindowMs: number
  readonly suspectAfterBeats: number
  readonly deadAfterBeats: number
  readonly #isMember: IsMember
  readonly #now: () => number
  readonly #entries = new Map<string, Entry>()
  readonly #listeners = new Set<MembershipListener>()
  #timer: NodeJS.Timeout | undefined
  readonly #hintFollowsSuspect: boolean
  readonly #flapFollowsDead: boolean

  constructor(options: MembershipOptions) {
    this.#isMember = options.isMember
    this.#now = options.now ?? (() => performance.now())
    this.suspectAfterMs = options.suspectAfterMs ?? DEFAULT_SUSPECT_AFTER_MS
    this.deadAfterMs = options.deadAfterMs ?? DEFAULT_DEAD_AFTER_MS
    this.hintSuspectAfterMs = options.hintSuspectAfterMs ?? this.suspectAfterMs / 2
    this.checkIntervalMs = options.checkIntervalMs ?? Math.max(10, this.suspectAfterMs / 12)
    this.flapWindowMs = options.flapWindowMs ?? 10 * this.deadAfterMs
    this.suspectAfterBeats = options.suspectAfterBeats ?? DEFAULT_SUSPECT_AFTER_BEATS
    this.deadAfterBeats = options.deadAfterBeats ?? DEFAULT_DEAD_AFTER_BEATS
    if (!(this.suspectAfterBeats > 0) || !(this.deadAfterBeats > this.suspectAfterBeats)) {
      throw new HealthOptionsError('need 0 < suspectAfterBeats < deadAfterBeats')
    }
    if (!(this.suspectAfterMs > 0) || !(this.deadAfterMs > this.suspectAfterMs)) {
      throw new HealthOptionsError('need 0 < suspectAfterMs < deadAfterMs')
    }
    this.selfPeerId = options.self.peerId
    this.#hintFollowsSuspect = options.hintSuspectAfterMs === undefined
    this.#flapFollowsDead = options.flapWindowMs === undefined
    const now = this.#now()
    this.#entries.set(options.self.peerId, {
      peerId: options.self.peerId,
      info: { name: options.self.name, trust: options.self.trust },
      state: 'alive',
      lastHeard: now,
      aliveSince: now,
      epoch: 0,
      returns: [],
      inFlight: 0,
      backends: [],
      term: 0,
      leader: undefined,
      disconnected: false,
      periodMs: undefined,
    })
  }
  /**
   * Applies a newer manifest's failure-detector timings from the next check
   * on (the check interval keeps its start-up value). Refused, keeping the old
   * ones, unless 0 < suspectAfterMs < deadAfterMs.
   */
  setTimings(timings: { suspectAfterMs: number; deadAfterMs: number }): void {
    if (!(timings.suspectAfterMs > 0) || !(timings.deadAfterMs > timings.suspectAfterMs)) {
      throw new HealthOptionsError('need 0 < suspectAfterMs < deadAfterMs')
    }
    this.suspectAfterMs = timings.suspectAfterMs
    this.deadAfterMs = timings.deadAfterMs
    if (this.#hintFollowsSuspect) this.hintSuspectAfterMs = timings.suspectAfterMs / 2
    if (this.#flapFollowsDead) this.flapWindowMs = 10 * timings.deadAfterMs
  }

  /** Starts the silence checks. */
  start(): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => this.check(), this.checkIntervalMs)
    this.#timer.unref?.()
  }

  /** Stops the silence checks. */
  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Registers a listener; returns its remover. */
  subscribe(listener: MembershipListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Looks a peer up in the membership list (the caller's `isMember`). */
  member(peerId: string): MemberInfo | undefined {
    return peerId === this.selfPeerId ? this.#entries.get(peerId)?.info : this.#isMember(peerId)
  }

  /**
   * Records an accepted heartbeat from `peerId` (already validated and
   * attributed by the caller). `member` is the manifest's entry for it.
   */
  observe(peerId: string, heartbeat: Heartbeat, member: MemberInfo): void {
    if (peerId === this.selfPeerId) return
    const now = this.#now()
    let entry = this.#entries.get(peerId)
    let from: PeerState | undefined
    if (entry === undefined) {
      entry = {
        peerId,
        info: member,
        state: 'alive',
        lastHeard: now,
        aliveSince: now,
        epoch: heartbeat.epoch,
        returns: [],
        inFlight: 0,
        backends: [],
        term: 0,
        leader: undefined,
        disconnected: false,
        periodMs: undefined,
      }
      this.#entries.set(peerId, entry)
    } else {
      from = entry.state
      if (entry.state !== 'alive' || entry.epoch !== heartbeat.epoch) {
        // Back from silence, or restarted: it must prove itself stable again (anti-flap).
        entry.aliveSince = now
        entry.returns.push(now)
        if (entry.returns.length > MAX_RETURNS_KEPT) entry.returns.shift()
      }
    }
    entry.info = member
    entry.state = 'alive'
    entry.lastHeard = now
    entry.epoch = heartbeat.epoch
    entry.disconnected = false
    entry.inFlight = heartbeat.inFlight
    entry.term = heartbeat.term
    entry.leader = heartbeat.leader
    entry.periodMs = heartbeat.periodMs
    if (heartbeat.backends !== undefined) {
      const wallNow = Date.now()
      entry.backends = heartbeat.backends.map((report) => {
        const health: BackendHealth = {
          name: report.name,
          ok: report.ok,
          latencyMs: report.latencyMs,
          checkedAt: wallNow - report.ageMs,
        }
        if (report.error !== undefined) health.error = report.error
        return health
      })
    }
    if (from !== 'alive') this.#emit({ type: 'state', peerId, name: member.name, from, to: 'alive' })
    this.#emit({ type: 'heartbeat', peerId, term: heartbeat.term, leader: heartbeat.leader })
  }

  /** Updates the local peer's own entry (it is always alive). */
  updateSelf(update: {
    inFlight?: number
    backends?: BackendHealth[]
    term?: number
    leader?: string | undefined
  }): void {
    const entry = this.#entries.get(this.selfPeerId)!
    entry.lastHeard = this.#now()
    if (update.inFlight !== undefined) entry.inFlight = update.inFlight
    if (update.backends !== undefined) entry.backends = update.backends
    if (update.term !== undefined) entry.term = update.term
    if ('leader' in update) entry.leader = update.leader
  }

  /** Hint: the connection to `peerId` closed. Speeds up suspicion; never marks dead by itself. */
  connectionLost(peerId: string): void {
    const entry = this.#entries.get(peerId)
    if (entry === undefined || peerId === this.selfPeerId) return
    entry.disconnected = true
    this.check()
  }

  /** Hint: a connection to `peerId` opened again. */
  connectionOpened(peerId: string): void {
    const entry = this.#entries.get(peerId)
    if (entry !== undefined) entry.disconnected = false
  }

  /** Re-evaluates every peer's silence now (also runs on a timer). */
  check(): void {
    const now = this.#now()
    for (const entry of this.#entries.values()) {
      if (entry.peerId === this.selfPeerId) continue
      const silence = now - entry.lastHeard
      const suspectAfter = this.#suspectAfterFor(entry)
      let state: PeerState = 'alive'
      if (silence >= this.#deadAfterFor(entry)) state = 'dead'
      else if (
        silence >= suspectAfter ||
        (entry.disconnected && silence >= (suspectAfter * this.hintSuspectAfterMs) / this.suspectAfterMs)
      ) {
        state = 'suspect'
      }
      // Silence only ever worsens a state here; only a heartbeat makes a peer alive again.
      if (state !== entry.state && rank(state) > rank(entry.state)) {
        const from = entry.state
        entry.state = state
        this.#emit({ type: 'state', peerId: entry.peerId, name: entry.info.name, from, to: state })
      }
    }
  }

  /** How many peers (self included) are alive in this view. */
  aliveCount(): number {
    let count = 0
    for (const entry of this.#entries.values()) if (entry.state === 'alive') count++
    return count
  }

  /** One peer's current view, or undefined if never heard from. */
  get(peerId: string): MemberSnapshot | undefined {
    const entry = this.#entries.get(peerId)
    return entry === undefined ? undefined : this.#toSnapshot(entry, this.#now())
  }

  /** Every peer heard from (self included), ordered by name then peer ID. */
  snapshot(): MemberSnapshot[] {
    const now = this.#now()
    return [...this.#entries.values()]
      .map((entry) => this.#toSnapshot(entry, now))
      .sort((a, b) => (a.name === b.name ? compare(a.peerId, b.peerId) : compare(a.name, b.name)))
  }

  #toSnapshot(entry: Entry, now: number): MemberSnapshot {
    const self = entry.peerId === this.selfPeerId
    while (entry.returns.length > 0 && now - entry.returns[0]! > this.flapWindowMs) entry.returns.shift()
    return {
      peerId: entry.peerId,
      name: entry.info.name,
      trust: entry.info.trust,
      state: entry.state,
      lastSeenMs: self ? 0 : Math.max(0, Math.round(now - entry.lastHeard)),
      aliveForMs: entry.state === 'alive' ? Math.max(0, now - entry.aliveSince) : 0,
      recentReturns: entry.returns.length,
      inFlight: entry.inFlight,
      backends: entry.backends.map((backend) => ({ ...backend })),
      term: entry.term,
      leader: entry.leader,
      self,
      ...(entry.periodMs === undefined ? {} : { periodMs: entry.periodMs }),
      suspectAfterMs: this.#suspectAfterFor(entry),
    }
  }

  // A peer beating every P ms is judged by missed beats, never faster than the configured timings.
  #suspectAfterFor(entry: Entry): number {
    return Math.max(this.suspectAfterMs, this.suspectAfterBeats * (entry.periodMs ?? 0))
  }

  #deadAfterFor(entry: Entry): number {
    return Math.max(this.deadAfterMs, this.deadAfterBeats * (entry.periodMs ?? 0))
  }

  #emit(event: MembershipEvent): void {
    for (const listener of this.#listeners) listener(event)
  }
}

function rank(state: PeerState): number {
  return state === 'alive' ? 0 : state === 'suspect' ? 1 : 2
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
