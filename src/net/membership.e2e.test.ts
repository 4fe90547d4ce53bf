/**
 * Issue 6, items 1 and 2 with real peers: only members get in.
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort, waitFor } from '../../test/cli-process.js'
import { Manifest } from '../config/schema.js'
import { fetchViewFrom } from '../control/status-protocol.js'
import { advertKey, encodeAdvert } from '../discovery/advert.js'
import { ADVERT_PROTOCOL } from '../discovery/discovery-service.js'
import { generateSecret, secretToPsk } from '../identity/psk.js'
import type { FakeProvider } from '../llm/testing/fake-provider.js'
import { startFakeProvider } from '../llm/testing/start-fake-provider.js'
import { createLogger } from '../log.js'
import { createPeer, type Peer } from '../peer.js'
import { LLMClient } from '../routing/llm-client.js'
import { type ClawmeshNode, createNode } from './create-node.js'

const log = createLogger('test')

describe('federation membership (real peers)', () => {
  const peers: Peer[] = []
  const nodes: ClawmeshNode[] = []
  const dirs: string[] = []
  let provider: FakeProvider | undefined
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((node) => node.stop()))
    await Promise.all(peers.splice(0).map((peer) => peer.stop()))
    await provider?.close()
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
  })

  async function federation(secret: string | undefined) {
    const dir = await mkdtemp(join(tmpdir(), 'clawmesh-members-'))
    dirs.push(dir)
    provider = await startFakeProvider('openai', { models: ['m'] })
    const [portA, portB] = [await freePort(), await freePort()]
    const manifest = Manifest.parse({
      federation: {
        ...(secret === undefined ? {} : { secret }),
        health: { heartbeat_interval_ms: 200, suspect_after_ms: 600, dead_after_ms: 1200 },
        nodes: [
          {
            name: 'home',
            address: `127.0.0.1:${portA}`,
            souls: ['inbox-triage'],
            trust: 'high',
            backends: [{ name: 'fast', type: 'openai-compatible', url: provider.url, min_trust: 'low' }],
          },
          { name: 'vps', address: `127.0.0.1:${portB}`, souls: ['weather-brief'], trust: 'low' },
        ],
      },
    })
    const start = (name: string, dataDir = join(dir, name)) =>
      createPeer({ manifest, node: name, dataDir, api: false, colocated: true, strangerGraceMs: 1_000, log })
    const home = await start('home')
    const vps = await start('vps')
    peers.push(home, vps)
    await waitFor(
      () => home.parts.members.isMember(vps.peerId) && vps.parts.members.isMember(home.peerId),
      10_000,
      'members',
    )
    return { manifest, home, vps, dir, start }
  }

  it('a host without the federation secret completes no connection', async () => {
    const secret = generateSecret()
    const { home } = await federation(secret)
    const outsider = await createNode({ privateKey: await generateKeyPair('Ed25519') })
    const wrongKey = await createNode({
      privateKey: await generateKeyPair('Ed25519'),
      psk: secretToPsk(generateSecret()),
    })
    nodes.push(outsider, wrongKey)
    for (const stranger of [outsider, wrongKey]) {
      await expect(
        stranger.dial(home.parts.node.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(2_000) }),
      ).rejects.toThrow()
      expect(stranger.getConnections()).toHaveLength(0)
    }
    // The member still serves.
    const parts: string[] = []
    for await (const part of home.chat({
      soul: 'inbox-triage',
      model: 'fast/m',
      request: { messages: [{ role: 'user', content: 'x' }] },
    })) {
      if (part.type === 'text-delta') parts.push(part.text)
    }
    expect(parts.join('')).toBe('Hello, world!')
  })

  it('a stranger with the secret but no membership gets no stream, no status, no record, and is disconnected', async () => {
    const secret = generateSecret()
    const { home } = await federation(secret)
    const strangerKey = await generateKeyPair('Ed25519')
    const stranger = await createNode({ privateKey: strangerKey, psk: secretToPsk(secret) })
    nodes.push(stranger)
    await stranger.dial(home.parts.node.getMultiaddrs()[0]!)
    const strangerId = peerIdFromPrivateKey(strangerKey).toString()
    const codeOf = (promise: Promise<unknown>): Promise<string | undefined> =>
      promise.then(
        () => 'RESOLVED',
        (error: unknown) => (error as { code?: string }).code,
      )

    // No LLM stream: refused by the owner, judged by the authenticated peer ID.
    const client = new LLMClient({ node: stranger })
    const chat = async () => {
      for await (const _part of client.chat(home.parts.node.peerId, {
        soul: 'weather-brief',
        sensitivity: 'low',
        backend: 'fast',
        request: { model: 'm', messages: [{ role: 'user', content: 'let me in' }] },
      })) {
        // nothing should arrive
      }
    }
    expect(await codeOf(chat())).toBe('TRUST_UNKNOWN_PEER')
    expect(provider!.requests.filter((request) => request.path.endsWith('/chat/completions'))).toHaveLength(0)
    // No status.
    expect(await codeOf(fetchViewFrom(stranger, home.parts.node.peerId, { timeoutMs: 1_000 }))).toBe(
      'NOT_MEMBER',
    )
    // Its advert (validly signed, claiming a name already bound on first use) is refused.
    const body = {
      v: 1 as const,
      peerId: strangerId,
      name: 'vps',
      seq: Date.now(),
      issuedAt: Date.now(),
      souls: ['weather-brief'],
      backends: [],
      addrs: [],
    }
    expect(await home.parts.adverts.offer(advertKey(strangerId), await encodeAdvert(strangerKey, body))).toBe(
      false,
    )
    expect(home.parts.adverts.rejected.get('NAME_TAKEN') ?? 0).toBeGreaterThan(0)
    expect(home.parts.adverts.get(strangerId)).toBeUndefined()
    expect(home.parts.membership.get(strangerId)).toBeUndefined()
    // No federation adverts either: the advert exchange opens with the caller's own advert,
    // which is refused, and the stream is reset without a byte of anyone else's.
    const exchange = await stranger.dialProtocol(home.parts.node.peerId, ADVERT_PROTOCOL)
    const lp = lpStream(exchange, { maxDataLength: 64 * 1024 })
    await lp.write(await encodeAdvert(strangerKey, body))
    expect(await codeOf(lp.read({ signal: AbortSignal.timeout(2_000) }))).not.toBe('RESOLVED')
    // It is disconnected after the grace period; a reconnection is refused by the gater (the
    // dialer may see its half of the handshake finish, but the connection dies at once).
    await waitFor(() => stranger.getConnections().length === 0, 5_000, 'the stranger to be disconnected')
    expect(home.parts.gatekeeper.expelled).toBeGreaterThan(0)
    await stranger
      .dial(home.parts.node.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(2_000) })
      .catch(() => undefined)
    await waitFor(() => stranger.getConnections().length === 0, 2_000, 'the reconnection to be closed')
    expect(
      home.parts.node.getConnections().some((connection) => connection.remotePeer.toString() === strangerId),
    ).toBe(false)
  })

  it('binds a node name on first use and refuses a different peer presenting it later', async () => {
    const { home, vps, dir, start } = await federation(undefined)
    const vpsId = vps.peerId
    await vps.stop()
    peers.splice(peers.indexOf(vps), 1)
    // Same name, new identity (a fresh data dir): refused; the bound identity stays bound.
    const impostor = await start('vps', join(dir, 'impostor'))
    peers.push(impostor)
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    expect(home.parts.members.nodeOf(vpsId)?.name).toBe('vps')
    expect(home.parts.members.isMember(impostor.peerId)).toBe(false)
    expect(
      home.parts.node.getConnections().filter((c) => c.remotePeer.toString() === impostor.peerId),
    ).toHaveLength(0)
    // The genuine one comes back (same address, so the impostor goes first) and is welcome again.
    await impostor.stop()
    peers.splice(peers.indexOf(impostor), 1)
    const genuine = await start('vps')
    peers.push(genuine)
    expect(genuine.peerId).toBe(vpsId)
    await waitFor(
      () => home.parts.membership.get(vpsId)?.state === 'alive',
      10_000,
      'the genuine vps to be alive again',
    )
  })
})
