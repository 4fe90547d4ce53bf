import type { Logger } from '../log.js'
import type { HealthResult } from './types.js'

/** Default period after which a backend's model list is fetched again, in milliseconds. */
export const defaultModelRefreshMs = 60_000

/**
 * A backend's model list, fetched from the server and kept for `refreshMs`. `startRefresh()`
 * refetches it periodically in the background (unref'd, so it never keeps the process alive).
 */
export class ModelCache {
  readonly #fetch: (signal?: AbortSignal) => Promise<string[]>
  readonly #refreshMs: number
  #models: string[] | undefined
  #fetchedAt = 0
  #pending: Promise<string[]> | undefined
  #interval: NodeJS.Timeout | undefined

  constructor(fetchModels: (signal?: AbortSignal) => Promise<string[]>, refreshMs = defaultModelRefreshMs) {
    this.#fetch = fetchModels
    this.#refreshMs = refreshMs
  }

  /** The cached list, fetched first if missing or older than `refreshMs`. */
  async get(signal?: AbortSignal): Promise<string[]> {
    if (this.#models && Date.now() - this.#fetchedAt < this.#refreshMs) return this.#models
    return this.refresh(signal)
  }

  /** Fetches the list now (concurrent callers share one request). */
  refresh(signal?: AbortSignal): Promise<string[]> {
    this.#pending ??= this.#fetch(signal)
      .then((models) => {
        this.#models = models
        this.#fetchedAt = Date.now()
        return models
      })
      .finally(() => {
        this.#pending = undefined
      })
    return this.#pending
  }

  /**
   * The readiness probe every built-in backend uses: listing the models is a cheap, authenticated
   * round trip to the provider, and it refreshes the list on the way. Never throws.
   */
  async probe(signal: AbortSignal | undefined, logger: Logger): Promise<HealthResult> {
    const started = performance.now()
    try {
      await this.refresh(signal)
      return { ok: true, latencyMs: performance.now() - started }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      logger.debug('health probe failed', { error: message })
      return { ok: false, latencyMs: performance.now() - started, error: message }
    }
  }

  /** Stores a list learned elsewhere (e.g. from a health probe). */
  set(models: string[]): void {
    this.#models = models
    this.#fetchedAt = Date.now()
  }

  /** Refreshes every `refreshMs` in the background; failures keep the last good list. */
  startRefresh(): void {
    if (this.#interval) return
    this.#interval = setInterval(() => {
      this.refresh().catch(() => undefined)
    }, this.#refreshMs)
    this.#interval.unref()
  }

  /** Stops the background refresh. */
  stop(): void {
    clearInterval(this.#interval)
    this.#interval = undefined
  }
}
