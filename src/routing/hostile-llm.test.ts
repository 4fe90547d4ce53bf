/**
 * Hostile input on `/clawmesh/llm/1.0.0` beyond llm-service.test.ts: the
 * per-peer request rate and request frames larger than the read buffer.
 */
import { encode } from 'it-length-prefixed'
import { afterEach, describe, expect, it } from 'vitest'
import type { ChatPart } from '../llm/types.js'
import { LLM_PROTOCOL } from './constants.js'
import { RoutingError } from './errors.js'
import { FrameReader } from './frame-reader.js'
import { type ChatFrame, parseResponseFrame, type ResponseFrame } from './frames.js'
import type { ChatCall } from './llm-client.js'
import { SCRIPTED_REPLY, ScriptedBackend } from './testing/scripted-backend.js'
import { asSentParts } from './testing/sent-parts.js'
import { TestMesh } from './testing/test-mesh.js'

const reply = [...SCRIPTED_REPLY]

const call: ChatCall = {
  soul: 'inbox-triage',
  sensitivity: 'medium',
  backend: 'scripted',
  request: { model: 'scripted-1', messages: [{ role: 'user', content: 'hi' }] },
}

async function collect(parts: AsyncIterable<ChatPart>): Promise<ChatPart[]> {
  const out: ChatPart[] = []
  for await (const part of parts) out.push(part)
  return out
}

/** Reads frames until a final one (`parts` ending in `end`, `embedding` or `error`). */
async function finalFrame(reader: FrameReader): Promise<ResponseFrame> {
  for (;;) {
    const body = await reader.next({ timeoutMs: 5_000 })
    if (body === null) throw new Error('stream ended before a final frame')
    const reply = parseResponseFrame(body)
    if (reply.type === 'parts' && reply.parts.at(-1)?.type !== 'end') continue
    return reply
  }
}

describe('LLMService under hostile callers (real libp2p nodes)', () => {
  const mesh = new TestMesh()
  afterEach(() => mesh.stopAll())

  it('limits each peer to its request rate with a retryable RATE_LIMITED frame on a stream that stays usable', async () => {
    const ownerNode = await mesh.node()
    const callerNode = await mesh.node()
    const otherNode = await mesh.node()
    await mesh.owner(ownerNode, [new ScriptedBackend()], {
      limits: { requestsPerSecond: 1, requestBurst: 3 },
    })
    const other = await mesh.client(otherNode, [ownerNode])
    await callerNode.dial(ownerNode.getMultiaddrs()[0]!)
    // Ten requests back to back on one stream: the burst (3) is served, the rest refused, in sync.
    const stream = await callerNode.dialProtocol(ownerNode.peerId, LLM_PROTOCOL)
    const reader = new FrameReader(stream, { maxFrameBytes: 1 << 20 })
    const frame: ChatFrame = { type: 'chat', ...call }
    const request = encode.single(new TextEncoder().encode(JSON.stringify(frame))).subarray()
    const finals: ResponseFrame[] = []
    for (let index = 0; index < 10; index++) {
      stream.send(request)
      finals.push(await finalFrame(reader))
    }
    const limited = finals.filter((reply) => reply.type === 'error')
    // 1 token/s: a loaded machine may refill one while the ten round trips run.
    expect(finals.filter((reply) => reply.type === 'parts').length).toBeGreaterThanOrEqual(3)
    expect(limited.length).toBeGreaterThanOrEqual(5)
    for (const reply of limited) {
      expect(reply).toMatchObject({ type: 'error', code: 'RATE_LIMITED', retryable: true })
      expect((reply as { message: string }).message).toMatch(/retry in \d+ ms/)
    }
    // Another peer has its own bucket.
    expect(asSentParts(await collect(other.chat(ownerNode.peerId, call)), reply)).toEqual(reply)
    // The refused caller's stream is still in sync: once a token is back, it is served on the same stream.
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    stream.send(request)
    expect(await finalFrame(reader)).toMatchObject({ type: 'parts' })
    reader.dispose()
    stream.abort(new Error('done'))
    // Through the client the code surfaces as a retryable RoutingError.
    const client = await mesh.client(callerNode, [])
    const errors: unknown[] = []
    await Promise.all(
      Array.from({ length: 6 }, () =>
        collect(client.chat(ownerNode.peerId, call)).catch((error: unknown) => errors.push(error)),
      ),
    )
    expect(errors.length).toBeGreaterThan(0)
    for (const error of errors) {
      expect(error).toBeInstanceOf(RoutingError)
      expect(error).toMatchObject({ code: 'RATE_LIMITED', retryable: true, remote: true })
    }
  })

  it('serves a valid request frame much larger than the read high-water mark (1 MiB)', async () => {
    const ownerNode = await mesh.node()
    const callerNode = await mesh.node()
    await mesh.owner(ownerNode, [new ScriptedBackend()], { limits: { requestTimeoutMs: 5_000 } })
    const client = await mesh.client(callerNode, [ownerNode])
    const big: ChatCall = {
      ...call,
      request: { ...call.request, messages: [{ role: 'user', content: 'x'.repeat(1 << 20) }] },
    }
    expect(asSentParts(await collect(client.chat(ownerNode.peerId, big)), reply)).toEqual(reply)
  })
})
