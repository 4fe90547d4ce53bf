import { describe, expect, it } from 'vitest'
import { FrameError } from './errors.js'
import { encodeFrame, parseRequestFrame, parseResponseFrame, type RequestFrame } from './frames.js'

const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value))

const chat: RequestFrame = {
  type: 'chat',
  id: 'r1',
  soul: 'inbox-triage',
  sensitivity: 'high',
  backend: 'gpu',
  request: {
    model: 'llama3:latest',
    messages: [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'lookup', arguments: '{}' }] },
      { role: 'tool', toolCallId: 'c1', content: 'sunny', name: 'lookup' },
    ],
    tools: [{ name: 'lookup', parameters: { type: 'object' } }],
    toolChoice: { name: 'lookup' },
    temperature: 0.2,
    maxTokens: 100,
    stop: ['\n\n'],
  },
}

function badFrame(run: () => unknown): FrameError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(FrameError)
    return error as FrameError
  }
  throw new Error('expected a FrameError')
}

describe('frames', () => {
  it('round-trips a full chat request frame', () => {
    expect(parseRequestFrame(bytes(chat))).toEqual(chat)
  })

  it('rejects bad roles, tool calls without ids, and out-of-range fields, naming the path', () => {
    const role = badFrame(() =>
      parseRequestFrame(
        bytes({ ...chat, request: { ...chat.request, messages: [{ role: 'robot', content: 'x' }] } }),
      ),
    )
    expect(role.code).toBe('BAD_FRAME')
    expect(role.message).toContain('request.messages.0')
    const toolCall = badFrame(() =>
      parseRequestFrame(
        bytes({
          ...chat,
          request: {
            ...chat.request,
            messages: [{ role: 'assistant', content: '', toolCalls: [{ name: 'x', arguments: '' }] }],
          },
        }),
      ),
    )
    expect(toolCall.message).toContain('toolCalls')
    const temperature = badFrame(() =>
      parseRequestFrame(bytes({ ...chat, request: { ...chat.request, temperature: 9 } })),
    )
    expect(temperature.message).toContain('temperature')
    const empty = badFrame(() =>
      parseRequestFrame(bytes({ ...chat, request: { ...chat.request, messages: [] } })),
    )
    expect(empty.message).toContain('messages')
  })

  it('rejects non-JSON and unknown frame types', () => {
    expect(badFrame(() => parseRequestFrame(new Uint8Array([0xff, 0xfe]))).message).toContain('JSON')
    expect(badFrame(() => parseResponseFrame(bytes({ type: 'delta', text: 'x' }))).code).toBe('BAD_FRAME')
  })

  it('validates response frames: parts, embedding, error', () => {
    const parts = {
      type: 'parts',
      parts: [
        { type: 'text-delta', text: 'hi' },
        { type: 'end', finishReason: 'stop' },
      ],
    }
    expect(parseResponseFrame(bytes(parts))).toEqual(parts)
    expect(parseResponseFrame(bytes({ type: 'embedding', response: { embeddings: [[1, 2]] } })).type).toBe(
      'embedding',
    )
    const error = { type: 'error', code: 'TRUST_SENSITIVITY', message: 'no', retryable: false }
    expect(parseResponseFrame(bytes(error))).toEqual(error)
    expect(badFrame(() => parseResponseFrame(bytes({ ...error, code: 'lower case' }))).code).toBe('BAD_FRAME')
    const limited = {
      type: 'error',
      code: 'RATE_LIMITED',
      message: 'slow',
      retryable: true,
      retryAfterMs: 250,
    }
    expect(parseResponseFrame(bytes(limited))).toEqual(limited)
    expect(badFrame(() => parseResponseFrame(bytes({ ...limited, retryAfterMs: -1 }))).code).toBe('BAD_FRAME')
    expect(badFrame(() => parseResponseFrame(bytes({ ...limited, retryAfterMs: 1e12 }))).code).toBe(
      'BAD_FRAME',
    )
    expect(badFrame(() => parseResponseFrame(bytes({ type: 'parts', parts: [] }))).code).toBe('BAD_FRAME')
  })

  it('refuses to encode a frame over the size limit', () => {
    expect(encodeFrame(chat, 4096).byteLength).toBeLessThan(4096)
    expect(badFrame(() => encodeFrame(chat, 100)).code).toBe('FRAME_TOO_LARGE')
  })
})
