import { request as httpRequest } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ClawmeshError } from '../errors.js'
import type { ChatPart } from '../llm/types.js'
import type { Logger } from '../log.js'
import { RoutingError, TrustError } from '../routing/errors.js'
import { openAIRoutes, SOUL_HEADER } from './openai-gateway.js'
import { type ApiServer, startApiServer } from './server.js'
import { ScriptedMesh, type ScriptStep } from './testing/scripted-mesh.js'

const SOUL = 'inbox-triage'
const MAX_BODY = 256 * 1024

const logged: string[] = []
const log: Logger = {
  debug: () => {},
  info: () => {},
  warn: (message) => logged.push(message),
  error: (message) => logged.push(message),
  child: () => log,
}

let mesh: ScriptedMesh
let api: ApiServer
let client: OpenAI

beforeAll(async () => {
  mesh = new ScriptedMesh([SOUL])
  api = await startApiServer({
    host: '127.0.0.1',
    port: 0,
    routes: openAIRoutes({ mesh, maxBodyBytes: MAX_BODY, log }),
    log,
  })
  client = new OpenAI({
    baseURL: `${api.url}/v1`,
    apiKey: 'unused',
    defaultHeaders: { [SOUL_HEADER]: SOUL },
    maxRetries: 0,
  })
})

afterAll(async () => {
  await api.close()
})

beforeEach(() => {
  mesh.chatScript = []
  mesh.chatRequests.length = 0
  mesh.signals.length = 0
  mesh.pulled = 0
})

const textParts = (tokens: string[]): ChatPart[] => tokens.map((text) => ({ type: 'text-delta', text }))
const end = (finishReason: 'stop' | 'tool-calls' | 'length' = 'stop'): ChatPart => ({
  type: 'end',
  finishReason,
})

/** POSTs `body` (an object, or raw text) to `path` with the soul header unless `headers` override it. */
function post(path: string, body: unknown, headers: Record<string, string> = { [SOUL_HEADER]: SOUL }) {
  return fetch(`${api.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

/** An OpenAI-style error body. */
interface ErrorBody {
  error: { message: string; type: string; code: string; param: null }
}

/** The error body of a failed response. */
async function errorOf(response: Response): Promise<ErrorBody['error']> {
  return ((await response.json()) as ErrorBody).error
}

/** The `data:` payloads of an SSE body. */
function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((event) => event.startsWith('data: '))
    .map((event) => event.slice('data: '.length))
}

const chatBody = { model: 'fast/llama3', messages: [{ role: 'user' as const, content: 'hi' }] }

describe('streaming chat through the official openai client', () => {
  it('streams the text token for token, role first, finish_reason last', async () => {
    const tokens = ['Hel', 'lo', ',', ' wor', 'ld', '!', ' ünï', 'cödé 🦀']
    mesh.chatScript = [
      ...textParts(tokens),
      { type: 'usage', usage: { inputTokens: 5, outputTokens: 8 } },
      end(),
    ]
    const stream = await client.chat.completions.create({
      model: 'fast/llama3',
      messages: [
        { role: 'developer', content: 'be brief' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'say' },
            { type: 'text', text: 'hello' },
          ],
        },
      ],
      stream: true,
    })
    const chunks: OpenAI.ChatCompletionChunk[] = []
    for await (const chunk of stream) chunks.push(chunk)
    const contents = chunks.map((chunk) => chunk.choices[0]?.delta.content).filter((text) => !!text)
    expect(contents).toEqual(tokens)
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant')
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop')
    expect(chunks.every((chunk) => chunk.object === 'chat.completion.chunk')).toBe(true)
    expect(chunks.every((chunk) => chunk.model === 'fast/llama3' && chunk.id === chunks[0]?.id)).toBe(true)
    expect(chunks[0]?.id).toMatch(/^chatcmpl-/)
    // Usage is only sent when asked for.
    expect(chunks.some((chunk) => chunk.usage)).toBe(false)
    expect(mesh.chatRequests[0]).toEqual({
      soul: SOUL,
      model: 'fast/llama3',
      request: {
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'say\nhello' },
        ],
      },
    })
  })

  it('sends a usage chunk with empty choices when stream_options.include_usage is set', async () => {
    mesh.chatScript = [
      ...textParts(['a', 'b']),
      { type: 'usage', usage: { inputTokens: 11, outputTokens: 2 } },
      end(),
    ]
    const stream = await client.chat.completions.create({
      ...chatBody,
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    })
    const chunks: OpenAI.ChatCompletionChunk[] = []
    for await (const chunk of stream) chunks.push(chunk)
    const last = chunks.at(-1)
    expect(last?.choices).toEqual([])
    expect(last?.usage).toEqual({ prompt_tokens: 11, completion_tokens: 2, total_tokens: 13 })
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop')
    expect(chunks.slice(0, -1).every((chunk) => chunk.usage === null)).toBe(true)
  })

  it('streams tool calls that assemble to the scripted calls', async () => {
    mesh.chatScript = [
      { type: 'text-delta', text: 'Looking.' },
      { type: 'tool-call-delta', index: 0, id: 'call_a', name: 'search_inbox', argumentsDelta: '{"que' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: 'ry":"inv' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: 'oice"}' },
      { type: 'tool-call', index: 0, id: 'call_a', name: 'search_inbox', arguments: '{"query":"invoice"}' },
      // A backend that reports only the complete call.
      { type: 'tool-call', index: 1, id: 'call_b', name: 'archive', arguments: '{"id":7}' },
      end('tool-calls'),
    ]
    const stream = client.chat.completions.stream({
      ...chatBody,
      messages: [{ role: 'user', content: 'find invoices' }],
      tools: [
        { type: 'function', function: { name: 'search_inbox', parameters: { type: 'object' } } },
        { type: 'function', function: { name: 'archive', parameters: { type: 'object' } } },
      ],
    })
    const completion = await stream.finalChatCompletion()
    const choice = completion.choices[0]
    expect(choice?.finish_reason).toBe('tool_calls')
    expect(choice?.message.content).toBe('Looking.')
    expect(choice?.message.tool_calls).toEqual([
      {
        id: 'call_a',
        type: 'function',
        function: { name: 'search_inbox', arguments: '{"query":"invoice"}' },
      },
      { id: 'call_b', type: 'function', function: { name: 'archive', arguments: '{"id":7}' } },
    ])
  })

  it('puts id, type and name only on the first delta of each call', async () => {
    mesh.chatScript = [
      { type: 'tool-call-delta', index: 0, id: 'call_a', name: 'f', argumentsDelta: '{' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: '}' },
      end('tool-calls'),
    ]
    const response = await post('/v1/chat/completions', { ...chatBody, stream: true })
    const events = sseData(await response.text())
    const deltas = events
      .filter((data) => data !== '[DONE]')
      .map((data) => JSON.parse(data).choices[0]?.delta.tool_calls)
      .filter(Boolean)
    expect(deltas).toEqual([
      [{ index: 0, id: 'call_a', type: 'function', function: { name: 'f', arguments: '{' } }],
      [{ index: 0, function: { arguments: '}' } }],
    ])
    expect(events.at(-1)).toBe('[DONE]')
  })
})

describe('non-streaming chat', () => {
  it('returns one chat.completion with tool_calls, content null, finish_reason and usage', async () => {
    mesh.chatScript = [
      { type: 'tool-call-delta', index: 0, id: 'call_x', name: 'lookup', argumentsDelta: '{"a":' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: '1}' },
      { type: 'tool-call', index: 0, id: 'call_x', name: 'lookup', arguments: '{"a":1}' },
      { type: 'usage', usage: { inputTokens: 3, outputTokens: 4 } },
      end('tool-calls'),
    ]
    const completion = await client.chat.completions.create({
      ...chatBody,
      messages: [
        { role: 'user', content: 'look up a' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'lookup', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'call_0', content: 'nothing' },
      ],
      tools: [
        {
          type: 'function',
          function: { name: 'lookup', description: 'Look up', parameters: { type: 'object' } },
        },
      ],
      tool_choice: { type: 'function', function: { name: 'lookup' } },
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 100,
      stop: 'END',
    })
    expect(completion.object).toBe('chat.completion')
    expect(completion.model).toBe('fast/llama3')
    expect(completion.choices[0]?.finish_reason).toBe('tool_calls')
    expect(completion.choices[0]?.message.content).toBeNull()
    expect(completion.choices[0]?.message.tool_calls).toEqual([
      { id: 'call_x', type: 'function', function: { name: 'lookup', arguments: '{"a":1}' } },
    ])
    expect(completion.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 })
    expect(mesh.chatRequests[0]?.request).toEqual({
      messages: [
        { role: 'user', content: 'look up a' },
        { role: 'assistant', content: '', toolCalls: [{ id: 'call_0', name: 'lookup', arguments: '{}' }] },
        { role: 'tool', toolCallId: 'call_0', content: 'nothing' },
      ],
      tools: [{ name: 'lookup', description: 'Look up', parameters: { type: 'object' } }],
      toolChoice: { name: 'lookup' },
      temperature: 0.2,
      topP: 0.9,
      maxTokens: 100,
      stop: ['END'],
    })
  })

  it('returns text content', async () => {
    mesh.chatScript = [...textParts(['plain ', 'text']), end('length')]
    const completion = await client.chat.completions.create(
      chatBody as OpenAI.ChatCompletionCreateParamsNonStreaming,
    )
    expect(completion.choices[0]?.message).toMatchObject({ role: 'assistant', content: 'plain text' })
    expect(completion.choices[0]?.finish_reason).toBe('length')
  })
})

describe('embeddings and models', () => {
  it('embeds strings (the client asks for base64 by default) and plain floats when asked', async () => {
    mesh.embedResult = {
      embeddings: [
        [0.5, -0.25, 1],
        [0, 2, -8],
      ],
      usage: { inputTokens: 6 },
    }
    const result = await client.embeddings.create({ model: 'embedder/nomic', input: ['one', 'two'] })
    expect(result.data.map((item) => item.embedding)).toEqual([
      [0.5, -0.25, 1],
      [0, 2, -8],
    ])
    expect(result.data.map((item) => item.index)).toEqual([0, 1])
    expect(result.usage).toEqual({ prompt_tokens: 6, total_tokens: 6 })
    expect(result.model).toBe('embedder/nomic')
    expect(mesh.embedRequests.at(-1)).toEqual({ soul: SOUL, model: 'embedder/nomic', input: ['one', 'two'] })

    const floats = await client.embeddings.create({
      model: 'embedder',
      input: 'one',
      encoding_format: 'float',
    })
    expect(floats.object).toBe('list')
    expect(floats.data[0]).toEqual({ object: 'embedding', index: 0, embedding: [0.5, -0.25, 1] })
    expect(mesh.embedRequests.at(-1)?.input).toEqual(['one'])
  })

  it('refuses token arrays and empty input with 400', async () => {
    const tokens = await post('/v1/embeddings', { model: 'e', input: [[1, 2, 3]] })
    expect(tokens.status).toBe(400)
    expect(await errorOf(tokens)).toMatchObject({
      code: 'UNSUPPORTED_INPUT',
      type: 'invalid_request_error',
    })
    const empty = await post('/v1/embeddings', { model: 'e', input: [] })
    expect(empty.status).toBe(400)
    expect((await errorOf(empty)).message).toContain('input')
  })

  it('maps an embed failure to its status', async () => {
    mesh.embedResult = new ClawmeshError('UNKNOWN_BACKEND', 'no node offers backend "e"')
    const response = await post('/v1/embeddings', { model: 'e', input: 'x' })
    expect(response.status).toBe(404)
    expect(await errorOf(response)).toMatchObject({ code: 'UNKNOWN_BACKEND', type: 'not_found_error' })
  })

  it('lists the models the soul may use', async () => {
    mesh.modelList = [
      { id: 'fast/llama3:latest', backend: 'fast', model: 'llama3:latest', owners: ['vps-fast', 'home'] },
      { id: 'embedder/nomic', backend: 'embedder', model: 'nomic', owners: ['home'] },
    ]
    const page = await client.models.list()
    expect(page.data).toEqual([
      { id: 'fast/llama3:latest', object: 'model', created: 0, owned_by: 'vps-fast,home' },
      { id: 'embedder/nomic', object: 'model', created: 0, owned_by: 'home' },
    ])
    const anonymous = await fetch(`${api.url}/v1/models`)
    expect(anonymous.status).toBe(400)
  })
})

describe('request checks', () => {
  it('requires the soul header (400) and a soul of this peer (403)', async () => {
    const missing = await post('/v1/chat/completions', chatBody, {})
    expect(missing.status).toBe(400)
    expect(await errorOf(missing)).toMatchObject({
      code: 'MISSING_SOUL',
      type: 'invalid_request_error',
      param: null,
    })
    const foreign = await post('/v1/chat/completions', chatBody, { [SOUL_HEADER]: 'finance-bookkeeper' })
    expect(foreign.status).toBe(403)
    const error = await errorOf(foreign)
    expect(error).toMatchObject({ code: 'FOREIGN_SOUL', type: 'permission_error' })
    expect(error.message).toContain('finance-bookkeeper')
    expect(mesh.chatRequests).toHaveLength(0)
  })

  it('answers malformed JSON with 400', async () => {
    const response = await post('/v1/chat/completions', '{"model": "x", "messages": [')
    expect(response.status).toBe(400)
    const error = await errorOf(response)
    expect(error.code).toBe('INVALID_JSON')
    expect(error.message).toMatch(/not valid JSON/)
  })

  it('answers a wrong type of a used field with 400 naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ ...chatBody, temperature: 'hot' }, 'temperature'],
      [{ ...chatBody, messages: 'hi' }, 'messages'],
      [{ model: 'x' }, 'messages'],
      [{ ...chatBody, messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
      [{ ...chatBody, messages: [{ role: 'user', content: 7 }] }, 'messages[0].content'],
      [{ ...chatBody, messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].tool_call_id'],
      [
        {
          ...chatBody,
          messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }],
        },
        'messages[0].content[0].type',
      ],
      [
        { ...chatBody, tools: [{ type: 'function', function: { parameters: {} } }] },
        'tools[0].function.name',
      ],
      [{ ...chatBody, tool_choice: 'sometimes' }, 'tool_choice'],
      [{ ...chatBody, stop: 3 }, 'stop'],
      [{ ...chatBody, max_completion_tokens: -1 }, 'max_completion_tokens'],
      [{ ...chatBody, stream: 'yes' }, 'stream'],
    ]
    for (const [body, field] of cases) {
      const response = await post('/v1/chat/completions', body)
      expect(response.status, field).toBe(400)
      const error = await errorOf(response)
      expect(error.code, field).toBe('BAD_REQUEST')
      expect(error.message, field).toContain(`${field}:`)
    }
    expect(mesh.chatRequests).toHaveLength(0)
  })

  it('accepts an OpenClaw-like request with every field it sends, passing on what the mesh uses', async () => {
    mesh.chatScript = [
      ...textParts(['ok']),
      { type: 'usage', usage: { inputTokens: 9000, outputTokens: 1 } },
      end(),
    ]
    const systemPrompt = 'You are a careful inbox triage agent. '.repeat(700) // ~26 KB
    const tools = Array.from({ length: 10 }, (_, index) => ({
      type: 'function',
      function: {
        name: `tool_${index}`,
        description: `Tool number ${index}`,
        parameters: {
          type: 'object',
          properties: { path: { type: 'string' }, limit: { type: 'integer', minimum: 1 } },
          required: ['path'],
          additionalProperties: false,
        },
        strict: true,
      },
    }))
    const body = {
      model: 'fast/llama3',
      messages: [
        { role: 'system', content: systemPrompt },
        { role: 'user', content: [{ type: 'text', text: 'triage my inbox' }], name: 'owner' },
      ],
      stream: true,
      stream_options: { include_usage: true },
      max_completion_tokens: 4096,
      tool_choice: 'auto',
      tools,
      parallel_tool_calls: true,
      metadata: { session: 'abc' },
      user: 'inbox-triage',
      store: false,
      n: 1,
      seed: 42,
      logprobs: false,
      top_logprobs: null,
      presence_penalty: 0,
      frequency_penalty: null,
      response_format: { type: 'text' },
      reasoning_effort: 'low',
      service_tier: 'auto',
      prompt_cache_key: 'k',
      some_future_field: { nested: [1, 2, 3] },
    }
    const response = await post('/v1/chat/completions', body, {
      [SOUL_HEADER]: SOUL,
      'user-agent': 'openclaw/1.0',
      'x-openclaw-session': 'abc',
      authorization: 'Bearer unused',
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const events = sseData(await response.text())
    expect(events.at(-1)).toBe('[DONE]')
    expect(JSON.parse(events.at(-2) ?? '{}').usage).toEqual({
      prompt_tokens: 9000,
      completion_tokens: 1,
      total_tokens: 9001,
    })
    const sent = mesh.chatRequests[0]
    expect(sent?.model).toBe('fast/llama3')
    expect(sent?.request.messages[0]).toEqual({ role: 'system', content: systemPrompt })
    expect(sent?.request.tools).toHaveLength(10)
    expect(sent?.request.tools?.[3]).toEqual({
      name: 'tool_3',
      description: 'Tool number 3',
      parameters: tools[3]?.function.parameters,
    })
    expect(sent?.request.toolChoice).toBe('auto')
    expect(sent?.request.maxTokens).toBe(4096)
  })

  it('passes an empty or absent model as "" (the soul default)', async () => {
    mesh.chatScript = [...textParts(['x']), end()]
    const absent = await post('/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] })
    expect(absent.status).toBe(200)
    mesh.chatScript = [...textParts(['x']), end()]
    const empty = await post('/v1/chat/completions', {
      model: '',
      messages: [{ role: 'user', content: 'hi' }],
    })
    expect(empty.status).toBe(200)
    expect(mesh.chatRequests.map((request) => request.model)).toEqual(['', ''])
  })

  it('refuses a body over the limit with 413 (declared or chunked) and keeps serving', async () => {
    const big = JSON.stringify({ ...chatBody, padding: 'x'.repeat(MAX_BODY) })
    const declared = await post('/v1/chat/completions', big)
    expect(declared.status).toBe(413)
    expect(await errorOf(declared)).toMatchObject({
      code: 'BODY_TOO_LARGE',
      type: 'invalid_request_error',
    })

    // Chunked: no content-length, so the limit is hit while reading; the client keeps sending 4 MiB.
    const piece = new TextEncoder().encode('x'.repeat(64 * 1024))
    let sent = 0
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"model":"x","padding":"'))
      },
      pull(controller) {
        if (sent >= 4 * 1024 * 1024) controller.close()
        else {
          sent += piece.length
          controller.enqueue(piece)
        }
      },
    })
    const chunkedStatus = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(`${api.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { [SOUL_HEADER]: SOUL, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      })
      request.on('response', (response) => {
        response.resume()
        resolve(response.statusCode ?? 0)
      })
      request.on('error', reject)
      const reader = body.getReader()
      const pump = async (): Promise<void> => {
        for (;;) {
          const { done, value } = await reader.read()
          if (done || request.destroyed) break
          if (!request.write(value)) await new Promise((resolve) => request.once('drain', resolve))
        }
        request.end()
      }
      pump().catch(() => {})
    })
    expect(chunkedStatus).toBe(413)

    mesh.chatScript = [...textParts(['still here']), end()]
    const next = await post('/v1/chat/completions', chatBody)
    expect(next.status).toBe(200)
    expect(((await next.json()) as OpenAI.ChatCompletion).choices[0]?.message.content).toBe('still here')
  })
})

describe('mesh failures', () => {
  const codes: [string, number, string][] = [
    ['FOREIGN_SOUL', 403, 'permission_error'],
    ['UNKNOWN_BACKEND', 404, 'not_found_error'],
    ['UNKNOWN_MODEL', 404, 'not_found_error'],
    ['NO_ELIGIBLE_OWNER', 403, 'permission_error'],
    ['OWNER_UNREACHABLE', 503, 'api_error'],
    ['OWNER_FAILED', 502, 'api_error'],
    ['TIMEOUT', 504, 'api_error'],
    ['BAD_REQUEST', 400, 'invalid_request_error'],
    ['BACKEND_RATE_LIMITED', 429, 'rate_limit_error'],
  ]

  it.each(codes)(
    '%s before the first token is HTTP %i with an OpenAI-style body (streaming or not)',
    async (code, status, type) => {
      for (const stream of [false, true]) {
        mesh.chatScript = [{ type: 'throw', error: new ClawmeshError(code, `failed with ${code}`) }]
        const response = await post('/v1/chat/completions', { ...chatBody, stream })
        expect(response.status).toBe(status)
        expect(response.headers.get('content-type')).toBe('application/json')
        expect(await response.json()).toEqual({
          error: { message: `failed with ${code}`, type, code, param: null },
        })
      }
    },
  )

  it('maps trust refusals to 403 naming the rule, and the openai client raises it', async () => {
    mesh.chatScript = [
      {
        type: 'throw',
        error: new TrustError(
          'TRUST_SENSITIVITY',
          'soul inbox-triage (high) may not send to vps-fast (medium)',
        ),
      },
    ]
    const error = await client.chat.completions.create({ ...chatBody, stream: true }).catch((e) => e)
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError)
    expect(error.status).toBe(403)
    expect(error.code).toBe('TRUST_SENSITIVITY')
    expect(error.message).toContain('may not send to vps-fast')
  })

  it('answers an unexpected failure with 500 and keeps serving', async () => {
    mesh.chatScript = [{ type: 'throw', error: new TypeError('boom') }]
    const response = await post('/v1/chat/completions', chatBody)
    expect(response.status).toBe(500)
    expect(await errorOf(response)).toMatchObject({ code: 'INTERNAL', type: 'api_error' })
    mesh.chatScript = [...textParts(['fine']), end()]
    expect((await post('/v1/chat/completions', chatBody)).status).toBe(200)
  })

  it('ends the stream with one error event (no [DONE]) after the first token; the client throws', async () => {
    const failure: ScriptStep = {
      type: 'throw',
      error: new RoutingError('OWNER_FAILED', 'owner vps-fast failed mid-stream', {
        retryable: false,
        afterFirstToken: true,
      }),
    }
    mesh.chatScript = [...textParts(['Hel', 'lo']), failure]
    const raw = await post('/v1/chat/completions', { ...chatBody, stream: true })
    expect(raw.status).toBe(200)
    const events = sseData(await raw.text())
    expect(events).not.toContain('[DONE]')
    expect(JSON.parse(events.at(-1) ?? '{}')).toEqual({
      error: {
        message: 'owner vps-fast failed mid-stream',
        type: 'api_error',
        code: 'OWNER_FAILED',
        param: null,
      },
    })

    mesh.chatScript = [...textParts(['Hel', 'lo']), failure]
    const stream = await client.chat.completions.create({ ...chatBody, stream: true })
    const received: string[] = []
    const error = await (async () => {
      for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? '')
    })().catch((e) => e)
    expect(received.join('')).toBe('Hello')
    expect(error).toBeInstanceOf(OpenAI.APIError)
    expect(error.code).toBe('OWNER_FAILED')
    expect(error.message).toContain('owner vps-fast failed mid-stream')
  })

  it('reports a reply that ends without an end part as an error, not as a complete reply', async () => {
    mesh.chatScript = textParts(['cut'])
    const events = sseData(await (await post('/v1/chat/completions', { ...chatBody, stream: true })).text())
    expect(JSON.parse(events.at(-1) ?? '{}').error.code).toBe('INCOMPLETE_REPLY')
    mesh.chatScript = textParts(['cut'])
    const response = await post('/v1/chat/completions', chatBody)
    expect(response.status).toBe(502)
  })
})

describe('cancellation and backpressure', () => {
  it('aborts the mesh call within 200 ms when the client disconnects mid-stream', async () => {
    mesh.chatScript = [...textParts(['first']), { type: 'sleep', ms: 30_000 }, ...textParts(['never']), end()]
    const controller = new AbortController()
    const response = await fetch(`${api.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SOUL_HEADER]: SOUL },
      body: JSON.stringify({ ...chatBody, stream: true }),
      signal: controller.signal,
    })
    const reader = response.body!.getReader()
    const { value } = await reader.read()
    expect(new TextDecoder().decode(value)).toContain('"role":"assistant"')
    const signal = mesh.signals[0]!
    expect(signal.aborted).toBe(false)
    const abortedAt = new Promise<number>((resolve) =>
      signal.addEventListener('abort', () => resolve(Date.now()), { once: true }),
    )
    const start = Date.now()
    controller.abort()
    const elapsed = (await Promise.race([abortedAt, sleep(1_000).then(() => Number.NaN)])) - start
    expect(elapsed).toBeLessThan(200)
  })

  it('aborts the mesh call when the client disconnects before the first token', async () => {
    mesh.chatScript = [{ type: 'sleep', ms: 30_000 }, end()]
    logged.length = 0
    const controller = new AbortController()
    const pending = fetch(`${api.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SOUL_HEADER]: SOUL },
      body: JSON.stringify(chatBody),
      signal: controller.signal,
    }).catch(() => undefined)
    while (mesh.signals.length === 0) await sleep(5)
    controller.abort()
    await pending
    const signal = mesh.signals[0]!
    for (let waited = 0; !signal.aborted && waited < 200; waited += 5) await sleep(5)
    expect(signal.aborted).toBe(true)
    expect(logged.filter((line) => line.includes('failed'))).toEqual([])
  })

  it('pulls parts only as fast as a slow reader drains them', async () => {
    const count = 20_000
    const token = 'y'.repeat(1024)
    mesh.chatScript = [...textParts(Array.from({ length: count }, () => token)), end()]
    const received = await new Promise<{ pulledWhilePaused: number; text: string }>((resolve, reject) => {
      const request = httpRequest(`${api.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { [SOUL_HEADER]: SOUL, 'content-type': 'application/json' },
      })
      request.on('error', reject)
      request.on('response', (response) => {
        response.pause()
        setTimeout(() => {
          const pulledWhilePaused = mesh.pulled
          const chunks: Buffer[] = []
          response.on('data', (chunk: Buffer) => chunks.push(chunk))
          response.on('end', () => resolve({ pulledWhilePaused, text: Buffer.concat(chunks).toString() }))
          response.resume()
        }, 500)
      })
      request.end(JSON.stringify({ ...chatBody, stream: true }))
    })
    // Socket buffers hold some megabytes; the remaining parts wait in the mesh until the reader drains.
    expect(received.pulledWhilePaused).toBeLessThan(count / 2)
    expect(mesh.pulled).toBe(count + 1)
    const events = sseData(received.text)
    expect(events.at(-1)).toBe('[DONE]')
    expect(events.length).toBe(count + 3) // role chunk, the tokens, finish chunk, [DONE]
  })
})
