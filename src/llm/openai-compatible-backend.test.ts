import { describe, expect, it } from 'vitest'
import { OpenAICompatibleBackend } from './openai-compatible-backend.js'
import { runBackendContract } from './testing/backend-contract.js'
import { startFakeProvider } from './testing/start-fake-provider.js'

runBackendContract({
  name: 'openai-compatible',
  startFake: (script) => startFakeProvider('openai', script),
  create: (fake, { apiKey, timeoutMs }) =>
    new OpenAICompatibleBackend({ name: 'vllm', url: fake.url, api_key: apiKey, timeout_ms: timeoutMs }),
  chatModel: 'fake-model',
  embedModel: 'fake-embed',
  models: { script: ['m-1', 'm-2', 'm-3'], expected: ['m-1', 'm-2', 'm-3'] },
  assertAuth: (request, apiKey) => expect(request.headers.authorization).toBe(`Bearer ${apiKey}`),
})

describe('OpenAICompatibleBackend', () => {
  it('sends no Authorization header when no key is configured, and prefers configured models', async () => {
    const fake = await startFakeProvider('openai')
    const backend = new OpenAICompatibleBackend({ name: 'llamacpp', url: fake.url, models: ['only-this'] })
    try {
      for await (const _part of backend.chat({ model: 'x', messages: [{ role: 'user', content: 'hi' }] })) {
        // drain
      }
      expect(fake.requests[0]?.headers.authorization).toBeUndefined()
      expect(await backend.models()).toEqual(['only-this'])
    } finally {
      await fake.close()
    }
  })

  it('sends the OpenAI request fields the contract carries', async () => {
    const fake = await startFakeProvider('openai')
    const backend = new OpenAICompatibleBackend({ name: 'groq', url: fake.url, api_key: 'k-1234' })
    try {
      const stream = backend.chat({
        model: 'm',
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'f', arguments: '{}' }] },
          { role: 'tool', toolCallId: 'c1', content: 'result' },
        ],
        toolChoice: { name: 'f' },
        topP: 0.9,
        stop: ['END'],
        maxTokens: 12,
      })
      for await (const _part of stream) {
        // drain
      }
      expect(fake.requests[0]?.body).toMatchObject({
        stream: true,
        stream_options: { include_usage: true },
        top_p: 0.9,
        stop: ['END'],
        max_tokens: 12,
        tool_choice: { type: 'function', function: { name: 'f' } },
        messages: [
          { role: 'user', content: 'q' },
          {
            role: 'assistant',
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
          },
          { role: 'tool', tool_call_id: 'c1', content: 'result' },
        ],
      })
    } finally {
      await fake.close()
    }
  })
})
