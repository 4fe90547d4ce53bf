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
import { createPeerMetrics } from './api/metrics.js'
import { openAIRoutes } from './api/openai-gateway.js'
import { peerRoutes } from './api/peer-routes.js'
import { type ApiServer, startApiServer } from './api/server.js'
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
  routingSettings,
} from './config/index.js'
import { manifestToStartWith, saveAdoptedManifest } from './control/adopted-manifest.js'
import { ManifestSync } from './control/manifest-sync.js'
import { MissionControl } from './control/mission-control.js'
import { StatusService } from './control/status-protocol.js'
import { AdvertStore } from './discovery/advert-store.js'
import { DiscoveryService } from './discovery/discovery-service.js'
import { errorMessage } from './errors.js'
import { BackendProber } from './health/backend-prober.js'
import { HeartbeatService } from './health/heartbeat-service.js'
import { ownerFacts } from './health/member-facts.js'
import { MembershipView } from './health/membership.js'
import { loadOrCreatePeerKey } from './identity/peer-key.js'
import { secretToPsk } from './identity/psk.js'
import { type DataDirLock, lockDataDir } from './identity/state-file.js'
import { ModelWatcher } from './llm/model-watcher.js'
import { createBackendRegistry } from './llm/registry.js'
import type { LLMBackend } from './llm/types.js'
import { createLogger, type Logger } from './log.js'
import { createNode } from './net/create-node.js'
import { Gatekeeper } from './net/gatekeeper.js'
import { listenMultiaddr } from './net/listen-address.js'
import { MemberDirectory } from './net/member-directory.js'
import { followManifest } from './peer/follow-manifest.js'
import { Peer } from './peer/running-peer.js'
import { type PeerService, startAll, stopAll } from './peer/services.js'
import { peerStatus } from './peer/status.js'
import { LLMClient } from './routing/llm-client.js'
import { LLMService } from './routing/llm-service.js'
import { MeshRouter } from './routing/mesh-router.js'
import { ownerAuthorizer } from './routing/owner-authorizer.js'

export { ADOPTED_MANIFEST_FILE } from './control/adopted-manifest.js'
export { Peer, type PeerParts } from './peer/running-peer.js'

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
    log: log.child('llm'),
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
  const models = new ModelWatcher({
    configs: nodeConfig.backends,
    backends,
    ...(options.modelRefreshMs === undefined ? {} : { intervalMs: options.modelRefreshMs }),
  })
  const discovery = new DiscoveryService({
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
  models.subscribe(() => void discovery.publishSoon())
  const limits = limitSettings(manifest)
  const localBackend = (backend: string): LLMBackend | undefined =>
    backends.has(backend) ? backends.get(backend) : undefined
  const llmService = new LLMService({
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
    log: log.child('llm-service'),
  })
  const llmClient = new LLMClient({
    maxStreamsPerPeer: limits.maxStreamsPerPeer,
    node,
    maxFrameBytes: limits.maxFrameBytes,
    log: log.child('llm-client'),
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
  const status = peerStatus({
    self: { peerId: node.peerId.toString(), name },
    node,
    manifests,
    adverts,
    membership,
    missionControl,
    inFlight: () => llmService.inFlight(),
    log,
  })
  const statusService = new StatusService({
    node,
    isMissionControl: () => missionControl.isLeader(),
    missionControl: () => missionControl.missionControl(),
    view: () => status.own('mission-control'),
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
          statusView: () => status.resolved(),
          metrics,
          offerManifest: (text) => manifestSync.offer(text, 'local API'),
        }),
        ...openAIRoutes({
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
  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= stopAll(services, log).then(() => log.info('peer stopped'))
    return stopping
  }
  // A newer signed manifest takes effect in every room at once; what cannot is logged as restart-only.
  manifests.subscribe(({ manifest: next }, { manifest: previous }) =>
    followManifest(
      {
        name,
        node,
        adverts,
        members,
        gatekeeper,
        mesh,
        missionControl,
        llmClient,
        llmService,
        membership,
        log,
        setNodeConfig: (own) => {
          nodeConfig = own
        },
        stop,
      },
      next,
      previous,
    ),
  )
  const peer = new Peer({
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
    stop,
    status,
    api: () => api,
  })
  await startAll(services, log)
  return peer
}
