import { describe, expect, it } from 'vitest'
import { AnthropicBackend } from './anthropic-backend.js'
import { BackendConfigError } from './errors.js'
import { runBackendContract } from './testing/backend-contract.js'
import { startFakeProvider } from './testing/start-fake-provider.js'

runBackendContract({
  name: 'anthropic',
  startFake: (script) => startFakeProvider('anthropic', script),
  create: (fake, { apiKey, timeoutMs }) =>
    new AnthropicBackend({ name: 'claude', url: fake.url, api_key: apiKey, timeout_ms: timeoutMs }),
  chatModel: 'claude-fake-1',
  embedModel: undefined,
  models: { script: ['claude-a', 'claude-b'], expected: ['claude-a', 'claude-b'] },
  assertAuth: (request, apiKey) => {
    // SDK 1.x sends the key as a bearer token; older ones used x-api-key.
    const sent = request.headers['x-api-key'] ?? request.headers.authorization?.replace(/^Bearer /, '')
    expect(sent).toBe(apiKey)
    expect(request.headers['anthropic-version']).toBeTruthy()
  },
})

describe('AnthropicBackend', () => {
  it('needs an api key', () => {
    expect(() => new AnthropicBackend({ name: 'claude' })).toThrow(BackendConfigError)
  })

  it('sends its chat request with the same auth and API version headers as the SDK sends its own', async () => {
    const fake = await startFakeProvider('anthropic', { tokens: ['a'], models: ['claude-a'] })
    const backend = new AnthropicBackend({ name: 'claude', url: fake.url, api_key: 'k-12345' })
    try {
      for await (const _part of backend.chat({ model: 'm', messages: [{ role: 'user', content: 'q' }] })) {
        // drain
      }
      expect(await backend.models()).toEqual(['claude-a']) // through the SDK
      const chat = fake.requests.find((request) => request.path.endsWith('/v1/messages'))
      const sdk = fake.requests.find((request) => request.path.includes('/v1/models'))
      for (const header of ['authorization', 'x-api-key', 'anthropic-version']) {
        expect(chat?.headers[header], header).toBe(sdk?.headers[header])
      }
      expect(chat?.headers['anthropic-version']).toBeTruthy()
    } finally {
      await backend.close()
      await fake.close()
    }
  })

  it('maps an in-stream rate_limit_error event to BACKEND_RATE_LIMITED', async () => {
    const fake = await startFakeProvider('anthropic', {
      tokens: ['a'],
      streamError: { status: 429, type: 'rate_limit_error', message: 'too fast' },
    })
    const backend = new AnthropicBackend({ name: 'claude', url: fake.url, api_key: 'k-12345' })
    try {
      const error = await (async () => {
        for await (const _part of backend.chat({ model: 'm', messages: [{ role: 'user', content: 'q' }] })) {
          // drain
        }
      })().catch((caught) => caught)
      expect(error).toMatchObject({ name: 'BackendError', code: 'BACKEND_RATE_LIMITED', retryable: true })
    } finally {
      await fake.close()
    }
  })

  it('sends system apart, tool results as one user turn, and the required max_tokens', async () => {
    const fake = await startFakeProvider('anthropic')
    const backend = new AnthropicBackend({ name: 'claude', url: fake.url, api_key: 'k-12345' })
    try {
      const stream = backend.chat({
        model: 'm',
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'q' },
          {
            role: 'assistant',
            content: '',
            toolCalls: [
              { id: 't1', name: 'f', arguments: '{"a":1}' },
              { id: 't2', name: 'f', arguments: '{"a":2}' },
            ],
          },
          { role: 'tool', toolCallId: 't1', content: 'one' },
          { role: 'tool', toolCallId: 't2', content: 'two' },
        ],
        toolChoice: 'required',
        stop: ['END'],
      })
      for await (const _part of stream) {
        // drain
      }
      expect(fake.requests[0]?.body).toMatchObject({
        system: 'be brief',
        max_tokens: 4096,
        stop_sequences: ['END'],
        tool_choice: { type: 'any' },
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'q' }] },
          {
            role: 'assistant',
            content: [
              { type: 'tool_use', id: 't1', input: { a: 1 } },
              { type: 'tool_use', id: 't2', input: { a: 2 } },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 't1', content: 'one' },
              { type: 'tool_result', tool_use_id: 't2', content: 'two' },
            ],
          },
        ],
      })
    } finally {
      await fake.close()
    }
  })
})
