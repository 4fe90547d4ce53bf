/**
 * OpenAI wire format (https://platform.openai.com/docs/api-reference/chat/streaming):
 * `POST /v1/chat/completions` as SSE `chat.completion.chunk`s ending in `data: [DONE]`, tool calls
 * as `delta.tool_calls[]` deltas, a usage chunk with empty `choices` when
 * `stream_options.include_usage` is set; `POST /v1/embeddings`; `GET /v1/models`; errors as
 * `{ error: { message, type, param, code } }`.
 */
import {
  type FakeError,
  type FakeExchange,
  type FakeWireFormat,
  fakeEmbedding,
  splitInto,
} from './fake-provider.js'

const errorTypes: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  429: 'rate_limit_exceeded',
}

interface ChatBody {
  model?: string
  stream?: boolean
  stream_options?: { include_usage?: boolean }
  input?: string[] | string
}

async function chat(exchange: FakeExchange): Promise<void> {
  const body = (exchange.request.body ?? {}) as ChatBody
  const { script, response } = exchange
  const created = Math.floor(Date.now() / 1000)
  const base = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created, model: body.model ?? 'fake' }
  const chunk = (delta: unknown, finishReason: string | null = null) =>
    `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] })}\n\n`
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  response.flushHeaders()
  exchange.write(chunk({ role: 'assistant', content: '' }))
  for (const token of script.tokens) {
    if (!(await exchange.emitToken(chunk({ content: token })))) return
  }
  if (script.streamError) {
    exchange.write(`data: ${JSON.stringify(openaiWireFormat.errorBody(script.streamError))}\n\n`)
    response.end()
    return
  }
  for (const [index, call] of script.toolCalls.entries()) {
    const head = { index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }
    if (!(await exchange.emitToken(chunk({ tool_calls: [head] })))) return
    for (const piece of splitInto(call.arguments, call.chunks ?? 3)) {
      if (!(await exchange.emitToken(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }))))
        return
    }
  }
  exchange.write(chunk({}, script.toolCalls.length > 0 ? 'tool_calls' : 'stop'))
  if (body.stream_options?.include_usage) {
    const { inputTokens, outputTokens } = script.usage
    const usage = {
      prompt_tokens: inputTokens,
      completion_tokens: outputTokens,
      total_tokens: inputTokens + outputTokens,
    }
    exchange.write(`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`)
  }
  exchange.write('data: [DONE]\n\n')
  response.end()
}

/** The OpenAI wire format for `startFakeServer`. */
export const openaiWireFormat: FakeWireFormat = {
  errorBody: (error: FakeError) => ({
    error: {
      message: error.message ?? `fake error ${error.status}`,
      type: error.type ?? errorTypes[error.status] ?? 'server_error',
      param: null,
      code: error.status === 429 ? 'rate_limit_exceeded' : null,
    },
  }),
  async handle(exchange) {
    const { request, url, script } = exchange
    const models = script.models ?? ['fake-model', 'fake-embed']
    if (request.method === 'POST' && url.pathname === '/v1/chat/completions') return chat(exchange)
    if (request.method === 'POST' && url.pathname === '/v1/embeddings') {
      const body = (request.body ?? {}) as ChatBody
      const inputs = typeof body.input === 'string' ? [body.input] : (body.input ?? [])
      return exchange.json(200, {
        object: 'list',
        data: inputs.map((text, index) => ({
          object: 'embedding',
          index,
          embedding: fakeEmbedding(text, script.embeddingDimensions),
        })),
        model: body.model,
        usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
      })
    }
    if (request.method === 'GET' && url.pathname === '/v1/models') {
      return exchange.json(200, {
        object: 'list',
        data: models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake' })),
      })
    }
    exchange.json(404, openaiWireFormat.errorBody({ status: 404, message: `no route ${url.pathname}` }))
  },
}
