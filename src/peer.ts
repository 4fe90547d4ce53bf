/**
 * One clawmesh peer, composed from the rooms: identity, the libp2p node,
 * DHT discovery, local LLM backends served over `/clawmesh/llm/1.0.0`, the
 * mesh router that sends this peer's souls' requests to owners, and the
 * local HTTP API. This file is wiring only: each room owns its logic; the
 * manifest in force is one observable every room reads or subscribes to;
 * services start in one ordered list and stop in reverse.
 */

import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createPeerMetrics, type PeerMetrics } from './api/metrics.js'
import { openAiRoutes } from './api/openai-gateway.js'
import { peerRoutes } from './api/peer-routes.js'
import { type ApiServer, startApiServer } from './api/server.js'
import { buildStatusView, type StatusView } from './api/status-view.js'
import {
  addressHostPort,
  addressToMultiaddr,
  controlPlaneNodeName,
  electionSettings,
  findNode,
  healthSettings,
  limitSettings,
  type Manifest,
  ManifestInForce,
  type NodeConfig,
  nodeApiAddress,
  parseHostPort,
  restartOnlyChanges,
  routingSettings,
} from './config/index.js'
import { manifestToStartWith, saveAdoptedManifest } from './control/adopted-manifest.js'
import { ManifestSync } from './control/manifest-sync.js'
import { MissionControl } from './control/mission-control.js'
import { fetchViewFrom, StatusService } from './control/status-protocol.js'
import { resolveStatusView } from './control/status-view-source.js'
import { AdvertStore } from './discovery/advert-store.js'
import { DiscoveryService } from './discovery/discovery-service.js'
import { errorMessage } from './errors.js'
import { BackendProber } from './health/backend-prober.js'
import { HeartbeatService } from './health/heartbeat-service.js'
import { memberLiveness, ownerFacts } from './health/member-facts.js'
import { MembershipView } from './health/membership.js'
import { MemberDirectory } from './identity/member-directory.js'
import { loadOrCreatePeerKey } from './identity/peer-key.js'
import { secretToPsk } from './identity/psk.js'
import { type DataDirLock, lockDataDir } from './identity/state-file.js'
import { ModelWatcher } from './llm/model-watcher.js'
import { type BackendRegistry, createBackendRegistry } from './llm/registry.js'
import type { ChatPart, EmbedResponse, LLMBackend } from './llm/types.js'
import { createLogger, type Logger } from './log.js'
import { type ClawmeshNode, createNode } from './net/create-node.js'
import { Gatekeeper } from './net/gatekeeper.js'
import { listenMultiaddr } from './net/listen-address.js'
import { LlmClient } from './routing/llm-client.js'
import { LlmService } from './routing/llm-service.js'
import type { MeshCallOptions, MeshChatRequest, MeshEmbedRequest, MeshModel } from './routing/mesh.js'
import { MeshRouter } from './routing/mesh-router.js'
import { ownerAuthorizer } from './routing/owner-authorizer.js'

export { ADOPTED_MANIFEST_FILE } from './control/adopted-manifest.js'

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

/** One part of a running peer: started in list order, stopped in reverse. */
interface PeerService {
  readonly name: string
  start?(): void | Promise<void>
  stop?(): void | Promise<void>
}

/** The rooms of a running peer, for tests and tools that look inside; not the library face. */
export interface PeerParts {
  readonly node: ClawmeshNode
  readonly manifests: ManifestInForce
  readonly adverts: AdvertStore
  readonly discovery: DiscoveryService
  readonly backends: BackendRegistry
  readonly models: ModelWatcher
  readonly mesh: MeshRouter
  readonly membership: MembershipView
  readonly missionControl: MissionControl
  readonly heartbeats: HeartbeatService
  readonly members: MemberDirectory
  readonly gatekeeper: Gatekeeper
  readonly statusService: StatusService
  readonly manifestSync: ManifestSync
  readonly metrics: PeerMetrics
  readonly llmService: LlmService
  readonly llmClient: LlmClient
}

/** A running peer: what a library user needs (chat, embed, models, status, addresses, stop). */
export class Peer {
  /** Peer ID as a string. */
  readonly peerId: string
  /** This peer's node name in the manifest. */
  readonly name: string
  /** Where the peer keeps its key and state. */
  readonly dataDir: string
  /** @internal The rooms this peer is built from (tests, benches). */
  readonly parts: PeerParts
  readonly #services: readonly PeerService[]
  readonly #api: () => ApiServer | undefined
  readonly #log: Logger
  #stopping: Promise<void> | undefined

  /** @internal Built by `createPeer`. */
  constructor(init: {
    parts: PeerParts
    name: string
    dataDir: string
    services: readonly PeerService[]
    api: () => ApiServer | undefined
    log: Logger
  }) {
    this.parts = init.parts
    this.peerId = init.parts.node.peerId.toString()
    this.name = init.name
    this.dataDir = init.dataDir
    this.#services = init.services
    this.#api = init.api
    this.#log = init.log
  }

  /** The manifest in force (replaced when a newer signed version is adopted). */
  get manifest(): Manifest {
    return this.parts.manifests.manifest
  }

  /** Streams a chat reply for one of this peer's souls, from whichever owner the mesh picks. */
  chat(request: MeshChatRequest, options?: MeshCallOptions): AsyncIterable<ChatPart> {
    return this.parts.mesh.chat(request, options)
  }

  /** Embeds texts for one of this peer's souls. */
  embed(request: MeshEmbedRequest, options?: MeshCallOptions): Promise<EmbedResponse> {
    return this.parts.mesh.embed(request, options)
  }

  /** Models a soul of this peer may use. */
  models(soul: string): Promise<MeshModel[]> {
    return this.parts.mesh.models(soul)
  }

  /** Requests this peer is serving for others right now. */
  inFlight(): number {
    return this.parts.llmService.inFlight()
  }

  /** The HTTP API's base URL, if it runs. */
  get apiUrl(): string | undefined {
    return this.#api()?.url
  }

  /** Full dialable multiaddrs (with /p2p/). */
  multiaddrs(): string[] {
    return this.parts.node.getMultiaddrs().map((addr) => addr.toString())
  }

  /** This peer's own view of the federation (adverts plus its membership view), marked `source`. */
  status(source: StatusView['source'] = 'self'): StatusView {
    const { manifests, adverts, membership, missionControl } = this.parts
    return buildStatusView({
      manifest: manifests.manifest,
      self: { peerId: this.peerId, name: this.name },
      adverts: adverts.all(),
      liveness: memberLiveness(membership, () => this.inFlight()),
      missionControl: missionControl.missionControl() ?? null,
      source,
    })
  }

  /** The view `GET /status` answers: the Mission Control's (fetched within ~1 s), else this peer's own. */
  statusView(): Promise<StatusView> {
    const { missionControl, node } = this.parts
    return resolveStatusView({
      self: { peerId: this.peerId, name: this.name },
      isMissionControl: () => missionControl.isLeader(),
      missionControl: () => missionControl.missionControl(),
      ownView: (source) => this.status(source),
      fetchView: (peerId, options) => fetchViewFrom(node, peerIdFromString(peerId), options),
      log: this.#log.child('status'),
    })
  }

  /** Stops every service in the reverse of its start order (once; later calls wait for the first). */
  stop(): Promise<void> {
    this.#stopping ??= stopAll(this.#services, this.#log).then(() => this.#log.info('peer stopped'))
    return this.#stopping
  }
}

/** Starts `services` in order; if one fails, stops the ones started, in reverse, and rethrows. */
async function startAll(services: readonly PeerService[], log: Logger): Promise<void> {
  for (const [index, service] of services.entries()) {
    try {
      await service.start?.()
    } catch (error) {
      await stopAll(services.slice(0, index + 1), log)
      throw error
    }
  }
}

/** Stops `services` in reverse order; a failing stop is logged and does not keep the rest running. */
async function stopAll(services: readonly PeerService[], log: Logger): Promise<void> {
  for (const service of [...services].reverse()) {
    try {
      await service.stop?.()
    } catch (error) {
      log.warn('service did not stop cleanly', { service: service.name, error: errorMessage(error) })
    }
  }
}

/** Creates and starts a peer: key, node, discovery, API. A bad manifest or node name throws before anything starts. */
export async function createPeer(options: PeerOptions): Promise<Peer> {
  findNode(options.manifest, options.node)
  // One peer per data dir: a second one would run with the same peer ID.
  const lock = await lockDataDir(options.dataDir, join(options.dataDir, DATA_DIR_LOCK_FILE))
  try {
    return await startPeer(options, lock)
  } catch (error) {
    await lock.release()
    throw error
  }
}

/** File in the data dir that holds the pid of the peer running on it. */
export const DATA_DIR_LOCK_FILE = 'peer.lock'

async function startPeer(options: PeerOptions, lock: DataDirLock): Promise<Peer> {
  const manifests = new ManifestInForce(
    await manifestToStartWith({ manifest: options.manifest, text: options.manifestText }, options.dataDir),
  )
  const manifest = manifests.manifest
  let nodeConfig: NodeConfig = findNode(manifest, options.node)
  const name = nodeConfig.name
  const log = options.log ?? createLogger('peer', { node: name })
  const bootstrap = options.bootstrap ?? []
  // Port 0 means "any port" (a peer found through others, not dialable by its manifest address).
  const joinAddrs = [
    ...manifest.federation.nodes
      .filter((node) => node.name !== name && addressHostPort(node.address).port !== 0)
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
  members.bindSelf(identity.peerId.toString(), name)
  // Which manifest node a peer is: its `peer_id`, or the name it was bound to on first use.
  const nodeOfPeer = (peerId: string): NodeConfig | undefined => members.nodeOf(peerId)
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
    listen: (options.listen ?? [nodeConfig.address]).map(listenMultiaddr),
    bootstrap: bootstrap.map(addressToMultiaddr).filter((address) => address.includes('/p2p/')),
    validators: { clawmesh: adverts.validator },
    selectors: { clawmesh: adverts.selector },
    ...(options.colocated === true ? { ipColocationFactorWeight: 0, inboundConnectionThreshold: 1_000 } : {}),
  })
  const apiAddress = options.api === undefined ? nodeApiAddress(nodeConfig) : options.api
  const discovery: DiscoveryService = new DiscoveryService({
    node,
    privateKey: identity.privateKey,
    store: adverts,
    log: log.child('discovery'),
    joinAddrs,
    isWanted: (peerId) => !peerId.equals(node.peerId),
    isMember: (peerId) => members.isMember(peerId.toString()),
    ...options.discovery,
    describe: () => ({
      name,
      souls: nodeConfig.souls,
      backends: backends.list().map((backend) => ({
        name: backend.name,
        type: backend.type,
        models: models.models(backend.name),
      })),
      ...(apiAddress === false ? {} : { api: apiAddress }),
    }),
  })
  const models = new ModelWatcher({
    configs: nodeConfig.backends,
    backends,
    ...(options.modelRefreshMs === undefined ? {} : { intervalMs: options.modelRefreshMs }),
    onChange: () => void discovery.publishSoon(),
  })
  const limits = limitSettings(manifest)
  const localBackend = (backend: string): LLMBackend | undefined =>
    backends.has(backend) ? backends.get(backend) : undefined
  const llmService = new LlmService({
    node,
    resolveBackend: localBackend,
    authorize: ownerAuthorizer({
      manifest: () => manifests.manifest,
      self: name,
      nodeOfPeer: (peerId) => nodeOfPeer(peerId.toString())?.name,
      fetchAdvert: (peerId, call) => discovery.fetchAdvert(peerId, call),
    }),
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
  const health = healthSettings(manifest)
  const membership = new MembershipView({
    self: { peerId: node.peerId.toString(), name, trust: nodeConfig.trust },
    isMember: (peerId) => {
      const member = nodeOfPeer(peerId)
      return member === undefined ? undefined : { name: member.name, trust: member.trust }
    },
    suspectAfterMs: health.suspectAfterMs,
    deadAfterMs: health.deadAfterMs,
  })
  const mesh = new MeshRouter({
    manifest,
    self: { node: nodeConfig, peerId: node.peerId },
    client: llmClient,
    localBackend,
    ownersOfBackend: (backend) => discovery.ownersOfBackend(backend),
    adverts: () => adverts.all(),
    nodeOfPeer,
    isConnected: (peerId) =>
      node.getConnections().some((connection) => connection.remotePeer.toString() === peerId),
    health: ownerFacts(membership),
    log: log.child('mesh'),
  })
  const missionControl = new MissionControl({
    membership,
    preferred: controlPlaneNodeName(manifest),
    allowLowTrustLeader: electionSettings(manifest).allowLowTrustLeader,
    stabilizationMs: 2 * health.heartbeatIntervalMs,
  })
  const heartbeats = new HeartbeatService({
    node,
    name,
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

  // A newer signed manifest takes effect in every room at once; what cannot is logged as restart-only.
  let peer: Peer | undefined
  manifests.subscribe(({ manifest: next }, { manifest: previous }) => {
    const own = next.federation.nodes.find((candidate) => candidate.name === name)
    const known = new Set([
      ...adverts.all().map((advert) => advert.peerId),
      ...node.getConnections().map((connection) => connection.remotePeer.toString()),
    ])
    known.delete(node.peerId.toString())
    const revoked = members.update(next, [...known])
    if (own === undefined) {
      log.error('this node is not in the adopted manifest: it has been revoked; stopping', {
        version: next.version,
      })
      void peer?.stop()
      return
    }
    nodeConfig = own
    mesh.setManifest(next, own)
    for (const peerId of revoked) {
      adverts.forget(peerId)
      gatekeeper.expel(peerId, `revoked by manifest version ${next.version ?? '?'}`)
    }
    missionControl.setRules({
      preferred: controlPlaneNodeName(next),
      allowLowTrustLeader: electionSettings(next).allowLowTrustLeader,
    })
    const nextLimits = limitSettings(next)
    llmClient.setLimits(nextLimits)
    void llmService
      .setLimits({ ...nextLimits, mergeDeltas: routingSettings(next).mergeDeltas })
      .catch((error: unknown) => log.error('cannot apply new LLM limits', { error: errorMessage(error) }))
    const nextHealth = healthSettings(next)
    try {
      membership.setTimings(nextHealth)
    } catch (error) {
      log.error('new health timings refused; keeping the old ones', { error: errorMessage(error) })
    }
    const restartOnly = restartOnlyChanges(previous, next, name)
    if (restartOnly.length > 0) {
      log.warn('the adopted manifest changes settings that take effect only after a restart', {
        version: next.version,
        settings: restartOnly,
      })
    }
  })
  const manifestSync = new ManifestSync({
    node,
    current: () => ({ manifest: manifests.manifest, text: manifests.current().text }),
    adopt: async (next, text) => {
      await saveAdoptedManifest(options.dataDir, text).catch((error: unknown) =>
        log.error('cannot save the adopted manifest', { error: errorMessage(error) }),
      )
      manifests.replace({ manifest: next, text })
    },
    isMember: (peerId) => members.isMember(peerId),
    log: log.child('manifest'),
  })
  const statusService = new StatusService({
    node,
    isMissionControl: () => missionControl.isLeader(),
    missionControl: () => missionControl.missionControl(),
    view: () => (peer as Peer).status('mission-control'),
    isMember: (peerId) => membership.member(peerId) !== undefined,
    log: log.child('status'),
  })
  const metrics = createPeerMetrics({
    members: () => membership.snapshot(),
    term: () => missionControl.current().term,
    isMissionControl: () => missionControl.isLeader(),
    heartbeats: () => heartbeats.stats(),
    inFlight: () => llmService.inFlight(),
  })
  let api: ApiServer | undefined
  const startApi = async (address: string): Promise<void> => {
    const { host, port } = parseHostPort(address)
    api = await startApiServer({
      host,
      port,
      log: log.child('api'),
      routes: [
        ...peerRoutes({
          statusView: () => (peer as Peer).statusView(),
          metrics,
          offerManifest: (text) => manifestSync.offer(text, 'local API'),
        }),
        ...openAiRoutes({
          mesh,
          maxBodyBytes: () => limitSettings(manifests.manifest).maxBodyBytes,
          log: log.child('gateway'),
        }),
      ],
    })
  }
  // A first-use binding that could not be saved (a full disk) is undone: that peer is no member.
  members.onBindingLost((peerId, node) => {
    adverts.forget(peerId)
    gatekeeper.expel(peerId, `its binding to "${node}" could not be saved`)
  })
  const services: PeerService[] = [
    { name: 'data-dir-lock', stop: () => lock.release() },
    { name: 'members', stop: () => members.flush() },
    { name: 'node', stop: () => node.stop() },
    { name: 'backends', stop: () => backends.close() },
    { name: 'llm-client', stop: () => llmClient.close() },
    { name: 'models', start: () => models.start(), stop: () => models.stop() },
    { name: 'llm-service', start: () => llmService.start(), stop: () => llmService.stop() },
    { name: 'status-service', start: () => statusService.start(), stop: () => statusService.stop() },
    { name: 'manifest-sync', start: () => manifestSync.start(), stop: () => manifestSync.stop() },
    {
      name: 'api',
      start: () => (apiAddress === false ? undefined : startApi(apiAddress)),
      stop: async () => {
        await api?.close()
        api = undefined
      },
    },
    { name: 'discovery', start: () => discovery.start(), stop: () => discovery.stop() },
    { name: 'mission-control', start: () => missionControl.start(), stop: () => missionControl.stop() },
    { name: 'heartbeats', start: () => heartbeats.start(), stop: () => heartbeats.stop() },
    { name: 'gatekeeper', start: () => gatekeeper.start(node), stop: () => gatekeeper.stop() },
  ]
  peer = new Peer({
    parts: {
      node,
      manifests,
      adverts,
      discovery,
      backends,
      models,
      mesh,
      membership,
      missionControl,
      heartbeats,
      members,
      gatekeeper,
      statusService,
      manifestSync,
      metrics,
      llmService,
      llmClient,
    },
    name,
    dataDir: options.dataDir,
    services,
    api: () => api,
    log,
  })
  await startAll(services, log)
  return peer
}
