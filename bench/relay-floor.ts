/**
 * The floor under issue 5's "added time to first token" on this machine: the same official `openai`
 * client and fake server as `bench/gateway.ts`, direct versus through two byte-copying TCP relays in
 * their own processes (client → relay A → relay B → fake). The mesh path has the same shape
 * (client → gateway A → owner B → provider) plus HTTP parsing, routing, Noise and the owner's own
 * HTTP request, so what the relays add is what any two-process design pays here before doing work.
 *
 *   npx tsx bench/relay-floor.ts
 *
 * Env: BENCH_TTFT_N (pairs, default 500), BENCH_WARMUP (pairs, 50).
 */
import { type ChildProcess, fork } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import OpenAI from 'openai'

const pairs = Number(process.env.BENCH_TTFT_N ?? 500)
const warmup = Number(process.env.BENCH_WARMUP ?? 50)
const children: ChildProcess[] = []
const guard = setTimeout(() => {
  for (const child of children) child.kill('SIGKILL')
  process.exit(2)
}, 10 * 60_000)
guard.unref()

function child<T>(file: string, args: string[] = []): Promise<T> {
  const process = fork(new URL(file, import.meta.url), args, { execArgv: ['--import', 'tsx'] })
  children.push(process)
  return new Promise((resolve) => process.once('message', (message) => resolve(message as T)))
}

const { fast } = await child<{ fast: string }>('./gateway-fake.ts')
const fakeAddress = new URL(fast).host
const relayB = await child<{ port: number }>('./relay-floor-relay.ts', [fakeAddress])
const relayA = await child<{ port: number }>('./relay-floor-relay.ts', [`127.0.0.1:${relayB.port}`])
const path = new URL(fast).pathname

const clients = {
  direct: new OpenAI({ baseURL: fast, apiKey: 'bench', maxRetries: 0, logLevel: 'off' }),
  relayed: new OpenAI({
    baseURL: `http://127.0.0.1:${relayA.port}${path}`,
    apiKey: 'bench',
    maxRetries: 0,
    logLevel: 'off',
  }),
}

async function ttft(client: OpenAI): Promise<number> {
  const started = performance.now()
  let first = Number.NaN
  const stream = await client.chat.completions.create({
    model: 'bench-model',
    stream: true,
    messages: [{ role: 'user', content: 'Count to 256.' }],
  })
  for await (const chunk of stream) {
    if (Number.isNaN(first) && chunk.choices[0]?.delta.content) first = performance.now() - started
  }
  return first
}

const samples = { direct: [] as number[], relayed: [] as number[] }
const added: number[] = []
for (let index = 0; index < warmup + pairs; index++) {
  const order = index % 2 === 0 ? (['direct', 'relayed'] as const) : (['relayed', 'direct'] as const)
  const pair: Record<string, number> = {}
  for (const name of order) pair[name] = await ttft(clients[name])
  if (index < warmup) continue
  samples.direct.push(pair.direct ?? Number.NaN)
  samples.relayed.push(pair.relayed ?? Number.NaN)
  added.push((pair.relayed ?? Number.NaN) - (pair.direct ?? Number.NaN))
}

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}
const out = (text: string): boolean => process.stdout.write(text)
out(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}, load average ${loadavg()
    .map((value) => value.toFixed(1))
    .join(' ')}\n\nTime to first token, ${pairs} sequential pairs (+${warmup} warm-up)\n`,
)
out('| path | p50 | p90 | p99 |\n|---|---|---|---|\n')
for (const name of ['direct', 'relayed'] as const) {
  const values = samples[name]
  out(
    `| ${name} | ${percentile(values, 50).toFixed(3)} ms | ${percentile(values, 90).toFixed(3)} ms | ${percentile(values, 99).toFixed(3)} ms |\n`,
  )
}
out(
  `added by two byte-copying relays: p50 ${(percentile(samples.relayed, 50) - percentile(samples.direct, 50)).toFixed(3)} ms, p99 ${(percentile(samples.relayed, 99) - percentile(samples.direct, 99)).toFixed(3)} ms; median of paired Δ ${percentile(added, 50).toFixed(3)} ms\n`,
)
for (const process of children) process.kill()
process.exit(0)
