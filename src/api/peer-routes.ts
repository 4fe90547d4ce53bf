/**
 * The peer's own HTTP routes beside the gateway faces: liveness, the status
 * view, metrics, the dashboard, and `POST /manifest` (a newer signed manifest
 * handed to this peer, which checks, adopts and spreads it).
 */
import { MAX_MANIFEST_BYTES } from '../control/manifest-sync.js'
import type { StatusView } from '../control/status-view.js'
import { errorMessage } from '../errors.js'
import { sendDashboard } from './dashboard.js'
import { HttpError } from './http-error.js'
import { type PeerMetrics, sendMetrics } from './metrics.js'
import { readTextBody } from './openai-body.js'
import { type Route, sendJson } from './server.js'

/** What the routes read from the peer. */
export interface PeerRoutesOptions {
  /** The view `GET /status` answers. */
  statusView(): Promise<StatusView>
  metrics: PeerMetrics
  /** Checks and adopts a newer signed manifest's text; throws a coded error when it is refused. */
  offerManifest(text: string): Promise<{ version: number | undefined }>
}

/** `GET /healthz`, `GET /status`, `GET /metrics`, `GET /`, `POST /manifest`. */
export function peerRoutes(options: PeerRoutesOptions): Route[] {
  return [
    {
      method: 'GET',
      path: '/healthz',
      handler: (_request, response) => sendJson(response, 200, { ok: true }),
    },
    {
      method: 'POST',
      path: '/manifest',
      handler: async (request, response) => {
        const text = await readTextBody(request, response, MAX_MANIFEST_BYTES)
        try {
          sendJson(response, 200, { adopted: true, ...(await options.offerManifest(text)) })
        } catch (error) {
          const code = (error as { code?: string }).code ?? 'MANIFEST_REFUSED'
          throw new HttpError(code === 'MANIFEST_INVALID' ? 400 : 409, code, errorMessage(error))
        }
      },
    },
    {
      method: 'GET',
      path: '/status',
      handler: async (_request, response) => sendJson(response, 200, await options.statusView()),
    },
    {
      method: 'GET',
      path: '/metrics',
      handler: (_request, response) => sendMetrics(response, options.metrics),
    },
    { method: 'GET', path: '/', handler: (_request, response) => sendDashboard(response) },
  ]
}
