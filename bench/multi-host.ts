/**
 * Multi-host measurements on the namespace bed (test/netns): at 3 hosts (claworc shape) and
 * 10 generated hosts, each peer its own `clawmesh start` process in its own namespace.
 *   - Mission Control failover: SIGKILL the Mission Control, time until every survivor's view
 *     names the same new one and shows the killed host not alive (then restart it, wait for
 *     it to lead again);
 *   - partition heal: split the hosts (iptables DROP inside the namespaces), wait until each
 *     side has its own Mission Control, remove the rules, time until one Mission Control and
 *     every peer alive in every view;
 *   - success rate of streamed chats through one host whose link has 100 ms delay and 5% loss
 *     (`tc netem`; where the kernel lacks netem, 5% egress loss via iptables and no delay).
 * Needs root, iproute2 and iptables, and a build (`npm run build`).
 *
 *   node --import tsx bench/multi-host.ts [--runs 5] [--requests 50] [--sizes 3,10]
 */
import { parseArgs } from 'node:util'
import { bedHealth, claworcHosts, generatedHosts, NetnsBed } from '../test/netns/bed.js'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    requests: { type: 'string', default: '50' },
    sizes: { type: 'string', default: '3,10' },
  },
})
const runs = Number(values.runs)
const out = (line: string): void => {
  process.stdout.write(`${line}\n`)
}
const requests = Number(values.requests)

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b)
  const p50 = sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN
  const worst = sorted.at(-1) ?? Number.NaN
  return `p50 ${(p50 / 1000).toFixed(2)} s, worst ${(worst / 1000).toFixed(2)} s (n=${sorted.length}: ${sorted.map((ms) => (ms / 1000).toFixed(2)).join(', ')})`
}

async function measure(size: number): Promise<void> {
  const three = size === 3
  const hosts = three ? claworcHosts() : generatedHosts(size)
  const names = hosts.map((host) => host.name)
  const leader = names[0]!
  const bed = await NetnsBed.create({
    prefix: 'cmb',
    subnet: 79,
    hosts,
    controlPlane: leader,
    health: bedHealth,
  })
  try {
    const formStart = performance.now()
    await bed.startAll()
    await bed.waitConverged(names, leader, 60_000)
    out(
      `[${size} hosts] formed in ${((performance.now() - formStart) / 1000).toFixed(2)} s (processes started to all alive everywhere)`,
    )

    const failovers: number[] = []
    for (let run = 0; run < runs; run++) {
      await bed.kill(leader, 'SIGKILL')
      failovers.push(await bed.waitConverged(names.slice(1), undefined, 60_000))
      bed.start(leader)
      await bed.waitConverged(names, leader, 60_000)
    }
    out(`[${size} hosts] Mission Control failover: ${summary(failovers)}`)

    const left = three ? ['home', 'vps-fast'] : names.slice(0, size / 2)
    const right = names.filter((name) => !left.includes(name))
    const heals: number[] = []
    for (let run = 0; run < runs; run++) {
      await bed.partition(left, right)
      await bed.waitConverged(left, leader, 60_000)
      await bed.waitConverged(right, undefined, 60_000)
      await bed.heal()
      try {
        heals.push(await bed.waitConverged(names, leader, 120_000))
      } catch (error) {
        // Report it and stop repeating: the bed did not come back together.
        out(
          `[${size} hosts] partition heal run ${run + 1}: NOT converged within 120 s: ${(error as Error).message}`,
        )
        break
      }
    }
    out(`[${size} hosts] partition heal (${left.join(',')} | ${right.join(',')}): ${summary(heals)}`)

    const caller = three ? 'vps-public' : names.at(-1)!
    const soul = three ? 'weather-brief' : `soul-${caller}`
    const model = three ? 'edge/m' : 'fast/m'
    const applied = await bed.impair(caller, 100, 5)
    const results = []
    for (let index = 0; index < requests; index++) results.push(await bed.chat(caller, soul, model, 60_000))
    await bed.unimpair(caller)
    const ok = results.filter((result) => result.ok)
    const latencies = ok.map((result) => result.ms)
    out(
      `[${size} hosts] ${requests} chats via ${caller} (${soul} -> ${model}) with ${applied === 'netem' ? 'netem 100 ms delay + 5% loss' : '5% egress loss (iptables; no netem in this kernel, so no added delay)'}: ${ok.length}/${requests} succeeded (${((100 * ok.length) / requests).toFixed(0)}%), latency ${summary(latencies).replace(/ \(n=.*$/, '')}`,
    )
  } finally {
    await bed.destroy()
  }
}

for (const size of values.sizes.split(',').map(Number)) await measure(size)
