/**
 * One clawmesh peer, composed from the rooms: identity, the libp2p node,
 * DHT discovery, and the local HTTP API.
 */

import { isIPv4, isIPv6 } from 'node:net'
import type { PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { type ApiServer, sendJson, startApiServer } from './api/server.js'
import { buildStatusView, type PeerLiveness, type StatusView } from './api/status-view.js'
import {
  addressHostPort,
  addressToMultiaddr,
  findNode,
  type Manifest,
  type NodeConfig,
  nodeApiAddress,
  parseHostPort,
} from './config/index.js'
import { AdvertStore } from './discovery/advert-store.js'
import { DiscoveryService } from './discovery/discovery-service.js'
import { loadOrCreatePeerKey } from './identity/peer-key.js'
import { createLogger, type Logger } from './log.js'
import { type ClawmeshNode, createNode } from './net/create-node.js'

/** Options of `createPeer`. Only `manifest`, `node` and `dataDir` are required. */
export interface PeerOptions {
  /** The loaded federation manifest. */
  manifest: Manifest
  /** This peer's node name in the manifest. */
  node: string
  /** Where the peer key lives. */
  dataDir: string
  /** Listen addresses (`host:port` or multiaddrs). Default: the node's `address`. */
  listen?: string[]
  /** Extra addresses to join through (`host:port` or multiaddrs, with or without /p2p/). */
  bootstrap?: string[]
  /** HTTP API `host:port`, or false for none. Default: the node's `api` (127.0.0.1:8081). */
  api?: string | false
  /**
   * Set when many peers share one IP (loopback tests, single-host demos):
   * turns off gossipsub's IP-colocation penalty. Default: false.
   */
  colocated?: boolean
  /** Discovery timings (tests shorten them). */
  discovery?: { republishIntervalMs?: number; sweepIntervalMs?: number }
  log?: Logger
}

/** A running peer. */
export class Peer {
  /** Peer ID as a string. */
  readonly peerId: string
  readonly name: string
  private readonly lastSeen = new Map<string, number>()

  constructor(
    readonly manifest: Manifest,
    readonly nodeConfig: NodeConfig,
    readonly node: ClawmeshNode,
    readonly adverts: AdvertStore,
    readonly discovery: DiscoveryService,
    private api: ApiServer | undefined,
    private readonly log: Logger,
  ) {
    this.peerId = node.peerId.toString()
    this.name = nodeConfig.name
    node.addEventListener('peer:disconnect', (event) =>
      this.lastSeen.set(event.detail.toString(), Date.now()),
    )
  }

  /** The HTTP API's base URL, if it runs. */
  get apiUrl(): string | undefined {
    return this.api?.url
  }

  /** Full dialable multiaddrs (with /p2p/). */
  multiaddrs(): string[] {
    return this.node.getMultiaddrs().map((addr) => addr.toString())
  }

  /** This peer's own view of the federation. */
  status(): StatusView {
    return buildStatusView({
      manifest: this.manifest,
      self: { peerId: this.peerId, name: this.name },
      adverts: this.adverts.all(),
      liveness: (peerId) => this.liveness(peerId),
      missionControl: null,
      source: 'self',
    })
  }

  /** Stops the API, discovery and the node, in that order. */
  async stop(): Promise<void> {
    await this.api?.close()
    this.api = undefined
    await this.discovery.stop()
    await this.node.stop()
    this.log.info('peer stopped')
  }

  /** Attaches the HTTP API (done by `createPeer`). */
  async startApi(address: string): Promise<void> {
    const { host, port } = parseHostPort(address)
    this.api = await startApiServer({
      host,
      port,
      log: this.log.child('api'),
      routes: [
        {
          method: 'GET',
          path: '/healthz',
          handler: (_request, response) => sendJson(response, 200, { ok: true }),
        },
        {
          method: 'GET',
          path: '/status',
          handler: (_request, response) => sendJson(response, 200, this.status()),
        },
      ],
    })
  }

  private liveness(peerId: string): PeerLiveness {
    if (peerId === this.peerId) return { state: 'alive', lastSeenMs: 0, inFlight: 0 }
    const connected = this.node
      .getConnections()
      .some((connection) => connection.remotePeer.toString() === peerId)
    if (connected) return { state: 'alive', lastSeenMs: 0, inFlight: 0 }
    const seen = this.lastSeen.get(peerId)
    return { state: 'dead', lastSeenMs: seen === undefined ? 0 : Date.now() - seen, inFlight: 0 }
  }
}

/** Creates and starts a peer: key, node, discovery, API. A bad manifest or node name throws before anything starts. */
export async function createPeer(options: PeerOptions): Promise<Peer> {
  const nodeConfig = findNode(options.manifest, options.node)
  const log = options.log ?? createLogger('peer', { node: nodeConfig.name })
  const listen = (options.listen ?? [nodeConfig.address]).map(listenMultiaddr)
  const bootstrap = options.bootstrap ?? []
  const joinAddrs = [
    ...options.manifest.federation.nodes
      .filter((node) => node.name !== nodeConfig.name)
      .map((node) => node.address),
    ...bootstrap,
  ].map((address) => multiaddr(addressToMultiaddr(address)))
  const identity = await loadOrCreatePeerKey(options.dataDir)
  if (identity.created) log.info('created peer key', { dataDir: options.dataDir })
  const adverts = new AdvertStore()
  const node = await createNode({
    privateKey: identity.privateKey,
    listen,
    bootstrap: bootstrap.map(addressToMultiaddr).filter((address) => address.includes('/p2p/')),
    validators: { clawmesh: adverts.validator },
    selectors: { clawmesh: adverts.selector },
    ...(options.colocated === true ? { ipColocationFactorWeight: 0 } : {}),
  })
  const isSelf = (peerId: PeerId): boolean => peerId.equals(node.peerId)
  const apiAddress = options.api === undefined ? nodeApiAddress(nodeConfig) : options.api
  const discovery = new DiscoveryService({
    node,
    privateKey: identity.privateKey,
    store: adverts,
    log: log.child('discovery'),
    joinAddrs,
    isWanted: (peerId) => !isSelf(peerId),
    ...options.discovery,
    describe: () => ({
      name: nodeConfig.name,
      souls: nodeConfig.souls,
      backends: nodeConfig.backends.map((backend) => ({
        name: backend.name,
        type: backend.type,
        models: backend.models ?? [],
      })),
      ...(apiAddress === false ? {} : { api: apiAddress }),
    }),
  })
  const peer = new Peer(options.manifest, nodeConfig, node, adverts, discovery, undefined, log)
  try {
    if (apiAddress !== false) await peer.startApi(apiAddress)
    await discovery.start()
  } catch (error) {
    await peer.stop().catch(() => undefined)
    throw error
  }
  return peer
}

/** A listen multiaddr for an address: a DNS host listens on all interfaces at that port. */
function listenMultiaddr(address: string): string {
  if (address.startsWith('/')) return address
  const { host, port } = addressHostPort(address)
  if (isIPv4(host)) return `/ip4/${host}/tcp/${port ?? 0}`
  if (isIPv6(host)) return `/ip6/${host}/tcp/${port ?? 0}`
  return `/ip4/0.0.0.0/tcp/${port ?? 0}`
}
