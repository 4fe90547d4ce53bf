/**
 * Issue 2 benchmark with real processes: N `clawmesh start` processes on
 * loopback, each knowing ONE address (the bootstrap peer's); time from each
 * process's spawn until its own `GET /status` lists every soul of the mesh,
 * and resident memory per peer process. Baseline in the same run: the time
 * until the same process first answers `/healthz` (its own start-up floor).
 *
 *   npm run build && npx tsx bench/discovery-procs.ts 5 20 50
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { cliPath, freePort } from '../test/cli-process.js'

const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0)

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN)
  return kb / 1024
}

async function run(n: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'clawmesh-bench-procs-'))
  const bootstrapPort = await freePort()
  const apiPorts = await Promise.all(Array.from({ length: n }, () => freePort()))
  const manifest = {
    federation: {
      nodes: Array.from({ length: n }, (_, index) => ({
        name: `n${index}`,
        // Only n0 has a known address; the others are found through it.
        address: index === 0 ? `127.0.0.1:${bootstrapPort}` : '127.0.0.1:0',
        api: `127.0.0.1:${apiPorts[index]}`,
        souls: [`soul-${index}`],
        trust: 'medium',
      })),
    },
  }
  const manifestFile = join(dir, 'clawmesh.yaml')
  await writeFile(manifestFile, stringify(manifest))
  const children: ChildProcess[] = []
  const ready: number[] = []
  const resolved: number[] = []
  const started = performance.now()
  try {
    await Promise.all(
      Array.from({ length: n }, async (_, index) => {
        const t0 = performance.now()
        const child = spawn(
          process.execPath,
          [
            cliPath,
            'start',
            '--manifest',
            manifestFile,
            '--node',
            `n${index}`,
            '--data-dir',
            join(dir, `n${index}`),
          ],
          { env: { ...process.env, CLAWMESH_LOG: 'error' }, stdio: 'ignore' },
        )
        children.push(child)
        const api = `http://127.0.0.1:${apiPorts[index]}`
        let sawHealthz = false
        for (;;) {
          if (performance.now() - started > 180_000)
            throw new Error(`n${index} did not resolve every soul in 180 s`)
          if (!sawHealthz) {
            sawHealthz = (await fetch(`${api}/healthz`).catch(() => undefined))?.ok === true
            if (sawHealthz) ready.push(performance.now() - t0)
          } else {
            const view = (await fetch(`${api}/status`)
              .then((response) => response.json())
              .catch(() => undefined)) as { peers: { souls: unknown[] }[] } | undefined
            if (view?.peers.reduce((count, peer) => count + peer.souls.length, 0) === n) break
          }
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
        resolved.push(performance.now() - t0)
      }),
    )
    const wall = performance.now() - started
    const rss = await Promise.all(children.map((child) => rssMiB(child.pid ?? 0)))
    process.stdout.write(
      `| ${n} | ${percentile(ready, 50).toFixed(0)} / ${percentile(ready, 100).toFixed(0)} ms | ` +
        `${percentile(resolved, 50).toFixed(0)} / ${percentile(resolved, 100).toFixed(0)} ms | ${wall.toFixed(0)} ms | ` +
        `${percentile(rss, 50).toFixed(0)} MiB |\n`,
    )
  } finally {
    for (const child of children) child.kill('SIGTERM')
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  }
}

process.stdout.write(
  '| peers | own API up (baseline) p50 / max | lists every soul p50 / max | whole mesh | RSS per peer (p50) |\n|---|---|---|---|---|\n',
)
for (const n of sizes.length > 0 ? sizes : [5, 20, 50]) await run(n)
process.exit(0)
