/**
 * Failover across ranked owners. The next owner is tried only while nothing
 * of the reply has reached the caller and the failure is retryable (owner
 * unreachable, stream closed, busy, timed out, or a retryable backend
 * error). After the first part, a failure ends the stream with its error:
 * never a silent retry that could repeat or splice a reply.
 */
import { errorMessage } from '../errors.js'
import { RoutingError } from './errors.js'

/** One failed attempt, for logs and for the final error. */
export interface FailedAttempt<C> {
  candidate: C
  error: unknown
}

function isRetryable(error: unknown): boolean {
  return error instanceof RoutingError && error.retryable && !error.afterFirstToken
}

function exhausted<C>(failures: FailedAttempt<C>[]): RoutingError {
  const last = failures[failures.length - 1]
  const detail = failures.map((failure) => errorMessage(failure.error)).join('; ')
  const code = failures.length === 0 ? 'NO_OWNER' : 'ALL_OWNERS_FAILED'
  return new RoutingError(
    code,
    failures.length === 0 ? 'no eligible owner' : `every owner failed: ${detail}`,
    {
      retryable: false,
      cause: last?.error,
    },
  )
}

/** Streams from the first owner that answers; moves on only before the first item. */
export async function* routeWithFailover<C, T>(
  candidates: readonly C[],
  attempt: (candidate: C) => AsyncIterable<T>,
  onFailure?: (failure: FailedAttempt<C>) => void,
): AsyncGenerator<T, void, undefined> {
  const failures: FailedAttempt<C>[] = []
  for (const candidate of candidates) {
    let received = false
    try {
      for await (const item of attempt(candidate)) {
        received = true
        yield item
      }
      return
    } catch (error) {
      if (received || !isRetryable(error)) throw error
      failures.push({ candidate, error })
      onFailure?.({ candidate, error })
    }
  }
  throw exhausted(failures)
}

/** Resolves with the first owner's answer; moves on while failures are retryable. */
export async function callWithFailover<C, T>(
  candidates: readonly C[],
  attempt: (candidate: C) => Promise<T>,
  onFailure?: (failure: FailedAttempt<C>) => void,
): Promise<T> {
  const failures: FailedAttempt<C>[] = []
  for (const candidate of candidates) {
    try {
      return await attempt(candidate)
    } catch (error) {
      if (!isRetryable(error)) throw error
      failures.push({ candidate, error })
      onFailure?.({ candidate, error })
    }
  }
  throw exhausted(failures)
}
