/**
 * The OpenAI request bodies the gateway accepts, and their translation into
 * mesh requests. The schemas are loose on purpose: real clients (OpenClaw,
 * the official SDKs) send many fields the mesh does not use (`n`, `seed`,
 * `user`, `metadata`, `logprobs`, `response_format`, ...); those are
 * accepted and ignored. Only the fields the mesh passes on are checked, and
 * a bad one is a 400 that names it. Optional fields may be `null`, as the
 * OpenAI API allows.
 */
import { z } from 'zod'
import type { ChatMessage, ChatRequest, ToolCall, ToolChoice, ToolDefinition } from '../llm/types.js'
import type { MeshChatRequest, MeshEmbedRequest } from '../routing/mesh.js'
import { HttpError } from './http-error.js'

const Content = z.union([z.string(), z.array(z.looseObject({ type: z.string() }))], {
  error: 'expected a string or an array of content parts',
})

const MessageToolCall = z.looseObject({
  id: z.string(),
  type: z.literal('function').optional(),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
})

const Message = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: Content.nullish(),
  tool_calls: z.array(MessageToolCall).nullish(),
  tool_call_id: z.string().nullish(),
})

const Tool = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({
    name: z.string().min(1),
    description: z.string().nullish(),
    parameters: z.record(z.string(), z.unknown()).nullish(),
  }),
})

const ToolChoiceBody = z.union(
  [
    z.enum(['auto', 'none', 'required']),
    z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string() }) }),
  ],
  { error: 'expected "auto", "none", "required" or {type: "function", function: {name}}' },
)

/** `POST /v1/chat/completions` body: the used fields checked, every other field accepted. */
export const ChatCompletionBody = z.looseObject({
  /** `BACKEND`, `BACKEND/MODEL` or a model of the soul's default backend; empty or absent: the soul's default. */
  model: z.string().nullish(),
  messages: z.array(Message).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  tools: z.array(Tool).nullish(),
  tool_choice: ToolChoiceBody.nullish(),
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  stop: z
    .union([z.string(), z.array(z.string())], { error: 'expected a string or an array of strings' })
    .nullish(),
})
/** A validated chat completion body. */
export type ChatCompletionBody = z.infer<typeof ChatCompletionBody>

/** `POST /v1/embeddings` body. */
export const EmbeddingsBody = z.looseObject({
  model: z.string().nullish(),
  input: z.unknown(),
  encoding_format: z.enum(['float', 'base64']).nullish(),
})
/** A validated embeddings body. */
export type EmbeddingsBody = z.infer<typeof EmbeddingsBody>

/** Parses `body` with `schema`, or throws a 400 naming the first bad fields. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body)
  if (result.success) return result.data
  const problems = result.error.issues.slice(0, 3).map((issue) => {
    const field = fieldPath(issue.path)
    return field === '' ? issue.message : `${field}: ${issue.message}`
  })
  throw new HttpError(400, 'BAD_REQUEST', `invalid request: ${problems.join('; ')}`)
}

/** `messages.0.content` → `messages[0].content`. */
function fieldPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`
    else out += out === '' ? String(key) : `.${String(key)}`
  }
  return out
}

function badField(field: string, message: string): HttpError {
  return new HttpError(400, 'BAD_REQUEST', `invalid request: ${field}: ${message}`)
}

/** Text of a message's content: a string, or its text parts joined by newlines. */
function contentText(content: z.infer<typeof Content> | null | undefined, field: string): string {
  if (content === null || content === undefined) return ''
  if (typeof content === 'string') return content
  const texts: string[] = []
  content.forEach((part, index) => {
    const text = part.type === 'text' ? part.text : part.type === 'refusal' ? part.refusal : undefined
    if (part.type !== 'text' && part.type !== 'refusal')
      throw badField(
        `${field}[${index}].type`,
        `content parts of type "${part.type}" are not supported (text only)`,
      )
    if (typeof text !== 'string') throw badField(`${field}[${index}].${part.type}`, 'expected a string')
    texts.push(text)
  })
  return texts.join('\n')
}

function toMessage(message: z.infer<typeof Message>, index: number): ChatMessage {
  const field = `messages[${index}]`
  const content = contentText(message.content, `${field}.content`)
  switch (message.role) {
    case 'system':
    case 'developer':
      return { role: 'system', content }
    case 'user':
      return { role: 'user', content }
    case 'assistant': {
      const toolCalls: ToolCall[] = (message.tool_calls ?? []).map((call) => ({
        id: call.id,
        name: call.function.name,
        arguments: call.function.arguments,
      }))
      return toolCalls.length === 0
        ? { role: 'assistant', content }
        : { role: 'assistant', content, toolCalls }
    }
    case 'tool': {
      if (typeof message.tool_call_id !== 'string')
        throw badField(`${field}.tool_call_id`, 'required for a message of role "tool"')
      return { role: 'tool', toolCallId: message.tool_call_id, content }
    }
  }
}

function toTool(tool: z.infer<typeof Tool>): ToolDefinition {
  const definition: ToolDefinition = {
    name: tool.function.name,
    // OpenAI treats absent parameters as a function without arguments.
    parameters: tool.function.parameters ?? { type: 'object', properties: {} },
  }
  if (typeof tool.function.description === 'string') definition.description = tool.function.description
  return definition
}

function toToolChoice(choice: z.infer<typeof ToolChoiceBody>): ToolChoice {
  return typeof choice === 'string' ? choice : { name: choice.function.name }
}

/** Translates a validated chat body into the mesh's request for `soul`. */
export function toMeshChatRequest(soul: string, body: ChatCompletionBody): MeshChatRequest {
  const request: Omit<ChatRequest, 'model'> = { messages: body.messages.map(toMessage) }
  if (body.tools !== null && body.tools !== undefined && body.tools.length > 0)
    request.tools = body.tools.map(toTool)
  if (body.tool_choice !== null && body.tool_choice !== undefined)
    request.toolChoice = toToolChoice(body.tool_choice)
  if (typeof body.temperature === 'number') request.temperature = body.temperature
  if (typeof body.top_p === 'number') request.topP = body.top_p
  const maxTokens = body.max_completion_tokens ?? body.max_tokens
  if (typeof maxTokens === 'number') request.maxTokens = maxTokens
  if (typeof body.stop === 'string') request.stop = [body.stop]
  else if (Array.isArray(body.stop) && body.stop.length > 0) request.stop = body.stop
  return { soul, model: body.model ?? '', request }
}

/** Translates a validated embeddings body into the mesh's request for `soul`. */
export function toMeshEmbedRequest(soul: string, body: EmbeddingsBody): MeshEmbedRequest {
  const { input } = body
  let texts: string[]
  if (typeof input === 'string') texts = [input]
  else if (Array.isArray(input) && input.every((item) => typeof item === 'string')) texts = input
  else if (Array.isArray(input) && input.every((item) => typeof item === 'number' || Array.isArray(item)))
    throw new HttpError(
      400,
      'UNSUPPORTED_INPUT',
      'invalid request: input: token arrays are not supported; send a string or an array of strings',
    )
  else throw badField('input', 'expected a string or an array of strings')
  if (texts.length === 0) throw badField('input', 'must not be empty')
  return { soul, model: body.model ?? '', input: texts }
}
