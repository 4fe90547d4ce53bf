/**
 * Probes each backend's `health()` on its own timer, so a slow or hung
 * backend never delays a heartbeat or another backend's probe. Every probe
 * is bounded by a timeout; a probe that throws or times out counts as not ok.
 */

import { errorMessage } from '../errors.js'
import type { HealthResult } from '../llm/types.js'
import { HealthOptionsError, ProbeTimeoutError } from './errors.js'

/** The part of an `LLMBackend` the prober needs. */
export interface ProbedBackend {
  readonly name: string
  health(options?: { signal?: AbortSignal }): Promise<HealthResult>
}

/** The latest probe result of one backend. `checkedAt` is this host's wall clock (ms since epoch). */
export interface BackendHealth {
  name: string
  ok: boolean
  latencyMs: number
  checkedAt: number
  error?: string
}

/** Options of `BackendProber`; all but `backends` optional. */
export interface BackendProberOptions {
  backends: readonly ProbedBackend[]
  /** Time between the end of one probe and the start of the next, per backend. Default: 5000. */
  intervalMs?: number
  /** A probe slower than this counts as failed. Default: min(2000, intervalMs / 2). */
  timeoutMs?: number
}

/** Called when a backend's `ok` or `error` changes (or on its first result); latency alone is not a change. */
export type BackendChangeListener = (health: BackendHealth) => void

/** Default backend probe period (ms). */
export const DEFAULT_PROBE_INTERVAL_MS = 5000

/** Runs one probe loop per backend and keeps the latest result of each. */
export class BackendProber {
  readonly intervalMs: number
  readonly timeoutMs: number
  readonly #backends: readonly ProbedBackend[]
  readonly #latest = new Map<string, BackendHealth>()
  readonly #timers = new Map<string, NodeJS.Timeout>()
  readonly #listeners = new Set<BackendChangeListener>()
  #controller: AbortController | undefined

  constructor(options: BackendProberOptions) {
    this.#backends = options.backends
    this.intervalMs = options.intervalMs ?? DEFAULT_PROBE_INTERVAL_MS
    this.timeoutMs = options.timeoutMs ?? Math.min(2000, Math.floor(this.intervalMs / 2))
    if (!(this.intervalMs > 0) || !(this.timeoutMs > 0)) {
      throw new HealthOptionsError('probe interval and timeout must be positive')
    }
  }

  /** Starts every backend's probe loop; the first probe runs at once. */
  start(): void {
    if (this.#controller !== undefined) return
    this.#controller = new AbortController()
    for (const backend of this.#backends) void this.#loop(backend, this.#controller.signal)
  }

  /** Stops the loops and aborts probes in flight. */
  stop(): void {
    this.#controller?.abort()
    this.#controller = undefined
    for (const timer of this.#timers.values()) clearTimeout(timer)
    this.#timers.clear()
  }

  /** The latest result of every backend probed at least once, in backend order. */
  snapshot(): BackendHealth[] {
    const out: BackendHealth[] = []
    for (const backend of this.#backends) {
      const health = this.#latest.get(backend.name)
      if (health !== undefined) out.push({ ...health })
    }
    return out
  }

  /** Registers a change listener; returns its remover. */
  subscribe(listener: BackendChangeListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Probes one backend once (bounded by the timeout) and records the result. */
  async probe(backend: ProbedBackend, signal?: AbortSignal): Promise<BackendHealth> {
    const started = performance.now()
    const timeout = AbortSignal.timeout(this.timeoutMs)
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
    let result: HealthResult
    try {
      result = await new Promise<HealthResult>((resolve, reject) => {
        const onAbort = (): void => reject(new ProbeTimeoutError(backend.name, this.timeoutMs))
        if (combined.aborted) return onAbort()
        combined.addEventListener('abort', onAbort, { once: true })
        // A backend must never throw from health(), but a custom one might.
        backend.health({ signal: combined }).then(resolve, reject)
      })
    } catch (error) {
      result = { ok: false, latencyMs: performance.now() - started, error: errorMessage(error) }
    }
    const health: BackendHealth = {
      name: backend.name,
      ok: result.ok,
      latencyMs: Math.max(0, Math.round(result.latencyMs)),
      checkedAt: Date.now(),
    }
    if (!result.ok && result.error !== undefined) health.error = result.error.slice(0, 200)
    this.#record(health)
    return health
  }

  #record(health: BackendHealth): void {
    const previous = this.#latest.get(health.name)
    this.#latest.set(health.name, health)
    if (previous === undefined || previous.ok !== health.ok || previous.error !== health.error) {
      for (const listener of this.#listeners) listener({ ...health })
    }
  }

  async #loop(backend: ProbedBackend, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return
    await this.probe(backend, signal)
    if (signal.aborted) return
    this.#timers.set(
      backend.name,
      setTimeout(() => void this.#loop(backend, signal), this.intervalMs),
    )
  }
}
