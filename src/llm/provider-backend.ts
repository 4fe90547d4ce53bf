/**
 * The skeleton every built-in provider backend shares, written once: its
 * name and URL from the manifest entry, the readiness probe (listing the
 * models), the model list (the manifest's `models:`, else the provider's,
 * cached), and closing. A provider adds its chat, embeddings and how it
 * lists models.
 */
import {
  type BackendBasics,
  type BackendOptions,
  type BackendSettings,
  backendBasics,
} from './backend-options.js'
import { ModelCache } from './model-cache.js'
import type { CallOptions, HealthResult } from './types.js'

/** How a provider's skeleton is set up. */
export interface ProviderSkeleton {
  /** Base URL when the manifest gives none. */
  defaultUrl: string
  /** Normalises a listed model name (Ollama: `:latest` when untagged). Default: as is. */
  modelName?: (model: string) => string
  /** Keep the provider's model list fresh in the background from the first `models()` call. Default: false. */
  refreshInBackground?: boolean
}

/** The shared part of a built-in backend; subclasses implement `chat`, `embed` and `listModels`. */
export abstract class ProviderBackend {
  /** The backend's name in the manifest. */
  readonly name: string
  /** Base URL, without trailing slashes. */
  readonly url: string
  // A true private field (not serialised, not enumerable): it holds the API key among its secrets.
  readonly #basics: BackendBasics
  readonly #models: ModelCache
  readonly #refreshInBackground: boolean

  constructor(settings: BackendSettings, options: BackendOptions, skeleton: ProviderSkeleton) {
    this.#basics = backendBasics(settings, skeleton.defaultUrl, options, skeleton.modelName)
    this.name = this.#basics.name
    this.url = this.#basics.url
    this.#refreshInBackground = skeleton.refreshInBackground ?? false
    this.#models = new ModelCache((signal) => this.listModels(signal), options.modelRefreshMs)
  }

  /** What every built-in backend reads from its settings the same way (secrets included: never serialise it). */
  protected get basics(): BackendBasics {
    return this.#basics
  }

  /** Asks the provider for its model list (one bounded, guarded call). */
  protected abstract listModels(signal?: AbortSignal): Promise<string[]>

  /** Probes the provider by listing its models (and refreshes the list with it). Never throws. */
  health(options: CallOptions = {}): Promise<HealthResult> {
    return this.#models.probe(options.signal, this.basics.log)
  }

  /** The configured models, else what the provider lists (cached). */
  async models(options: CallOptions = {}): Promise<string[]> {
    if (this.basics.configuredModels) return this.basics.configuredModels
    if (this.#refreshInBackground) this.#models.startRefresh()
    return this.#models.get(options.signal)
  }

  /** Stops background work. */
  async close(): Promise<void> {
    this.#models.stop()
    await this.onClose()
  }

  /** A provider's own clean-up (keep-alive agents and the like). */
  protected onClose(): void | Promise<void> {}
}
