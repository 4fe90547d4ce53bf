import type { PeerMetrics } from '../api/metrics.js'
import type { ApiServer } from '../api/server.js'
import type { Manifest, ManifestInForce } from '../config/index.js'
import type { ManifestSync } from '../control/manifest-sync.js'
import type { MissionControl } from '../control/mission-control.js'
import type { StatusService } from '../control/status-protocol.js'
import type { StatusView } from '../control/status-view.js'
import type { AdvertStore } from '../discovery/advert-store.js'
import type { DiscoveryService } from '../discovery/discovery-service.js'
import type { HeartbeatService } from '../health/heartbeat-service.js'
import type { MembershipView } from '../health/membership.js'
import type { ModelWatcher } from '../llm/model-watcher.js'
import type { BackendRegistry } from '../llm/registry.js'
import type { ChatPart, EmbedResponse } from '../llm/types.js'
import type { ClawmeshNode } from '../net/create-node.js'
import type { Gatekeeper } from '../net/gatekeeper.js'
import type { MemberDirectory } from '../net/member-directory.js'
import type { LLMClient } from '../routing/llm-client.js'
import type { LLMService } from '../routing/llm-service.js'
import type { MeshCallOptions, MeshChatRequest, MeshEmbedRequest, MeshModel } from '../routing/mesh.js'
import type { MeshRouter } from '../routing/mesh-router.js'
import type { PeerStatus } from './status.js'

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
  readonly llmService: LLMService
  readonly llmClient: LLMClient
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
  readonly #stop: () => Promise<void>
  readonly #status: PeerStatus
  readonly #api: () => ApiServer | undefined

  /** @internal Built by `createPeer`. */
  constructor(init: {
    parts: PeerParts
    name: string
    dataDir: string
    stop: () => Promise<void>
    status: PeerStatus
    api: () => ApiServer | undefined
  }) {
    this.parts = init.parts
    this.peerId = init.parts.node.peerId.toString()
    this.name = init.name
    this.dataDir = init.dataDir
    this.#stop = init.stop
    this.#status = init.status
    this.#api = init.api
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
    return this.#status.own(source)
  }

  /** The view `GET /status` answers: the Mission Control's (fetched within ~1 s), else this peer's own. */
  statusView(): Promise<StatusView> {
    return this.#status.resolved()
  }

  /** Stops every service in the reverse of its start order (once; later calls wait for the first). */
  stop(): Promise<void> {
    return this.#stop()
  }
}
