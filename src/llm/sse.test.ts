import { describe, expect, it } from 'vitest'
import { BackendError } from './errors.js'
import { SseDecoder, type SseEvent } from './sse.js'

const encoder = new TextEncoder()

/** Decodes `text` fed in the given pieces (split points in bytes). */
function decode(bytes: Uint8Array, cuts: number[] = []): SseEvent[] {
  const decoder = new SseDecoder('test')
  const events: SseEvent[] = []
  let from = 0
  for (const cut of [...cuts, bytes.length]) {
    events.push(...decoder.push(bytes.subarray(from, cut)))
    from = cut
  }
  events.push(...decoder.end())
  return events
}

describe('SseDecoder', () => {
  const stream =
    ': keep-alive comment\n' +
    'data: {"a":1}\n\n' +
    'event: error\r\ndata: line one\r\ndata:line two\r\n\r\n' +
    'id: 7\rretry: 10\rdata: crlf « ünïcode » 🦀\r\r' +
    'data\n\n' + // a field with no colon: empty data
    'event: only-event\n\n' + // no data: not dispatched
    'data: [DONE]\n\n'
  const expected: SseEvent[] = [
    { event: null, data: '{"a":1}' },
    { event: 'error', data: 'line one\nline two' },
    { event: null, data: 'crlf « ünïcode » 🦀' },
    { event: null, data: '' },
    { event: null, data: '[DONE]' },
  ]

  it('decodes LF, CRLF and CR line ends, comments, event names and multi-line data', () => {
    expect(decode(encoder.encode(stream))).toEqual(expected)
  })

  it('gives the same events wherever the network splits the bytes (inside a CRLF, inside a UTF-8 character)', () => {
    const bytes = encoder.encode(stream)
    for (let cut = 0; cut <= bytes.length; cut++) expect(decode(bytes, [cut])).toEqual(expected)
    // One byte at a time.
    expect(
      decode(
        bytes,
        Array.from({ length: bytes.length }, (_, index) => index),
      ),
    ).toEqual(expected)
  })

  it('returns every event a chunk completes together, and keeps the unfinished one for the next chunk', () => {
    const decoder = new SseDecoder('test')
    const many = Array.from({ length: 1000 }, (_, index) => `data: ${index}\n\n`).join('')
    const events = decoder.push(encoder.encode(`${many}data: half`))
    expect(events).toHaveLength(1000)
    expect(events[999]).toEqual({ event: null, data: '999' })
    expect(decoder.push(encoder.encode('-done\n\n'))).toEqual([{ event: null, data: 'half-done' }])
  })

  it('dispatches a last event the server ended without its blank line', () => {
    expect(decode(encoder.encode('data: a\n\ndata: tail'))).toEqual([
      { event: null, data: 'a' },
      { event: null, data: 'tail' },
    ])
  })

  it('refuses a line that never ends instead of buffering it without bound', () => {
    const decoder = new SseDecoder('vllm', 1024)
    decoder.push(encoder.encode(`data: ${'x'.repeat(1000)}`))
    let caught: unknown
    try {
      decoder.push(encoder.encode('y'.repeat(100)))
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(BackendError)
    expect((caught as BackendError).code).toBe('BACKEND_PROTOCOL')
    expect((caught as BackendError).message).toMatch(/^vllm: server-sent event line longer than 1024/)
  })
})
