import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { BackendError } from './errors.js'
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

  it('reads a stream that arrives in one write with CRLF line ends, and names a chunk that is not JSON', async () => {
    const chunk = (content: string) =>
      `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\r\n\r\n`
    let body = ''
    let status = 200
    let endless = false
    const server = createServer((_request, response) => {
      response.writeHead(status, { 'content-type': status === 200 ? 'text/event-stream' : 'text/html' })
      if (!endless) {
        response.end(body)
        return
      }
      // An error page that never ends.
      const timer = setInterval(() => response.write('x'.repeat(16 * 1024)), 5)
      response.on('close', () => clearInterval(timer))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
    const backend = new OpenAICompatibleBackend({ name: 'llamacpp', url })
    const run = async () => {
      const texts: string[] = []
      try {
        for await (const part of backend.chat({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }))
          if (part.type === 'text-delta') texts.push(part.text)
        return { texts }
      } catch (error) {
        return { texts, error }
      }
    }
    try {
      const tokens = Array.from({ length: 500 }, (_, index) => `t${index} `)
      const finish = `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\r\n\r\n`
      body = `${tokens.map(chunk).join('')}${finish}data: [DONE]\r\n\r\n`
      expect(await run()).toEqual({ texts: tokens })

      body = `${chunk('ok')}data: {not json\n\n`
      const { texts, error } = await run()
      expect(texts).toEqual(['ok'])
      expect(error).toBeInstanceOf(BackendError)
      expect((error as BackendError).code).toBe('BACKEND_PROTOCOL')
      expect((error as BackendError).message).toBe('llamacpp: a stream event is not JSON')

      // A reverse proxy's HTML error page: the status decides the code, the text is kept.
      status = 502
      body = '<html><body>502 Bad Gateway</body></html>'
      const failed = await run()
      expect(failed.texts).toEqual([])
      expect(failed.error).toBeInstanceOf(BackendError)
      expect((failed.error as BackendError).code).toBe('BACKEND_UNAVAILABLE')
      expect((failed.error as BackendError).statusCode).toBe(502)
      expect((failed.error as BackendError).message).toContain('502 Bad Gateway')

      // A huge error page: only its first kilobyte reaches the message.
      status = 500
      body = 'E'.repeat(200_000)
      const huge = await run()
      expect((huge.error as BackendError).code).toBe('BACKEND_UNAVAILABLE')
      expect((huge.error as BackendError).message.length).toBeLessThan(1200)

      // An error page that never ends: cut after 64 KiB, not read forever.
      endless = true
      const started = Date.now()
      const cut = await run()
      expect((cut.error as BackendError).code).toBe('BACKEND_UNAVAILABLE')
      expect((cut.error as BackendError).statusCode).toBe(500)
      expect(Date.now() - started).toBeLessThan(2_000)
    } finally {
      await backend.close()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
