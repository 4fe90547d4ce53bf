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
  /** The event's data lines so far, joined by `\n`; undefined before its first data line. */
  #data: string | undefined

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
        this.#line(text, start, end, events)
        start = end + 1
      }
    } else {
      // CRLF, LF or a lone CR end a line; a CR at the very end may be the first half of a CRLF.
      for (let index = 0; index < text.length; index++) {
        const code = text.charCodeAt(index)
        if (code !== LF && code !== CR) continue
        if (code === CR && index === text.length - 1 && !final) break
        this.#line(text, start, index, events)
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
      this.#line(this.#rest, 0, this.#rest.length, events)
      this.#rest = ''
    }
  }

  /** Handles the line `text[start, end)` (read in place: no copy of the line itself). */
  #line(text: string, start: number, end: number, events: SseEvent[]): void {
    if (start === end) {
      this.#dispatch(events)
      return
    }
    // The usual lines first: `data: …` and `event: …`.
    if (text.startsWith('data: ', start)) {
      this.#addData(text.slice(start + 6, end))
      return
    }
    if (text.startsWith('event: ', start)) {
      this.#event = text.slice(start + 7, end)
      return
    }
    if (text.charCodeAt(start) === 0x3a) return // ":" starts a comment
    let colon = text.indexOf(':', start)
    if (colon === -1 || colon > end) colon = end
    const field = text.slice(start, colon)
    const valueStart = colon < end && text.charCodeAt(colon + 1) === 0x20 ? colon + 2 : colon + 1
    const value = colon === end ? '' : text.slice(valueStart, end)
    if (field === 'data') this.#addData(value)
    else if (field === 'event') this.#event = value
    // `id` and `retry` only matter to a reconnecting EventSource; a chat stream is never resumed.
  }

  #addData(value: string): void {
    this.#data = this.#data === undefined ? value : `${this.#data}\n${value}`
  }

  #dispatch(events: SseEvent[]): void {
    if (this.#data !== undefined) events.push({ event: this.#event, data: this.#data })
    this.#event = null
    this.#data = undefined
  }
}
