/**
 * Pulls `ChatPart`s from a backend's iterator and groups the ones that are
 * ready together, so a burst of tokens costs one frame instead of one frame
 * per token (DESIGN.md: CPU per frame is the limit under load). A part is
 * "ready" if the iterator yields it before the event loop's check phase
 * (`setImmediate`); the batch is then flushed, and the still-pending pull is
 * kept for the next batch, so at most one part is pulled ahead of a flush.
 */
import type { ChatPart } from '../llm/types.js'
import { LimitError } from './errors.js'

/** Options of a `PartBatcher`. */
export interface PartBatcherOptions {
  /** Flush once the batch's estimated size reaches this many bytes. */
  maxBatchBytes: number
  /** Merge adjacent deltas of one kind (see `mergeInto`). Default: true. */
  merge?: boolean
  /** Longest wait for the first part of a batch before `IDLE_TIMEOUT`. */
  idleTimeoutMs: number
  /** Aborting rejects a waiting `next()` with the signal's reason. */
  signal: AbortSignal
}

const notReady = Symbol('not-ready')

/** Rough JSON size of a part; only used to cap batches. */
function partBytes(part: ChatPart): number {
  switch (part.type) {
    case 'text-delta':
      return part.text.length + 32
    case 'tool-call-delta':
      return part.argumentsDelta.length + (part.name?.length ?? 0) + (part.id?.length ?? 0) + 64
    case 'tool-call':
      return part.arguments.length + part.name.length + part.id.length + 64
    default:
      return 64
  }
}

/** Groups the ready parts of `iterator` into batches; `next()` resolves `null` once the iterator is done. */
export class PartBatcher {
  readonly #iterator: AsyncIterator<ChatPart>
  readonly #options: PartBatcherOptions
  #pending: Promise<IteratorResult<ChatPart>> | undefined
  #done = false
  #sentFirst = false

  constructor(iterator: AsyncIterator<ChatPart>, options: PartBatcherOptions) {
    this.#iterator = iterator
    this.#options = options
  }

  /** The next batch (at least one part), or `null` when the backend has no more parts. */
  async next(): Promise<ChatPart[] | null> {
    if (this.#done) return null
    const first = await this.#waitFirst()
    if (first.done) {
      this.#done = true
      return null
    }
    const batch = [first.value]
    let bytes = partBytes(first.value)
    if (first.value.type === 'end') this.#done = true
    // The first part of a reply goes out alone: time to first token must not wait for the
    // backend to parse a burst that arrived with it (measured: +16.7 ms → +5.9 ms typical).
    if (!this.#sentFirst) {
      this.#sentFirst = true
      return batch
    }
    // One check-phase timer per batch, not per part: it costs a macrotask to set up.
    const checkPhase = nextCheckPhase()
    while (!this.#done && bytes < this.#options.maxBatchBytes) {
      // A failure of the next pull is kept in #pending and thrown by the next call, after this batch is sent.
      const pending = this.#pull().catch((): typeof notReady => notReady)
      const result = await Promise.race([pending, checkPhase])
      if (typeof result === 'symbol') break
      this.#pending = undefined
      if (result.done) {
        this.#done = true
        break
      }
      if (!(this.#options.merge !== false && mergeInto(batch, result.value))) batch.push(result.value)
      bytes += partBytes(result.value)
      if (result.value.type === 'end') this.#done = true
    }
    return batch
  }

  /** Stops the backend's iterator (runs its `finally` blocks); never throws. */
  stop(): void {
    this.#done = true
    this.#iterator.return?.().catch(() => {})
  }

  #pull(): Promise<IteratorResult<ChatPart>> {
    this.#pending ??= this.#iterator.next()
    return this.#pending
  }

  async #waitFirst(): Promise<IteratorResult<ChatPart>> {
    const { signal, idleTimeoutMs } = this.#options
    signal.throwIfAborted()
    const pending = this.#pull()
    let timer: ReturnType<typeof setTimeout> | undefined
    let onAbort: (() => void) | undefined
    try {
      const result = await Promise.race([
        pending,
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(
            () => reject(new LimitError('IDLE_TIMEOUT', `backend sent nothing for ${idleTimeoutMs} ms`)),
            idleTimeoutMs,
          )
          onAbort = () => reject(signal.reason)
          signal.addEventListener('abort', onAbort, { once: true })
        }),
      ])
      this.#pending = undefined
      return result
    } finally {
      clearTimeout(timer)
      if (onAbort) signal.removeEventListener('abort', onAbort)
    }
  }
}

/**
 * Appends `part` to the batch's last part when both are deltas of the same thing (text, or the
 * arguments of one tool call), so a burst of tokens becomes one delta: fewer parts to frame here,
 * and fewer events for the gateway to write and its client to parse. Only parts that were ready
 * together are merged; a token that arrives alone still travels alone.
 */
function mergeInto(batch: ChatPart[], part: ChatPart): boolean {
  const last = batch[batch.length - 1]
  if (last?.type === 'text-delta' && part.type === 'text-delta') {
    batch[batch.length - 1] = { type: 'text-delta', text: last.text + part.text }
    return true
  }
  if (
    last?.type === 'tool-call-delta' &&
    part.type === 'tool-call-delta' &&
    last.index === part.index &&
    part.id === undefined &&
    part.name === undefined
  ) {
    batch[batch.length - 1] = { ...last, argumentsDelta: last.argumentsDelta + part.argumentsDelta }
    return true
  }
  return false
}

function nextCheckPhase(): Promise<typeof notReady> {
  return new Promise((resolve) => setImmediate(resolve, notReady))
}
