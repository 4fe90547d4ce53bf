import { ClawmeshError } from '../errors.js'

/** An HTTP-facing error: a status and an OpenAI-style error body. */
export class HttpError extends ClawmeshError {
  static override name = 'HttpError'
  readonly status: number
  /** OpenAI-style `type` (invalid_request_error, permission_error, ...). */
  readonly type: string
  /** Sent as `retry-after` (seconds) and `retry-after-ms`, which OpenAI clients wait for before a retry. */
  readonly retryAfterMs: number | undefined

  constructor(
    status: number,
    code: string,
    message: string,
    options: { type?: string; retryAfterMs?: number } = {},
  ) {
    super(code, message)
    this.status = status
    this.type = options.type ?? typeForStatus(status)
    this.retryAfterMs = options.retryAfterMs
  }

  /** The response headers this error adds. */
  headers(): Record<string, string> {
    if (this.retryAfterMs === undefined) return {}
    return {
      'retry-after': String(Math.max(1, Math.ceil(this.retryAfterMs / 1000))),
      'retry-after-ms': String(this.retryAfterMs),
    }
  }

  /** `{ error: { message, type, code } }`, the body OpenAI clients parse. */
  toBody(): { error: { message: string; type: string; code: string; param: null } } {
    return { error: { message: this.message, type: this.type, code: this.code, param: null } }
  }
}

function typeForStatus(status: number): string {
  if (status === 401) return 'authentication_error'
  if (status === 403) return 'permission_error'
  if (status === 404) return 'not_found_error'
  if (status === 413) return 'invalid_request_error'
  if (status === 429) return 'rate_limit_error'
  if (status < 500) return 'invalid_request_error'
  return 'api_error'
}
