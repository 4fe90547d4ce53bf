/**
 * The base of every error clawmesh throws. A stable `code` lets the CLI, the
 * HTTP API and the wire protocol map an error without parsing its message.
 */
export class ClawmeshError extends Error {
  static override name = 'ClawmeshError'
  /** Stable, machine-readable code, e.g. `MANIFEST_INVALID`. */
  readonly code: string

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.name = (this.constructor as { name: string }).name
  }
}

/** Narrows an unknown thrown value to something with a message. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
