/**
 * Gemini API wire format (https://ai.google.dev/api/generate-content):
 * `POST /v1beta/models/{model}:streamGenerateContent?alt=sse` as SSE `GenerateContentResponse`s
 * (`candidates[].content.parts[]` with `text` or `functionCall`, `finishReason`, `usageMetadata`);
 * `:embedContent` and `:batchEmbedContents`; `GET /v1beta/models`; errors as
 * `{ error: { code, message, status, details } }` with a `google.rpc.RetryInfo` when retry-after is set.
 */
import type { FakeError, FakeExchange, FakeWireFormat } from './fake-provider.js'
import { fakeEmbedding } from './fake-provider.js'

const statusNames: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
}

async function stream(exchange: FakeExchange, model: string): Promise<void> {
  const { script, response } = exchange
  const { inputTokens, outputTokens } = script.usage
  let sent = 0
  const chunk = (parts: unknown[], finishReason?: string) =>
    `data: ${JSON.stringify({
      candidates: [
        { content: { parts, role: 'model' }, index: 0, ...(finishReason ? { finishReason } : {}) },
      ],
      usageMetadata: {
        promptTokenCount: inputTokens,
        candidatesTokenCount: finishReason ? outputTokens : sent,
        totalTokenCount: inputTokens + (finishReason ? outputTokens : sent),
      },
      modelVersion: model,
      responseId: 'fake-response',
    })}\r\n\r\n`
  response.writeHead(200, { 'content-type': 'text/event-stream' })
  response.flushHeaders()
  for (const text of script.tokens) {
    sent++
    if (!(await exchange.emitToken(chunk([{ text }])))) return
  }
  if (script.streamError) {
    exchange.write(`data: ${JSON.stringify(googleWireFormat.errorBody(script.streamError))}\r\n\r\n`)
    response.end()
    return
  }
  if (script.toolCalls.length > 0) {
    const parts = script.toolCalls.map((call) => ({
      functionCall: { id: call.id, name: call.name, args: JSON.parse(call.arguments) as unknown },
    }))
    if (!(await exchange.emitToken(chunk(parts)))) return
  }
  exchange.write(chunk([{ text: '' }], 'STOP'))
  response.end()
}

/** The Gemini API wire format for `startFakeServer`. */
export const googleWireFormat: FakeWireFormat = {
  errorBody: (error: FakeError) => {
    const retryAfter = error.headers?.['retry-after']
    return {
      error: {
        code: error.status,
        message: error.message ?? `fake error ${error.status}`,
        status: error.type ?? statusNames[error.status] ?? 'UNKNOWN',
        ...(retryAfter
          ? {
              details: [
                { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfter}s` },
              ],
            }
          : {}),
      },
    }
  },
  async handle(exchange) {
    const { request, url, script } = exchange
    const match = /^\/v1beta\/models\/([^:]+):(\w+)$/.exec(url.pathname)
    const model = match?.[1] ?? ''
    const body = (request.body ?? {}) as {
      requests?: Array<{ content?: { parts?: Array<{ text?: string }> } }>
      content?: { parts?: Array<{ text?: string }> }
    }
    const textOf = (content?: { parts?: Array<{ text?: string }> }) =>
      (content?.parts ?? []).map((part) => part.text ?? '').join('')
    if (request.method === 'POST' && match?.[2] === 'streamGenerateContent') return stream(exchange, model)
    if (request.method === 'POST' && match?.[2] === 'batchEmbedContents') {
      const embeddings = (body.requests ?? []).map((item) => ({
        values: fakeEmbedding(textOf(item.content), script.embeddingDimensions),
      }))
      return exchange.json(200, { embeddings })
    }
    if (request.method === 'POST' && match?.[2] === 'embedContent') {
      return exchange.json(200, {
        embedding: { values: fakeEmbedding(textOf(body.content), script.embeddingDimensions) },
      })
    }
    if (request.method === 'GET' && url.pathname === '/v1beta/models') {
      const names = script.models ?? ['gemini-fake', 'gemini-fake-embed']
      return exchange.json(200, {
        models: names.map((name) => ({
          name: `models/${name}`,
          displayName: name,
          supportedGenerationMethods: ['generateContent', 'embedContent'],
        })),
      })
    }
    exchange.json(404, googleWireFormat.errorBody({ status: 404, message: `no route ${url.pathname}` }))
  },
}
