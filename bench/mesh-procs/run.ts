/**
 * Multi-process health and election benchmark: N OS processes on loopback,
 * each one libp2p peer with the health room (see worker.ts), so N = 50 is not
 * bound by one event loop.
 *
 * Run: `npx tsx bench/mesh-procs/run.ts --peers 50 [--gossip lean|library]
 * [--adaptive on|off] [--beats on|off] [--kills 10] [--health-runs 5]
 * [--bandwidth-seconds 30] [--dials 6]`.
 * `--gossip library --adaptive off` is the design before this harness
 * (gossipsub defaults, every peer beats every second).
 *
 * Measures: agreement on one Mission Control after the last peer started;
 * failover from SIGKILL of the leader's process until every survivor has
 * switched to one successor with a higher term (p50/p99); backend health
 * propagation (probe result → every other peer's view); TCP bytes written per
 * peer per second (every socket write in each process: gossip plus
 * identify/ping/DHT upkeep, Noise and Yamux framing); CPU of all workers.
 */
import { type ChildProcess, fork } from 'node:child_process'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { clock, type ParentMessage, type WorkerConfig, type WorkerMessage } from './protocol.js'

const { values: args } = parseArgs({
  options: {
    peers: { type: 'string', default: '10' },
    gossip: { type: 'string', default: 'lean' },
    adaptive: { type: 'string', default: 'on' },
    beats: { type: 'string', default: 'on' },
    kills: { type: 'string', default: '10' },
    'health-runs': { type: 'string', default: '5' },
    'bandwidth-seconds': { type: 'string', default: '30' },
    dials: { type: 'string', default: '6' },
  },
})
const N = Number(args.peers)
const KILLS = Number(args.kills)
const HEALTH_RUNS = Number(args['health-runs'])
const BANDWIDTH_SECONDS = Number(args['bandwidth-seconds'])
const DIALS = Number(args.dials)
const gossip = args.gossip === 'library' ? 'library' : 'lean'
const adaptive = args.adaptive !== 'off'
const beats = args.beats !== 'off'
const workerPath = fileURLToPath(new URL('./worker.ts', import.meta.url))

const out = (line: string): void => {
  process.stdout.write(`${line}\n`)
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
}
const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`

interface Worker {
  index: number
  key: PrivateKey
  peerId: string
  child: ChildProcess
  address: string
  running: boolean
  leader: string | undefined
  term: number
  controlAt: number
  alive: number
  backendSeen: Map<string, { ok: boolean; at: number }>
  flippedAt: number
  dialled: Extract<WorkerMessage, { type: 'dialled' }> | undefined
  sample: Extract<WorkerMessage, { type: 'sample' }> | undefined
}

const keys = await Promise.all(Array.from({ length: N }, () => generateKeyPair('Ed25519')))
const members = keys.map((key, index) => ({
  peerId: peerIdFromPrivateKey(key).toString(),
  name: `peer-${index}`,
  trust: 'high' as const,
}))
const workers: Worker[] = []
const expectedLeader = (): string =>
  running()
    .map((worker) => worker.peerId)
    .sort()[0]!
const running = (): Worker[] => workers.filter((worker) => worker.running)

async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<boolean> {
  const started = performance.now()
  while (!predicate()) {
    if (performance.now() - started > timeoutMs) {
      out(`  (timeout after ${timeoutMs} ms waiting for ${what})`)
      return false
    }
    await sleep(20)
  }
  return true
}

function spawnWorker(index: number): Promise<Worker> {
  const key = keys[index]!
  const config: WorkerConfig = {
    index,
    privateKey: Buffer.from(privateKeyToProtobuf(key)).toString('base64'),
    members,
    gossip,
    adaptive,
    beats,
  }
  const child = fork(workerPath, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, CLAWMESH_WORKER: JSON.stringify(config), CLAWMESH_LOG: 'silent' },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  const worker: Worker = {
    index,
    key,
    peerId: members[index]!.peerId,
    child,
    address: '',
    running: true,
    leader: undefined,
    term: 0,
    controlAt: 0,
    alive: 1,
    backendSeen: new Map(),
    flippedAt: 0,
    dialled: undefined,
    sample: undefined,
  }
  workers[index] = worker
  return new Promise((resolve, reject) => {
    child.on('message', (message: WorkerMessage) => {
      if (message.type === 'ready') {
        worker.address = `${message.address}`
        resolve(worker)
      } else if (message.type === 'control') {
        worker.leader = message.leader
        worker.term = message.term
        worker.controlAt = message.at
      } else if (message.type === 'alive') worker.alive = message.count
      else if (message.type === 'backend') worker.backendSeen.set(message.peerId, message)
      else if (message.type === 'flipped') worker.flippedAt = message.at
      else if (message.type === 'dialled') worker.dialled = message
      else if (message.type === 'sample') worker.sample = message
    })
    child.on('exit', () => {
      worker.running = false
      reject(new Error(`worker ${index} exited`))
    })
  })
}

function tell(worker: Worker, message: ParentMessage): void {
  if (worker.running && worker.child.connected) worker.child.send(message)
}

function pick<T>(items: T[], count: number): T[] {
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[copy[i], copy[j]] = [copy[j]!, copy[i]!]
  }
  return copy.slice(0, count)
}

function agreement(): { leader: string; term: number } | undefined {
  const alive = running()
  const first = alive[0]
  if (first?.leader === undefined) return undefined
  return alive.every((worker) => worker.leader === first.leader && worker.term === first.term)
    ? { leader: first.leader, term: first.term }
    : undefined
}

const settled = (): boolean =>
  agreement()?.leader === expectedLeader() && running().every((worker) => worker.alive === running().length)

async function sampleAll(): Promise<Map<number, NonNullable<Worker['sample']>>> {
  for (const worker of running()) {
    worker.sample = undefined
    tell(worker, { type: 'sample' })
  }
  await waitFor(() => running().every((worker) => worker.sample !== undefined), 10_000, 'samples')
  return new Map(running().map((worker) => [worker.index, worker.sample!]))
}

out(
  `# mesh-procs: N = ${N}, gossip ${gossip}, adaptive period ${adaptive ? 'on' : 'off'}${beats ? '' : ', heartbeats OFF'}; ${os.cpus().length} cores, node ${process.version}`,
)
// Start: spawn in batches of 5 (tsx start-up is CPU-bound), each new peer dials up to DIALS earlier ones.
const startedAt = performance.now()
for (let index = 0; index < N; index += 5) {
  await Promise.all(
    Array.from({ length: Math.min(5, N - index) }, (_, offset) => spawnWorker(index + offset)),
  )
}
const spawned = performance.now()
// Dial in batches of 5 so a loaded host does not time handshakes out.
for (let index = 1; index < N; index += 5) {
  const batch = workers.slice(index, index + 5)
  for (const worker of batch) {
    tell(worker, {
      type: 'dial',
      addresses: pick(workers.slice(0, worker.index), DIALS).map((other) => other.address),
    })
  }
  await waitFor(() => batch.every((worker) => worker.dialled !== undefined), 120_000, 'dials')
}
const failedDials = workers.reduce((sum, worker) => sum + (worker.dialled?.failed ?? 0), 0)
const allStarted = performance.now()
out(
  `- start of ${N} processes: ${seconds(spawned - startedAt)}, then dials (${DIALS} earlier peers each, ${failedDials} failed after retries): ${seconds(allStarted - spawned)}`,
)
if (beats) {
  await waitFor(() => agreement() !== undefined, 180_000, 'first agreement')
  const agreedAt = performance.now()
  out(
    `- agreement on one Mission Control: ${seconds(agreedAt - allStarted)} after the last peer started and dialled`,
  )
  await waitFor(settled, 120_000, 'settled mesh')
  out(
    `- every peer alive in every view, one leader (the expected one): ${seconds(performance.now() - allStarted)}`,
  )
}
await sleep(5000)

// Bandwidth and CPU at steady state.
const before = await sampleAll()
const load0 = os.loadavg()[0]!
const t0 = performance.now()
await sleep(BANDWIDTH_SECONDS * 1000)
const after = await sampleAll()
const elapsed = (performance.now() - t0) / 1000
const perPeer = [...after].map(
  ([index, sample]) => (sample.bytesWritten - before.get(index)!.bytesWritten) / elapsed,
)
const totalCpu = [...after].reduce(
  (sum, [index, sample]) => sum + sample.cpuMicros - before.get(index)!.cpuMicros,
  0,
)
const beatsSent = [...after].reduce(
  (sum, [index, sample]) => sum + sample.beatsSent - before.get(index)!.beatsSent,
  0,
)
const payload = [...after].reduce(
  (sum, [index, sample]) => sum + sample.payloadBytes - before.get(index)!.payloadBytes,
  0,
)
const kbit = (bytesPerSecond: number): string => `${((bytesPerSecond * 8) / 1000).toFixed(1)} kbit/s`
const mean = perPeer.reduce((a, b) => a + b, 0) / perPeer.length
out(
  `- TCP bytes written per peer over ${elapsed.toFixed(0)} s: mean ${kbit(mean)}, p50 ${kbit(percentile(perPeer, 50))}, max ${kbit(Math.max(...perPeer))} (received is the same in total)`,
)
const periods = [...after.values()].map((sample) => sample.periodMs)
out(
  `- heartbeats: ${(beatsSent / elapsed).toFixed(1)} published per second in the mesh, payload ${(payload / Math.max(1, beatsSent)).toFixed(0)} B average; periods: ${periods.filter((p) => p <= 1000).length} peers at 1 s, others ${[...new Set(periods.filter((p) => p > 1000))].join('/')} ms`,
)
const connections = [...after.values()].map((sample) => sample.connections)
out(
  `- connections per peer: mean ${(connections.reduce((a, b) => a + b, 0) / connections.length).toFixed(1)}; RSS per process ${([...after.values()].reduce((a, s) => a + s.rss, 0) / after.size / 2 ** 20).toFixed(0)} MiB`,
)
out(
  `- CPU of all ${N} workers: ${((totalCpu / 1e6 / elapsed) * 100).toFixed(0)}% of one core (${((totalCpu / 1e6 / elapsed / os.cpus().length) * 100).toFixed(0)}% of the machine); load average ${load0.toFixed(1)} → ${os.loadavg()[0]!.toFixed(1)}`,
)

if (beats) {
  // Backend health propagation: probe result in one process → every other process's view.
  const propagation: number[] = []
  for (let run = 0; run < HEALTH_RUNS; run++) {
    const alive = running()
    const target = alive[Math.floor(Math.random() * alive.length)]!
    const wanted = !(alive.find((worker) => worker !== target)?.backendSeen.get(target.peerId)?.ok ?? true)
    target.flippedAt = 0
    tell(target, { type: 'flip', ok: wanted })
    const others = alive.filter((worker) => worker !== target)
    const ok = await waitFor(
      () =>
        target.flippedAt > 0 &&
        others.every((worker) => worker.backendSeen.get(target.peerId)?.ok === wanted),
      10_000,
      'health propagation',
    )
    if (ok) {
      const last = Math.max(...others.map((worker) => worker.backendSeen.get(target.peerId)!.at))
      propagation.push(last - target.flippedAt)
    }
    await sleep(500)
  }
  out(
    `- backend health propagation (probe result → every other peer's view), ${propagation.length} runs: p50 ${percentile(propagation, 50).toFixed(0)} ms, max ${Math.max(...propagation).toFixed(0)} ms (all: ${propagation.map((ms) => ms.toFixed(0)).join(', ')})`,
  )

  // Failover: SIGKILL the leader's process, wait until every survivor agrees on a successor with a higher term.
  const failovers: number[] = []
  for (let kill = 0; kill < KILLS; kill++) {
    if (!(await waitFor(settled, 90_000, 'settled mesh before a kill'))) break
    await sleep(1000)
    const old = agreement()!
    const leader = workers.find((worker) => worker.peerId === old.leader)!
    const killedAt = clock()
    leader.running = false
    leader.child.kill('SIGKILL')
    const survivors = running()
    const ok = await waitFor(
      () => {
        const now = agreement()
        return now !== undefined && now.leader !== old.leader && now.term > old.term
      },
      60_000,
      'failover',
    )
    if (ok) failovers.push(Math.max(...survivors.map((worker) => worker.controlAt)) - killedAt)
    // Restart the killed peer with the same key; it dials DIALS running peers.
    const restarted = await spawnWorker(leader.index)
    tell(restarted, {
      type: 'dial',
      addresses: pick(
        survivors.map((worker) => worker.address),
        DIALS,
      ),
    })
  }
  out(
    `- failover over ${failovers.length} kills (SIGKILL of the leader's process): p50 ${seconds(percentile(failovers, 50))}, p99 ${seconds(percentile(failovers, 99))}, max ${seconds(Math.max(...failovers))} (all: ${failovers.map((ms) => (ms / 1000).toFixed(2)).join(', ')})`,
  )
}
for (const worker of workers) {
  worker.running = false
  worker.child.kill('SIGKILL')
}
process.exit(0)
