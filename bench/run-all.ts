/**
 * `npm run bench`: every benchmark script in turn, each in its own process
 * (so one cannot skew another's memory or event loop), printing their
 * Markdown tables. The numbers and how to read them are in BENCHMARKS.md.
 * Pass names to run a subset: `npm run bench -- gateway routing-stream`.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

const benches: Array<{ name: string; args: string[]; needs?: string }> = [
  { name: 'backends', args: [] },
  { name: 'routing-stream', args: [] },
  { name: 'gateway', args: [] },
  { name: 'discovery', args: ['5', '20', '50'] },
  { name: 'discovery-procs', args: ['5', '20'] },
  { name: 'health', args: ['10'] },
  { name: 'mesh-procs/run', args: ['--peers', '10'] },
  { name: 'multi-host', args: [], needs: 'root (network namespaces)' },
]

const wanted = process.argv.slice(2)
const tsx = join(import.meta.dirname, '..', 'node_modules', '.bin', 'tsx')
let failed = 0
for (const bench of benches) {
  if (wanted.length > 0 && !wanted.includes(bench.name)) continue
  process.stdout.write(`\n### ${bench.name}${bench.needs ? ` (needs ${bench.needs})` : ''}\n\n`)
  const result = spawnSync(tsx, [join(import.meta.dirname, `${bench.name}.ts`), ...bench.args], {
    stdio: 'inherit',
    env: { ...process.env, CLAWMESH_LOG: process.env.CLAWMESH_LOG ?? 'error' },
  })
  if (result.status !== 0) {
    failed++
    process.stdout.write(`\n${bench.name} exited with ${result.status ?? result.signal}\n`)
  }
}
process.exit(failed === 0 ? 0 : 1)
