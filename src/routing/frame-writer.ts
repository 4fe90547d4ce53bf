/** Writes frames to a libp2p stream, honouring its write backpressure. */
import type { AbortOptions, Stream } from '@libp2p/interface'
import { StreamEndedError } from './frame-reader.js'
import { encodeFrame, type RequestFrame, type ResponseFrame } from './frames.js'

/**
 * Queues one length-prefixed frame as a single muxer write. Returns false
 * when the stream could not hand everything to the muxer: the caller must
 * `await waitWritable(stream)` before producing more (that is what slows a
 * backend down for a slow reader).
 */
export function sendFrame(
  stream: Stream,
  frame: RequestFrame | ResponseFrame,
  maxFrameBytes: number,
): boolean {
  return stream.send(encodeFrame(frame, maxFrameBytes))
}

/**
 * Resolves once the stream's own write buffer is empty. Waiting for one
 * `drain` event is not enough in libp2p 3.3: `drain` also fires on every
 * socket drain of the connection and on any (even tiny) window update, so a
 * producer that resumes on `drain` alone keeps appending to a write buffer
 * the muxer cannot send (measured: the whole 8 MB reply buffered vs ~0.5 MB
 * with this wait). `idle` fires when the buffer is handed to the muxer.
 */
export async function waitWritable(stream: Stream, options: AbortOptions = {}): Promise<void> {
  while (stream.writeBufferLength > 0) {
    if (stream.status !== 'open') throw new StreamEndedError(`stream ${stream.status} while writing`, true)
    options.signal?.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        stream.removeEventListener('idle', done)
        stream.removeEventListener('drain', done)
        stream.removeEventListener('close', done)
        options.signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      const onAbort = (): void => {
        done()
        reject(options.signal?.reason)
      }
      stream.addEventListener('idle', done)
      stream.addEventListener('drain', done)
      stream.addEventListener('close', done)
      options.signal?.addEventListener('abort', onAbort)
    })
  }
}

/** Sends one frame and, if the stream is backed up, waits until it is writable again. */
export async function writeFrame(
  stream: Stream,
  frame: RequestFrame | ResponseFrame,
  maxFrameBytes: number,
  options: AbortOptions = {},
): Promise<void> {
  if (!sendFrame(stream, frame, maxFrameBytes)) await waitWritable(stream, options)
}
