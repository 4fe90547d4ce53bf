import type { PeerId } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import type { ChatPart } from '../llm/types.js'
import type { ClawmeshNode } from '../net/create-node.js'
import { RoutingError, TrustError } from './errors.js'
import type { ChatCall, LLMClient } from './llm-client.js'
import { callWithFailover, routeWithFailover } from './route-with-failover.js'
import { type OwnerCandidate, rankOwners } from './select-owner.js'
import { SCRIPTED_REPLY, ScriptedBackend, textParts } from './testing/scripted-backend.js'
import { asSentParts } from './testing/sent-parts.js'
import { TestMesh } from './testing/test-mesh.js'

const call: ChatCall = {
  soul: 'inbox-triage',
  sensitivity: 'medium',
  backend: 'shared',
  request: { model: 'scripted-1', messages: [{ role: 'user', content: 'hi' }] },
}

interface Owner extends OwnerCandidate {
  node: ClawmeshNode
  peerId: PeerId
}

async function collect(parts: AsyncIterable<ChatPart>): Promise<ChatPart[]> {
  const out: ChatPart[] = []
  for await (const part of parts) out.push(part)
  return out
}

describe('failover across two owners of one backend (real nodes)', () => {
  const mesh = new TestMesh()
  afterEach(() => mesh.stopAll())

  async function twoOwners(first: ScriptedBackend, second: ScriptedBackend, authorize?: () => void) {
    const nodes = [await mesh.node(), await mesh.node()]
    await mesh.owner(nodes[0]!, [first], authorize ? { authorize } : {})
    await mesh.owner(nodes[1]!, [second])
    const callerNode = await mesh.node()
    const client: LLMClient = await mesh.client(callerNode, nodes)
    // Both healthy, equally loaded: the first in rank is decided by connection state and peer ID.
    const owners: Owner[] = nodes.map((node, index) => ({
      node,
      peerId: node.peerId,
      name: `owner-${index}`,
      trust: 'high',
      healthy: true,
      connected: true,
    }))
    const ranked = rankOwners(owners, { sensitivity: 'medium' }).eligible
    // Put the owner holding `first` in front so the test controls who fails.
    ranked.sort((a) => (a.node === nodes[0] ? -1 : 1))
    return { ranked, client, nodes }
  }

  it('moves to the next owner when the first is gone before the request', async () => {
    const first = new ScriptedBackend({ name: 'shared' })
    const second = new ScriptedBackend({ name: 'shared' })
    const { ranked, client, nodes } = await twoOwners(first, second)
    await nodes[0]!.stop()
    const failures: string[] = []
    const started = Date.now()
    const parts = await collect(
      routeWithFailover(
        ranked,
        (owner) => client.chat(owner.peerId, call),
        (failure) => failures.push((failure.error as RoutingError).code),
      ),
    )
    expect(asSentParts(parts, [...SCRIPTED_REPLY])).toEqual(SCRIPTED_REPLY)
    expect(failures).toEqual(['PEER_UNREACHABLE'])
    expect(second.calls).toHaveLength(1)
    expect(Date.now() - started).toBeLessThan(3000)
  })

  it('moves on after a retryable error frame, but not after a trust refusal', async () => {
    const busy = new ScriptedBackend({ name: 'other-name' }) // the first owner does not hold "shared"
    const second = new ScriptedBackend({ name: 'shared' })
    const { ranked, client } = await twoOwners(busy, second)
    const response = await callWithFailover(ranked, (owner) =>
      client.embed(owner.peerId, { ...call, request: { model: 'm', input: ['x'] } }),
    )
    expect(response.embeddings).toHaveLength(1)

    const refusing = new ScriptedBackend({ name: 'shared' })
    const spare = new ScriptedBackend({ name: 'shared' })
    const refused = await twoOwners(refusing, spare, () => {
      throw new TrustError(
        'TRUST_MIN_TRUST',
        'caller (trust low) may not use backend "shared" (min_trust high)',
      )
    })
    const error = await collect(
      routeWithFailover(refused.ranked, (owner) => refused.client.chat(owner.peerId, call)),
    ).then(
      () => undefined,
      (caught: unknown) => caught,
    )
    expect(error).toMatchObject({ name: 'RoutingError', code: 'TRUST_MIN_TRUST' })
    expect(spare.calls).toHaveLength(0)
  })

  it('ends the stream with an error, and no silent retry, when the owner dies mid-stream', async () => {
    const tokens = Array.from({ length: 200 }, (_, index) => `t${index}`)
    const first = new ScriptedBackend({ name: 'shared', parts: textParts(tokens), delayMs: 10 })
    const second = new ScriptedBackend({ name: 'shared', parts: textParts(tokens) })
    const { ranked, client, nodes } = await twoOwners(first, second)
    const seen: ChatPart[] = []
    let killedAt = 0
    const error = await (async () => {
      for await (const part of routeWithFailover(ranked, (owner) => client.chat(owner.peerId, call))) {
        seen.push(part)
        if (seen.length === 5) {
          killedAt = Date.now()
          void nodes[0]!.stop()
        }
      }
    })().then(
      () => undefined,
      (caught: unknown) => caught,
    )
    const detectedMs = Date.now() - killedAt
    expect(error).toBeInstanceOf(RoutingError)
    expect(error).toMatchObject({ afterFirstToken: true, retryable: false })
    expect(['STREAM_CLOSED', 'SHUTTING_DOWN']).toContain((error as RoutingError).code)
    expect(second.calls).toHaveLength(0)
    expect(seen.length).toBeLessThan(tokens.length)
    // Measured on loopback: a few milliseconds; the bound leaves room for a loaded CI machine.
    expect(detectedMs).toBeLessThan(1000)
  })

  it('ends the stream with an error when the owner connection is cut without a goodbye', async () => {
    const tokens = Array.from({ length: 200 }, (_, index) => `t${index}`)
    const first = new ScriptedBackend({ name: 'shared', parts: textParts(tokens), delayMs: 10 })
    const second = new ScriptedBackend({ name: 'shared' })
    const { ranked, client, nodes } = await twoOwners(first, second)
    const seen: ChatPart[] = []
    let cutAt = 0
    const error = await (async () => {
      for await (const part of routeWithFailover(ranked, (owner) => client.chat(owner.peerId, call))) {
        seen.push(part)
        if (seen.length === 5) {
          cutAt = Date.now()
          // Like a crashed process: the owner's sockets are destroyed, no stream or muxer close is sent.
          for (const connection of nodes[0]!.getConnections()) connection.abort(new Error('crash'))
        }
      }
    })().then(
      () => undefined,
      (caught: unknown) => caught,
    )
    expect(error).toMatchObject({ name: 'RoutingError', code: 'STREAM_CLOSED', afterFirstToken: true })
    expect(Date.now() - cutAt).toBeLessThan(1000)
    expect(second.calls).toHaveLength(0)
  })
})
