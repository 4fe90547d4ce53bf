/**
 * Issue 2 benchmark: time from start until a peer that knows ONE bootstrap
 * address resolves every soul of the mesh, at N = 5, 20 and 50 peers in one
 * process on loopback; resident memory per peer. Baseline measured in the
 * same run: the floor of joining at all (dial + Noise + Yamux + identify to
 * the bootstrap peer).
 *
 *   npx tsx bench/discovery.ts [N ...]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Manifest } from '../src/config/schema.js'
import { createLogger } from '../src/log.js'
import { createPeer, type Peer } from '../src/peer.js'

const log = createLogger('bench')
const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0)

function manifestFor(n: number): Manifest {
  return Manifest.parse({
    federation: {
      nodes: Array.from({ length: n }, (_, index) => ({
        name: `n${index}`,
        // Port 0: peers do not find each other through the manifest, only through the bootstrap address.
        address: '127.0.0.1:0',
        souls: [`soul-${index}`],
        trust: 'medium',
        backends: [
          { name: `b${index}`, type: 'openai-compatible', url: 'http://127.0.0.1:9/v1', models: ['m'] },
        ],
      })),
    },
  })
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

async function run(n: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'clawmesh-bench-'))
  const manifest = manifestFor(n)
  const rssBefore = process.memoryUsage().rss
  const peers: Peer[] = []
  const joinFloor: number[] = []
  const resolved: number[] = []
  const allSouls = Array.from({ length: n }, (_, index) => `soul-${index}`)
  try {
    const bootstrap = await createPeer({
      manifest,
      node: 'n0',
      dataDir: join(dir, 'n0'),
      api: false,
      colocated: true,
      log,
    })
    peers.push(bootstrap)
    const bootstrapAddr = bootstrap.multiaddrs()[0]!
    const started = Date.now()
    await Promise.all(
      Array.from({ length: n - 1 }, async (_, offset) => {
        const index = offset + 1
        const t0 = performance.now()
        const peer = await createPeer({
          manifest,
          node: `n${index}`,
          dataDir: join(dir, `n${index}`),
          api: false,
          colocated: true,
          bootstrap: [bootstrapAddr],
          discovery: { sweepIntervalMs: 1_000 },
          log,
        })
        peers.push(peer)
        const tJoin = performance.now()
        while (!peer.parts.node.getPeers().some((id) => id.equals(bootstrap.parts.node.peerId))) {
          await new Promise((resolve) => setTimeout(resolve, 5))
        }
        joinFloor.push(performance.now() - tJoin)
        for (;;) {
          const owners = await Promise.all(allSouls.map((soul) => peer.parts.discovery.ownersOfSoul(soul)))
          if (owners.every((list) => list.length === 1)) break
          if (Date.now() - started > 90_000)
            throw new Error(
              `n${index} did not resolve every soul in 90 s: connected ${peer.parts.node.getPeers().length}, adverts ${peer.parts.adverts.all().length}, peerstore ${(await peer.parts.node.peerStore.all()).length}`,
            )
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
        resolved.push(performance.now() - t0)
      }),
    )
    const wall = Date.now() - started
    const rssPerPeer = (process.memoryUsage().rss - rssBefore) / n / 1024 / 1024
    process.stdout.write(
      `| ${n} | ${percentile(joinFloor, 50).toFixed(0)} / ${percentile(joinFloor, 100).toFixed(0)} ms | ` +
        `${percentile(resolved, 50).toFixed(0)} / ${percentile(resolved, 100).toFixed(0)} ms | ${wall} ms | ` +
        `${rssPerPeer.toFixed(1)} MiB |\n`,
    )
  } finally {
    await Promise.all(peers.map((peer) => peer.stop().catch(() => undefined)))
    await rm(dir, { recursive: true, force: true })
  }
}

process.env.CLAWMESH_LOG ??= 'error'
process.stdout.write(
  '| peers | join floor: connected to bootstrap p50 / max | resolves every soul p50 / max | whole mesh | RSS per peer |\n|---|---|---|---|---|\n',
)
for (const n of sizes.length > 0 ? sizes : [5, 20, 50]) {
  await run(n)
  if (global.gc) global.gc()
}
process.exit(0)
