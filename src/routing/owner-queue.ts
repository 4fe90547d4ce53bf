/**
 * Per-owner admission for the caller: at most `limit` streams to one owner
 * exist at a time (in flight, idle in the pool, or closing), which is how the
 * owner counts them against its `maxStreamsPerPeer`. Requests beyond that
 * wait in FIFO order, at most `maxQueued` per owner; a waiting request whose
 * signal aborts leaves the queue at once. A waiter is served either with a
 * stream handed over by a request that just finished (`handOff`, no new
 * negotiation) or with a free slot to open a new stream (`release`).
 */
import { RoutingError } from './errors.js'

/** Requests that may wait per owner by default. */
export const DEFAULT_MAX_QUEUED_PER_PEER = 1024

/** Options of an `OwnerQueue`. */
export interface OwnerQueueOptions {
  /** Streams per owner: the owner's `maxStreamsPerPeer`. */
  limit: number
  /** Requests that may wait per owner; one more is refused with `OWNER_BUSY`. */
  maxQueued: number
}

/** A slot: one stream the owner counts. `release()` frees it once; later calls do nothing. */
export interface OwnerSlot {
  release(): void
}

/** What a waiter gets: a stream handed over (its slot comes with it), or a fresh slot to open one. */
export type Grant<T> = { handed: T } | { slot: OwnerSlot }

interface Waiter<T> {
  resolve(grant: Grant<T>): void
  reject(error: RoutingError): void
}

interface OwnerState<T> {
  active: number
  waiters: Waiter<T>[]
}

/** Counts streams per owner and queues the requests that find no free slot. */
export class OwnerQueue<T> {
  #options: OwnerQueueOptions
  readonly #owners = new Map<string, OwnerState<T>>()

  constructor(options: OwnerQueueOptions) {
    this.#options = options
  }

  /** Slots held for `owner` (streams in flight, idle or closing). */
  active(owner: string): number {
    return this.#owners.get(owner)?.active ?? 0
  }

  /** Requests waiting for `owner`. */
  waiting(owner: string): number {
    return this.#owners.get(owner)?.waiters.length ?? 0
  }

  /** Changes the per-owner stream limit (a newer manifest); waiters are served as streams come back. */
  setLimit(limit: number): void {
    this.#options = { ...this.#options, limit }
  }

  /** A slot at once if one is free and nobody is waiting (FIFO), else `undefined`. */
  tryAcquire(owner: string): OwnerSlot | undefined {
    const state = this.#state(owner)
    if (state.waiters.length > 0 || state.active >= this.#options.limit) return undefined
    state.active++
    return this.#slot(owner)
  }

  /** Waits in line for a handed-over stream or a free slot. Rejects with `OWNER_BUSY` when the line is full. */
  wait(owner: string, signal?: AbortSignal): Promise<Grant<T>> {
    const state = this.#state(owner)
    if (signal?.aborted) return Promise.reject(aborted(signal.reason))
    if (state.waiters.length >= this.#options.maxQueued) {
      return Promise.reject(
        new RoutingError(
          'OWNER_BUSY',
          `owner ${owner} has ${state.active} streams open and ${state.waiters.length} requests waiting`,
          { retryable: true },
        ),
      )
    }
    return new Promise<Grant<T>>((resolve, reject) => {
      const onAbort = (): void => {
        const index = state.waiters.indexOf(waiter)
        if (index >= 0) state.waiters.splice(index, 1)
        this.#forget(owner, state)
        reject(aborted(signal?.reason))
      }
      const waiter: Waiter<T> = {
        resolve: (grant) => {
          signal?.removeEventListener('abort', onAbort)
          resolve(grant)
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort)
          reject(error)
        },
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      state.waiters.push(waiter)
    })
  }

  /** Gives `value` (and the slot it holds) to the oldest waiter; false if nobody waits. */
  handOff(owner: string, value: T): boolean {
    const waiter = this.#owners.get(owner)?.waiters.shift()
    if (!waiter) return false
    waiter.resolve({ handed: value })
    return true
  }

  /** Rejects every waiter (the client is closing). */
  rejectAll(error: RoutingError): void {
    for (const [owner, state] of this.#owners) {
      for (const waiter of state.waiters.splice(0)) waiter.reject(error)
      this.#forget(owner, state)
    }
  }

  #slot(owner: string): OwnerSlot {
    let held = true
    return {
      release: () => {
        if (!held) return
        held = false
        this.#free(owner)
      },
    }
  }

  /** A slot came free: the oldest waiter takes it over, or the count drops. */
  #free(owner: string): void {
    const state = this.#owners.get(owner)
    if (!state) return
    const waiter = state.waiters.shift()
    if (waiter) {
      waiter.resolve({ slot: this.#slot(owner) })
      return
    }
    state.active--
    this.#forget(owner, state)
  }

  #state(owner: string): OwnerState<T> {
    let state = this.#owners.get(owner)
    if (!state) {
      state = { active: 0, waiters: [] }
      this.#owners.set(owner, state)
    }
    return state
  }

  #forget(owner: string, state: OwnerState<T>): void {
    if (state.active === 0 && state.waiters.length === 0) this.#owners.delete(owner)
  }
}

function aborted(cause: unknown): RoutingError {
  return new RoutingError('ABORTED', 'the call was aborted while waiting for the owner', {
    retryable: false,
    cause,
  })
}
