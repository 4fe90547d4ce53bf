/**
 * The model lists of a peer's own backends, as advertised: read at start and
 * on a timer (each read bounded), a manifest's fixed `models` taken as they
 * are, and a change reported so the peer re-advertises.
 */
import type { BackendConfig } from '../config/schema.js'
import type { BackendRegistry } from './registry.js'

/** Options of `ModelWatcher`. */
export interface ModelWatcherOptions {
  /** This node's backend entries (a fixed `models` list is not read from the backend). */
  configs: readonly BackendConfig[]
  backends: BackendRegistry
  /** How often the lists are re-read. Default: 60 s. */
  intervalMs?: number
  /** Time one backend's list may take. Default: 3 s. */
  timeoutMs?: number
}

/** Watches the model lists of local backends. */
export class ModelWatcher {
  readonly #options: ModelWatcherOptions
  readonly #models = new Map<string, string[]>()
  readonly #listeners = new Set<() => void>()
  #timer: NodeJS.Timeout | undefined

  constructor(options: ModelWatcherOptions) {
    this.#options = options
  }

  /** The last list read for `backend` (empty before the first read or when it never answered). */
  models(backend: string): string[] {
    return this.#models.get(backend) ?? []
  }

  /** Registers a listener of changed lists; returns its remover. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Reads every list once (bounded), reporting a change. */
  async refresh(): Promise<void> {
    const { backends, configs } = this.#options
    let changed = false
    await Promise.all(
      configs.map(async (config) => {
        if (config.models !== undefined) {
          this.#models.set(config.name, config.models)
          return
        }
        const backend = backends.has(config.name) ? backends.get(config.name) : undefined
        const signal = AbortSignal.timeout(this.#options.timeoutMs ?? 3_000)
        const models = await backend?.models({ signal }).catch(() => undefined)
        if (models === undefined) return
        if (this.#models.get(config.name)?.join() !== models.join()) changed = true
        this.#models.set(config.name, models)
      }),
    )
    if (changed) for (const listener of this.#listeners) listener()
  }

  /** Reads now, then on the timer. */
  async start(): Promise<void> {
    await this.refresh()
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => void this.refresh(), this.#options.intervalMs ?? 60_000)
    this.#timer.unref()
  }

  /** Stops the timer. */
  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}
