/**
 * Issue 6, item 3 with real peers: a newer signed manifest handed to one peer
 * spreads, a revoked node loses all service (in-flight streams included), and
 * forged or unsigned manifests are refused.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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

describe('signed manifest adoption over the mesh (real peers)', () => {
  const peers: Peer[] = []
  const dirs: string[] = []
  let provider: FakeProvider | undefined
  afterEach(async () => {
    await Promise.all(peers.splice(0).map((peer) => peer.stop().catch(() => undefined)))
    await provider?.close()
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
  })

  it('adopts a newer version handed to one peer; the revoked node loses service within a heartbeat, in-flight streams included', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clawmesh-manifest-'))
    dirs.push(dir)
    provider = await startFakeProvider('openai', {
      models: ['m'],
      tokens: Array.from({ length: 60 }, (_, index) => `t${index} `),
      tokenDelayMs: 50,
    })
    const key = generateFederationKey()
    const ports = [await freePort(), await freePort(), await freePort()]
    const document = (nodes: string[]) => ({
      federation: {
        key: key.publicKey,
        health: {
          heartbeat_interval_ms: heartbeatMs,
          suspect_after_ms: 3 * heartbeatMs,
          dead_after_ms: 6 * heartbeatMs,
        },
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
        ].filter((node) => nodes.includes(node.name)),
      },
    })
    const v1 = signManifestText(stringify(document(['home', 'vps-public', 'vps-fast'])), key.privateKey, {
      version: 1,
    })
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
    await waitFor(
      () => vpsFast.parts.members.isMember(vpsPublic.peerId) && home.parts.members.isMember(vpsFast.peerId),
      10_000,
      'members',
    )
    await waitFor(
      async () => (await vpsPublic.parts.discovery.ownersOfBackend('fast')).length > 0,
      10_000,
      'fast owner',
    )

    // Forged (another key) and unsigned manifests are refused, and change nothing.
    // A member (or anyone) with a key of its own cannot take the federation over.
    const intruder = generateFederationKey()
    const intruderDoc = document(['home', 'vps-fast'])
    const forged = signManifestText(
      stringify({ ...intruderDoc, federation: { ...intruderDoc.federation, key: intruder.publicKey } }),
      intruder.privateKey,
      { version: 5 },
    )
    // A genuine signature over a text edited afterwards.
    const tampered = signManifestText(stringify(document(['home', 'vps-fast'])), key.privateKey, {
      version: 7,
    }).replace('trust: medium', 'trust: high')
    const push = (text: string) => fetch(`${home.apiUrl}/manifest`, { method: 'POST', body: text })
    const forgedAnswer = await push(forged)
    expect(forgedAnswer.status).toBeGreaterThanOrEqual(400)
    expect(((await forgedAnswer.json()) as { error: { code: string } }).error.code).toMatch(/MANIFEST/)
    const unsigned = await push(stringify({ ...document(['home', 'vps-fast']), version: 6 }))
    expect(unsigned.status).toBeGreaterThanOrEqual(400)
    const tamperedAnswer = await push(tampered)
    expect(tamperedAnswer.status).toBe(400)
    expect(((await tamperedAnswer.json()) as { error: { message: string } }).error.message).toContain(
      'signature does not match federation.key',
    )
    expect(home.manifest.version).toBe(1)

    // vps-public starts a long chat through vps-fast's backend.
    const received: string[] = []
    const inFlight = (async () => {
      for await (const part of vpsPublic.chat({
        soul: 'weather-brief',
        model: 'fast/m',
        request: { messages: [{ role: 'user', content: 'long' }] },
      })) {
        if (part.type === 'text-delta') received.push(part.text)
      }
    })().then(
      () => 'completed',
      (error: unknown) => `failed: ${(error as { code?: string }).code}`,
    )
    await waitFor(() => received.length >= 3, 5_000, 'the stream to start')

    // Version 2 revokes vps-public; it is handed to home only.
    const v2 = signManifestText(stringify(document(['home', 'vps-fast'])), key.privateKey, { version: 2 })
    const adopted = await push(v2)
    expect(adopted.status).toBe(200)
    expect(await adopted.json()).toMatchObject({ adopted: true, version: 2 })
    const handedAt = Date.now()
    await waitFor(() => vpsFast.manifest.version === 2, 5_000, 'vps-fast to adopt version 2')
    const reachedAt = Date.now()
    const outcome = await inFlight
    const endedAt = Date.now()
    expect(outcome).toMatch(/^failed/)
    expect(received.length).toBeLessThan(60)
    // Within one heartbeat interval of the new version reaching the owner.
    expect(endedAt - reachedAt).toBeLessThanOrEqual(heartbeatMs)
    expect(vpsFast.parts.members.isMember(vpsPublic.peerId)).toBe(false)
    expect(home.parts.members.isMember(vpsPublic.peerId)).toBe(false)
    process.stdout.write(
      `manifest v2: handed→owner ${reachedAt - handedAt} ms, owner→stream ended ${endedAt - reachedAt} ms\n`,
    )
    // No more service: a new request from the revoked node is refused or cannot reach anyone.
    const again = await (async () => {
      for await (const _part of vpsPublic.chat({
        soul: 'weather-brief',
        model: 'fast/m',
        request: { messages: [{ role: 'user', content: 'again' }] },
      })) {
        return 'served'
      }
      return 'served'
    })().catch(() => 'refused')
    expect(again).toBe('refused')
  })
})
