/**
 * Fake providers for one host of the multi-host bed, run inside that host's
 * namespace (`ip netns exec NS node --import tsx test/netns/fake-backends.ts HOST NAME...`).
 * Each NAME gets an OpenAI-wire fake on the namespace's loopback whose reply
 * starts with `[HOST/NAME]`, so a test sees which owner served it. A name
 * starting with `slow` streams 60 tokens 100 ms apart (6 s, for mid-stream kills).
 * Prints one JSON line `{NAME: url}` once all listen; stops on SIGTERM.
 */
import type { FakeProvider } from '../../src/llm/testing/fake-provider.js'
import { startFakeProvider } from '../../src/llm/testing/start-fake-provider.js'

const [host, ...names] = process.argv.slice(2)
const fakes: Record<string, FakeProvider> = {}
for (const name of names) {
  fakes[name] = await startFakeProvider(
    'openai',
    name.startsWith('slow')
      ? {
          tokens: [`[${host}/${name}]`, ...Array.from({ length: 59 }, () => ' tick')],
          tokenDelayMs: 100,
          models: ['m'],
        }
      : { tokens: [`[${host}/${name}]`, ' ok'], models: ['m'] },
  )
}
process.stdout.write(
  `${JSON.stringify(Object.fromEntries(Object.entries(fakes).map(([name, fake]) => [name, fake.url])))}\n`,
)
const stop = (): void => {
  void Promise.all(Object.values(fakes).map((fake) => fake.close())).finally(() => process.exit(0))
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
