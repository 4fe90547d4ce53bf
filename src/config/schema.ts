/**
 * The federation manifest, as one zod schema. It is a superset of
 * `examples/claworc-federation.yaml`; every addition is optional. Each field's
 * `.describe()` text documents it, with its default (the values live in
 * `defaults.ts`, `resolve.ts` applies them); `npm run docs:config` turns these
 * into docs/configuration.md and `npm run schema` into the JSON Schema.
 * Unknown keys are errors everywhere (`z.strictObject`).
 */
import { z } from 'zod'
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
  name: name.describe('Name souls use to pick this backend (`model: NAME/MODEL`). Unique within its node.'),
  type: BackendType.default('ollama').describe(
    'Provider: a built-in type, or `custom` for a backend registered in code with `registerBackend()` under this `name`.',
  ),
  url: z
    .url()
    .optional()
    .describe(
      `Base URL. Default: per type (ollama: ${DEFAULT_OLLAMA_URL}; others: the provider's public API; not used by \`custom\`).`,
    ),
  api_key: z.string().optional().describe(
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the manifest's literal ${ENV_VAR} syntax
    'API key, normally `${ENV_VAR}`. Never logged, never shown in status. Required for `anthropic` and `google`.',
  ),
  models: z
    .array(z.string().min(1))
    .optional()
    .describe('Models offered. Default: what the server lists (ollama tags, OpenAI `/models`).'),
  min_trust: TrustLevel.optional().describe(
    "Lowest caller trust allowed to use this backend. Default: the owner node's trust.",
  ),
  timeout_ms: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      `Inactivity timeout of one request in milliseconds (wait for the first byte, and every gap between parts). Default: ${DEFAULT_BACKEND_TIMEOUT_MS}.`,
    ),
})
export type BackendConfig = z.infer<typeof BackendConfig>

/** One host of the federation. */
export const NodeConfig = z.strictObject({
  name: name.describe('Unique node name.'),
  address: z.string().min(1).describe("Where this node's peer listens: `host:port` or a multiaddr."),
  souls: z.array(name).default([]).describe('Souls hosted here. Souls never migrate.'),
  trust: TrustLevel.describe('Trust level; decides where data may go and who may use backends.'),
  peer_id: z
    .string()
    .min(1)
    .optional()
    .describe('Binds the name to a libp2p identity (peer ID). Default: trust on first use.'),
  api: z
    .string()
    .min(1)
    .optional()
    .describe(`HTTP API address, \`host:port\`. Default: ${DEFAULT_API_ADDRESS}.`),
  backends: z
    .array(BackendConfig)
    .default([])
    .describe('Backends this node owns (a standalone peer, run without a manifest, uses local Ollama).'),
})
export type NodeConfig = z.infer<typeof NodeConfig>

/** Per-soul settings, keyed by soul name in the top-level `souls:` map. */
export const SoulConfig = z.strictObject({
  sensitivity: TrustLevel.optional().describe(
    "Lowest owner trust the soul's data may go to. Default: its node's trust.",
  ),
  backend: name
    .optional()
    .describe(
      'Default backend name for requests that name only a model. Default: the first backend the soul may use.',
    ),
  model: z.string().min(1).optional().describe("Default model. Default: the backend's first model."),
})
export type SoulConfig = z.infer<typeof SoulConfig>

/** Heartbeat and failure-detection timings (milliseconds). */
export const HealthConfig = z.strictObject({
  heartbeat_interval_ms: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(`Heartbeat period, in milliseconds. Default: ${DEFAULT_HEARTBEAT_INTERVAL_MS}.`),
  suspect_after_ms: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      `Silence after which a peer is suspect, in milliseconds. Default: ${DEFAULT_SUSPECT_AFTER_HEARTBEATS} heartbeat periods.`,
    ),
  dead_after_ms: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      `Silence after which a peer is dead, in milliseconds. Default: ${DEFAULT_DEAD_AFTER_HEARTBEATS} heartbeat periods.`,
    ),
  probe_interval_ms: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(`Backend health probe period, in milliseconds. Default: ${DEFAULT_PROBE_INTERVAL_MS}.`),
})

/** Mission Control election settings. */
export const ElectionConfig = z.strictObject({
  allow_low_trust_leader: z
    .boolean()
    .optional()
    .describe(
      `May a low-trust peer lead? Default: ${DEFAULT_ALLOW_LOW_TRUST_LEADER} (unless no other peer is alive).`,
    ),
})

/** Per-peer limits on what remote peers and local clients may use. */
export const LimitsConfig = z.strictObject({
  max_body_bytes: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(`Largest HTTP body accepted, in bytes. Default: 8 MiB (${DEFAULT_MAX_BODY_BYTES}).`),
  max_frame_bytes: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      `Largest frame on any clawmesh protocol, in bytes. Default: 8 MiB + 64 KiB (${DEFAULT_MAX_FRAME_BYTES}).`,
    ),
  max_streams_per_peer: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      `Concurrent LLM streams one remote peer may hold open here. Default: ${DEFAULT_MAX_STREAMS_PER_PEER}.`,
    ),
})

/** How owners stream replies. */
export const RoutingConfig = z.strictObject({
  merge_deltas: z
    .boolean()
    .optional()
    .describe(
      'Merge text deltas (and argument deltas of one tool call) that the backend produced together into one delta before sending them. A token that arrives on its own always travels alone. Default: true. Set false to keep one delta per backend chunk even under load.',
    ),
})

/** The `federation:` section: nodes, preferred control plane, keys and tuning. */
export const FederationConfig = z.strictObject({
  control_plane: z
    .string()
    .min(1)
    .optional()
    .describe("Preferred Mission Control: a node name, or a host / host:port of a node's address or api."),
  secret: z
    .string()
    .min(1)
    .optional()
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the manifest's literal ${ENV} syntax
    .describe('Private-network pre-shared key (`clawmesh federation secret`), normally `${ENV}`.'),
  key: z
    .string()
    .min(1)
    .optional()
    .describe('Federation public key; when set the manifest must carry a valid signature.'),
  nodes: z
    .array(NodeConfig)
    .min(1, 'expected at least one node')
    .describe('The hosts of the federation (at least one).'),
  health: HealthConfig.optional().describe('Heartbeat and failure-detection timings.'),
  election: ElectionConfig.optional().describe('Mission Control election settings.'),
  limits: LimitsConfig.optional().describe('Per-peer limits on what remote peers and local clients may use.'),
  routing: RoutingConfig.optional().describe('How owners stream replies.'),
})

/** The whole manifest file. */
export const Manifest = z.strictObject({
  federation: FederationConfig.describe('Nodes, preferred control plane, keys and tuning.'),
  souls: z
    .record(name, SoulConfig)
    .optional()
    .describe('Per-soul settings, keyed by soul name; every key must be a soul of some node.'),
  version: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe('Manifest version stamped by `clawmesh manifest sign`.'),
  signature: z
    .string()
    .optional()
    .describe('Signature by the federation key over everything but this field.'),
})
export type Manifest = z.infer<typeof Manifest>
/** The manifest as written, before defaults (`souls`, `backends`, `type`) are filled in. */
export type ManifestInput = z.input<typeof Manifest>
