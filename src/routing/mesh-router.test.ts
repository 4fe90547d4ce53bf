import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../../test/cli-process.js'
import { type MeshFixture, startMeshFixture } from '../../test/mesh-fixture.js'
import type { ChatPart } from '../llm/types.js'
import { asSentTokens } from './testing/sent-parts.js'

async function collect(parts: AsyncIterable<ChatPart>): Promise<ChatPart[]> {
  const out: ChatPart[] = []
  for await (const part of parts) out.push(part)
  return out
}

const text = (parts: ChatPart[]): string =>
  parts.map((part) => (part.type === 'text-delta' ? part.text : '')).join('')

describe('mesh routing with three real peers (claworc shape)', () => {
  let mesh: MeshFixture | undefined
  afterEach(async () => {
    await mesh?.stop()
    mesh = undefined
  })

  it('streams a low soul chat to the medium owner, token for token, with tool calls and usage', async () => {
    mesh = await startMeshFixture({
      scripts: {
        fast: {
          tokens: ['Sun', 'ny', ' and', ' 21', '°C'],
          toolCalls: [{ id: 'call_1', name: 'lookup', arguments: '{"city":"Lyon"}', chunks: 3 }],
        },
      },
    })
    const parts = await collect(
      mesh.peers['vps-public']!.chat({
        soul: 'weather-brief',
        model: 'fast/gpt-fast',
        request: { messages: [{ role: 'user', content: 'weather?' }] },
      }),
    )
    expect(text(parts)).toBe('Sunny and 21°C')
    const tokens = ['Sun', 'ny', ' and', ' 21', '°C']
    expect(
      asSentTokens(
        parts.filter((part) => part.type === 'text-delta').map((part) => part.text),
        tokens,
      ),
    ).toEqual(['Sun', 'ny', ' and', ' 21', '°C'])
    expect(parts.find((part) => part.type === 'tool-call')).toMatchObject({
      id: 'call_1',
      name: 'lookup',
      arguments: '{"city":"Lyon"}',
    })
    expect(parts.some((part) => part.type === 'usage')).toBe(true)
    expect(parts.at(-1)).toMatchObject({ type: 'end', finishReason: 'tool-calls' })
    expect(mesh.providers.fast!.requests.some((request) => request.path.endsWith('/chat/completions'))).toBe(
      true,
    )
  })

  it('uses the soul default backend and model for a bare or empty model name', async () => {
    mesh = await startMeshFixture()
    const parts = await collect(
      mesh.peers['vps-public']!.chat({
        soul: 'weather-brief',
        model: '',
        request: { messages: [{ role: 'user', content: 'hi' }] },
      }),
    )
    expect(text(parts)).toBe('Hello, world!')
    const body = mesh.providers.fast!.requests.at(-1)?.body as { model?: string }
    expect(body.model).toBe('gpt-fast')
  })

  it('embeds through the owner', async () => {
    mesh = await startMeshFixture()
    const response = await mesh.peers.home!.embed({
      soul: 'inbox-triage',
      model: 'private/llama3',
      input: ['a', 'bb'],
    })
    expect(response.embeddings).toHaveLength(2)
    expect(response.embeddings[0]).toHaveLength(4)
  })

  it('refuses by the trust rules before any byte leaves, naming the rule', async () => {
    mesh = await startMeshFixture()
    // Data rule: a high soul may not send to a medium owner.
    const before = mesh.providers.fast!.requests.length
    await expect(
      collect(
        mesh.peers.home!.chat({
          soul: 'inbox-triage',
          model: 'fast/gpt-fast',
          request: { messages: [{ role: 'user', content: 'secret inbox' }] },
        }),
      ),
    ).rejects.toMatchObject({
      code: 'NO_ELIGIBLE_OWNER',
      message: expect.stringContaining(
        'soul "inbox-triage" (sensitivity high) may not send to vps-fast (trust medium)',
      ),
    })
    expect(mesh.providers.fast!.requests.length).toBe(before)
    // Resource rule: a medium caller may not use a backend whose min_trust is high (default: home's trust).
    await expect(
      collect(
        mesh.peers['vps-fast']!.chat({
          soul: 'escalation-router',
          model: 'private/llama3',
          request: { messages: [{ role: 'user', content: 'x' }] },
        }),
      ),
    ).rejects.toMatchObject({ code: 'NO_ELIGIBLE_OWNER', message: expect.stringContaining('min_trust') })
    expect(mesh.providers.private!.requests.filter((request) => request.path === '/api/chat')).toHaveLength(0)
  })

  it('names unknown backends, unknown models and foreign souls', async () => {
    mesh = await startMeshFixture()
    const peer = mesh.peers['vps-public']!
    const ask = (soul: string, model: string) =>
      collect(peer.chat({ soul, model, request: { messages: [{ role: 'user', content: 'x' }] } }))
    await expect(ask('weather-brief', 'nope/some-model')).rejects.toMatchObject({ code: 'UNKNOWN_MODEL' })
    await expect(ask('weather-brief', 'fast/not-a-model')).rejects.toMatchObject({ code: 'UNKNOWN_MODEL' })
    await expect(ask('inbox-triage', 'fast/gpt-fast')).rejects.toMatchObject({ code: 'FOREIGN_SOUL' })
    expect((await peer.models('weather-brief')).map((model) => model.id)).toEqual(['fast/gpt-fast'])
  })

  it('moves to the other owner when one is down before the request', async () => {
    mesh = await startMeshFixture({ secondFastOwner: true })
    await mesh.peers['vps-fast']!.stop()
    // escalation-router lives on vps-fast, so ask from vps-public's soul; both owners advertise `fast`.
    for (let round = 0; round < 3; round++) {
      const parts = await collect(
        mesh.peers['vps-public']!.chat({
          soul: 'weather-brief',
          model: 'fast/gpt-fast',
          request: { messages: [{ role: 'user', content: `round ${round}` }] },
        }),
      )
      expect(text(parts)).toBe('Hello, world!')
    }
    expect(mesh.providers['fast-replica']!.requests.length).toBeGreaterThanOrEqual(3)
  })

  it('fails fast with OWNER_UNREACHABLE when heartbeats say every owner is dead (a crash or a partition)', async () => {
    mesh = await startMeshFixture({
      health: { heartbeat_interval_ms: 200, suspect_after_ms: 600, dead_after_ms: 1_200 },
    })
    const asker = mesh.peers['vps-public']!
    const ownerId = mesh.peers['vps-fast']!.peerId
    // First heard alive (heartbeats), then silent: only then can the view call it dead.
    await waitFor(
      () => asker.parts.membership.get(ownerId)?.state === 'alive',
      20_000,
      'the owner to be heard',
    )
    await mesh.peers['vps-fast']!.stop()
    await waitFor(
      () => asker.parts.membership.get(ownerId)?.state === 'dead',
      30_000,
      'the owner to be dead',
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}: ${JSON.stringify(asker.parts.membership.get(ownerId))}`)
    })
    const started = Date.now()
    await expect(
      collect(
        asker.chat({
          soul: 'weather-brief',
          model: 'fast/gpt-fast',
          request: { messages: [{ role: 'user', content: 'x' }] },
        }),
      ),
    ).rejects.toMatchObject({ code: 'OWNER_UNREACHABLE', message: expect.stringContaining('vps-fast') })
    expect(Date.now() - started).toBeLessThan(200)
  })

  it('ends the stream with an error, within a bound, when the owner dies mid-stream', async () => {
    mesh = await startMeshFixture({
      scripts: { fast: { tokens: ['a', 'b', 'c', 'd', 'e', 'f'], tokenDelayMs: 300 } },
    })
    const received: string[] = []
    let failedAt = 0
    const killAt = { time: 0 }
    const run = (async () => {
      for await (const part of mesh!.peers['vps-public']!.chat({
        soul: 'weather-brief',
        model: 'fast/gpt-fast',
        request: { messages: [{ role: 'user', content: 'x' }] },
      })) {
        if (part.type === 'text-delta') received.push(part.text)
        if (received.length === 2 && killAt.time === 0) {
          killAt.time = Date.now()
          void mesh!.peers['vps-fast']!.parts.node.stop()
        }
      }
    })().catch((error: unknown) => {
      failedAt = Date.now()
      throw error
    })
    await expect(run).rejects.toMatchObject({ name: 'RoutingError' })
    expect(received.length).toBeLessThan(6)
    expect(failedAt - killAt.time).toBeLessThan(2_000)
  })
})
