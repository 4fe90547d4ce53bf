import { describe, expect, it } from 'vitest'
import * as defaults from './defaults.js'

describe('defaults', () => {
  it('match the documented values', () => {
    expect(defaults.DEFAULT_API_ADDRESS).toBe('127.0.0.1:8081')
    expect(defaults.DEFAULT_HEARTBEAT_INTERVAL_MS).toBe(1000)
    expect(defaults.DEFAULT_SUSPECT_AFTER_MS).toBe(3000)
    expect(defaults.DEFAULT_DEAD_AFTER_MS).toBe(6000)
    expect(defaults.DEFAULT_PROBE_INTERVAL_MS).toBe(5000)
    expect(defaults.DEFAULT_MAX_BODY_BYTES).toBe(8 * 1024 * 1024)
    expect(defaults.DEFAULT_MAX_FRAME_BYTES).toBe(8 * 1024 * 1024 + 64 * 1024)
    expect(defaults.DEFAULT_MAX_STREAMS_PER_PEER).toBe(64)
    expect(defaults.DEFAULT_OLLAMA_URL).toBe('http://127.0.0.1:11434')
    expect(defaults.DEFAULT_BACKEND_TIMEOUT_MS).toBe(120_000)
    expect(defaults.DEFAULT_STANDALONE_ADDRESS).toBe('127.0.0.1:0')
  })
})
