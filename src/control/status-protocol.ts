/**
 * `/clawmesh/status/1.0.0`: any member asks the Mission Control for its
 * aggregated status view. The caller sends no request frame (the server reads
 * nothing; a future version may add filters); the server answers with exactly
 * one length-prefixed JSON frame and closes: `{ view }` when it is the Mission
 * Control, else `{ error: 'NOT_MISSION_CONTROL', message, leader }` naming the
 * leader it knows, so the caller can follow it. Non-members get `NOT_MEMBER`,
 * a peer over its stream cap gets `TOO_MANY_STREAMS`. Every stream is bounded
 * by a frame size and a timeout, on both sides.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { z } from 'zod'
import { ClawmeshError, errorMessage } from '../errors.js'
import { createLogger, type Logger } from '../log.js'
import { STATUS_PROTOCOL } from '../net/constants.js'
import type { ClawmeshNode } from '../net/create-node.js'
import { StatusView } from './status-view.js'

/** Largest reply frame either side accepts (4 MiB). */
export const MAX_STATUS_FRAME_BYTES = 4 * 1024 * 1024
/** Time a server gives itself to write its reply (ms). */
export const DEFAULT_STATUS_SERVE_TIMEOUT_MS = 2_000
/** Time a caller waits for a reply by default (ms). */
export const DEFAULT_STATUS_FETCH_TIMEOUT_MS = 2_000
/** Status streams one peer may hold open at a time. */
export const DEFAULT_STATUS_STREAMS_PER_PEER = 4

/** Codes of a failed status fetch. */
export type StatusProtocolErrorCode =
  | 'NOT_MISSION_CONTROL'
  | 'NOT_MEMBER'
  | 'TOO_MANY_STREAMS'
  | 'VIEW_TOO_LARGE'
  | 'STATUS_TIMEOUT'
  | 'STATUS_UNREACHABLE'
  | 'BAD_FRAME'

/** The Mission Control a peer names (peer ID, name, term). */
export const LeaderRef = z.object({
  peerId: z.string(),
  name: z.string(),
  term: z.number().int().nonnegative(),
})
export type LeaderRef = z.infer<typeof LeaderRef>

/** The one reply frame: a view, or an error with a stable code (and the leader the server knows). */
export const StatusReply = z.union([
  z.object({ view: StatusView }),
  z.object({ error: z.string(), message: z.string(), leader: LeaderRef.nullable().optional() }),
])
export type StatusReply = z.infer<typeof StatusReply>

/** A status fetch failed; `leader` is set when the peer asked was not the Mission Control and knows who is. */
export class StatusProtocolError extends ClawmeshError {
  static override name = 'StatusProtocolError'
  declare readonly code: StatusProtocolErrorCode
  /** The Mission Control the refusing peer named, if any. */
  readonly leader: LeaderRef | undefined

  constructor(
    code: StatusProtocolErrorCode,
    message: string,
    options: { leader?: LeaderRef | undefined; cause?: unknown } = {},
  ) {
    super(code, message, { cause: options.cause })
    this.leader = options.leader
  }
}

/** Options of `StatusService`; the callbacks are read on every request. */
export interface StatusServiceOptions {
  node: Pick<ClawmeshNode, 'handle' | 'unhandle'>
  /** True when this peer is the Mission Control right now. */
  isMissionControl: () => boolean
  /** The Mission Control this peer knows (named in `NOT_MISSION_CONTROL` replies). */
  missionControl: () => LeaderRef | undefined
  /** The aggregated view to serve while this peer is the Mission Control. */
  view: () => StatusView
  /** Is the caller a federation member? Non-members are refused. */
  isMember: (peerId: string) => boolean
  /** Largest reply frame (bytes). Default: 4 MiB. */
  maxFrameBytes?: number
  /** Time to write the reply (ms). Default: 2000. */
  timeoutMs?: number
  /** Open status streams allowed per caller. Default: 4. */
  maxStreamsPerPeer?: number
  log?: Logger
}

/** Serves the status protocol while started. */
export class StatusService {
  readonly maxFrameBytes: number
  readonly timeoutMs: number
  readonly maxStreamsPerPeer: number
  readonly #options: StatusServiceOptions
  readonly #log: Logger
  readonly #openByPeer = new Map<string, number>()
  readonly #streams = new Set<Stream>()
  #started = false
  #served = 0

  constructor(options: StatusServiceOptions) {
    this.#options = options
    this.maxFrameBytes = options.maxFrameBytes ?? MAX_STATUS_FRAME_BYTES
    this.timeoutMs = options.timeoutMs ?? DEFAULT_STATUS_SERVE_TIMEOUT_MS
    this.maxStreamsPerPeer = options.maxStreamsPerPeer ?? DEFAULT_STATUS_STREAMS_PER_PEER
    this.#log = options.log ?? createLogger('control:status')
  }

  /** Registers the handler. */
  async start(): Promise<void> {
    if (this.#started) return
    // libp2p's own per-connection cap stays above ours so a caller over our cap gets a frame, not a bare reset.
    await this.#options.node.handle(
      STATUS_PROTOCOL,
      (stream, connection) => this.#serve(stream, connection),
      {
        maxInboundStreams: this.maxStreamsPerPeer * 2 + 4,
      },
    )
    this.#started = true
  }

  /** Unregisters the handler and aborts streams still being served. */
  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    await this.#options.node.unhandle(STATUS_PROTOCOL).catch(() => undefined)
    for (const stream of this.#streams) stream.abort(new ClawmeshError('SHUTTING_DOWN', 'peer is stopping'))
    this.#streams.clear()
  }

  /** Is the handler registered? */
  get running(): boolean {
    return this.#started
  }

  /** Views served since start (for tests and logs). */
  get servedCount(): number {
    return this.#served
  }

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const caller = connection.remotePeer.toString()
    const signal = AbortSignal.timeout(this.timeoutMs)
    const open = this.#openByPeer.get(caller) ?? 0
    this.#openByPeer.set(caller, open + 1)
    this.#streams.add(stream)
    try {
      const writer = lpStream(stream, { maxDataLength: this.maxFrameBytes })
      await writer.write(this.#reply(caller, open), { signal })
      await stream.close({ signal })
    } catch (error) {
      this.#log.debug('status stream failed', { peer: caller, error: errorMessage(error) })
      stream.abort(error instanceof Error ? error : new ClawmeshError('STATUS_STREAM', errorMessage(error)))
    } finally {
      this.#streams.delete(stream)
      const left = (this.#openByPeer.get(caller) ?? 1) - 1
      if (left <= 0) this.#openByPeer.delete(caller)
      else this.#openByPeer.set(caller, left)
    }
  }

  /** The encoded reply frame for `caller`, already holding `open` other streams. */
  #reply(caller: string, open: number): Uint8Array {
    const encode = (reply: StatusReply): Uint8Array => new TextEncoder().encode(JSON.stringify(reply))
    if (!this.#options.isMember(caller)) {
      this.#log.warn('status request from a non-member refused', { peer: caller })
      return encode({ error: 'NOT_MEMBER', message: 'not a member of this federation' })
    }
    if (open >= this.maxStreamsPerPeer) {
      return encode({
        error: 'TOO_MANY_STREAMS',
        message: `at most ${this.maxStreamsPerPeer} status streams per peer`,
      })
    }
    if (!this.#options.isMissionControl()) {
      return encode({
        error: 'NOT_MISSION_CONTROL',
        message: 'this peer is not the Mission Control',
        leader: this.#options.missionControl() ?? null,
      })
    }
    const frame = encode({ view: this.#options.view() })
    if (frame.byteLength > this.maxFrameBytes) {
      this.#log.error('status view over the frame limit', { bytes: frame.byteLength })
      return encode({ error: 'VIEW_TOO_LARGE', message: `view is ${frame.byteLength} bytes` })
    }
    this.#served++
    return frame
  }
}

/** Options of `fetchViewFrom`. */
export interface FetchViewOptions {
  /** Whole-exchange deadline (dial, negotiate, read). Default: 2000 ms. */
  timeoutMs?: number
  /** Cancels the fetch early. */
  signal?: AbortSignal
  /** Largest reply frame accepted. Default: 4 MiB. */
  maxFrameBytes?: number
}

/** Asks `peerId` for the Mission Control's view; validates the reply with the `StatusView` schema. */
export async function fetchViewFrom(
  node: Pick<ClawmeshNode, 'dialProtocol'>,
  peerId: PeerId,
  options: FetchViewOptions = {},
): Promise<StatusView> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_STATUS_FETCH_TIMEOUT_MS
  const timeout = AbortSignal.timeout(timeoutMs)
  const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal])
  const failed = (error: unknown, what: string): StatusProtocolError => {
    if (error instanceof StatusProtocolError) return error
    const name = error instanceof Error ? error.name : ''
    if (frameErrors.has(name))
      return new StatusProtocolError('BAD_FRAME', `status reply from ${peerId}: ${errorMessage(error)}`, {
        cause: error,
      })
    if (timeout.aborted)
      return new StatusProtocolError('STATUS_TIMEOUT', `no status from ${peerId} within ${timeoutMs} ms`, {
        cause: error,
      })
    return new StatusProtocolError('STATUS_UNREACHABLE', `${what} ${peerId}: ${errorMessage(error)}`, {
      cause: error,
    })
  }
  let stream: Stream
  try {
    stream = await node.dialProtocol(peerId, STATUS_PROTOCOL, { signal })
  } catch (error) {
    throw failed(error, 'cannot open a status stream to')
  }
  let body: unknown
  try {
    const reader = lpStream(stream, { maxDataLength: options.maxFrameBytes ?? MAX_STATUS_FRAME_BYTES })
    const frame = await reader.read({ signal })
    try {
      body = JSON.parse(new TextDecoder().decode(frame.subarray()))
    } catch (error) {
      throw new StatusProtocolError('BAD_FRAME', `status reply from ${peerId} is not JSON`, { cause: error })
    }
    await stream.close({ signal }).catch(() => undefined)
  } catch (error) {
    stream.abort(error instanceof Error ? error : new ClawmeshError('STATUS_STREAM', errorMessage(error)))
    throw failed(error, 'cannot read the status reply of')
  }
  const reply = StatusReply.safeParse(body)
  if (!reply.success) throw new StatusProtocolError('BAD_FRAME', `status reply from ${peerId} is malformed`)
  if ('view' in reply.data) return reply.data.view
  const code = knownCodes.has(reply.data.error) ? (reply.data.error as StatusProtocolErrorCode) : 'BAD_FRAME'
  throw new StatusProtocolError(code, `${peerId}: ${reply.data.message}`, {
    leader: reply.data.leader ?? undefined,
  })
}

/** What `lpStream` throws for a frame over the limit or a bad length prefix. */
const frameErrors = new Set([
  'InvalidDataLengthError',
  'InvalidDataLengthLengthError',
  'InvalidMessageLengthError',
])

const knownCodes = new Set<string>([
  'NOT_MISSION_CONTROL',
  'NOT_MEMBER',
  'TOO_MANY_STREAMS',
  'VIEW_TOO_LARGE',
])
