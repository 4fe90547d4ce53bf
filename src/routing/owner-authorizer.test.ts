import { afterEach, describe, expect, it } from 'vitest'
import type { Manifest } from '../config/schema.js'
import type { ChatPart } from '../llm/types.js'
import type { ClawmeshNode } from '../net/create-node.js'
import type { ChatCall } from './llm-client.js'
import { manifestAuthorizer } from './owner-authorizer.js'
import { ScriptedBackend } from './testing/scripted-backend.js'
import { TestMesh } from './testing/test-mesh.js'

// Shaped like examples/claworc-federation.yaml, plus backends.
const manifest: Manifest = {
  federation: {
    nodes: [
      {
        name: 'home',
        address: 'home:8082',
        souls: ['inbox-triage', 'finance-bookkeeper'],
        trust: 'high',
        backends: [{ name: 'gpu', type: 'ollama', min_trust: 'high' }],
      },
      { name: 'vps-public', address: 'pub:8082', souls: ['web-scout'], trust: 'low', backends: [] },
      {
        name: 'vps-fast',
        address: 'fast:8082',
        souls: ['coder'],
        trust: 'medium',
        backends: [{ name: 'fast', type: 'ollama' }],
      },
    ],
  },
  souls: { 'web-scout': { sensitivity: 'low' } },
}

const chat = (soul: string, backend: string, sensitivity: ChatCall['sensitivity']): ChatCall => ({
  soul,
  sensitivity,
  backend,
  request: { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
})

async function outcome(parts: AsyncIterable<ChatPart>): Promise<string> {
  try {
    for await (const _part of parts) {
    }
    return 'ok'
  } catch (error) {
    return `${(error as { code: string }).code}: ${(error as Error).message}`
  }
}

describe('manifestAuthorizer on real owners', () => {
  const mesh = new TestMesh()
  afterEach(() => mesh.stopAll())

  async function federation() {
    const nodes: Record<string, ClawmeshNode> = {
      home: await mesh.node(),
      'vps-public': await mesh.node(),
      'vps-fast': await mesh.node(),
    }
    const nodeOfPeer = (peerId: { toString(): string }): string | undefined =>
      Object.entries(nodes).find(([, node]) => node.peerId.toString() === peerId.toString())?.[0]
    const gpu = new ScriptedBackend({ name: 'gpu' })
    const fast = new ScriptedBackend({ name: 'fast' })
    await mesh.owner(nodes.home!, [gpu], {
      authorize: manifestAuthorizer({ manifest, self: 'home', nodeOfPeer }),
    })
    await mesh.owner(nodes['vps-fast']!, [fast], {
      authorize: manifestAuthorizer({ manifest, self: 'vps-fast', nodeOfPeer }),
    })
    return { nodes, gpu, fast }
  }

  it('refuses a medium caller on a min_trust high backend, naming the rule', async () => {
    const { nodes, gpu } = await federation()
    const client = await mesh.client(nodes['vps-fast']!, [nodes.home!])
    expect(await outcome(client.chat(nodes.home!.peerId, chat('coder', 'gpu', 'medium')))).toBe(
      'TRUST_MIN_TRUST: vps-fast (trust medium) may not use backend "gpu" on home (min_trust high)',
    )
    expect(gpu.calls).toHaveLength(0)
  })

  it('refuses a high soul on a medium owner even when the caller understates its sensitivity', async () => {
    const { nodes, fast } = await federation()
    const client = await mesh.client(nodes.home!, [nodes['vps-fast']!])
    expect(await outcome(client.chat(nodes['vps-fast']!.peerId, chat('inbox-triage', 'fast', 'low')))).toBe(
      'TRUST_SENSITIVITY: soul "inbox-triage" (sensitivity high) may not send to vps-fast (trust medium)',
    )
    expect(fast.calls).toHaveLength(0)
    expect(await outcome(client.chat(nodes['vps-fast']!.peerId, chat('coder', 'fast', 'medium')))).toBe('ok')
  })

  it('serves allowed callers and refuses peers the manifest does not know', async () => {
    const { nodes } = await federation()
    const low = await mesh.client(nodes['vps-public']!, [nodes['vps-fast']!])
    expect(await outcome(low.chat(nodes['vps-fast']!.peerId, chat('web-scout', 'fast', 'low')))).toBe(
      'TRUST_MIN_TRUST: vps-public (trust low) may not use backend "fast" on vps-fast (min_trust medium)',
    )
    const home = await mesh.client(nodes.home!, [nodes['vps-fast']!])
    expect(
      await outcome(home.chat(nodes['vps-fast']!.peerId, chat('finance-bookkeeper', 'fast', 'medium'))),
    ).toContain('TRUST_SENSITIVITY')
    const stranger = await mesh.client(await mesh.node(), [nodes.home!])
    expect(await outcome(stranger.chat(nodes.home!.peerId, chat('x', 'gpu', 'low')))).toMatch(
      /^TRUST_UNKNOWN_PEER/,
    )
  })
})
