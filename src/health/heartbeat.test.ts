import { describe, expect, it } from 'vitest'
import { decodeHeartbeat, encodeHeartbeat, type Heartbeat, MAX_HEARTBEAT_BYTES } from './heartbeat.js'

const peerId = '12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp'

describe('heartbeat codec', () => {
  it('round-trips a full beat and stays compact', () => {
    const heartbeat: Heartbeat = {
      peerId,
      name: 'vps-fast',
      epoch: 1_760_000_000_000,
      sequence: 42,
      uptimeMs: 41_000,
      inFlight: 3,
      term: 7,
      leader: peerId,
      backends: [
        { name: 'ollama', ok: true, latencyMs: 12, ageMs: 800 },
        { name: 'openai', ok: false, latencyMs: 2000, ageMs: 10, error: 'timeout' },
      ],
    }
    const bytes = encodeHeartbeat(heartbeat)
    expect(decodeHeartbeat(bytes)).toEqual({ ok: true, heartbeat })
    const { backends: _backends, ...beat } = heartbeat
    // Measured sizes, kept as a guard against accidental growth.
    expect(encodeHeartbeat(beat).byteLength).toBeLessThan(200)
    expect(bytes.byteLength).toBeLessThan(300)
    const slow = { ...beat, periodMs: 13_000 }
    expect(decodeHeartbeat(encodeHeartbeat(slow))).toEqual({ ok: true, heartbeat: slow })
  })

  it('rejects oversized data before parsing and malformed data of every kind', () => {
    expect(decodeHeartbeat(new Uint8Array(MAX_HEARTBEAT_BYTES + 1))).toEqual({
      ok: false,
      reason: 'oversized',
    })
    const bad = [
      'not json',
      '{"v":1}',
      JSON.stringify({ v: 2, id: peerId, n: 'a', e: 1, s: 1, u: 0, f: 0, t: 0 }),
      JSON.stringify({ v: 1, id: peerId, n: 'a', e: 1, s: 0, u: 0, f: 0, t: 0 }),
      JSON.stringify({ v: 1, id: peerId, n: 'a', e: 1, s: 1, u: 0, f: -1, t: 0 }),
      JSON.stringify({ v: 1, id: peerId, n: 'a', e: 1, s: 1, u: 0, f: 0, t: 0, extra: true }),
      JSON.stringify({ v: 1, id: peerId, n: 'a', e: 1, s: 1, u: 0, f: 0, t: 0, p: 0 }),
      JSON.stringify({ v: 1, id: peerId, n: 'a', e: 1, s: 1, u: 0, f: 0, t: 0, p: 300_001 }),
    ]
    for (const text of bad) {
      expect(decodeHeartbeat(new TextEncoder().encode(text))).toEqual({ ok: false, reason: 'malformed' })
    }
    expect(decodeHeartbeat(new Uint8Array([0xff, 0xfe, 0x00]))).toEqual({ ok: false, reason: 'malformed' })
  })
})
