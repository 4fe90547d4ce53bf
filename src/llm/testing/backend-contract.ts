/**
 * The `LLMBackend` contract suite: every backend (built-in or custom) runs it from its own
 * `*.test.ts` against its fake server. It lives under `testing/` so the build leaves it (and
 * vitest) out of `dist`.
 */
import { inspect } from 'node:util'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BackendError, type BackendErrorCode } from '../errors.js'
import type { ChatPart, ChatRequest, LLMBackend } from '../types.js'
import { type FakeProvider, type FakeScript, fakeEmbedding, type RecordedRequest } from './fake-provider.js'

/** How the contract suite reaches one backend implementation. */
export interface BackendContractTarget {
  /** Label of the describe block. */
  name: string
  /** Starts this backend's fake server. */
  startFake(script?: FakeScript): Promise<FakeProvider>
  /** Builds the backend against `fake.url` with this key and inactivity timeout. */
  create(fake: FakeProvider, options: { apiKey: string; timeoutMs: number }): LLMBackend
  /** Model to chat with. */
  chatModel: string
  /** Model to embed with; `undefined` means the backend must refuse with BACKEND_UNSUPPORTED. */
  embedModel: string | undefined
  /** Script that makes the fake list these models, and what `models()` must then return. */
  models: { script: string[]; expected: string[] }
  /** Checks the credentials on a request the fake received. */
  assertAuth(request: RecordedRequest, apiKey: string): void
}

const apiKey = 'sk-contract-SECRET-4f2a9c'
const timeoutMs = 300

/** Collects every part, or the error that ended the stream, with the parts before it. */
export async function collect(
  stream: AsyncIterable<ChatPart>,
): Promise<{ parts: ChatPart[]; error: BackendError | undefined }> {
  const parts: ChatPart[] = []
  try {
    for await (const part of stream) parts.push(part)
    return { parts, error: undefined }
  } catch (error) {
    if (error instanceof BackendError) return { parts, error }
    throw error
  }
}

/** Concatenates the text deltas. */
export function textOf(parts: ChatPart[]): string {
  return parts.map((part) => (part.type === 'text-delta' ? part.text : '')).join('')
}

const request = (model: string): ChatRequest => ({
  model,
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'What is the weather in Paris?' },
  ],
  tools: [
    {
      name: 'get_weather',
      description: 'Current weather',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  ],
  temperature: 0.2,
  maxTokens: 100,
})

function expectBackendError(error: unknown, code: BackendErrorCode): asserts error is BackendError {
  expect(error).toBeInstanceOf(BackendError)
  expect((error as BackendError).name).toBe('BackendError')
  expect((error as BackendError).code).toBe(code)
}

/** Registers the whole contract suite for one backend. */
export function runBackendContract(target: BackendContractTarget): void {
  describe(`LLMBackend contract: ${target.name}`, () => {
    let fake: FakeProvider
    let backend: LLMBackend

    beforeEach(async () => {
      fake = await target.startFake()
      backend = target.create(fake, { apiKey, timeoutMs })
    })
    afterEach(async () => {
      await backend.close?.()
      await fake.close()
    })

    it('streams the scripted text in order, then usage and end', async () => {
      const tokens = ['The', ' sky', ' is', ' clear', ' today', '.']
      fake.script = { tokens, usage: { inputTokens: 42, outputTokens: 6 } }
      const { parts, error } = await collect(backend.chat(request(target.chatModel)))
      expect(error).toBeUndefined()
      expect(parts.filter((part) => part.type === 'text-delta').map((part) => part.text)).toEqual(tokens)
      expect(parts.find((part) => part.type === 'usage')).toEqual({
        type: 'usage',
        usage: { inputTokens: 42, outputTokens: 6 },
      })
      expect(parts.at(-1)).toEqual({ type: 'end', finishReason: 'stop' })
      expect(parts.filter((part) => part.type === 'end')).toHaveLength(1)
      const received = fake.requests.at(-1)
      expect(received?.method).toBe('POST')
      expect(JSON.stringify(received?.body)).toContain('What is the weather in Paris?')
      // The model travels in the body (most providers) or the path (Gemini).
      expect(`${received?.path} ${JSON.stringify(received?.body)}`).toContain(target.chatModel)
      target.assertAuth(received!, apiKey)
    })

    it('streams tool calls whose deltas assemble to the scripted calls', async () => {
      const toolCalls = [
        {
          id: 'call_paris_1',
          name: 'get_weather',
          arguments: '{"city":"Paris","unit":"celsius"}',
          chunks: 4,
        },
        { id: 'call_rome_2', name: 'get_weather', arguments: '{"city":"Rome"}', chunks: 2 },
      ]
      fake.script = { tokens: ['Checking.'], toolCalls }
      const { parts, error } = await collect(backend.chat(request(target.chatModel)))
      expect(error).toBeUndefined()
      expect(JSON.stringify(fake.requests.at(-1)?.body)).toContain('get_weather')
      const assembled = new Map<number, { id: string; name: string; arguments: string }>()
      for (const part of parts) {
        if (part.type !== 'tool-call-delta') continue
        const call = assembled.get(part.index) ?? { id: '', name: '', arguments: '' }
        if (part.id) call.id = part.id
        if (part.name) call.name += part.name
        call.arguments += part.argumentsDelta
        assembled.set(part.index, call)
      }
      const complete = parts.filter((part) => part.type === 'tool-call')
      expect(complete).toHaveLength(2)
      for (const [index, scripted] of toolCalls.entries()) {
        const delta = assembled.get(index)
        expect(delta?.id).toBe(scripted.id)
        expect(delta?.name).toBe(scripted.name)
        expect(JSON.parse(delta?.arguments ?? 'null')).toEqual(JSON.parse(scripted.arguments))
        const call = complete.find((part) => part.index === index)
        expect(call).toMatchObject({ id: scripted.id, name: scripted.name })
        expect(JSON.parse(call?.arguments ?? 'null')).toEqual(JSON.parse(scripted.arguments))
      }
      expect(parts.at(-1)).toEqual({ type: 'end', finishReason: 'tool-calls' })
    })

    if (target.embedModel !== undefined) {
      const embedModel = target.embedModel
      it('embeds every input, in order', async () => {
        fake.script = { embeddingDimensions: 5 }
        const input = ['alpha', 'a much longer second text', 'γ']
        const response = await backend.embed({ model: embedModel, input })
        expect(response.embeddings).toEqual(input.map((text) => fakeEmbedding(text, 5)))
      })
    } else {
      it('refuses embeddings with BACKEND_UNSUPPORTED', async () => {
        const error = await backend.embed({ model: target.chatModel, input: ['x'] }).catch((caught) => caught)
        expectBackendError(error, 'BACKEND_UNSUPPORTED')
        expect(error.retryable).toBe(false)
        expect(error.message).toMatch(/not supported/)
      })
    }

    it.each([
      [400, 'BACKEND_BAD_REQUEST', false],
      [401, 'BACKEND_UNAUTHORIZED', false],
      [403, 'BACKEND_UNAUTHORIZED', false],
      [404, 'BACKEND_MODEL_NOT_FOUND', false],
      [500, 'BACKEND_UNAVAILABLE', true],
      [503, 'BACKEND_UNAVAILABLE', true],
    ] as const)('maps HTTP %i to %s (retryable: %s)', async (status, code, retryable) => {
      fake.script = { error: { status, message: `scripted failure ${status}` } }
      const { parts, error } = await collect(backend.chat(request(target.chatModel)))
      expect(parts).toEqual([])
      expectBackendError(error, code)
      expect(error.statusCode).toBe(status)
      expect(error.retryable).toBe(retryable)
      expect(error.message).toContain(`scripted failure ${status}`)
    })

    it('maps 429 with retry-after to a retryable BACKEND_RATE_LIMITED', async () => {
      fake.script = { error: { status: 429, message: 'slow down', headers: { 'retry-after': '7' } } }
      const { error } = await collect(backend.chat(request(target.chatModel)))
      expectBackendError(error, 'BACKEND_RATE_LIMITED')
      expect(error.statusCode).toBe(429)
      expect(error.retryable).toBe(true)
      expect(error.retryAfterSeconds).toBe(7)
      expect(fake.requests).toHaveLength(1) // no SDK-internal retry
    })

    it('turns an error sent inside the stream into a retryable BackendError after the text', async () => {
      fake.script = { tokens: ['partial'], streamError: { status: 503, message: 'overloaded mid-stream' } }
      const { parts, error } = await collect(backend.chat(request(target.chatModel)))
      expect(textOf(parts)).toBe('partial')
      expectBackendError(error, 'BACKEND_UNAVAILABLE')
      expect(error.retryable).toBe(true)
      expect(error.message).toContain('overloaded mid-stream')
      expect(parts.some((part) => part.type === 'end')).toBe(false)
    })

    it('times out a server that stalls before the first byte', async () => {
      fake.script = { stallBeforeFirstByte: true }
      const started = performance.now()
      const { parts, error } = await collect(backend.chat(request(target.chatModel)))
      const elapsed = performance.now() - started
      expect(parts).toEqual([])
      expectBackendError(error, 'BACKEND_TIMEOUT')
      expect(error.retryable).toBe(true)
      expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 20)
      expect(elapsed).toBeLessThan(timeoutMs + 700)
      await fake.waitForClosedEarly(1)
    })

    it('times out a stream that stalls midway', async () => {
      fake.script = { tokens: ['one', ' two', ' three', ' four'], stallAfterTokens: 2 }
      const { parts, error } = await collect(backend.chat(request(target.chatModel)))
      expect(textOf(parts)).toBe('one two')
      expectBackendError(error, 'BACKEND_TIMEOUT')
      await fake.waitForClosedEarly(1)
    })

    it('fails a stream cut mid-way with a BackendError, not a short success', async () => {
      fake.script = { tokens: ['one', ' two', ' three', ' four'], cutAfterTokens: 2 }
      const { parts, error } = await collect(backend.chat(request(target.chatModel)))
      expect(textOf(parts)).toBe('one two')
      expect(error).toBeInstanceOf(BackendError)
      expect(error?.retryable).toBe(true)
      expect(parts.some((part) => part.type === 'end')).toBe(false)
    })

    it('ends with BACKEND_ABORTED promptly on abort, and the server sees the connection close', async () => {
      fake.script = { tokens: Array.from({ length: 40 }, (_, index) => `t${index} `), tokenDelayMs: 25 }
      const controller = new AbortController()
      const parts: ChatPart[] = []
      let abortedAt = 0
      const error = await (async () => {
        for await (const part of backend.chat(request(target.chatModel), { signal: controller.signal })) {
          parts.push(part)
          if (parts.length === 2) {
            abortedAt = performance.now()
            controller.abort()
          }
        }
      })().catch((caught) => caught)
      expect(performance.now() - abortedAt).toBeLessThan(100)
      expectBackendError(error, 'BACKEND_ABORTED')
      expect(error.retryable).toBe(false)
      expect(parts.length).toBeLessThan(5)
      await fake.waitForClosedEarly(1, 1000)
    })

    it('does not call the provider when the signal is already aborted', async () => {
      const { error } = await collect(
        backend.chat(request(target.chatModel), { signal: AbortSignal.abort() }),
      )
      expectBackendError(error, 'BACKEND_ABORTED')
      expect(fake.requests.filter((received) => received.method === 'POST')).toHaveLength(0)
    })

    it('closes the provider connection when the consumer stops reading', async () => {
      fake.script = { tokens: Array.from({ length: 40 }, (_, index) => `t${index} `), tokenDelayMs: 10 }
      for await (const part of backend.chat(request(target.chatModel))) if (part.type === 'text-delta') break
      await fake.waitForClosedEarly(1, 1000)
    })

    it('reports health ok, then failing on a server error and on a dead server', async () => {
      const healthy = await backend.health()
      expect(healthy.ok).toBe(true)
      expect(healthy.latencyMs).toBeGreaterThanOrEqual(0)
      fake.script = { error: { status: 500, message: 'down for maintenance' } }
      const failing = await backend.health()
      expect(failing.ok).toBe(false)
      expect(failing.error).toContain('down for maintenance')
      await fake.close()
      const dead = await backend.health()
      expect(dead.ok).toBe(false)
      fake = await target.startFake() // afterEach closes it
    })

    it('lists models', async () => {
      fake.script = { models: target.models.script }
      expect(await backend.models()).toEqual(target.models.expected)
    })

    it('never exposes the API key in errors, health or serialisation', async () => {
      const echo = `Incorrect API key provided: ${apiKey}`
      fake.script = { error: { status: 401, message: echo } }
      const { error } = await collect(backend.chat(request(target.chatModel)))
      expectBackendError(error, 'BACKEND_UNAUTHORIZED')
      const health = await backend.health()
      const exposed = [
        error.message,
        String(error),
        error.stack ?? '',
        JSON.stringify(error),
        JSON.stringify(backend),
        JSON.stringify(health),
        inspect(backend, { depth: 6 }),
        inspect(error, { depth: 6 }),
      ]
      for (const text of exposed) expect(text).not.toContain(apiKey)
      expect(error.message).toContain('[redacted]')
    })
  })
}
