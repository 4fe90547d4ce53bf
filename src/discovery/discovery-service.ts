/**
 * Publishes this peer's advert on the private DHT (now, on every change, and
 * periodically), keeps the advert store fresh, dials every peer it learns of
 * (federations are small: a full mesh keeps gossip and routing one hop), and
 * answers "who owns soul X" / "who offers backend Y".
 */
import type { Connection, PeerId, PrivateKey, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { ClawmeshError, errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import { DHT_PROTOCOL } from '../net/constants.js'
import type { ClawmeshNode } from '../net/create-node.js'
import {
  type AdvertBackend,
  type AdvertBody,
  advertKey,
  decodeAdvert,
  encodeAdvert,
  MAX_ADVERT_BYTES,
  nextSequence,
} from './advert.js'
import type { AdvertStore } from './advert-store.js'

/**
 * Direct advert exchange with a connected peer (a peer exchange): the server
 * writes its own signed advert, then every other signed advert it holds, one
 * length-prefixed frame each, and closes. Each advert is signed by its owner,
 * so relaying cannot forge one; the reader verifies every frame by exactly the
 * DHT rules (signature, key, sequence). A joining peer learns the whole
 * federation from its bootstrap peer in one round trip; the DHT stays the
 * source for peers not reachable that way.
 */
export const ADVERT_PROTOCOL = '/clawmesh/advert/1.0.0'
/** Most adverts relayed in one exchange. */
export const MAX_RELAYED_ADVERTS = 1024

/** Asked for our advert before the first one was signed. */
export class AdvertUnavailableError extends ClawmeshError {
  static override name = 'AdvertUnavailableError'
  constructor(message = 'no advert published yet') {
    super('ADVERT_UNAVAILABLE', message)
  }
}

/** What the peer says about itself; the service adds identity, sequence and addresses. */
export interface SelfDescription {
  name: string
  souls: string[]
  backends: AdvertBackend[]
  api?: string
}

/** Options of the discovery service. */
export interface DiscoveryServiceOptions {
  node: ClawmeshNode
  privateKey: PrivateKey
  store: AdvertStore
  describe: () => SelfDescription
  log: Logger
  /** Republish period. Default: 30 s. */
  republishIntervalMs?: number
  /** Period of the sweep that fetches missing or old adverts. Default: 5 s. */
  sweepIntervalMs?: number
  /** Addresses (multiaddrs, with or without /p2p/) to keep dialling until connected. */
  joinAddrs?: Multiaddr[]
  /** Serves the federation's adverts only to peers this accepts. Default: everyone. */
  isMember?: (peerId: PeerId) => boolean
  /** Refuses to dial or fetch from peers this returns false for. Default: all. */
  isWanted?: (peerId: PeerId) => boolean
}

/** Result of one publish. */
export interface PublishResult {
  seq: number
  /** Remote peers that stored the record. 0 means only we hold it. */
  storedBy: number
}

/** The discovery service of one peer. */
export class DiscoveryService {
  #seq = 0
  #timers: NodeJS.Timeout[] = []
  #publishing: Promise<PublishResult> | undefined
  #publishAgain = false
  readonly #fetching = new Map<string, Promise<AdvertBody | undefined>>()
  readonly #lastFetched = new Map<string, number>()
  #encoded: Uint8Array | undefined
  #forcedSweep: Promise<void> | undefined
  readonly #joinBackoff = new Map<string, { delay: number; next: number }>()
  #lastForcedSweep = 0
  #stopped = true
  /** Remote peers that stored our last advert; 0 triggers a republish when a DHT peer appears. */
  #lastStoredBy = 0
  readonly #republishIntervalMs: number
  readonly #sweepIntervalMs: number

  readonly #options: DiscoveryServiceOptions

  constructor(options: DiscoveryServiceOptions) {
    this.#options = options
    this.#republishIntervalMs = options.republishIntervalMs ?? 30_000
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 5_000
  }

  /** Starts publishing, joining and sweeping. */
  async start(): Promise<void> {
    this.#stopped = false
    const { node } = this.#options
    // Signed before the protocol is served: the exchange opens with the caller's own advert.
    await this.#signOwn()
    await node.handle(ADVERT_PROTOCOL, this.#serveAdvert, { maxInboundStreams: 64 })
    node.addEventListener('peer:identify', this.#onIdentify)
    node.addEventListener('peer:discovery', this.#onDiscovery)
    this.#options.store.on('change', this.#onAdvert)
    this.#timers.push(setInterval(() => void this.publishSoon(), this.#republishIntervalMs))
    this.#timers.push(setInterval(() => void this.sweep(), this.#sweepIntervalMs))
    this.#timers.push(setInterval(() => void this.#join(), 250))
    await this.#join()
    // Publishing waits on DHT walks; the peer is usable before it ends.
    void this.publishSoon()
  }

  /** Stops timers and listeners. */
  async stop(): Promise<void> {
    this.#stopped = true
    const { node } = this.#options
    node.removeEventListener('peer:identify', this.#onIdentify)
    node.removeEventListener('peer:discovery', this.#onDiscovery)
    this.#options.store.off('change', this.#onAdvert)
    await node.unhandle(ADVERT_PROTOCOL).catch(() => undefined)
    for (const timer of this.#timers) clearInterval(timer)
    this.#timers = []
    await this.#publishing?.catch(() => undefined)
  }

  /** Republishes now (coalescing calls made while a publish is running). */
  publishSoon(): Promise<PublishResult> {
    if (this.#publishing !== undefined) {
      this.#publishAgain = true
      return this.#publishing
    }
    this.#publishing = this.#publishLoop().finally(() => {
      this.#publishing = undefined
    })
    return this.#publishing
  }

  /** Peers advertising soul `name`, fetching missing adverts first on a miss. */
  async ownersOfSoul(name: string): Promise<AdvertBody[]> {
    const found = this.#options.store.ownersOfSoul(name)
    if (found.length > 0) return found
    await this.#refreshOnMiss()
    return this.#options.store.ownersOfSoul(name)
  }

  /** Peers advertising backend `name`, fetching missing adverts first on a miss. */
  async ownersOfBackend(name: string): Promise<AdvertBody[]> {
    const found = this.#options.store.ownersOfBackend(name)
    if (found.length > 0) return found
    await this.#refreshOnMiss()
    return this.#options.store.ownersOfBackend(name)
  }

  /** Fetches the newest advert of `peerId` from the DHT (deduplicated per peer). */
  fetchAdvert(peerId: PeerId, options: { signal?: AbortSignal } = {}): Promise<AdvertBody | undefined> {
    const id = peerId.toString()
    const running = this.#fetching.get(id)
    if (running !== undefined) return running
    const fetch = this.#fetchOnce(peerId, options).finally(() => this.#fetching.delete(id))
    this.#fetching.set(id, fetch)
    return fetch
  }

  /**
   * On a look-up miss: one sweep of every known peer, shared by concurrent
   * callers and at most one per second, so a burst of misses cannot flood the DHT.
   */
  #refreshOnMiss(): Promise<void> {
    if (this.#forcedSweep !== undefined) return this.#forcedSweep
    if (Date.now() - this.#lastForcedSweep < 1_000) return Promise.resolve()
    this.#forcedSweep = this.sweep({ force: true, includeKnown: true }).finally(() => {
      this.#lastForcedSweep = Date.now()
      this.#forcedSweep = undefined
    })
    return this.#forcedSweep
  }

  /** Fetches adverts of connected peers we lack or have not refreshed for a sweep period. */
  async sweep(options: { force?: boolean; includeKnown?: boolean } = {}): Promise<void> {
    const { node, store } = this.#options
    const now = Date.now()
    const candidates = new Map(node.getPeers().map((peerId) => [peerId.toString(), peerId]))
    if (options.includeKnown === true) {
      for (const known of await node.peerStore.all()) {
        if (known.protocols.includes(DHT_PROTOCOL)) candidates.set(known.id.toString(), known.id)
      }
    }
    const peers = [...candidates.values()].filter((peerId) => {
      if (!this.#wanted(peerId)) return false
      const id = peerId.toString()
      // A miss re-reads only peers whose advert we lack; a forced refresh of everyone would cost O(N) pulls.
      if (store.get(id) === undefined) return true
      if (options.force === true) return false
      return now - (this.#lastFetched.get(id) ?? 0) >= this.#republishIntervalMs
    })
    // Anti-entropy: also pull the whole advert set from one random connected peer each sweep,
    // so adverts spread epidemically (O(log N) sweeps) even to peers that joined early.
    const connected = node.getPeers().filter((peerId) => this.#wanted(peerId))
    const random = connected[Math.floor(Math.random() * connected.length)]
    if (random !== undefined && !peers.some((peerId) => peerId.equals(random))) peers.push(random)
    await Promise.all(peers.map((peerId) => this.fetchAdvert(peerId, { signal: AbortSignal.timeout(5_000) })))
  }

  async #publishLoop(): Promise<PublishResult> {
    let result = await this.#publishOwn()
    while (this.#publishAgain && !this.#stopped) {
      this.#publishAgain = false
      result = await this.#publishOwn()
    }
    return result
  }

  /** Signs a fresh advert (new sequence) and holds it as the one this peer shows. */
  async #signOwn(): Promise<{ body: AdvertBody; value: Uint8Array }> {
    const { node, privateKey, store } = this.#options
    this.#seq = nextSequence(this.#seq)
    const self = this.#options.describe()
    const body: AdvertBody = {
      v: 1,
      peerId: node.peerId.toString(),
      name: self.name,
      seq: this.#seq,
      issuedAt: Date.now(),
      souls: self.souls,
      backends: self.backends,
      addrs: node.getMultiaddrs().map((addr) => addr.toString()),
      ...(self.api === undefined ? {} : { api: self.api }),
    }
    const value = await encodeAdvert(privateKey, body)
    store.accept(body, value)
    this.#encoded = value
    return { body, value }
  }

  async #publishOwn(): Promise<PublishResult> {
    const { node, log } = this.#options
    const { body, value } = await this.#signOwn()
    let storedBy = 0
    // Alone, `put` only stores locally (so peers that find us can `get` it) and then waits for
    // closer peers that do not exist; bound that wait.
    const timeoutMs = node.getPeers().length === 0 ? 500 : 10_000
    try {
      for await (const event of node.services.dht.put(advertKey(node.peerId), value, {
        signal: AbortSignal.timeout(timeoutMs),
      })) {
        if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE') storedBy++
      }
    } catch (error) {
      log.debug('advert put ended early', { error: errorMessage(error) })
    }
    // `put` succeeds with zero peers: the record is then only ours. Say so and try again soon.
    if (storedBy === 0 && !this.#stopped && node.getPeers().length > 0) {
      const retry = setTimeout(() => void this.publishSoon(), 1_000)
      this.#timers.push(retry)
    }
    this.#lastStoredBy = storedBy
    log.debug('advert published', { seq: body.seq, storedBy })
    return { seq: body.seq, storedBy }
  }

  async #fetchOnce(peerId: PeerId, options: { signal?: AbortSignal }): Promise<AdvertBody | undefined> {
    const { node, store, log } = this.#options
    let best: AdvertBody | undefined
    if (node.getConnections(peerId).length > 0) {
      try {
        best = await this.#pullAdvert(peerId, options)
      } catch (error) {
        log.debug('direct advert pull failed', { peer: peerId.toString(), error: errorMessage(error) })
      }
    }
    if (best === undefined) best = await this.#lookupAdvert(peerId, options)
    this.#lastFetched.set(peerId.toString(), Date.now())
    if (best !== undefined) {
      try {
        store.accept(best)
      } catch {
        // Older than what we hold: keep ours.
      }
    }
    return store.get(peerId.toString())
  }

  /** Reads a connected peer's own advert, and the ones it relays, straight from it. */
  async #pullAdvert(peerId: PeerId, options: { signal?: AbortSignal }): Promise<AdvertBody> {
    const { node, store } = this.#options
    const stream = await node.dialProtocol(peerId, ADVERT_PROTOCOL, options)
    try {
      const reader = lpStream(stream, { maxDataLength: MAX_ADVERT_BYTES })
      // Our own signed advert first: it is how the other side learns we are a member.
      if (this.#encoded !== undefined) await reader.write(this.#encoded, options)
      const own = (await reader.read(options)).subarray()
      const body = await decodeAdvert(advertKey(peerId), own)
      await store.offer(advertKey(peerId), own)
      for (let index = 0; index < MAX_RELAYED_ADVERTS; index++) {
        const frame = await reader.read(options).catch(() => undefined)
        if (frame === undefined) break
        await this.#acceptRelayed(frame.subarray())
      }
      await stream.close(options).catch(() => undefined)
      return body
    } catch (error) {
      stream.abort(error instanceof Error ? error : new AdvertUnavailableError())
      throw error
    }
  }

  /** Verifies a relayed advert under its own peer's key; a bad or stale one is refused and counted. */
  async #acceptRelayed(value: Uint8Array): Promise<void> {
    let claimed: { peerId?: unknown; seq?: unknown }
    try {
      claimed = JSON.parse(JSON.parse(new TextDecoder().decode(value)).body) as {
        peerId?: unknown
        seq?: unknown
      }
    } catch {
      return
    }
    const { peerId, seq } = claimed
    if (typeof peerId !== 'string' || peerId === this.#options.node.peerId.toString()) return
    // Nothing newer than what we hold: skip the signature check (the common case in a settled mesh).
    const known = this.#options.store.get(peerId)
    if (known !== undefined && typeof seq === 'number' && seq <= known.seq) return
    await this.#options.store.offer(advertKey(peerId), value)
  }

  readonly #serveAdvert = async (stream: Stream, connection: Connection): Promise<void> => {
    const signal = AbortSignal.timeout(5_000)
    try {
      if (this.#encoded === undefined) throw new AdvertUnavailableError()
      const writer = lpStream(stream, { maxDataLength: MAX_ADVERT_BYTES })
      // The caller opens with its own signed advert; it is verified (signature, key, sequence,
      // membership) like any other. The federation's adverts are for members only.
      const hello = (await writer.read({ signal })).subarray()
      await this.#options.store.offer(advertKey(connection.remotePeer), hello)
      const isMember = this.#options.isMember
      if (isMember !== undefined && !isMember(connection.remotePeer))
        throw new AdvertUnavailableError('adverts are served to members only')
      await writer.write(this.#encoded, { signal })
      const self = this.#options.node.peerId.toString()
      const relayed = this.#options.store
        .all()
        .filter((advert) => advert.peerId !== self && advert.peerId !== connection.remotePeer.toString())
        .map((advert) => this.#options.store.encodedOf(advert.peerId))
        .filter((value): value is Uint8Array => value !== undefined)
        .slice(0, MAX_RELAYED_ADVERTS)
      if (relayed.length > 0) await writer.writeV(relayed, { signal })
      await stream.close({ signal })
    } catch (error) {
      stream.abort(error instanceof Error ? error : new AdvertUnavailableError())
    }
  }

  /** Finds a peer's advert through the DHT (for peers we are not connected to). */
  async #lookupAdvert(peerId: PeerId, options: { signal?: AbortSignal }): Promise<AdvertBody | undefined> {
    const { node, log } = this.#options
    const key = advertKey(peerId)
    let best: AdvertBody | undefined
    try {
      for await (const event of node.services.dht.get(key, options)) {
        if (event.name !== 'VALUE') continue
        try {
          const body = await decodeAdvert(key, event.value)
          if (best === undefined || body.seq > best.seq) best = body
        } catch {
          // The validator has already counted and refused it.
        }
        // The owner's own answer is authoritative and newest: stop early.
        if (event.from.equals(peerId) && best !== undefined) break
      }
    } catch (error) {
      log.debug('advert lookup failed', { peer: peerId.toString(), error: errorMessage(error) })
    }
    return best
  }

  /**
   * Dials every join address not connected yet. A failing address backs off
   * exponentially (250 ms doubling to 5 s) so a dead host costs little, and is
   * retried for ever, which is how a partition or a restarted host heals.
   */
  async #join(): Promise<void> {
    const { node, joinAddrs, log } = this.#options
    if (this.#stopped || joinAddrs === undefined) return
    const connected = new Set(node.getConnections().map((connection) => connection.remoteAddr.toString()))
    const now = Date.now()
    await Promise.all(
      joinAddrs.map(async (addr) => {
        const key = addr.toString()
        const bare = key.split('/p2p/')[0] ?? ''
        if ([...connected].some((remote) => remote.startsWith(bare))) {
          this.#joinBackoff.delete(key)
          return
        }
        const backoff = this.#joinBackoff.get(key)
        if (backoff !== undefined && now < backoff.next) return
        try {
          await node.dial(addr, { signal: AbortSignal.timeout(5_000) })
          this.#joinBackoff.delete(key)
        } catch (error) {
          const delay = Math.min(5_000, (backoff?.delay ?? 125) * 2)
          this.#joinBackoff.set(key, { delay, next: Date.now() + delay })
          log.debug('join dial failed', { addr: key, retryInMs: delay, error: errorMessage(error) })
        }
      }),
    )
  }

  #wanted(peerId: PeerId): boolean {
    return !peerId.equals(this.#options.node.peerId) && (this.#options.isWanted?.(peerId) ?? true)
  }

  readonly #onIdentify = (event: CustomEvent<{ peerId: PeerId; protocols: string[] }>): void => {
    const { peerId, protocols } = event.detail
    if (this.#stopped || !protocols.includes(DHT_PROTOCOL) || !this.#wanted(peerId)) return
    if (this.#lastStoredBy === 0) void this.publishSoon()
    void this.fetchAdvert(peerId, { signal: AbortSignal.timeout(5_000) })
  }

  /** A newly learned member: connect to it (full mesh), by the addresses it signed. */
  readonly #onAdvert = (advert: AdvertBody): void => {
    const { node, log } = this.#options
    if (this.#stopped || advert.peerId === node.peerId.toString()) return
    const peerId = node.getPeers().find((id) => id.toString() === advert.peerId)
    if (peerId !== undefined || advert.addrs.length === 0) return
    const addrs = advert.addrs.flatMap((addr) => {
      try {
        return [multiaddr(addr)]
      } catch {
        return []
      }
    })
    node.dial(addrs, { signal: AbortSignal.timeout(5_000) }).catch((error: unknown) => {
      log.debug('dial of advertised peer failed', { peer: advert.peerId, error: errorMessage(error) })
    })
  }

  readonly #onDiscovery = (event: CustomEvent<{ id: PeerId; multiaddrs: Multiaddr[] }>): void => {
    const { id } = event.detail
    if (this.#stopped || !this.#wanted(id)) return
    if (this.#options.node.getConnections(id).length > 0) return
    this.#options.node.dial(id, { signal: AbortSignal.timeout(5_000) }).catch((error: unknown) => {
      this.#options.log.debug('dial of discovered peer failed', {
        peer: id.toString(),
        error: errorMessage(error),
      })
    })
  }
}
