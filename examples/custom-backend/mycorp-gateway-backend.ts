/**
 * A custom backend for a corporate AI gateway ("MyCorp gateway"): its own auth headers
 * (`x-mycorp-key`, `x-mycorp-tenant`) and its own NDJSON wire format, implemented against the
 * public LLMBackend contract. The gateway's protocol (documented in README.md):
 *   POST /v1/chat   → NDJSON events {event:'token',text} | {event:'tool',index,id?,name?,args}
 *                     | {event:'done',finish,usage:{input,output}} | {event:'error',status,message}
 *   POST /v1/embed  → {vectors: number[][]}       GET /v1/models → {models: string[]}
 *   errors          → HTTP status, {error:{message}}, optional retry-after
 */
import {
  BackendConfigError,
  BackendError,
  backendErrorFromStatus,
  CallGuard,
  type CallOptions,
  type ChatPart,
  type ChatRequest,
  type DescribeFailure,
  type EmbedRequest,
  type EmbedResponse,
  type HealthResult,
  type LLMBackend,
  parseRetryAfter,
} from '../../src/llm/index.js'

/** How to reach the gateway. Keys come from the environment, never from code. */
export interface MyCorpGatewayOptions {
  name?: string
  endpoint: string
  apiKey: string
  tenant: string
  timeoutMs?: number
}

/** One line of the gateway's NDJSON chat stream. */
type GatewayEvent =
  | { event: 'token'; text: string }
  | { event: 'tool'; index: number; id?: string; name?: string; args: string }
  | { event: 'done'; finish: 'stop' | 'tool_calls'; usage: { input: number; output: number } }
  | { event: 'error'; status: number; message: string }

// Gateway errors are thrown as BackendErrors already (see #request), so nothing is left to describe.
const nothingToDescribe: DescribeFailure = () => undefined

/** The MyCorp gateway as an `LLMBackend`. */
export class MyCorpGatewayBackend implements LLMBackend {
  readonly name: string
  readonly type = 'mycorp-gateway'
  readonly #endpoint: string
  readonly #headers: Record<string, string> // private (#): never serialised, never inspected
  readonly #secrets: string[]
  readonly #timeoutMs: number

  constructor(options: MyCorpGatewayOptions) {
    this.name = options.name ?? 'mycorp-gateway'
    if (!options.endpoint || !options.apiKey || !options.tenant) {
      throw new BackendConfigError(
        this.name,
        'needs endpoint, apiKey and tenant (MYCORP_GATEWAY_URL, _KEY, _TENANT)',
      )
    }
    this.#endpoint = options.endpoint.replace(/\/+$/, '')
    this.#headers = {
      'content-type': 'application/json',
      'x-mycorp-key': options.apiKey,
      'x-mycorp-tenant': options.tenant,
    }
    this.#secrets = [options.apiKey]
    this.#timeoutMs = options.timeoutMs ?? 120_000
  }

  /** One gateway request; non-2xx answers become `BackendError`s by status. */
  async #request(path: string, guard: CallGuard, body?: unknown): Promise<Response> {
    const response = await fetch(`${this.#endpoint}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: this.#headers,
      signal: guard.signal,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    guard.touch()
    if (response.ok) return response
    const text = await response.text()
    let message = text
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text
    } catch {}
    const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'))
    throw backendErrorFromStatus(this.name, response.status, message, {
      retryAfterSeconds,
      secrets: this.#secrets,
    })
  }

  /** Streams a reply: one NDJSON event per line. */
  async *chat(request: ChatRequest, options: CallOptions = {}): AsyncGenerator<ChatPart> {
    const guard = new CallGuard(`${this.name}: chat`, this.#timeoutMs, options.signal)
    const calls = new Map<number, { id: string; name: string; arguments: string }>()
    try {
      guard.throwIfStopped()
      const response = await this.#request('/v1/chat', guard, request)
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
      let buffered = ''
      for (;;) {
        const { done, value } = await reader.read()
        guard.throwIfStopped()
        if (done) break
        guard.touch()
        const lines = (buffered + value).split('\n')
        buffered = lines.pop() ?? ''
        for (const line of lines.filter(Boolean)) {
          const event = JSON.parse(line) as GatewayEvent
          if (event.event === 'token') yield { type: 'text-delta', text: event.text }
          if (event.event === 'tool') {
            const call = calls.get(event.index) ?? {
              id: event.id ?? '',
              name: event.name ?? '',
              arguments: '',
            }
            call.arguments += event.args
            calls.set(event.index, call)
            yield {
              type: 'tool-call-delta',
              index: event.index,
              argumentsDelta: event.args,
              ...(event.id ? { id: event.id, name: event.name ?? '' } : {}),
            }
          }
          if (event.event === 'error') {
            throw backendErrorFromStatus(this.name, event.status, event.message, { secrets: this.#secrets })
          }
          if (event.event === 'done') {
            for (const [index, call] of calls) yield { type: 'tool-call', index, ...call }
            const { usage } = event
            yield { type: 'usage', usage: { inputTokens: usage.input, outputTokens: usage.output } }
            guard.complete()
            yield {
              type: 'end',
              finishReason: event.finish === 'tool_calls' ? 'tool-calls' : 'stop',
            }
            return
          }
        }
      }
      throw new BackendError('BACKEND_PROTOCOL', `${this.name}: stream ended before "done"`, {
        retryable: true,
      })
    } catch (error) {
      throw guard.fail(error, nothingToDescribe, this.#secrets)
    } finally {
      guard.dispose()
    }
  }

  /** Embeds through `POST /v1/embed`. */
  async embed(request: EmbedRequest, options: CallOptions = {}): Promise<EmbedResponse> {
    const guard = new CallGuard(`${this.name}: embed`, this.#timeoutMs, options.signal)
    try {
      const response = await this.#request('/v1/embed', guard, request)
      const { vectors } = (await response.json()) as { vectors: number[][] }
      guard.complete()
      return { embeddings: vectors }
    } catch (error) {
      throw guard.fail(error, nothingToDescribe, this.#secrets)
    } finally {
      guard.dispose()
    }
  }

  /** Lists what the gateway routes to. */
  async models(options: CallOptions = {}): Promise<string[]> {
    const guard = new CallGuard(`${this.name}: models`, this.#timeoutMs, options.signal)
    try {
      const response = await this.#request('/v1/models', guard)
      const { models } = (await response.json()) as { models: string[] }
      guard.complete()
      return models
    } catch (error) {
      throw guard.fail(error, nothingToDescribe, this.#secrets)
    } finally {
      guard.dispose()
    }
  }

  /** Readiness: the model list answers. */
  async health(options: CallOptions = {}): Promise<HealthResult> {
    const started = performance.now()
    try {
      await this.models(options)
      return { ok: true, latencyMs: performance.now() - started }
    } catch (error) {
      return { ok: false, latencyMs: performance.now() - started, error: (error as Error).message }
    }
  }
}
