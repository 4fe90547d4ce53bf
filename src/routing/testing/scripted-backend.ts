/**
 * An in-process `LLMBackend` for routing tests: replies with scripted parts,
 * optional delays and failures, and records every call and every abort so a
 * test can assert what the owner did with it.
 */
import { ClawmeshError } from '../../errors.js'
import type {
  CallOptions,
  ChatPart,
  ChatRequest,
  EmbedRequest,
  EmbedResponse,
  HealthResult,
  LLMBackend,
} from '../../llm/types.js'

/** How the backend behaves. Every field optional. */
export interface ScriptedBackendOptions {
  name?: string
  /** Parts of every chat reply. Default: `SCRIPTED_REPLY`. */
  parts?: ChatPart[]
  /** Wait before each part, in milliseconds. Default: 0 (parts are ready at once). */
  delayMs?: number
  /** Wait before the part with this index only (a stall). */
  stall?: { index: number; ms: number }
  /** Throw this after yielding `index` parts. */
  failAt?: { index: number; error: Error }
  /** Embedding reply delay, in milliseconds. */
  embedDelayMs?: number
}

/** One recorded call. */
export interface RecordedCall {
  request: ChatRequest | EmbedRequest
  signal: AbortSignal | undefined
  /** `Date.now()` when the signal aborted, if it did. */
  abortedAt?: number
}

/** Parts for a plain text reply: the deltas, a usage part and `end`. */
export function textParts(tokens: string[]): ChatPart[] {
  return [
    ...tokens.map((text): ChatPart => ({ type: 'text-delta', text })),
    { type: 'usage', usage: { inputTokens: 3, outputTokens: tokens.length } },
    { type: 'end', finishReason: 'stop' },
  ]
}

/** What a `ScriptedBackend` replies when no `parts` are given. */
export const SCRIPTED_REPLY: readonly ChatPart[] = textParts(['Hello', ', ', 'world'])

/** A scripted, observable backend. */
export class ScriptedBackend implements LLMBackend {
  readonly name: string
  readonly type = 'scripted'
  readonly options: ScriptedBackendOptions
  /** Every chat and embed call, in order. */
  readonly calls: RecordedCall[] = []
  /** Parts handed to the caller (the owner) so far, over all calls. */
  produced = 0

  constructor(options: ScriptedBackendOptions = {}) {
    this.options = options
    this.name = options.name ?? 'scripted'
  }

  async *chat(request: ChatRequest, options: CallOptions = {}): AsyncIterable<ChatPart> {
    const call = this.#record(request, options.signal)
    const parts = this.options.parts ?? SCRIPTED_REPLY
    for (const [index, part] of parts.entries()) {
      if (this.options.failAt?.index === index) throw this.options.failAt.error
      const wait = this.options.stall?.index === index ? this.options.stall.ms : (this.options.delayMs ?? 0)
      if (wait > 0) await sleep(wait, options.signal)
      options.signal?.throwIfAborted()
      this.produced++
      yield part
    }
    void call
  }

  async embed(request: EmbedRequest, options: CallOptions = {}): Promise<EmbedResponse> {
    this.#record(request, options.signal)
    if (this.options.embedDelayMs) await sleep(this.options.embedDelayMs, options.signal)
    return {
      embeddings: request.input.map((text) => [text.length, 0.5, -1]),
      usage: { inputTokens: request.input.length },
    }
  }

  async health(): Promise<HealthResult> {
    return { ok: true, latencyMs: 0 }
  }

  async models(): Promise<string[]> {
    return ['scripted-1']
  }

  #record(request: ChatRequest | EmbedRequest, signal: AbortSignal | undefined): RecordedCall {
    const call: RecordedCall = { request, signal }
    signal?.addEventListener('abort', () => {
      call.abortedAt = Date.now()
    })
    this.calls.push(call)
    return call
  }
}

/** Resolves after `ms`, or rejects when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason)
      return
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason ?? new ClawmeshError('ABORTED', 'aborted'))
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
