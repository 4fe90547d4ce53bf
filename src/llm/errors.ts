import { ClawmeshError } from '../errors.js'

/** Stable codes a backend failure maps to. */
export type BackendErrorCode =
  | 'BACKEND_UNAUTHORIZED'
  | 'BACKEND_RATE_LIMITED'
  | 'BACKEND_BAD_REQUEST'
  | 'BACKEND_MODEL_NOT_FOUND'
  | 'BACKEND_UNAVAILABLE'
  | 'BACKEND_TIMEOUT'
  | 'BACKEND_ABORTED'
  | 'BACKEND_PROTOCOL'
  | 'BACKEND_UNSUPPORTED'
  | 'BACKEND_INTERNAL'

/** A provider call failed. `retryable` says whether another try (or another owner) may succeed. */
export class BackendError extends ClawmeshError {
  static override name = 'BackendError'
  declare readonly code: BackendErrorCode
  readonly statusCode: number | undefined
  readonly retryable: boolean
  /** Seconds the provider asked us to wait (HTTP retry-after), if any. */
  readonly retryAfterSeconds: number | undefined

  constructor(
    code: BackendErrorCode,
    message: string,
    options: { statusCode?: number; retryable?: boolean; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(code, message, { cause: options.cause })
    this.statusCode = options.statusCode
    this.retryable = options.retryable ?? false
    this.retryAfterSeconds = options.retryAfterSeconds
  }
}

/** No backend of that name is registered. */
export class UnknownBackendError extends ClawmeshError {
  static override name = 'UnknownBackendError'
  constructor(backend: string) {
    super('UNKNOWN_BACKEND', `unknown backend "${backend}"`)
  }
}

/** Two backends were registered under one name. */
export class DuplicateBackendError extends ClawmeshError {
  static override name = 'DuplicateBackendError'
  constructor(backend: string) {
    super('DUPLICATE_BACKEND', `a backend named "${backend}" is already registered`)
  }
}

/** A manifest entry names a backend type no built-in implements. */
export class UnknownBackendTypeError extends ClawmeshError {
  static override name = 'UnknownBackendTypeError'
  constructor(type: string, known: readonly string[]) {
    super('UNKNOWN_BACKEND_TYPE', `unknown backend type "${type}" (expected one of ${known.join(', ')})`)
  }
}

/** A manifest entry cannot become a backend (e.g. `type: custom` with nothing registered under its name). */
export class BackendConfigError extends ClawmeshError {
  static override name = 'BackendConfigError'
  constructor(backend: string, message: string) {
    super('BACKEND_CONFIG', `backend "${backend}": ${message}`)
  }
}
