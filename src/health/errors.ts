/**
 * Errors of the health room. Received heartbeats are never turned into
 * thrown errors (they are dropped and counted); these are for callers that
 * pass bad options and for backend probes that run out of time.
 */
import { ClawmeshError } from '../errors.js'

/** Stable codes of the health room. */
export type HealthErrorCode = 'HEALTH_OPTIONS_INVALID' | 'HEALTH_PROBE_TIMEOUT'

/** Options that cannot work together, e.g. `deadAfterMs` not above `suspectAfterMs`. */
export class HealthOptionsError extends ClawmeshError {
  static override name = 'HealthOptionsError'
  declare readonly code: 'HEALTH_OPTIONS_INVALID'

  constructor(message: string) {
    super('HEALTH_OPTIONS_INVALID', message)
  }
}

/** A backend's `health()` did not answer within the probe timeout. */
export class ProbeTimeoutError extends ClawmeshError {
  static override name = 'ProbeTimeoutError'
  declare readonly code: 'HEALTH_PROBE_TIMEOUT'

  constructor(backend: string, timeoutMs: number) {
    super('HEALTH_PROBE_TIMEOUT', `health probe of ${backend} timed out after ${timeoutMs} ms`)
  }
}
