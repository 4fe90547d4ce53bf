/**
 * Ollama wire format (https://github.com/ollama/ollama/blob/main/docs/api.md): `POST /api/chat` as
 * NDJSON, one `{ model, created_at, message, done: false }` per token, `message.tool_calls` with
 * whole calls, a final `{ done: true, done_reason, prompt_eval_count, eval_count, ... }`;
 * `POST /api/embed` → `{ embeddings }`; `GET /api/tags`; `GET /api/version`; errors as `{ error }`.
 */
import type { FakeError, FakeExchange, FakeWireFormat } from './fake-provider.js'
import { fakeEmbedding } from './fake-provider.js'

async function chat(exchange: FakeExchange): Promise<void> {
  const body = (exchange.request.body ?? {}) as { model?: string }
  const { script, response } = exchange
  const model = body.model ?? 'fake'
  const line = (message: unknown) =>
    `${JSON.stringify({ model, created_at: new Date().toISOString(), message, done: false })}\n`
  response.writeHead(200, { 'content-type': 'application/x-ndjson' })
  response.flushHeaders()
  for (const token of script.tokens) {
    if (!(await exchange.emitToken(line({ role: 'assistant', content: token })))) return
  }
  if (script.streamError) {
    exchange.write(`${JSON.stringify(ollamaWireFormat.errorBody(script.streamError))}\n`)
    response.end()
    return
  }
  if (script.toolCalls.length > 0) {
    const toolCalls = script.toolCalls.map((call, index) => ({
      id: call.id,
      function: { index, name: call.name, arguments: JSON.parse(call.arguments) as unknown },
    }))
    if (!(await exchange.emitToken(line({ role: 'assistant', content: '', tool_calls: toolCalls })))) return
  }
  const done = {
    model,
    created_at: new Date().toISOString(),
    message: { role: 'assistant', content: '' },
    done: true,
    done_reason: 'stop',
    total_duration: 1000,
    load_duration: 10,
    prompt_eval_count: script.usage.inputTokens,
    prompt_eval_duration: 100,
    eval_count: script.usage.outputTokens,
    eval_duration: 800,
  }
  exchange.write(`${JSON.stringify(done)}\n`)
  response.end()
}

/** The Ollama wire format for `startFakeServer`. */
export const ollamaWireFormat: FakeWireFormat = {
  errorBody: (error: FakeError) => ({ error: error.message ?? `fake error ${error.status}` }),
  async handle(exchange) {
    const { request, url, script } = exchange
    if (request.method === 'POST' && url.pathname === '/api/chat') return chat(exchange)
    if (request.method === 'POST' && url.pathname === '/api/embed') {
      const body = (request.body ?? {}) as { model?: string; input?: string | string[] }
      const inputs = typeof body.input === 'string' ? [body.input] : (body.input ?? [])
      return exchange.json(200, {
        model: body.model,
        embeddings: inputs.map((text) => fakeEmbedding(text, script.embeddingDimensions)),
        total_duration: 1000,
        load_duration: 10,
        prompt_eval_count: inputs.length,
      })
    }
    if (request.method === 'GET' && url.pathname === '/api/tags') {
      const names = script.models ?? ['fake-model:latest', 'fake-embed:latest']
      return exchange.json(200, {
        models: names.map((name) => ({
          name,
          model: name,
          modified_at: '2025-01-01T00:00:00Z',
          size: 1,
          digest: 'sha256:fake',
          details: { format: 'gguf', family: 'fake', parameter_size: '1B', quantization_level: 'Q4_0' },
        })),
      })
    }
    if (request.method === 'GET' && url.pathname === '/api/version')
      return exchange.json(200, { version: '0.12.0' })
    exchange.json(404, { error: `no route ${url.pathname}` })
  },
}
