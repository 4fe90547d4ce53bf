/**
 * The peer's local HTTP API: a flat route table on node:http. Bound to
 * loopback unless the operator asks otherwise. Every handler's failure
 * becomes an OpenAI-style JSON error; an unexpected one is a 500 and is
 * logged, and the server keeps serving.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import { HttpError } from './http-error.js'

/** One route's handler. Throw `HttpError` for client-visible failures. */
export type RouteHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
) => Promise<void> | void

/** A route: method plus exact path. */
export interface Route {
  method: 'GET' | 'POST'
  path: string
  handler: RouteHandler
}

/** Options of the API server. */
export interface ApiServerOptions {
  host: string
  port: number
  routes: Route[]
  log: Logger
  /** Connections open at once; more are closed on arrival. Default: 4096. */
  maxConnections?: number
}

/** Default cap on open connections to one API. */
export const DEFAULT_MAX_API_CONNECTIONS = 4096

/** Is `host` (an address or name, without port or brackets) a loopback one? */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

/**
 * DNS rebinding guard of a loopback API: a web page on another origin whose
 * name was made to resolve to 127.0.0.1 still sends its own name in `Host`.
 * Only loopback names and the bound address are accepted (a request without
 * `Host`, HTTP/1.0, carries no name to judge and passes).
 */
export function hostAllowed(hostHeader: string | undefined, boundHost: string): boolean {
  if (hostHeader === undefined || hostHeader === '') return true
  const name = hostHeader.startsWith('[')
    ? hostHeader.slice(1, hostHeader.indexOf(']'))
    : (hostHeader.split(':')[0] ?? '')
  return isLoopbackHost(name.toLowerCase()) || name === boundHost
}

/** A running API server. */
export interface ApiServer {
  readonly server: Server
  /** `http://host:port` as bound (with the real port when 0 was asked). */
  readonly url: string
  close(): Promise<void>
}

/** Writes `body` as JSON with `status`. */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body)
  response.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  })
  response.end(text)
}

/** Starts the API server and resolves once it listens. */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { log } = options
  const routes = new Map(options.routes.map((route) => [`${route.method} ${route.path}`, route.handler]))
  const paths = new Set(options.routes.map((route) => route.path))
  const loopback = isLoopbackHost(options.host.replace(/^\[|\]$/g, ''))
  const server = createServer((request, response) => {
    let url: URL
    try {
      url = new URL(request.url ?? '/', 'http://localhost')
    } catch {
      // An absolute-form target such as `http://[x` is not a URL: thrown here, it would crash the process.
      sendJson(response, 400, new HttpError(400, 'BAD_URL', 'request target is not a valid URL').toBody())
      return
    }
    if (loopback && !hostAllowed(request.headers.host, options.host)) {
      const error = new HttpError(
        403,
        'HOST_NOT_ALLOWED',
        `Host "${request.headers.host}" is not this loopback API (DNS rebinding guard): use 127.0.0.1, localhost or [::1]`,
      )
      sendJson(response, 403, error.toBody())
      return
    }
    const handler = routes.get(`${request.method ?? 'GET'} ${url.pathname}`)
    const run = async (): Promise<void> => {
      if (handler === undefined) {
        if (paths.has(url.pathname))
          throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${request.method} not allowed`)
        throw new HttpError(404, 'NOT_FOUND', `no route ${url.pathname}`)
      }
      await handler(request, response, url)
    }
    run().catch((error: unknown) => {
      const httpError =
        error instanceof HttpError
          ? error
          : new HttpError(500, 'INTERNAL', `internal error: ${errorMessage(error)}`)
      // Requests cut short by an orderly stop are expected, not failures of this peer.
      if (httpError.code === 'SHUTTING_DOWN')
        log.info('request ended by shutdown', { path: url.pathname, error: errorMessage(error) })
      else if (httpError.status >= 500)
        log.error('request failed', { path: url.pathname, error: errorMessage(error) })
      if (response.headersSent) {
        response.destroy()
        return
      }
      sendJson(response, httpError.status, httpError.toBody(), httpError.headers())
    })
  })
  // A slow client must not hold a socket forever.
  server.headersTimeout = 10_000
  server.requestTimeout = 0
  server.keepAliveTimeout = 5_000
  server.maxConnections = options.maxConnections ?? DEFAULT_MAX_API_CONNECTIONS
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    server,
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
