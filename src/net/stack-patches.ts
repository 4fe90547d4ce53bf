/**
 * Three small runtime patches to the libp2p 3 stack, installed by `createNode` before the first
 * connection exists. Each removes work from every frame on the LLM path; each was found by tracing
 * one request stage by stage (docs/routing.md, "Where the time goes") and is shown by
 * `stack-patches.test.ts`. Remove one when its library fixes the behaviour. Every target is checked
 * before any is patched (`checkStackPatchTargets`, `STACK_PATCH_STALE`); the patched packages are
 * pinned exactly in package.json; upstream reports are in docs/upstream/.
 *
 * 1. TCP write coalescing. `@libp2p/tcp` 11 hands every buffer of a write to `socket.write` on its
 *    own; with `noDelay` on (DESIGN.md: off costs 88 ms) each is its own syscall and segment. Noise
 *    makes two buffers per message (a 2-byte length, then the ciphertext), so one small frame left
 *    as two segments and the receiver woke for a 2-byte segment it could not decode. The socket is
 *    now corked until the end of the tick (as `node:http` does for a response): a frame, or the
 *    frames queued in one tick, leave in one `writev`. Nothing waits: `process.nextTick` uncorks
 *    before the event loop polls again.
 * 2. Yamux window updates at half a window, as Go's yamux does (`session.go`). The JS muxer sent a
 *    WindowUpdate after every data frame received: an extra write per frame, and a wake-up of the
 *    sender to read 12 bytes; on a request's critical path the owner sent it before it parsed the
 *    request. Frames that must carry SYN or ACK, and paused streams, keep the library's path.
 * 3. No exception per received chunk. `LengthPrefixedDecoder` (Noise's message reader) learns that
 *    its buffer is used up when the length decoder throws a new `RangeError`, so every TCP read
 *    paid for an Error with a captured stack trace (4% of all CPU of a gateway request in one
 *    process). An empty buffer now throws one preallocated `RangeError` (no stack capture); any
 *    other input goes to the library's decoder unchanged.
 */
import { Socket } from 'node:net'
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import { AbstractMessageStream, LengthPrefixedDecoder } from '@libp2p/utils'
import { requireFunction, requireProperty } from './patch-target.js'

type Patched = Record<PropertyKey, unknown>
const installed = Symbol.for('clawmesh.stackPatches')

/** The classes and enum the three patches replace methods of or read (default: the installed libraries). */
export interface StackPatchTargets {
  Socket: unknown
  AbstractMessageStream: unknown
  YamuxStream: unknown
  StreamState: unknown
  LengthPrefixedDecoder: unknown
}

const libraries: StackPatchTargets = {
  Socket,
  AbstractMessageStream,
  YamuxStream,
  StreamState,
  LengthPrefixedDecoder,
}

/** Throws `StackPatchStaleError` (`STACK_PATCH_STALE`) naming the first patch target that is gone. */
export function checkStackPatchTargets(targets: StackPatchTargets = libraries): void {
  const proto = (owner: unknown): unknown => (owner as { prototype?: unknown } | undefined)?.prototype
  const tcp = 'TCP write coalescing'
  requireFunction(tcp, 'net.Socket.prototype.cork', proto(targets.Socket), 'cork')
  requireFunction(tcp, 'net.Socket.prototype.uncork', proto(targets.Socket), 'uncork')
  requireFunction(
    tcp,
    '@libp2p/utils AbstractMessageStream.prototype.processSendQueue',
    proto(targets.AbstractMessageStream),
    'processSendQueue',
  )
  const window = 'yamux window updates'
  requireFunction(
    window,
    '@chainsafe/libp2p-yamux YamuxStream.prototype.sendWindowUpdate',
    proto(targets.YamuxStream),
    'sendWindowUpdate',
  )
  requireProperty(
    window,
    '@chainsafe/libp2p-yamux StreamState.Established',
    targets.StreamState,
    'Established',
    'number',
  )
  requireProperty(
    window,
    '@chainsafe/libp2p-yamux StreamState.SYNSent',
    targets.StreamState,
    'SYNSent',
    'number',
  )
  const decoder = 'cheap end of buffer'
  requireFunction(
    decoder,
    '@libp2p/utils LengthPrefixedDecoder.prototype.decode',
    proto(targets.LengthPrefixedDecoder),
    'decode',
  )
  // The patch swaps the instance's `lengthDecoder`: make one and look.
  const Decoder = targets.LengthPrefixedDecoder as new (init: object) => object
  const probe = new Decoder({ lengthDecoder: () => 0, encodingLength: () => 1 })
  requireProperty(
    decoder,
    '@libp2p/utils LengthPrefixedDecoder instance .lengthDecoder',
    probe,
    'lengthDecoder',
    'function',
  )
}

/** Installs all three patches (idempotent); checks every target first (`checkStackPatchTargets`). */
export function installStackPatches(): void {
  const marker = AbstractMessageStream.prototype as unknown as Patched
  if (marker[installed] === true) return
  checkStackPatchTargets()
  coalesceTcpWrites()
  thresholdYamuxWindowUpdates()
  cheapEndOfBuffer()
  marker[installed] = true
}

/** Whether `installStackPatches` ran (for tests). */
export function stackPatchesInstalled(): boolean {
  return (AbstractMessageStream.prototype as unknown as Patched)[installed] === true
}

function uncork(socket: Socket): void {
  socket.uncork()
}

function coalesceTcpWrites(): void {
  // Each stream binds `processSendQueue` in its constructor: patching the prototype before the
  // first connection reaches every one.
  const prototype = AbstractMessageStream.prototype as unknown as {
    processSendQueue(this: { socket?: unknown }): boolean
  }
  const original = prototype.processSendQueue
  prototype.processSendQueue = function (this: { socket?: unknown }) {
    // Only the TCP connection itself has a socket; muxed streams and Noise pass straight through.
    const socket = this.socket
    if (socket instanceof Socket && socket.writableCorked === 0 && !socket.destroyed) {
      socket.cork()
      process.nextTick(uncork, socket)
    }
    return original.call(this)
  }
}

interface WindowState {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
}

function thresholdYamuxWindowUpdates(): void {
  const prototype = YamuxStream.prototype as unknown as { sendWindowUpdate(this: WindowState): void }
  const original = prototype.sendWindowUpdate
  prototype.sendWindowUpdate = function (this: WindowState) {
    const plain = this.state === StreamState.Established || this.state === StreamState.SYNSent
    // More than half the window still free: the sender is far from blocking, nothing to say yet.
    if (plain && this.recvWindowCapacity * 2 > this.recvWindow) return
    original.call(this)
  }
}

/** Thrown instead of a fresh `RangeError` when there is nothing left to decode; the loop catches it. */
const bufferUsedUp = new RangeError('length-prefixed buffer used up')
bufferUsedUp.stack = bufferUsedUp.message

type LengthDecoder = (data: { byteLength: number }) => number
const wrapped = Symbol('clawmesh.cheapEndOfBuffer')

function cheapEndOfBuffer(): void {
  const prototype = LengthPrefixedDecoder.prototype as unknown as {
    decode(this: { lengthDecoder: LengthDecoder & { [wrapped]?: true } }, buf: unknown): Generator<unknown>
  }
  const original = prototype.decode
  prototype.decode = function (this: { lengthDecoder: LengthDecoder & { [wrapped]?: true } }, buf: unknown) {
    if (this.lengthDecoder[wrapped] !== true) {
      const inner = this.lengthDecoder
      const decoder = ((data: { byteLength: number }) => {
        if (data.byteLength === 0) throw bufferUsedUp
        return inner(data)
      }) as LengthDecoder & { [wrapped]?: true }
      decoder[wrapped] = true
      this.lengthDecoder = decoder
    }
    return original.call(this, buf)
  }
}
