import { describe, expect, it } from 'vitest'
import { BackendConfigError } from './errors.js'
import { GoogleBackend } from './google-backend.js'
import { runBackendContract } from './testing/backend-contract.js'
import { startFakeProvider } from './testing/start-fake-provider.js'

runBackendContract({
  name: 'google',
  startFake: (script) => startFakeProvider('google', script),
  create: (fake, { apiKey, timeoutMs }) =>
    new GoogleBackend({ name: 'gemini', url: fake.url, api_key: apiKey, timeout_ms: timeoutMs }),
  chatModel: 'gemini-fake',
  embedModel: 'gemini-fake-embed',
  models: { script: ['gemini-a', 'gemini-b'], expected: ['gemini-a', 'gemini-b'] },
  assertAuth: (request, apiKey) => expect(request.headers['x-goog-api-key']).toBe(apiKey),
})

describe('GoogleBackend', () => {
  it('needs an api key', () => {
    expect(() => new GoogleBackend({ name: 'gemini' })).toThrow(BackendConfigError)
  })

  it('sends system instruction, model turns, function responses and generation config', async () => {
    const fake = await startFakeProvider('google')
    const backend = new GoogleBackend({ name: 'gemini', url: fake.url, api_key: 'k-12345' })
    try {
      const stream = backend.chat({
        model: 'gemini-x',
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'q' },
          { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'f', arguments: '{"a":1}' }] },
          { role: 'tool', toolCallId: 'c1', content: 'result' },
        ],
        toolChoice: { name: 'f' },
        tools: [{ name: 'f', parameters: { type: 'object' } }],
        maxTokens: 7,
        stop: ['END'],
      })
      for await (const _part of stream) {
        // drain
      }
      expect(fake.requests[0]?.path).toBe('/v1beta/models/gemini-x:streamGenerateContent?alt=sse')
      expect(fake.requests[0]?.body).toMatchObject({
        systemInstruction: { parts: [{ text: 'be brief' }] },
        generationConfig: { maxOutputTokens: 7, stopSequences: ['END'] },
        toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['f'] } },
        contents: [
          { role: 'user', parts: [{ text: 'q' }] },
          { role: 'model', parts: [{ functionCall: { id: 'c1', name: 'f', args: { a: 1 } } }] },
          {
            role: 'user',
            parts: [{ functionResponse: { id: 'c1', name: 'f', response: { result: 'result' } } }],
          },
        ],
      })
    } finally {
      await fake.close()
    }
  })
})
