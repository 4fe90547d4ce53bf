/**
 * The `ollama` backend, the default: Ollama's native `/api/chat` (NDJSON) and `/api/embed`
 * through the official `ollama` client. Models come from `/api/tags` and refresh periodically;
 * a model named without a tag means its `:latest` tag, as Ollama itself resolves it.
 */
import { Ollama, type Message as OllamaMessage, type Tool as OllamaTool } from 'ollama'
import { z } from 'zod'
import type { BackendOptions, BackendSettings } from './backend-options.js'
import { CallGuard, callOptions, type DescribeFailure, guardedCall, parseRetryAfter } from './call-guard.js'
import { ProviderBackend } from './provider-backend.js'
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

/** Where Ollama listens by default. */
export const ollamaDefaultUrl = 'http://127.0.0.1:11434'

// Minimal checks of what we read; the client only casts JSON.
const Chunk = z.object({
  message: z
    .object({
      content: z.string().optional(),
      tool_calls: z
        .array(
          z.object({
            id: z.string().optional(),
            function: z.object({ name: z.string(), arguments: z.unknown() }),
          }),
        )
        .optional(),
    })
    .optional(),
  done: z.boolean(),
  done_reason: z.string().optional(),
  prompt_eval_count: z.number().optional(),
  eval_count: z.number().optional(),
})
const Embeddings = z.object({
  embeddings: z.array(z.array(z.number())),
  prompt_eval_count: z.number().optional(),
})
const Tags = z.object({ models: z.array(z.object({ name: z.string() })) })

/** The text of a line that carries only text (not done, no tool calls), else `undefined`. */
function textDelta(raw: unknown): string | undefined {
  const chunk = raw as { done?: unknown; message?: { content?: unknown; tool_calls?: unknown } | null }
  if (chunk.done !== false || chunk.message?.tool_calls != null) return undefined
  const content = chunk.message?.content
  return typeof content === 'string' && content !== '' ? content : undefined
}

/** `llama3.2` → `llama3.2:latest`; names with a tag (or a digest) are kept. */
export function withLatestTag(model: string): string {
  const lastSegment = model.slice(model.lastIndexOf('/') + 1)
  return lastSegment.includes(':') || lastSegment.includes('@') ? model : `${model}:latest`
}

/** Per-call state the client's fetch hook fills: the retry-after of an error response. */
interface CallState {
  retryAfterSeconds: number | undefined
}

function describeOllamaFailure(state: CallState): DescribeFailure {
  return (error) => {
    if (!(error instanceof Error)) return undefined
    const status = (error as { status_code?: unknown }).status_code
    if (error.name === 'ResponseError' && typeof status === 'number') {
      return {
        statusCode: status,
        message: error.message,
        ...(state.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: state.retryAfterSeconds }),
      }
    }
    // The client throws a plain Error for `{"error": ...}` lines and for a stream that ends without `done`.
    if (error.constructor === Error) return { message: error.message }
    return undefined
  }
}

function toOllamaMessage(message: ChatMessage): OllamaMessage {
  switch (message.role) {
    case 'assistant':
      return {
        role: 'assistant',
        content: message.content,
        ...(message.toolCalls?.length
          ? {
              tool_calls: message.toolCalls.map((call) => ({
                function: {
                  name: call.name,
                  arguments: JSON.parse(call.arguments || '{}') as Record<string, unknown>,
                },
              })),
            }
          : {}),
      }
    case 'tool':
      return {
        role: 'tool',
        content: message.content,
        ...(message.name === undefined ? {} : { tool_name: message.name }),
      }
    default:
      return { role: message.role, content: message.content }
  }
}

const finishReasons: Record<string, FinishReason> = { stop: 'stop', length: 'length' }

/** A local (or remote) Ollama server as an `LLMBackend`. */
export class OllamaBackend extends ProviderBackend implements LLMBackend {
  readonly type: string = 'ollama'
  readonly #headers: Record<string, string>

  constructor(settings: BackendSettings, options: BackendOptions = {}) {
    super(settings, options, {
      defaultUrl: ollamaDefaultUrl,
      modelName: withLatestTag,
      refreshInBackground: true,
    })
    // A key is optional: Ollama behind an authenticating proxy, or ollama.com.
    this.#headers = settings.api_key ? { Authorization: `Bearer ${settings.api_key}` } : {}
  }

  /** A client bound to one call: its fetch carries the call's signal and notes retry-after. */
  #client(guard: CallGuard, state: CallState): Ollama {
    const fetchForCall: typeof fetch = async (input, init) => {
      const signal = init?.signal ? AbortSignal.any([init.signal, guard.signal]) : guard.signal
      const response = await fetch(input, { ...init, signal })
      if (response.ok) return response
      state.retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'))
      if (response.headers.get('content-type')?.includes('application/json')) return response
      // The client logs to the console on non-JSON error bodies; hand it JSON instead.
      const error = (await response.text()) || response.statusText
      return Response.json({ error }, { status: response.status, headers: response.headers })
    }
    return new Ollama({ host: this.url, fetch: fetchForCall, headers: this.#headers })
  }

  /** Streams a reply from `POST /api/chat`. */
  async *chat(request: ChatRequest, options: CallOptions = {}): AsyncGenerator<ChatPart> {
    const guard = new CallGuard(`${this.name}: chat`, this.basics.timeoutMs, options.signal)
    const state: CallState = { retryAfterSeconds: undefined }
    const useTools = request.tools?.length && request.toolChoice !== 'none'
    let toolCalls = 0
    try {
      guard.throwIfStopped()
      const stream = await this.#client(guard, state).chat({
        model: withLatestTag(request.model),
        messages: request.messages.map(toOllamaMessage),
        stream: true,
        ...(useTools
          ? {
              tools: (request.tools ?? []).map(
                (tool): OllamaTool => ({
                  type: 'function',
                  function: {
                    name: tool.name,
                    parameters: tool.parameters as NonNullable<OllamaTool['function']['parameters']>,
                    ...(tool.description === undefined ? {} : { description: tool.description }),
                  },
                }),
              ),
            }
          : {}),
        options: {
          ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
          ...(request.topP === undefined ? {} : { top_p: request.topP }),
          ...(request.maxTokens === undefined ? {} : { num_predict: request.maxTokens }),
          ...(request.stop?.length ? { stop: request.stop } : {}),
        },
      })
      guard.touch()
      for await (const raw of stream) {
        guard.touch()
        // Hot path: a plain text line is checked by hand; every other line goes through the schema.
        const text = textDelta(raw)
        if (text !== undefined) {
          guard.pause()
          yield { type: 'text-delta', text }
          guard.resume()
          continue
        }
        const chunk = Chunk.parse(raw)
        const parts: ChatPart[] = []
        if (chunk.message?.content) parts.push({ type: 'text-delta', text: chunk.message.content })
        // Ollama sends each tool call whole, so its one delta is the whole call.
        for (const call of chunk.message?.tool_calls ?? []) {
          const index = toolCalls++
          const id = call.id ?? `call_${index}`
          const args = JSON.stringify(call.function.arguments ?? {})
          parts.push({ type: 'tool-call-delta', index, id, name: call.function.name, argumentsDelta: args })
          parts.push({ type: 'tool-call', index, id, name: call.function.name, arguments: args })
        }
        if (chunk.done) {
          const usage = { inputTokens: chunk.prompt_eval_count ?? 0, outputTokens: chunk.eval_count ?? 0 }
          const finishReason =
            toolCalls > 0 ? 'tool-calls' : (finishReasons[chunk.done_reason ?? 'stop'] ?? 'other')
          parts.push({ type: 'usage', usage }, { type: 'end', finishReason })
          guard.complete()
        }
        if (parts.length === 0) continue
        guard.pause()
        for (const part of parts) yield part
        guard.resume()
      }
      // The client itself throws when the stream ends without `done`; abort ends it quietly.
      guard.throwIfStopped()
    } catch (error) {
      throw guard.fail(error, describeOllamaFailure(state), this.basics.secrets)
    } finally {
      guard.dispose()
    }
  }

  /** Embeds through `POST /api/embed`. */
  async embed(request: EmbedRequest, options: CallOptions = {}): Promise<EmbedResponse> {
    const state: CallState = { retryAfterSeconds: undefined }
    return guardedCall(
      callOptions(this.basics, describeOllamaFailure(state), 'embed', options.signal),
      async (guard) => {
        const response = await this.#client(guard, state).embed({
          model: withLatestTag(request.model),
          input: request.input,
        })
        const { embeddings, prompt_eval_count } = Embeddings.parse(response)
        return { embeddings, usage: { inputTokens: prompt_eval_count ?? 0 } }
      },
    )
  }

  /** Lists the provider's models. */
  protected async listModels(signal?: AbortSignal): Promise<string[]> {
    const state: CallState = { retryAfterSeconds: undefined }
    return guardedCall(
      callOptions(this.basics, describeOllamaFailure(state), 'models', signal),
      async (guard) => {
        const tags = Tags.parse(await this.#client(guard, state).list())
        return tags.models.map((model) => model.name)
      },
    )
  }
}
