import type { BackendConfig } from '../config/schema.js'
import { createLogger, type Logger } from '../log.js'
import { defaultTimeoutMs } from './call-guard.js'

/** A manifest backend entry as a built-in backend's constructor takes it (`type` is implied). */
export type BackendSettings = Omit<BackendConfig, 'type' | 'min_trust'> &
  Partial<Pick<BackendConfig, 'min_trust'>>

/** Process-side options of a built-in backend; all optional. */
export interface BackendOptions {
  /** Where the backend logs (never secrets). Default: `createLogger('llm')`. */
  log?: Logger
  /** How often a server-listed model list is fetched again, in ms. Default: 60000. */
  modelRefreshMs?: number
}

/** What every built-in backend reads from its settings the same way. */
export interface BackendBasics {
  readonly name: string
  /** Base URL, without trailing slashes. */
  readonly url: string
  /** Longest silence of the provider during a call, in ms. */
  readonly timeoutMs: number
  /** Strings no error message may contain (the API key). */
  readonly secrets: readonly string[]
  /** The manifest's `models:`, if it lists them (else the server is asked). */
  readonly configuredModels: string[] | undefined
  readonly log: Logger
}

/** Reads the settings common to every built-in backend; `modelName` normalises listed models. */
export function backendBasics(
  settings: BackendSettings,
  defaultUrl: string,
  options: BackendOptions = {},
  modelName: (model: string) => string = (model) => model,
): BackendBasics {
  return {
    name: settings.name,
    url: (settings.url ?? defaultUrl).replace(/\/+$/, ''),
    timeoutMs: settings.timeout_ms ?? defaultTimeoutMs,
    secrets: settings.api_key ? [settings.api_key] : [],
    configuredModels: settings.models?.map(modelName),
    log: (options.log ?? createLogger('llm')).child(settings.name),
  }
}
