/**
 * The owner side of `/clawmesh/llm/1.0.0`: serves this peer's backends to
 * other peers. Every inbound stream is bounded (frame size, streams per
 * peer, time to the request frame, backend silence), re-checks the trust
 * rules through `authorize`, cancels the backend call when the caller resets
 * the stream, and stops pulling from the backend while the caller is not
 * reading (backpressure). A stream is kept open after each reply for the
 * caller's next request (keep-alive, see docs/routing.md).
 */
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { ClawmeshError, errorMessage } from '../errors.js'
import { BackendError } from '../llm/errors.js'
import type { ChatPart, LLMBackend } from '../llm/types.js'
import { createLogger, type Logger } from '../log.js'
import { DEFAULT_LLM_REQUEST_BURST, DEFAULT_LLM_REQUESTS_PER_SECOND, RateLimiter } from '../net/rate-limit.js'
import {
  DEFAULT_BATCH_BYTES,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_STREAMS_PER_PEER,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SERVER_KEEP_ALIVE_MS,
  LLM_PROTOCOL,
  MAX_OUTBOUND_STREAMS,
} from './constants.js'
import { FrameError, FrameTimeoutError, LimitError } from './errors.js'
import { FrameReader, StreamEndedError } from './frame-reader.js'
import { sendFrame, waitWritable, writeFrame } from './frame-writer.js'
import {
  type ChatFrame,
  type EmbedFrame,
  frameBounds,
  parseRequestFrame,
  type RequestFrame,
  type ResponseFrame,
} from './frames.js'
import { PartBatcher } from './part-batcher.js'

/** Bounds an owner applies to every caller. All optional; defaults in constants.ts. */
export interface LLMServiceLimits {
  /** Largest frame in either direction, bytes. */
  maxFrameBytes?: number
  /** Open streams one remote peer may hold (pooled idle streams count). */
  maxStreamsPerPeer?: number
  /** Time from stream open to its first request frame. */
  requestTimeoutMs?: number
  /** Longest silence of the backend between parts; for `embed`, the whole call. */
  idleTimeoutMs?: number
  /** How long a stream waits for the next request after a reply (keep-alive). */
  keepAliveMs?: number
  /** Flush a `parts` frame at about this many bytes. */
  maxBatchBytes?: number
  /** Merge deltas that are ready together into one (`routing.merge_deltas`). Default: true. */
  mergeDeltas?: boolean
  /** Request frames one remote peer may send per second, sustained (token bucket). Default: 50. */
  requestsPerSecond?: number
  /** Request frames one remote peer may send at once from a full bucket. Default: 100. */
  requestBurst?: number
}

/** What `authorize` is told about one request. */
export interface AuthorizeContext {
  /** The caller, as authenticated by Noise (never a claim inside the frame). */
  remotePeer: PeerId
  frame: RequestFrame
}

/** Options of `LLMService`. */
export interface LLMServiceOptions {
  node: Pick<Libp2p, 'handle' | 'unhandle'>
  /** The local backend a request names, or `undefined` (answered with `UNKNOWN_BACKEND`). */
  resolveBackend(name: string): LLMBackend | undefined
  /** Throws a `TrustError` (or any `ClawmeshError`) to refuse; its code and message go to the caller. */
  authorize(context: AuthorizeContext): void | Promise<void>
  limits?: LLMServiceLimits
  /** Protocol ID. Default: `/clawmesh/llm/1.0.0`. */
  protocol?: string
  log?: Logger
}

/** Serves `/clawmesh/llm/1.0.0` on a node between `start()` and `stop()`. */
export class LLMService {
  readonly protocol: string
  readonly #init: LLMServiceOptions
  #limits: Required<LLMServiceLimits>
  readonly #log: Logger
  readonly #streamsByPeer = new Map<string, number>()
  readonly #streams = new Set<Stream>()
  readonly #rate: RateLimiter
  #inFlight = 0
  #started = false

  constructor(init: LLMServiceOptions) {
    this.#init = init
    this.protocol = init.protocol ?? LLM_PROTOCOL
    this.#log = init.log ?? createLogger('routing:llm-service')
    const limits = init.limits ?? {}
    this.#limits = {
      maxFrameBytes: limits.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      maxStreamsPerPeer: limits.maxStreamsPerPeer ?? DEFAULT_MAX_STREAMS_PER_PEER,
      requestTimeoutMs: limits.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      idleTimeoutMs: limits.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      keepAliveMs: limits.keepAliveMs ?? DEFAULT_SERVER_KEEP_ALIVE_MS,
      maxBatchBytes: limits.maxBatchBytes ?? DEFAULT_BATCH_BYTES,
      mergeDeltas: limits.mergeDeltas ?? true,
      requestsPerSecond: limits.requestsPerSecond ?? DEFAULT_LLM_REQUESTS_PER_SECOND,
      requestBurst: limits.requestBurst ?? DEFAULT_LLM_REQUEST_BURST,
    }
    this.#rate = new RateLimiter({
      ratePerSecond: this.#limits.requestsPerSecond,
      burst: this.#limits.requestBurst,
    })
  }

  /**
   * Applies new limits from a newer manifest: frame size, streams per peer and
   * delta merging apply to the next stream; libp2p's own inbound cap, which
   * stays above ours, is re-registered with the handler.
   */
  async setLimits(
    limits: Pick<LLMServiceLimits, 'maxFrameBytes' | 'maxStreamsPerPeer' | 'mergeDeltas'>,
  ): Promise<void> {
    const before = this.#limits.maxStreamsPerPeer
    this.#limits = {
      ...this.#limits,
      ...(limits.maxFrameBytes === undefined ? {} : { maxFrameBytes: limits.maxFrameBytes }),
      ...(limits.maxStreamsPerPeer === undefined ? {} : { maxStreamsPerPeer: limits.maxStreamsPerPeer }),
      ...(limits.mergeDeltas === undefined ? {} : { mergeDeltas: limits.mergeDeltas }),
    }
    if (this.#started && before !== this.#limits.maxStreamsPerPeer) {
      await this.#init.node.unhandle(this.protocol)
      this.#started = false
      await this.start()
    }
  }

  /** Registers the protocol handler. */
  async start(): Promise<void> {
    if (this.#started) return
    // libp2p's own per-connection inbound cap stays above ours, so callers get a TOO_MANY_STREAMS frame, not a
    // bare reset. The outbound cap applies to this node's LLMClient too (libp2p reads it from the handler).
    const cap = this.#limits.maxStreamsPerPeer * 2 + 8
    await this.#init.node.handle(this.protocol, (stream, connection) => this.#handle(stream, connection), {
      maxInboundStreams: cap,
      maxOutboundStreams: MAX_OUTBOUND_STREAMS,
    })
    this.#started = true
  }

  /** Unregisters the handler and resets every open stream (callers fail over before their first token). */
  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    await this.#init.node.unhandle(this.protocol)
    for (const stream of this.#streams) stream.abort(new ClawmeshError('SHUTTING_DOWN', 'owner is stopping'))
  }

  /** Requests being served right now (for the health gossip). */
  inFlight(): number {
    return this.#inFlight
  }

  /** Open streams, idle keep-alive streams included. */
  openStreams(): number {
    return this.#streams.size
  }

  async #handle(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    const open = this.#streamsByPeer.get(peer) ?? 0
    const { maxFrameBytes } = this.#limits
    if (open >= this.#limits.maxStreamsPerPeer) {
      this.#log.warn('too many streams', { peer, open })
      await this.#finish(stream, limitFrame('TOO_MANY_STREAMS', `at most ${open} open streams per peer`))
      return
    }
    this.#streamsByPeer.set(peer, open + 1)
    this.#streams.add(stream)
    const reader = new FrameReader(stream, { maxFrameBytes })
    try {
      let first = true
      for (;;) {
        let body: Uint8Array | null
        try {
          body = await reader.next({
            timeoutMs: first ? this.#limits.requestTimeoutMs : this.#limits.keepAliveMs,
          })
        } catch (error) {
          if (error instanceof FrameTimeoutError) {
            // A fresh stream must bring its request in time; a kept-alive one is simply retired.
            if (first) await this.#finish(stream, limitFrame('REQUEST_TIMEOUT', 'no request frame in time'))
            else await closeQuietly(stream)
            return
          }
          // A caller that resets an idle stream has simply gone; anything else is a bad frame.
          if (!(error instanceof StreamEndedError && error.reset)) await this.#refuseFrame(stream, error)
          return
        }
        if (body === null) {
          await closeQuietly(stream)
          return
        }
        first = false
        // Charged before parsing, so garbage costs a token too. The frame was read whole: the stream stays in sync.
        const rate = this.#rate.take(peer)
        if (!rate.allowed) {
          const message = `over ${this.#limits.requestsPerSecond} requests/s: retry in ${rate.retryAfterMs} ms`
          const refusal = {
            ...limitFrame('RATE_LIMITED', message),
            retryAfterMs: Math.ceil(rate.retryAfterMs),
          }
          if (!(await this.#reply(stream, refusal))) return
          continue
        }
        let frame: RequestFrame
        try {
          frame = parseRequestFrame(body)
        } catch (error) {
          await this.#refuseFrame(stream, error)
          return
        }
        const reusable = await this.#serve(stream, connection.remotePeer, frame)
        if (!reusable || stream.status !== 'open' || stream.writeStatus !== 'writable') {
          if (stream.status === 'open')
            stream.abort(new ClawmeshError('STREAM_RETIRED', 'stream not reusable'))
          return
        }
      }
    } catch (error) {
      // Never let one stream take the handler down: log, reset, move on.
      this.#log.error('stream failed', { peer, error: errorMessage(error) })
      stream.abort(error instanceof Error ? error : new ClawmeshError('INTERNAL', errorMessage(error)))
    } finally {
      reader.dispose()
      this.#streams.delete(stream)
      const left = (this.#streamsByPeer.get(peer) ?? 1) - 1
      if (left === 0) this.#streamsByPeer.delete(peer)
      else this.#streamsByPeer.set(peer, left)
    }
  }

  /** Serves one request; resolves true if the stream may carry another. */
  async #serve(stream: Stream, remotePeer: PeerId, frame: RequestFrame): Promise<boolean> {
    const backend = this.#init.resolveBackend(frame.backend)
    try {
      if (backend === undefined) {
        throw new ClawmeshError('UNKNOWN_BACKEND', `no backend "${frame.backend}" on this peer`)
      }
      const verdict = this.#init.authorize({ remotePeer, frame })
      if (verdict instanceof Promise) await verdict
    } catch (error) {
      this.#log.info('request refused', {
        peer: remotePeer.toString(),
        id: frame.id,
        error: errorMessage(error),
      })
      return this.#reply(stream, toErrorFrame(error, this.#log))
    }
    this.#inFlight++
    const controller = new AbortController()
    const onClose = (): void => controller.abort(new ClawmeshError('CALLER_GONE', 'caller closed the stream'))
    stream.addEventListener('close', onClose)
    try {
      return frame.type === 'chat'
        ? await this.#chat(stream, backend, frame, controller)
        : await this.#embed(stream, backend, frame, controller)
    } finally {
      stream.removeEventListener('close', onClose)
      this.#inFlight--
    }
  }

  async #chat(
    stream: Stream,
    backend: LLMBackend,
    frame: ChatFrame,
    controller: AbortController,
  ): Promise<boolean> {
    const { maxFrameBytes, maxBatchBytes, idleTimeoutMs, mergeDeltas } = this.#limits
    const signal = controller.signal
    let batcher: PartBatcher | undefined
    try {
      batcher = new PartBatcher(backend.chat(frame.request, { signal })[Symbol.asyncIterator](), {
        maxBatchBytes,
        idleTimeoutMs,
        merge: mergeDeltas,
        signal,
      })
      let ended = false
      for (;;) {
        const parts: ChatPart[] | null = await batcher.next()
        if (parts === null) break
        if (parts[parts.length - 1]?.type === 'end') ended = true
        // Wait for the caller to take what we sent before pulling more from the backend.
        if (!sendFrame(stream, { type: 'parts', parts }, maxFrameBytes))
          await waitWritable(stream, { signal })
        if (ended) return true
      }
      throw new BackendError('BACKEND_PROTOCOL', 'backend stream ended without an end part')
    } catch (error) {
      if (signal.aborted || stream.status !== 'open') return false // caller gone: nothing to tell
      // A stalled or failed call is cancelled before the caller hears about it.
      controller.abort(error)
      return this.#reply(stream, toErrorFrame(error, this.#log))
    } finally {
      batcher?.stop()
    }
  }

  async #embed(
    stream: Stream,
    backend: LLMBackend,
    frame: EmbedFrame,
    controller: AbortController,
  ): Promise<boolean> {
    const { idleTimeoutMs, maxFrameBytes } = this.#limits
    const signal = controller.signal
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      const response = await Promise.race([
        backend.embed(frame.request, { signal }),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(
            () => reject(new LimitError('IDLE_TIMEOUT', `embedding took over ${idleTimeoutMs} ms`)),
            idleTimeoutMs,
          )
          signal.addEventListener('abort', () => reject(signal.reason), { once: true })
        }),
      ])
      await writeFrame(stream, { type: 'embedding', response }, maxFrameBytes, { signal })
      return true
    } catch (error) {
      if (signal.aborted || stream.status !== 'open') return false
      controller.abort(error)
      return this.#reply(stream, toErrorFrame(error, this.#log))
    } finally {
      clearTimeout(timer)
    }
  }

  /** Sends a final error frame; the stream stays usable. */
  async #reply(stream: Stream, frame: ResponseFrame): Promise<boolean> {
    try {
      await writeFrame(stream, frame, this.#limits.maxFrameBytes)
      return true
    } catch {
      return false
    }
  }

  /** A frame we cannot read leaves the stream out of sync: say why, then reset. */
  async #refuseFrame(stream: Stream, error: unknown): Promise<void> {
    if (error instanceof FrameError && stream.status === 'open' && stream.writeStatus === 'writable') {
      this.#log.warn('bad frame', { code: error.code, error: error.message })
      try {
        await writeFrame(
          stream,
          { type: 'error', code: error.code, message: error.message, retryable: false },
          4096,
        )
      } catch {}
    }
    stream.abort(error instanceof Error ? error : new ClawmeshError('BAD_FRAME', errorMessage(error)))
  }

  /** Sends a final error frame and closes our side; resets if the caller does not close within a second. */
  async #finish(stream: Stream, frame: ResponseFrame): Promise<void> {
    try {
      await writeFrame(stream, frame, this.#limits.maxFrameBytes, { signal: AbortSignal.timeout(1000) })
      await stream.close({ signal: AbortSignal.timeout(1000) })
      setTimeout(
        () => stream.abort(new ClawmeshError('STREAM_RETIRED', 'caller kept the stream open')),
        1000,
      ).unref()
    } catch (error) {
      stream.abort(error instanceof Error ? error : new ClawmeshError('INTERNAL', errorMessage(error)))
    }
  }
}

function limitFrame(code: LimitError['code'] | 'RATE_LIMITED', message: string): ResponseFrame {
  return { type: 'error', code, message, retryable: true }
}

/** A message cut to what an error frame may carry (a provider's error page can be long). */
function fitMessage(message: string): string {
  const max = frameBounds.errorMessage
  return message.length <= max ? message : `${message.slice(0, max - 1)}…`
}

/** Maps any failure to an `error` frame; unknown errors become `INTERNAL` without their details. */
function toErrorFrame(error: unknown, log: Logger): ResponseFrame {
  if (error instanceof BackendError) {
    return {
      type: 'error',
      code: error.code,
      message: fitMessage(error.message),
      retryable: error.retryable,
      // The provider's retry-after (a rate limit), for the caller's own clients.
      ...(error.retryAfterSeconds === undefined
        ? {}
        : { retryAfterMs: Math.min(86_400_000, Math.ceil(error.retryAfterSeconds * 1000)) }),
    }
  }
  if (error instanceof LimitError) return limitFrame(error.code, error.message)
  if (error instanceof ClawmeshError) {
    // Another owner may hold the backend (a stale advert); a refusal or a bad request will not change.
    return {
      type: 'error',
      code: error.code,
      message: fitMessage(error.message),
      retryable: error.code === 'UNKNOWN_BACKEND',
    }
  }
  log.error('backend failed', { error: errorMessage(error) })
  return { type: 'error', code: 'INTERNAL', message: 'internal error on the owner', retryable: false }
}

async function closeQuietly(stream: Stream): Promise<void> {
  try {
    await stream.close({ signal: AbortSignal.timeout(1000) })
  } catch {
    stream.abort(new ClawmeshError('STREAM_RETIRED', 'close timed out'))
  }
}
