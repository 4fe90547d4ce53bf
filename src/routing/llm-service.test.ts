import type { PeerId } from '@libp2p/interface'
import { encode } from 'it-length-prefixed'
import { afterEach, describe, expect, it } from 'vitest'
import { BackendError } from '../llm/errors.js'
import type { ChatPart } from '../llm/types.js'
import type { ClawmeshNode } from '../net/create-node.js'
import { LLM_PROTOCOL } from './constants.js'
import { RoutingError, TrustError } from './errors.js'
import { FrameReader } from './frame-reader.js'
import { type ChatFrame, parseResponseFrame, type ResponseFrame } from './frames.js'
import type { ChatCall, LLMClient } from './llm-client.js'
import { SCRIPTED_REPLY, ScriptedBackend, sleep, textParts } from './testing/scripted-backend.js'
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

async function failure(promise: Promise<unknown>): Promise<RoutingError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(RoutingError)
  return error as RoutingError
}

/** Opens a raw stream, sends `bytes`, and reads response frames until the stream ends or resets. */
async function raw(from: ClawmeshNode, to: PeerId, bytes: Uint8Array | undefined, halfClose = false) {
  const stream = await from.dialProtocol(to, LLM_PROTOCOL)
  const reader = new FrameReader(stream, { maxFrameBytes: 1 << 20 })
  if (bytes) stream.send(bytes)
  if (halfClose) await stream.close()
  const frames: ResponseFrame[] = []
  let ending = 'clean'
  for (;;) {
    try {
      const body = await reader.next({ timeoutMs: 5000 })
      if (body === null) break
      const frame = parseResponseFrame(body)
      frames.push(frame)
      if (frame.type === 'parts' && frame.parts.at(-1)?.type === 'end') break
    } catch (error) {
      ending = (error as Error).name
      break
    }
  }
  return { frames, ending, stream }
}

describe('LLMService over real libp2p nodes', () => {
  const mesh = new TestMesh()
  afterEach(() => mesh.stopAll())

  async function pair(backend: ScriptedBackend, limits = {}, authorize?: () => void) {
    const ownerNode = await mesh.node()
    const callerNode = await mesh.node()
    const service = await mesh.owner(ownerNode, [backend], { limits, ...(authorize ? { authorize } : {}) })
    const client: LLMClient = await mesh.client(callerNode, [ownerNode])
    return { ownerNode, callerNode, service, client, owner: ownerNode.peerId }
  }

  it('streams a chat reply part for part, tool calls and usage included', async () => {
    const parts: ChatPart[] = [
      { type: 'text-delta', text: 'Let me check. ' },
      { type: 'tool-call-delta', index: 0, id: 'call_1', name: 'lookup', argumentsDelta: '{"q":' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: '"weather"}' },
      { type: 'tool-call', index: 0, id: 'call_1', name: 'lookup', arguments: '{"q":"weather"}' },
      { type: 'usage', usage: { inputTokens: 12, outputTokens: 7 } },
      { type: 'end', finishReason: 'tool-calls' },
    ]
    const backend = new ScriptedBackend({ parts })
    const { client, owner } = await pair(backend)
    const request = {
      ...call.request,
      tools: [{ name: 'lookup', description: 'search', parameters: { type: 'object', properties: {} } }],
      toolChoice: 'auto' as const,
    }
    expect(asSentParts(await collect(client.chat(owner, { ...call, request })), parts)).toEqual(parts)
    expect(backend.calls[0]?.request).toEqual(request)
  })

  it('batches parts that are ready together into one frame', async () => {
    const tokens = Array.from({ length: 200 }, (_, index) => `t${index} `)
    const backend = new ScriptedBackend({ parts: textParts(tokens) })
    const { callerNode, owner } = await pair(backend)
    const frame: ChatFrame = { type: 'chat', ...call }
    const { frames } = await raw(
      callerNode,
      owner,
      encode.single(new TextEncoder().encode(JSON.stringify(frame))).subarray(),
    )
    const parts = frames.flatMap((response) => (response.type === 'parts' ? response.parts : []))
    expect(asSentParts(parts, textParts(tokens))).toEqual(textParts(tokens))
    expect(frames.length).toBeLessThan(10)
  })

  it('answers a one-shot caller that half-closes after its request, then ends the stream', async () => {
    const backend = new ScriptedBackend({ delayMs: 20 })
    const { callerNode, owner, service } = await pair(backend)
    const frame: ChatFrame = { type: 'chat', ...call }
    const body = encode.single(new TextEncoder().encode(JSON.stringify(frame))).subarray()
    const { frames } = await raw(callerNode, owner, body, true)
    expect(frames.flatMap((response) => (response.type === 'parts' ? response.parts : []))).toEqual(reply)
    expect(backend.calls[0]?.abortedAt).toBeUndefined()
    await expect.poll(() => service.openStreams(), { timeout: 2000, interval: 10 }).toBe(0)
  })

  it('answers embeddings', async () => {
    const backend = new ScriptedBackend()
    const { client, owner } = await pair(backend)
    const response = await client.embed(owner, {
      soul: 'inbox-triage',
      sensitivity: 'low',
      backend: 'scripted',
      request: { model: 'scripted-1', input: ['a', 'bbb'] },
    })
    expect(response.embeddings).toEqual([
      [1, 0.5, -1],
      [3, 0.5, -1],
    ])
  })

  it('refuses an unknown backend with UNKNOWN_BACKEND and keeps the stream usable', async () => {
    const backend = new ScriptedBackend()
    const { client, owner, service } = await pair(backend)
    const error = await failure(collect(client.chat(owner, { ...call, backend: 'nope' })))
    expect(error).toMatchObject({
      code: 'UNKNOWN_BACKEND',
      remote: true,
      retryable: true,
      afterFirstToken: false,
    })
    expect(asSentParts(await collect(client.chat(owner, call)), reply)).toEqual(reply)
    expect(service.openStreams()).toBe(1)
  })

  it('refuses with the trust rule named by authorize, and the backend never sees the request', async () => {
    const backend = new ScriptedBackend()
    const { client, owner } = await pair(backend, {}, () => {
      throw new TrustError(
        'TRUST_MIN_TRUST',
        'vps-public (trust low) may not use backend "scripted" on home (min_trust high)',
      )
    })
    const error = await failure(collect(client.chat(owner, call)))
    expect(error).toMatchObject({ name: 'RoutingError', code: 'TRUST_MIN_TRUST', retryable: false })
    expect(error.message).toContain('min_trust high')
    expect(backend.calls).toHaveLength(0)
  })

  it('passes backend errors through with their code and retryable flag, before and after the first token', async () => {
    const before = new ScriptedBackend({
      failAt: { index: 0, error: new BackendError('BACKEND_RATE_LIMITED', 'slow down', { retryable: true }) },
    })
    const first = await pair(before)
    const early = await failure(collect(first.client.chat(first.owner, call)))
    expect(early).toMatchObject({ code: 'BACKEND_RATE_LIMITED', retryable: true, afterFirstToken: false })

    const after = new ScriptedBackend({
      failAt: { index: 2, error: new BackendError('BACKEND_UNAVAILABLE', 'gone', { retryable: true }) },
    })
    const second = await pair(after)
    const seen: ChatPart[] = []
    const late = await failure(
      (async () => {
        for await (const part of second.client.chat(second.owner, call)) seen.push(part)
      })(),
    )
    expect(seen.length).toBe(2)
    expect(late).toMatchObject({ code: 'BACKEND_UNAVAILABLE', retryable: false, afterFirstToken: true })
  })

  it('answers a malformed frame with BAD_FRAME and a reset, while another stream of the same peer goes on', async () => {
    const backend = new ScriptedBackend({ parts: textParts(['a', 'b', 'c', 'd', 'e']), delayMs: 40 })
    const { client, callerNode, owner, service } = await pair(backend)
    const healthy = collect(client.chat(owner, call))
    await sleep(30)
    const garbage = await raw(
      callerNode,
      owner,
      encode.single(new TextEncoder().encode('{"type":"chat"')).subarray(),
    )
    expect(garbage.frames).toEqual([
      expect.objectContaining({ type: 'error', code: 'BAD_FRAME', retryable: false }),
    ])
    expect(garbage.ending).toBe('StreamEndedError')
    const invalid = await raw(
      callerNode,
      owner,
      encode
        .single(new TextEncoder().encode(JSON.stringify({ ...call, type: 'chat', sensitivity: 'extreme' })))
        .subarray(),
    )
    expect(invalid.frames[0]).toMatchObject({ type: 'error', code: 'BAD_FRAME' })
    expect((invalid.frames[0] as { message: string }).message).toContain('sensitivity')
    expect(await healthy).toEqual(textParts(['a', 'b', 'c', 'd', 'e']))
    expect(service.inFlight()).toBe(0)
  })

  it('answers an oversized frame with FRAME_TOO_LARGE before reading its body', async () => {
    const backend = new ScriptedBackend()
    const { callerNode, owner, client } = await pair(backend, { maxFrameBytes: 4096 })
    // Only the length prefix of a 1 MiB frame is sent: the owner must refuse on the prefix alone.
    const prefix = encode.single(new Uint8Array(1 << 20)).subarray(0, 3)
    const result = await raw(callerNode, owner, prefix)
    expect(result.frames).toEqual([expect.objectContaining({ type: 'error', code: 'FRAME_TOO_LARGE' })])
    expect(result.ending).toBe('StreamEndedError')
    const big = {
      ...call,
      request: { ...call.request, messages: [{ role: 'user' as const, content: 'x'.repeat(5000) }] },
    }
    const error = await failure(collect(client.chat(owner, big)))
    expect(error.code).toBe('FRAME_TOO_LARGE')
    expect(asSentParts(await collect(client.chat(owner, call)), reply)).toEqual(reply)
  })

  it('limits concurrent streams per peer with TOO_MANY_STREAMS, and serves other peers meanwhile', async () => {
    const backend = new ScriptedBackend({ delayMs: 100 })
    const { client, owner, ownerNode } = await pair(backend, { maxStreamsPerPeer: 2 })
    const running = [collect(client.chat(owner, call)), collect(client.chat(owner, call))]
    await sleep(50)
    const error = await failure(collect(client.chat(owner, call)))
    expect(error).toMatchObject({ code: 'TOO_MANY_STREAMS', retryable: true, afterFirstToken: false })
    const otherNode = await mesh.node()
    const other = await mesh.client(otherNode, [ownerNode])
    expect(await collect(other.chat(owner, call))).toHaveLength(5)
    for (const reply of await Promise.all(running)) expect(reply).toHaveLength(5)
  })

  it('times out a stream that sends no request frame', async () => {
    const backend = new ScriptedBackend()
    const { callerNode, owner } = await pair(backend, { requestTimeoutMs: 200 })
    const started = Date.now()
    const result = await raw(callerNode, owner, undefined)
    expect(result.frames).toEqual([expect.objectContaining({ type: 'error', code: 'REQUEST_TIMEOUT' })])
    expect(Date.now() - started).toBeGreaterThanOrEqual(190)
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('ends a stalled backend with IDLE_TIMEOUT and aborts its call', async () => {
    const backend = new ScriptedBackend({ stall: { index: 2, ms: 5000 } })
    const { client, owner } = await pair(backend, { idleTimeoutMs: 200 })
    const seen: ChatPart[] = []
    const error = await failure(
      (async () => {
        for await (const part of client.chat(owner, call)) seen.push(part)
      })(),
    )
    expect(seen).toHaveLength(2)
    expect(error).toMatchObject({ code: 'IDLE_TIMEOUT', afterFirstToken: true })
    expect(backend.calls[0]?.signal?.aborted).toBe(true)
  })

  it('cuts an error message to what an error frame may carry, so the caller still reads the error', async () => {
    const long = new BackendError('BACKEND_UNAVAILABLE', `provider said: ${'x'.repeat(20_000)}`, {
      retryable: true,
    })
    const { client, owner } = await pair(new ScriptedBackend({ failAt: { index: 0, error: long } }))
    const error = await failure(collect(client.chat(owner, call)))
    expect(error.code).toBe('BACKEND_UNAVAILABLE')
    expect(error.message.startsWith('provider said: xxx')).toBe(true)
    expect(error.message.length).toBeLessThanOrEqual(4096)
    // A clean error frame, not a broken stream: the next request gets the same answer.
    expect((await failure(collect(client.chat(owner, call)))).code).toBe('BACKEND_UNAVAILABLE')
  })

  it('sends every delta as the backend produced it when merging is off', async () => {
    const sent = textParts(Array.from({ length: 50 }, (_, index) => `t${index} `))
    const { client, owner } = await pair(new ScriptedBackend({ parts: sent }), { mergeDeltas: false })
    expect(await collect(client.chat(owner, call))).toEqual(sent)
    const merged = await pair(new ScriptedBackend({ parts: sent }))
    const received = await collect(merged.client.chat(merged.owner, call))
    // Ready together: merged into fewer deltas, the same text.
    expect(received.length).toBeLessThan(sent.length)
    expect(asSentParts(received, sent)).toEqual(sent)
  })

  it('slows the backend down for a slow reader instead of buffering the whole reply', async () => {
    const chunk = 'x'.repeat(1024)
    const total = 8000 // 8 MB of reply
    const sent = textParts(Array.from({ length: total }, () => chunk))
    const backend = new ScriptedBackend({ parts: sent })
    const { client, owner } = await pair(backend)
    const iterator = client.chat(owner, call)[Symbol.asyncIterator]()
    const received: ChatPart[] = []
    for (let index = 0; index < 3; index++) received.push((await iterator.next()).value as ChatPart)
    await sleep(500)
    const ahead = backend.produced
    // Yamux window (256 KiB) + reader high-water mark (64 KiB) + one batch: a few hundred 1 KiB parts.
    expect(ahead).toBeLessThan(1000)
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) received.push(next.value)
    expect(asSentParts(received, sent)).toEqual(sent)
    expect(backend.produced).toBe(total + 2)
  })

  it('cancels the backend call when the consumer stops reading or aborts', async () => {
    const backend = new ScriptedBackend({
      parts: textParts(Array.from({ length: 100 }, () => 'tok')),
      delayMs: 20,
    })
    const { client, owner, service } = await pair(backend)
    for await (const part of client.chat(owner, call)) {
      expect(part.type).toBe('text-delta')
      break
    }
    const brokeAt = Date.now()
    await expect.poll(() => backend.calls[0]?.abortedAt, { timeout: 1000, interval: 5 }).toBeDefined()
    expect(backend.calls[0]!.abortedAt! - brokeAt).toBeLessThan(100)

    const controller = new AbortController()
    const aborted = failure(collect(client.chat(owner, call, { signal: controller.signal })))
    await expect.poll(() => backend.produced, { timeout: 1000, interval: 5 }).toBeGreaterThan(3)
    const abortAt = Date.now()
    controller.abort()
    expect((await aborted).code).toBe('ABORTED')
    await expect.poll(() => backend.calls[1]?.abortedAt, { timeout: 1000, interval: 5 }).toBeDefined()
    expect(backend.calls[1]!.abortedAt! - abortAt).toBeLessThan(100)
    await expect.poll(() => service.inFlight(), { timeout: 1000, interval: 5 }).toBe(0)
  })

  it('counts requests in flight', async () => {
    const backend = new ScriptedBackend({ delayMs: 50 })
    const { client, owner, service } = await pair(backend)
    const replies = [collect(client.chat(owner, call)), collect(client.chat(owner, call))]
    await expect.poll(() => service.inFlight(), { timeout: 1000, interval: 5 }).toBe(2)
    await Promise.all(replies)
    expect(service.inFlight()).toBe(0)
  })
})
