/**
 * The streaming reply: mesh parts written as OpenAI `chat.completion.chunk`
 * server-sent events, byte-compatible with what api.openai.com sends.
 *
 * Parts that arrive together (one frame from the owner carries several) are
 * written as they are pulled, without waiting per token; node:http corks the
 * socket for the rest of the tick on a response's first write, so a burst
 * leaves in one `writev`. (Do not add `response.cork()` here: on Node 24,
 * `end()` sends the terminating chunk before it flushes the chunks a corked
 * response buffered, and the client never sees them.) A slow
 * reader slows the pull from the mesh: when `write` returns false, the next
 * part is pulled only after `drain`.
 */

import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import type { ServerResponse } from 'node:http'
import type { ChatPart, Usage } from '../llm/types.js'
import type { HttpError } from './http-error.js'
import {
  type CompletionIdentity,
  IncompleteReplyError,
  openAIFinishReason,
  openAIUsage,
} from './openai-response.js'

/** Options of one streamed reply. */
export interface ChatStreamOptions {
  identity: CompletionIdentity
  /** `stream_options.include_usage`: every chunk carries `usage: null`, and a last chunk carries the usage. */
  includeUsage: boolean
  /** Aborted when the client went away: stop writing and pulling. */
  signal: AbortSignal
  /** Maps a failure after the first byte to the error event's body. */
  toHttpError(error: unknown): HttpError
}

interface CallState {
  /** Arguments already sent as deltas. */
  sent: string
}

/**
 * Writes the SSE reply. `first` was already pulled from `iterator` (so that
 * a failure before any part could still be a plain JSON error); this writes
 * the headers. A failure later becomes one `data: {"error": …}` event and
 * the stream ends without `[DONE]`.
 */
export async function writeChatStream(
  response: ServerResponse,
  first: IteratorResult<ChatPart>,
  iterator: AsyncIterator<ChatPart>,
  options: ChatStreamOptions,
): Promise<void> {
  const { identity, includeUsage, signal } = options
  const head = `data: {"id":${JSON.stringify(identity.id)},"object":"chat.completion.chunk","created":${identity.created},"model":${JSON.stringify(identity.model)},"choices":`
  const tail = includeUsage ? ',"usage":null}\n\n' : '}\n\n'
  const chunk = (delta: unknown, finishReason: string | null = null): string =>
    `${head}[{"index":0,"delta":${JSON.stringify(delta)},"logprobs":null,"finish_reason":${JSON.stringify(finishReason)}}]${tail}`

  /** Queues `text`; false when the caller should wait for `drain`. */
  const write = (text: string): boolean => response.write(text)
  const drained = async (): Promise<void> => {
    if (response.destroyed) return
    await Promise.race([once(response, 'drain'), once(response, 'close')])
  }

  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    // Tells reverse proxies (nginx) not to buffer the stream.
    'x-accel-buffering': 'no',
  })
  write(chunk({ role: 'assistant', content: '' }))

  const calls = new Map<number, CallState>()
  let usage: Usage | undefined
  let ended = false
  try {
    for (let next = first; !next.done; next = await iterator.next()) {
      if (ended) continue // nothing follows `end`; drain so the mesh finishes cleanly
      if (signal.aborted || response.destroyed) {
        await iterator.return?.()
        return
      }
      const part = next.value
      let text: string | undefined
      switch (part.type) {
        case 'text-delta':
          if (part.text !== '') text = chunk({ content: part.text })
          break
        case 'tool-call-delta': {
          const call = calls.get(part.index)
          if (call === undefined) {
            calls.set(part.index, { sent: part.argumentsDelta })
            text = chunk({
              tool_calls: [
                {
                  index: part.index,
                  id: part.id ?? newCallId(),
                  type: 'function',
                  function: { name: part.name ?? '', arguments: part.argumentsDelta },
                },
              ],
            })
          } else if (part.argumentsDelta !== '') {
            call.sent += part.argumentsDelta
            text = chunk({
              tool_calls: [{ index: part.index, function: { arguments: part.argumentsDelta } }],
            })
          }
          break
        }
        case 'tool-call': {
          const call = calls.get(part.index)
          if (call === undefined) {
            // A backend that only reports whole calls: send the call as one delta.
            calls.set(part.index, { sent: part.arguments })
            text = chunk({
              tool_calls: [
                {
                  index: part.index,
                  id: part.id,
                  type: 'function',
                  function: { name: part.name, arguments: part.arguments },
                },
              ],
            })
          } else if (part.arguments.length > call.sent.length && part.arguments.startsWith(call.sent)) {
            // Deltas fell short of the complete call: send what is missing.
            const rest = part.arguments.slice(call.sent.length)
            call.sent = part.arguments
            text = chunk({ tool_calls: [{ index: part.index, function: { arguments: rest } }] })
          }
          break
        }
        case 'usage':
          usage = part.usage
          break
        case 'end': {
          ended = true
          text = chunk({}, openAIFinishReason(part.finishReason))
          if (includeUsage && usage !== undefined)
            text += `${head}[],"usage":${JSON.stringify(openAIUsage(usage))}}\n\n`
          text += 'data: [DONE]\n\n'
          // The client has its whole reply; end now, then drain the mesh below.
          write(text)
          response.end()
          text = undefined
          break
        }
      }
      if (text !== undefined && !write(text)) await drained()
    }
    if (!ended) throw new IncompleteReplyError()
  } catch (error) {
    if (ended || signal.aborted || response.destroyed) return
    write(`data: ${JSON.stringify({ error: errorEvent(options.toHttpError(error)) })}\n\n`)
    response.end()
  }
}

function errorEvent(error: HttpError): { message: string; type: string; code: string; param: null } {
  return error.toBody().error
}

function newCallId(): string {
  return `call_${randomBytes(12).toString('hex')}`
}
