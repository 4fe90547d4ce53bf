/**
 * Local fake provider servers for tests and benchmarks (node:http, loopback, real wire formats).
 *
 * API (shared by every kind, and by the custom-backend example's fake gateway):
 *
 *   const fake = await startFakeProvider('openai' | 'ollama' | 'anthropic' | 'google', script?)
 *   fake.url            base URL to give the backend: openai → `http://127.0.0.1:PORT/v1`,
 *                       ollama / anthropic / google → `http://127.0.0.1:PORT`
 *   fake.script = {...} replace the script for the next requests (one fake serves many tests)
 *   fake.requests       every request received: { method, path, headers, body } (body JSON-parsed)
 *   fake.closedEarly    how many responses the client abandoned before they were finished
 *   await fake.waitForClosedEarly(n?, timeoutMs?)   resolves once closedEarly >= n (default 1)
 *   await fake.close()
 *
 * A `FakeScript` says what the next replies look like: the reply text as tokens (one stream chunk
 * per token), tool calls (arguments split in `chunks` deltas where the provider streams them),
 * usage, an HTTP error (status, message, provider error type, extra headers such as retry-after),
 * a stall before the first byte (headers are never sent; the server waits for the client to give
 * up), a stall after N tokens, an error sent inside the stream after the tokens, a cut after N tokens (the socket is destroyed mid-stream), a delay per token, the model list
 * and the embedding size. Embeddings are deterministic: see `fakeEmbedding`.
 *
 * `startFakeServer(kind, basePath, handler)` builds a fake for another wire format (the example's
 * corporate gateway uses it) with the same recording, stall, error and cut behaviour.
 */
import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ClawmeshError } from '../../errors.js'

/** A tool call the fake model makes. */
export interface FakeToolCall {
  id: string
  name: string
  /** Arguments as a JSON string. */
  arguments: string
  /** Split the arguments into this many deltas where the provider streams them. Default 3. */
  chunks?: number
}

/** An HTTP error the fake answers with. */
export interface FakeError {
  status: number
  message?: string
  /** Provider-specific error type, e.g. `rate_limit_error`. Default chosen from the status. */
  type?: string
  /** Extra response headers, e.g. `{ 'retry-after': '7' }`. */
  headers?: Record<string, string>
}

/** What the fake's next replies look like. Every field is optional. */
export interface FakeScript {
  /** Reply text, one stream chunk per token. Default `['Hello', ',', ' world', '!']`. */
  tokens?: string[]
  /** Tool calls made after the text. Default none. */
  toolCalls?: FakeToolCall[]
  /** Reported usage. Default `{ inputTokens: 11, outputTokens: tokens.length }`. */
  usage?: { inputTokens: number; outputTokens: number }
  /** Answer every request with this HTTP error. */
  error?: FakeError
  /** After the tokens, send this error inside the stream (the provider's error event) instead of finishing. */
  streamError?: FakeError
  /** Never send a byte; wait until the client disconnects. */
  stallBeforeFirstByte?: boolean
  /** Stop sending (but keep the connection open) after this many tokens, until the client gives up. */
  stallAfterTokens?: number
  /** Destroy the socket after writing this many tokens. */
  cutAfterTokens?: number
  /** Wait this long before each token. Default 0. */
  tokenDelayMs?: number
  /** Models the server lists. Default per kind. */
  models?: string[]
  /** Length of each embedding vector. Default 4. */
  embeddingDimensions?: number
}

/** One request the fake received. */
export interface RecordedRequest {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: unknown
}

/** A running fake provider. */
export interface FakeProvider {
  readonly kind: string
  readonly url: string
  readonly requests: RecordedRequest[]
  readonly closedEarly: number
  script: FakeScript
  waitForClosedEarly(count?: number, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

/** The script with defaults applied. */
export interface ResolvedScript extends FakeScript {
  tokens: string[]
  toolCalls: FakeToolCall[]
  usage: { inputTokens: number; outputTokens: number }
  tokenDelayMs: number
  embeddingDimensions: number
}

/** What a kind's handler gets for one request. */
export interface FakeExchange {
  request: RecordedRequest
  url: URL
  response: ServerResponse
  script: ResolvedScript
  /** Writes one token's worth of stream data, honouring delay and cut; false once the stream is over. */
  emitToken(data: string): Promise<boolean>
  /** Writes stream data that is not a token (framing, final events). */
  write(data: string): void
  /** Sends a JSON response. */
  json(status: number, body: unknown, headers?: Record<string, string>): void
}

/** A kind's wire format: answers requests and writes its error body. */
export interface FakeWireFormat {
  handle(exchange: FakeExchange): Promise<void> | void
  errorBody(error: FakeError): unknown
}

/** The fake could not do what a test asked. */
export class FakeProviderError extends ClawmeshError {
  static override name = 'FakeProviderError'
  constructor(message: string) {
    super('FAKE_PROVIDER', message)
  }
}

/** A deterministic embedding of `text`, so tests can check vectors and their order. */
export function fakeEmbedding(text: string, dimensions = 4): number[] {
  const vector: number[] = []
  for (let index = 0; index < dimensions; index++) {
    const code = text.charCodeAt(index % Math.max(text.length, 1)) || 0
    vector.push((text.length + code * (index + 1)) / 1000)
  }
  return vector
}

/** Splits `text` into `count` non-empty pieces (fewer if the text is shorter). */
export function splitInto(text: string, count: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / Math.max(1, count)))
  const pieces: string[] = []
  for (let start = 0; start < text.length; start += size) pieces.push(text.slice(start, start + size))
  return pieces
}

function resolve(script: FakeScript): ResolvedScript {
  const tokens = script.tokens ?? ['Hello', ',', ' world', '!']
  return {
    ...script,
    tokens,
    toolCalls: script.toolCalls ?? [],
    usage: script.usage ?? { inputTokens: 11, outputTokens: tokens.length },
    tokenDelayMs: script.tokenDelayMs ?? 0,
    embeddingDimensions: script.embeddingDimensions ?? 4,
  }
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms))

/** Starts a fake for any wire format; `basePath` is appended to the URL handed to backends. */
export async function startFakeServer(
  kind: string,
  basePath: string,
  format: FakeWireFormat,
  initial: FakeScript = {},
): Promise<FakeProvider> {
  const requests: RecordedRequest[] = []
  let closedEarly = 0
  let waiters: Array<() => void> = []
  const state = { script: initial }

  const server = createServer({ noDelay: true, keepAliveTimeout: 60_000 }, async (incoming, response) => {
    response.on('close', () => {
      if (response.writableFinished) return
      closedEarly++
      for (const wake of waiters) wake()
    })
    const chunks: Buffer[] = []
    for await (const chunk of incoming) chunks.push(chunk as Buffer)
    const text = Buffer.concat(chunks).toString('utf8')
    let body: unknown = text
    try {
      body = text === '' ? undefined : JSON.parse(text)
    } catch {
      // Not JSON: keep the raw text.
    }
    const url = new URL(incoming.url ?? '/', 'http://fake')
    const request: RecordedRequest = {
      method: incoming.method ?? 'GET',
      path: url.pathname + url.search,
      headers: incoming.headers,
      body,
    }
    requests.push(request)
    const script = resolve(state.script)

    if (script.stallBeforeFirstByte) {
      if (!response.destroyed) await once(response, 'close')
      return
    }
    if (script.error) {
      const { status, headers = {} } = script.error
      response.writeHead(status, { 'content-type': 'application/json', ...headers })
      response.end(JSON.stringify(format.errorBody(script.error)))
      return
    }
    let emitted = 0
    const exchange: FakeExchange = {
      request,
      url,
      response,
      script,
      write: (data) => {
        if (!response.destroyed) response.write(data)
      },
      emitToken: async (data) => {
        if (response.destroyed) return false
        if (script.cutAfterTokens !== undefined && emitted >= script.cutAfterTokens) {
          // Flush what was written, then close the socket mid-body (no terminating chunk).
          const socket = response.socket
          if (socket) await new Promise<void>((done) => socket.end(() => done()))
          socket?.destroy()
          return false
        }
        if (script.stallAfterTokens !== undefined && emitted >= script.stallAfterTokens) {
          await once(response, 'close')
          return false
        }
        if (script.tokenDelayMs > 0) await sleep(script.tokenDelayMs)
        if (response.destroyed) return false
        emitted++
        if (!response.write(data)) await once(response, 'drain').catch(() => undefined)
        return !response.destroyed
      },
      json: (status, value, headers = {}) => {
        response.writeHead(status, { 'content-type': 'application/json', ...headers })
        response.end(JSON.stringify(value))
      },
    }
    try {
      await format.handle(exchange)
    } catch (error) {
      if (!response.headersSent) exchange.json(500, format.errorBody({ status: 500, message: String(error) }))
      else response.socket?.destroy()
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo

  return {
    kind,
    url: `http://127.0.0.1:${port}${basePath}`,
    requests,
    get closedEarly() {
      return closedEarly
    },
    get script() {
      return state.script
    },
    set script(next: FakeScript) {
      state.script = next
    },
    waitForClosedEarly(count = 1, timeoutMs = 2000) {
      if (closedEarly >= count) return Promise.resolve()
      return new Promise<void>((done, fail) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((wake) => wake !== check)
          fail(new FakeProviderError(`${kind} fake: ${closedEarly} early closes after ${timeoutMs} ms`))
        }, timeoutMs)
        const check = () => {
          if (closedEarly < count) return
          clearTimeout(timer)
          waiters = waiters.filter((wake) => wake !== check)
          done()
        }
        waiters.push(check)
      })
    },
    async close() {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}
