/**
 * CPU of one gateway request with every part in one process (raw keep-alive HTTP client, gateway
 * peer, owner peer over libp2p, OpenAI-format fake): no process wake-ups, so the number is the
 * work itself. For profiling: `node --import tsx --cpu-prof bench/gateway-cpu.ts`.
 *
 *   npx tsx bench/gateway-cpu.ts        (env N: measured requests, default 2000)
 */
import http from 'node:http'
import { startMeshFixture } from '../test/mesh-fixture.js'

process.env.CLAWMESH_LOG = 'error'
const mesh = await startMeshFixture({
  api: true,
  only: ['vps-public', 'vps-fast'],
  scripts: { fast: { tokens: ['a', 'b', 'c'] } },
})
const api = new URL(`${mesh.peers['vps-public']!.apiUrl!}/v1/chat/completions`)
const agent = new http.Agent({ keepAlive: true })
const body = JSON.stringify({
  model: 'fast/gpt-fast',
  stream: true,
  messages: [{ role: 'user', content: 'What is the weather like in Lyon today?' }],
})
function one(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      api,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'x-clawmesh-soul': 'weather-brief' },
      },
      (res) => {
        let n = 0
        res.on('data', (d) => {
          n += d.length
        })
        res.on('end', () => resolve(res.statusCode === 200 ? n : -1))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}
// Ready once A has B's advert.
for (let attempt = 0; (await one()) < 0; attempt++) {
  if (attempt > 100) throw new Error('the mesh did not route a request within 20 s')
  await new Promise((resolve) => setTimeout(resolve, 200))
}
for (let i = 0; i < 300; i++) await one()
const N = Number(process.env.N ?? 2000)
const c0 = process.cpuUsage()
const t0 = performance.now()
for (let i = 0; i < N; i++) await one()
const c = process.cpuUsage(c0)
const t = performance.now() - t0
process.stdout.write(
  `per request (client + gateway + owner + fake, one process): ${((t / N) * 1000).toFixed(1)} us wall, ${((c.user + c.system) / N).toFixed(1)} us CPU\n`,
)
await mesh.stop()
process.exit(0)
