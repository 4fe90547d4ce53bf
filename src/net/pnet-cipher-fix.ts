/**
 * Workaround, installed by `createNode` whenever a federation secret is set,
 * for a crash in `xsalsa20` 1.2.0 (the cipher of
 * `@libp2p/pnet`): its WASM memory is shared by every connection and grows
 * to fit the largest single `update()`; an instance whose memory view went
 * stale after another one grew it grows it again by its own full size. With
 * a few connections and writes over ~640 KiB (a drained send backlog is one
 * write), the 1000-page (62.5 MiB) maximum is hit and `update()` throws
 * `RangeError: WebAssembly.Memory.grow(): Maximum memory size exceeded`
 * inside an event listener: an uncaught exception that ends the process.
 * Two measures: every update goes in 64 KiB pieces (under the initial 10
 * pages, so no update needs more memory), and an instance whose view went
 * stale is pointed at the current memory before it runs (so it does not
 * grow it again). XSalsa20 is a stream cipher and the module keeps the
 * keystream position across calls, so the output is the same.
 * Found by the fuzz run (`test/hostile/fuzz.test.ts`); the library's crash
 * and this fix's equivalence are shown in `test/hostile/xsalsa20.test.ts`.
 * Remove when `@libp2p/pnet` stops depending on the affected release.
 */
import { createRequire } from 'node:module'

/** Largest piece handed to the WASM cipher at once. */
export const XSALSA20_CHUNK_BYTES = 64 * 1024

type Update = (input: Uint8Array, output?: Uint8Array) => Uint8Array
/** The WASM-backed state of one cipher (`this._xor` in xsalsa20/index.js). */
interface WasmState {
  _memory?: Uint8Array
}
interface XSalsa20Module {
  (nonce: Uint8Array, key: Uint8Array): { update: Update }
  prototype: { update: Update; chunked?: boolean }
}

/** The `xsalsa20` module `@libp2p/pnet` uses (resolved from its own location). */
export function loadXsalsa20(): XSalsa20Module {
  const require = createRequire(createRequire(import.meta.url).resolve('@libp2p/pnet'))
  return require('xsalsa20') as XSalsa20Module
}

/** Makes every `update()` of the shared module work in 64 KiB pieces (idempotent). */
export function installXsalsa20Chunking(): void {
  const module = loadXsalsa20()
  if (module.prototype.chunked === true) return
  const original = module.prototype.update
  // The newest memory buffer any instance has seen; a detached one (byteLength 0) means a stale view.
  let current: ArrayBufferLike | undefined
  module.prototype.update = function (
    this: { _xor?: WasmState },
    input: Uint8Array,
    output = new Uint8Array(input.length),
  ) {
    for (let offset = 0; offset < input.length; offset += XSALSA20_CHUNK_BYTES) {
      const state = this._xor
      if (state?._memory !== undefined && current !== undefined && state._memory.buffer !== current)
        state._memory = new Uint8Array(current)
      const end = Math.min(input.length, offset + XSALSA20_CHUNK_BYTES)
      original.call(this, input.subarray(offset, end), output.subarray(offset, end))
      if (state?._memory !== undefined) current = state._memory.buffer
    }
    return output
  }
  module.prototype.chunked = true
}
