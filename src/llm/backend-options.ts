import type { BackendConfig } from '../config/schema.js'
import type { Logger } from '../log.js'

/** A manifest backend entry as a built-in backend's constructor takes it (`type` is implied). */
export type BackendSettings = Omit<BackendConfig, 'type' | 'min_trust'> &
  Partial<Pick<BackendConfig, 'min_trust'>>

/** Process-side options of a built-in backend; all optional. */
export interface BackendOptions {
  /** Where the backend logs (never secrets). Default: `createLogger('llm')`. */
  logger?: Logger
  /** How often a server-listed model list is fetched again, in ms. Default: 60000. */
  modelRefreshMs?: number
}
