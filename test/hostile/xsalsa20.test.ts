/**
 * The two faults of the pnet cipher (`xsalsa20` 1.2.0 under `@libp2p/pnet`, see
 * src/net/pnet-cipher-fix.ts): each shown on the unpatched library in a fresh process (its WASM
 * memory is per process), then the exported fix, `installPnetCipherFix`, shown in this one.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { installPnetCipherFix, loadXsalsa20, xsalsa20Footprint } from '../../src/net/pnet-cipher-fix.js'
import { repoRoot } from '../cli-process.js'

/** Runs `body` against the unpatched library in a fresh Node process and returns its output. */
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

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
/** 3,000,001 bytes: over 45 of the fix's 64 KiB pieces, and not a multiple of the 64-byte block. */
const INPUT_SCRIPT = 'Uint8Array.from({ length: 3_000_001 }, (_, i) => (i * 7) & 255)'
const input = Uint8Array.from({ length: 3_000_001 }, (_, i) => (i * 7) & 255)

describe('xsalsa20 (pnet cipher), unpatched library', () => {
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

  it('two ciphers per connection never finalized (what @libp2p/pnet does): no new cipher after 5,118 connections', () => {
    const out = fresh(`
      let connections = 0
      try { for (; connections < 10000; connections++) { X(nonce, key); X(nonce, key) } console.log('no error') }
      catch (error) { console.log('threw at connection', connections, error.message) }`)
    expect(out).toBe('threw at connection 5118 offset is out of bounds')
  })
})

describe('xsalsa20 with the exported fix (installPnetCipherFix)', () => {
  it('the same 1 MiB writes never throw and never grow the memory past its 10 initial pages', () => {
    installPnetCipherFix()
    const X = loadXsalsa20()
    const before = xsalsa20Footprint()
    const key = new Uint8Array(32)
    const xs = [0, 1, 2].map(() => X(new Uint8Array(24), key))
    for (let round = 0; round < 200; round++) for (const x of xs) x.update(new Uint8Array(1 << 20))
    const slots = xs.map((x) => x._xor!._pointer)
    for (const x of xs) x.finalize()
    const after = xsalsa20Footprint()
    expect(before.memoryBytes).toBe(655_360)
    expect(after.memoryBytes).toBe(655_360)
    expect(slots).toContain(after.nextSlot) // the three slots went back to the free list (last in, first out)
  })

  it("gives the library's own ciphertext: patched in this process, unpatched whole update in a fresh one", () => {
    installPnetCipherFix()
    const reference = fresh(`
      const out = X(nonce, key).update(${INPUT_SCRIPT})
      console.log(require('node:crypto').createHash('sha256').update(out).digest('hex'))`)
    const cipher = loadXsalsa20()(new Uint8Array(24), new Uint8Array(32))
    const whole = cipher.update(input)
    cipher.finalize()
    const split = loadXsalsa20()(new Uint8Array(24), new Uint8Array(32))
    const pieces = new Uint8Array(input.length)
    for (let at = 0; at < input.length; at += 1_000_003)
      pieces.set(split.update(input.subarray(at, at + 1_000_003)), at)
    split.finalize()
    expect(reference).toMatch(/^[0-9a-f]{64}$/)
    expect(sha256(whole)).toBe(reference)
    expect(sha256(pieces)).toBe(reference)
  })

  it('50,000 ciphers created and finalized one after another all share one slot; a second finalize is a no-op', () => {
    installPnetCipherFix()
    const X = loadXsalsa20()
    const slots = new Set<number>()
    for (let index = 0; index < 50_000; index++) {
      const cipher = X(new Uint8Array(24), new Uint8Array(32))
      slots.add(cipher._xor!._pointer)
      cipher.finalize()
      cipher.finalize()
    }
    expect(slots.size).toBe(1)
    // Had the double finalize pushed the slot twice, these two would share it.
    const [a, b] = [X(new Uint8Array(24), new Uint8Array(32)), X(new Uint8Array(24), new Uint8Array(32))]
    expect(a._xor!._pointer).not.toBe(b._xor!._pointer)
    a.finalize()
    b.finalize()
  })
})
