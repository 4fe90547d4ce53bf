/**
 * The `Mesh` of one peer: resolves `BACKEND[/MODEL]` for a soul, finds the
 * backend's owners from DHT adverts, keeps those the trust rules allow
 * (checked here, before any byte of the request leaves), ranks them by
 * gossiped health and load, and streams from the first that answers — the
 * local backend directly when this peer owns it, else over
 * `/clawmesh/llm/1.0.0`.
 */
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { backendMinTrust, soulOwner, soulSensitivity } from '../config/resolve.js'
import type { Manifest, NodeConfig, TrustLevel } from '../config/schema.js'
import type { AdvertBody } from '../discovery/advert.js'
import { ClawmeshError } from '../errors.js'
import type { ChatPart, EmbedResponse, LLMBackend } from '../llm/types.js'
import type { Logger } from '../log.js'
import { RoutingError } from './errors.js'
import type { LLMClient } from './llm-client.js'
import type {
  Mesh,
  MeshCallOptions,
  MeshChatRequest,
  MeshEmbedRequest,
  MeshErrorCode,
  MeshModel,
} from './mesh.js'
import { callWithFailover, routeWithFailover } from './route-with-failover.js'
import { type OwnerCandidate, rankOwners } from './select-owner.js'

/** A mesh-level failure with one of the `MeshErrorCode`s. */
export class MeshError extends ClawmeshError {
  static override name = 'MeshError'
  declare readonly code: MeshErrorCode
  constructor(code: MeshErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options)
  }
}

/** Gossiped facts about an owner, when known. */
export interface OwnerHealth {
  /** Backend health from the owner's last heartbeat. */
  healthy?: boolean
  inFlight?: number
  /** The owner's state in the membership view. A dead owner is not tried; a suspect one is tried last. */
  state?: 'alive' | 'suspect' | 'dead'
}

/** What the router needs from the peer around it. */
export interface MeshRouterOptions {
  manifest: Manifest
  /** This peer's node and ID. */
  self: { node: NodeConfig; peerId: PeerId }
  client: LLMClient
  /** Local backends by name (this peer is then an owner too). */
  localBackend(name: string): LLMBackend | undefined
  /** Owners of a backend from adverts (refreshed on a miss). */
  ownersOfBackend(name: string): Promise<AdvertBody[]>
  /** Every known advert (for model lists). */
  adverts(): AdvertBody[]
  /** The manifest node an advertising peer is, or undefined for a non-member. */
  nodeOfPeer(peerId: string): NodeConfig | undefined
  isConnected(peerId: string): boolean
  /** Gossiped health and load. Default: unknown. */
  health?: (peerId: string, backend: string) => OwnerHealth
  log: Logger
}

interface Candidate extends OwnerCandidate {
  peerId: string
  local: boolean
  models: string[]
  /** Heartbeats say it is gone (crashed, or across a partition): not tried, so requests fail fast. */
  dead: boolean
}

interface Target {
  backend: string
  model: string
  sensitivity: TrustLevel
  owners: Candidate[]
}

/** The router; implements `Mesh`. */
export class MeshRouter implements Mesh {
  #init: MeshRouterOptions

  constructor(init: MeshRouterOptions) {
    this.#init = init
  }

  /** Switches to a newer manifest (adopted over the mesh); later requests use its trust rules. */
  setManifest(manifest: Manifest, node: NodeConfig): void {
    this.#init = { ...this.#init, manifest, self: { ...this.#init.self, node } }
  }

  hostsSoul(soul: string): boolean {
    return this.#init.self.node.souls.includes(soul)
  }

  async *chat(
    request: MeshChatRequest,
    options: MeshCallOptions = {},
  ): AsyncGenerator<ChatPart, void, undefined> {
    const target = await this.#resolve(request.soul, request.model)
    const { client, log } = this.#init
    const attempt = (owner: Candidate): AsyncIterable<ChatPart> => {
      const chatRequest = { ...request.request, model: target.model }
      if (owner.local) {
        const backend = this.#init.localBackend(target.backend)
        if (backend === undefined)
          throw new MeshError('UNKNOWN_BACKEND', `backend "${target.backend}" is gone`)
        return backend.chat(chatRequest, options)
      }
      return client.chat(
        peerIdFromString(owner.peerId),
        {
          soul: request.soul,
          sensitivity: target.sensitivity,
          backend: target.backend,
          request: chatRequest,
        },
        options,
      )
    }
    try {
      yield* routeWithFailover(target.owners, attempt, ({ candidate, error }) =>
        log.warn('owner failed before the first token; trying the next', {
          owner: candidate.name,
          error: (error as Error).message,
        }),
      )
    } catch (error) {
      throw this.#exhausted(error)
    }
  }

  async embed(request: MeshEmbedRequest, options: MeshCallOptions = {}): Promise<EmbedResponse> {
    const target = await this.#resolve(request.soul, request.model)
    try {
      return await callWithFailover(target.owners, (owner) => {
        const embedRequest = { model: target.model, input: request.input }
        if (owner.local) {
          const backend = this.#init.localBackend(target.backend)
          if (backend === undefined)
            throw new MeshError('UNKNOWN_BACKEND', `backend "${target.backend}" is gone`)
          return backend.embed(embedRequest, options)
        }
        return this.#init.client.embed(
          peerIdFromString(owner.peerId),
          {
            soul: request.soul,
            sensitivity: target.sensitivity,
            backend: target.backend,
            request: embedRequest,
          },
          options,
        )
      })
    } catch (error) {
      throw this.#exhausted(error)
    }
  }

  async models(soul: string): Promise<MeshModel[]> {
    this.#requireSoul(soul)
    const sensitivity = soulSensitivity(this.#init.manifest, soul)
    const byId = new Map<string, MeshModel>()
    const backends = new Set(
      this.#init.adverts().flatMap((advert) => advert.backends.map((backend) => backend.name)),
    )
    for (const backend of backends) {
      const { eligible } = rankOwners(
        await this.#candidates(backend),
        this.#rankOptions(soul, sensitivity, backend),
      )
      for (const owner of eligible) {
        for (const model of owner.models) {
          const id = `${backend}/${model}`
          const entry = byId.get(id) ?? { id, backend, model, owners: [] }
          if (!entry.owners.includes(owner.name)) entry.owners.push(owner.name)
          byId.set(id, entry)
        }
      }
    }
    return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id))
  }

  /** Resolves the backend, model and eligible owners of a request, or throws the right MeshError. */
  async #resolve(soul: string, requested: string): Promise<Target> {
    this.#requireSoul(soul)
    const { manifest } = this.#init
    const sensitivity = soulSensitivity(manifest, soul)
    const { backend, model: named } = await this.#splitModel(soul, requested)
    const all = await this.#candidates(backend)
    if (all.length === 0)
      throw new MeshError('UNKNOWN_BACKEND', `no node of the federation offers backend "${backend}"`)
    const model = named === '' ? this.#defaultModel(soul, backend, all) : named
    const withModel = all.filter((owner) => offersModel(owner.models, model))
    if (withModel.length === 0) {
      throw new MeshError('UNKNOWN_MODEL', `backend "${backend}" has no model "${model}"`)
    }
    // Trust first (a refusal names the rule), then liveness among the owners the rules allow.
    const { eligible, refused } = rankOwners(withModel, this.#rankOptions(soul, sensitivity, backend))
    if (eligible.length === 0) {
      const reasons = refused.map((entry) => entry.error.message).join('; ')
      throw new MeshError('NO_ELIGIBLE_OWNER', `trust rules leave no owner of "${backend}": ${reasons}`)
    }
    const live = eligible.filter((owner) => !owner.dead)
    if (live.length === 0) {
      const names = eligible.map((owner) => owner.name).join(', ')
      throw new MeshError(
        'OWNER_UNREACHABLE',
        `every owner of backend "${backend}" the soul may use is unreachable (${names}: no heartbeat heard)`,
      )
    }
    return { backend, model, sensitivity, owners: live }
  }

  #rankOptions(soul: string, sensitivity: TrustLevel, backend: string) {
    const self = this.#init.self.node
    return { sensitivity, soul, callerTrust: self.trust, caller: self.name, backend }
  }

  /** DESIGN.md: split at the first `/`; if the head names a backend, the rest is its model. */
  async #splitModel(soul: string, requested: string): Promise<{ backend: string; model: string }> {
    const slash = requested.indexOf('/')
    const head = slash < 0 ? requested : requested.slice(0, slash)
    if (head !== '' && (await this.#isBackend(head))) {
      return { backend: head, model: slash < 0 ? '' : requested.slice(slash + 1) }
    }
    return { backend: this.#defaultBackend(soul), model: requested }
  }

  async #isBackend(name: string): Promise<boolean> {
    const inManifest = this.#init.manifest.federation.nodes.some((node) =>
      node.backends.some((backend) => backend.name === name),
    )
    return inManifest || (await this.#init.ownersOfBackend(name)).length > 0
  }

  /** The soul's `backend`, else the first backend (own node's first) whose owner the soul may send to. */
  #defaultBackend(soul: string): string {
    const { manifest } = this.#init
    const configured = manifest.souls?.[soul]?.backend
    if (configured !== undefined) return configured
    const sensitivity = soulSensitivity(manifest, soul)
    const own = soulOwner(manifest, soul)
    const nodes = [...(own ? [own] : []), ...manifest.federation.nodes.filter((node) => node !== own)]
    for (const node of nodes) {
      if (
        rankOwners([{ peerId: node.name, name: node.name, trust: node.trust, connected: false }], {
          sensitivity,
        }).eligible.length === 0
      )
        continue
      const first = node.backends[0]
      if (first !== undefined) return first.name
    }
    throw new MeshError(
      'UNKNOWN_BACKEND',
      `soul "${soul}" has no backend it may use; name one as BACKEND/MODEL`,
    )
  }

  #defaultModel(soul: string, backend: string, owners: Candidate[]): string {
    const settings = this.#init.manifest.souls?.[soul]
    if (settings?.model !== undefined && (settings.backend === undefined || settings.backend === backend)) {
      return settings.model
    }
    const first = owners.find((owner) => owner.models.length > 0)?.models[0]
    if (first === undefined)
      throw new MeshError('UNKNOWN_MODEL', `backend "${backend}" lists no models; name one`)
    return first
  }

  /** Owners of `backend` that are members (those heartbeats say are dead are flagged). */
  async #candidates(backend: string): Promise<Candidate[]> {
    const { self } = this.#init
    const candidates: Candidate[] = []
    for (const advert of await this.#init.ownersOfBackend(backend)) {
      const node = this.#init.nodeOfPeer(advert.peerId)
      if (node === undefined) continue
      const config = node.backends.find((entry) => entry.name === backend)
      const advertised = advert.backends.find((entry) => entry.name === backend)
      const health = this.#init.health?.(advert.peerId, backend) ?? {}
      const local = advert.peerId === self.peerId.toString()
      if (local && this.#init.localBackend(backend) === undefined) continue
      // Heartbeats say it is gone (crashed, or on the other side of a partition): trying it would
      // only wait out a dial timeout, so the request fails fast or goes to a live owner instead.
      const dead = !local && health.state === 'dead'
      candidates.push({
        peerId: advert.peerId,
        name: node.name,
        trust: node.trust,
        backendMinTrust: config === undefined ? node.trust : backendMinTrust(node, config),
        connected: local || this.#init.isConnected(advert.peerId),
        local,
        dead,
        models: advertised?.models ?? [],
        ...(health.state === 'suspect'
          ? { healthy: false }
          : health.healthy === undefined
            ? {}
            : { healthy: health.healthy }),
        ...(health.inFlight === undefined ? {} : { inFlight: health.inFlight }),
      })
    }
    return candidates
  }

  #requireSoul(soul: string): void {
    if (!this.hostsSoul(soul)) {
      throw new MeshError('FOREIGN_SOUL', `soul "${soul}" is not hosted by ${this.#init.self.node.name}`)
    }
  }

  /** Maps the failover's final error to the mesh codes (502 failed / 503 unreachable). */
  #exhausted(error: unknown): unknown {
    if (!(error instanceof RoutingError) || error.afterFirstToken) return error
    // Owners (or their providers) that asked us to slow down: say so (429), not "failed".
    const cause = error.cause as { code?: string } | undefined
    if (
      cause?.code === 'RATE_LIMITED' ||
      cause?.code === 'TOO_MANY_STREAMS' ||
      cause?.code === 'OWNER_BUSY' ||
      cause?.code === 'BACKEND_RATE_LIMITED'
    ) {
      return cause
    }
    if (error.code === 'ALL_OWNERS_FAILED' || error.code === 'NO_OWNER') {
      const unreachable = /unreachable|dial|connect|closed/i.test(error.message)
      return new MeshError(unreachable ? 'OWNER_UNREACHABLE' : 'OWNER_FAILED', error.message, {
        cause: error,
      })
    }
    return error
  }
}

/** An empty list means the owner did not say; a bare Ollama-style name matches its `:latest` tag. */
function offersModel(models: string[], model: string): boolean {
  if (models.length === 0) return true
  return models.includes(model) || (!model.includes(':') && models.includes(`${model}:latest`))
}
