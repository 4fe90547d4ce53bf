/**
 * Keeps strangers out. A peer whose identity is not a member of the
 * manifest gets no service and is disconnected: at the Noise handshake when
 * every node's `peer_id` is pinned (its key is known before it says a word),
 * otherwise after a grace period in which a new member must present its
 * signed advert (trust on first use). A disconnected stranger is banned for
 * a while, so it cannot reconnect in a loop.
 */
import type { ConnectionGater, PeerId } from '@libp2p/interface'
import type { Logger } from '../log.js'
import type { ClawmeshNode } from './create-node.js'

/** Options of the gatekeeper. */
export interface GatekeeperOptions {
  /** True when the peer is a member now. */
  isMember: (peerId: string) => boolean
  /** Every manifest node pins `peer_id`: strangers are refused at the handshake. */
  allPinned: boolean
  /** How long an unknown peer may stay connected to present its advert. Default: 5 s. */
  graceMs?: number
  /** How long an expelled peer is refused. Default: 60 s. */
  banMs?: number
  log: Logger
}

/** Refuses and disconnects non-members. */
export class Gatekeeper {
  readonly #banned = new Map<string, number>()
  #timer: NodeJS.Timeout | undefined
  #node: ClawmeshNode | undefined
  readonly #graceMs: number
  readonly #banMs: number
  /** Connections closed because their peer was not a member. */
  expelled = 0

  readonly #options: GatekeeperOptions

  constructor(options: GatekeeperOptions) {
    this.#options = options
    this.#graceMs = options.graceMs ?? 5_000
    this.#banMs = options.banMs ?? 60_000
  }

  /** The libp2p connection gater (give it to `createNode`). */
  gater(): ConnectionGater {
    const refuse = (peerId: PeerId): boolean => {
      const id = peerId.toString()
      if (this.#isBanned(id)) return true
      return this.#options.allPinned && !this.#options.isMember(id)
    }
    return {
      denyInboundEncryptedConnection: async (peerId) => refuse(peerId),
      denyOutboundEncryptedConnection: async (peerId) => refuse(peerId),
      denyDialPeer: async (peerId) => this.#isBanned(peerId.toString()),
    }
  }

  /** Starts checking the node's connections every second. */
  start(node: ClawmeshNode): void {
    this.#node = node
    this.#timer = setInterval(() => this.#sweep(), Math.min(1_000, this.#graceMs))
    this.#timer.unref()
  }

  /** Stops the checks. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Bans `peerId` and closes its connections now (a stranger, or a revoked member). */
  expel(peerId: string, reason: string): void {
    this.#banned.set(peerId, Date.now() + this.#banMs)
    const connections =
      this.#node?.getConnections().filter((connection) => connection.remotePeer.toString() === peerId) ?? []
    if (connections.length === 0) return
    this.expelled += connections.length
    this.#options.log.warn('disconnecting a peer that is not a member', { peer: peerId, reason })
    for (const connection of connections) {
      // abort() resets every stream at once: in-flight requests of that peer end now.
      connection.abort(new Error(`not a member: ${reason}`))
    }
  }

  #isBanned(peerId: string): boolean {
    const until = this.#banned.get(peerId)
    if (until === undefined) return false
    if (until > Date.now()) return true
    this.#banned.delete(peerId)
    return false
  }

  #sweep(): void {
    const now = Date.now()
    for (const connection of this.#node?.getConnections() ?? []) {
      const peerId = connection.remotePeer.toString()
      if (this.#options.isMember(peerId)) continue
      if (now - connection.timeline.open < this.#graceMs) continue
      this.expel(peerId, `presented no member advert within ${this.#graceMs} ms`)
    }
  }
}
