import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type CliProcess, freePort, runCli, waitFor } from '../../test/cli-process.js'
import { StatusView } from '../control/status-view.js'

describe('clawmesh start (real processes)', () => {
  const processes: CliProcess[] = []
  const dirs: string[] = []
  afterEach(async () => {
    for (const running of processes.splice(0)) {
      if (running.child.exitCode === null) running.child.kill('SIGKILL')
    }
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
  })

  it('two peers started from one manifest list each other in GET /status and stop cleanly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clawmesh-e2e-'))
    dirs.push(dir)
    const [p2pA, p2pB, apiA, apiB] = await Promise.all([freePort(), freePort(), freePort(), freePort()])
    const manifest = join(dir, 'clawmesh.yaml')
    await writeFile(
      manifest,
      `federation:
  control_plane: home
  nodes:
    - name: home
      address: 127.0.0.1:${p2pA}
      api: 127.0.0.1:${apiA}
      souls: [inbox-triage, finance-bookkeeper]
      trust: high
    - name: vps-public
      address: 127.0.0.1:${p2pB}
      api: 127.0.0.1:${apiB}
      souls: [weather-brief]
      trust: low
      backends:
        - { name: cheap, type: openai-compatible, url: "http://127.0.0.1:9/v1", models: [small] }
`,
    )
    const home = runCli(['start', '--manifest', manifest, '--node', 'home', '--data-dir', join(dir, 'home')])
    const vps = runCli([
      'start',
      '--manifest',
      manifest,
      '--node',
      'vps-public',
      '--data-dir',
      join(dir, 'vps'),
    ])
    processes.push(home, vps)
    const homeId = await waitFor(() => /peer id: (\S+)/.exec(home.stdout())?.[1], 15_000, 'home peer id')
    expect(home.stdout()).toContain(`/ip4/127.0.0.1/tcp/${p2pA}/p2p/${homeId}`)

    const viewOf = async (port: number): Promise<StatusView> =>
      StatusView.parse(await (await fetch(`http://127.0.0.1:${port}/status`)).json())
    for (const port of [apiA, apiB]) {
      const view = await waitFor(
        async () => {
          const current = await viewOf(port).catch(() => undefined)
          return current !== undefined &&
            current.peers.length === 2 &&
            current.peers.every((peer) => peer.state === 'alive')
            ? current
            : undefined
        },
        20_000,
        `both peers alive in the status of :${port}`,
      )
      const byName = Object.fromEntries(view.peers.map((peer) => [peer.name, peer]))
      expect(byName.home?.trust).toBe('high')
      expect(byName['vps-public']?.trust).toBe('low')
      expect(byName.home?.peerId).toBe(homeId)
      expect(byName.home?.souls.map((soul) => soul.name)).toEqual(['inbox-triage', 'finance-bookkeeper'])
      expect(byName['vps-public']?.backends).toMatchObject([
        { name: 'cheap', type: 'openai-compatible', models: ['small'] },
      ])
      expect(byName['vps-public']?.state).toBe('alive')
    }
    expect((await fetch(`http://127.0.0.1:${apiA}/healthz`)).status).toBe(200)

    home.child.kill('SIGTERM')
    vps.child.kill('SIGINT')
    for (const running of [home, vps]) {
      const { code } = await running.exited
      expect(code).toBe(0)
      expect(running.stderr()).not.toMatch(/\n\s+at /)
    }
  })

  it('keeps its peer ID across restarts; `clawmesh id` prints it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clawmesh-e2e-'))
    dirs.push(dir)
    const idRun = runCli(['id', '--data-dir', dir])
    processes.push(idRun)
    expect((await idRun.exited).code).toBe(0)
    const printed = idRun.stdout().trim()
    expect(printed).toMatch(/^12D3KooW/)
    const port = await freePort()
    const peer = runCli(['start', '--data-dir', dir, '--api', `127.0.0.1:${port}`])
    processes.push(peer)
    const started = await waitFor(() => /peer id: (\S+)/.exec(peer.stdout())?.[1], 15_000, 'peer id')
    expect(started).toBe(printed)
    peer.child.kill('SIGINT')
    expect((await peer.exited).code).toBe(0)
  })

  it('refuses a broken manifest with file:line:field and starts nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clawmesh-e2e-'))
    dirs.push(dir)
    const manifest = join(dir, 'clawmesh.yaml')
    await writeFile(
      manifest,
      'federation:\n  nodes:\n    - name: a\n      address: 127.0.0.1:1\n      trust: superb\n',
    )
    const run = runCli(['start', '--manifest', manifest, '--node', 'a', '--data-dir', dir])
    processes.push(run)
    expect((await run.exited).code).toBe(1)
    expect(run.stderr()).toContain(`${manifest}:5 federation.nodes[0].trust: expected low, medium or high`)
    expect(run.stdout()).not.toContain('started')
  })
})
