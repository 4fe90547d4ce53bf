import OpenAI, { APIError } from 'openai'
import { afterEach, describe, expect, it } from 'vitest'
import { runCli } from '../../test/cli-process.js'
import { type MeshFixture, startMeshFixture } from '../../test/mesh-fixture.js'
import { asSentTokens } from '../routing/testing/sent-parts.js'

const client = (apiUrl: string, soul: string): OpenAI =>
  new OpenAI({
    baseURL: `${apiUrl}/v1`,
    apiKey: 'unused',
    maxRetries: 0,
    defaultHeaders: { 'x-clawmesh-soul': soul },
  })

describe('OpenAI-compatible gateway over the mesh (official openai client, three real peers)', () => {
  let mesh: MeshFixture | undefined
  afterEach(async () => {
    await mesh?.stop()
    mesh = undefined
  })

  it('streams through vps-public to the backend owned by vps-fast, token for token; tools, non-streaming and embeddings too', async () => {
    const tokens = ['The', ' front', ' moves', ' east', ' tonight', '.']
    mesh = await startMeshFixture({ api: true, scripts: { fast: { tokens } } })
    const openai = client(mesh.peers['vps-public']!.apiUrl!, 'weather-brief')

    const stream = await openai.chat.completions.create({
      model: 'fast/gpt-fast',
      messages: [{ role: 'user', content: 'weather?' }],
      stream: true,
      stream_options: { include_usage: true },
    })
    const deltas: string[] = []
    let usage: OpenAI.CompletionUsage | undefined
    for await (const chunk of stream) {
      const content = chunk.choices[0]?.delta.content
      if (content) deltas.push(content)
      if (chunk.usage) usage = chunk.usage
    }
    // Deltas that were ready together may arrive merged; each is a run of whole tokens, in order.
    expect(asSentTokens(deltas, tokens)).toEqual(tokens)
    expect(usage?.completion_tokens).toBe(tokens.length)
    expect(
      mesh.providers.fast!.requests.filter((request) => request.path.endsWith('/chat/completions')),
    ).toHaveLength(1)

    mesh.providers.fast!.script = {
      tokens: [],
      toolCalls: [{ id: 'call_7', name: 'get_forecast', arguments: '{"city":"Lyon","days":2}', chunks: 4 }],
    }
    const completion = await openai.chat.completions.create({
      model: 'fast/gpt-fast',
      messages: [{ role: 'user', content: 'forecast' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_forecast',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
      ],
    })
    expect(completion.choices[0]?.finish_reason).toBe('tool_calls')
    expect(completion.choices[0]?.message.tool_calls?.[0]).toMatchObject({
      id: 'call_7',
      type: 'function',
      function: { name: 'get_forecast', arguments: '{"city":"Lyon","days":2}' },
    })

    const streamedTool = openai.chat.completions.stream({
      model: 'fast/gpt-fast',
      messages: [{ role: 'user', content: 'forecast' }],
      tools: [{ type: 'function', function: { name: 'get_forecast', parameters: { type: 'object' } } }],
    })
    const final = await streamedTool.finalChatCompletion()
    expect(final.choices[0]?.message.tool_calls?.[0]).toMatchObject({
      id: 'call_7',
      function: { name: 'get_forecast', arguments: '{"city":"Lyon","days":2}' },
    })

    const home = client(mesh.peers.home!.apiUrl!, 'inbox-triage')
    const embedding = await home.embeddings.create({ model: 'private/llama3', input: ['alpha', 'beta'] })
    expect(embedding.data).toHaveLength(2)
    expect(embedding.data[0]?.embedding).toHaveLength(4)
    const models = await home.models.list()
    expect(models.data.map((model) => model.id)).toEqual(['private/llama3:latest'])
  })

  it('answers with the promised statuses', async () => {
    mesh = await startMeshFixture({ api: true })
    const api = mesh.peers['vps-public']!.apiUrl!
    const post = (soul: string | undefined, body: unknown) =>
      fetch(`${api}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(soul === undefined ? {} : { 'x-clawmesh-soul': soul }),
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      })
    const ask = { model: 'fast/gpt-fast', messages: [{ role: 'user', content: 'x' }] }
    expect((await post(undefined, ask)).status).toBe(400)
    expect((await post('inbox-triage', ask)).status).toBe(403)
    expect((await post('weather-brief', '{"model": ')).status).toBe(400)
    expect((await post('weather-brief', { ...ask, model: 'fast/no-such-model' })).status).toBe(404)
    const refused = await client(mesh.peers['vps-fast']!.apiUrl!, 'escalation-router')
      .chat.completions.create({ model: 'private/llama3', messages: [{ role: 'user', content: 'x' }] })
      .catch((error: unknown) => error as APIError)
    expect(refused).toBeInstanceOf(APIError)
    expect((refused as APIError).status).toBe(403)
    expect((refused as APIError).message).toContain('min_trust')
    const dataRule = await client(mesh.peers.home!.apiUrl!, 'inbox-triage')
      .chat.completions.create({ model: 'fast/gpt-fast', messages: [{ role: 'user', content: 'private' }] })
      .catch((error: unknown) => error as APIError)
    expect((dataRule as APIError).status).toBe(403)
    expect((dataRule as APIError).message).toContain('sensitivity high')
    expect(
      mesh.providers.fast!.requests.filter((request) => request.path.endsWith('/chat/completions')),
    ).toHaveLength(0)
    // The peer keeps serving after all that.
    const ok = await post('weather-brief', ask)
    expect(ok.status).toBe(200)
  })

  it('a client that disconnects cancels the backend call on the owner; killing the owner mid-stream ends the stream with an error', async () => {
    mesh = await startMeshFixture({
      api: true,
      scripts: {
        fast: { tokens: Array.from({ length: 40 }, (_, index) => `t${index} `), tokenDelayMs: 100 },
      },
    })
    const openai = client(mesh.peers['vps-public']!.apiUrl!, 'weather-brief')
    const controller = new AbortController()
    const stream = await openai.chat.completions.create(
      { model: 'fast/gpt-fast', messages: [{ role: 'user', content: 'long' }], stream: true },
      { signal: controller.signal },
    )
    let seen = 0
    // The official client ends iteration quietly on abort; what matters is what the owner's backend sees.
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content) seen++
        if (seen === 3) {
          controller.abort()
          break
        }
      }
    } catch {
      // An abort may also surface as an error, depending on timing.
    }
    expect(seen).toBe(3)
    const abortedAt = Date.now()
    await mesh.providers.fast!.waitForClosedEarly(1, 2_000)
    expect(Date.now() - abortedAt).toBeLessThan(2_000)

    const second = await openai.chat.completions.create({
      model: 'fast/gpt-fast',
      messages: [{ role: 'user', content: 'long' }],
      stream: true,
    })
    let killedAt = 0
    const failure = await (async () => {
      for await (const chunk of second) {
        if (chunk.choices[0]?.delta.content && killedAt === 0) {
          killedAt = Date.now()
          void mesh!.peers['vps-fast']!.parts.node.stop()
        }
      }
    })().catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(Error)
    expect(Date.now() - killedAt).toBeLessThan(2_000)
  })

  it('`clawmesh chat` streams the reply through the same path', async () => {
    mesh = await startMeshFixture({ api: true, scripts: { fast: { tokens: ['Clear', ' skies'] } } })
    const run = runCli([
      'chat',
      '--api',
      mesh.peers['vps-public']!.apiUrl!,
      '--soul',
      'weather-brief',
      '--model',
      'fast/gpt-fast',
      'Weather?',
    ])
    const { code } = await run.exited
    expect(run.stderr()).toBe('')
    expect(code).toBe(0)
    expect(run.stdout().trim()).toBe('Clear skies')
  })

  it('an owner over its request rate answers 429 RATE_LIMITED with retry-after, serves again after, and passes on its provider 429', async () => {
    mesh = await startMeshFixture({
      api: true,
      only: ['vps-public', 'vps-fast'],
      scripts: { fast: { tokens: ['ok'] } },
      peerOptions: { 'vps-fast': { llmRateLimit: { requestsPerSecond: 0.5, burst: 2 } } },
    })
    const openai = client(mesh.peers['vps-public']!.apiUrl!, 'weather-brief')
    const ask = () =>
      openai.chat.completions
        .create({ model: 'fast/gpt-fast', messages: [{ role: 'user', content: 'weather?' }] })
        .then(
          (reply) => reply.choices[0]?.message.content,
          (error: unknown) => error,
        )
    // The fixture's readiness check spent nothing: the bucket is full (2). Two pass, the third is refused.
    expect(await ask()).toBe('ok')
    expect(await ask()).toBe('ok')
    const refused = await ask()
    expect(refused).toBeInstanceOf(APIError)
    expect((refused as APIError).status).toBe(429)
    expect((refused as APIError).code).toBe('RATE_LIMITED')
    expect((refused as APIError).message).toMatch(/requests\/s: retry in \d+ ms/)
    // The owner's wait reaches the client as retry-after headers (the openai client honours them).
    const waitMs = Number((refused as APIError).headers?.get('retry-after-ms'))
    expect(waitMs).toBeGreaterThan(0)
    expect(waitMs).toBeLessThanOrEqual(2_000)
    expect(Number((refused as APIError).headers?.get('retry-after'))).toBe(
      Math.max(1, Math.ceil(waitMs / 1000)),
    )
    expect(
      mesh.providers.fast!.requests.filter((request) => request.path.endsWith('/chat/completions')),
    ).toHaveLength(2)
    // One token every 2 s (slow, so a loaded machine cannot refill it between the three asks above):
    // the same caller is served again…
    await new Promise((resolve) => setTimeout(resolve, 2_200))
    expect(await ask()).toBe('ok')
    await new Promise((resolve) => setTimeout(resolve, 2_200))
    // …and when the provider itself refuses, its own retry-after crosses the mesh to the client.
    mesh.providers.fast!.script = {
      error: { status: 429, message: 'provider says slow down', headers: { 'retry-after': '7' } },
    }
    const provider = await ask()
    expect(provider).toBeInstanceOf(APIError)
    expect((provider as APIError).status).toBe(429)
    expect((provider as APIError).code).toBe('BACKEND_RATE_LIMITED')
    expect((provider as APIError).headers?.get('retry-after')).toBe('7')
    expect((provider as APIError).headers?.get('retry-after-ms')).toBe('7000')
  })
})
