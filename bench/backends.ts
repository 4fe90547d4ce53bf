/**
 * Benchmark: our backends versus each provider's client library called directly, against the
 * same local fake server (in a child process) in the same run, interleaved request by request.
 *   npx tsx bench/backends.ts            (BENCH_TTFT_N, BENCH_TPS_N, BENCH_LONG_TOKENS to tune)
 * Time to first token: from the call to the first text delta (p50 / p99). Tokens per second:
 * text deltas of a 2000-token stream divided by the time from the call to the end of the stream,
 * compared per back-to-back pair (the machine is shared; ratios of neighbours beat absolute numbers),
 * plus this process's CPU time per token.
 */
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { cpus } from 'node:os'
import Anthropic from '@anthropic-ai/sdk'
import { GoogleGenAI } from '@google/genai'
import { Ollama } from 'ollama'
import OpenAI from 'openai'
import {
  AnthropicBackend,
  GoogleBackend,
  type LLMBackend,
  OllamaBackend,
  OpenAICompatibleBackend,
} from '../src/llm/index.js'

const ttftRuns = Number(process.env.BENCH_TTFT_N ?? 1000)
const tpsRuns = Number(process.env.BENCH_TPS_N ?? 40)
const warmup = 100
const apiKey = 'bench-key'
const messages = [{ role: 'user' as const, content: 'Say something.' }]

/** One variant's stream: calls `onText` for every text chunk, resolves at the end. */
type Run = (onText: () => void) => Promise<void>

interface Subject {
  kind: string
  ours: (url: string) => Run
  direct: (url: string) => Run
}

const oursRun =
  (backend: LLMBackend, model: string): Run =>
  async (onText) => {
    for await (const part of backend.chat({ model, messages })) if (part.type === 'text-delta') onText()
  }

const subjects: Subject[] = [
  {
    kind: 'openai',
    ours: (url) => oursRun(new OpenAICompatibleBackend({ name: 'b', url, api_key: apiKey }), 'm'),
    direct: (url) => {
      const client = new OpenAI({ baseURL: url, apiKey, maxRetries: 0, logLevel: 'off' })
      return async (onText) => {
        const stream = await client.chat.completions.create({
          model: 'm',
          messages,
          stream: true,
          stream_options: { include_usage: true },
        })
        for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) onText()
      }
    },
  },
  {
    kind: 'ollama',
    ours: (url) => oursRun(new OllamaBackend({ name: 'b', url }), 'm'),
    direct: (url) => {
      const client = new Ollama({ host: url })
      return async (onText) => {
        const stream = await client.chat({ model: 'm:latest', messages, stream: true })
        for await (const chunk of stream) if (chunk.message.content) onText()
      }
    },
  },
  {
    kind: 'anthropic',
    ours: (url) => oursRun(new AnthropicBackend({ name: 'b', url, api_key: apiKey }), 'm'),
    direct: (url) => {
      const client = new Anthropic({ baseURL: url, apiKey, authToken: null, maxRetries: 0, logLevel: 'off' })
      return async (onText) => {
        const stream = await client.messages.create({ model: 'm', max_tokens: 4096, messages, stream: true })
        for await (const event of stream) {
          if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') onText()
        }
      }
    },
  },
  {
    kind: 'google',
    ours: (url) => oursRun(new GoogleBackend({ name: 'b', url, api_key: apiKey }), 'm'),
    direct: (url) => {
      const client = new GoogleGenAI({ apiKey, vertexai: false, httpOptions: { baseUrl: url } })
      return async (onText) => {
        const stream = await client.models.generateContentStream({
          model: 'm',
          contents: [{ role: 'user', parts: [{ text: 'Say something.' }] }],
        })
        for await (const chunk of stream) if (chunk.candidates?.[0]?.content?.parts?.[0]?.text) onText()
      }
    },
  },
]

/** Time to the first text chunk, in ms (the rest is drained). */
async function timeToFirstToken(run: Run): Promise<number> {
  const started = performance.now()
  let first = 0
  await run(() => {
    if (first === 0) first = performance.now()
  })
  return first - started
}

/** Wall-clock text chunks per second, and this process's CPU microseconds per chunk. */
async function throughput(run: Run): Promise<{ tokensPerSecond: number; cpuMicrosPerToken: number }> {
  const cpu = process.cpuUsage()
  const started = performance.now()
  let count = 0
  await run(() => {
    count++
  })
  const wall = performance.now() - started
  const used = process.cpuUsage(cpu)
  return { tokensPerSecond: count / (wall / 1000), cpuMicrosPerToken: (used.user + used.system) / count }
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}
const median = (values: number[]) => percentile(values, 50)

/** Runs both variants `runs` times as back-to-back pairs, alternating which goes first, after a warm-up. */
async function interleave<T>(runs: number, ours: () => Promise<T>, direct: () => Promise<T>) {
  for (let index = 0; index < Math.min(warmup, runs); index++) {
    await ours()
    await direct()
  }
  const pairs: Array<{ ours: T; direct: T }> = []
  for (let index = 0; index < runs; index++) {
    if (index % 2 === 0) {
      const first = await ours()
      pairs.push({ ours: first, direct: await direct() })
    } else {
      const first = await direct()
      pairs.push({ ours: await ours(), direct: first })
    }
  }
  return pairs
}

const child = fork(new URL('./backends-fakes.ts', import.meta.url), { execArgv: ['--import', 'tsx'] })
const [{ urls }] = (await once(child, 'message')) as [
  { urls: Record<string, { short: string; long: string }> },
]

const out = (line: string) => process.stdout.write(`${line}\n`)
out(
  `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; TTFT n=${ttftRuns}, tokens/s n=${tpsRuns}`,
)
out(
  '| backend | TTFT p50 ours / direct | TTFT p99 ours / direct | TTFT added (median of paired Δ) | tokens/s p50 ours / direct | tokens/s ours ÷ direct (median of paired ratios) | client CPU µs/token ours / direct |',
)
out('|---|---|---|---|---|---|---|')
for (const subject of subjects) {
  const url = urls[subject.kind]!
  const ours = { short: subject.ours(url.short), long: subject.ours(url.long) }
  const direct = { short: subject.direct(url.short), long: subject.direct(url.long) }
  const ttft = await interleave(
    ttftRuns,
    () => timeToFirstToken(ours.short),
    () => timeToFirstToken(direct.short),
  )
  const tps = await interleave(
    tpsRuns,
    () => throughput(ours.long),
    () => throughput(direct.long),
  )
  const f = (value: number) => value.toFixed(3)
  const ttftOurs = ttft.map((pair) => pair.ours)
  const ttftDirect = ttft.map((pair) => pair.direct)
  const added = median(ttft.map((pair) => pair.ours - pair.direct))
  const ratio = median(tps.map((pair) => pair.ours.tokensPerSecond / pair.direct.tokensPerSecond))
  const cpuOurs = median(tps.map((pair) => pair.ours.cpuMicrosPerToken))
  const cpuDirect = median(tps.map((pair) => pair.direct.cpuMicrosPerToken))
  out(
    `| ${subject.kind} | ${f(median(ttftOurs))} / ${f(median(ttftDirect))} ms | ${f(percentile(ttftOurs, 99))} / ${f(percentile(ttftDirect, 99))} ms | ${added >= 0 ? '+' : ''}${f(added)} ms | ${median(tps.map((pair) => pair.ours.tokensPerSecond)).toFixed(0)} / ${median(tps.map((pair) => pair.direct.tokensPerSecond)).toFixed(0)} | ${(ratio * 100).toFixed(1)}% | ${cpuOurs.toFixed(2)} / ${cpuDirect.toFixed(2)} |`,
  )
}
child.disconnect()
