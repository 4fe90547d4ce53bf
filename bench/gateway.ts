/**
 * Issue 5 "Measure": the official `openai` client streaming 256-token replies directly from a local
 * fake OpenAI server versus through the mesh (gateway on peer A, backend owned by peer B), side by
 * side in one run against the same fake. Processes: the fake in a forked child, A and B as
 * `dist/cli/main.js start` processes with a generated two-node manifest, the measuring client here.
 *
 *   npm run build && npx tsx bench/gateway.ts
 *
 * Env: BENCH_TTFT_N (pairs, default 500), BENCH_WARMUP (pairs, 50), BENCH_TPS_SECONDS (per round, 3),
 * BENCH_TPS_ROUNDS (rounds per path and concurrency, 2), BENCH_CONCURRENCY (default "1,64,256"),
 * BENCH_SLOW_DELAY_MS (token delay of the memory part, 40), BENCH_CPU_PROF=DIR (`--cpu-prof` on A and B).
 */
import { type ChildProcess, fork, spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import OpenAI from 'openai'
import { stringify } from 'yaml'
import { cliPath, freePort } from '../test/cli-process.js'

const env = process.env
const ttftPairs = Number(env.BENCH_TTFT_N ?? 500)
const warmupPairs = Number(env.BENCH_WARMUP ?? 50)
const tpsSeconds = Number(env.BENCH_TPS_SECONDS ?? 3)
const tpsRounds = Number(env.BENCH_TPS_ROUNDS ?? 2)
const concurrencies = (env.BENCH_CONCURRENCY ?? '1,64,256').split(',').map(Number)
const profileDir = env.BENCH_CPU_PROF
const TOKENS = 256
/** What the fake streams (bench/gateway-fake.ts): a reply counts as 256 tokens only if its text is exactly this. */
const EXPECTED_TEXT = Array.from({ length: TOKENS }, (_, index) => `t${index} `).join('')

// Bounded in time: whatever happens, the run ends (and its children with it).
const children: ChildProcess[] = []
const guard = setTimeout(() => {
  process.stderr.write('bench/gateway.ts: time limit (15 min) reached\n')
  for (const child of children) child.kill('SIGKILL')
  process.exit(2)
}, 15 * 60_000)
guard.unref()

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

const median = (values: number[]): number => percentile(values, 50)

async function procStat(pid: number): Promise<{ cpuMs: number; rssMiB: number }> {
  const [stat, status] = await Promise.all([
    readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''),
    readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''),
  ])
  // Fields after the command name: utime and stime are the 14th and 15th fields (clock ticks, 100 Hz).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11] ?? Number.NaN) + Number(fields[12] ?? Number.NaN)
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN)
  return { cpuMs: ticks * 10, rssMiB: kb / 1024 }
}

// --- processes -------------------------------------------------------------------------------

const fake = fork(new URL('./gateway-fake.ts', import.meta.url), { execArgv: ['--import', 'tsx'] })
children.push(fake)
const urls = await new Promise<{ fast: string; slow: string }>((resolve) =>
  fake.once('message', (message) => resolve(message as { fast: string; slow: string })),
)

const dir = await mkdtemp(join(tmpdir(), 'clawmesh-bench-gateway-'))
const [portA, portB, apiA, apiB] = await Promise.all([freePort(), freePort(), freePort(), freePort()])
const manifest = {
  federation: {
    control_plane: 'a',
    nodes: [
      { name: 'a', address: `127.0.0.1:${portA}`, api: `127.0.0.1:${apiA}`, souls: ['bench'], trust: 'high' },
      {
        name: 'b',
        address: `127.0.0.1:${portB}`,
        api: `127.0.0.1:${apiB}`,
        souls: [],
        trust: 'high',
        backends: [
          {
            name: 'fast',
            type: 'openai-compatible',
            url: urls.fast,
            api_key: 'bench',
            models: ['bench-model'],
          },
          {
            name: 'slow',
            type: 'openai-compatible',
            url: urls.slow,
            api_key: 'bench',
            models: ['bench-model'],
          },
        ],
      },
    ],
  },
  souls: { bench: { backend: 'fast', model: 'bench-model' } },
}
const manifestFile = join(dir, 'clawmesh.yaml')
await writeFile(manifestFile, stringify(manifest))
// A second, identical federation whose owner sends one delta per backend chunk (routing.merge_deltas:
// false), for the throughput table's "one delta per token" column. Idle outside its own rounds.
const [portA2, portB2, apiA2, apiB2] = await Promise.all([freePort(), freePort(), freePort(), freePort()])
const [nodeA, nodeB] = manifest.federation.nodes
const unmergedManifestFile = join(dir, 'clawmesh-unmerged.yaml')
await writeFile(
  unmergedManifestFile,
  stringify({
    ...manifest,
    federation: {
      ...manifest.federation,
      routing: { merge_deltas: false },
      nodes: [
        { ...nodeA, address: `127.0.0.1:${portA2}`, api: `127.0.0.1:${apiA2}` },
        { ...nodeB, address: `127.0.0.1:${portB2}`, api: `127.0.0.1:${apiB2}` },
      ],
    },
  }),
)
if (profileDir) await mkdir(profileDir, { recursive: true })

function startPeer(name: string, file = manifestFile, dataDir = name): ChildProcess {
  const profile = profileDir
    ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`]
    : []
  const child = spawn(
    process.execPath,
    [...profile, cliPath, 'start', '--manifest', file, '--node', name, '--data-dir', join(dir, dataDir)],
    { env: { ...env, CLAWMESH_LOG: 'error' }, stdio: ['ignore', 'ignore', 'pipe'] },
  )
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(`[${name}] ${chunk}`))
  children.push(child)
  return child
}
const peerB = startPeer('b')
const peerA = startPeer('a')
const peerB2 = startPeer('b', unmergedManifestFile, 'b2')
const peerA2 = startPeer('a', unmergedManifestFile, 'a2')

const direct = new OpenAI({ baseURL: urls.fast, apiKey: 'bench', maxRetries: 0, logLevel: 'off' })
const mesh = new OpenAI({
  baseURL: `http://127.0.0.1:${apiA}/v1`,
  apiKey: 'bench',
  maxRetries: 0,
  logLevel: 'off',
  defaultHeaders: { 'x-clawmesh-soul': 'bench' },
})

type PathName = 'direct' | 'mesh' | 'unmerged'
interface Path {
  name: PathName
  client: OpenAI
  model: string
  /** The processes whose CPU the path uses, besides the measuring client. */
  pids: () => Record<string, number>
}
const paths: Record<PathName, Path> = {
  direct: { name: 'direct', client: direct, model: 'bench-model', pids: () => ({ fake: fake.pid ?? 0 }) },
  mesh: {
    name: 'mesh',
    client: mesh,
    model: 'fast/bench-model',
    pids: () => ({ a: peerA.pid ?? 0, b: peerB.pid ?? 0, fake: fake.pid ?? 0 }),
  },
  unmerged: {
    name: 'unmerged',
    client: new OpenAI({
      baseURL: `http://127.0.0.1:${apiA2}/v1`,
      apiKey: 'bench',
      maxRetries: 0,
      logLevel: 'off',
      defaultHeaders: { 'x-clawmesh-soul': 'bench' },
    }),
    model: 'fast/bench-model',
    pids: () => ({ a: peerA2.pid ?? 0, b: peerB2.pid ?? 0, fake: fake.pid ?? 0 }),
  },
}

interface Reply {
  ttftMs: number
  totalMs: number
  /** 256 when the reply's text is exactly the fake's, else 0. */
  tokens: number
  /** Content deltas (SSE events with text) the client parsed: the owner merges tokens that were ready together. */
  deltas: number
}

/** One streamed request; `onFirst` runs at the first text token. */
async function request(
  path: Path,
  model = path.model,
  options: { signal?: AbortSignal; onFirst?: () => void } = {},
): Promise<Reply> {
  const started = performance.now()
  let ttftMs = Number.NaN
  let deltas = 0
  let text = ''
  const stream = await path.client.chat.completions.create(
    {
      model,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Count to 256.' }],
    },
    options.signal ? { signal: options.signal } : {},
  )
  for await (const chunk of stream) {
    const content = chunk.choices[0]?.delta.content
    if (content) {
      if (deltas === 0) {
        ttftMs = performance.now() - started
        options.onFirst?.()
      }
      deltas++
      text += content
    }
  }
  return { ttftMs, totalMs: performance.now() - started, tokens: text === EXPECTED_TEXT ? TOKENS : 0, deltas }
}

// Ready once a chat goes through the mesh (discovery of B's backend by A).
const readySince = performance.now()
for (;;) {
  if (performance.now() - readySince > 90_000) throw new Error('the mesh did not route a chat within 90 s')
  const ready = async (path: Path): Promise<boolean> =>
    request(path).then(
      (reply) => reply.tokens === TOKENS,
      () => false,
    )
  if ((await ready(paths.mesh)) && (await ready(paths.unmerged))) break
  await new Promise((resolve) => setTimeout(resolve, 250))
}
const out = (text: string): boolean => process.stdout.write(text)
out(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}, load average at start ${loadavg()
    .map((value) => value.toFixed(1))
    .join(' ')}\n` + `mesh ready after ${((performance.now() - readySince) / 1000).toFixed(1)} s\n`,
)

// --- time to first token: sequential pairs, alternating which path goes first ------------------

const ttft: Record<'direct' | 'mesh', number[]> = { direct: [], mesh: [] }
const added: number[] = []
let wrongLength = 0
for (let index = 0; index < warmupPairs + ttftPairs; index++) {
  const order: Path[] = index % 2 === 0 ? [paths.direct, paths.mesh] : [paths.mesh, paths.direct]
  const pair: Partial<Record<PathName, Reply>> = {}
  for (const path of order) pair[path.name] = await request(path)
  if (index < warmupPairs) continue
  for (const name of ['direct', 'mesh'] as const) {
    const reply = pair[name]!
    if (reply.tokens !== TOKENS) wrongLength++
    ttft[name].push(reply.ttftMs)
  }
  added.push(pair.mesh!.ttftMs - pair.direct!.ttftMs)
}
out(
  `\nTime to first token, ${ttftPairs} sequential pairs (+${warmupPairs} warm-up), ${TOKENS}-token replies\n`,
)
out('| path | p50 | p90 | p99 | mean |\n|---|---|---|---|---|\n')
for (const name of ['direct', 'mesh'] as const) {
  const values = ttft[name]
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length
  out(
    `| ${name} | ${median(values).toFixed(3)} ms | ${percentile(values, 90).toFixed(3)} ms | ${percentile(values, 99).toFixed(3)} ms | ${mean.toFixed(3)} ms |\n`,
  )
}
out(
  `added by the mesh: p50 ${(median(ttft.mesh) - median(ttft.direct)).toFixed(3)} ms, p99 ${(percentile(ttft.mesh, 99) - percentile(ttft.direct, 99)).toFixed(3)} ms; median of paired Δ ${median(added).toFixed(3)} ms; replies of the wrong length: ${wrongLength}\n`,
)

// --- tokens per second at C concurrent streams ------------------------------------------------

interface Round {
  tokensPerSecond: number
  deltasPerReply: number
  cpuUsPerToken: Record<string, number>
  failures: number
}

async function throughput(path: Path, concurrency: number): Promise<Round> {
  const pids = path.pids()
  const before = Object.fromEntries(
    await Promise.all(Object.entries(pids).map(async ([name, pid]) => [name, (await procStat(pid)).cpuMs])),
  ) as Record<string, number>
  const selfBefore = process.cpuUsage()
  let tokens = 0
  let deltas = 0
  let replies = 0
  let failures = 0
  const started = performance.now()
  const deadline = started + tpsSeconds * 1000
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        try {
          // Not `tokens += await …`: that reads `tokens` before the await and loses the other workers' counts.
          const reply = await request(path)
          if (reply.tokens !== TOKENS) throw new Error('wrong reply text')
          tokens += reply.tokens
          deltas += reply.deltas
          replies++
        } catch {
          failures++
        }
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  const self = process.cpuUsage(selfBefore)
  const cpuUsPerToken: Record<string, number> = { client: (self.user + self.system) / tokens }
  for (const [name, pid] of Object.entries(pids)) {
    cpuUsPerToken[name] = (((await procStat(pid)).cpuMs - (before[name] ?? 0)) * 1000) / tokens
  }
  if (env.BENCH_VERBOSE) {
    process.stderr.write(
      `${path.name} ×${concurrency}: ${tokens} tokens in ${seconds.toFixed(2)} s, ${failures} failures, CPU µs/token ${JSON.stringify(cpuUsPerToken)}\n`,
    )
  }
  return {
    tokensPerSecond: tokens / seconds,
    deltasPerReply: deltas / Math.max(replies, 1),
    cpuUsPerToken,
    failures,
  }
}

out(
  `\nTokens per second (aggregate), ${tpsRounds} rounds of ${tpsSeconds} s per path and concurrency, alternating\n`,
)
out(
  '| concurrent streams | direct tokens/s | mesh tokens/s | mesh ÷ direct | mesh, one delta per token (merge_deltas: false) tokens/s | ÷ direct | CPU µs/token direct (client+fake) | CPU µs/token mesh (client+A+B+fake) | CPU µs/token one delta per token | content events per 256-token reply (direct / mesh / one per token) | failures |\n|---|---|---|---|---|---|---|---|---|---|---|\n',
)
for (const concurrency of concurrencies) {
  const rounds: Record<PathName, Round[]> = { direct: [], mesh: [], unmerged: [] }
  const names: PathName[] = ['direct', 'mesh', 'unmerged']
  for (const name of names) await throughput(paths[name], concurrency) // warm-up: connections, JIT
  for (let round = 0; round < tpsRounds; round++) {
    // Rotate which path goes first.
    const order = names.map((_, index) => names[(index + round) % names.length] as PathName)
    for (const name of order) rounds[name].push(await throughput(paths[name], concurrency))
  }
  const tps = (name: PathName): number => median(rounds[name].map((round) => round.tokensPerSecond))
  const cpu = (name: PathName, parts: string[]): string => {
    const per = parts.map((part) => median(rounds[name].map((round) => round.cpuUsPerToken[part] ?? 0)))
    return `${per.reduce((sum, value) => sum + value, 0).toFixed(1)} (${per.map((value) => value.toFixed(1)).join('+')})`
  }
  const failures = names.flatMap((name) => rounds[name]).reduce((sum, round) => sum + round.failures, 0)
  const events = (name: PathName): string =>
    median(rounds[name].map((round) => round.deltasPerReply)).toFixed(1)
  out(
    `| ${concurrency} | ${tps('direct').toFixed(0)} | ${tps('mesh').toFixed(0)} | ${((100 * tps('mesh')) / tps('direct')).toFixed(1)}% | ${tps('unmerged').toFixed(0)} | ${((100 * tps('unmerged')) / tps('direct')).toFixed(1)}% | ${cpu('direct', ['client', 'fake'])} | ${cpu('mesh', ['client', 'a', 'b', 'fake'])} | ${cpu('unmerged', ['client', 'a', 'b', 'fake'])} | ${events('direct')} / ${events('mesh')} / ${events('unmerged')} | ${failures} |\n`,
  )
}

// --- memory per in-flight stream --------------------------------------------------------------

async function memory(count: number): Promise<void> {
  const settle = () => new Promise((resolve) => setTimeout(resolve, 1000))
  await settle()
  const [a0, b0] = await Promise.all([procStat(peerA.pid ?? 0), procStat(peerB.pid ?? 0)])
  const controller = new AbortController()
  let first = 0
  const running = Array.from({ length: count }, () =>
    request(paths.mesh, 'slow/bench-model', {
      signal: controller.signal,
      onFirst: () => {
        first++
      },
    }).catch(() => undefined),
  )
  // Hold them open mid-reply: wait until the number of streams that have a first token stops growing.
  let last = -1
  const since = performance.now()
  while ((first === 0 || first !== last) && performance.now() - since < 20_000) {
    last = first
    await new Promise((resolve) => setTimeout(resolve, 750))
  }
  const [a1, b1] = await Promise.all([procStat(peerA.pid ?? 0), procStat(peerB.pid ?? 0)])
  controller.abort()
  await Promise.all(running)
  const deltaA = a1.rssMiB - a0.rssMiB
  const deltaB = b1.rssMiB - b0.rssMiB
  out(
    `| ${count} | ${first} | ${a0.rssMiB.toFixed(1)} → ${a1.rssMiB.toFixed(1)} MiB | ${((deltaA * 1024) / count).toFixed(1)} KiB | ` +
      `${b0.rssMiB.toFixed(1)} → ${b1.rssMiB.toFixed(1)} MiB | ${((deltaB * 1024) / Math.max(first, 1)).toFixed(1)} KiB |\n`,
  )
}

out(
  `\nMemory, streams held open mid-reply (token delay ${env.BENCH_SLOW_DELAY_MS ?? 40} ms), RSS before → while held\n`,
)
out(
  '| client requests | streaming at the owner (have a first token) | gateway A RSS | A Δ per request | owner B RSS | B Δ per streaming request |\n|---|---|---|---|---|---|\n',
)
await memory(64)
await memory(256)
out(
  `\nload average at end ${loadavg()
    .map((value) => value.toFixed(1))
    .join(' ')}\n`,
)

// --- clean up ------------------------------------------------------------------------------------

for (const child of [peerA, peerB, peerA2, peerB2]) child.kill('SIGTERM')
await Promise.all(
  [peerA, peerB, peerA2, peerB2].map(
    (child) =>
      new Promise((resolve) => {
        if (child.exitCode !== null) resolve(undefined)
        child.once('exit', resolve)
        setTimeout(() => {
          child.kill('SIGKILL')
          resolve(undefined)
        }, 5000).unref()
      }),
  ),
)
fake.disconnect()
await rm(dir, { recursive: true, force: true })
process.exit(0)
