/**
 * The `openai-compatible` backend: OpenAI's Chat Completions API as spoken by OpenAI, vLLM, the
 * llama.cpp server, Together, Groq and others, through the official `openai` client.
 */
import OpenAI, { APIError } from 'openai'
import type { ChatCompletionCreateParamsStreaming } from 'openai/resources/chat/completions'
import { z } from 'zod'
import type { BackendOptions, BackendSettings } from './backend-options.js'
import { callOptions, type DescribeFailure, guardedCall, parseRetryAfter } from './call-guard.js'
import { BackendError } from './errors.js'
import { streamEventChat } from './event-chat.js'
import { parseEventData, StreamingPoster } from './http-stream.js'
import { ProviderBackend } from './provider-backend.js'
import type { SseEvent } from './sse.js'
import type {
  CallOptions,
  ChatMessage,
  ChatPart,
  ChatRequest,
  EmbedRequest,
  EmbedResponse,
  FinishReason,
  LLMBackend,
} from './types.js'

/** Base URL when the manifest gives none. */
export const openaiDefaultUrl = 'https://api.openai.com/v1'

// Minimal checks of what we read from each chunk; the SDK only casts JSON.
const Chunk = z.object({
  choices: z.array(
    z.object({
      delta: z
        .object({
          content: z.string().nullish(),
          tool_calls: z
            .array(
              z.object({
                index: z.number(),
                id: z.string().nullish(),
                function: z.object({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
              }),
            )
            .nullish(),
        })
        .nullish(),
      finish_reason: z.string().nullish(),
    }),
  ),
  usage: z.object({ prompt_tokens: z.number(), completion_tokens: z.number() }).nullish(),
})
const Embeddings = z.object({
  data: z.array(z.object({ index: z.number(), embedding: z.array(z.number()) })),
})

/** The text of a chunk that carries only text (no tool calls, finish or usage), else `undefined`. */
function textDelta(raw: unknown): string | undefined {
  const chunk = raw as { choices?: unknown; usage?: unknown }
  if (chunk.usage != null || !Array.isArray(chunk.choices) || chunk.choices.length !== 1) return undefined
  const choice = chunk.choices[0] as {
    delta?: { content?: unknown; tool_calls?: unknown } | null
    finish_reason?: unknown
  }
  if (choice.finish_reason != null || choice.delta?.tool_calls != null) return undefined
  const content = choice.delta?.content
  return typeof content === 'string' && content !== '' ? content : undefined
}

const finishReasons: Record<string, FinishReason> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool-calls',
  function_call: 'tool-calls',
  content_filter: 'content-filter',
}

/** Reads status, message and retry-after from an `openai` SDK error. */
export const describeOpenAIFailure: DescribeFailure = (error) => {
  if (!(error instanceof APIError)) return undefined
  const body = error.error as { message?: unknown; code?: unknown } | undefined
  const message = typeof body?.message === 'string' ? body.message : error.message
  // In-stream errors carry no HTTP status; some servers put one in `code`.
  const statusCode = error.status ?? (typeof body?.code === 'number' ? body.code : undefined)
  const retryAfterSeconds = parseRetryAfter(
    error.headers?.get('retry-after'),
    error.headers?.get('retry-after-ms'),
  )
  return {
    message,
    ...(statusCode === undefined ? {} : { statusCode }),
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  }
}

function toOpenAIMessage(message: ChatMessage): OpenAI.ChatCompletionMessageParam {
  switch (message.role) {
    case 'assistant':
      return {
        role: 'assistant',
        content: message.content,
        ...(message.toolCalls?.length
          ? {
              tool_calls: message.toolCalls.map((call) => ({
                id: call.id,
                type: 'function' as const,
                function: { name: call.name, arguments: call.arguments },
              })),
            }
          : {}),
      }
    case 'tool':
      return { role: 'tool', tool_call_id: message.toolCallId, content: message.content }
    default:
      return { role: message.role, content: message.content }
  }
}

/** Builds the streaming Chat Completions body for a request. */
export function toOpenAIRequest(request: ChatRequest): ChatCompletionCreateParamsStreaming {
  const { toolChoice } = request
  return {
    model: request.model,
    messages: request.messages.map(toOpenAIMessage),
    stream: true,
    stream_options: { include_usage: true },
    ...(request.tools?.length
      ? {
          tools: request.tools.map((tool) => ({
            type: 'function' as const,
            function: {
              name: tool.name,
              parameters: tool.parameters,
              ...(tool.description === undefined ? {} : { description: tool.description }),
            },
          })),
        }
      : {}),
    ...(toolChoice === undefined
      ? {}
      : {
          tool_choice:
            typeof toolChoice === 'string'
              ? toolChoice
              : { type: 'function', function: { name: toolChoice.name } },
        }),
    ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
    ...(request.topP === undefined ? {} : { top_p: request.topP }),
    ...(request.maxTokens === undefined ? {} : { max_tokens: request.maxTokens }),
    ...(request.stop?.length ? { stop: request.stop } : {}),
  }
}

/** Turns Chat Completions stream events into parts, keeping the tool calls seen so far. */
class ChunkReader {
  readonly #label: string
  readonly #calls: Array<{ id: string; name: string; arguments: string }> = []
  #finishReason: FinishReason | undefined
  /** `[DONE]` was seen: the rest is read and ignored, so the connection stays reusable. */
  #done = false

  constructor(label: string) {
    this.#label = label
  }

  read(event: SseEvent): ChatPart | Iterable<ChatPart> | undefined {
    if (this.#done || event.data.startsWith('[DONE]')) {
      this.#done = true
      return undefined
    }
    const raw = parseEventData(event.data, this.#label) as { error?: unknown }
    // An error inside the stream, as the SDK reports it.
    if (raw.error) throw new APIError(undefined, raw.error as object, undefined, undefined)
    // Hot path: a plain text chunk is checked by hand; anything else goes through the schema.
    const text = textDelta(raw)
    return text === undefined ? this.#parts(raw) : { type: 'text-delta', text }
  }

  finish(): ChatPart[] {
    if (this.#finishReason === undefined) {
      throw new BackendError(
        'BACKEND_PROTOCOL',
        `${this.#label}: chat stream ended without a finish reason`,
        {
          retryable: true,
        },
      )
    }
    return [{ type: 'end', finishReason: this.#finishReason }]
  }

  /** The parts of a chunk that is not plain text, checked with the schema. */
  *#parts(raw: unknown): Generator<ChatPart> {
    const chunk = Chunk.parse(raw)
    const choice = chunk.choices[0]
    const delta = choice?.delta
    if (delta?.content) yield { type: 'text-delta', text: delta.content }
    for (const call of delta?.tool_calls ?? []) {
      const known = this.#calls[call.index] ?? { id: '', name: '', arguments: '' }
      this.#calls[call.index] = known
      if (call.id) known.id = call.id
      if (call.function?.name) known.name += call.function.name
      if (call.function?.arguments) known.arguments += call.function.arguments
      yield {
        type: 'tool-call-delta',
        index: call.index,
        argumentsDelta: call.function?.arguments ?? '',
        ...(call.id ? { id: call.id } : {}),
        ...(call.function?.name ? { name: call.function.name } : {}),
      }
    }
    if (choice?.finish_reason) {
      this.#finishReason = finishReasons[choice.finish_reason] ?? 'other'
      for (const [index, call] of this.#calls.entries()) yield { type: 'tool-call', index, ...call }
    }
    if (chunk.usage) {
      yield {
        type: 'usage',
        usage: { inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens },
      }
    }
  }
}

/** An OpenAI-compatible server as an `LLMBackend`. */
export class OpenAICompatibleBackend extends ProviderBackend implements LLMBackend {
  readonly type: string = 'openai-compatible'
  readonly #client: OpenAI
  readonly #poster: StreamingPoster
  readonly #chatUrl: URL
  readonly #headers: Record<string, string>

  constructor(settings: BackendSettings, options: BackendOptions = {}) {
    super(settings, options, { defaultUrl: openaiDefaultUrl })
    this.#client = new OpenAI({
      baseURL: this.url,
      // The SDK insists on a key; a keyless server gets no Authorization header at all.
      apiKey: settings.api_key ?? 'unused',
      organization: null,
      project: null,
      ...(settings.api_key ? {} : { defaultHeaders: { Authorization: null } }),
      maxRetries: 0, // the mesh decides retries
      timeout: this.basics.timeoutMs * 4,
      logLevel: 'off',
    })
    // Streaming chat skips the SDK's request machinery (src/llm/http-stream.ts); the rest uses the SDK.
    this.#poster = new StreamingPoster(this.url)
    this.#chatUrl = new URL(`${this.url}/chat/completions`)
    this.#headers = {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      'user-agent': 'clawmesh',
      ...(settings.api_key ? { authorization: `Bearer ${settings.api_key}` } : {}),
    }
  }

  /**
   * Streams a reply from `POST {url}/chat/completions`, over our own keep-alive request and SSE
   * decoder (`event-chat.ts`); failures become the SDK's `APIError`, mapped as before.
   */
  chat(request: ChatRequest, options: CallOptions = {}): AsyncGenerator<ChatPart> {
    const reader = new ChunkReader(this.name)
    return streamEventChat(
      {
        label: this.name,
        timeoutMs: this.basics.timeoutMs,
        secrets: this.basics.secrets,
        describe: describeOpenAIFailure,
        poster: this.#poster,
        request: {
          url: this.#chatUrl,
          headers: this.#headers,
          apiError: APIError,
        },
        body: () => JSON.stringify(toOpenAIRequest(request)),
        read: (event) => reader.read(event),
        finish: () => reader.finish(),
      },
      options.signal,
    )
  }

  /** Embeds through `POST {url}/embeddings`. */
  async embed(request: EmbedRequest, options: CallOptions = {}): Promise<EmbedResponse> {
    return guardedCall(
      callOptions(this.basics, describeOpenAIFailure, 'embed', options.signal),
      async ({ signal }) => {
        const response = await this.#client.embeddings.create(
          { model: request.model, input: request.input, encoding_format: 'float' },
          { signal },
        )
        const { data } = Embeddings.parse(response)
        const embeddings = [...data].sort((a, b) => a.index - b.index).map((item) => item.embedding)
        return { embeddings, usage: { inputTokens: response.usage?.prompt_tokens ?? 0 } }
      },
    )
  }

  /** Lists the provider's models. */
  protected async listModels(signal?: AbortSignal): Promise<string[]> {
    return guardedCall(callOptions(this.basics, describeOpenAIFailure, 'models', signal), async (guard) => {
      const ids: string[] = []
      for await (const model of this.#client.models.list({ signal: guard.signal })) ids.push(model.id)
      return ids
    })
  }

  /** Closes the keep-alive connections of streaming chat. */
  protected override onClose(): void {
    this.#poster.close()
  }
}
