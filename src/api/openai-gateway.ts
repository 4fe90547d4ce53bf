/**
 * The OpenAI-compatible gateway every peer serves: `POST /v1/chat/completions`
 * (streaming and not), `POST /v1/embeddings` and `GET /v1/models`, on behalf
 * of the soul named by the `x-clawmesh-soul` header. Requests go through the
 * `Mesh` to whichever owner serves the backend; errors are OpenAI-style
 * bodies with the status `meshHttpStatus` gives their code.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ClawmeshError, errorMessage } from '../errors.js'
import { BackendError } from '../llm/errors.js'
import type { Logger } from '../log.js'
import { RoutingError } from '../routing/errors.js'
import { type Mesh, meshHttpStatus } from '../routing/mesh.js'
import { HttpError } from './http-error.js'
import { readJsonBody } from './openai-body.js'
import {
  ChatCompletionBody,
  EmbeddingsBody,
  parseBody,
  toMeshChatRequest,
  toMeshEmbedRequest,
} from './openai-request.js'
import { chatCompletionBody, collectReply, completionIdentity } from './openai-response.js'
import { writeChatStream } from './openai-stream.js'
import { type Route, sendJson } from './server.js'

/** The header that names the calling soul. */
export const SOUL_HEADER = 'x-clawmesh-soul'

/** Options of the gateway routes. */
export interface OpenAIGatewayOptions {
  /** The mesh requests go through. */
  mesh: Mesh
  /**
   * Largest request body accepted, in bytes (the manifest's `max_body_bytes`, default 8 MiB);
   * a function is read per request, so a newer manifest's limit applies at once.
   */
  maxBodyBytes: number | (() => number)
  log: Logger
}

/** The client went away before the reply was complete. */
export class ClientGoneError extends ClawmeshError {
  static override name = 'ClientGoneError'
  constructor() {
    super('CLIENT_GONE', 'the client closed the connection before the reply was complete')
  }
}

/** Maps any failure to the HTTP error the client sees (unknown failures are 500s). */
export function gatewayHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error
  if (error instanceof ClawmeshError) {
    const retryAfterMs = retryAfterMsOf(error)
    return new HttpError(meshHttpStatus(error.code), error.code, error.message, {
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    })
  }
  return new HttpError(500, 'INTERNAL', `internal error: ${errorMessage(error)}`)
}

/** How long the failure asked callers to wait: an owner's rate limit, or a provider's retry-after. */
function retryAfterMsOf(error: ClawmeshError): number | undefined {
  if (error instanceof RoutingError) return error.retryAfterMs
  if (error instanceof BackendError && error.retryAfterSeconds !== undefined)
    return Math.ceil(error.retryAfterSeconds * 1000)
  return undefined
}

/** The soul of the request: present (else 400) and hosted by this peer (else 403). */
function soulOf(request: IncomingMessage, mesh: Mesh): string {
  const header = request.headers[SOUL_HEADER]
  const soul = (Array.isArray(header) ? header[0] : header)?.trim() ?? ''
  if (soul === '')
    throw new HttpError(
      400,
      'MISSING_SOUL',
      `the ${SOUL_HEADER} header is required: it names the calling soul`,
    )
  if (!mesh.hostsSoul(soul))
    throw new HttpError(403, 'FOREIGN_SOUL', `soul "${soul}" is not hosted by this peer`)
  return soul
}

/** An AbortController aborted when the client goes away before the response is finished. */
function disconnectController(response: ServerResponse): AbortController {
  const controller = new AbortController()
  response.once('close', () => {
    if (!response.writableFinished) controller.abort(new ClientGoneError())
  })
  return controller
}

/** The gateway's routes, to hand to `startApiServer`. */
export function openAIRoutes(options: OpenAIGatewayOptions): Route[] {
  const { mesh, log } = options
  const { maxBodyBytes: limit } = options
  const bodyLimit = typeof limit === 'function' ? limit : () => limit

  /** Maps a failure after the stream started (the server no longer sees it), logging server-side ones. */
  const streamHttpError = (error: unknown): HttpError => {
    const httpError = gatewayHttpError(error)
    if (httpError.status >= 500)
      log.error('stream failed after its first byte', { code: httpError.code, error: errorMessage(error) })
    return httpError
  }

  const chatCompletions = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const soul = soulOf(request, mesh)
    const body = parseBody(ChatCompletionBody, await readJsonBody(request, response, bodyLimit()))
    const meshRequest = toMeshChatRequest(soul, body)
    const identity = completionIdentity(meshRequest.model)
    const controller = disconnectController(response)
    const { signal } = controller
    try {
      const iterator = mesh.chat(meshRequest, { signal })[Symbol.asyncIterator]()
      // Pull the first part before any byte is written, so an early failure keeps its status.
      const first = await iterator.next()
      if (signal.aborted) {
        await iterator.return?.()
        return
      }
      if (body.stream === true) {
        await writeChatStream(response, first, iterator, {
          identity,
          includeUsage: body.stream_options?.include_usage === true,
          signal,
          toHttpError: streamHttpError,
        })
        return
      }
      const reply = await collectReply(first, iterator, signal)
      if (signal.aborted) return
      sendJson(response, 200, chatCompletionBody(identity, reply))
    } catch (error) {
      if (signal.aborted) {
        log.debug('client went away', { soul, model: meshRequest.model })
        return
      }
      throw gatewayHttpError(error)
    }
  }

  const embeddings = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const soul = soulOf(request, mesh)
    const body = parseBody(EmbeddingsBody, await readJsonBody(request, response, bodyLimit()))
    const meshRequest = toMeshEmbedRequest(soul, body)
    const { signal } = disconnectController(response)
    let result: Awaited<ReturnType<Mesh['embed']>>
    try {
      result = await mesh.embed(meshRequest, { signal })
    } catch (error) {
      if (signal.aborted) return
      throw gatewayHttpError(error)
    }
    const base64 = body.encoding_format === 'base64'
    const promptTokens = result.usage?.inputTokens ?? 0
    sendJson(response, 200, {
      object: 'list',
      data: result.embeddings.map((embedding, index) => ({
        object: 'embedding',
        index,
        // The official client asks for base64 (little-endian float32) unless told otherwise.
        embedding: base64 ? Buffer.from(new Float32Array(embedding).buffer).toString('base64') : embedding,
      })),
      model: meshRequest.model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    })
  }

  const models = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const soul = soulOf(request, mesh)
    let list: Awaited<ReturnType<Mesh['models']>>
    try {
      list = await mesh.models(soul)
    } catch (error) {
      throw gatewayHttpError(error)
    }
    sendJson(response, 200, {
      object: 'list',
      data: list.map((model) => ({
        id: model.id,
        object: 'model',
        created: 0,
        owned_by: model.owners.join(','),
      })),
    })
  }

  return [
    { method: 'POST', path: '/v1/chat/completions', handler: chatCompletions },
    { method: 'POST', path: '/v1/embeddings', handler: embeddings },
    { method: 'GET', path: '/v1/models', handler: models },
  ]
}
