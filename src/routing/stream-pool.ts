/**
 * Idle, already-negotiated `/clawmesh/llm` streams per owner (the keep-alive
 * model): a stream returns here after a reply ended cleanly and carries the
 * next request to the same owner without a new protocol negotiation
 * (~1.5 ms → ~0.4 ms, DESIGN.md). Streams the owner closes, or that sit idle
 * longer than `idleMs`, are closed and dropped.
 */
import type { Stream } from '@libp2p/interface'
import type { FrameReader } from './frame-reader.js'
import type { OwnerSlot } from './owner-queue.js'

/** A negotiated stream with its frame reader. */
export interface PooledStream {
  stream: Stream
  reader: FrameReader
  /** Pool key: the owner's peer ID. */
  peer: string
  /** Requests this stream has carried. */
  uses: number
  /** The owner-queue slot this stream holds until it is gone (see `owner-queue.ts`). */
  slot: OwnerSlot | undefined
}

/** Options of a `StreamPool`. */
export interface StreamPoolOptions {
  maxIdlePerPeer: number
  idleMs: number
}

interface IdleEntry {
  pooled: PooledStream
  timer: ReturnType<typeof setTimeout>
  onGone: () => void
}

/** Whether a stream can carry another request: open both ways and nothing unread. */
export function isReusable(pooled: PooledStream): boolean {
  const { stream, reader } = pooled
  return (
    stream.status === 'open' &&
    stream.writeStatus === 'writable' &&
    stream.remoteWriteStatus === 'writable' &&
    !reader.ended &&
    !reader.hasBuffered
  )
}

/** Holds idle streams per owner, newest first out. */
export class StreamPool {
  readonly #options: StreamPoolOptions
  readonly #idle = new Map<string, IdleEntry[]>()

  constructor(options: StreamPoolOptions) {
    this.#options = options
  }

  /** Idle streams held for `peer`. */
  size(peer: string): number {
    return this.#idle.get(peer)?.length ?? 0
  }

  /** Takes the most recently used healthy stream to `peer`, if any. */
  take(peer: string): PooledStream | undefined {
    const entries = this.#idle.get(peer)
    while (entries && entries.length > 0) {
      const entry = entries.pop()!
      this.#detach(entry)
      if (isReusable(entry.pooled)) return entry.pooled
      retire(entry.pooled)
    }
    return undefined
  }

  /** Returns a stream after a clean reply; closes it instead if it is unhealthy or the pool is full. */
  put(pooled: PooledStream): void {
    let entries = this.#idle.get(pooled.peer)
    if (!isReusable(pooled) || (entries?.length ?? 0) >= this.#options.maxIdlePerPeer) {
      retire(pooled)
      return
    }
    if (!entries) {
      entries = []
      this.#idle.set(pooled.peer, entries)
    }
    const entry: IdleEntry = {
      pooled,
      timer: setTimeout(() => this.#evict(entry), this.#options.idleMs),
      onGone: () => this.#evict(entry),
    }
    entry.timer.unref?.()
    pooled.stream.addEventListener('remoteCloseWrite', entry.onGone)
    pooled.stream.addEventListener('close', entry.onGone)
    entries.push(entry)
  }

  /** Closes every idle stream. */
  clear(): void {
    for (const entries of this.#idle.values()) {
      for (const entry of entries) {
        this.#detach(entry)
        retire(entry.pooled)
      }
    }
    this.#idle.clear()
  }

  #evict(entry: IdleEntry): void {
    const entries = this.#idle.get(entry.pooled.peer)
    const index = entries?.indexOf(entry) ?? -1
    if (entries && index >= 0) entries.splice(index, 1)
    if (entries?.length === 0) this.#idle.delete(entry.pooled.peer)
    this.#detach(entry)
    retire(entry.pooled)
  }

  #detach(entry: IdleEntry): void {
    clearTimeout(entry.timer)
    entry.pooled.stream.removeEventListener('remoteCloseWrite', entry.onGone)
    entry.pooled.stream.removeEventListener('close', entry.onGone)
  }
}

/** Closes our side gracefully (the owner then ends its keep-alive loop); never throws. */
export function retire(pooled: PooledStream): void {
  pooled.reader.dispose()
  if (pooled.stream.status !== 'open') return
  pooled.stream.close().catch((error: Error) => pooled.stream.abort(error))
}
