/** Demo: `npx tsx examples/custom-backend/demo.ts` streams one reply from a local fake gateway. */
import { createBackendRegistry } from '../../src/llm/index.js'
import { startFakeGateway } from './fake-gateway.js'
import { registerMyCorpGateway } from './register.js'

const gateway = await startFakeGateway({ tokens: ['Hello', ' from', ' the', ' corporate', ' gateway', '.'] })
registerMyCorpGateway({
  MYCORP_GATEWAY_URL: gateway.url,
  MYCORP_GATEWAY_KEY: 'demo-key',
  MYCORP_GATEWAY_TENANT: 'finance',
})
const registry = await createBackendRegistry([{ name: 'mycorp-gateway', type: 'custom' }])
const backend = registry.get('mycorp-gateway')
for await (const part of backend.chat({ model: 'corp-large', messages: [{ role: 'user', content: 'hi' }] })) {
  if (part.type === 'text-delta') process.stdout.write(part.text)
  if (part.type === 'end') process.stdout.write(`\n[end: ${part.finishReason}]\n`)
}
process.stdout.write(
  `models: ${(await backend.models()).join(', ')}; healthy: ${(await backend.health()).ok}\n`,
)
await registry.close()
await gateway.close()
