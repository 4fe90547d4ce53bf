/**
 * A demo backend for `clawmesh demo`: no model and no external service. It streams a canned,
 * clearly-labelled reply (`[demo backend on HOST] You said: ...`) word by word, embeds texts
 * as deterministic vectors, and is always healthy. Register it in code (`registerBackend` or
 * `createPeer({ backends })`) and name it in a manifest with `type: custom`.
 */
import { BackendError } from './errors.js'
import type {
  CallOptions,
  ChatMessage,
  ChatPart,
  ChatRequest,
  EmbedRequest,
  EmbedResponse,
  HealthResult,
  LLMBackend,
} from './types.js'

/** The provider type the demo backend advertises. */
export const DEMO_BACKEND_TYPE = 'demo'
/** The demo backend's default name (souls pick it with `model: demo/echo`). */
export const DEMO_BACKEND_NAME = 'demo'
/** The only model the demo backend offers. */
export const DEMO_MODEL = 'echo'
/** Length of the demo embedding vectors. */
export const DEMO_EMBEDDING_DIMENSIONS = 8

/** Options of `DemoBackend`; all optional. */
export interface DemoBackendOptions {
  /** Backend name. Default: `demo`. */
  name?: string
  /** Host named in every reply, so a user sees which peer answered. Default: `this host`. */
  host?: string
  /** Pause before each streamed word, in milliseconds (makes streaming visible). Default: 30. */
  tokenDelayMs?: number
}

/** The reply the demo backend gives to a conversation (what the stream spells out). */
export function demoReply(host: string, messages: readonly ChatMessage[]): string {
  const lastUser = [...messages].reverse().find((message) => message.role === 'user')
  const said = lastUser?.content.trim() ?? ''
  return `[demo backend on ${host}] You said: ${said === '' ? '(nothing)' : said}`
}

/** A deterministic unit-length vector for `text` (FNV-1a seeded per dimension). */
export function demoEmbedding(text: string, dimensions = DEMO_EMBEDDING_DIMENSIONS): number[] {
  const vector: number[] = []
  for (let dimension = 0; dimension < dimensions; dimension++) {
    let hash = (2166136261 ^ dimension) >>> 0
    for (let index = 0; index < text.length; index++) {
      hash ^= text.charCodeAt(index)
      hash = Math.imul(hash, 16777619) >>> 0
    }
    vector.push(hash / 0xffffffff - 0.5)
  }
  const norm = Math.hypot(...vector) || 1
  return vector.map((value) => Number((value / norm).toFixed(6)))
}

/** Splits text into words that keep their leading space, so the deltas join back exactly. */
function words(text: string): string[] {
  return text.match(/\s*\S+/g) ?? []
}

/** The demo `LLMBackend`: canned replies, deterministic embeddings, always healthy. */
export class DemoBackend implements LLMBackend {
  readonly name: string
  readonly type = DEMO_BACKEND_TYPE
  readonly host: string
  readonly #tokenDelayMs: number

  constructor(options: DemoBackendOptions = {}) {
    this.name = options.name ?? DEMO_BACKEND_NAME
    this.host = options.host ?? 'this host'
    this.#tokenDelayMs = options.tokenDelayMs ?? 30
  }

  /** Streams the demo reply one word at a time; tools are ignored (the demo never calls one). */
  async *chat(request: ChatRequest, options: CallOptions = {}): AsyncGenerator<ChatPart> {
    this.#checkModel(request.model)
    const tokens = words(demoReply(this.host, request.messages))
    const limit = request.maxTokens ?? Number.POSITIVE_INFINITY
    let sent = 0
    for (const token of tokens) {
      if (sent >= limit) break
      await pause(this.#tokenDelayMs, options.signal, this.name)
      yield { type: 'text-delta', text: token }
      sent++
    }
    const inputTokens = request.messages.reduce((total, message) => total + words(message.content).length, 0)
    yield { type: 'usage', usage: { inputTokens, outputTokens: sent } }
    yield { type: 'end', finishReason: sent < tokens.length ? 'length' : 'stop' }
  }

  /** Deterministic vectors, one per input, in order. */
  async embed(request: EmbedRequest, options: CallOptions = {}): Promise<EmbedResponse> {
    this.#checkModel(request.model)
    throwIfAborted(options.signal, this.name)
    return {
      embeddings: request.input.map((text) => demoEmbedding(text)),
      usage: { inputTokens: request.input.reduce((total, text) => total + words(text).length, 0) },
    }
  }

  /** Always healthy: there is nothing behind it. */
  async health(): Promise<HealthResult> {
    return { ok: true, latencyMs: 0 }
  }

  /** The one demo model. */
  async models(): Promise<string[]> {
    return [DEMO_MODEL]
  }

  #checkModel(model: string): void {
    if (model !== '' && model !== DEMO_MODEL) {
      throw new BackendError(
        'BACKEND_MODEL_NOT_FOUND',
        `${this.name}: the demo backend has one model, "${DEMO_MODEL}" (asked for "${model}")`,
        { statusCode: 404 },
      )
    }
  }
}

function throwIfAborted(signal: AbortSignal | undefined, name: string): void {
  if (signal?.aborted) throw new BackendError('BACKEND_ABORTED', `${name}: call cancelled`)
}

/** Waits `ms`, or throws BACKEND_ABORTED as soon as `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined, name: string): Promise<void> {
  throwIfAborted(signal, name)
  if (ms <= 0) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(new BackendError('BACKEND_ABORTED', `${name}: call cancelled`))
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
