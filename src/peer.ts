/**
 * One clawmesh peer, composed from the rooms: identity, the libp2p node,
 * DHT discovery, local LLM backends served over `/clawmesh/llm/1.0.0`, the
 * mesh router that sends this peer's souls' requests to owners, and the
 * local HTTP API.
 */

import { readFile, writeFile } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import { isIPv4, isIPv6 } from 'node:net'
import { join } from 'node:path'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { sendDashboard } from './api/dashboard.js'
import { HttpError } from './api/http-error.js'
import { createPeerMetrics, type PeerMetrics, sendMetrics } from './api/metrics.js'
import { openAiRoutes } from './api/openai-gateway.js'
import { type ApiServer, sendJson, startApiServer } from './api/server.js'
import { buildStatusView, type PeerLiveness, type StatusView } from './api/status-view.js'
import {
  addressHostPort,
  addressToMultiaddr,
  controlPlaneNodeName,
  electionSettings,
  findNode,
  healthSettings,
  limitSettings,
  type Manifest,
  type NodeConfig,
  nodeApiAddress,
  parseHostPort,
  routingSettings,
} from './config/index.js'
import { parseManifest } from './config/load.js'
import { MAX_MANIFEST_BYTES, ManifestSync } from './control/manifest-sync.js'
import { MissionControl } from './control/mission-control.js'
import { fetchViewFrom, StatusService } from './control/status-protocol.js'
import { resolveStatusView } from './control/status-view-source.js'
import { AdvertStore } from './discovery/advert-store.js'
import { DiscoveryService } from './discovery/discovery-service.js'
import { errorMessage } from './errors.js'
import { BackendProber } from './health/backend-prober.js'
import { HeartbeatService } from './health/heartbeat-service.js'
import { MembershipView } from './health/membership.js'
import { manifestAdoption } from './identity/manifest-version.js'
import { MemberDirectory } from './identity/member-directory.js'
import { loadOrCreatePeerKey } from './identity/peer-key.js'
import { secretToPsk } from './identity/psk.js'
import { type BackendRegistry, createBackendRegistry } from './llm/registry.js'
import type { ChatPart, EmbedResponse, LLMBackend } from './llm/types.js'
import { createLogger, type Logger } from './log.js'
import { type ClawmeshNode, createNode } from './net/create-node.js'
import { Gatekeeper } from './net/gatekeeper.js'
import { LlmClient } from './routing/llm-client.js'
import { LlmService } from './routing/llm-service.js'
import type { MeshCallOptions, MeshChatRequest, MeshEmbedRequest, MeshModel } from './routing/mesh.js'
import { MeshRouter } from './routing/mesh-router.js'
import { manifestAuthorizer } from './routing/owner-authorizer.js'

/** File in the data dir holding the last manifest adopted over the mesh. */
export const ADOPTED_MANIFEST_FILE = 'manifest.adopted.yaml'

/** Options of `createPeer`. Only `manifest`, `node` and `dataDir` are required. */
export interface PeerOptions {
  /** The loaded federation manifest. */
  manifest: Manifest
  /**
   * The manifest's signed text, as read from its file. With `federation.key`,
   * the peer re-publishes it so peers that were away learn the version in force.
   */
  manifestText?: string
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
  /**
   * Backends registered in code (custom backends). Default: the ones given to
   * `registerBackend()` before the peer starts.
   */
  backends?: LLMBackend[]
  /** How long a connected peer may take to present a member advert before it is disconnected. Default: 5 s. */
  strangerGraceMs?: number
  /** How often local backends' model lists are re-read and re-advertised. Default: 60 s. */
  modelRefreshMs?: number
  /**
   * LLM requests one remote peer may send to this peer's backends: sustained per second, and at
   * once from a full bucket. Over it, the caller gets `RATE_LIMITED` (a gateway answers 429).
   * Default: 2000/s, burst 4000.
   */
  llmRateLimit?: { requestsPerSecond: number; burst: number }
  log?: Logger
}

/** The parts a peer is built from, handed to the `Peer` constructor by `createPeer`. */
export interface PeerParts {
  manifest: Manifest
  manifestText: string | undefined
  dataDir: string
  nodeConfig: NodeConfig
  node: ClawmeshNode
  adverts: AdvertStore
  discovery: DiscoveryService
  backends: BackendRegistry
  llmService: LlmService
  llmClient: LlmClient
  mesh: MeshRouter
  membership: MembershipView
  missionControl: MissionControl
  heartbeats: HeartbeatService
  members: MemberDirectory
  gatekeeper: Gatekeeper
  log: Logger
}

/** A running peer. */
export class Peer {
  /** Peer ID as a string. */
  readonly peerId: string
  readonly name: string
  /** The manifest in force (replaced when a newer signed version is adopted). */
  manifest: Manifest
  /** Its signed text, when known. */
  manifestText: string | undefined
  /** Where the peer keeps its key and state. */
  readonly dataDir: string
  /** This peer's node in the manifest in force. */
  nodeConfig: NodeConfig
  readonly node: ClawmeshNode
  readonly adverts: AdvertStore
  readonly discovery: DiscoveryService
  /** This peer's own backends. */
  readonly backends: BackendRegistry
  /** Routes this peer's souls' requests through the mesh. */
  readonly mesh: MeshRouter
  /** Who is alive, suspect or dead, from heartbeats. */
  readonly membership: MembershipView
  /** The elected Mission Control and its term. */
  readonly missionControl: MissionControl
  readonly heartbeats: HeartbeatService
  /** Which manifest node each peer ID is (pinned or first use). */
  readonly members: MemberDirectory
  /** Refuses and disconnects non-members. */
  readonly gatekeeper: Gatekeeper
  /** Serves `/clawmesh/status/1.0.0` (the Mission Control's view to members). */
  readonly statusService: StatusService
  /** Adopts and spreads newer signed manifests (`/clawmesh/manifest/1`, `POST /manifest`). */
  readonly manifestSync: ManifestSync
  /** Prometheus metrics read from this peer at scrape time (`GET /metrics`). */
  readonly metrics: PeerMetrics
  private readonly llmService: LlmService
  private readonly llmClient: LlmClient
  private readonly log: Logger
  private api: ApiServer | undefined
  private readonly timers: NodeJS.Timeout[] = []
  /** Model lists of local backends, as last read (advertised). */
  readonly localModels = new Map<string, string[]>()

  constructor(parts: PeerParts) {
    this.manifest = parts.manifest
    this.manifestText = parts.manifestText
    this.dataDir = parts.dataDir
    this.nodeConfig = parts.nodeConfig
    this.node = parts.node
    this.adverts = parts.adverts
    this.discovery = parts.discovery
    this.backends = parts.backends
    this.llmService = parts.llmService
    this.llmClient = parts.llmClient
    this.mesh = parts.mesh
    this.membership = parts.membership
    this.missionControl = parts.missionControl
    this.heartbeats = parts.heartbeats
    this.members = parts.members
    this.gatekeeper = parts.gatekeeper
    this.log = parts.log
    this.peerId = parts.node.peerId.toString()
    this.name = parts.nodeConfig.name
    this.statusService = new StatusService({
      node: this.node,
      isMissionControl: () => this.missionControl.isLeader(),
      missionControl: () => this.missionControl.missionControl(),
      view: () => this.status('mission-control'),
      isMember: (peerId) => this.membership.member(peerId) !== undefined,
      log: this.log.child('status'),
    })
    this.manifestSync = new ManifestSync({
      node: this.node,
      current: () => ({ manifest: this.manifest, text: this.manifestText }),
      adopt: (manifest, text) => this.adoptManifest(manifest, text),
      isMember: (peerId) => this.members.isMember(peerId),
      log: this.log.child('manifest'),
    })
    this.metrics = createPeerMetrics({
      members: () => this.membership.snapshot(),
      term: () => this.missionControl.current().term,
      isMissionControl: () => this.missionControl.isLeader(),
      heartbeats: () => this.heartbeats.stats(),
      inFlight: () => this.inFlight(),
    })
  }

  /**
   * Puts a newer signed manifest in force (called by `ManifestSync` after its
   * checks): trust rules, membership and routing switch at once; peers the
   * new version no longer names are disconnected with their in-flight streams.
   * If this peer's own node is gone, the peer stops: it has been revoked.
   */
  async adoptManifest(manifest: Manifest, text: string): Promise<void> {
    const own = manifest.federation.nodes.find((node) => node.name === this.name)
    const known = new Set([
      ...this.adverts.all().map((advert) => advert.peerId),
      ...this.node.getConnections().map((connection) => connection.remotePeer.toString()),
    ])
    known.delete(this.peerId)
    const revoked = this.members.update(manifest, [...known])
    this.manifest = manifest
    this.manifestText = text
    await writeFile(join(this.dataDir, ADOPTED_MANIFEST_FILE), text, { mode: 0o600 }).catch(
      (error: unknown) => this.log.error('cannot save the adopted manifest', { error: errorMessage(error) }),
    )
    if (own === undefined) {
      this.log.error('this node is not in the adopted manifest: it has been revoked; stopping', {
        version: manifest.version,
      })
      void this.stop()
      return
    }
    this.nodeConfig = own
    this.mesh.setManifest(manifest, own)
    for (const peerId of revoked) {
      this.adverts.forget(peerId)
      this.gatekeeper.expel(peerId, `revoked by manifest version ${manifest.version ?? '?'}`)
    }
  }

  /** Streams a chat reply for one of this peer's souls, from whichever owner the mesh picks. */
  chat(request: MeshChatRequest, options?: MeshCallOptions): AsyncIterable<ChatPart> {
    return this.mesh.chat(request, options)
  }

  /** Embeds texts for one of this peer's souls. */
  embed(request: MeshEmbedRequest, options?: MeshCallOptions): Promise<EmbedResponse> {
    return this.mesh.embed(request, options)
  }

  /** Models a soul of this peer may use. */
  models(soul: string): Promise<MeshModel[]> {
    return this.mesh.models(soul)
  }

  /** Requests this peer is serving for others right now. */
  inFlight(): number {
    return this.llmService.inFlight()
  }

  /** The HTTP API's base URL, if it runs. */
  get apiUrl(): string | undefined {
    return this.api?.url
  }

  /** Full dialable multiaddrs (with /p2p/). */
  multiaddrs(): string[] {
    return this.node.getMultiaddrs().map((addr) => addr.toString())
  }

  /** This peer's own view of the federation (adverts plus its membership view), marked `source`. */
  status(source: StatusView['source'] = 'self'): StatusView {
    const control = this.missionControl.missionControl()
    return buildStatusView({
      manifest: this.manifest,
      self: { peerId: this.peerId, name: this.name },
      adverts: this.adverts.all(),
      liveness: (peerId) => this.liveness(peerId),
      missionControl: control ?? null,
      source,
    })
  }

  /** The view `GET /status` answers: the Mission Control's (fetched within ~1 s), else this peer's own. */
  statusView(): Promise<StatusView> {
    return resolveStatusView({
      self: { peerId: this.peerId, name: this.name },
      isMissionControl: () => this.missionControl.isLeader(),
      missionControl: () => this.missionControl.missionControl(),
      ownView: (source) => this.status(source),
      fetchView: (peerId, options) => fetchViewFrom(this.node, peerIdFromString(peerId), options),
      log: this.log.child('status'),
    })
  }

  /** Stops the API, the LLM protocol, discovery, backends and the node, in that order. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer)
    await this.api?.close()
    this.api = undefined
    await this.statusService.stop()
    this.manifestSync.stop()
    this.gatekeeper.stop()
    this.heartbeats.stop()
    this.missionControl.stop()
    this.llmClient.close()
    await this.llmService.stop()
    await this.discovery.stop()
    await this.backends.close()
    await this.node.stop()
    await this.members.flush()
    this.log.info('peer stopped')
  }

  /** Reads each local backend's models (bounded by a timeout) and re-advertises on change. */
  async refreshModels(): Promise<void> {
    let changed = false
    await Promise.all(
      this.nodeConfig.backends.map(async (config) => {
        if (config.models !== undefined) {
          this.localModels.set(config.name, config.models)
          return
        }
        const backend = this.backends.has(config.name) ? this.backends.get(config.name) : undefined
        const models = await backend?.models({ signal: AbortSignal.timeout(3_000) }).catch(() => undefined)
        if (models === undefined) return
        const before = this.localModels.get(config.name)
        if (before?.join() !== models.join()) changed = true
        this.localModels.set(config.name, models)
      }),
    )
    if (changed) void this.discovery.publishSoon()
  }

  /** Starts periodic model refresh (done by `createPeer`). */
  watchModels(intervalMs: number): void {
    const timer = setInterval(() => void this.refreshModels(), intervalMs)
    timer.unref()
    this.timers.push(timer)
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
          // Hand this peer a newer signed manifest (YAML text); it checks, adopts and spreads it.
          method: 'POST',
          path: '/manifest',
          handler: async (request, response) => {
            const text = await readTextBody(request, MAX_MANIFEST_BYTES)
            try {
              sendJson(response, 200, {
                adopted: true,
                ...(await this.manifestSync.offer(text, 'local API')),
              })
            } catch (error) {
              const code = (error as { code?: string }).code ?? 'MANIFEST_REFUSED'
              throw new HttpError(code === 'MANIFEST_INVALID' ? 400 : 409, code, errorMessage(error))
            }
          },
        },
        {
          method: 'GET',
          path: '/status',
          handler: async (_request, response) => sendJson(response, 200, await this.statusView()),
        },
        {
          method: 'GET',
          path: '/metrics',
          handler: (_request, response) => sendMetrics(response, this.metrics),
        },
        { method: 'GET', path: '/', handler: (_request, response) => sendDashboard(response) },
        ...openAiRoutes({
          mesh: this.mesh,
          maxBodyBytes: limitSettings(this.manifest).maxBodyBytes,
          log: this.log.child('gateway'),
        }),
      ],
    })
  }

  private liveness(peerId: string): PeerLiveness | undefined {
    const member = this.membership.get(peerId)
    if (member === undefined) return undefined
    return {
      state: member.state,
      lastSeenMs: member.lastSeenMs,
      inFlight: member.self ? this.inFlight() : member.inFlight,
      backends: new Map(member.backends.map((backend) => [backend.name, backend])),
    }
  }
}

/** Creates and starts a peer: key, node, discovery, API. A bad manifest or node name throws before anything starts. */
export async function createPeer(options: PeerOptions): Promise<Peer> {
  const { manifest, manifestText } = await manifestInForce(options)
  const nodeConfig = findNode(manifest, options.node)
  const log = options.log ?? createLogger('peer', { node: nodeConfig.name })
  const listen = (options.listen ?? [nodeConfig.address]).map(listenMultiaddr)
  const bootstrap = options.bootstrap ?? []
  // Port 0 means "any port" (a peer found through others, not dialable by its manifest address).
  const joinAddrs = [
    ...manifest.federation.nodes
      .filter((node) => node.name !== nodeConfig.name && addressHostPort(node.address).port !== 0)
      .map((node) => node.address),
    ...bootstrap,
  ].map((address) => multiaddr(addressToMultiaddr(address)))
  const secret = manifest.federation.secret
  const psk = secret === undefined ? undefined : secretToPsk(secret)
  if (psk === undefined) {
    log.warn(
      "no federation.secret: anyone who can reach this peer's port can connect (encrypted, but not a private network); set one with `clawmesh federation secret`",
    )
  }
  // Backends first: a bad backend entry fails before anything listens.
  const backends = await createBackendRegistry(nodeConfig.backends, {
    logger: log.child('llm'),
    ...(options.backends === undefined ? {} : { registered: options.backends }),
  })
  const identity = await loadOrCreatePeerKey(options.dataDir)
  if (identity.created) log.info('created peer key', { dataDir: options.dataDir })
  const members = await MemberDirectory.load(manifest, options.dataDir, log.child('members'))
  members.bindSelf(identity.peerId.toString(), nodeConfig.name)
  // Only members' adverts are accepted, under the name they are bound to (pinned or first use).
  const adverts = new AdvertStore((body) => {
    members.claim(body.peerId, body.name)
  })
  const gatekeeper = new Gatekeeper({
    isMember: (peerId) => members.isMember(peerId),
    allPinned: manifest.federation.nodes.every((node) => node.peer_id !== undefined),
    ...(options.strangerGraceMs === undefined ? {} : { graceMs: options.strangerGraceMs }),
    log: log.child('gatekeeper'),
  })
  const node = await createNode({
    ...(psk === undefined ? {} : { psk }),
    connectionGater: gatekeeper.gater(),
    privateKey: identity.privateKey,
    listen,
    bootstrap: bootstrap.map(addressToMultiaddr).filter((address) => address.includes('/p2p/')),
    validators: { clawmesh: adverts.validator },
    selectors: { clawmesh: adverts.selector },
    ...(options.colocated === true ? { ipColocationFactorWeight: 0, inboundConnectionThreshold: 1_000 } : {}),
  })
  const isSelf = (peerId: PeerId): boolean => peerId.equals(node.peerId)
  const apiAddress = options.api === undefined ? nodeApiAddress(nodeConfig) : options.api
  // Which manifest node a peer is: its `peer_id`, or the name it was bound to on first use.
  const nodeOfPeer = (peerId: string): NodeConfig | undefined => members.nodeOf(peerId)
  let peer: Peer | undefined
  const discovery = new DiscoveryService({
    node,
    privateKey: identity.privateKey,
    store: adverts,
    log: log.child('discovery'),
    joinAddrs,
    isWanted: (peerId) => !isSelf(peerId),
    isMember: (peerId) => members.isMember(peerId.toString()),
    ...options.discovery,
    describe: () => ({
      name: nodeConfig.name,
      souls: nodeConfig.souls,
      backends: backends.list().map((backend) => ({
        name: backend.name,
        type: backend.type,
        models: peer?.localModels.get(backend.name) ?? [],
      })),
      ...(apiAddress === false ? {} : { api: apiAddress }),
    }),
  })
  const limits = limitSettings(manifest)
  const llmService = new LlmService({
    node,
    resolveBackend: (name) => (backends.has(name) ? backends.get(name) : undefined),
    // The owner's re-check reads the manifest in force at each request (it may be replaced).
    authorize: async (context) => {
      // A member that has just joined may call before its advert reached us: read it from the
      // caller first (bounded), then judge. A stranger's advert is refused, so it stays unknown.
      if (nodeOfPeer(context.remotePeer.toString()) === undefined) {
        await discovery
          .fetchAdvert(context.remotePeer, { signal: AbortSignal.timeout(2_000) })
          .catch(() => undefined)
      }
      manifestAuthorizer({
        manifest: peer?.manifest ?? manifest,
        self: nodeConfig.name,
        nodeOfPeer: (peerId) => nodeOfPeer(peerId.toString())?.name,
      })(context)
    },
    limits: {
      maxFrameBytes: limits.maxFrameBytes,
      maxStreamsPerPeer: limits.maxStreamsPerPeer,
      mergeDeltas: routingSettings(manifest).mergeDeltas,
      ...(options.llmRateLimit === undefined
        ? {}
        : {
            requestsPerSecond: options.llmRateLimit.requestsPerSecond,
            requestBurst: options.llmRateLimit.burst,
          }),
    },
    logger: log.child('llm-service'),
  })
  const llmClient = new LlmClient({
    maxStreamsPerPeer: limits.maxStreamsPerPeer,
    node,
    maxFrameBytes: limits.maxFrameBytes,
    logger: log.child('llm-client'),
  })
  const mesh = new MeshRouter({
    manifest: manifest,
    self: { node: nodeConfig, peerId: node.peerId },
    client: llmClient,
    localBackend: (name) => (backends.has(name) ? backends.get(name) : undefined),
    ownersOfBackend: (name) => discovery.ownersOfBackend(name),
    adverts: () => adverts.all(),
    nodeOfPeer,
    isConnected: (peerId) =>
      node.getConnections().some((connection) => connection.remotePeer.toString() === peerId),
    health: (peerId, backend) => {
      const member = membership.get(peerId)
      if (member === undefined) return {}
      const probe = member.backends.find((entry) => entry.name === backend)
      return {
        inFlight: member.inFlight,
        state: member.state,
        ...(probe === undefined ? {} : { healthy: probe.ok }),
      }
    },
    log: log.child('mesh'),
  })
  const health = healthSettings(manifest)
  const membership = new MembershipView({
    self: { peerId: node.peerId.toString(), name: nodeConfig.name, trust: nodeConfig.trust },
    isMember: (peerId) => {
      const member = nodeOfPeer(peerId)
      return member === undefined ? undefined : { name: member.name, trust: member.trust }
    },
    suspectAfterMs: health.suspectAfterMs,
    deadAfterMs: health.deadAfterMs,
  })
  const missionControl = new MissionControl({
    membership,
    preferred: controlPlaneNodeName(manifest),
    allowLowTrustLeader: electionSettings(manifest).allowLowTrustLeader,
    stabilizationMs: 2 * health.heartbeatIntervalMs,
  })
  const heartbeats = new HeartbeatService({
    node,
    name: nodeConfig.name,
    membership,
    intervalMs: health.heartbeatIntervalMs,
    prober: new BackendProber({ backends: backends.list(), intervalMs: health.probeIntervalMs }),
    inFlight: () => llmService.inFlight(),
    control: () => missionControl.current(),
  })
  missionControl.subscribe(() => heartbeats.beatNow())
  // A peer heartbeats call dead is unreachable, but after a silent partition its old TCP connection
  // can still look open and swallow requests; close it so recovery starts from a fresh dial.
  membership.subscribe((event) => {
    if (event.type !== 'state' || event.to !== 'dead') return
    node.hangUp(peerIdFromString(event.peerId)).catch(() => undefined)
  })
  peer = new Peer({
    manifest: manifest,
    manifestText: manifestText,
    dataDir: options.dataDir,
    nodeConfig,
    node,
    adverts,
    discovery,
    backends,
    llmService,
    llmClient,
    mesh,
    membership,
    missionControl,
    heartbeats,
    members,
    gatekeeper,
    log,
  })
  try {
    await peer.refreshModels()
    peer.watchModels(options.modelRefreshMs ?? 60_000)
    await llmService.start()
    await peer.statusService.start()
    peer.manifestSync.start()
    if (apiAddress !== false) await peer.startApi(apiAddress)
    await discovery.start()
    missionControl.start()
    heartbeats.start()
    gatekeeper.start(node)
  } catch (error) {
    await peer.stop().catch(() => undefined)
    throw error
  }
  return peer
}

/**
 * The manifest to start with: the one given, or the newer signed version this
 * peer adopted over the mesh before it restarted (kept in the data dir), if
 * that one still passes the adoption checks against the given one.
 */
async function manifestInForce(
  options: PeerOptions,
): Promise<{ manifest: Manifest; manifestText: string | undefined }> {
  const given = { manifest: options.manifest, manifestText: options.manifestText }
  if (options.manifest.federation.key === undefined) return given
  const file = join(options.dataDir, ADOPTED_MANIFEST_FILE)
  const text = await readFile(file, 'utf8').catch(() => undefined)
  if (text === undefined) return given
  try {
    const adopted = parseManifest(text, file)
    return manifestAdoption(options.manifest, adopted, text).adopt
      ? { manifest: adopted, manifestText: text }
      : given
  } catch {
    return given
  }
}

/** Reads a request body as text, refusing more than `maxBytes` (413). */
async function readTextBody(request: IncomingMessage, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.byteLength
    if (size > maxBytes) {
      request.destroy()
      throw new HttpError(413, 'BODY_TOO_LARGE', `body over ${maxBytes} bytes`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** A listen multiaddr for an address: a DNS host listens on all interfaces at that port. */
function listenMultiaddr(address: string): string {
  if (address.startsWith('/')) return address
  const { host, port } = addressHostPort(address)
  if (isIPv4(host)) return `/ip4/${host}/tcp/${port ?? 0}`
  if (isIPv6(host)) return `/ip6/${host}/tcp/${port ?? 0}`
  return `/ip4/0.0.0.0/tcp/${port ?? 0}`
}
