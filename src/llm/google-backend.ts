/**
 * The `google` backend: the Gemini API (`streamGenerateContent` over SSE, `batchEmbedContents`)
 * through the official `@google/genai` client.
 */
import { ApiError, type Content, FunctionCallingConfigMode, GoogleGenAI, type Part } from '@google/genai'
import { z } from 'zod'
import type { BackendOptions, BackendSettings } from './backend-options.js'
import { CallGuard, callOptions, type DescribeFailure, guardedCall } from './call-guard.js'
import { BackendConfigError, BackendError } from './errors.js'
import { ProviderBackend } from './provider-backend.js'
import type {
  CallOptions,
  ChatPart,
  ChatRequest,
  EmbedRequest,
  EmbedResponse,
  FinishReason,
  LLMBackend,
} from './types.js'

/** The Gemini API when the manifest gives no URL. */
export const googleDefaultUrl = 'https://generativelanguage.googleapis.com'

// Minimal check of what we read from each chunk; the client only maps JSON field by field.
const Chunk = z.object({
  candidates: z
    .array(
      z.object({
        content: z
          .object({
            parts: z
              .array(
                z.object({
                  text: z.string().optional(),
                  thought: z.boolean().optional(),
                  functionCall: z
                    .object({ id: z.string().optional(), name: z.string().optional(), args: z.unknown() })
                    .optional(),
                }),
              )
              .optional(),
          })
          .optional(),
        finishReason: z.string().optional(),
      }),
    )
    .optional(),
  usageMetadata: z
    .object({ promptTokenCount: z.number().optional(), candidatesTokenCount: z.number().optional() })
    .optional(),
})
const Embeddings = z.object({ embeddings: z.array(z.object({ values: z.array(z.number()) })) })

/** The text of a chunk whose one candidate has one plain text part and no finish reason, else `undefined`. */
function textDelta(raw: unknown): string | undefined {
  const chunk = raw as { candidates?: unknown }
  if (!Array.isArray(chunk.candidates) || chunk.candidates.length !== 1) return undefined
  const candidate = chunk.candidates[0] as { finishReason?: unknown; content?: { parts?: unknown } | null }
  const parts = candidate.content?.parts
  if (candidate.finishReason != null || !Array.isArray(parts) || parts.length !== 1) return undefined
  const part = parts[0] as { text?: unknown; thought?: unknown; functionCall?: unknown }
  if (part.thought != null || part.functionCall != null) return undefined
  return typeof part.text === 'string' && part.text !== '' ? part.text : undefined
}

const finishReasons: Record<string, FinishReason> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  SAFETY: 'content-filter',
  RECITATION: 'content-filter',
  BLOCKLIST: 'content-filter',
  PROHIBITED_CONTENT: 'content-filter',
  SPII: 'content-filter',
}

const ErrorBody = z.object({
  error: z.object({
    message: z.string().optional(),
    details: z
      .array(z.object({ '@type': z.string().optional(), retryDelay: z.string().optional() }))
      .optional(),
  }),
})

/** Reads status, message and the `google.rpc.RetryInfo` delay from an `@google/genai` error. */
export const describeGoogleFailure: DescribeFailure = (error) => {
  if (!(error instanceof ApiError)) return undefined
  // The client puts the JSON error body into the message (after a prefix for in-stream errors).
  const start = error.message.indexOf('{')
  let message = error.message
  let retryAfterSeconds: number | undefined
  try {
    const body = ErrorBody.parse(JSON.parse(error.message.slice(start)))
    message = body.error.message ?? message
    const delay = body.error.details?.find((detail) => detail.retryDelay)?.retryDelay
    if (delay) retryAfterSeconds = Number.parseFloat(delay)
  } catch {
    // Not JSON: keep the client's message.
  }
  return {
    statusCode: error.status,
    message,
    ...(retryAfterSeconds === undefined || Number.isNaN(retryAfterSeconds) ? {} : { retryAfterSeconds }),
  }
}

/** Builds the Gemini `contents`: assistant is `model`, tool results are `functionResponse` parts. */
export function toGeminiContents(request: ChatRequest): Content[] {
  const toolNames = new Map<string, string>()
  const contents: Content[] = []
  for (const message of request.messages) {
    if (message.role === 'system') continue
    const parts: Part[] = []
    if (message.role === 'tool') {
      const name = message.name ?? toolNames.get(message.toolCallId) ?? 'tool'
      parts.push({
        functionResponse: { id: message.toolCallId, name, response: { result: message.content } },
      })
    } else {
      if (message.content) parts.push({ text: message.content })
      if (message.role === 'assistant') {
        for (const call of message.toolCalls ?? []) {
          toolNames.set(call.id, call.name)
          parts.push({
            functionCall: { id: call.id, name: call.name, args: JSON.parse(call.arguments || '{}') },
          })
        }
      }
    }
    const role = message.role === 'assistant' ? 'model' : 'user'
    const last = contents.at(-1)
    if (last?.role === role) last.parts?.push(...parts)
    else contents.push({ role, parts })
  }
  return contents
}

const modes = {
  auto: FunctionCallingConfigMode.AUTO,
  none: FunctionCallingConfigMode.NONE,
  required: FunctionCallingConfigMode.ANY,
}

/** The Gemini API as an `LLMBackend`. */
export class GoogleBackend extends ProviderBackend implements LLMBackend {
  readonly type: string = 'google'
  readonly #client: GoogleGenAI

  constructor(settings: BackendSettings, options: BackendOptions = {}) {
    if (!settings.api_key)
      throw new BackendConfigError(
        settings.name,
        'type google needs api_key (set it from the environment, e.g. GEMINI_API_KEY)',
      )
    super(settings, options, { defaultUrl: googleDefaultUrl })
    // No retryOptions: the client then makes exactly one attempt (the mesh decides retries).
    this.#client = new GoogleGenAI({
      apiKey: settings.api_key,
      vertexai: false,
      httpOptions: { baseUrl: this.url },
    })
  }

  /** Streams a reply from `:streamGenerateContent?alt=sse`. */
  async *chat(request: ChatRequest, options: CallOptions = {}): AsyncGenerator<ChatPart> {
    const guard = new CallGuard(`${this.name}: chat`, this.basics.timeoutMs, options.signal)
    const system = request.messages
      .filter((message) => message.role === 'system')
      .map((message) => message.content)
    const { toolChoice } = request
    const usage = { inputTokens: 0, outputTokens: 0 }
    let toolCalls = 0
    let finishReason: FinishReason | undefined
    try {
      guard.throwIfStopped()
      const stream = await this.#client.models.generateContentStream({
        model: request.model,
        contents: toGeminiContents(request),
        config: {
          abortSignal: guard.signal,
          ...(system.length > 0 ? { systemInstruction: system.join('\n\n') } : {}),
          ...(request.tools?.length
            ? {
                tools: [
                  {
                    functionDeclarations: request.tools.map((tool) => ({
                      name: tool.name,
                      parametersJsonSchema: tool.parameters,
                      ...(tool.description === undefined ? {} : { description: tool.description }),
                    })),
                  },
                ],
              }
            : {}),
          ...(toolChoice === undefined
            ? {}
            : {
                toolConfig: {
                  functionCallingConfig:
                    typeof toolChoice === 'string'
                      ? { mode: modes[toolChoice] }
                      : { mode: FunctionCallingConfigMode.ANY, allowedFunctionNames: [toolChoice.name] },
                },
              }),
          ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
          ...(request.topP === undefined ? {} : { topP: request.topP }),
          ...(request.maxTokens === undefined ? {} : { maxOutputTokens: request.maxTokens }),
          ...(request.stop?.length ? { stopSequences: request.stop } : {}),
        },
      })
      guard.touch()
      for await (const raw of stream) {
        guard.touch()
        // Hot path: a plain text chunk is checked by hand; every other chunk goes through the schema.
        const text = textDelta(raw)
        if (text !== undefined) {
          const { usageMetadata } = raw
          if (usageMetadata) {
            usage.inputTokens = usageMetadata.promptTokenCount ?? usage.inputTokens
            usage.outputTokens = usageMetadata.candidatesTokenCount ?? usage.outputTokens
          }
          guard.pause()
          yield { type: 'text-delta', text }
          guard.resume()
          continue
        }
        const chunk = Chunk.parse(raw)
        const candidate = chunk.candidates?.[0]
        const parts: ChatPart[] = []
        for (const part of candidate?.content?.parts ?? []) {
          if (part.text && !part.thought) parts.push({ type: 'text-delta', text: part.text })
          if (part.functionCall) {
            // Gemini sends each call whole; its one delta is the whole call.
            const index = toolCalls++
            const id = part.functionCall.id ?? `call_${index}`
            const name = part.functionCall.name ?? ''
            const args = JSON.stringify(part.functionCall.args ?? {})
            parts.push({ type: 'tool-call-delta', index, id, name, argumentsDelta: args })
            parts.push({ type: 'tool-call', index, id, name, arguments: args })
          }
        }
        if (chunk.usageMetadata) {
          usage.inputTokens = chunk.usageMetadata.promptTokenCount ?? usage.inputTokens
          usage.outputTokens = chunk.usageMetadata.candidatesTokenCount ?? usage.outputTokens
        }
        if (candidate?.finishReason) {
          finishReason = toolCalls > 0 ? 'tool-calls' : (finishReasons[candidate.finishReason] ?? 'other')
        }
        if (parts.length === 0) continue
        guard.pause()
        for (const part of parts) yield part
        guard.resume()
      }
      guard.throwIfStopped()
      if (finishReason === undefined) {
        throw new BackendError(
          'BACKEND_PROTOCOL',
          `${this.name}: chat stream ended without a finish reason`,
          {
            retryable: true,
          },
        )
      }
      guard.complete()
      yield { type: 'usage', usage }
      yield { type: 'end', finishReason }
    } catch (error) {
      throw guard.fail(error, describeGoogleFailure, this.basics.secrets)
    } finally {
      guard.dispose()
    }
  }

  /** Embeds through `:batchEmbedContents`. */
  async embed(request: EmbedRequest, options: CallOptions = {}): Promise<EmbedResponse> {
    return guardedCall(
      callOptions(this.basics, describeGoogleFailure, 'embed', options.signal),
      async ({ signal }) => {
        const response = await this.#client.models.embedContent({
          model: request.model,
          contents: request.input,
          config: { abortSignal: signal },
        })
        return { embeddings: Embeddings.parse(response).embeddings.map((embedding) => embedding.values) }
      },
    )
  }

  /** Lists the provider's models. */
  protected async listModels(signal?: AbortSignal): Promise<string[]> {
    return guardedCall(callOptions(this.basics, describeGoogleFailure, 'models', signal), async (guard) => {
      const names: string[] = []
      const pager = await this.#client.models.list({ config: { abortSignal: guard.signal, pageSize: 1000 } })
      for await (const model of pager) if (model.name) names.push(model.name.replace(/^models\//, ''))
      return names
    })
  }
}
