/** A local fake MyCorp gateway for the example's test and demo (same API as the provider fakes). */
import {
  type FakeError,
  type FakeExchange,
  type FakeProvider,
  type FakeScript,
  fakeEmbedding,
  splitInto,
  startFakeServer,
} from '../../src/llm/testing/index.js'

const line = (event: unknown) => `${JSON.stringify(event)}\n`

async function chat(exchange: FakeExchange): Promise<void> {
  const { script, response } = exchange
  response.writeHead(200, { 'content-type': 'application/x-ndjson' })
  response.flushHeaders()
  for (const text of script.tokens) if (!(await exchange.emitToken(line({ event: 'token', text })))) return
  if (script.streamError) {
    const { status, message } = script.streamError
    exchange.write(line({ event: 'error', status, message }))
    return void response.end()
  }
  for (const [index, call] of script.toolCalls.entries()) {
    for (const [piece, args] of splitInto(call.arguments, call.chunks ?? 3).entries()) {
      const head = piece === 0 ? { id: call.id, name: call.name } : {}
      if (!(await exchange.emitToken(line({ event: 'tool', index, ...head, args })))) return
    }
  }
  const { inputTokens: input, outputTokens: output } = script.usage
  exchange.write(
    line({
      event: 'done',
      finish: script.toolCalls.length ? 'tool_calls' : 'stop',
      usage: { input, output },
    }),
  )
  response.end()
}

/** Starts the fake gateway; `url` is its endpoint. */
export function startFakeGateway(script: FakeScript = {}): Promise<FakeProvider> {
  return startFakeServer(
    'mycorp-gateway',
    '',
    {
      errorBody: (error: FakeError) => ({
        error: { message: error.message ?? `gateway error ${error.status}` },
      }),
      async handle(exchange) {
        const { request, url, script: current } = exchange
        if (request.method === 'POST' && url.pathname === '/v1/chat') return chat(exchange)
        if (request.method === 'POST' && url.pathname === '/v1/embed') {
          const { input } = request.body as { input: string[] }
          return exchange.json(200, {
            vectors: input.map((text) => fakeEmbedding(text, current.embeddingDimensions)),
          })
        }
        if (request.method === 'GET' && url.pathname === '/v1/models') {
          return exchange.json(200, { models: current.models ?? ['corp-large', 'corp-small'] })
        }
        exchange.json(404, { error: { message: `no route ${url.pathname}` } })
      },
    },
    script,
  )
}
