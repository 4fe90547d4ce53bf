/**
 * The federation manifest, as one zod schema. It is a superset of
 * `examples/claworc-federation.yaml`; every addition is optional and its
 * default is documented on the field (and applied in `defaults.ts`).
 * Unknown keys are errors everywhere (`z.strictObject`).
 */
import { z } from 'zod'

/** Trust levels, lowest first. */
export const trustLevels = ['low', 'medium', 'high'] as const
/** A trust level; the message is the one users see for a bad value. */
export const TrustLevel = z.enum(trustLevels, { error: 'expected low, medium or high' })
export type TrustLevel = z.infer<typeof TrustLevel>

/** `a >= b` in the order low < medium < high. */
export function trustAtLeast(a: TrustLevel, b: TrustLevel): boolean {
  return trustLevels.indexOf(a) >= trustLevels.indexOf(b)
}

/** Built-in backend types; `custom` names a backend registered in code with `registerBackend`. */
export const backendTypes = ['ollama', 'openai-compatible', 'anthropic', 'google', 'custom'] as const
/** A backend's provider type. */
export const BackendType = z.enum(backendTypes, {
  error: `expected one of ${backendTypes.join(', ')}`,
})

const name = z
  .string()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/, 'expected a name of letters, digits, ".", "_" or "-" (max 63)')

/** A backend a node owns and offers to the mesh. */
export const BackendConfig = z.strictObject({
  /** Name souls use to pick this backend (`model: NAME/MODEL`). Unique within its node. */
  name,
  /** Provider. Default: `ollama`. */
  type: BackendType.default('ollama'),
  /** Base URL. Default per type (ollama: http://127.0.0.1:11434; others: the provider's public API). */
  url: z.url().optional(),
  /** API key, normally `${ENV_VAR}`. Never logged, never shown in status. */
  api_key: z.string().optional(),
  /** Models offered. Default: what the server lists (ollama tags, OpenAI `/models`). */
  models: z.array(z.string().min(1)).optional(),
  /** Lowest caller trust allowed to use this backend. Default: the owner node's trust. */
  min_trust: TrustLevel.optional(),
  /** Per-request timeout in milliseconds. Default: 120000. */
  timeout_ms: z.number().int().positive().optional(),
})
export type BackendConfig = z.infer<typeof BackendConfig>

/** One host of the federation. */
export const NodeConfig = z.strictObject({
  /** Unique node name. */
  name,
  /** Where this node's peer listens: `host:port` or a multiaddr. */
  address: z.string().min(1),
  /** Souls hosted here. Souls never migrate. */
  souls: z.array(name).default([]),
  /** Trust level; decides where data may go and who may use backends. */
  trust: TrustLevel,
  /** Binds the name to a libp2p identity (peer ID). Default: trust on first use. */
  peer_id: z.string().min(1).optional(),
  /** HTTP API address, `host:port`. Default: 127.0.0.1:8081. */
  api: z.string().min(1).optional(),
  /** Backends this node owns. Default: none (a standalone peer uses local Ollama). */
  backends: z.array(BackendConfig).default([]),
})
export type NodeConfig = z.infer<typeof NodeConfig>

/** Per-soul settings, keyed by soul name in the top-level `souls:` map. */
export const SoulConfig = z.strictObject({
  /** Lowest owner trust the soul's data may go to. Default: its node's trust. */
  sensitivity: TrustLevel.optional(),
  /** Default backend name for requests that name only a model. Default: the first backend the soul may use. */
  backend: name.optional(),
  /** Default model. Default: the backend's first model. */
  model: z.string().min(1).optional(),
})
export type SoulConfig = z.infer<typeof SoulConfig>

/** Heartbeat and failure-detection timings (milliseconds). */
export const HealthConfig = z.strictObject({
  /** Heartbeat period. Default: 1000. */
  heartbeat_interval_ms: z.number().int().positive().optional(),
  /** Silence after which a peer is suspect. Default: 3 heartbeats. */
  suspect_after_ms: z.number().int().positive().optional(),
  /** Silence after which a peer is dead. Default: 6 heartbeats. */
  dead_after_ms: z.number().int().positive().optional(),
  /** Backend health probe period. Default: 5000. */
  probe_interval_ms: z.number().int().positive().optional(),
})

/** Mission Control election settings. */
export const ElectionConfig = z.strictObject({
  /** May a low-trust peer lead? Default: false (unless no other peer is alive). */
  allow_low_trust_leader: z.boolean().optional(),
})

/** Per-peer limits on what remote peers and local clients may use. */
export const LimitsConfig = z.strictObject({
  /** Largest HTTP body accepted, in bytes. Default: 8 MiB. */
  max_body_bytes: z.number().int().positive().optional(),
  /** Largest frame on any clawmesh protocol, in bytes. Default: 8 MiB + 64 KiB. */
  max_frame_bytes: z.number().int().positive().optional(),
  /** Concurrent LLM streams one remote peer may hold open here. Default: 64. */
  max_streams_per_peer: z.number().int().positive().optional(),
})

/** How owners stream replies. */
export const RoutingConfig = z.strictObject({
  /**
   * Merge text deltas (and argument deltas of one tool call) that the backend produced together
   * into one delta before sending them. A token that arrives on its own always travels alone.
   * Default: true. Set false to keep one delta per backend chunk even under load.
   */
  merge_deltas: z.boolean().optional(),
})

/** The `federation:` section: nodes, preferred control plane, keys and tuning. */
export const FederationConfig = z.strictObject({
  /** Preferred Mission Control: a node name, or a host / host:port of a node's address or api. */
  control_plane: z.string().min(1).optional(),
  /** Private-network pre-shared key (`clawmesh federation secret`), normally `${ENV}`. */
  secret: z.string().min(1).optional(),
  /** Federation public key; when set the manifest must carry a valid signature. */
  key: z.string().min(1).optional(),
  nodes: z.array(NodeConfig).min(1, 'expected at least one node'),
  health: HealthConfig.optional(),
  election: ElectionConfig.optional(),
  limits: LimitsConfig.optional(),
  routing: RoutingConfig.optional(),
})

/** The whole manifest file. */
export const Manifest = z.strictObject({
  federation: FederationConfig,
  /** Per-soul settings; every key must be a soul of some node. */
  souls: z.record(name, SoulConfig).optional(),
  /** Manifest version stamped by `clawmesh manifest sign`. */
  version: z.number().int().nonnegative().optional(),
  /** Signature by the federation key over everything but this field. */
  signature: z.string().optional(),
})
export type Manifest = z.infer<typeof Manifest>
/** The manifest as written, before defaults (`souls`, `backends`, `type`) are filled in. */
export type ManifestInput = z.input<typeof Manifest>
