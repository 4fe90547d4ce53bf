/**
 * Undoes the owner's merging of deltas that were ready together (`part-batcher.ts`), for tests
 * that compare a reply with what the backend sent: each received delta is split back into the run
 * of sent deltas it is made of. A delta that is not exactly such a run (a token lost, altered,
 * reordered or cut in two) is left as it is, so the comparison that follows fails and shows it.
 */
import type { ChatPart } from '../../llm/types.js'

/** `received` text deltas as the `sent` tokens they are made of. */
export function asSentTokens(received: readonly string[], sent: readonly string[]): string[] {
  const out: string[] = []
  let next = 0
  for (const delta of received) {
    let joined = ''
    let end = next
    while (joined.length < delta.length && end < sent.length) joined += sent[end++]
    if (joined === delta && end > next) {
      out.push(...sent.slice(next, end))
      next = end
    } else {
      out.push(delta)
      next++
    }
  }
  return out
}

/** `received` parts with merged text and tool-call deltas split back into the `sent` parts. */
export function asSentParts(received: readonly ChatPart[], sent: readonly ChatPart[]): ChatPart[] {
  const out: ChatPart[] = []
  let next = 0
  for (const part of received) {
    const run = runOf(part, sent, next)
    if (run === undefined) {
      out.push(part)
      next++
    } else {
      out.push(...run)
      next += run.length
    }
  }
  return out
}

/** The sent parts from `start` that `part` merges, if it is exactly such a run. */
function runOf(part: ChatPart, sent: readonly ChatPart[], start: number): ChatPart[] | undefined {
  const first = sent[start]
  if (part.type === 'text-delta' && first?.type === 'text-delta') {
    let joined = ''
    let end = start
    for (
      let item = sent[end];
      item?.type === 'text-delta' && joined.length < part.text.length;
      item = sent[end]
    ) {
      joined += item.text
      end++
    }
    return joined === part.text ? sent.slice(start, end) : undefined
  }
  if (part.type === 'tool-call-delta' && first?.type === 'tool-call-delta') {
    if (first.index !== part.index || first.id !== part.id || first.name !== part.name) return undefined
    let joined = first.argumentsDelta
    let end = start + 1
    for (
      let item = sent[end];
      item?.type === 'tool-call-delta' &&
      item.index === part.index &&
      item.id === undefined &&
      item.name === undefined &&
      joined.length < part.argumentsDelta.length;
      item = sent[end]
    ) {
      joined += item.argumentsDelta
      end++
    }
    return joined === part.argumentsDelta ? sent.slice(start, end) : undefined
  }
  return undefined
}
