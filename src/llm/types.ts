/**
 * The LLMBackend contract (version 1). Type-only: every backend, built-in or
 * custom, implements `LLMBackend`; the mesh carries `ChatPart`s over the wire.
 */

/** A tool the model may call. `parameters` is a JSON Schema object. */
export interface ToolDefinition {
  name: string
  description?: string
  parameters: Record<string, unknown>
}

/** A complete tool call made by the assistant; `arguments` is a JSON string. */
export interface ToolCall {
  id: string
  name: string
  arguments: string
}

/** One message of a conversation. */
export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string; toolCalls?: ToolCall[] }
  | { role: 'tool'; toolCallId: string; content: string; name?: string }

/** How the model may use tools. */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string }

/** A chat request, provider-neutral. `model` is the backend's own model name. */
export interface ChatRequest {
  model: string
  messages: ChatMessage[]
  tools?: ToolDefinition[]
  toolChoice?: ToolChoice
  temperature?: number
  topP?: number
  maxTokens?: number
  stop?: string[]
}

/** Why generation ended. */
export type FinishReason = 'stop' | 'length' | 'tool-calls' | 'content-filter' | 'other'

/** Token counts. */
export interface Usage {
  inputTokens: number
  outputTokens: number
}

/**
 * One part of a streamed chat reply. Order: any mix of `text-delta` and
 * `tool-call-delta`; a `tool-call` once each call is complete; at most one
 * `usage`; exactly one `end`, last.
 */
export type ChatPart =
  | { type: 'text-delta'; text: string }
  | { type: 'tool-call-delta'; index: number; id?: string; name?: string; argumentsDelta: string }
  | { type: 'tool-call'; index: number; id: string; name: string; arguments: string }
  | { type: 'usage'; usage: Usage }
  | { type: 'end'; finishReason: FinishReason }

/** Options of one call. Aborting `signal` stops the provider call at once. */
export interface CallOptions {
  signal?: AbortSignal
}

/** An embeddings request. */
export interface EmbedRequest {
  model: string
  input: string[]
}

/** Vectors in the order of `input`. */
export interface EmbedResponse {
  embeddings: number[][]
  usage?: { inputTokens: number }
}

/** Result of a readiness probe. */
export interface HealthResult {
  ok: boolean
  latencyMs: number
  /** Why the probe failed, without secrets. */
  error?: string
}

/**
 * A language-model backend. Failures (before or during the stream) are thrown
 * as `BackendError`s carrying `code`, `statusCode` and `retryable`.
 */
export interface LLMBackend {
  /** Unique name souls use to select the backend, e.g. `mycorp-gateway`. */
  readonly name: string
  /** Provider type, e.g. `ollama`, `openai-compatible`, or a custom label. */
  readonly type: string
  /** Streams a chat reply as parts. */
  chat(request: ChatRequest, options?: CallOptions): AsyncIterable<ChatPart>
  /** Embeds each input string. */
  embed(request: EmbedRequest, options?: CallOptions): Promise<EmbedResponse>
  /** Readiness probe; never throws. */
  health(options?: CallOptions): Promise<HealthResult>
  /** Models this backend offers right now. */
  models(options?: CallOptions): Promise<string[]>
  /** Releases timers and connections. Optional. */
  close?(): Promise<void>
}
