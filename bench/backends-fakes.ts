/**
 * Child process of `bench/backends.ts`: runs the fake provider servers on their own event loop (so
 * the server's CPU does not share the measured client's loop) and reports their URLs over IPC.
 */
import { type FakeProvider, type FakeProviderKind, startFakeProvider } from '../src/llm/testing/index.js'

const kinds: FakeProviderKind[] = ['openai', 'ollama', 'anthropic', 'google']
const shortTokens = Array.from({ length: 8 }, (_, index) => `w${index} `)
const longTokens = Array.from(
  { length: Number(process.env.BENCH_LONG_TOKENS ?? 2000) },
  (_, index) => `t${index} `,
)

const fakes: FakeProvider[] = []
const urls: Record<string, { short: string; long: string }> = {}
for (const kind of kinds) {
  const short = await startFakeProvider(kind, { tokens: shortTokens })
  const long = await startFakeProvider(kind, { tokens: longTokens })
  fakes.push(short, long)
  urls[kind] = { short: short.url, long: long.url }
}
process.send?.({ urls })
process.on('disconnect', async () => {
  await Promise.all(fakes.map((fake) => fake.close()))
  process.exit(0)
})
