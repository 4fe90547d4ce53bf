/**
 * The face the HTTP gateway, the CLI and library users see of the mesh: ask
 * for a soul's chat or embeddings by `BACKEND[/MODEL]` (or a bare model of
 * the soul's default backend) and get parts back, wherever the owner is.
 *
 * Failures are thrown as `ClawmeshError`s whose `code` is one of
 * `MeshErrorCode` (or a backend code passed through from the owner, e.g.
 * `BACKEND_RATE_LIMITED`); `meshHttpStatus` maps a code to its HTTP status.
 * A failure after the first part (`RoutingError.afterFirstToken`) ends the
 * stream; it is never retried silently.
 */
import type { ChatPart, ChatRequest, EmbedResponse } from '../llm/types.js'

/** A chat request through the mesh. */
export interface MeshChatRequest {
  /** A soul hosted by this peer. */
  soul: string
  /** `BACKEND`, `BACKEND/MODEL`, or a model of the soul's default backend. */
  model: string
  request: Omit<ChatRequest, 'model'>
}

/** An embeddings request through the mesh. */
export interface MeshEmbedRequest {
  soul: string
  model: string
  input: string[]
}

/** A model a soul may use, as `GET /v1/models` lists it. */
export interface MeshModel {
  /** `BACKEND/MODEL`. */
  id: string
  backend: string
  model: string
  /** Names of the nodes that own the backend and that the soul may send to. */
  owners: string[]
}

/** Options of one mesh call. */
export interface MeshCallOptions {
  /** Aborting cancels the call on the owner. */
  signal?: AbortSignal
}

/** The mesh as seen by one peer. */
export interface Mesh {
  /** True when `soul` is hosted by this peer (requests may only name such souls). */
  hostsSoul(soul: string): boolean
  /** Streams a chat reply from the chosen owner. */
  chat(request: MeshChatRequest, options?: MeshCallOptions): AsyncIterable<ChatPart>
  /** Embeds `input` on the chosen owner. */
  embed(request: MeshEmbedRequest, options?: MeshCallOptions): Promise<EmbedResponse>
  /** Models the soul may use (trust rules applied). */
  models(soul: string): Promise<MeshModel[]>
}

/** Codes the mesh itself raises (besides TRUST_* and backend codes). */
export type MeshErrorCode =
  /** The soul is not hosted by this peer. */
  | 'FOREIGN_SOUL'
  /** No node offers that backend, or the backend has no such model. */
  | 'UNKNOWN_BACKEND'
  | 'UNKNOWN_MODEL'
  /** Owners exist, but the trust rules leave none to go to (the message names the rule). */
  | 'NO_ELIGIBLE_OWNER'
  /** Eligible owners exist but none could be reached. */
  | 'OWNER_UNREACHABLE'
  /** Every eligible owner that was tried failed. */
  | 'OWNER_FAILED'
  | 'TIMEOUT'
  | 'BAD_REQUEST'

/** HTTP status for a mesh, trust, routing or backend error code. */
export function meshHttpStatus(code: string): number {
  switch (code) {
    case 'BAD_REQUEST':
    case 'BACKEND_BAD_REQUEST':
    case 'BAD_FRAME':
      return 400
    case 'BACKEND_UNAUTHORIZED':
      return 502
    case 'FOREIGN_SOUL':
    case 'NO_ELIGIBLE_OWNER':
    case 'TRUST_SENSITIVITY':
    case 'TRUST_MIN_TRUST':
    case 'TRUST_UNKNOWN_PEER':
      return 403
    case 'UNKNOWN_BACKEND':
    case 'UNKNOWN_MODEL':
    case 'BACKEND_MODEL_NOT_FOUND':
      return 404
    case 'FRAME_TOO_LARGE':
      return 413
    case 'BACKEND_RATE_LIMITED':
    case 'TOO_MANY_STREAMS':
    case 'OWNER_BUSY':
    case 'RATE_LIMITED':
      return 429
    case 'TIMEOUT':
    case 'BACKEND_TIMEOUT':
    case 'REQUEST_TIMEOUT':
    case 'IDLE_TIMEOUT':
      return 504
    case 'OWNER_UNREACHABLE':
    case 'PEER_UNREACHABLE':
    case 'BACKEND_UNAVAILABLE':
    case 'SHUTTING_DOWN':
      return 503
    default:
      return 502
  }
}
