/**
 * Child process of `bench/gateway.ts`: the fake OpenAI servers on their own event loop (so their CPU
 * is charged neither to the gateway nor to the measuring client). `fast` streams 256 tokens with no
 * delay; `slow` streams 256 tokens with `BENCH_SLOW_DELAY_MS` between them (to hold streams open).
 */
import { startFakeProvider } from '../src/llm/testing/index.js'

const tokens = Array.from({ length: 256 }, (_, index) => `t${index} `)
const models = ['bench-model']
const fast = await startFakeProvider('openai', { tokens, tokenDelayMs: 0, models })
const slow = await startFakeProvider('openai', {
  tokens,
  tokenDelayMs: Number(process.env.BENCH_SLOW_DELAY_MS ?? 40),
  models,
})
process.send?.({ fast: fast.url, slow: slow.url })
process.on('disconnect', async () => {
  await Promise.all([fast.close(), slow.close()])
  process.exit(0)
})
