import { afterEach, describe, expect, it } from 'vitest'
import type { ChatPart } from '../llm/types.js'
import { RoutingError } from './errors.js'
import type { ChatCall } from './llm-client.js'
import { OwnerQueue } from './owner-queue.js'
import { SCRIPTED_REPLY, ScriptedBackend, sleep, textParts } from './testing/scripted-backend.js'
import { TestMesh } from './testing/test-mesh.js'

const call: ChatCall = {
  soul: 'inbox-triage',
  sensitivity: 'low',
  backend: 'scripted',
  request: { model: 'scripted-1', messages: [{ role: 'user', content: 'hi' }] },
}
const reply = [...SCRIPTED_REPLY]

async function collect(parts: AsyncIterable<ChatPart>): Promise<ChatPart[]> {
  const out: ChatPart[] = []
  for await (const part of parts) out.push(part)
  return out
}

async function failure(promise: Promise<unknown>): Promise<RoutingError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof RoutingError) return error
    throw error
  }
  throw new Error('expected a RoutingError')
}

describe('OwnerQueue', () => {
  it('grants slots up to the limit, then serves waiters in FIFO order', async () => {
    const queue = new OwnerQueue<string>({ limit: 2, maxQueued: 2 })
    const first = queue.tryAcquire('a')
    expect(queue.tryAcquire('a')).toBeDefined()
    expect(queue.tryAcquire('a')).toBeUndefined()
    const order: string[] = []
    const one = queue.wait('a').then((grant) => order.push('handed' in grant ? grant.handed : 'slot'))
    const two = queue.wait('a').then((grant) => order.push('handed' in grant ? grant.handed : 'slot'))
    expect((await failure(queue.wait('a'))).code).toBe('OWNER_BUSY')
    expect(queue.handOff('a', 'stream')).toBe(true)
    first?.release()
    first?.release() // a second release frees nothing
    await Promise.all([one, two])
    expect(order).toEqual(['stream', 'slot'])
    expect(queue.active('a')).toBe(2)
    expect(queue.waiting('a')).toBe(0)
  })

  it('drops an aborted waiter at once', async () => {
    const queue = new OwnerQueue<string>({ limit: 1, maxQueued: 4 })
    const slot = queue.tryAcquire('a')
    const controller = new AbortController()
    const waiting = failure(queue.wait('a', controller.signal))
    const next = queue.wait('a')
    expect(queue.waiting('a')).toBe(2)
    controller.abort()
    expect(queue.waiting('a')).toBe(1)
    expect((await waiting).code).toBe('ABORTED')
    slot?.release()
    expect('slot' in (await next)).toBe(true)
  })
})

describe('LLMClient per-owner queue (real nodes)', () => {
  const mesh = new TestMesh()
  afterEach(() => mesh.stopAll())

  it('serves 3 × the owner limit of concurrent requests, never holding more streams than the owner allows', async () => {
    const limit = 8
    const ownerNode = await mesh.node()
    const callerNode = await mesh.node()
    const service = await mesh.owner(ownerNode, [new ScriptedBackend({ delayMs: 5 })], {
      limits: { maxStreamsPerPeer: limit },
    })
    const client = await mesh.client(callerNode, [ownerNode], { maxStreamsPerPeer: limit })
    let peak = 0
    const watch = setInterval(() => {
      peak = Math.max(peak, service.openStreams())
    }, 1)
    try {
      const replies = await Promise.all(
        Array.from({ length: 3 * limit }, () => collect(client.chat(ownerNode.peerId, call))),
      )
      for (const parts of replies) expect(parts).toEqual(reply)
    } finally {
      clearInterval(watch)
    }
    expect(peak).toBeLessThanOrEqual(limit)
    expect(client.waiting(ownerNode.peerId)).toBe(0)
    expect(client.streams(ownerNode.peerId)).toBeLessThanOrEqual(limit)
  })

  it('keeps within the owner limit while callers cancel mid-reply and new requests take their place', async () => {
    const limit = 4
    const ownerNode = await mesh.node()
    const callerNode = await mesh.node()
    const backend = new ScriptedBackend({ parts: textParts(['a', 'b', 'c', 'd', 'e']), delayMs: 3 })
    await mesh.owner(ownerNode, [backend], { limits: { maxStreamsPerPeer: limit } })
    const client = await mesh.client(callerNode, [ownerNode], { maxStreamsPerPeer: limit })
    const results = await Promise.all(
      Array.from({ length: 6 * limit }, async (_, index) => {
        const parts: ChatPart[] = []
        for await (const part of client.chat(ownerNode.peerId, call)) {
          parts.push(part)
          if (index % 2 === 0 && parts.length === 2) break // cancel: resets the stream
        }
        return parts.length
      }),
    )
    expect(results.filter((count) => count === 2)).toHaveLength(3 * limit)
    expect(results.filter((count) => count === 7)).toHaveLength(3 * limit)
  })

  it('removes a queued request whose signal aborts, and serves the rest', async () => {
    const ownerNode = await mesh.node()
    const callerNode = await mesh.node()
    // The running request takes ~500 ms, so an answer within 150 ms means the waiter left at once.
    const backend = new ScriptedBackend({ delayMs: 100 })
    await mesh.owner(ownerNode, [backend], { limits: { maxStreamsPerPeer: 1 } })
    const client = await mesh.client(callerNode, [ownerNode], { maxStreamsPerPeer: 1 })
    const running = collect(client.chat(ownerNode.peerId, call))
    await expect.poll(() => client.streams(ownerNode.peerId), { timeout: 2000, interval: 1 }).toBe(1)
    const controller = new AbortController()
    const queued = failure(collect(client.chat(ownerNode.peerId, call, { signal: controller.signal })))
    const after = collect(client.chat(ownerNode.peerId, call))
    await expect.poll(() => client.waiting(ownerNode.peerId), { timeout: 2000, interval: 1 }).toBe(2)
    const abortedAt = performance.now()
    controller.abort()
    const error = await queued
    expect(performance.now() - abortedAt).toBeLessThan(150)
    expect(error.code).toBe('ABORTED')
    expect(client.waiting(ownerNode.peerId)).toBe(1)
    expect(await running).toEqual(reply)
    expect(await after).toEqual(reply)
    // The aborted request never reached the owner.
    expect(backend.calls).toHaveLength(2)
  })

  it('refuses with a retryable OWNER_BUSY once the queue is full', async () => {
    const ownerNode = await mesh.node()
    const callerNode = await mesh.node()
    await mesh.owner(ownerNode, [new ScriptedBackend({ delayMs: 20 })], { limits: { maxStreamsPerPeer: 2 } })
    const client = await mesh.client(callerNode, [ownerNode], { maxStreamsPerPeer: 2, maxQueuedPerPeer: 3 })
    const accepted = Array.from({ length: 5 }, () => collect(client.chat(ownerNode.peerId, call)))
    await expect.poll(() => client.waiting(ownerNode.peerId), { timeout: 2000, interval: 1 }).toBe(3)
    const error = await failure(collect(client.chat(ownerNode.peerId, call)))
    expect(error.name).toBe('RoutingError')
    expect(error.code).toBe('OWNER_BUSY')
    expect(error.retryable).toBe(true)
    expect(error.afterFirstToken).toBe(false)
    for (const parts of await Promise.all(accepted)) expect(parts).toEqual(reply)
    await sleep(0)
    expect(client.waiting(ownerNode.peerId)).toBe(0)
  })
})
