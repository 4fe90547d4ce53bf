import { Socket } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ScriptedBackend } from '../routing/testing/scripted-backend.js'
import { TestMesh } from '../routing/testing/test-mesh.js'
import { tcpWriteCoalescingInstalled } from './tcp-write-coalescing.js'

describe('TCP write coalescing (real libp2p nodes, Noise over TCP)', () => {
  const mesh = new TestMesh()
  afterEach(async () => {
    vi.restoreAllMocks()
    await mesh.stopAll()
  })

  it('sends each Noise message (length + ciphertext) in one socket write, not two', async () => {
    const owner = await mesh.node()
    const caller = await mesh.node()
    expect(tcpWriteCoalescingInstalled()).toBe(true)
    await mesh.owner(owner, [new ScriptedBackend()])
    const client = await mesh.client(caller, [owner])
    const call = {
      soul: 's',
      sensitivity: 'low' as const,
      backend: 'scripted',
      request: { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] },
    }
    for await (const _part of client.chat(owner.peerId, call)) {
      // the first request negotiates the stream; it goes back to the pool
    }
    const writes: number[] = [] // buffers per socket write
    const single = vi.spyOn(Socket.prototype as unknown as { _write: () => void }, '_write')
    const vector = vi.spyOn(Socket.prototype as unknown as { _writev: () => void }, '_writev')
    single.mockName('_write')
    const requests = 20
    for (let index = 0; index < requests; index++) {
      for await (const _part of client.chat(owner.peerId, call)) {
        // drain
      }
    }
    for (const _call of single.mock.calls) writes.push(1)
    for (const [chunks] of vector.mock.calls as unknown as Array<[unknown[]]>) writes.push(chunks.length)
    // Per request on a pooled stream: the request frame, the first part, the rest of the reply,
    // and yamux window updates — each one Noise message, each now one write (two buffers).
    const perRequest = writes.length / requests
    expect(perRequest).toBeLessThan(5)
    // Every Noise message is a 2-byte length and its ciphertext: coalesced, they leave in one writev.
    expect(writes.filter((buffers) => buffers >= 2).length).toBeGreaterThanOrEqual(requests * 2)
    expect(writes.filter((buffers) => buffers === 1).length).toBeLessThan(requests)
  })
})
