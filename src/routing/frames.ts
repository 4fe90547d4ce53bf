/**
 * Frames of `/clawmesh/llm/1.0.0`: JSON inside unsigned-varint length-prefixed
 * frames, validated with zod on receipt. A stream carries one request frame
 * and its reply at a time; after the reply's final frame (`parts` holding
 * `end`, `embedding`, or `error`) the stream may carry the next request (see
 * docs/routing.md, "Keep-alive"). Unknown keys are dropped, so a later 1.x
 * may add optional fields.
 */
import { encode } from 'it-length-prefixed'
import type { Uint8ArrayList } from 'uint8arraylist'
import { z } from 'zod'
import { TrustLevel } from '../config/schema.js'
import type { ChatPart, ChatRequest, EmbedRequest, EmbedResponse } from '../llm/types.js'
import { FrameError } from './errors.js'

/** Bounds on request contents; the whole frame is bounded by `maxFrameBytes` as well. */
export const frameBounds = {
  messages: 4096,
  tools: 512,
  toolCalls: 512,
  stop: 16,
  embedInputs: 4096,
  partsPerFrame: 4096,
  name: 256,
  errorMessage: 4096,
} as const

const name = z.string().min(1).max(frameBounds.name)
const text = z.string()
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)

const ToolDefinition = z.object({
  name,
  description: text.exactOptional(),
  parameters: z.record(z.string(), z.unknown()),
})

const ToolCall = z.object({ id: name, name, arguments: text })

const ChatMessage = z.discriminatedUnion('role', [
  z.object({ role: z.literal('system'), content: text }),
  z.object({ role: z.literal('user'), content: text }),
  z.object({
    role: z.literal('assistant'),
    content: text,
    toolCalls: z.array(ToolCall).max(frameBounds.toolCalls).exactOptional(),
  }),
  z.object({ role: z.literal('tool'), toolCallId: name, content: text, name: name.exactOptional() }),
])

const ToolChoice = z.union([z.enum(['auto', 'none', 'required']), z.object({ name })])

/** A provider-neutral chat request (`ChatRequest` of src/llm/types.ts). */
export const ChatRequestSchema = z.object({
  model: name,
  messages: z.array(ChatMessage).min(1).max(frameBounds.messages),
  tools: z.array(ToolDefinition).max(frameBounds.tools).exactOptional(),
  toolChoice: ToolChoice.exactOptional(),
  temperature: z.number().min(0).max(2).exactOptional(),
  topP: z.number().min(0).max(1).exactOptional(),
  maxTokens: z.number().int().positive().max(10_000_000).exactOptional(),
  stop: z.array(z.string().max(frameBounds.name)).max(frameBounds.stop).exactOptional(),
})

/** An embeddings request (`EmbedRequest`). */
export const EmbedRequestSchema = z.object({
  model: name,
  input: z.array(text).min(1).max(frameBounds.embedInputs),
})

/** One streamed part (`ChatPart`). */
export const ChatPartSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text-delta'), text }),
  z.object({
    type: z.literal('tool-call-delta'),
    index: count,
    id: name.exactOptional(),
    name: name.exactOptional(),
    argumentsDelta: text,
  }),
  z.object({ type: z.literal('tool-call'), index: count, id: name, name, arguments: text }),
  z.object({ type: z.literal('usage'), usage: z.object({ inputTokens: count, outputTokens: count }) }),
  z.object({
    type: z.literal('end'),
    finishReason: z.enum(['stop', 'length', 'tool-calls', 'content-filter', 'other']),
  }),
])

const EmbedResponseSchema = z.object({
  embeddings: z.array(z.array(z.number())).max(frameBounds.embedInputs),
  usage: z.object({ inputTokens: count }).exactOptional(),
})

const soulName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/, 'expected a soul name')
const backendName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/, 'expected a backend name')

/** `chat`: stream a reply of `backend` for `soul`, whose data is of `sensitivity`. */
export const ChatFrameSchema = z.object({
  type: z.literal('chat'),
  /** Caller's request ID, for logs on both ends. */
  id: z.string().min(1).max(128).exactOptional(),
  soul: soulName,
  sensitivity: TrustLevel,
  backend: backendName,
  request: ChatRequestSchema,
})

/** `embed`: embed `request.input` with `backend` for `soul`. */
export const EmbedFrameSchema = z.object({
  type: z.literal('embed'),
  id: z.string().min(1).max(128).exactOptional(),
  soul: soulName,
  sensitivity: TrustLevel,
  backend: backendName,
  request: EmbedRequestSchema,
})

/** Any request frame (caller → owner). */
export const RequestFrameSchema = z.discriminatedUnion('type', [ChatFrameSchema, EmbedFrameSchema])

/** Stable codes of `error` frames sent by the owner itself (backends add their `BACKEND_*` codes). */
export const protocolErrorCodes = [
  'TRUST_SENSITIVITY',
  'TRUST_MIN_TRUST',
  'UNKNOWN_BACKEND',
  'BAD_FRAME',
  'FRAME_TOO_LARGE',
  'TOO_MANY_STREAMS',
  'REQUEST_TIMEOUT',
  'IDLE_TIMEOUT',
  'RATE_LIMITED',
  'SHUTTING_DOWN',
  'INTERNAL',
] as const
/** A code of `protocolErrorCodes`. */
export type ProtocolErrorCode = (typeof protocolErrorCodes)[number]

/** Owner → caller frames. */
export const ResponseFrameSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('parts'),
    parts: z.array(ChatPartSchema).min(1).max(frameBounds.partsPerFrame),
  }),
  z.object({ type: z.literal('embedding'), response: EmbedResponseSchema }),
  z.object({
    type: z.literal('error'),
    code: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/),
    message: z.string().max(frameBounds.errorMessage),
    retryable: z.boolean(),
    /** How long the caller should wait before trying this owner again (rate limits). */
    retryAfterMs: z.number().int().min(0).max(86_400_000).optional(),
  }),
])

/** A `chat` request frame. */
export type ChatFrame = {
  type: 'chat'
  id?: string
  soul: string
  sensitivity: TrustLevel
  backend: string
  request: ChatRequest
}
/** An `embed` request frame. */
export type EmbedFrame = {
  type: 'embed'
  id?: string
  soul: string
  sensitivity: TrustLevel
  backend: string
  request: EmbedRequest
}
/** Any request frame. */
export type RequestFrame = ChatFrame | EmbedFrame
/** Any response frame. */
export type ResponseFrame =
  | { type: 'parts'; parts: ChatPart[] }
  | { type: 'embedding'; response: EmbedResponse }
  | { type: 'error'; code: string; message: string; retryable: boolean; retryAfterMs?: number | undefined }

// The wire schemas and the LLMBackend contract must describe the same shapes.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const sameShapes: [
  Same<z.infer<typeof RequestFrameSchema>, RequestFrame>,
  Same<z.infer<typeof ResponseFrameSchema>, ResponseFrame>,
] = [true, true]
void sameShapes

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** JSON-encodes `frame` and prefixes its length; throws `FrameError` FRAME_TOO_LARGE past `maxFrameBytes`. */
export function encodeFrame(frame: RequestFrame | ResponseFrame, maxFrameBytes: number): Uint8ArrayList {
  const body = encoder.encode(JSON.stringify(frame))
  if (body.byteLength > maxFrameBytes) {
    throw new FrameError('FRAME_TOO_LARGE', `frame of ${body.byteLength} bytes exceeds ${maxFrameBytes}`)
  }
  return encode.single(body, { maxDataLength: maxFrameBytes })
}

function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(body))
  } catch {
    throw new FrameError('BAD_FRAME', 'frame is not UTF-8 JSON')
  }
}

function describe(error: z.ZodError): string {
  const issue = error.issues[0]
  return issue ? `${issue.path.join('.') || '(frame)'}: ${issue.message}` : 'invalid frame'
}

/** Parses and validates a request frame body; throws `FrameError` BAD_FRAME naming the first problem. */
export function parseRequestFrame(body: Uint8Array): RequestFrame {
  const result = RequestFrameSchema.safeParse(parseJson(body))
  if (!result.success) throw new FrameError('BAD_FRAME', `invalid request frame: ${describe(result.error)}`)
  return result.data
}

/** Parses and validates a response frame body; throws `FrameError` BAD_FRAME naming the first problem. */
export function parseResponseFrame(body: Uint8Array): ResponseFrame {
  const result = ResponseFrameSchema.safeParse(parseJson(body))
  if (!result.success) throw new FrameError('BAD_FRAME', `invalid response frame: ${describe(result.error)}`)
  return result.data
}
