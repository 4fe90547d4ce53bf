/**
 * Per-peer request rate limits: one token bucket per key (a remote peer ID).
 * A bucket holds up to `burst` tokens and refills at `ratePerSecond`; each
 * request takes one. The table of buckets is bounded too: past `maxKeys`,
 * buckets that are full again (their peer has been quiet) are forgotten
 * first, then the oldest, so many identities cannot grow it without limit.
 */
import { ClawmeshError } from '../errors.js'

/**
 * Default request rate per remote peer on `/clawmesh/llm/1.0.0` (requests per second). One
 * gateway peer carries every local client's requests to an owner (bench/gateway.ts reaches
 * ~1000/s with short replies), so this bounds abuse (a garbage frame costs tens of µs of CPU:
 * 2000/s is a few percent of a core), not legitimate load.
 */
export const DEFAULT_LLM_REQUESTS_PER_SECOND = 2_000
/** Default burst per remote peer on `/clawmesh/llm/1.0.0` (requests taken at once from a full bucket). */
export const DEFAULT_LLM_REQUEST_BURST = 4_000
/** Default number of peers whose buckets are remembered. */
export const DEFAULT_RATE_LIMIT_MAX_KEYS = 4096

/** Options of a `RateLimiter`; all optional, defaults above. */
export interface RateLimitOptions {
  /** Tokens added per second (the sustained rate). */
  ratePerSecond?: number
  /** Bucket size (the largest burst). */
  burst?: number
  /** Buckets kept at most. */
  maxKeys?: number
  /** Clock in milliseconds (tests). Default: `performance.now`. */
  now?: () => number
}

/** The outcome of one `take`: allowed, or refused with the time until a token is back. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number }

/** A request over its peer's rate; retryable after `retryAfterMs`. */
export class RateLimitError extends ClawmeshError {
  static override name = 'RateLimitError'
  declare readonly code: 'RATE_LIMITED'
  /** Milliseconds until the next request would be allowed. */
  readonly retryAfterMs: number

  constructor(retryAfterMs: number) {
    super('RATE_LIMITED', `too many requests: retry in ${retryAfterMs} ms`)
    this.retryAfterMs = retryAfterMs
  }
}

interface Bucket {
  tokens: number
  at: number
}

/** Token buckets keyed by peer. */
export class RateLimiter {
  readonly ratePerSecond: number
  readonly burst: number
  readonly maxKeys: number
  readonly #now: () => number
  readonly #buckets = new Map<string, Bucket>()

  constructor(options: RateLimitOptions = {}) {
    this.ratePerSecond = options.ratePerSecond ?? DEFAULT_LLM_REQUESTS_PER_SECOND
    this.burst = options.burst ?? DEFAULT_LLM_REQUEST_BURST
    this.maxKeys = options.maxKeys ?? DEFAULT_RATE_LIMIT_MAX_KEYS
    if (!(this.ratePerSecond > 0) || !(this.burst >= 1) || !(this.maxKeys >= 1)) {
      throw new ClawmeshError('RATE_LIMIT_INVALID', 'ratePerSecond must be > 0, burst and maxKeys >= 1')
    }
    this.#now = options.now ?? (() => performance.now())
  }

  /** Takes one token from `key`'s bucket, or says how long until one is back. */
  take(key: string): RateDecision {
    const now = this.#now()
    let bucket = this.#buckets.get(key)
    if (bucket === undefined) {
      this.#makeRoom(now)
      bucket = { tokens: this.burst, at: now }
      this.#buckets.set(key, bucket)
    } else {
      this.#refill(bucket, now)
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return { allowed: true }
    }
    return { allowed: false, retryAfterMs: Math.ceil(((1 - bucket.tokens) * 1000) / this.ratePerSecond) }
  }

  /** Buckets held now (for tests and metrics). */
  get size(): number {
    return this.#buckets.size
  }

  #refill(bucket: Bucket, now: number): void {
    const elapsed = Math.max(0, now - bucket.at)
    bucket.tokens = Math.min(this.burst, bucket.tokens + (elapsed * this.ratePerSecond) / 1000)
    bucket.at = now
  }

  /** Keeps the table under `maxKeys`: full buckets carry no state worth keeping, so they go first. */
  #makeRoom(now: number): void {
    if (this.#buckets.size < this.maxKeys) return
    for (const [key, bucket] of this.#buckets) {
      this.#refill(bucket, now)
      if (bucket.tokens >= this.burst) this.#buckets.delete(key)
    }
    while (this.#buckets.size >= this.maxKeys) {
      const oldest = this.#buckets.keys().next()
      if (oldest.done === true) break
      this.#buckets.delete(oldest.value)
    }
  }
}
