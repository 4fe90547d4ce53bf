/**
 * Pure questions over a loaded manifest. This is the one place where the
 * defaults of `defaults.ts` are applied; other rooms ask here instead of
 * reading optional fields themselves.
 */
import { addressHostPort, type HostPort, parseHostPort } from './address.js'
import {
  DEFAULT_ALLOW_LOW_TRUST_LEADER,
  DEFAULT_API_ADDRESS,
  DEFAULT_BACKEND_TIMEOUT_MS,
  DEFAULT_DEAD_AFTER_HEARTBEATS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_STREAMS_PER_PEER,
  DEFAULT_OLLAMA_URL,
  DEFAULT_PROBE_INTERVAL_MS,
  DEFAULT_SUSPECT_AFTER_HEARTBEATS,
} from './defaults.js'
import { UnknownBackendError, UnknownNodeError, UnknownSoulError } from './errors.js'
import type { BackendConfig, Manifest, NodeConfig, TrustLevel } from './schema.js'

export { addressToMultiaddr } from './address.js'

/** Heartbeat and failure-detection timings with defaults applied (milliseconds). */
export interface HealthSettings {
  readonly heartbeatIntervalMs: number
  readonly suspectAfterMs: number
  readonly deadAfterMs: number
  readonly probeIntervalMs: number
}

/** Size and count limits with defaults applied. */
export interface LimitSettings {
  readonly maxBodyBytes: number
  readonly maxFrameBytes: number
  readonly maxStreamsPerPeer: number
}

/** How owners stream replies, with defaults applied. */
export interface RoutingSettings {
  readonly mergeDeltas: boolean
}

/** Mission Control election settings with defaults applied. */
export interface ElectionSettings {
  readonly allowLowTrustLeader: boolean
}

/** The node called `name`; throws `UnknownNodeError` if the manifest has none. */
export function findNode(manifest: Manifest, name: string): NodeConfig {
  const node = manifest.federation.nodes.find((candidate) => candidate.name === name)
  if (node === undefined) {
    throw new UnknownNodeError(
      name,
      manifest.federation.nodes.map((candidate) => candidate.name),
    )
  }
  return node
}

/** The node hosting `soul`, or undefined if none does. */
export function soulOwner(manifest: Manifest, soul: string): NodeConfig | undefined {
  return manifest.federation.nodes.find((node) => node.souls.includes(soul))
}

/** Lowest owner trust `soul`'s data may go to: its `sensitivity`, else its node's trust. Throws `UnknownSoulError`. */
export function soulSensitivity(manifest: Manifest, soul: string): TrustLevel {
  const owner = soulOwner(manifest, soul)
  if (owner === undefined) throw new UnknownSoulError(soul)
  return manifest.souls?.[soul]?.sensitivity ?? owner.trust
}

/** Lowest caller trust allowed to use `backend` of `node`: its `min_trust`, else the node's trust. */
export function backendMinTrust(node: NodeConfig, backend: BackendConfig | string): TrustLevel {
  return resolveBackend(node, backend).min_trust ?? node.trust
}

/** Base URL of a backend; undefined means the provider library's own default (its public API). */
export function backendUrl(backend: BackendConfig): string | undefined {
  return backend.url ?? (backend.type === 'ollama' ? DEFAULT_OLLAMA_URL : undefined)
}

/** Per-request timeout of a backend in milliseconds. */
export function backendTimeoutMs(backend: BackendConfig): number {
  return backend.timeout_ms ?? DEFAULT_BACKEND_TIMEOUT_MS
}

/** A node's HTTP API address as `host:port`. */
export function nodeApiAddress(node: NodeConfig): string {
  return node.api ?? DEFAULT_API_ADDRESS
}

/** Heartbeat timings; suspect and dead default to 3 and 6 heartbeat periods. */
export function healthSettings(manifest: Manifest): HealthSettings {
  const health = manifest.federation.health
  const heartbeatIntervalMs = health?.heartbeat_interval_ms ?? DEFAULT_HEARTBEAT_INTERVAL_MS
  return {
    heartbeatIntervalMs,
    suspectAfterMs: health?.suspect_after_ms ?? heartbeatIntervalMs * DEFAULT_SUSPECT_AFTER_HEARTBEATS,
    deadAfterMs: health?.dead_after_ms ?? heartbeatIntervalMs * DEFAULT_DEAD_AFTER_HEARTBEATS,
    probeIntervalMs: health?.probe_interval_ms ?? DEFAULT_PROBE_INTERVAL_MS,
  }
}

/** Body, frame and stream limits. */
export function limitSettings(manifest: Manifest): LimitSettings {
  const limits = manifest.federation.limits
  return {
    maxBodyBytes: limits?.max_body_bytes ?? DEFAULT_MAX_BODY_BYTES,
    maxFrameBytes: limits?.max_frame_bytes ?? DEFAULT_MAX_FRAME_BYTES,
    maxStreamsPerPeer: limits?.max_streams_per_peer ?? DEFAULT_MAX_STREAMS_PER_PEER,
  }
}

/** Reply streaming settings. */
export function routingSettings(manifest: Manifest): RoutingSettings {
  return { mergeDeltas: manifest.federation.routing?.merge_deltas ?? true }
}

/** Mission Control election settings. */
export function electionSettings(manifest: Manifest): ElectionSettings {
  return {
    allowLowTrustLeader:
      manifest.federation.election?.allow_low_trust_leader ?? DEFAULT_ALLOW_LOW_TRUST_LEADER,
  }
}

/**
 * Names of the nodes `control_plane` designates, best match only: a node
 * name; else an exact host:port of a node's `address` or `api`; else the
 * host alone (`home.example.com:8081` names `home` whose address is :8082).
 * Empty when nothing matches or `control_plane` is unset.
 */
export function controlPlaneCandidates(manifest: Manifest): string[] {
  const wanted = manifest.federation.control_plane
  if (wanted === undefined) return []
  const nodes = manifest.federation.nodes
  const byName = nodes.filter((node) => node.name === wanted)
  if (byName.length > 0) return byName.map((node) => node.name)
  const target = tryHostPort(wanted, true)
  if (target === undefined) return []
  const endpoints = nodes.map((node) => ({ name: node.name, endpoints: nodeEndpoints(node) }))
  const exact = endpoints.filter((entry) =>
    entry.endpoints.some((endpoint) => sameHost(endpoint, target) && endpoint.port === target.port),
  )
  if (target.port !== undefined && exact.length > 0) return exact.map((entry) => entry.name)
  return endpoints
    .filter((entry) => entry.endpoints.some((endpoint) => sameHost(endpoint, target)))
    .map((entry) => entry.name)
}

/** The node name `control_plane` designates, or undefined when it is unset, matches nothing or is ambiguous. */
export function controlPlaneNodeName(manifest: Manifest): string | undefined {
  const candidates = controlPlaneCandidates(manifest)
  return candidates.length === 1 ? candidates[0] : undefined
}

function resolveBackend(node: NodeConfig, backend: BackendConfig | string): BackendConfig {
  if (typeof backend !== 'string') return backend
  const found = node.backends.find((candidate) => candidate.name === backend)
  if (found === undefined) throw new UnknownBackendError(node.name, backend)
  return found
}

function nodeEndpoints(node: NodeConfig): HostPort[] {
  const endpoints: HostPort[] = []
  for (const address of [node.address, nodeApiAddress(node)]) {
    const endpoint = tryHostPort(address, false)
    if (endpoint !== undefined) endpoints.push(endpoint)
  }
  return endpoints
}

/** Parses an address for matching; `bareHost` also accepts a host with no port. Undefined if unparseable. */
function tryHostPort(address: string, bareHost: boolean): HostPort | undefined {
  try {
    return addressHostPort(address)
  } catch {
    if (!bareHost) return undefined
    try {
      // A bare host: give it a dummy port to reuse the host:port syntax checks.
      const host = /^[^[].*:.*$/.test(address) ? `[${address}]` : address
      return { host: parseHostPort(`${host}:0`).host, port: undefined }
    } catch {
      return undefined
    }
  }
}

function sameHost(a: HostPort, b: HostPort): boolean {
  return a.host.replace(/\.$/, '').toLowerCase() === b.host.replace(/\.$/, '').toLowerCase()
}
