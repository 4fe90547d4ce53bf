/**
 * Anthropic wire format (https://docs.anthropic.com/en/api/messages-streaming): `POST /v1/messages`
 * as SSE `message_start`, `content_block_start` / `content_block_delta` (`text_delta`,
 * `input_json_delta`) / `content_block_stop`, `message_delta` (stop_reason, usage), `message_stop`,
 * `ping`, and `error` events; `GET /v1/models`; errors as `{ type: 'error', error: { type, message } }`.
 */
import type { FakeError, FakeExchange, FakeWireFormat } from './fake-provider.js'
import { splitInto } from './fake-provider.js'

const errorTypes: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
}

const event = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`

async function messages(exchange: FakeExchange): Promise<void> {
  const body = (exchange.request.body ?? {}) as { model?: string }
  const { script, response } = exchange
  response.writeHead(200, { 'content-type': 'text/event-stream', 'request-id': 'req_fake' })
  response.flushHeaders()
  exchange.write(
    event('message_start', {
      type: 'message_start',
      message: {
        id: 'msg_fake',
        type: 'message',
        role: 'assistant',
        content: [],
        model: body.model ?? 'fake',
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: script.usage.inputTokens, output_tokens: 1 },
      },
    }),
  )
  let block = 0
  if (script.tokens.length > 0) {
    exchange.write(
      event('content_block_start', {
        type: 'content_block_start',
        index: block,
        content_block: { type: 'text', text: '' },
      }),
    )
    exchange.write(event('ping', { type: 'ping' }))
    for (const text of script.tokens) {
      const delta = { type: 'content_block_delta', index: block, delta: { type: 'text_delta', text } }
      if (!(await exchange.emitToken(event('content_block_delta', delta)))) return
    }
    exchange.write(event('content_block_stop', { type: 'content_block_stop', index: block }))
    block++
  }
  if (script.streamError) {
    exchange.write(event('error', anthropicWireFormat.errorBody(script.streamError)))
    response.end()
    return
  }
  for (const call of script.toolCalls) {
    const start = { type: 'tool_use', id: call.id, name: call.name, input: {} }
    if (
      !(await exchange.emitToken(
        event('content_block_start', { type: 'content_block_start', index: block, content_block: start }),
      ))
    )
      return
    for (const partial_json of splitInto(call.arguments, call.chunks ?? 3)) {
      const delta = {
        type: 'content_block_delta',
        index: block,
        delta: { type: 'input_json_delta', partial_json },
      }
      if (!(await exchange.emitToken(event('content_block_delta', delta)))) return
    }
    exchange.write(event('content_block_stop', { type: 'content_block_stop', index: block }))
    block++
  }
  const stopReason = script.toolCalls.length > 0 ? 'tool_use' : 'end_turn'
  exchange.write(
    event('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: script.usage.outputTokens },
    }),
  )
  exchange.write(event('message_stop', { type: 'message_stop' }))
  response.end()
}

/** The Anthropic wire format for `startFakeServer`. */
export const anthropicWireFormat: FakeWireFormat = {
  errorBody: (error: FakeError) => ({
    type: 'error',
    error: {
      type: error.type ?? errorTypes[error.status] ?? 'api_error',
      message: error.message ?? `fake error ${error.status}`,
    },
  }),
  async handle(exchange) {
    const { request, url, script } = exchange
    if (request.method === 'POST' && url.pathname === '/v1/messages') return messages(exchange)
    if (request.method === 'GET' && url.pathname === '/v1/models') {
      const ids = script.models ?? ['claude-fake-1', 'claude-fake-2']
      const data = ids.map((id) => ({
        type: 'model',
        id,
        display_name: id,
        created_at: '2025-01-01T00:00:00Z',
      }))
      return exchange.json(200, {
        data,
        has_more: false,
        first_id: ids[0] ?? null,
        last_id: ids.at(-1) ?? null,
      })
    }
    exchange.json(404, anthropicWireFormat.errorBody({ status: 404, message: `no route ${url.pathname}` }))
  },
}
