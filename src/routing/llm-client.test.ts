import { afterEach, describe, expect, it } from 'vitest'
import type { ChatPart } from '../llm/types.js'
import { type ChatCall, LLMClient } from './llm-client.js'
import { SCRIPTED_REPLY, ScriptedBackend, sleep, textParts } from './testing/scripted-backend.js'
import { asSentParts } from './testing/sent-parts.js'
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

function llmStreams(node: { getConnections(): { streams: { protocol?: string }[] }[] }): number {
  return node
    .getConnections()
    .flatMap((connection) => connection.streams)
    .filter((stream) => stream.protocol === '/clawmesh/llm/1.0.0').length
}

describe('LLMClient keep-alive pool (real nodes)', () => {
  const mesh = new TestMesh()
  afterEach(() => mesh.stopAll())

  it('reuses one negotiated stream for sequential requests', async () => {
    const ownerNode = await mesh.node()
    const callerNode = await mesh.node()
    const service = await mesh.owner(ownerNode, [new ScriptedBackend()])
    const client = await mesh.client(callerNode, [ownerNode])
    for (let index = 0; index < 20; index++)
      expect(asSentParts(await collect(client.chat(ownerNode.peerId, call)), reply)).toEqual(reply)
    const embedded = await client.embed(ownerNode.peerId, {
      ...call,
      request: { model: 'm', input: ['abc'] },
    })
    expect(embedded.embeddings).toEqual([[3, 0.5, -1]])
    expect(client.pooled(ownerNode.peerId)).toBe(1)
    expect(service.openStreams()).toBe(1)
    expect(llmStreams(callerNode)).toBe(1)
  })

  it('holds one idle stream per concurrent request, up to its limit', async () => {
    const ownerNode = await mesh.node()
    const callerNode = await mesh.node()
    await mesh.owner(ownerNode, [new ScriptedBackend({ delayMs: 20 })])
    const client = await mesh.client(callerNode, [ownerNode], { pool: { maxIdlePerPeer: 3 } })
    const replies = await Promise.all(
      Array.from({ length: 5 }, () => collect(client.chat(ownerNode.peerId, call))),
    )
    for (const parts of replies) expect(parts).toEqual(reply)
    expect(client.pooled(ownerNode.peerId)).toBe(3)
    await expect.poll(() => llmStreams(callerNode), { timeout: 2000, interval: 10 }).toBe(3)
  })

  it('drops streams the owner retires after its keep-alive, and the next request still works', async () => {
    const ownerNode = await mesh.node()
    const callerNode = await mesh.node()
    const service = await mesh.owner(ownerNode, [new ScriptedBackend()], { limits: { keepAliveMs: 150 } })
    const client = await mesh.client(callerNode, [ownerNode], { pool: { idleMs: 60_000 } })
    expect(asSentParts(await collect(client.chat(ownerNode.peerId, call)), reply)).toEqual(reply)
    expect(client.pooled(ownerNode.peerId)).toBe(1)
    await expect.poll(() => client.pooled(ownerNode.peerId), { timeout: 2000, interval: 10 }).toBe(0)
    await expect.poll(() => service.openStreams(), { timeout: 2000, interval: 10 }).toBe(0)
    await expect.poll(() => llmStreams(callerNode), { timeout: 2000, interval: 10 }).toBe(0)
    expect(asSentParts(await collect(client.chat(ownerNode.peerId, call)), reply)).toEqual(reply)
  })

  it('closes its idle streams after its own idle time, and the owner lets them go', async () => {
    const ownerNode = await mesh.node()
    const callerNode = await mesh.node()
    const service = await mesh.owner(ownerNode, [new ScriptedBackend()])
    const client = await mesh.client(callerNode, [ownerNode], { pool: { idleMs: 100 } })
    expect(asSentParts(await collect(client.chat(ownerNode.peerId, call)), reply)).toEqual(reply)
    await sleep(50)
    expect(service.openStreams()).toBe(1)
    await expect.poll(() => service.openStreams(), { timeout: 2000, interval: 10 }).toBe(0)
    expect(client.pooled(ownerNode.peerId)).toBe(0)
  })

  it('never returns a cancelled stream to the pool', async () => {
    const ownerNode = await mesh.node()
    const callerNode = await mesh.node()
    const backend = new ScriptedBackend({ parts: textParts(['a', 'b', 'c', 'd']), delayMs: 20 })
    const service = await mesh.owner(ownerNode, [backend])
    const client = await mesh.client(callerNode, [ownerNode])
    for await (const part of client.chat(ownerNode.peerId, call)) {
      expect(part).toEqual({ type: 'text-delta', text: 'a' })
      break
    }
    expect(client.pooled(ownerNode.peerId)).toBe(0)
    await expect.poll(() => service.openStreams(), { timeout: 2000, interval: 10 }).toBe(0)
    expect(await collect(client.chat(ownerNode.peerId, call))).toHaveLength(6)
    expect(client.pooled(ownerNode.peerId)).toBe(1)
  })

  it('retries once on a new stream when a pooled stream dies just as a request is sent', async () => {
    const ownerNode = await mesh.node()
    const callerNode = await mesh.node()
    const backend = new ScriptedBackend()
    await mesh.owner(ownerNode, [backend])
    const client = await mesh.client(callerNode, [ownerNode])
    expect(asSentParts(await collect(client.chat(ownerNode.peerId, call)), reply)).toEqual(reply)
    const inbound = ownerNode
      .getConnections()
      .flatMap((connection) => connection.streams)
      .find((stream) => stream.protocol === '/clawmesh/llm/1.0.0')
    // The reset reaches the caller only after it has taken the stream from the pool and sent the request.
    inbound?.abort(new Error('owner dropped the idle stream'))
    expect(asSentParts(await collect(client.chat(ownerNode.peerId, call)), reply)).toEqual(reply)
    expect(backend.calls).toHaveLength(2)
  })

  it('opens a new stream per request when the pool is off', async () => {
    const ownerNode = await mesh.node()
    const callerNode = await mesh.node()
    const service = await mesh.owner(ownerNode, [new ScriptedBackend()])
    const client = await mesh.client(callerNode, [ownerNode], { pool: false })
    for (let index = 0; index < 3; index++)
      expect(asSentParts(await collect(client.chat(ownerNode.peerId, call)), reply)).toEqual(reply)
    expect(client.pooled(ownerNode.peerId)).toBe(0)
    await expect.poll(() => service.openStreams(), { timeout: 2000, interval: 10 }).toBe(0)
  })

  it('retries a new stream the owner reset while negotiating, but not a failed dial', async () => {
    const ownerNode = await mesh.node()
    const callerNode = await mesh.node()
    const backend = new ScriptedBackend()
    await mesh.owner(ownerNode, [backend])
    let dials = 0
    let refuse = 2
    let failDial = false
    const node = {
      dialProtocol: ((...args: Parameters<typeof callerNode.dialProtocol>) => {
        dials++
        if (failDial) return Promise.reject(new Error('connect ECONNREFUSED'))
        // What libp2p throws when the owner resets the stream during protocol negotiation.
        if (refuse-- > 0)
          return Promise.reject(Object.assign(new Error('Unexpected EOF'), { name: 'UnexpectedEOFError' }))
        return callerNode.dialProtocol(...args)
      }) as typeof callerNode.dialProtocol,
    }
    await callerNode.dial(ownerNode.getMultiaddrs()[0]!)
    const client = new LLMClient({ node, pool: false })
    mesh.clients.push(client)
    expect(asSentParts(await collect(client.chat(ownerNode.peerId, call)), reply)).toEqual(reply)
    expect(dials).toBe(3)
    expect(client.streams(ownerNode.peerId)).toBeLessThanOrEqual(1)

    failDial = true
    dials = 0
    const error = await collect(client.chat(ownerNode.peerId, call)).then(
      () => undefined,
      (caught: unknown) => caught,
    )
    expect(error).toMatchObject({ code: 'PEER_UNREACHABLE' })
    expect(dials).toBe(1)
  })
})
