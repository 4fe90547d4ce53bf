/**
 * The `anthropic` backend: Anthropic's Messages API (streaming SSE, tool use with
 * `input_json_delta`) through the official `@anthropic-ai/sdk`. Anthropic has no embeddings API.
 */
import Anthropic, { APIError } from '@anthropic-ai/sdk'
import { z } from 'zod'
import type { BackendOptions, BackendSettings } from './backend-options.js'
import { callOptions, type DescribeFailure, guardedCall, parseRetryAfter } from './call-guard.js'
import { BackendConfigError, BackendError, type BackendErrorCode } from './errors.js'
import { streamEventChat } from './event-chat.js'
import { parseEventData, StreamingPoster } from './http-stream.js'
import { ProviderBackend } from './provider-backend.js'
import type { SseEvent } from './sse.js'
import type {
  CallOptions,
  ChatMessage,
  ChatPart,
  ChatRequest,
  EmbedResponse,
  FinishReason,
  LLMBackend,
} from './types.js'

/** Anthropic's API when the manifest gives no URL. */
export const anthropicDefaultUrl = 'https://api.anthropic.com'
/** The `anthropic-version` header, as `@anthropic-ai/sdk` sends it (a test compares the two). */
export const ANTHROPIC_VERSION = '2026-10-21'
/** `max_tokens` is required by the Messages API; used when the request sets none. */
export const anthropicDefaultMaxTokens = 4096

// Minimal check of the stream events we read; the SDK only casts JSON.
const Event = z.object({
  type: z.string(),
  index: z.number().optional(),
  message: z.object({ usage: z.object({ input_tokens: z.number().optional() }).optional() }).optional(),
  content_block: z
    .object({ type: z.string(), id: z.string().optional(), name: z.string().optional() })
    .optional(),
  delta: z
    .object({
      type: z.string().optional(),
      text: z.string().optional(),
      partial_json: z.string().optional(),
      stop_reason: z.string().nullish(),
    })
    .optional(),
  usage: z.object({ output_tokens: z.number().optional(), input_tokens: z.number().nullish() }).optional(),
})

/** The text of a `content_block_delta` / `text_delta` event, else `undefined`. */
function textDelta(raw: unknown): string | undefined {
  const event = raw as { type?: unknown; delta?: { type?: unknown; text?: unknown } | null }
  if (event.type !== 'content_block_delta' || event.delta?.type !== 'text_delta') return undefined
  const { text } = event.delta
  return typeof text === 'string' && text !== '' ? text : undefined
}

const errorTypeCodes: Record<string, BackendErrorCode> = {
  invalid_request_error: 'BACKEND_BAD_REQUEST',
  request_too_large: 'BACKEND_BAD_REQUEST',
  authentication_error: 'BACKEND_UNAUTHORIZED',
  permission_error: 'BACKEND_UNAUTHORIZED',
  not_found_error: 'BACKEND_MODEL_NOT_FOUND',
  rate_limit_error: 'BACKEND_RATE_LIMITED',
  timeout_error: 'BACKEND_TIMEOUT',
  api_error: 'BACKEND_UNAVAILABLE',
  overloaded_error: 'BACKEND_UNAVAILABLE',
}

const stopReasons: Record<string, FinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool-calls',
  refusal: 'content-filter',
}

/** Reads status, message, error type and retry-after from an `@anthropic-ai/sdk` error. */
export const describeAnthropicFailure: DescribeFailure = (error) => {
  if (!(error instanceof APIError)) return undefined
  const body = error.error as { error?: { type?: unknown; message?: unknown } } | undefined
  const message = typeof body?.error?.message === 'string' ? body.error.message : error.message
  const type = typeof body?.error?.type === 'string' ? body.error.type : undefined
  const retryAfterSeconds = parseRetryAfter(error.headers?.get('retry-after'))
  // An `error` event inside the stream has no HTTP status: its type says what happened.
  const code = error.status === undefined && type ? errorTypeCodes[type] : undefined
  if (error.status === undefined && code === undefined) return undefined
  return {
    message,
    ...(error.status === undefined ? {} : { statusCode: error.status }),
    ...(code === undefined ? {} : { code }),
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  }
}

/** Builds the Messages API request: system prompt apart, tool results as user turns, same roles merged. */
export function toAnthropicRequest(request: ChatRequest): Anthropic.MessageCreateParamsStreaming {
  const system = request.messages
    .filter((message) => message.role === 'system')
    .map((message) => message.content)
  const messages: Anthropic.MessageParam[] = []
  for (const message of request.messages) {
    if (message.role === 'system') continue
    const role = message.role === 'assistant' ? 'assistant' : 'user'
    const blocks = toBlocks(message)
    const last = messages.at(-1)
    if (last?.role === role && Array.isArray(last.content)) last.content.push(...blocks)
    else messages.push({ role, content: blocks })
  }
  const { toolChoice } = request
  return {
    model: request.model,
    max_tokens: request.maxTokens ?? anthropicDefaultMaxTokens,
    messages,
    stream: true,
    ...(system.length > 0 ? { system: system.join('\n\n') } : {}),
    ...(request.tools?.length
      ? {
          tools: request.tools.map((tool) => ({
            name: tool.name,
            input_schema: tool.parameters as Anthropic.Tool.InputSchema,
            ...(tool.description === undefined ? {} : { description: tool.description }),
          })),
        }
      : {}),
    ...(toolChoice === undefined
      ? {}
      : {
          tool_choice:
            toolChoice === 'required'
              ? { type: 'any' }
              : typeof toolChoice === 'string'
                ? { type: toolChoice }
                : { type: 'tool', name: toolChoice.name },
        }),
    ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
    ...(request.topP === undefined ? {} : { top_p: request.topP }),
    ...(request.stop?.length ? { stop_sequences: request.stop } : {}),
  }
}

function toBlocks(message: Exclude<ChatMessage, { role: 'system' }>): Anthropic.ContentBlockParam[] {
  if (message.role === 'tool') {
    return [{ type: 'tool_result', tool_use_id: message.toolCallId, content: message.content }]
  }
  const blocks: Anthropic.ContentBlockParam[] = message.content
    ? [{ type: 'text', text: message.content }]
    : []
  if (message.role === 'assistant') {
    for (const call of message.toolCalls ?? []) {
      blocks.push({
        type: 'tool_use',
        id: call.id,
        name: call.name,
        input: JSON.parse(call.arguments || '{}'),
      })
    }
  }
  return blocks
}

/** Turns Messages API stream events into parts, keeping tool calls and usage seen so far. */
class EventReader {
  readonly #label: string
  // Content-block index → tool-call ordinal, and each call's arguments so far.
  readonly #tools = new Map<number, { index: number; id: string; name: string; arguments: string }>()
  readonly #usage = { inputTokens: 0, outputTokens: 0 }
  #finishReason: FinishReason = 'other'
  #ended = false

  constructor(label: string) {
    this.#label = label
  }

  read(event: SseEvent): ChatPart | Iterable<ChatPart> | undefined {
    // As the SDK reads the stream: keep-alive pings and unnamed events are skipped.
    if (event.event === 'ping' || event.event === null || event.data === '') return undefined
    const raw = parseEventData(event.data, this.#label)
    // An error event inside the stream, as the SDK reports it.
    if (event.event === 'error') throw new APIError(undefined, raw as object, undefined, undefined)
    // Hot path: a text delta is checked by hand; every other event goes through the schema.
    const text = textDelta(raw)
    return text === undefined ? this.#parts(raw) : { type: 'text-delta', text }
  }

  finish(): ChatPart[] {
    if (!this.#ended) {
      throw new BackendError('BACKEND_PROTOCOL', `${this.#label}: chat stream ended without message_stop`, {
        retryable: true,
      })
    }
    return []
  }

  /** The parts of an event that is not a text delta, checked with the schema. */
  *#parts(raw: unknown): Generator<ChatPart> {
    const event = Event.parse(raw)
    const tools = this.#tools
    if (event.type === 'content_block_delta' && event.delta?.type === 'text_delta' && event.delta.text) {
      yield { type: 'text-delta', text: event.delta.text }
    } else if (event.type === 'content_block_delta' && event.delta?.type === 'input_json_delta') {
      const call = tools.get(event.index ?? -1)
      const argumentsDelta = event.delta.partial_json ?? ''
      if (call) call.arguments += argumentsDelta
      if (call && argumentsDelta) yield { type: 'tool-call-delta', index: call.index, argumentsDelta }
    } else if (event.type === 'content_block_start' && event.content_block?.type === 'tool_use') {
      const call = {
        index: tools.size,
        id: event.content_block.id ?? '',
        name: event.content_block.name ?? '',
        arguments: '',
      }
      tools.set(event.index ?? -1, call)
      yield { type: 'tool-call-delta', index: call.index, id: call.id, name: call.name, argumentsDelta: '' }
    } else if (event.type === 'content_block_stop') {
      const call = tools.get(event.index ?? -1)
      if (call) yield { type: 'tool-call', ...call, arguments: call.arguments || '{}' }
    } else if (event.type === 'message_start') {
      this.#usage.inputTokens = event.message?.usage?.input_tokens ?? 0
    } else if (event.type === 'message_delta') {
      this.#finishReason = stopReasons[event.delta?.stop_reason ?? ''] ?? 'other'
      this.#usage.outputTokens = event.usage?.output_tokens ?? this.#usage.outputTokens
      if (event.usage?.input_tokens) this.#usage.inputTokens = event.usage.input_tokens
    } else if (event.type === 'message_stop' && !this.#ended) {
      this.#ended = true
      yield { type: 'usage', usage: { ...this.#usage } }
      yield { type: 'end', finishReason: this.#finishReason }
    }
  }
}

/** Anthropic's Messages API as an `LLMBackend`. */
export class AnthropicBackend extends ProviderBackend implements LLMBackend {
  readonly type: string = 'anthropic'
  readonly #client: Anthropic
  readonly #poster: StreamingPoster
  readonly #messagesUrl: URL
  readonly #headers: Record<string, string>

  constructor(settings: BackendSettings, options: BackendOptions = {}) {
    if (!settings.api_key)
      throw new BackendConfigError(
        settings.name,
        'type anthropic needs api_key (set it from the environment, e.g. ANTHROPIC_API_KEY)',
      )
    super(settings, options, { defaultUrl: anthropicDefaultUrl })
    this.#client = new Anthropic({
      baseURL: this.url,
      apiKey: settings.api_key,
      authToken: null,
      maxRetries: 0, // the mesh decides retries
      timeout: this.basics.timeoutMs * 4,
      logLevel: 'off',
    })
    // Streaming chat skips the SDK's request machinery (src/llm/http-stream.ts); model listing uses it.
    this.#poster = new StreamingPoster(this.url)
    this.#messagesUrl = new URL(`${this.url}/v1/messages`)
    this.#headers = {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      'user-agent': 'clawmesh',
      // As @anthropic-ai/sdk 1.x sends an API key (a test compares the two requests).
      authorization: `Bearer ${settings.api_key}`,
      'anthropic-version': ANTHROPIC_VERSION,
    }
  }

  /**
   * Streams a reply from `POST /v1/messages`, over our own keep-alive request and SSE decoder
   * (`event-chat.ts`); failures become the SDK's `APIError`, mapped as before.
   */
  chat(request: ChatRequest, options: CallOptions = {}): AsyncGenerator<ChatPart> {
    const reader = new EventReader(this.name)
    return streamEventChat(
      {
        label: this.name,
        timeoutMs: this.basics.timeoutMs,
        secrets: this.basics.secrets,
        describe: describeAnthropicFailure,
        poster: this.#poster,
        request: {
          url: this.#messagesUrl,
          headers: this.#headers,
          apiError: APIError,
        },
        body: () => JSON.stringify(toAnthropicRequest(request)),
        read: (event) => reader.read(event),
        finish: () => reader.finish(),
      },
      options.signal,
    )
  }

  /** Anthropic offers no embeddings: always a BACKEND_UNSUPPORTED error. */
  async embed(): Promise<EmbedResponse> {
    throw new BackendError(
      'BACKEND_UNSUPPORTED',
      `${this.name}: embeddings are not supported by the Anthropic API`,
    )
  }

  /** Lists the provider's models. */
  protected async listModels(signal?: AbortSignal): Promise<string[]> {
    return guardedCall(
      callOptions(this.basics, describeAnthropicFailure, 'models', signal),
      async (guard) => {
        const ids: string[] = []
        for await (const model of this.#client.models.list({}, { signal: guard.signal })) ids.push(model.id)
        return ids
      },
    )
  }

  /** Closes the keep-alive connections of streaming chat. */
  protected override onClose(): void {
    this.#poster.close()
  }
}
