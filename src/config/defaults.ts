/**
 * Every default of the manifest, in one place. The schema documents them on
 * each field; `resolve.ts` is the only code that applies them.
 */

/** HTTP API address of a node without `api`. Loopback only, so nothing is exposed by default. */
export const DEFAULT_API_ADDRESS = '127.0.0.1:8081'
/** Heartbeat period, ms. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1000
/** Heartbeats missed before a peer is suspect (3 → 3000 ms at the default period). */
export const DEFAULT_SUSPECT_AFTER_HEARTBEATS = 3
/** Heartbeats missed before a peer is dead (6 → 6000 ms at the default period). */
export const DEFAULT_DEAD_AFTER_HEARTBEATS = 6
/** Silence after which a peer is suspect, ms, at the default heartbeat period. */
export const DEFAULT_SUSPECT_AFTER_MS = DEFAULT_HEARTBEAT_INTERVAL_MS * DEFAULT_SUSPECT_AFTER_HEARTBEATS
/** Silence after which a peer is dead, ms, at the default heartbeat period. */
export const DEFAULT_DEAD_AFTER_MS = DEFAULT_HEARTBEAT_INTERVAL_MS * DEFAULT_DEAD_AFTER_HEARTBEATS
/** Backend health probe period, ms. */
export const DEFAULT_PROBE_INTERVAL_MS = 5000
/** Largest HTTP body accepted, bytes (8 MiB). */
export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
/** Largest protocol frame, bytes: a full body plus 64 KiB of envelope. */
export const DEFAULT_MAX_FRAME_BYTES = DEFAULT_MAX_BODY_BYTES + 64 * 1024
/** Concurrent LLM streams one remote peer may hold open. */
export const DEFAULT_MAX_STREAMS_PER_PEER = 64
/** May a low-trust peer be elected Mission Control while others are alive? */
export const DEFAULT_ALLOW_LOW_TRUST_LEADER = false
/** Base URL of a local Ollama server. */
export const DEFAULT_OLLAMA_URL = 'http://127.0.0.1:11434'
/** Per-request backend timeout, ms. */
export const DEFAULT_BACKEND_TIMEOUT_MS = 120_000
/** Listen address of a standalone peer (no manifest): loopback, any free port. */
export const DEFAULT_STANDALONE_ADDRESS = '127.0.0.1:0'
/** Backend name of a standalone peer's local Ollama. */
export const DEFAULT_STANDALONE_BACKEND = 'ollama'
/** Node name used when the host name has no usable character. */
export const DEFAULT_STANDALONE_NAME = 'clawmesh'
