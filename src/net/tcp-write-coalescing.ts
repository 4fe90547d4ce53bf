/**
 * Makes each TCP connection send what libp2p writes in one tick as one `writev`, installed by
 * `createNode`.
 *
 * `@libp2p/tcp` 11 hands every buffer of a write to `socket.write` on its own, and with `noDelay`
 * on (DESIGN.md: off costs 88 ms) each becomes its own syscall and TCP segment. Noise turns every
 * message into two buffers (a 2-byte length, then the ciphertext), so one small frame went out as
 * two segments, and the receiver woke for a 2-byte segment it could not decode yet. Corking the
 * socket until the end of the tick, as `node:http` does for a response, sends a frame, or the
 * frames queued in one tick, in one syscall and one segment. Nothing waits: the socket is uncorked
 * in `process.nextTick`, before the event loop polls again.
 * Measured in bench/gateway.ts (BENCHMARKS.md, "Gateway"). Remove if `@libp2p/tcp` corks itself.
 */
import { Socket } from 'node:net'
import { AbstractMessageStream } from '@libp2p/utils'

type SendQueue = (this: AbstractMessageStream & { socket?: unknown }) => boolean

const installed = Symbol.for('clawmesh.tcpWriteCoalescing')

function uncork(socket: Socket): void {
  socket.uncork()
}

/**
 * Patches `AbstractMessageStream.prototype.processSendQueue` (idempotent). Must run before the
 * first connection exists: each stream binds the method in its constructor.
 */
export function installTcpWriteCoalescing(): void {
  const prototype = AbstractMessageStream.prototype as unknown as Record<PropertyKey, unknown> & {
    processSendQueue: SendQueue
  }
  if (prototype[installed] === true) return
  const original = prototype.processSendQueue
  prototype.processSendQueue = function (this: AbstractMessageStream & { socket?: unknown }) {
    // Only the TCP connection itself has a socket; muxed streams and Noise pass straight through.
    const socket = this.socket
    if (socket instanceof Socket && socket.writableCorked === 0 && !socket.destroyed) {
      socket.cork()
      process.nextTick(uncork, socket)
    }
    return original.call(this)
  }
  prototype[installed] = true
}

/** Whether the patch is in place (for tests). */
export function tcpWriteCoalescingInstalled(): boolean {
  return (AbstractMessageStream.prototype as unknown as Record<PropertyKey, unknown>)[installed] === true
}
