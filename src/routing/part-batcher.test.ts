import { describe, expect, it } from 'vitest'
import type { ChatPart } from '../llm/types.js'
import { PartBatcher } from './part-batcher.js'
import { sleep, textParts } from './testing/scripted-backend.js'
import { asSentParts, asSentTokens } from './testing/sent-parts.js'

/** Yields `parts`; waits `gapMs` before the parts whose index is in `gapsBefore`. */
async function* source(parts: ChatPart[], gapsBefore: number[] = [], gapMs = 30): AsyncGenerator<ChatPart> {
  for (const [index, part] of parts.entries()) {
    if (gapsBefore.includes(index)) await sleep(gapMs)
    yield part
  }
}

async function batches(
  iterable: AsyncIterable<ChatPart>,
  maxBatchBytes = 16 * 1024,
  merge = true,
): Promise<ChatPart[][]> {
  const batcher = new PartBatcher(iterable[Symbol.asyncIterator](), {
    maxBatchBytes,
    merge,
    idleTimeoutMs: 5000,
    signal: new AbortController().signal,
  })
  const out: ChatPart[][] = []
  for (let batch = await batcher.next(); batch !== null; batch = await batcher.next()) out.push(batch)
  return out
}

describe('PartBatcher', () => {
  it('sends the first part alone, then merges the text deltas that were ready together', async () => {
    const sent = textParts(['a', 'b', 'c', 'd'])
    expect(await batches(source(sent))).toEqual([
      [{ type: 'text-delta', text: 'a' }],
      [
        { type: 'text-delta', text: 'bcd' },
        { type: 'usage', usage: { inputTokens: 3, outputTokens: 4 } },
        { type: 'end', finishReason: 'stop' },
      ],
    ])
  })

  it('with merging off (routing.merge_deltas: false), batches the ready parts but keeps every delta', async () => {
    const sent = textParts(['a', 'b', 'c', 'd'])
    expect(await batches(source(sent), 16 * 1024, false)).toEqual([sent.slice(0, 1), sent.slice(1)])
  })

  it('keeps a token that arrives on its own as its own delta', async () => {
    const sent = textParts(['a', 'b', 'c', 'd'])
    // A gap before every token but the first: nothing is ready together, nothing is merged.
    const out = await batches(source(sent, [1, 2, 3, 4]))
    expect(out.flat()).toEqual(sent)
    expect(out.map((batch) => batch.length)).toEqual([1, 1, 1, 1, 2])
  })

  it('merges argument deltas of one tool call, never across calls or across a call that starts', async () => {
    const sent: ChatPart[] = [
      { type: 'text-delta', text: 'x' },
      { type: 'tool-call-delta', index: 0, id: 'c0', name: 'f', argumentsDelta: '{"a"' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: ':1' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: '}' },
      { type: 'tool-call-delta', index: 1, id: 'c1', name: 'g', argumentsDelta: '{' },
      { type: 'tool-call-delta', index: 1, argumentsDelta: '}' },
      { type: 'text-delta', text: 'y' },
      { type: 'end', finishReason: 'tool-calls' },
    ]
    const out = await batches(source(sent))
    expect(out[1]).toEqual([
      { type: 'tool-call-delta', index: 0, id: 'c0', name: 'f', argumentsDelta: '{"a":1}' },
      { type: 'tool-call-delta', index: 1, id: 'c1', name: 'g', argumentsDelta: '{}' },
      { type: 'text-delta', text: 'y' },
      { type: 'end', finishReason: 'tool-calls' },
    ])
    expect(asSentParts(out.flat(), sent)).toEqual(sent)
  })

  it('caps a merged batch at its byte budget', async () => {
    const sent = textParts(Array.from({ length: 100 }, () => 'z'.repeat(100)))
    const out = await batches(source(sent), 1024)
    expect(out.length).toBeGreaterThan(10)
    for (const batch of out) {
      const text = batch.map((part) => (part.type === 'text-delta' ? part.text : '')).join('')
      expect(text.length).toBeLessThanOrEqual(1024)
    }
    expect(asSentParts(out.flat(), sent)).toEqual(sent)
  })
})

describe('asSentTokens / asSentParts (test helpers)', () => {
  it('split merged deltas back, and leave a delta that is not a run of whole tokens as it is', () => {
    expect(asSentTokens(['ab', 'c'], ['a', 'b', 'c'])).toEqual(['a', 'b', 'c'])
    expect(asSentTokens(['a', 'bc'], ['ab', 'c'])).not.toEqual(['ab', 'c'])
    expect(asSentTokens(['ac'], ['a', 'b', 'c'])).not.toEqual(['a', 'b', 'c'])
    const sent = textParts(['a', 'b'])
    expect(asSentParts([{ type: 'text-delta', text: 'ab' }, ...sent.slice(2)], sent)).toEqual(sent)
    expect(asSentParts([{ type: 'text-delta', text: 'ba' }, ...sent.slice(2)], sent)).not.toEqual(sent)
  })
})
