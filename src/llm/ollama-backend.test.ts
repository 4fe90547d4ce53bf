import { describe, expect, it } from 'vitest'
import { OllamaBackend, ollamaDefaultUrl, withLatestTag } from './ollama-backend.js'
import { runBackendContract } from './testing/backend-contract.js'
import { startFakeProvider } from './testing/start-fake-provider.js'

runBackendContract({
  name: 'ollama',
  startFake: (script) => startFakeProvider('ollama', script),
  create: (fake, { apiKey, timeoutMs }) =>
    new OllamaBackend({ name: 'local', url: fake.url, api_key: apiKey, timeout_ms: timeoutMs }),
  chatModel: 'fake-model:latest',
  embedModel: 'fake-embed',
  models: { script: ['llama3.2:latest', 'qwen3:8b'], expected: ['llama3.2:latest', 'qwen3:8b'] },
  assertAuth: (request, apiKey) => expect(request.headers.authorization).toBe(`Bearer ${apiKey}`),
})

describe('OllamaBackend', () => {
  it('reads a model without a tag as its :latest tag', async () => {
    expect(withLatestTag('llama3.2')).toBe('llama3.2:latest')
    expect(withLatestTag('qwen3:8b')).toBe('qwen3:8b')
    expect(withLatestTag('registry.example.com:5000/team/model')).toBe(
      'registry.example.com:5000/team/model:latest',
    )
    const fake = await startFakeProvider('ollama')
    const backend = new OllamaBackend({ name: 'local', url: fake.url, models: ['llama3.2'] })
    try {
      for await (const _part of backend.chat({
        model: 'llama3.2',
        messages: [{ role: 'user', content: 'hi' }],
      })) {
        // drain
      }
      await backend.embed({ model: 'nomic-embed-text', input: ['x'] })
      expect(fake.requests.map((request) => (request.body as { model: string }).model)).toEqual([
        'llama3.2:latest',
        'nomic-embed-text:latest',
      ])
      expect(await backend.models()).toEqual(['llama3.2:latest'])
      expect(fake.requests[0]?.headers.authorization).toBeUndefined()
    } finally {
      await fake.close()
    }
  })

  it('refreshes the model list from /api/tags periodically', async () => {
    const fake = await startFakeProvider('ollama', { models: ['a:latest'] })
    const backend = new OllamaBackend({ name: 'local', url: fake.url }, { modelRefreshMs: 40 })
    try {
      expect(await backend.models()).toEqual(['a:latest'])
      fake.script = { models: ['a:latest', 'b:7b'] }
      await new Promise((done) => setTimeout(done, 120))
      const tagRequests = fake.requests.filter((request) => request.path === '/api/tags').length
      expect(tagRequests).toBeGreaterThanOrEqual(2) // the background refresh ran
      expect(await backend.models()).toEqual(['a:latest', 'b:7b'])
    } finally {
      await backend.close()
      await fake.close()
    }
  })

  it('defaults to the local Ollama address and maps Ollama options', async () => {
    expect(new OllamaBackend({ name: 'default' }).url).toBe(ollamaDefaultUrl)
    const fake = await startFakeProvider('ollama')
    const backend = new OllamaBackend({ name: 'local', url: fake.url })
    try {
      const stream = backend.chat({
        model: 'm:1',
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'f', arguments: '{"a":1}' }] },
          { role: 'tool', toolCallId: 'c1', name: 'f', content: 'result' },
        ],
        temperature: 0.5,
        topP: 0.8,
        maxTokens: 9,
        stop: ['END'],
      })
      for await (const _part of stream) {
        // drain
      }
      expect(fake.requests[0]?.body).toMatchObject({
        model: 'm:1',
        stream: true,
        options: { temperature: 0.5, top_p: 0.8, num_predict: 9, stop: ['END'] },
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', tool_calls: [{ function: { name: 'f', arguments: { a: 1 } } }] },
          { role: 'tool', tool_name: 'f', content: 'result' },
        ],
      })
    } finally {
      await fake.close()
    }
  })
})
