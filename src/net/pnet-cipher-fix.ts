/**
 * Workarounds, installed by `createNode` whenever a federation secret is set, for two faults of
 * `xsalsa20` 1.2.0 as `@libp2p/pnet` 3.0.27 uses it (the private-network cipher). The module keeps
 * one WASM memory for every cipher: a 64-byte slot per cipher (counter, nonce, key) below a scratch
 * area where each `update()` works.
 *
 * 1. Growth crash. The memory grows to fit the largest single `update()`; an instance whose
 *    memory view went stale after another one grew it grows it again by its own full size. With
 *    a few connections and writes over ~640 KiB (a drained send backlog is one write) the
 *    1000-page (62.5 MiB) maximum is hit and `update()` throws `RangeError:
 *    WebAssembly.Memory.grow(): Maximum memory size exceeded` inside an event listener: an
 *    uncaught exception that ends the process. Fix: every update goes in 64 KiB pieces, and an
 *    instance whose view went stale is pointed at the current memory before it runs. XSalsa20 is
 *    a stream cipher and the module keeps the keystream position across calls, so the output is
 *    the same.
 * 2. Slot leak. `@libp2p/pnet` creates two ciphers per connection once the 24-byte nonces are
 *    exchanged and never calls `finalize()`, which is what returns a slot. Every connection,
 *    even a stranger's that sends a nonce and nothing else, leaks 128 bytes below the scratch
 *    area for the life of the process. Nothing else grows the memory for a slot, so after
 *    10,237 slots (5,118 nonce-only connections) every new cipher throws `RangeError: offset is
 *    out of bounds` and no peer, member or not, can connect any more. Fix: the protector's
 *    `protect()` is wrapped so both ciphers of the connection it returns are finalized once that
 *    connection and the raw one under it are over, however they end (closed, aborted, reset,
 *    upgrade timeout) and nothing buffered can reach a cipher any more;
 *    `finalize()` is made idempotent (a second call would otherwise push the slot onto the free
 *    list twice and hand it to two live connections) and zeroes the key in the current memory,
 *    not a stale view.
 *
 * Every target is checked at install (`StackPatchStaleError`, `STACK_PATCH_STALE`); the packages
 * are pinned in package.json. Shown by `pnet-cipher-fix.test.ts` and `test/hostile/xsalsa20.test.ts`;
 * upstream reports in docs/upstream/. Remove when `@libp2p/pnet` frees its ciphers and stops
 * depending on the affected `xsalsa20` release.
 */
import { createRequire } from 'node:module'
import * as pnetModule from '@libp2p/pnet'
import { requireFunction, requireProperty, StackPatchStaleError } from './patch-target.js'

/** Largest piece handed to the WASM cipher at once. */
export const XSALSA20_CHUNK_BYTES = 64 * 1024

const PATCH = 'pnet cipher fix'
const installed = Symbol.for('clawmesh.pnetCipherFix')

type Update = (input: Uint8Array, output?: Uint8Array) => Uint8Array
/** The WASM-backed state of one cipher (`this._xor` in xsalsa20/index.js); null once finalized. */
interface WasmState {
  _pointer: number
  _memory: Uint8Array
  finalize(): void
}
/** One `xsalsa20` cipher instance. */
export interface XSalsa20Cipher {
  _xor: WasmState | null
  update: Update
  finalize(): void
}
/** The `xsalsa20` module (a factory function with a prototype). */
export interface XSalsa20Module {
  (nonce: Uint8Array, key: Uint8Array): XSalsa20Cipher
  prototype: Record<PropertyKey, unknown>
}
/** The parts of `@libp2p/pnet` the fix reaches. */
export interface PnetModule {
  preSharedKey?: unknown
}
/** What `protect()` returns in @libp2p/pnet 3 (`BoxMessageStream`), as far as the fix needs it. */
interface ProtectedConnection extends StreamState {
  inboundXor?: unknown
  outboundXor?: unknown
  abort(error: Error): void
}
/** The connection `protect()` is given: the raw transport connection. */
interface RawConnection extends StreamState {
  readBuffer?: { byteLength: number }
}
/** What the fix reads of a libp2p message stream (`AbstractMessageStream`). */
interface StreamState {
  status: string
  readStatus?: string
  addEventListener(type: 'close' | 'end', listener: () => void, options?: { once?: boolean }): void
}
type Protect = (connection: RawConnection, options?: unknown) => Promise<ProtectedConnection>

/** The `xsalsa20` module `@libp2p/pnet` uses (resolved from its own location). */
export function loadXsalsa20(): XSalsa20Module {
  const require = createRequire(createRequire(import.meta.url).resolve('@libp2p/pnet'))
  return require('xsalsa20') as XSalsa20Module
}

/** Counters of the ciphers the patched protector handed out, for tests and diagnostics. */
export interface PnetCipherStats {
  /** Connections whose ciphers the fix took over (nonces exchanged). */
  connections: number
  /** Ciphers finalized (each at most once). */
  freed: number
  /** Ciphers of those connections not finalized yet (two per open connection). */
  live: number
  /** The highest WASM slot offset any of those ciphers got (slots are 64 bytes from 144). */
  highestSlot: number
  /** `update()` calls on an already finalized cipher (answered with zeros, never thrown). */
  updatesAfterFree: number
}

const stats = { connections: 0, freed: 0, highestSlot: 0, updatesAfterFree: 0 }

/** A snapshot of `PnetCipherStats`. */
export function pnetCipherStats(): PnetCipherStats {
  return { ...stats, live: stats.connections * 2 - stats.freed }
}

/** Size of the shared WASM memory and the slot a new cipher gets now (a probe, freed at once). */
export function xsalsa20Footprint(module: XSalsa20Module = loadXsalsa20()): {
  memoryBytes: number
  nextSlot: number
} {
  const probe = module(new Uint8Array(24), new Uint8Array(32))
  const state = probe._xor as WasmState
  const footprint = { memoryBytes: state._memory.buffer.byteLength, nextSlot: state._pointer }
  probe.finalize()
  return footprint
}

/** Installs both fixes on the `xsalsa20` module and the `@libp2p/pnet` protector (idempotent). */
export function installPnetCipherFix(
  xsalsa20: XSalsa20Module = loadXsalsa20(),
  pnet: PnetModule = pnetModule as PnetModule,
): void {
  if (xsalsa20.prototype?.[installed] === true) return
  // Check every target before patching any, so a stale package leaves nothing half-patched.
  const update = requireFunction<Update>(PATCH, 'xsalsa20.prototype.update', xsalsa20.prototype, 'update')
  const finalize = requireFunction<() => void>(
    PATCH,
    'xsalsa20.prototype.finalize',
    xsalsa20.prototype,
    'finalize',
  )
  const probe = xsalsa20(new Uint8Array(24), new Uint8Array(32))
  requireProperty(PATCH, 'xsalsa20 instance ._xor (WASM state)', probe, '_xor', 'object')
  requireProperty(PATCH, 'xsalsa20 WASM state ._pointer', probe._xor, '_pointer', 'number')
  requireProperty(PATCH, 'xsalsa20 WASM state ._memory', probe._xor, '_memory', 'object')
  finalize.call(probe)
  const preSharedKey = requireFunction<(init: { psk: Uint8Array }) => () => object>(
    PATCH,
    '@libp2p/pnet preSharedKey',
    pnet,
    'preSharedKey',
  )
  const protector = Object.getPrototypeOf(preSharedKey({ psk: zeroPsk() })()) as Record<PropertyKey, unknown>
  const protect = requireFunction<Protect>(
    PATCH,
    'PreSharedKeyConnectionProtector.prototype.protect',
    protector,
    'protect',
  )

  patchCipher(xsalsa20, update, finalize)
  protector.protect = async function (this: unknown, connection: RawConnection, options?: unknown) {
    const box = await protect.call(this, connection, options)
    adopt(xsalsa20, connection, box)
    return box
  }
  xsalsa20.prototype[installed] = true
}

function zeroPsk(): Uint8Array {
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${'0'.repeat(64)}`)
}

function patchCipher(xsalsa20: XSalsa20Module, original: Update, originalFinalize: () => void): void {
  // The newest memory buffer any instance has seen; an instance holding another one has a stale view.
  let current: ArrayBufferLike | undefined
  const refresh = (state: WasmState): void => {
    if (current !== undefined && state._memory.buffer !== current) state._memory = new Uint8Array(current)
  }
  xsalsa20.prototype.update = function (
    this: XSalsa20Cipher,
    input: Uint8Array,
    output = new Uint8Array(input.length),
  ) {
    if (this._xor === null) {
      // Freed: its slot may be another connection's now. Never touch it, never throw in a listener.
      stats.updatesAfterFree++
      return output.fill(0, 0, input.length)
    }
    for (let offset = 0; offset < input.length; offset += XSALSA20_CHUNK_BYTES) {
      const state = this._xor
      refresh(state)
      const end = Math.min(input.length, offset + XSALSA20_CHUNK_BYTES)
      original.call(this, input.subarray(offset, end), output.subarray(offset, end))
      current = state._memory.buffer
    }
    return output
  }
  const finalize = function (this: XSalsa20Cipher): void {
    if (this._xor === null) return // a second free would put the slot on the free list twice
    refresh(this._xor) // zero the key in the live memory, not in a detached view
    originalFinalize.call(this)
  }
  xsalsa20.prototype.finalize = finalize
  xsalsa20.prototype.final = finalize
}

function adopt(xsalsa20: XSalsa20Module, connection: RawConnection, box: ProtectedConnection): void {
  const ciphers = [box.inboundXor, box.outboundXor]
  if (!ciphers.every((cipher): cipher is XSalsa20Cipher => cipher instanceof xsalsa20)) {
    const error = new StackPatchStaleError(PATCH, 'BoxMessageStream .inboundXor/.outboundXor', 'missing')
    box.abort(error)
    throw error
  }
  stats.connections++
  for (const cipher of ciphers) stats.highestSlot = Math.max(stats.highestSlot, cipher._xor?._pointer ?? 0)
  let done = false
  const free = (): void => {
    if (done || !finished(connection, box)) return
    done = true
    for (const cipher of ciphers) {
      if (cipher._xor === null) continue
      cipher.finalize()
      stats.freed++
    }
  }
  for (const stream of [connection, box])
    for (const event of ['close', 'end'] as const) stream.addEventListener(event, free, { once: true })
  free()
}

const terminal = (stream: StreamState): boolean => stream.status !== 'open' && stream.status !== 'closing'

/**
 * Whether neither cipher can run again: the protected connection is over for writing (no
 * `sendData`) and for reading, and the raw one is over with nothing buffered (no more inbound
 * message). A raw connection may still deliver data it buffered while paused after its `close`
 * event, so that alone is not enough.
 */
function finished(connection: RawConnection, box: ProtectedConnection): boolean {
  return (
    terminal(box) &&
    box.readStatus === 'closed' &&
    terminal(connection) &&
    (connection.readBuffer?.byteLength ?? 0) === 0
  )
}
