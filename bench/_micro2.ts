import http from 'node:http'
import { startMeshFixture } from '../test/mesh-fixture.js'
process.env.CLAWMESH_LOG = 'error'
const mesh = await startMeshFixture({ api: true, only: ['vps-public', 'vps-fast'], scripts: { fast: { tokens: ['a', 'b', 'c'] } } })
const api = new URL(`${mesh.peers['vps-public']!.apiUrl!}/v1/chat/completions`)
const agent = new http.Agent({ keepAlive: true })
const body = JSON.stringify({ model: 'fast/gpt-fast', stream: true, messages: [{ role: 'user', content: 'What is the weather like in Lyon today?' }] })
function one(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(api, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-clawmesh-soul': 'weather-brief' } }, (res) => {
      let n = 0; res.on('data', (d) => { n += d.length }); res.on('end', () => resolve(res.statusCode === 200 ? n : -1))
    })
    req.on('error', reject); req.end(body)
  })
}
for (let i = 0; i < 50; i++) { const r = await one(); if (r < 0 && i > 40) throw new Error('not ready') ; if (r < 0) await new Promise((r) => setTimeout(r, 200)) }
for (let i = 0; i < 300; i++) await one()
const N = Number(process.env.N ?? 2000)
const c0 = process.cpuUsage(); const t0 = performance.now()
for (let i = 0; i < N; i++) await one()
const c = process.cpuUsage(c0); const t = performance.now() - t0
console.log(`per request (client + gateway + owner + fake, one process): ${(t / N * 1000).toFixed(1)} us wall, ${((c.user + c.system) / N).toFixed(1)} us CPU`)
await mesh.stop()
process.exit(0)
