/**
 * Floors under issue 5's "added time to first token" on this machine: the same official `openai`
 * client and fake server as `bench/gateway.ts`, direct versus (1) two byte-copying TCP relays in
 * their own processes (client → relay A → relay B → fake), the shape of the mesh path with no work
 * at all; (2) one minimal Node HTTP proxy (`node:http` in, keep-alive `node:http` out, the
 * stream piped back); (3) two such proxies chained in two processes (client → proxy A → proxy B →
 * fake): the mesh's shape with HTTP between A and B instead of libp2p, and no routing, no trust
 * checks, no encryption. What the mesh adds above (3) is what its own design costs.
 * Paths run in rotating order per round; each is compared with the direct request of its round.
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
const proxy = await child<{ port: number }>('./relay-floor-proxy.ts', [fast])
const chainB = await child<{ port: number }>('./relay-floor-proxy.ts', [fast])
const chainA = await child<{ port: number }>('./relay-floor-proxy.ts', [`http://127.0.0.1:${chainB.port}`])
const path = new URL(fast).pathname

const clients = {
  direct: new OpenAI({ baseURL: fast, apiKey: 'bench', maxRetries: 0, logLevel: 'off' }),
  relayed: new OpenAI({
    baseURL: `http://127.0.0.1:${relayA.port}${path}`,
    apiKey: 'bench',
    maxRetries: 0,
    logLevel: 'off',
  }),
  proxied: new OpenAI({
    baseURL: `http://127.0.0.1:${proxy.port}${path}`,
    apiKey: 'bench',
    maxRetries: 0,
    logLevel: 'off',
  }),
  'two proxies': new OpenAI({
    baseURL: `http://127.0.0.1:${chainA.port}${path}`,
    apiKey: 'bench',
    maxRetries: 0,
    logLevel: 'off',
  }),
}
type Name = keyof typeof clients
const names: Name[] = ['direct', 'relayed', 'proxied', 'two proxies']

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

const samples: Record<Name, number[]> = { direct: [], relayed: [], proxied: [], 'two proxies': [] }
const added: Record<Name, number[]> = { direct: [], relayed: [], proxied: [], 'two proxies': [] }
for (let index = 0; index < warmup + pairs; index++) {
  const order = names.map((_, offset) => names[(index + offset) % names.length] as Name)
  const round: Partial<Record<Name, number>> = {}
  for (const name of order) round[name] = await ttft(clients[name])
  if (index < warmup) continue
  for (const name of names) {
    samples[name].push(round[name] ?? Number.NaN)
    added[name].push((round[name] ?? Number.NaN) - (round.direct ?? Number.NaN))
  }
}

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}
const out = (text: string): boolean => process.stdout.write(text)
out(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}, load average ${loadavg()
    .map((value) => value.toFixed(1))
    .join(' ')}\n\nTime to first token, ${pairs} sequential rounds (+${warmup} warm-up)\n`,
)
out(
  '| path | p50 | p90 | p99 | added p50 | added p99 | median of paired Δ |\n|---|---|---|---|---|---|---|\n',
)
for (const name of names) {
  const values = samples[name]
  const ms = (value: number): string => `${value.toFixed(3)} ms`
  out(
    `| ${name} | ${ms(percentile(values, 50))} | ${ms(percentile(values, 90))} | ${ms(percentile(values, 99))} | ` +
      `${ms(percentile(values, 50) - percentile(samples.direct, 50))} | ${ms(percentile(values, 99) - percentile(samples.direct, 99))} | ${ms(percentile(added[name], 50))} |\n`,
  )
}
for (const process of children) process.kill()
process.exit(0)
