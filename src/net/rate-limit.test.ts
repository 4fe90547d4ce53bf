import { describe, expect, it } from 'vitest'
import {
  DEFAULT_LLM_REQUEST_BURST,
  DEFAULT_LLM_REQUESTS_PER_SECOND,
  RateLimitError,
  RateLimiter,
} from './rate-limit.js'

describe('RateLimiter (token bucket per peer)', () => {
  it('allows a burst, then the sustained rate, and says when the next token is back', () => {
    let now = 0
    const limiter = new RateLimiter({ ratePerSecond: 10, burst: 5, now: () => now })
    for (let index = 0; index < 5; index++) expect(limiter.take('a')).toEqual({ allowed: true })
    expect(limiter.take('a')).toEqual({ allowed: false, retryAfterMs: 100 })
    now += 50
    expect(limiter.take('a')).toEqual({ allowed: false, retryAfterMs: 50 })
    now += 50
    expect(limiter.take('a')).toEqual({ allowed: true })
    // One second refills 10 tokens, capped at the burst of 5.
    now += 10_000
    let allowed = 0
    while (limiter.take('a').allowed) allowed++
    expect(allowed).toBe(5)
  })

  it('keeps one bucket per peer: one peer over its rate does not slow another', () => {
    let now = 0
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 2, now: () => now })
    expect(limiter.take('a').allowed).toBe(true)
    expect(limiter.take('a').allowed).toBe(true)
    expect(limiter.take('a').allowed).toBe(false)
    expect(limiter.take('b').allowed).toBe(true)
    now += 1000
    expect(limiter.take('a').allowed).toBe(true)
  })

  it('bounds the table of buckets: quiet (full) buckets go first, then the oldest', () => {
    let now = 0
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 2, maxKeys: 3, now: () => now })
    limiter.take('a')
    limiter.take('a')
    limiter.take('b')
    limiter.take('b')
    limiter.take('c')
    limiter.take('c')
    // Table full; nobody is quiet yet, so the oldest (a) goes.
    limiter.take('d')
    expect(limiter.size).toBe(3)
    for (let index = 0; index < 10_000; index++) limiter.take(`peer-${index}`)
    expect(limiter.size).toBeLessThanOrEqual(3)
    // Buckets that refilled completely are forgotten before busy ones.
    now += 10_000
    const busy = new RateLimiter({ ratePerSecond: 1, burst: 2, maxKeys: 2, now: () => now })
    busy.take('quiet')
    now += 5_000
    busy.take('busy')
    busy.take('busy')
    busy.take('new')
    expect(busy.take('busy').allowed).toBe(false)
  })

  it('documents its defaults and refuses nonsense options with a named error', () => {
    const limiter = new RateLimiter()
    expect([limiter.ratePerSecond, limiter.burst]).toEqual([
      DEFAULT_LLM_REQUESTS_PER_SECOND,
      DEFAULT_LLM_REQUEST_BURST,
    ])
    expect([DEFAULT_LLM_REQUESTS_PER_SECOND, DEFAULT_LLM_REQUEST_BURST]).toEqual([2_000, 4_000])
    expect(() => new RateLimiter({ ratePerSecond: 0 })).toThrow(
      expect.objectContaining({ code: 'RATE_LIMIT_INVALID' }),
    )
    const error = new RateLimitError(20)
    expect([error.name, error.code, error.retryAfterMs]).toEqual(['RateLimitError', 'RATE_LIMITED', 20])
  })
})
