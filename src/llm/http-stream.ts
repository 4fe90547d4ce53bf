/**
 * One streaming POST over a keep-alive connection, with `node:http` / `node:https` directly.
 *
 * Used where a provider SDK's request machinery is the cost on the owner's hot path: the `openai`
 * SDK plus `fetch` spent about 0.65 ms of CPU per chat request before the first byte on this
 * machine (SDK request building 0.22 ms, `fetch` 0.27 + 0.17 ms), on the critical path of every
 * token's first hop (BENCHMARKS.md, "Gateway"). Errors keep the SDK's shapes: the caller turns a
 * non-2xx answer becomes the SDK's own `APIError` (`EventStreamRequest.apiError`).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { BackendError } from './errors.js'
import { SseDecoder, type SseEvent } from './sse.js'

/** Largest error body read from a failed request; the rest is dropped. */
const MAX_ERROR_BODY_BYTES = 64 * 1024

/** A keep-alive client for one base URL. */
export class StreamingPoster {
  readonly #agent: HttpAgent
  readonly #request: typeof httpRequest

  constructor(url: string) {
    const secure = new URL(url).protocol === 'https:'
    this.#agent = secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true })
    this.#request = secure ? httpsRequest : httpRequest
  }

  /** POSTs `body`; resolves with the response once its headers are in. Aborting `signal` destroys the request. */
  post(
    url: URL,
    headers: Record<string, string>,
    body: string,
    signal: AbortSignal,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const request = this.#request(url, {
        method: 'POST',
        agent: this.#agent,
        signal,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      })
      request.once('response', resolve)
      request.once('error', reject)
      request.end(body)
    })
  }

  /** Closes idle connections. */
  close(): void {
    this.#agent.destroy()
  }
}

/**
 * The text of a failed response's body and its headers as a `Headers`. A body over 64 KiB is cut
 * there and its connection dropped (a broken server must not keep us reading an error forever).
 */
async function readErrorBody(response: IncomingMessage): Promise<{ text: string; headers: Headers }> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of response as AsyncIterable<Buffer>) {
    chunks.push(chunk)
    size += chunk.length
    if (size >= MAX_ERROR_BODY_BYTES) {
      response.destroy()
      break
    }
  }
  const headers = new Headers()
  for (const [name, value] of Object.entries(response.headers)) {
    if (Array.isArray(value)) for (const item of value) headers.append(name, item)
    else if (value !== undefined) headers.set(name, value)
  }
  return { text: Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY_BYTES).toString('utf8'), headers }
}

/** An SDK's `APIError` class (`openai`, `@anthropic-ai/sdk`): `generate` picks the subclass for a status. */
export interface SdkErrorClass {
  generate(
    status: number | undefined,
    body: object | undefined,
    message: string | undefined,
    headers: Headers | undefined,
  ): Error
}

/** One streaming POST whose reply is a server-sent event stream. */
export interface EventStreamRequest {
  url: URL
  headers: Record<string, string>
  body: string
  /** Aborts the request (the caller's timeout and cancellation). */
  signal: AbortSignal
  /** Names the stream in errors (the backend's name). */
  label: string
  /** The SDK's error class: a non-2xx reply becomes `apiError.generate(status, body, …)`, as the SDK throws it. */
  apiError: SdkErrorClass
}

/**
 * POSTs and yields the reply's events, all the events each network chunk completes at once (an
 * empty array for a chunk that completes none, so the caller still sees activity).
 */
export async function* postForEvents(
  poster: StreamingPoster,
  request: EventStreamRequest,
): AsyncGenerator<SseEvent[]> {
  const response = await poster.post(request.url, request.headers, request.body, request.signal)
  const status = response.statusCode ?? 0
  if (status < 200 || status > 299) {
    const { text, headers } = await readErrorBody(response)
    const body = jsonObject(text)
    // A body that is not JSON only goes into the message: its first kilobyte says what happened.
    throw request.apiError.generate(
      status,
      body,
      body === undefined ? text.slice(0, 1024) : undefined,
      headers,
    )
  }
  const decoder = new SseDecoder(request.label)
  for await (const chunk of response as AsyncIterable<Buffer>) yield decoder.push(chunk)
  const rest = decoder.end()
  if (rest.length > 0) yield rest
}

/** `data` parsed as JSON, or a `BACKEND_PROTOCOL` error naming the backend. */
export function parseEventData(data: string, label: string): unknown {
  try {
    return JSON.parse(data)
  } catch {
    throw new BackendError('BACKEND_PROTOCOL', `${label}: a stream event is not JSON`, { retryable: true })
  }
}

function jsonObject(text: string): object | undefined {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null ? value : undefined
  } catch {
    return undefined
  }
}
