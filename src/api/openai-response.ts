/**
 * The non-streaming `chat.completion` reply, and the mappings from mesh
 * parts to OpenAI fields that the streaming reply shares.
 */
import { randomBytes } from 'node:crypto'
import { ClawmeshError } from '../errors.js'
import type { ChatPart, FinishReason, ToolCall, Usage } from '../llm/types.js'

/** OpenAI `finish_reason` values. */
export type OpenAIFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter'

/** OpenAI `usage` object. */
export interface OpenAIUsage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
}

/** Identity fields every chunk or completion of one reply carries. */
export interface CompletionIdentity {
  /** `chatcmpl-…`. */
  id: string
  /** Unix seconds. */
  created: number
  /** The model as the client asked for it. */
  model: string
}

/** The parts stream ended without an `end` part: the reply may be truncated. */
export class IncompleteReplyError extends ClawmeshError {
  static override name = 'IncompleteReplyError'
  constructor() {
    super('INCOMPLETE_REPLY', 'the reply ended without an end part; it may be truncated')
  }
}

/** A fresh identity for one reply. */
export function completionIdentity(model: string): CompletionIdentity {
  return {
    id: `chatcmpl-${randomBytes(12).toString('hex')}`,
    created: Math.floor(Date.now() / 1000),
    model,
  }
}

/** Mesh finish reason → OpenAI `finish_reason` (`other` has no OpenAI twin and reads as `stop`). */
export function openAIFinishReason(reason: FinishReason): OpenAIFinishReason {
  switch (reason) {
    case 'length':
      return 'length'
    case 'tool-calls':
      return 'tool_calls'
    case 'content-filter':
      return 'content_filter'
    default:
      return 'stop'
  }
}

/** Mesh usage → OpenAI `usage`. */
export function openAIUsage(usage: Usage): OpenAIUsage {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
  }
}

/** A whole reply gathered from its parts. */
export interface CollectedReply {
  text: string
  toolCalls: ToolCall[]
  finishReason: FinishReason
  usage: Usage | undefined
}

/**
 * Reads every part of a reply (`first` already pulled from `iterator`).
 * Complete `tool-call` parts win; calls only ever seen as deltas are
 * assembled from them.
 */
export async function collectReply(
  first: IteratorResult<ChatPart>,
  iterator: AsyncIterator<ChatPart>,
  signal: AbortSignal,
): Promise<CollectedReply> {
  let text = ''
  const calls = new Map<number, ToolCall>()
  let finishReason: FinishReason | undefined
  let usage: Usage | undefined
  for (let next = first; !next.done; next = await iterator.next()) {
    if (signal.aborted) {
      await iterator.return?.()
      break
    }
    const part = next.value
    if (finishReason !== undefined) continue // nothing follows `end`; drain so the mesh finishes cleanly
    switch (part.type) {
      case 'text-delta':
        text += part.text
        break
      case 'tool-call-delta': {
        const call = calls.get(part.index) ?? { id: part.id ?? '', name: part.name ?? '', arguments: '' }
        if (call.id === '' && part.id !== undefined) call.id = part.id
        if (call.name === '' && part.name !== undefined) call.name = part.name
        call.arguments += part.argumentsDelta
        calls.set(part.index, call)
        break
      }
      case 'tool-call':
        calls.set(part.index, { id: part.id, name: part.name, arguments: part.arguments })
        break
      case 'usage':
        usage = part.usage
        break
      case 'end':
        finishReason = part.finishReason
        break
    }
  }
  if (finishReason === undefined) throw new IncompleteReplyError()
  const toolCalls = [...calls.entries()]
    .sort(([left], [right]) => left - right)
    .map(([, call]) => (call.id === '' ? { ...call, id: `call_${randomBytes(12).toString('hex')}` } : call))
  return { text, toolCalls, finishReason, usage }
}

/** The `chat.completion` body of a collected reply. */
export function chatCompletionBody(
  identity: CompletionIdentity,
  reply: CollectedReply,
): Record<string, unknown> {
  const message: Record<string, unknown> = {
    role: 'assistant',
    content: reply.text === '' && reply.toolCalls.length > 0 ? null : reply.text,
    refusal: null,
  }
  if (reply.toolCalls.length > 0)
    message.tool_calls = reply.toolCalls.map((call) => ({
      id: call.id,
      type: 'function',
      function: { name: call.name, arguments: call.arguments },
    }))
  return {
    id: identity.id,
    object: 'chat.completion',
    created: identity.created,
    model: identity.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: openAIFinishReason(reply.finishReason) }],
    ...(reply.usage === undefined ? {} : { usage: openAIUsage(reply.usage) }),
  }
}
