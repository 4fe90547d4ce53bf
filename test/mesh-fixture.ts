/**
 * Three real peers shaped like examples/claworc-federation.yaml (home high,
 * vps-public low, vps-fast medium) on loopback, with local servers in the
 * providers' wire formats behind their backends.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { z } from 'zod'
import { type HealthConfig, Manifest } from '../src/config/schema.js'
import type { FakeProvider, FakeScript } from '../src/llm/testing/fake-provider.js'
import { startFakeProvider } from '../src/llm/testing/start-fake-provider.js'
import { createLogger } from '../src/log.js'
import { createPeer, type Peer, type PeerOptions } from '../src/peer.js'
import { freePort, waitFor } from './cli-process.js'

/** The running federation. */
export interface MeshFixture {
  /** Temp dir holding the peers' data dirs. */
  dir: string
  manifest: Manifest
  peers: Record<string, Peer>
  /** Fake provider servers by backend name. */
  providers: Record<string, FakeProvider>
  /** Starts (or restarts, same data dir) a peer of the manifest. */
  start(name: string): Promise<Peer>
  stop(): Promise<void>
}

/** Options: extra owners of `fast` (for failover tests) and scripts per backend. */
export interface MeshFixtureOptions {
  /** Also let vps-public own a second replica of `fast` (same model), backed by its own fake. */
  secondFastOwner?: boolean
  scripts?: Record<string, FakeScript>
  /** Start the HTTP API on a free loopback port. Default: false. */
  api?: boolean
  /** Start only these nodes. Default: all three. */
  only?: string[]
  /** `federation.health` timings (tests shorten them). Default: the manifest defaults (1 s heartbeats). */
  health?: z.input<typeof HealthConfig>
  /** Extra `createPeer` options per node name. */
  peerOptions?: Record<string, Partial<PeerOptions>>
}

/** Builds and starts the three-peer federation; resolves once every peer knows every backend's owners. */
export async function startMeshFixture(options: MeshFixtureOptions = {}): Promise<MeshFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'clawmesh-mesh-'))
  const providers: Record<string, FakeProvider> = {
    private: await startFakeProvider('ollama', { models: ['llama3:latest'], ...options.scripts?.private }),
    fast: await startFakeProvider('openai', { models: ['gpt-fast'], ...options.scripts?.fast }),
  }
  if (options.secondFastOwner === true) {
    providers['fast-replica'] = await startFakeProvider('openai', {
      models: ['gpt-fast'],
      ...options.scripts?.fast,
    })
  }
  const ports = await Promise.all([freePort(), freePort(), freePort()])
  const apiPorts = await Promise.all([freePort(), freePort(), freePort()])
  const manifest = Manifest.parse({
    federation: {
      control_plane: 'home',
      ...(options.health === undefined ? {} : { health: options.health }),
      nodes: [
        {
          name: 'home',
          address: `127.0.0.1:${ports[0]}`,
          api: `127.0.0.1:${apiPorts[0]}`,
          souls: ['inbox-triage', 'finance-bookkeeper'],
          trust: 'high',
          backends: [{ name: 'private', type: 'ollama', url: providers.private!.url, timeout_ms: 5_000 }],
        },
        {
          name: 'vps-public',
          address: `127.0.0.1:${ports[1]}`,
          api: `127.0.0.1:${apiPorts[1]}`,
          souls: ['weather-brief', 'social-summary'],
          trust: 'low',
          backends:
            options.secondFastOwner === true
              ? [
                  {
                    name: 'fast',
                    type: 'openai-compatible',
                    url: providers['fast-replica']!.url,
                    min_trust: 'low',
                  },
                ]
              : [],
        },
        {
          name: 'vps-fast',
          address: `127.0.0.1:${ports[2]}`,
          api: `127.0.0.1:${apiPorts[2]}`,
          souls: ['escalation-router'],
          trust: 'medium',
          backends: [
            {
              name: 'fast',
              type: 'openai-compatible',
              url: providers.fast!.url,
              min_trust: 'low',
              timeout_ms: 5_000,
            },
          ],
        },
      ],
    },
    souls: { 'weather-brief': { backend: 'fast' } },
  })
  const peers: Record<string, Peer> = {}
  const log = createLogger('test')
  const start = async (name: string): Promise<Peer> => {
    const peer = await createPeer({
      manifest,
      node: name,
      dataDir: join(dir, name),
      ...(options.api === true ? {} : { api: false as const }),
      colocated: true,
      discovery: { sweepIntervalMs: 300 },
      log: log.child(name),
      ...options.peerOptions?.[name],
    })
    peers[name] = peer
    return peer
  }
  const running = manifest.federation.nodes.filter(
    (node) => options.only === undefined || options.only.includes(node.name),
  )
  for (const node of running) await start(node.name)
  const backendNames = [...new Set(running.flatMap((node) => node.backends.map((b) => b.name)))]
  for (const peer of Object.values(peers)) {
    await waitFor(
      async () => {
        for (const backend of backendNames) {
          const expected = running.filter((node) => node.backends.some((b) => b.name === backend))
          if ((await peer.parts.discovery.ownersOfBackend(backend)).length < expected.length) return false
        }
        return true
      },
      20_000,
      `${peer.name} to know every backend owner`,
    )
  }
  return {
    dir,
    manifest,
    peers,
    providers,
    start,
    stop: async () => {
      await Promise.all(Object.values(peers).map((peer) => peer.stop().catch(() => undefined)))
      await Promise.all(Object.values(providers).map((provider) => provider.close()))
      await rm(dir, { recursive: true, force: true })
    },
  }
}
