/**
 * A server-sent events decoder (WHATWG HTML, "event stream interpretation") that does linear work
 * per byte and hands back every event a network chunk completes, as one array.
 *
 * Why not the `openai` SDK's own decoder: it copies the rest of its buffer after every event it
 * finds, so a chunk holding k events costs O(k × chunk) copying. An owner that falls behind its
 * provider reads large chunks (tens of events each), and the copying was 18% of the owner's CPU in
 * the gateway benchmark (BENCHMARKS.md, "Gateway").
 */

import { BackendError } from './errors.js'

/** One dispatched event: its `event` field (null when absent) and its `data` lines joined by `\n`. */
export interface SseEvent {
  event: string | null
  data: string
}

const LF = 10
const CR = 13

/** Longest line kept while waiting for its end, in UTF-16 code units (a data line is one JSON chunk). */
export const DEFAULT_MAX_SSE_LINE = 8 * 1024 * 1024

/** Incremental decoder: `push` each chunk, then `end` once. */
export class SseDecoder {
  readonly #text = new TextDecoder()
  readonly #label: string
  readonly #maxLine: number
  /** Undecoded rest: the start of a line that has not ended yet. */
  #rest = ''
  #event: string | null = null
  #data: string[] = []

  /** `label` names the stream in errors (the backend's name). */
  constructor(label: string, maxLine = DEFAULT_MAX_SSE_LINE) {
    this.#label = label
    this.#maxLine = maxLine
  }

  /** Decodes `chunk`; returns the events it completed (often none, often many). */
  push(chunk: Uint8Array): SseEvent[] {
    const events: SseEvent[] = []
    this.#lines(this.#rest + this.#text.decode(chunk, { stream: true }), false, events)
    return events
  }

  /** Ends the stream: a last line without its newline still counts, and an event left open is dispatched. */
  end(): SseEvent[] {
    const events: SseEvent[] = []
    this.#lines(this.#rest + this.#text.decode(), true, events)
    this.#dispatch(events)
    return events
  }

  #lines(text: string, final: boolean, events: SseEvent[]): void {
    let start = 0
    if (text.indexOf('\r') === -1) {
      // The common case (LF only): native search per line.
      for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
        this.#line(text.slice(start, end), events)
        start = end + 1
      }
    } else {
      // CRLF, LF or a lone CR end a line; a CR at the very end may be the first half of a CRLF.
      for (let index = 0; index < text.length; index++) {
        const code = text.charCodeAt(index)
        if (code !== LF && code !== CR) continue
        if (code === CR && index === text.length - 1 && !final) break
        this.#line(text.slice(start, index), events)
        if (code === CR && text.charCodeAt(index + 1) === LF) index++
        start = index + 1
      }
    }
    this.#rest = text.slice(start)
    // A server that never ends a line must not grow this buffer without bound.
    if (this.#rest.length > this.#maxLine)
      throw new BackendError(
        'BACKEND_PROTOCOL',
        `${this.#label}: server-sent event line longer than ${this.#maxLine} characters`,
      )
    if (final && this.#rest !== '') {
      this.#line(this.#rest, events)
      this.#rest = ''
    }
  }

  #line(line: string, events: SseEvent[]): void {
    if (line === '') {
      this.#dispatch(events)
      return
    }
    if (line.charCodeAt(0) === 0x3a) return // ":" starts a comment
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.charCodeAt(0) === 0x20) value = value.slice(1)
    if (field === 'data') this.#data.push(value)
    else if (field === 'event') this.#event = value
    // `id` and `retry` only matter to a reconnecting EventSource; a chat stream is never resumed.
  }

  #dispatch(events: SseEvent[]): void {
    if (this.#data.length > 0) events.push({ event: this.#event, data: this.#data.join('\n') })
    this.#event = null
    this.#data = []
  }
}
