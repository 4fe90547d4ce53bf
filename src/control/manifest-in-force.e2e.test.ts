/**
 * Issue 11, item 2 with real peers: a newer signed manifest that changes
 * `control_plane`, the body and stream limits and the failure timings is
 * followed by every running peer at once — the same Mission Control
 * everywhere, the new limits on the next request — without a restart.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { freePort, waitFor } from '../../test/cli-process.js'
import { parseManifest } from '../config/load.js'
import { generateFederationKey, signManifestText } from '../identity/federation-key.js'
import type { FakeProvider } from '../llm/testing/fake-provider.js'
import { startFakeProvider } from '../llm/testing/start-fake-provider.js'
import { createLogger } from '../log.js'
import { createPeer, type Peer } from '../peer.js'

const log = createLogger('test')
const heartbeatMs = 200

describe('the manifest in force, changed at runtime (real peers)', () => {
  const peers: Peer[] = []
  const dirs: string[] = []
  let provider: FakeProvider | undefined
  afterEach(async () => {
    await Promise.all(peers.splice(0).map((peer) => peer.stop().catch(() => undefined)))
    await provider?.close()
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
  })

  it('every peer follows a new control_plane, limits and timings at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clawmesh-in-force-'))
    dirs.push(dir)
    provider = await startFakeProvider('openai', {
      models: ['m'],
      tokens: Array.from({ length: 40 }, (_, index) => `t${index} `),
      tokenDelayMs: 25,
    })
    const key = generateFederationKey()
    const ports = [await freePort(), await freePort(), await freePort()]
    const document = (controlPlane: string, extra: Record<string, unknown>) => ({
      federation: {
        key: key.publicKey,
        control_plane: controlPlane,
        health: {
          heartbeat_interval_ms: heartbeatMs,
          suspect_after_ms: 3 * heartbeatMs,
          dead_after_ms: 6 * heartbeatMs,
        },
        ...extra,
        nodes: [
          { name: 'home', address: `127.0.0.1:${ports[0]}`, souls: ['inbox-triage'], trust: 'high' },
          { name: 'vps-public', address: `127.0.0.1:${ports[1]}`, souls: ['weather-brief'], trust: 'low' },
          {
            name: 'vps-fast',
            address: `127.0.0.1:${ports[2]}`,
            souls: ['escalation-router'],
            trust: 'medium',
            backends: [{ name: 'fast', type: 'openai-compatible', url: provider!.url, min_trust: 'low' }],
          },
        ],
      },
    })
    const v1 = signManifestText(stringify(document('vps-fast', {})), key.privateKey, { version: 1 })
    const manifest = parseManifest(v1, 'v1.yaml')
    for (const name of ['home', 'vps-public', 'vps-fast']) {
      peers.push(
        await createPeer({
          manifest,
          manifestText: v1,
          node: name,
          dataDir: join(dir, name),
          api: '127.0.0.1:0',
          colocated: true,
          log,
        }),
      )
    }
    const [home, vpsPublic, vpsFast] = peers as [Peer, Peer, Peer]
    const leaders = () => peers.map((peer) => peer.parts.missionControl.missionControl()?.name)
    await waitFor(() => leaders().every((name) => name === 'vps-fast'), 15_000, 'vps-fast elected')
    await waitFor(
      async () => (await vpsPublic.parts.discovery.ownersOfBackend('fast')).length > 0,
      10_000,
      'fast owner',
    )
    const bigBody = JSON.stringify({
      model: 'fast/m',
      messages: [{ role: 'user', content: 'x'.repeat(4_000) }],
    })
    const soulOf = (peer: Peer) =>
      peer.parts.manifests.manifest.federation.nodes.find((node) => node.name === peer.name)!.souls[0]!
    const chatOver = (peer: Peer) =>
      fetch(`${peer.apiUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-clawmesh-soul': soulOf(peer) },
        body: bigBody,
      })
    expect((await chatOver(vpsPublic)).status).toBe(200)

    // Version 2: home preferred, a 2 KB body limit, 2 streams per peer, slower failure detection.
    const v2 = signManifestText(
      stringify(
        document('home', {
          limits: { max_body_bytes: 2_048, max_streams_per_peer: 2 },
          health: {
            heartbeat_interval_ms: heartbeatMs,
            suspect_after_ms: 5 * heartbeatMs,
            dead_after_ms: 10 * heartbeatMs,
          },
        }),
      ),
      key.privateKey,
      { version: 2 },
    )
    const adopted = await fetch(`${vpsFast.apiUrl}/manifest`, { method: 'POST', body: v2 })
    expect(adopted.status).toBe(200)
    await waitFor(() => peers.every((peer) => peer.manifest.version === 2), 5_000, 'everyone on version 2')

    // The election: every running peer moves to the new preferred Mission Control, with a higher term.
    await waitFor(() => leaders().every((name) => name === 'home'), 10_000, 'home elected everywhere')
    const terms = new Set(peers.map((peer) => peer.parts.missionControl.missionControl()?.term))
    expect(terms.size).toBe(1)
    // The body limit, on every peer's gateway.
    for (const peer of peers) expect((await chatOver(peer)).status).toBe(413)
    // The failure timings.
    for (const peer of peers) {
      expect(peer.parts.membership.suspectAfterMs).toBe(5 * heartbeatMs)
      expect(peer.parts.membership.deadAfterMs).toBe(10 * heartbeatMs)
    }
    // The stream limit: three long chats to vps-fast, at most two streams at once, the third waits.
    const owner = peerIdFromString(vpsFast.peerId)
    let most = 0
    let queued = 0
    const chats = Array.from({ length: 3 }, async () => {
      let tokens = 0
      for await (const part of vpsPublic.chat({
        soul: 'weather-brief',
        model: 'fast/m',
        request: { messages: [{ role: 'user', content: 'long' }] },
      })) {
        if (part.type === 'text-delta') tokens++
        most = Math.max(most, vpsPublic.parts.llmClient.streams(owner))
        queued = Math.max(queued, vpsPublic.parts.llmClient.waiting(owner))
      }
      return tokens
    })
    const counts = await Promise.all(chats)
    expect(counts.every((count) => count > 0)).toBe(true)
    expect(most).toBeLessThanOrEqual(2)
    expect(queued).toBeGreaterThanOrEqual(1)
    expect(home.manifest.version).toBe(2)
  })
})
