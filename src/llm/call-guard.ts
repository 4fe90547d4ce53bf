import { BackendError, type BackendErrorCode } from './errors.js'

/** Default inactivity timeout of a provider call (`timeout_ms`), in milliseconds. */
export const defaultTimeoutMs = 120_000

/** What a backend learned from a provider failure: the HTTP status and the provider's own message. */
export interface ProviderFailure {
  statusCode?: number
  message: string
  retryAfterSeconds?: number
  /** Overrides the code the status implies (e.g. an in-stream `overloaded_error`). */
  code?: BackendErrorCode
}

/** Maps an SDK error to a `ProviderFailure`, or `undefined` when it is not a provider response. */
export type DescribeFailure = (error: unknown) => ProviderFailure | undefined

/** Seconds from an HTTP `retry-after` (delta-seconds or HTTP date) or `retry-after-ms` value. */
export function parseRetryAfter(
  value: string | null | undefined,
  milliseconds?: string | null,
): number | undefined {
  if (milliseconds) {
    const ms = Number(milliseconds)
    if (Number.isFinite(ms) && ms >= 0) return ms / 1000
  }
  if (!value) return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000)
}

/** The code and retryability an HTTP status means. */
export function codeForStatus(statusCode: number): { code: BackendErrorCode; retryable: boolean } {
  if (statusCode === 401 || statusCode === 403) return { code: 'BACKEND_UNAUTHORIZED', retryable: false }
  if (statusCode === 404) return { code: 'BACKEND_MODEL_NOT_FOUND', retryable: false }
  if (statusCode === 408) return { code: 'BACKEND_TIMEOUT', retryable: true }
  if (statusCode === 429) return { code: 'BACKEND_RATE_LIMITED', retryable: true }
  if (statusCode >= 500) return { code: 'BACKEND_UNAVAILABLE', retryable: true }
  return { code: 'BACKEND_BAD_REQUEST', retryable: false }
}

/** Replaces every occurrence of a secret in `text`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('[redacted]')
  return out
}

/** The `BackendError` an HTTP error answer means: code and retryability from the status, secrets redacted. */
export function backendErrorFromStatus(
  label: string,
  statusCode: number,
  message: string,
  options: { retryAfterSeconds?: number | undefined; secrets?: readonly string[] } = {},
): BackendError {
  const { code, retryable } = codeForStatus(statusCode)
  return new BackendError(
    code,
    `${label}: ${redactSecrets(message, options.secrets ?? [])} (HTTP ${statusCode})`,
    {
      statusCode,
      retryable,
      ...(options.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: options.retryAfterSeconds }),
    },
  )
}

const retryableCodes = new Set<BackendErrorCode>([
  'BACKEND_RATE_LIMITED',
  'BACKEND_UNAVAILABLE',
  'BACKEND_TIMEOUT',
])

/**
 * Bounds one provider call. Pass `signal` to the SDK; call `touch()` whenever data arrives: the
 * call is aborted once `timeoutMs` (up to 1.25 ×) pass with no data (before the first byte, or mid-stream), or
 * when the caller's signal aborts. `fail()` turns whatever the SDK then throws into a `BackendError`.
 */
export class CallGuard {
  /** Aborts the provider HTTP call; hand it to the SDK. */
  readonly signal: AbortSignal
  readonly #controller = new AbortController()
  readonly #callerSignal: AbortSignal | undefined
  readonly #timer: NodeJS.Timeout
  readonly #timeoutMs: number
  readonly #tickMs: number
  readonly #label: string
  #stopped: 'timeout' | 'aborted' | undefined
  #paused = false
  #done = false
  // Activity is a counter, not a clock read: `touch()` runs per token and must cost next to nothing.
  #activity = 0
  #seenActivity = 0
  #idleTicks = 0

  constructor(label: string, timeoutMs: number, callerSignal?: AbortSignal) {
    this.signal = this.#controller.signal
    this.#label = label
    this.#timeoutMs = timeoutMs
    // Checked four times per timeout: a stall is caught between timeoutMs and 1.25 × timeoutMs.
    this.#tickMs = Math.max(5, timeoutMs / 4)
    this.#callerSignal = callerSignal
    this.#timer = setTimeout(this.#onTick, this.#tickMs)
    if (callerSignal?.aborted) this.#onAbort()
    else callerSignal?.addEventListener('abort', this.#onAbort, { once: true })
  }

  readonly #onTick = (): void => {
    if (this.#stopped || this.#done) return
    // While the consumer holds a part, the provider is not the one stalling.
    if (this.#paused || this.#activity !== this.#seenActivity) {
      this.#seenActivity = this.#activity
      this.#idleTicks = 0
    } else if (++this.#idleTicks * this.#tickMs >= this.#timeoutMs) {
      this.#stopped = 'timeout'
      this.#controller.abort()
      return
    }
    this.#timer.refresh()
  }

  readonly #onAbort = (): void => {
    if (this.#stopped) return
    this.#stopped = 'aborted'
    this.#controller.abort()
  }

  /** Data arrived: the provider is alive. */
  touch(): void {
    this.#activity++
  }

  /** The consumer holds a part; the timer must not blame the provider meanwhile. */
  pause(): void {
    this.#paused = true
  }

  /** The consumer asked for more: inactivity counts again from now. */
  resume(): void {
    this.#paused = false
    this.#activity++
  }

  /** Throws if the call was aborted or timed out (SDKs often end a stream quietly on abort). */
  throwIfStopped(): void {
    if (this.#stopped) throw this.#stoppedError()
  }

  /** The call completed normally; `dispose()` will not abort the connection. */
  complete(): void {
    this.#done = true
  }

  /** Clears the timer; aborts the provider call if it did not complete (e.g. the consumer broke out). */
  dispose(): void {
    clearTimeout(this.#timer)
    this.#callerSignal?.removeEventListener('abort', this.#onAbort)
    if (!this.#done && !this.#controller.signal.aborted) this.#controller.abort()
  }

  /** Maps anything thrown during the call to a `BackendError` whose message carries no secret. */
  fail(error: unknown, describe: DescribeFailure, secrets: readonly string[]): BackendError {
    if (this.#stopped) return this.#stoppedError(error)
    if (error instanceof BackendError) return error
    const failure = describe(error)
    if (failure) {
      const mapped =
        failure.statusCode === undefined
          ? { code: failure.code ?? 'BACKEND_UNAVAILABLE', retryable: true }
          : codeForStatus(failure.statusCode)
      const code = failure.code ?? mapped.code
      const status = failure.statusCode === undefined ? '' : ` (HTTP ${failure.statusCode})`
      return new BackendError(code, `${this.#label}: ${redactSecrets(failure.message, secrets)}${status}`, {
        retryable: failure.code ? retryableCodes.has(failure.code) : mapped.retryable,
        ...(failure.statusCode === undefined ? {} : { statusCode: failure.statusCode }),
        ...(failure.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: failure.retryAfterSeconds }),
      })
    }
    // No HTTP answer: refused, reset, or the stream was cut mid-way.
    return new BackendError(
      'BACKEND_UNAVAILABLE',
      `${this.#label}: ${redactSecrets(describeCause(error), secrets)}`,
      {
        retryable: true,
      },
    )
  }

  #stoppedError(cause?: unknown): BackendError {
    if (this.#stopped === 'timeout') {
      return new BackendError('BACKEND_TIMEOUT', `${this.#label}: no data for ${this.#timeoutMs} ms`, {
        retryable: true,
        cause,
      })
    }
    return new BackendError('BACKEND_ABORTED', `${this.#label}: aborted by the caller`, { cause })
  }
}

/** A connection-level failure as text: the error and its causes (e.g. `terminated: other side closed`). */
function describeCause(error: unknown): string {
  const parts: string[] = []
  let current: unknown = error
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    parts.push(current.message)
    current = current.cause
  }
  return parts.length > 0 ? `connection failed: ${parts.join(': ')}` : `connection failed: ${String(error)}`
}

/** What `guardedCall` needs to know of the backend and the call. */
export interface GuardedCallOptions {
  /** `backend: what`, for errors. */
  label: string
  timeoutMs: number
  signal?: AbortSignal | undefined
  describe: DescribeFailure
  secrets: readonly string[]
}

/**
 * Runs one request-response provider call (embeddings, a model list) under a `CallGuard`: it does
 * not start if the caller already aborted, it times out, and whatever it throws becomes a
 * `BackendError` without secrets. `call` gets the guard; its `signal` goes to the SDK.
 */
export async function guardedCall<T>(
  options: GuardedCallOptions,
  call: (guard: CallGuard) => Promise<T>,
): Promise<T> {
  const guard = new CallGuard(options.label, options.timeoutMs, options.signal)
  try {
    guard.throwIfStopped()
    const result = await call(guard)
    guard.complete()
    return result
  } catch (error) {
    throw guard.fail(error, options.describe, options.secrets)
  } finally {
    guard.dispose()
  }
}

/** `GuardedCallOptions` for a backend's call named `what` (`embed`, `models`). */
export function callOptions(
  backend: { name: string; timeoutMs: number; secrets: readonly string[] },
  describe: DescribeFailure,
  what: string,
  signal: AbortSignal | undefined,
): GuardedCallOptions {
  return {
    label: `${backend.name}: ${what}`,
    timeoutMs: backend.timeoutMs,
    signal,
    describe,
    secrets: backend.secrets,
  }
}
