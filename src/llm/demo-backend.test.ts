import { describe, expect, it } from 'vitest'
import { DEMO_EMBEDDING_DIMENSIONS, DEMO_MODEL, DemoBackend, demoEmbedding } from './demo-backend.js'
import { BackendError } from './errors.js'
import type { ChatPart } from './types.js'

async function collect(stream: AsyncIterable<ChatPart>): Promise<ChatPart[]> {
  const parts: ChatPart[] = []
  for await (const part of stream) parts.push(part)
  return parts
}

describe('DemoBackend', () => {
  it('streams a labelled echo of the last user message word by word, then usage and end', async () => {
    const backend = new DemoBackend({ host: 'vps-fast', tokenDelayMs: 1 })
    const parts = await collect(
      backend.chat({
        model: DEMO_MODEL,
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'first' },
          { role: 'assistant', content: 'ok' },
          { role: 'user', content: 'hello mesh' },
        ],
        tools: [{ name: 'ignored', parameters: { type: 'object' } }],
      }),
    )
    const deltas = parts.filter((part) => part.type === 'text-delta')
    expect(deltas.length).toBeGreaterThan(5)
    expect(deltas.map((part) => part.text).join('')).toBe('[demo backend on vps-fast] You said: hello mesh')
    expect(parts.at(-2)).toEqual({ type: 'usage', usage: { inputTokens: 6, outputTokens: deltas.length } })
    expect(parts.at(-1)).toEqual({ type: 'end', finishReason: 'stop' })
    expect(backend.type).toBe('demo')
  })

  it('takes "" as its default model and refuses other models with BACKEND_MODEL_NOT_FOUND', async () => {
    const backend = new DemoBackend({ tokenDelayMs: 0 })
    expect(
      (await collect(backend.chat({ model: '', messages: [{ role: 'user', content: 'x' }] }))).at(-1),
    ).toEqual({ type: 'end', finishReason: 'stop' })
    const failure = await collect(backend.chat({ model: 'gpt-4', messages: [] })).catch(
      (error: unknown) => error,
    )
    expect(failure).toBeInstanceOf(BackendError)
    expect((failure as BackendError).code).toBe('BACKEND_MODEL_NOT_FOUND')
  })

  it('stops with BACKEND_ABORTED when the caller aborts mid-stream', async () => {
    const backend = new DemoBackend({ tokenDelayMs: 20 })
    const controller = new AbortController()
    const seen: ChatPart[] = []
    const failure = await (async () => {
      for await (const part of backend.chat(
        { model: DEMO_MODEL, messages: [{ role: 'user', content: 'a long prompt to echo back' }] },
        { signal: controller.signal },
      )) {
        seen.push(part)
        controller.abort()
      }
    })().catch((error: unknown) => error)
    expect(seen).toHaveLength(1)
    expect((failure as BackendError).code).toBe('BACKEND_ABORTED')
  })

  it('honours maxTokens with finishReason length', async () => {
    const backend = new DemoBackend({ tokenDelayMs: 0 })
    const parts = await collect(
      backend.chat({ model: DEMO_MODEL, messages: [{ role: 'user', content: 'hi' }], maxTokens: 2 }),
    )
    expect(parts.filter((part) => part.type === 'text-delta')).toHaveLength(2)
    expect(parts.at(-1)).toEqual({ type: 'end', finishReason: 'length' })
  })

  it('embeds deterministically (same text, same unit vector; different texts differ), and is healthy', async () => {
    const backend = new DemoBackend()
    const { embeddings } = await backend.embed({ model: DEMO_MODEL, input: ['alpha', 'beta', 'alpha'] })
    expect(embeddings).toHaveLength(3)
    expect(embeddings[0]).toEqual(embeddings[2])
    expect(embeddings[0]).not.toEqual(embeddings[1])
    expect(embeddings[0]).toHaveLength(DEMO_EMBEDDING_DIMENSIONS)
    expect(Math.hypot(...(embeddings[1] ?? []))).toBeCloseTo(1, 4)
    expect(demoEmbedding('alpha')).toEqual(embeddings[0])
    expect(await backend.health()).toEqual({ ok: true, latencyMs: 0 })
    expect(await backend.models()).toEqual([DEMO_MODEL])
  })
})
