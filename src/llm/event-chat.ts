/**
 * The streaming chat call shared by the backends whose provider answers with server-sent events
 * read by us (`openai-compatible`, `anthropic`): one keep-alive POST (`postForEvents`), each event
 * turned into parts by the backend's `read`, every part handed over with the call's stall timer
 * paused, and every failure mapped by the backend's `describe` into a `BackendError`.
 */
import { CallGuard, type DescribeFailure } from './call-guard.js'
import { type EventStreamRequest, postForEvents, type StreamingPoster } from './http-stream.js'
import type { SseEvent } from './sse.js'
import type { ChatPart } from './types.js'

/** What one backend contributes to a streaming chat call. */
export interface EventChat {
  /** The backend's name, for errors. */
  label: string
  /** Longest silence of the provider, in milliseconds. */
  timeoutMs: number
  /** Strings no error message may contain (the API key). */
  secrets: readonly string[]
  /** Reads status, message and retry-after from what the SDK would throw. */
  describe: DescribeFailure
  poster: StreamingPoster
  request: Omit<EventStreamRequest, 'signal' | 'label' | 'body'>
  /** The request body, built when the stream is first read (so a bad request fails there, mapped). */
  body(): string
  /** The parts one event carries: none, one, or several. Throws to fail the stream. */
  read(event: SseEvent): ChatPart | Iterable<ChatPart> | undefined
  /** After the last event: the closing parts, or a throw if the stream ended too early. */
  finish(): Iterable<ChatPart>
}

/** Runs the call; aborting `signal` cancels it (`BACKEND_ABORTED`). */
export async function* streamEventChat(chat: EventChat, signal?: AbortSignal): AsyncGenerator<ChatPart> {
  const guard = new CallGuard(`${chat.label}: chat`, chat.timeoutMs, signal)
  try {
    guard.throwIfStopped()
    const events = postForEvents(chat.poster, {
      ...chat.request,
      body: chat.body(),
      signal: guard.signal,
      label: chat.label,
    })
    for await (const batch of events) {
      guard.touch()
      for (const event of batch) {
        const read = chat.read(event)
        if (read === undefined) continue
        if ('type' in read) {
          // The hot path: one part (a text delta), handed over without wrapping it.
          if (read.type === 'end') guard.complete()
          guard.pause()
          yield read
          guard.resume()
          continue
        }
        for (const part of read) {
          // The provider said it is done: from here the connection may be reused, not aborted.
          if (part.type === 'end') guard.complete()
          guard.pause()
          yield part
          guard.resume()
        }
      }
    }
    guard.throwIfStopped()
    const closing = [...chat.finish()]
    guard.complete()
    yield* closing
  } catch (error) {
    throw guard.fail(error, chat.describe, chat.secrets)
  } finally {
    guard.dispose()
  }
}
