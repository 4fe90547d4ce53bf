/**
 * Backends by name. Custom backends are registered in code at boot (`registerBackend`, before the
 * peer starts, as the federation lesson describes); built-ins are created from manifest entries
 * (`createBackend`); `createBackendRegistry` puts both into one `BackendRegistry` for a peer.
 */
import { type BackendConfig, backendTypes } from '../config/schema.js'
import type { BackendOptions } from './backend-options.js'
import {
  BackendConfigError,
  DuplicateBackendError,
  UnknownBackendError,
  UnknownBackendTypeError,
} from './errors.js'
import type { LLMBackend } from './types.js'

/** A set of backends with unique names. */
export class BackendRegistry {
  readonly #backends = new Map<string, LLMBackend>()

  /** Adds a backend; a name already taken is a `DuplicateBackendError`. */
  register(backend: LLMBackend): void {
    if (this.#backends.has(backend.name)) throw new DuplicateBackendError(backend.name)
    this.#backends.set(backend.name, backend)
  }

  /** The backend of that name, or an `UnknownBackendError`. */
  get(name: string): LLMBackend {
    const backend = this.#backends.get(name)
    if (!backend) throw new UnknownBackendError(name)
    return backend
  }

  /** Whether a backend of that name is registered. */
  has(name: string): boolean {
    return this.#backends.has(name)
  }

  /** Removes a backend (without closing it); true if it was there. */
  unregister(name: string): boolean {
    return this.#backends.delete(name)
  }

  /** Every backend, in registration order. */
  list(): LLMBackend[] {
    return [...this.#backends.values()]
  }

  /** Closes every backend (timers, connections) and empties the registry. */
  async close(): Promise<void> {
    const backends = this.list()
    this.#backends.clear()
    await Promise.allSettled(backends.map((backend) => backend.close?.()))
  }
}

/** Backends registered in code by `registerBackend`, process-wide. */
const codeRegistered = new BackendRegistry()

/** Makes a custom backend available by name; call it at boot, before the peer starts. */
export function registerBackend(backend: LLMBackend): void {
  codeRegistered.register(backend)
}

/** Removes a code-registered backend (tests, hot reload); true if it was there. */
export function unregisterBackend(name: string): boolean {
  return codeRegistered.unregister(name)
}

/** Every backend registered with `registerBackend`. */
export function registeredBackends(): LLMBackend[] {
  return codeRegistered.list()
}

/** Options of `createBackend`: the built-ins' options, and where `type: custom` looks. */
export interface CreateBackendOptions extends BackendOptions {
  /** Backends `type: custom` entries resolve to. Default: `registeredBackends()`. */
  registered?: readonly LLMBackend[]
}

/**
 * Builds the backend a manifest entry describes. `type: custom` resolves to the backend
 * registered in code under the same name; an unregistered name is a `BackendConfigError`.
 * Each built-in's module (and its provider SDK, 10-30 MiB of heap each) is loaded only when a
 * manifest entry needs it, so a peer carries only the clients it uses.
 */
export async function createBackend(
  config: BackendConfig,
  options: CreateBackendOptions = {},
): Promise<LLMBackend> {
  const { registered, ...builtinOptions } = options
  const type = config.type as string
  switch (type) {
    case 'ollama':
      return new (await import('./ollama-backend.js')).OllamaBackend(config, builtinOptions)
    case 'openai-compatible':
      return new (await import('./openai-compatible-backend.js')).OpenAICompatibleBackend(
        config,
        builtinOptions,
      )
    case 'anthropic':
      return new (await import('./anthropic-backend.js')).AnthropicBackend(config, builtinOptions)
    case 'google':
      return new (await import('./google-backend.js')).GoogleBackend(config, builtinOptions)
    case 'custom': {
      const candidates = registered ?? registeredBackends()
      const backend = candidates.find((candidate) => candidate.name === config.name)
      if (backend) return backend
      const known = candidates.map((candidate) => candidate.name).join(', ') || 'none'
      throw new BackendConfigError(
        config.name,
        `type custom needs a backend registered in code with registerBackend() under this name before the peer starts (registered: ${known})`,
      )
    }
    default:
      throw new UnknownBackendTypeError(type, backendTypes)
  }
}

/**
 * A peer's registry: one backend per manifest entry, plus every code-registered backend the
 * manifest does not mention (so souls can target it by name, as the lesson describes).
 */
export async function createBackendRegistry(
  configs: readonly BackendConfig[],
  options: CreateBackendOptions = {},
): Promise<BackendRegistry> {
  const registry = new BackendRegistry()
  try {
    for (const config of configs) registry.register(await createBackend(config, options))
    for (const backend of options.registered ?? registeredBackends()) {
      if (!registry.has(backend.name)) registry.register(backend)
    }
  } catch (error) {
    void registry.close()
    throw error
  }
  return registry
}
