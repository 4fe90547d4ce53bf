/** Defaults of the `/clawmesh/llm/1.0.0` protocol; every one can be overridden where it is used. */

/** Largest frame and streams per peer: the manifest's `limits` defaults, defined once in config. */
export { DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_STREAMS_PER_PEER } from '../config/defaults.js'
export { LLM_PROTOCOL } from '../net/constants.js'
/** Time from stream open to the first request frame. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000
/** Longest silence of a backend between two parts (and the whole time of an embedding call). */
export const DEFAULT_IDLE_TIMEOUT_MS = 120_000
/** How long an owner keeps a reused (keep-alive) stream open waiting for the next request. */
export const DEFAULT_SERVER_KEEP_ALIVE_MS = 30_000
/** How long a caller keeps an idle stream in its pool; shorter than the owner's keep-alive on purpose. */
export const DEFAULT_POOL_IDLE_MS = 20_000
/** Idle streams a caller keeps per owner. */
export const DEFAULT_POOL_MAX_IDLE_PER_PEER = 16
/** A `parts` frame is flushed once its parts reach about this many bytes. */
export const DEFAULT_BATCH_BYTES = 16 * 1024
/** Bytes of received, not yet consumed frames after which a reader pauses the stream (read backpressure). */
export const DEFAULT_READ_HIGH_WATER_MARK = 64 * 1024
/** Outbound `/clawmesh/llm` streams a caller may open per connection (libp2p's own limit, not the owner's). */
export const MAX_OUTBOUND_STREAMS = 1024
/** Cap of a caller's yamux receive window on `/clawmesh/llm` streams (yamux's initial window); see `capReceiveWindow`. */
export const RECEIVE_WINDOW_BYTES = 256 * 1024
