/**
 * Health and election benchmark: N real libp2p peers in one process on
 * loopback, default timings (1 s heartbeat, suspect 3 s, dead 6 s, probe 5 s,
 * stabilisation 2 s). Run: `npx tsx bench/health.ts [N ...]` (default: 10 50).
 *
 * Measures: time to agree on one Mission Control after start; failover time
 * from an abrupt stop of the Mission Control until every survivor agrees on
 * its successor (p50/p99 over KILLS kills); backend health propagation; TCP
 * bytes per peer per second (every socket write in the process, so gossip
 * plus identify/ping/DHT upkeep, Noise and Yamux framing included).
 */
import net from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { agreed, type Mesh, type MeshPeer, startMesh, waitFor } from '../src/control/testing/mesh.js'

let socketBytes = 0
const originalWrite = net.Socket.prototype.write
// Counts every byte libp2p hands to a TCP socket in this process.
net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
  if (chunk instanceof Uint8Array) socketBytes += chunk.byteLength
  else if (typeof chunk === 'string') socketBytes += Buffer.byteLength(chunk)
  return (originalWrite as (...args: unknown[]) => boolean).call(this, chunk, ...rest)
} as typeof net.Socket.prototype.write

const KILLS = Number(process.env.KILLS ?? 10)
const HEALTH_RUNS = Number(process.env.HEALTH_RUNS ?? 5)
const BANDWIDTH_SECONDS = Number(process.env.BANDWIDTH_SECONDS ?? 20)

const out = (line: string): void => {
  process.stdout.write(`${line}\n`)
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
}
const fmt = (ms: number): string => `${(ms / 1000).toFixed(2)} s`

async function settle(mesh: Mesh, timeoutMs: number): Promise<void> {
  await waitFor(
    () => {
      const running = mesh.running()
      const expected = running.map((peer) => peer.peerId).sort()[0]
      return (
        agreed(running)?.leader === expected &&
        running.every((peer) => {
          const snapshot = peer.membership.snapshot()
          return running.every((other) => snapshot.find((m) => m.peerId === other.peerId)?.state === 'alive')
        })
      )
    },
    timeoutMs,
    50,
  )
}

async function run(size: number): Promise<void> {
  out(`\n## N = ${size}`)
  const lag = monitorEventLoopDelay({ resolution: 10 })
  const rssBefore = process.memoryUsage().rss
  const startedAt = performance.now()
  const mesh = await startMesh(size, { dials: size <= 10 ? size : 6 })
  const allStarted = performance.now()
  await waitFor(() => agreed(mesh.running()) !== undefined, 120_000, 20)
  const agreedAt = performance.now()
  out(`- start of ${size} peers took ${fmt(allStarted - startedAt)} (sequential createNode + dials)`)
  out(
    `- agreement on one Mission Control: ${fmt(agreedAt - allStarted)} after the last peer started (${fmt(agreedAt - startedAt)} after the first)`,
  )
  await settle(mesh, 60_000)
  const rss = process.memoryUsage().rss
  out(
    `- memory: RSS ${(rss / 2 ** 20).toFixed(0)} MiB (${((rss - rssBefore) / 2 ** 20 / size).toFixed(1)} MiB per peer)`,
  )

  // Bandwidth at steady state.
  lag.enable()
  const cpu0 = process.cpuUsage()
  const bytes0 = socketBytes
  const payload0 = mesh.running().reduce((sum, peer) => sum + peer.heartbeats.stats().bytesSent, 0)
  const sent0 = mesh.running().reduce((sum, peer) => sum + peer.heartbeats.stats().sent, 0)
  await sleep(BANDWIDTH_SECONDS * 1000)
  const perPeer = (socketBytes - bytes0) / size / BANDWIDTH_SECONDS
  const payload = mesh.running().reduce((sum, peer) => sum + peer.heartbeats.stats().bytesSent, 0) - payload0
  const sent = mesh.running().reduce((sum, peer) => sum + peer.heartbeats.stats().sent, 0) - sent0
  lag.disable()
  const cpu = process.cpuUsage(cpu0)
  out(
    `- CPU at steady state: ${(((cpu.user + cpu.system) / 1e6 / BANDWIDTH_SECONDS) * 100).toFixed(0)}% of one core for ${size} peers`,
  )
  out(
    `- TCP bytes written per peer: ${(perPeer / 1024).toFixed(1)} KiB/s = ${((perPeer * 8) / 1000).toFixed(0)} kbit/s sent (the same again received)`,
  )
  out(`- heartbeat payload: ${(payload / sent).toFixed(0)} B average over ${sent} beats`)
  out(
    `- event loop delay during steady state: p50 ${(lag.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms`,
  )

  // Backend health propagation: from the probe that sees the change to every peer's view.
  const propagation: number[] = []
  for (let run = 0; run < HEALTH_RUNS; run++) {
    const running = mesh.running()
    const target = running[Math.floor(Math.random() * running.length)]!
    const wanted = !target.backend.ok
    target.backend.ok = wanted
    await target.prober.probe(target.backend)
    const t1 = performance.now()
    await waitFor(
      () => running.every((peer) => peer.membership.get(target.peerId)?.backends[0]?.ok === wanted),
      10_000,
      5,
    )
    propagation.push(performance.now() - t1)
    await sleep(300)
  }
  out(
    `- backend health propagation (probe result → every peer), ${HEALTH_RUNS} runs: p50 ${percentile(propagation, 50).toFixed(0)} ms, max ${Math.max(...propagation).toFixed(0)} ms (add up to one probe interval, 5 s, for the probe to run)`,
  )

  // Failover: stop the Mission Control abruptly, wait for every survivor to agree on another.
  const failovers: number[] = []
  for (let kill = 0; kill < KILLS; kill++) {
    await settle(mesh, 60_000)
    const before = agreed(mesh.running())!
    const leader = mesh.running().find((peer) => peer.peerId === before.leader) as MeshPeer
    const t0 = performance.now()
    await mesh.kill(leader)
    const survivors = mesh.running()
    await waitFor(
      () => {
        const now = agreed(survivors)
        return now !== undefined && now.leader !== before.leader && now.term > before.term
      },
      60_000,
      10,
    )
    failovers.push(performance.now() - t0)
    await mesh.restart(leader)
  }
  out(
    `- failover over ${KILLS} kills: p50 ${fmt(percentile(failovers, 50))}, p99 ${fmt(percentile(failovers, 99))}, max ${fmt(Math.max(...failovers))} (all: ${failovers.map((ms) => (ms / 1000).toFixed(2)).join(', ')})`,
  )
  await mesh.stop()
}

const sizes = process.argv.slice(2).map(Number)
for (const size of sizes.length > 0 ? sizes : [10, 50]) await run(size)
process.exit(0)
