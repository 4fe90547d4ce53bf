/**
 * The caller side of `/clawmesh/llm/1.0.0`. `chat` streams an owner's reply
 * part by part; `embed` returns its vectors. Leaving a `for await` early, or
 * aborting `signal`, resets the stream so the owner cancels the backend call.
 * Streams that ended a reply cleanly go back to a per-owner pool and carry
 * the next request without a new negotiation (docs/routing.md). At most
 * `maxStreamsPerPeer` streams per owner exist at a time, counted the way the
 * owner counts them (idle pooled streams included); further requests wait in
 * a bounded FIFO queue (`owner-queue.ts`).
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { ChatPart, EmbedResponse } from '../llm/types.js'
import { createLogger, type Logger } from '../log.js'
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_STREAMS_PER_PEER,
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
import { DEFAULT_MAX_QUEUED_PER_PEER, OwnerQueue, type OwnerSlot } from './owner-queue.js'
import { isReusable, type PooledStream, StreamPool } from './stream-pool.js'

/** A `chat` request frame without its `type`. */
export type ChatCall = Omit<ChatFrame, 'type'>
/** An `embed` request frame without its `type`. */
export type EmbedCall = Omit<EmbedFrame, 'type'>

/** Options of one call. */
export interface CallOptions {
  /** Aborting resets the stream; the owner cancels the backend call. */
  signal?: AbortSignal
}

/** Options of `LLMClient`; all but `node` optional. */
export interface LLMClientOptions {
  node: Pick<Libp2p, 'dialProtocol'>
  /** Protocol ID. Default: `/clawmesh/llm/1.0.0`. */
  protocol?: string
  /** Largest frame accepted from an owner. Default: 8 MiB + 64 KiB. */
  maxFrameBytes?: number
  /**
   * Streams per owner, in flight plus idle plus closing: the owner's `maxStreamsPerPeer` (its refusal limit).
   * Default: the manifest default (64).
   */
  maxStreamsPerPeer?: number
  /** Requests that may wait for a stream per owner; one more fails with `OWNER_BUSY`. Default: 1024. */
  maxQueuedPerPeer?: number
  /** Keep-alive pool; `false` opens a new stream per request. Default: on, 16 idle per owner, 20 s. */
  pool?: false | { maxIdlePerPeer?: number; idleMs?: number }
  /**
   * Longest silence of the owner between response frames; ends a stream whose
   * owner vanished without a TCP close. Default: owner's idle timeout + 10 s.
   */
  responseTimeoutMs?: number
  log?: Logger
}

/** Calls backends owned by other peers. */
export class LLMClient {
  readonly protocol: string
  readonly #node: Pick<Libp2p, 'dialProtocol'>
  #maxFrameBytes: number
  readonly #responseTimeoutMs: number
  readonly #pool: StreamPool | undefined
  readonly #queue: OwnerQueue<PooledStream>
  readonly #log: Logger

  constructor(init: LLMClientOptions) {
    this.#node = init.node
    this.protocol = init.protocol ?? LLM_PROTOCOL
    this.#maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.#responseTimeoutMs = init.responseTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS + 10_000
    this.#log = init.log ?? createLogger('routing:llm-client')
    const limit = init.maxStreamsPerPeer ?? DEFAULT_MAX_STREAMS_PER_PEER
    this.#queue = new OwnerQueue({ limit, maxQueued: init.maxQueuedPerPeer ?? DEFAULT_MAX_QUEUED_PER_PEER })
    this.#pool =
      init.pool === false
        ? undefined
        : new StreamPool({
            maxIdlePerPeer: Math.min(limit, init.pool?.maxIdlePerPeer ?? DEFAULT_POOL_MAX_IDLE_PER_PEER),
            idleMs: init.pool?.idleMs ?? DEFAULT_POOL_IDLE_MS,
          })
  }

  /** Applies a newer manifest's frame and per-owner stream limits to the next requests. */
  setLimits(limits: { maxFrameBytes: number; maxStreamsPerPeer: number }): void {
    this.#maxFrameBytes = limits.maxFrameBytes
    this.#queue.setLimit(limits.maxStreamsPerPeer)
  }

  /** Streams to `peer` counted against its limit: in flight, idle in the pool, or closing. */
  streams(peer: PeerId): number {
    return this.#queue.active(peer.toString())
  }

  /** Requests waiting for a stream to `peer`. */
  waiting(peer: PeerId): number {
    return this.#queue.waiting(peer.toString())
  }

  /** Idle pooled streams to `peer`. */
  pooled(peer: PeerId): number {
    return this.#pool?.size(peer.toString()) ?? 0
  }

  /** Closes every pooled stream and fails every waiting request with `SHUTTING_DOWN`. */
  close(): void {
    this.#queue.rejectAll(
      new RoutingError('SHUTTING_DOWN', 'the LLM client is closing', { retryable: false }),
    )
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

  /**
   * Waits for a stream (a pooled or handed-over one, or a slot to open one), sends the request and reads
   * the first response frame. Retries once on a fresh stream if a reused one was stale, and a few times
   * (briefly backing off) if the owner has not yet counted a stream we closed and refuses a new one.
   */
  async #start(
    peer: PeerId,
    frame: ChatFrame | EmbedFrame,
    signal: AbortSignal | undefined,
  ): Promise<Exchange> {
    const key = peer.toString()
    let grant = await this.#admit(key, signal)
    let staleRetried = false
    for (let crowded = 0; ; ) {
      const reused = 'stream' in grant
      let pooled: PooledStream
      try {
        pooled = 'stream' in grant ? grant : await this.#open(peer, grant, signal)
      } catch (error) {
        // The owner reset the new stream during negotiation: libp2p's own per-connection cap still
        // counts streams we reset a moment ago (our side frees a slot at once, the owner when the
        // reset arrives). Seen when many clients leave at once and queued requests take their slots.
        if (crowded >= CROWDED_RETRIES || signal?.aborted || !isStreamRefusal(error)) throw error
        crowded++
        await delay(2 ** crowded, signal).catch((abortError: unknown) => {
          throw aborted(abortError)
        })
        grant = await this.#admit(key, signal)
        continue
      }
      const exchange = this.#exchange(pooled, signal)
      try {
        await this.#send(exchange, frame)
        exchange.first = await this.#read(exchange, false, signal)
        return exchange
      } catch (error) {
        const local = error instanceof RoutingError && !error.remote
        // Nothing came back on a reused stream: the owner retired it as we sent. A new stream is safe.
        const stale = reused && !staleRetried && local && error.code === 'STREAM_CLOSED'
        // The owner still counts a stream we closed or reset a moment ago; it lets go within microseconds.
        const early =
          !reused &&
          crowded < CROWDED_RETRIES &&
          error instanceof RoutingError &&
          error.remote &&
          error.code === 'TOO_MANY_STREAMS'
        if ((!stale && !early) || signal?.aborted || exchange.released) {
          // The stream keeps its slot: pooled, handed on, or freed when the reset closes it.
          this.#discard(exchange, reused ? 'reused stream failed' : 'request failed')
          throw error
        }
        // Keep the slot for the retry: the failed stream's close must not hand it to the next in line.
        const slot = pooled.slot
        pooled.slot = undefined
        this.#discard(exchange, reused ? 'reused stream failed' : 'request failed')
        if (stale) {
          staleRetried = true
          this.#log.debug('pooled stream was stale; opening a new one', { peer: key })
        } else {
          crowded++
          try {
            await delay(2 ** crowded, signal)
          } catch (abortError) {
            slot?.release()
            throw aborted(abortError)
          }
        }
        grant = slot ?? (await this.#admit(key, signal))
      }
    }
  }

  /** A stream to reuse, or a slot to open one: at once if the owner has room, else in FIFO order. */
  async #admit(key: string, signal: AbortSignal | undefined): Promise<PooledStream | OwnerSlot> {
    if (this.#queue.waiting(key) === 0) {
      const idle = this.#pool?.take(key)
      if (idle) return idle
      const slot = this.#queue.tryAcquire(key)
      if (slot) return slot
    }
    const grant = await this.#queue.wait(key, signal)
    return 'handed' in grant ? grant.handed : grant.slot
  }

  /** Opens a stream holding `slot`; the slot is freed when the stream is gone (or the dial fails). */
  async #open(peer: PeerId, slot: OwnerSlot, signal: AbortSignal | undefined): Promise<PooledStream> {
    try {
      const stream = await this.#node.dialProtocol(peer, this.protocol, {
        maxOutboundStreams: MAX_OUTBOUND_STREAMS,
        ...(signal ? { signal } : {}),
      })
      capReceiveWindow(stream, RECEIVE_WINDOW_BYTES)
      const reader = new FrameReader(stream, { maxFrameBytes: this.#maxFrameBytes })
      const pooled: PooledStream = { stream, reader, peer: peer.toString(), uses: 0, slot }
      // 'close' fires once the stream is gone both ways (clean close, reset or abort): the owner lets go too.
      const onClose = (): void => {
        const held = pooled.slot
        pooled.slot = undefined
        held?.release()
      }
      stream.addEventListener('close', onClose, { once: true })
      if (stream.status !== 'open') onClose()
      return pooled
    } catch (error) {
      slot.release()
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
        // An error frame ends the exchange cleanly; the stream can carry the next request. Not a refusal
        // for too many streams: the owner closes that stream, and the caller may retry with its slot.
        if (frame.code !== 'TOO_MANY_STREAMS') this.#release(exchange)
        throw new RoutingError(frame.code, frame.message, {
          retryable: frame.retryable && !received,
          afterFirstToken: received,
          remote: true,
          ...(frame.retryAfterMs === undefined ? {} : { retryAfterMs: frame.retryAfterMs }),
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
    const pooled = exchange.pooled
    if (this.#pool) {
      // Someone is waiting for this owner: the stream (and its slot) goes straight to them.
      if (isReusable(pooled) && this.#queue.handOff(pooled.peer, pooled)) return
      this.#pool.put(pooled)
    } else {
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

/** Retries of a request the owner refused with `TOO_MANY_STREAMS` although we had a slot (2, 4, 8, 16, 32 ms). */
const CROWDED_RETRIES = 5

/** A new stream the owner reset while negotiating (the connection itself is fine). */
function isStreamRefusal(error: unknown): boolean {
  const cause = error instanceof RoutingError ? error.cause : undefined
  const name = cause instanceof Error ? cause.name : undefined
  return name === 'UnexpectedEOFError' || name === 'StreamResetError'
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason)
      return
    }
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

function aborted(cause: unknown): RoutingError {
  return new RoutingError('ABORTED', 'the call was aborted', { retryable: false, cause })
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
