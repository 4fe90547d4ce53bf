/**
 * Named errors of the routing room. Each carries a stable `code` that travels
 * in `error` frames and that the HTTP gateway maps to a status.
 */
import { ClawmeshError } from '../errors.js'

/** Codes of a trust refusal: the data rule, the resource rule, or a caller the manifest does not know. */
export type TrustErrorCode = 'TRUST_SENSITIVITY' | 'TRUST_MIN_TRUST' | 'TRUST_UNKNOWN_PEER'

/** A trust rule forbids the request; the message names the rule and both parties. */
export class TrustError extends ClawmeshError {
  static override name = 'TrustError'
  declare readonly code: TrustErrorCode

  constructor(code: TrustErrorCode, message: string) {
    super(code, message)
  }
}

/** A frame could not be read: too large, not a length prefix, not JSON, or not a valid frame. */
export class FrameError extends ClawmeshError {
  static override name = 'FrameError'
  declare readonly code: 'BAD_FRAME' | 'FRAME_TOO_LARGE'

  constructor(code: 'BAD_FRAME' | 'FRAME_TOO_LARGE', message: string) {
    super(code, message)
  }
}

/** Waiting for a frame took longer than allowed. */
export class FrameTimeoutError extends ClawmeshError {
  static override name = 'FrameTimeoutError'

  constructor(message: string) {
    super('FRAME_TIMEOUT', message)
  }
}

/**
 * A routed request failed. `code` is either a code the owner sent in an
 * `error` frame (`remote: true`) or one of the local transport codes
 * (`PEER_UNREACHABLE`, `STREAM_CLOSED`, `ABORTED`, `NO_OWNER`, ...).
 */
export class RoutingError extends ClawmeshError {
  static override name = 'RoutingError'
  /** Another try (on another owner, when `afterFirstToken` is false) may succeed. */
  readonly retryable: boolean
  /** Parts of the reply had already reached the caller when the request failed. */
  readonly afterFirstToken: boolean
  /** The code came from the owner's `error` frame (not from the local transport). */
  readonly remote: boolean
  /** How long the owner asked callers to wait (its rate limit, or its provider's), if it said. */
  readonly retryAfterMs: number | undefined

  constructor(
    code: string,
    message: string,
    options: {
      retryable: boolean
      afterFirstToken?: boolean
      remote?: boolean
      retryAfterMs?: number
      cause?: unknown
    },
  ) {
    super(code, message, { cause: options.cause })
    this.retryable = options.retryable
    this.afterFirstToken = options.afterFirstToken ?? false
    this.remote = options.remote ?? false
    this.retryAfterMs = options.retryAfterMs
  }
}

/** Codes of a limit breach on the owner. */
export type LimitErrorCode = 'REQUEST_TIMEOUT' | 'IDLE_TIMEOUT' | 'TOO_MANY_STREAMS'

/** A caller or a backend went past one of the owner's bounds (time, streams). */
export class LimitError extends ClawmeshError {
  static override name = 'LimitError'
  declare readonly code: LimitErrorCode

  constructor(code: LimitErrorCode, message: string) {
    super(code, message)
  }
}
