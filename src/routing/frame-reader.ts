/**
 * Reads length-prefixed frames from a libp2p stream, one at a time, with a
 * size bound, an optional deadline per frame, and read backpressure: once
 * more than `highWaterMark` bytes are received but not yet taken, the stream
 * is paused (yamux then stops granting send window, so the sender's
 * `send()` returns false) and resumed when the consumer catches up. A frame
 * still arriving never pauses the stream (it is bounded by `maxFrameBytes`).
 */
import type { Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { DEFAULT_READ_HIGH_WATER_MARK } from './constants.js'
import { FrameError, FrameTimeoutError } from './errors.js'

/** Options of a `FrameReader`. */
export interface FrameReaderOptions {
  maxFrameBytes: number
  /** Pause the stream past this many received, untaken bytes. Default: 64 KiB. */
  highWaterMark?: number
}

/** Options of one `next()` call. */
export interface NextFrameOptions {
  /** Reject with `FrameTimeoutError` if no frame arrives within this many milliseconds. */
  timeoutMs?: number
}

/** The stream ended before a frame boundary, or was reset/aborted. */
export class StreamEndedError extends FrameError {
  static override name = 'StreamEndedError'
  /** The remote reset or the transport failed (rather than a clean end between frames). */
  readonly reset: boolean

  constructor(message: string, reset: boolean) {
    super('BAD_FRAME', message)
    this.reset = reset
  }
}

interface Waiter {
  resolve(frame: Uint8Array | null): void
  reject(error: Error): void
}

/**
 * Stops yamux from growing `stream`'s receive window past `bytes`. Yamux
 * (libp2p 3.3) doubles a stream's window up to 16 MiB while the reader keeps
 * up, and `pause()` only withholds *further* window updates: a grown window
 * lets the sender run megabytes ahead of a slow reader (and past the 4 MiB
 * read-buffer limit, which aborts the stream). Capping it keeps backpressure
 * tight. No-op on muxers without the property.
 */
export function capReceiveWindow(stream: Stream, bytes: number): void {
  const muxed = stream as Stream & { maxStreamWindowSize?: unknown }
  if (typeof muxed.maxStreamWindowSize === 'number' && muxed.maxStreamWindowSize > bytes) {
    muxed.maxStreamWindowSize = bytes
  }
}

/** Reads frames from `stream`; `next()` resolves with a frame body or `null` at a clean end. */
export class FrameReader {
  readonly #stream: Stream
  readonly #maxFrameBytes: number
  readonly #highWaterMark: number
  readonly #buffer = new Uint8ArrayList()
  readonly #frames: Uint8Array[] = []
  #queuedBytes = 0
  #paused = false
  #remoteClosed = false
  #failure: Error | undefined
  #waiter: Waiter | undefined
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(stream: Stream, options: FrameReaderOptions) {
    this.#stream = stream
    this.#maxFrameBytes = options.maxFrameBytes
    this.#highWaterMark = options.highWaterMark ?? DEFAULT_READ_HIGH_WATER_MARK
    stream.addEventListener('message', this.#onMessage)
    stream.addEventListener('remoteCloseWrite', this.#onRemoteCloseWrite)
    stream.addEventListener('close', this.#onClose)
  }

  /** Frames (or a terminal state) are waiting to be taken. */
  get hasBuffered(): boolean {
    return this.#frames.length > 0 || this.#buffer.byteLength > 0
  }

  /** The remote will send nothing more (clean end, reset or failure). */
  get ended(): boolean {
    return this.#remoteClosed || this.#failure !== undefined
  }

  /** Every byte the remote sent has been decoded and the remote closed its side cleanly. */
  get #drained(): boolean {
    return this.#remoteClosed && this.#buffer.byteLength === 0 && this.#stream.readBufferLength === 0
  }

  /** Resolves with the next frame body, `null` after a clean end; rejects on size, reset or timeout. */
  next(options: NextFrameOptions = {}): Promise<Uint8Array | null> {
    const frame = this.#frames.shift()
    if (frame !== undefined) {
      this.#queuedBytes -= frame.byteLength
      this.#maybeResume()
      return Promise.resolve(frame)
    }
    if (this.#failure) return Promise.reject(this.#failure)
    if (this.#drained) return Promise.resolve(null)
    if (this.#waiter) return Promise.reject(new FrameError('BAD_FRAME', 'concurrent next() on one reader'))
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject }
      if (options.timeoutMs !== undefined) {
        this.#timer = setTimeout(() => {
          this.#settle(undefined, new FrameTimeoutError(`no frame within ${options.timeoutMs} ms`))
        }, options.timeoutMs)
      }
    })
  }

  /** Stops listening to the stream (the stream itself is left as it is). */
  dispose(): void {
    this.#stream.removeEventListener('message', this.#onMessage)
    this.#stream.removeEventListener('remoteCloseWrite', this.#onRemoteCloseWrite)
    this.#stream.removeEventListener('close', this.#onClose)
    if (this.#timer) clearTimeout(this.#timer)
    this.#waiter = undefined
  }

  #settle(frame: Uint8Array | null | undefined, error?: Error): void {
    const waiter = this.#waiter
    if (!waiter) return
    this.#waiter = undefined
    if (this.#timer) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    if (error) waiter.reject(error)
    else waiter.resolve(frame ?? null)
  }

  readonly #onMessage = (event: StreamMessageEvent): void => {
    if (this.#failure) return
    this.#buffer.append(event.data)
    try {
      this.#decode()
    } catch (error) {
      this.#fail(error as Error)
      return
    }
    const frame = this.#frames.shift()
    if (frame !== undefined && this.#waiter) {
      this.#queuedBytes -= frame.byteLength
      this.#settle(frame)
    } else if (frame !== undefined) {
      this.#frames.unshift(frame)
    }
    // Only complete, untaken frames count: a partial frame (bounded by maxFrameBytes, refused on its prefix
    // past it) can only complete with more bytes, so pausing on it stalled any frame over the mark for ever.
    if (!this.#paused && this.#queuedBytes > this.#highWaterMark) {
      this.#paused = true
      if (this.#stream.readStatus === 'readable') this.#stream.pause()
    }
    this.#checkEnd()
  }

  readonly #onRemoteCloseWrite = (): void => {
    this.#remoteClosed = true
    this.#checkEnd()
  }

  /** After the remote's clean end: a partial frame is an error, otherwise a waiting `next()` gets `null`. */
  #checkEnd(): void {
    if (!this.#remoteClosed || this.#stream.readBufferLength > 0 || this.#failure) return
    if (this.#buffer.byteLength > 0) {
      this.#fail(new StreamEndedError('stream ended inside a frame', false))
      return
    }
    if (this.#frames.length === 0) this.#settle(null)
  }

  readonly #onClose = (event: StreamCloseEvent): void => {
    if (event.error !== undefined || !this.#remoteClosed) {
      const reason = event.error ? `stream reset: ${event.error.message}` : 'stream closed before its end'
      this.#fail(new StreamEndedError(reason, true))
      return
    }
    this.#onRemoteCloseWrite()
  }

  #fail(error: Error): void {
    if (this.#failure) return
    this.#failure = error
    this.#frames.length = 0
    this.#queuedBytes = 0
    this.#settle(undefined, error)
  }

  /** Moves every complete frame from the byte buffer to the frame queue. */
  #decode(): void {
    for (;;) {
      const available = this.#buffer.byteLength
      if (available === 0) return
      // Unsigned LEB128 length, at most 5 bytes (< 2^35, and we cap far lower).
      let length = 0
      let shift = 0
      let offset = 0
      for (;;) {
        if (offset >= available) return // length prefix not complete yet
        if (offset >= 5) throw new FrameError('BAD_FRAME', 'length prefix longer than 5 bytes')
        const byte = this.#buffer.get(offset)
        length += (byte & 0x7f) * 2 ** shift
        shift += 7
        offset += 1
        if ((byte & 0x80) === 0) break
      }
      if (length > this.#maxFrameBytes) {
        throw new FrameError('FRAME_TOO_LARGE', `frame of ${length} bytes exceeds ${this.#maxFrameBytes}`)
      }
      if (available < offset + length) return
      const body = this.#buffer.subarray(offset, offset + length)
      this.#buffer.consume(offset + length)
      this.#frames.push(body)
      this.#queuedBytes += body.byteLength
    }
  }

  #maybeResume(): void {
    if (this.#paused && this.#queuedBytes <= this.#highWaterMark / 2) {
      this.#paused = false
      if (this.#stream.readStatus === 'paused') this.#stream.resume()
    }
  }
}
