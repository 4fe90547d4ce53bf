/**
 * Reading a JSON request body under a hard byte limit and a time limit. A
 * declared `content-length` over the limit is refused before any byte is
 * read; a chunked body is refused as soon as it crosses the limit, and what
 * the client still sends is discarded by node:http, never buffered.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { HttpError } from './http-error.js'

/** Time allowed to receive a whole body once its headers arrived. */
export const BODY_TIMEOUT_MS = 30_000

/** Reads `request`'s body (at most `maxBytes`) and parses it as JSON. */
export async function readJsonBody(
  request: IncomingMessage,
  response: ServerResponse,
  maxBytes: number,
): Promise<unknown> {
  const text = await readBody(request, response, maxBytes)
  if (text.trim() === '')
    throw new HttpError(400, 'INVALID_JSON', 'request body is empty; expected a JSON object')
  try {
    return JSON.parse(text)
  } catch (error) {
    const reason = error instanceof SyntaxError ? error.message : 'not JSON'
    throw new HttpError(400, 'INVALID_JSON', `request body is not valid JSON: ${reason}`)
  }
}

function tooLarge(response: ServerResponse, maxBytes: number): HttpError {
  // The rest of the body is not read into memory: close the connection after the reply.
  response.setHeader('connection', 'close')
  return new HttpError(413, 'BODY_TOO_LARGE', `request body is larger than the limit of ${maxBytes} bytes`)
}

/**
 * Reads `request`'s body as text under the same byte and time bounds: the one
 * body reader of every route (JSON or not).
 */
export function readTextBody(
  request: IncomingMessage,
  response: ServerResponse,
  maxBytes: number,
): Promise<string> {
  return readBody(request, response, maxBytes)
}

function readBody(request: IncomingMessage, response: ServerResponse, maxBytes: number): Promise<string> {
  const declared = Number(request.headers['content-length'])
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(tooLarge(response, maxBytes))
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const timer = setTimeout(() => {
      finish()
      response.setHeader('connection', 'close')
      reject(new HttpError(408, 'BODY_TIMEOUT', `request body not received within ${BODY_TIMEOUT_MS} ms`))
    }, BODY_TIMEOUT_MS)
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > maxBytes) {
        finish()
        chunks.length = 0
        reject(tooLarge(response, maxBytes))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      finish()
      resolve(Buffer.concat(chunks, size).toString('utf8'))
    }
    const onError = (error: Error): void => {
      finish()
      reject(new HttpError(400, 'BODY_UNREADABLE', `request body could not be read: ${error.message}`))
    }
    const onClose = (): void => {
      if (request.complete) return
      finish()
      reject(
        new HttpError(400, 'BODY_UNREADABLE', 'client closed the connection before the body was complete'),
      )
    }
    function finish(): void {
      clearTimeout(timer)
      request.off('data', onData)
      request.off('end', onEnd)
      request.off('error', onError)
      request.off('close', onClose)
    }
    request.on('data', onData)
    request.on('end', onEnd)
    request.on('error', onError)
    request.on('close', onClose)
  })
}
