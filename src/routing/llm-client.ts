/**
 * The caller side of `/clawmesh/llm/1.0.0`. `chat` streams an owner's reply
 * part by part; `embed` returns its vectors. Leaving a `for await` early, or
 * aborting `signal`, resets the stream so the owner cancels the backend call.
 * Streams that ended a reply cleanly go back to a per-owner pool and carry
 * the next request without a new negotiation (docs/routing.md).
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { ChatPart, EmbedResponse } from '../llm/types.js'
import { createLogger, type Logger } from '../log.js'
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_POOL_IDLE_MS,
  DEFAULT_POOL_MAX_IDLE_PER_PEER,
  LLM_PROTOCOL,
  MAX_OUTBOUND_STREAMS,
  RECEIVE_WINDOW_BYTES,
} from './constants.js'
import { FrameError, FrameTimeoutError, RoutingError } from './errors.js'
import { capReceiveWindow, FrameReader, StreamEndedError } from './frame-reader.js'
import { writeFrame } from './frame-writer.js'
import { type ChatFrame, type EmbedFrame, parseResponseFrame, type ResponseFrame } from './frames.js'
import { type PooledStream, StreamPool } from './stream-pool.js'

/** A `chat` request frame without its `type`. */
export type ChatCall = Omit<ChatFrame, 'type'>
/** An `embed` request frame without its `type`. */
export type EmbedCall = Omit<EmbedFrame, 'type'>

/** Options of one call. */
export interface CallOptions {
  /** Aborting resets the stream; the owner cancels the backend call. */
  signal?: AbortSignal
}

/** Options of `LlmClient`; all but `node` optional. */
export interface LlmClientInit {
  node: Pick<Libp2p, 'dialProtocol'>
  /** Protocol ID. Default: `/clawmesh/llm/1.0.0`. */
  protocol?: string
  /** Largest frame accepted from an owner. Default: 8 MiB + 64 KiB. */
  maxFrameBytes?: number
  /** Keep-alive pool; `false` opens a new stream per request. Default: on, 16 idle per owner, 20 s. */
  pool?: false | { maxIdlePerPeer?: number; idleMs?: number }
  /**
   * Longest silence of the owner between response frames; ends a stream whose
   * owner vanished without a TCP close. Default: owner's idle timeout + 10 s.
   */
  responseTimeoutMs?: number
  logger?: Logger
}

/** Calls backends owned by other peers. */
export class LlmClient {
  readonly protocol: string
  readonly #node: Pick<Libp2p, 'dialProtocol'>
  readonly #maxFrameBytes: number
  readonly #responseTimeoutMs: number
  readonly #pool: StreamPool | undefined
  readonly #log: Logger

  constructor(init: LlmClientInit) {
    this.#node = init.node
    this.protocol = init.protocol ?? LLM_PROTOCOL
    this.#maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.#responseTimeoutMs = init.responseTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS + 10_000
    this.#log = init.logger ?? createLogger('routing:llm-client')
    this.#pool =
      init.pool === false
        ? undefined
        : new StreamPool({
            maxIdlePerPeer: init.pool?.maxIdlePerPeer ?? DEFAULT_POOL_MAX_IDLE_PER_PEER,
            idleMs: init.pool?.idleMs ?? DEFAULT_POOL_IDLE_MS,
          })
  }

  /** Idle pooled streams to `peer`. */
  pooled(peer: PeerId): number {
    return this.#pool?.size(peer.toString()) ?? 0
  }

  /** Closes every pooled stream. */
  close(): void {
    this.#pool?.clear()
  }

  /** Streams a chat reply from `peer`. Throws `RoutingError` (with `afterFirstToken`) on failure. */
  async *chat(
    peer: PeerId,
    call: ChatCall,
    options: CallOptions = {},
  ): AsyncGenerator<ChatPart, void, undefined> {
    const exchange = await this.#start(peer, { type: 'chat', ...call }, options.signal)
    let received = false
    try {
      for (;;) {
        const frame = received ? await this.#read(exchange, received, options.signal) : exchange.first
        if (frame.type === 'parts') {
          if (frame.parts[frame.parts.length - 1]?.type === 'end') {
            // The exchange is over: the stream can serve the next request while the caller reads.
            this.#release(exchange)
            yield* frame.parts
            return
          }
          received = true
          yield* frame.parts
          continue
        }
        throw this.#unexpected(frame, received)
      }
    } finally {
      if (!exchange.released) this.#discard(exchange, 'chat ended early')
    }
  }

  /** Embeds `call.request.input` on `peer`. Throws `RoutingError` on failure. */
  async embed(peer: PeerId, call: EmbedCall, options: CallOptions = {}): Promise<EmbedResponse> {
    const exchange = await this.#start(peer, { type: 'embed', ...call }, options.signal)
    try {
      const frame = exchange.first
      if (frame.type !== 'embedding') throw this.#unexpected(frame, false)
      this.#release(exchange)
      return frame.response
    } finally {
      if (!exchange.released) this.#discard(exchange, 'embed failed')
    }
  }

  /** Sends the request and reads the first response frame; retries once on a fresh stream if a pooled one was stale. */
  async #start(
    peer: PeerId,
    frame: ChatFrame | EmbedFrame,
    signal: AbortSignal | undefined,
  ): Promise<Exchange> {
    const reused = this.#pool?.take(peer.toString())
    if (reused) {
      const exchange = this.#exchange(reused, signal)
      try {
        await this.#send(exchange, frame)
        exchange.first = await this.#read(exchange, false, signal)
        return exchange
      } catch (error) {
        this.#discard(exchange, 'pooled stream failed')
        // Nothing came back on a reused stream: the owner retired it as we sent. A new stream is safe.
        const stale = error instanceof RoutingError && error.code === 'STREAM_CLOSED' && !error.remote
        if (!stale || signal?.aborted) throw error
        this.#log.debug('pooled stream was stale; opening a new one', { peer: peer.toString() })
      }
    }
    const exchange = this.#exchange(await this.#open(peer, signal), signal)
    try {
      await this.#send(exchange, frame)
      exchange.first = await this.#read(exchange, false, signal)
      return exchange
    } catch (error) {
      this.#discard(exchange, 'request failed')
      throw error
    }
  }

  async #open(peer: PeerId, signal: AbortSignal | undefined): Promise<PooledStream> {
    try {
      const stream = await this.#node.dialProtocol(peer, this.protocol, {
        maxOutboundStreams: MAX_OUTBOUND_STREAMS,
        ...(signal ? { signal } : {}),
      })
      capReceiveWindow(stream, RECEIVE_WINDOW_BYTES)
      const reader = new FrameReader(stream, { maxFrameBytes: this.#maxFrameBytes })
      return { stream, reader, peer: peer.toString(), uses: 0 }
    } catch (error) {
      if (signal?.aborted) throw aborted(error)
      throw new RoutingError(
        'PEER_UNREACHABLE',
        `cannot open ${this.protocol} to ${peer}: ${messageOf(error)}`,
        {
          retryable: true,
          cause: error,
        },
      )
    }
  }

  #exchange(pooled: PooledStream, signal: AbortSignal | undefined): Exchange {
    pooled.uses++
    const exchange: Exchange = { pooled, released: false, first: placeholder, onAbort: undefined, signal }
    if (signal) {
      if (signal.aborted) {
        this.#discard(exchange, 'aborted before sending')
        throw aborted(signal.reason)
      }
      exchange.onAbort = () =>
        pooled.stream.abort(new RoutingError('ABORTED', 'caller aborted', { retryable: false }))
      signal.addEventListener('abort', exchange.onAbort, { once: true })
    }
    return exchange
  }

  async #send(exchange: Exchange, frame: ChatFrame | EmbedFrame): Promise<void> {
    try {
      await writeFrame(exchange.pooled.stream, frame, this.#maxFrameBytes)
    } catch (error) {
      throw this.#transportError(error, false, exchange.signal)
    }
  }

  async #read(
    exchange: Exchange,
    received: boolean,
    signal: AbortSignal | undefined,
  ): Promise<ResponseFrame> {
    try {
      const body = await exchange.pooled.reader.next({ timeoutMs: this.#responseTimeoutMs })
      if (body === null) throw new StreamEndedError('owner closed the stream before the reply ended', false)
      const frame = parseResponseFrame(body)
      if (frame.type === 'error') {
        // An error frame ends the exchange cleanly; the stream can carry the next request.
        this.#release(exchange)
        throw new RoutingError(frame.code, frame.message, {
          retryable: frame.retryable && !received,
          afterFirstToken: received,
          remote: true,
        })
      }
      return frame
    } catch (error) {
      throw this.#transportError(error, received, signal)
    }
  }

  #transportError(error: unknown, received: boolean, signal: AbortSignal | undefined): RoutingError {
    if (signal?.aborted) return aborted(error)
    if (error instanceof RoutingError) return error
    const options = { retryable: !received, afterFirstToken: received, cause: error }
    if (error instanceof StreamEndedError) return new RoutingError('STREAM_CLOSED', error.message, options)
    if (error instanceof FrameTimeoutError) {
      return new RoutingError('RESPONSE_TIMEOUT', `owner silent for ${this.#responseTimeoutMs} ms`, options)
    }
    if (error instanceof FrameError) {
      return new RoutingError(error.code, `bad frame from owner: ${error.message}`, {
        ...options,
        retryable: false,
      })
    }
    return new RoutingError('STREAM_CLOSED', messageOf(error), options)
  }

  #unexpected(frame: ResponseFrame, received: boolean): RoutingError {
    return new RoutingError('BAD_FRAME', `unexpected "${frame.type}" frame from owner`, {
      retryable: false,
      afterFirstToken: received,
    })
  }

  #release(exchange: Exchange): void {
    exchange.released = true
    this.#unbind(exchange)
    if (this.#pool) this.#pool.put(exchange.pooled)
    else {
      exchange.pooled.reader.dispose()
      exchange.pooled.stream.close().catch(() => {})
    }
  }

  /** Resets the stream: the owner sees the reset and aborts its backend call. */
  #discard(exchange: Exchange, reason: string): void {
    if (exchange.released) return
    exchange.released = true
    this.#unbind(exchange)
    exchange.pooled.reader.dispose()
    exchange.pooled.stream.abort(new RoutingError('ABORTED', reason, { retryable: false }))
  }

  #unbind(exchange: Exchange): void {
    if (exchange.onAbort) exchange.signal?.removeEventListener('abort', exchange.onAbort)
  }
}

interface Exchange {
  pooled: PooledStream
  released: boolean
  first: ResponseFrame
  onAbort: (() => void) | undefined
  signal: AbortSignal | undefined
}

const placeholder: ResponseFrame = {
  type: 'error',
  code: 'INTERNAL',
  message: 'no frame yet',
  retryable: false,
}

function aborted(cause: unknown): RoutingError {
  return new RoutingError('ABORTED', 'the call was aborted', { retryable: false, cause })
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
