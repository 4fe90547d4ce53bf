import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CliProcess, freePort, runCli, waitFor } from '../../test/cli-process.js'
import { StatusView } from '../control/status-view.js'

const names = ['home', 'vps-fast', 'vps-public']

/** Runs `clawmesh ...args` to completion. */
async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = runCli(args)
  const { code } = await run.exited
  return { code, stdout: run.stdout(), stderr: run.stderr() }
}

/** The table row of `name` (first cell), split on runs of two or more spaces. */
function row(table: string, name: string): string[] {
  const line = table.split('\n').find((candidate) => candidate.split(/\s{2,}/)[0]?.split(' [')[0] === name)
  expect(line, `a row for ${name} in:\n${table}`).toBeDefined()
  return line!.split(/\s{2,}/)
}

describe('clawmesh status against three real `clawmesh start` processes', () => {
  const processes: Record<string, CliProcess> = {}
  const apis: Record<string, string> = {}
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clawmesh-status-e2e-'))
    const ports = await Promise.all(names.flatMap(() => [freePort(), freePort()]))
    const manifest = join(dir, 'clawmesh.yaml')
    const node = (index: number): string => {
      apis[names[index]!] = `127.0.0.1:${ports[2 * index + 1]}`
      return `    - name: ${names[index]}
      address: 127.0.0.1:${ports[2 * index]}
      api: 127.0.0.1:${ports[2 * index + 1]}`
    }
    await writeFile(
      manifest,
      `federation:
  control_plane: home
  health: { heartbeat_interval_ms: 250, suspect_after_ms: 750, dead_after_ms: 1500, probe_interval_ms: 500 }
  nodes:
${node(0)}
      souls: [inbox-triage, finance-bookkeeper]
      trust: high
${node(1)}
      souls: [escalation-router]
      trust: medium
      backends:
        - { name: cheap, type: openai-compatible, url: "http://127.0.0.1:9/v1", models: [small], timeout_ms: 300 }
${node(2)}
      souls: [weather-brief]
      trust: low
`,
    )
    for (const name of names) {
      processes[name] = runCli([
        'start',
        '--manifest',
        manifest,
        '--node',
        name,
        '--data-dir',
        join(dir, name),
      ])
    }
    // Every API answers with the Mission Control's view: home leads, all three alive.
    for (const name of names) {
      await waitFor(
        async () => {
          const response = await fetch(`http://${apis[name]}/status`).catch(() => undefined)
          const view = StatusView.safeParse(await response?.json().catch(() => undefined))
          return (
            view.success &&
            view.data.source === 'mission-control' &&
            view.data.missionControl?.name === 'home' &&
            view.data.peers.length === 3 &&
            view.data.peers.every((peer) => peer.state === 'alive') &&
            view.data.peers.some((peer) => peer.backends.some((backend) => backend.healthy !== null))
          )
        },
        30_000,
        `${name} to serve the Mission Control's view with all three peers alive`,
      )
    }
  }, 60_000)
  afterAll(async () => {
    for (const running of Object.values(processes)) {
      if (running.child.exitCode === null) running.child.kill('SIGKILL')
    }
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('prints the Mission Control and term, then every peer with trust, state, last seen, souls and backends', async () => {
    const { code, stdout, stderr } = await cli(['status', '--api', apis['vps-public']!])
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const term = StatusView.parse(await (await fetch(`http://${apis.home}/status`)).json()).missionControl
      ?.term
    expect(stdout).toMatch(new RegExp(`^Mission Control: home \\(\\w{8}\\)  term ${term}$`, 'm'))
    expect(stdout).toContain("View: the Mission Control's, via vps-public")
    expect(stdout).toContain('Peers: 3 (3 alive, 0 suspect, 0 dead)')
    expect(stdout).toMatch(/^PEER\s+TRUST\s+STATE\s+LAST SEEN\s+IN FLIGHT\s+SOULS\s+BACKENDS$/m)
    const [, homeTrust, homeState, homeSeen, , homeSouls] = row(stdout, 'home')
    expect(row(stdout, 'home')[0]).toBe('home [MC]')
    expect([homeTrust, homeState]).toEqual(['high', 'alive'])
    expect(homeSeen).toMatch(/^\d+(ms|\.\ds) ago$/)
    expect(homeSouls).toBe('inbox-triage(high), finance-bookkeeper(high)')
    const fast = row(stdout, 'vps-fast')
    expect(fast.slice(1, 3)).toEqual(['medium', 'alive'])
    // The backend's URL answers nothing: its probe fails and the row says so, with the probe's latency.
    expect(fast[6]).toMatch(/^cheap\(openai-compatible\) DOWN \d+ms$/)
    const vps = row(stdout, 'vps-public')
    expect(vps[0]).toBe('vps-public [self]')
    expect(vps.slice(1, 4)).toEqual(['low', 'alive', '-'])
    expect(vps[5]).toBe('weather-brief(low)')
  })

  it('--json prints a view that parses with the StatusView schema', async () => {
    const { code, stdout } = await cli(['status', '--json', '--api', `http://${apis['vps-fast']}`])
    expect(code).toBe(0)
    const view = StatusView.parse(JSON.parse(stdout))
    expect(view.source).toBe('mission-control')
    expect(view.self.name).toBe('vps-fast')
    expect(view.missionControl?.name).toBe('home')
    expect(view.peers.map((peer) => peer.name)).toEqual(names)
  })

  it('--watch redraws until Ctrl-C, then exits cleanly', async () => {
    const watch = runCli(['status', '--watch', '--api', apis.home!])
    await waitFor(() => watch.stdout().split('\u001b[2J').length > 2, 10_000, 'two redraws')
    expect(watch.stdout()).toContain('Mission Control: home')
    watch.child.kill('SIGINT')
    expect((await watch.exited).code).toBe(0)
  })

  it('after SIGKILL of the Mission Control, status shows the successor at a higher term and home not alive', async () => {
    const before = StatusView.parse(await (await fetch(`http://${apis['vps-public']}/status`)).json())
    processes.home!.child.kill('SIGKILL')
    const stdout = await waitFor(
      async () => {
        const { code, stdout } = await cli(['status', '--api', apis['vps-public']!])
        const term = /term (\d+)/.exec(stdout)?.[1]
        return code === 0 &&
          stdout.includes('Mission Control: vps-fast') &&
          Number(term) > (before.missionControl?.term ?? 0) &&
          /^home\s+high\s+(suspect|dead)\s/m.test(stdout) &&
          // Right after an election the new Mission Control may not answer within the 1 s budget
          // and the peer shows its own view, marked FALLBACK; wait for the relayed one.
          stdout.includes("View: the Mission Control's, via vps-public")
          ? stdout
          : undefined
      },
      15_000,
      'vps-fast to take over in the status output',
    )
    expect(stdout).toContain("View: the Mission Control's, via vps-public")
    expect(row(stdout, 'vps-fast')[0]).toBe('vps-fast [MC]')
  })
})
