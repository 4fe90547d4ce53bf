/**
 * Publishes this peer's heartbeat on `/clawmesh/health/1` every interval and
 * validates every received one inside gossipsub's topic validator, so a bad
 * message is neither delivered nor forwarded. Accepted heartbeats go to the
 * membership view, attributed by the signed gossipsub `from`, never by the
 * payload.
 *
 * Adaptive period: the Mission Control and its next successors (the first
 * `fastRanks` of the election order) beat every `intervalMs`; every other
 * peer beats every max(intervalMs, alive peers × `periodPerPeerMs`) and
 * announces that period, so receivers scale its suspect/dead timings. A
 * change of leader, term, backend health or period is sent at once. The
 * mesh's message rate is then bounded (about fastRanks / interval +
 * 1 / periodPerPeerMs) instead of growing with N. See docs/health.md.
 */

import type { Message } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { errorMessage } from '../errors.js'
import { createLogger, type Logger } from '../log.js'
import { type ClawmeshNode, HEALTH_TOPIC } from '../net/index.js'
import type { BackendProber } from './backend-prober.js'
import { HealthOptionsError } from './errors.js'
import { decodeHeartbeat, encodeHeartbeat, type Heartbeat, MAX_HEARTBEAT_PERIOD_MS } from './heartbeat.js'
import type { MembershipView } from './membership.js'

/** Why a received heartbeat was dropped. */
export type DropReason = 'unsigned' | 'oversized' | 'malformed' | 'forged' | 'replayed' | 'not-member'

/** Every drop reason, for counters and metrics. */
export const dropReasons: readonly DropReason[] = [
  'unsigned',
  'oversized',
  'malformed',
  'forged',
  'replayed',
  'not-member',
]

/** Counters of the heartbeat service. */
export interface HeartbeatStats {
  sent: number
  /** The heartbeat period this peer uses right now (ms). */
  periodMs: number
  /** Payload bytes published (before gossipsub's envelope and signature). */
  bytesSent: number
  accepted: number
  dropped: Record<DropReason, number>
}

/** The leader and term this peer announces in its heartbeats. */
export interface AnnouncedControl {
  term: number
  leader: string | undefined
  /** This peer's place in the line of succession (0 = leader); undefined = not eligible or unknown. */
  rank?: number | undefined
}

/** Options of `HeartbeatService`; all but `node`, `name` and `membership` optional. */
export interface HeartbeatServiceOptions {
  node: Pick<ClawmeshNode, 'peerId' | 'services' | 'addEventListener' | 'removeEventListener'>
  /** This peer's node name (as the manifest names it). */
  name: string
  membership: MembershipView
  /** Heartbeat period (ms). Default: 1000. */
  intervalMs?: number
  /** Every K-th beat carries the full backend state even if nothing changed. Default: 10. */
  fullStateEvery?: number
  /** Backend health source; without one, heartbeats report no backends. */
  prober?: BackendProber
  /** Requests in flight right now. Default: 0. */
  inFlight?: () => number
  /** The Mission Control state to announce. Default: term 0, no leader. */
  control?: () => AnnouncedControl
  /** Boot epoch (wall clock ms). Default: `Date.now()` at construction. */
  epoch?: number
  /** Gossip topic. Default: `/clawmesh/health/1`. */
  topic?: string
  /** Ranks (0 = Mission Control, 1, 2 = its next successors) that always beat every `intervalMs`. Default: 3. */
  fastRanks?: number
  /** Other peers beat every max(intervalMs, alive peers × this), a whole number of intervals. 0 turns the adaptive period off. Default: 250. */
  periodPerPeerMs?: number
  /** Upper bound of the adaptive period (ms). Default: 30000. */
  maxIntervalMs?: number
}

/** Default heartbeat period (ms). */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1000
/** Default K: a full backend state every K heartbeats. */
export const DEFAULT_FULL_STATE_EVERY = 10
/** Default count of election ranks that beat at the base interval (leader + 2 successors). */
export const DEFAULT_FAST_RANKS = 3
/** Default adaptive period per alive peer (ms): 50 peers → a beat every 13 s from followers. */
export const DEFAULT_PERIOD_PER_PEER_MS = 250
/** Default cap of the adaptive period (ms). */
export const DEFAULT_MAX_INTERVAL_MS = 30_000

/** Sends heartbeats and feeds received ones into the membership view. */
export class HeartbeatService {
  readonly intervalMs: number
  readonly fullStateEvery: number
  readonly epoch: number
  readonly topic: string
  readonly fastRanks: number
  readonly periodPerPeerMs: number
  readonly maxIntervalMs: number
  readonly #options: HeartbeatServiceOptions
  readonly #selfPeerId: string
  readonly #log: Logger
  readonly #started = performance.now()
  readonly #lastSequence = new Map<string, { epoch: number; sequence: number }>()
  readonly #counters: HeartbeatStats
  #sequence = 0
  #backendsChanged = true
  #timer: NodeJS.Timeout | undefined
  #lastBeatAt = Number.NEGATIVE_INFINITY
  #lastAnnounced: { term: number; leader: string | undefined; periodMs: number } | undefined
  #periodMs: number
  #running = false
  readonly #cleanups: Array<() => void> = []

  constructor(options: HeartbeatServiceOptions) {
    this.#options = options
    this.intervalMs = options.intervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS
    this.fullStateEvery = options.fullStateEvery ?? DEFAULT_FULL_STATE_EVERY
    this.epoch = options.epoch ?? Date.now()
    this.topic = options.topic ?? HEALTH_TOPIC
    this.fastRanks = options.fastRanks ?? DEFAULT_FAST_RANKS
    this.periodPerPeerMs = options.periodPerPeerMs ?? DEFAULT_PERIOD_PER_PEER_MS
    this.maxIntervalMs = Math.min(
      MAX_HEARTBEAT_PERIOD_MS,
      Math.max(this.intervalMs, options.maxIntervalMs ?? DEFAULT_MAX_INTERVAL_MS),
    )
    this.#periodMs = this.intervalMs
    if (!(this.intervalMs > 0) || !Number.isInteger(this.fullStateEvery) || this.fullStateEvery < 1) {
      throw new HealthOptionsError('need intervalMs > 0 and an integer fullStateEvery >= 1')
    }
    if (!(this.periodPerPeerMs >= 0) || !Number.isInteger(this.fastRanks) || this.fastRanks < 1) {
      throw new HealthOptionsError('need periodPerPeerMs >= 0 and an integer fastRanks >= 1')
    }
    this.#selfPeerId = options.node.peerId.toString()
    this.#log = createLogger('health', { peer: options.name })
    this.#counters = {
      sent: 0,
      periodMs: this.intervalMs,
      bytesSent: 0,
      accepted: 0,
      dropped: Object.fromEntries(dropReasons.map((reason) => [reason, 0])) as Record<DropReason, number>,
    }
  }

  /** Subscribes, installs the validator, starts the membership checks, the prober and the beat timer. */
  start(): void {
    if (this.#running) return
    this.#running = true
    const { node, membership, prober } = this.#options
    const pubsub = node.services.pubsub
    pubsub.topicValidators.set(this.topic, (_source, message) => this.validate(message))
    pubsub.subscribe(this.topic)
    const onDisconnect = (event: CustomEvent<PeerId>): void =>
      membership.connectionLost(event.detail.toString())
    const onConnect = (event: CustomEvent<PeerId>): void =>
      membership.connectionOpened(event.detail.toString())
    // A newly subscribed peer should learn backend health at once, not K beats later.
    const onSubscription = (
      event: CustomEvent<{ subscriptions: Array<{ topic: string; subscribe: boolean }> }>,
    ) => {
      if (event.detail.subscriptions.some((item) => item.topic === this.topic && item.subscribe)) {
        this.#backendsChanged = true
      }
    }
    node.addEventListener('peer:disconnect', onDisconnect)
    node.addEventListener('peer:connect', onConnect)
    pubsub.addEventListener('subscription-change', onSubscription)
    this.#cleanups.push(
      () => node.removeEventListener('peer:disconnect', onDisconnect),
      () => node.removeEventListener('peer:connect', onConnect),
      () => pubsub.removeEventListener('subscription-change', onSubscription),
    )
    if (prober !== undefined) {
      // A changed backend goes out at once rather than waiting for the next beat.
      this.#cleanups.push(
        prober.subscribe(() => {
          this.#backendsChanged = true
          this.beatNow()
        }),
      )
      prober.start()
    }
    membership.start()
    this.#beat()
  }

  /** Stops sending and validating. Sends no leave message: peers time this one out. */
  stop(): void {
    if (!this.#running) return
    this.#running = false
    clearTimeout(this.#timer)
    this.#timer = undefined
    for (const cleanup of this.#cleanups.splice(0)) cleanup()
    this.#options.prober?.stop()
    this.#options.membership.stop()
    const pubsub = this.#options.node.services.pubsub
    pubsub.topicValidators.delete(this.topic)
    try {
      pubsub.unsubscribe(this.topic)
    } catch {
      // The node may already be stopped.
    }
  }

  /** Sends a heartbeat now (e.g. on a leader or backend change), at most one per quarter interval. */
  beatNow(): void {
    if (!this.#running) return
    const wait = this.#lastBeatAt + this.intervalMs / 4 - performance.now()
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => this.#beat(), Math.max(0, wait))
  }

  /** Counters: sent, accepted, dropped by reason. */
  stats(): HeartbeatStats {
    return { ...this.#counters, periodMs: this.#periodMs, dropped: { ...this.#counters.dropped } }
  }

  /** The period this peer should beat at now, for its election rank and the alive count. */
  wantedPeriodMs(rank: number | undefined): number {
    if (this.periodPerPeerMs === 0 || (rank !== undefined && rank < this.fastRanks)) return this.intervalMs
    const wanted = this.#options.membership.aliveCount() * this.periodPerPeerMs
    // A whole number of intervals, so the tick timer lands on it.
    const intervals = Math.max(1, Math.ceil(wanted / this.intervalMs))
    return Math.min(this.maxIntervalMs, intervals * this.intervalMs)
  }

  // Runs every interval; publishes when the period is up or something announced has changed.
  #tick(): void {
    if (!this.#running) return
    const announced = this.#options.control?.() ?? { term: 0, leader: undefined }
    const period = this.wantedPeriodMs(announced.rank)
    const last = this.#lastAnnounced
    const due =
      this.#backendsChanged ||
      last === undefined ||
      last.term !== announced.term ||
      last.leader !== announced.leader ||
      last.periodMs !== period ||
      performance.now() - this.#lastBeatAt >= period - this.intervalMs / 2
    if (due) {
      this.#beat()
      return
    }
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => this.#tick(), this.intervalMs)
  }

  /** The topic validator: decides Accept/Reject/Ignore and records accepted heartbeats. */
  validate(message: Message): TopicValidatorResult {
    if (message.type !== 'signed') return this.#drop('unsigned', TopicValidatorResult.Reject)
    const decoded = decodeHeartbeat(message.data)
    if (!decoded.ok) return this.#drop(decoded.reason, TopicValidatorResult.Reject)
    const heartbeat = decoded.heartbeat
    const from = message.from.toString()
    // The signed `from` is the only identity we trust; a payload naming anyone else is forged.
    if (heartbeat.peerId !== from) return this.#drop('forged', TopicValidatorResult.Reject)
    if (from === this.#selfPeerId) return this.#drop('replayed', TopicValidatorResult.Ignore)
    const member = this.#options.membership.member(from)
    // Ignore, not Reject: a peer with an older manifest may relay in good faith.
    if (member === undefined) return this.#drop('not-member', TopicValidatorResult.Ignore)
    if (heartbeat.name !== member.name) return this.#drop('forged', TopicValidatorResult.Reject)
    const last = this.#lastSequence.get(from)
    if (
      last !== undefined &&
      (heartbeat.epoch < last.epoch ||
        (heartbeat.epoch === last.epoch && heartbeat.sequence <= last.sequence))
    ) {
      // Ignore, not Reject: gossip may deliver an older beat late along a slower path.
      return this.#drop('replayed', TopicValidatorResult.Ignore)
    }
    this.#lastSequence.set(from, { epoch: heartbeat.epoch, sequence: heartbeat.sequence })
    this.#counters.accepted++
    this.#options.membership.observe(from, heartbeat, member)
    return TopicValidatorResult.Accept
  }

  #drop(reason: DropReason, result: TopicValidatorResult): TopicValidatorResult {
    this.#counters.dropped[reason]++
    this.#log.debug('heartbeat dropped', { reason })
    return result
  }

  #beat(): void {
    if (!this.#running) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => this.#tick(), this.intervalMs)
    this.#lastBeatAt = performance.now()
    this.#sequence++
    const { membership, prober, inFlight, control, name } = this.#options
    const announced = control?.() ?? { term: 0, leader: undefined }
    const period = this.wantedPeriodMs(announced.rank)
    this.#periodMs = period
    this.#lastAnnounced = { term: announced.term, leader: announced.leader, periodMs: period }
    const backends = prober?.snapshot() ?? []
    const full =
      this.#backendsChanged || this.#sequence % this.fullStateEvery === 1 || this.fullStateEvery === 1
    this.#backendsChanged = false
    const inFlightNow = inFlight?.() ?? 0
    membership.updateSelf({ inFlight: inFlightNow, backends, term: announced.term, leader: announced.leader })
    const heartbeat: Heartbeat = {
      peerId: this.#selfPeerId,
      name,
      epoch: this.epoch,
      sequence: this.#sequence,
      uptimeMs: performance.now() - this.#started,
      inFlight: inFlightNow,
      term: announced.term,
    }
    if (announced.leader !== undefined) heartbeat.leader = announced.leader
    if (period > this.intervalMs) heartbeat.periodMs = period
    if (full) {
      const wallNow = Date.now()
      heartbeat.backends = backends.map((backend) => {
        const report = {
          name: backend.name,
          ok: backend.ok,
          latencyMs: backend.latencyMs,
          ageMs: wallNow - backend.checkedAt,
        }
        return backend.error === undefined ? report : { ...report, error: backend.error }
      })
    }
    const data = encodeHeartbeat(heartbeat)
    this.#counters.sent++
    this.#counters.bytesSent += data.byteLength
    this.#options.node.services.pubsub.publish(this.topic, data).catch((error: unknown) => {
      this.#log.debug('heartbeat publish failed', { error: errorMessage(error) })
    })
  }
}
