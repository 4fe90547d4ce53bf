/**
 * The pnet cipher crash found by the fuzz run (see src/net/pnet-cipher-fix.ts), shown
 * on the library in a fresh process, and the 64 KiB chunking that avoids it.
 */
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { repoRoot } from '../cli-process.js'

/** Runs `body` in a fresh Node process (the WASM memory is per process) and returns its stdout. */
function fresh(body: string): string {
  const script = `
    const { createRequire } = require('node:module')
    const require2 = createRequire(require.resolve('@libp2p/pnet'))
    const X = require2('xsalsa20')
    const nonce = new Uint8Array(24), key = new Uint8Array(32)
    ${body}`
  const result = spawnSync(process.execPath, ['-e', script], { cwd: repoRoot, encoding: 'utf8' })
  return `${result.stdout}${result.stderr}`.trim()
}

describe('xsalsa20 (pnet cipher) memory growth', () => {
  it('three connections writing 1 MiB at a time exhaust the shared WASM memory and throw', () => {
    const out = fresh(`
      const xs = [X(nonce, key), X(nonce, key), X(nonce, key)]
      let round = 0
      try { for (; round < 1000; round++) for (const x of xs) x.update(new Uint8Array(1 << 20)) ; console.log('no error') }
      catch (error) { console.log('threw after', round, 'rounds:', error.message) }`)
    expect(out).toMatch(
      /^threw after \d+ rounds: WebAssembly\.Memory\.grow\(\): Maximum memory size exceeded$/,
    )
  })

  it('the same writes in 64 KiB pieces never throw and give the same ciphertext', () => {
    const out = fresh(`
      const chunked = (x, input) => { const out = new Uint8Array(input.length)
        for (let at = 0; at < input.length; at += 65536) x.update(input.subarray(at, at + 65536), out.subarray(at, at + 65536))
        return out }
      const xs = [X(nonce, key), X(nonce, key), X(nonce, key)]
      for (let round = 0; round < 200; round++) for (const x of xs) chunked(x, new Uint8Array(1 << 20))
      const input = Uint8Array.from({ length: 3_000_001 }, (_, i) => i & 255)
      const whole = X(nonce, key).update(input)
      const pieces = chunked(X(nonce, key), input)
      console.log(Buffer.compare(Buffer.from(whole), Buffer.from(pieces)) === 0 ? 'same' : 'different')`)
    expect(out).toBe('same')
  })
})
