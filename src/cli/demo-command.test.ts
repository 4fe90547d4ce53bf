import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { type CliProcess, runCli, waitFor } from '../../test/cli-process.js'
import { parseManifest } from '../config/index.js'
import { StatusView } from '../control/status-view.js'
import { demoManifest } from './demo-command.js'

/** Splits a printed command line into arguments (handles the '...' and "..." quoting the demo prints). */
function shellWords(line: string): string[] {
  const words: string[] = []
  for (const match of line.matchAll(/'((?:[^']|'\\'')*)'|"([^"]*)"|(\S+)/g)) {
    words.push(match[1]?.replaceAll(`'\\''`, "'") ?? match[2] ?? match[3] ?? '')
  }
  return words
}

/** The printed line that starts with `prefix` (after indentation). */
function printedLine(stdout: string, prefix: string): string {
  const line = stdout.split('\n').find((candidate) => candidate.trim().startsWith(prefix))
  if (line === undefined) throw new Error(`demo printed no "${prefix}" line:\n${stdout}`)
  return line.trim()
}

describe('clawmesh demo (real process: dist/cli/main.js demo)', () => {
  const dirs: string[] = []
  const running: CliProcess[] = []
  afterAll(async () => {
    for (const child of running) if (child.child.exitCode === null) child.child.kill('SIGKILL')
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
  })

  it('its manifest is the claworc shape and loads (demo backend as type custom)', async () => {
    const manifest = parseManifest(
      JSON.stringify(
        demoManifest(
          [
            { p2p: 1, api: 2 },
            { p2p: 3, api: 4 },
            { p2p: 5, api: 6 },
          ],
          { url: 'http://127.0.0.1:11434' },
        ),
      ),
      'demo.yaml',
    )
    expect(manifest.federation.nodes.map((node) => [node.name, node.trust])).toEqual([
      ['home', 'high'],
      ['vps-public', 'low'],
      ['vps-fast', 'medium'],
    ])
    expect(manifest.federation.nodes[0]?.backends.map((backend) => backend.type)).toEqual([
      'custom',
      'ollama',
    ])
    expect(manifest.federation.nodes[2]?.backends[0]).toMatchObject({ name: 'demo', min_trust: 'low' })
  })

  it('prints working status, chat and curl commands once all three peers are alive, and exits 0 on SIGINT', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clawmesh-demo-'))
    dirs.push(dir)
    const demo = runCli(['demo', '--data-dir', dir, '--no-ollama'], { CLAWMESH_LOG: 'warn' })
    running.push(demo)
    await waitFor(() => demo.stdout().includes('ready (Ctrl-C to stop)'), 30_000, 'the demo to print "ready"')
    const stdout = demo.stdout()
    expect(stdout).toMatch(/Dashboard \(Mission Control\): http:\/\/127\.0\.0\.1:\d+\//)
    expect(stdout).toContain('DEMO')
    expect(await readFile(join(dir, 'clawmesh-demo.yaml'), 'utf8')).toContain('type: custom')

    // `clawmesh status --api ... --json`: three alive peers and a Mission Control (home, the preferred one).
    const statusArgs = shellWords(printedLine(stdout, 'clawmesh status')).slice(1)
    const status = runCli([...statusArgs, '--json'])
    running.push(status)
    expect((await status.exited).code).toBe(0)
    const view = StatusView.parse(JSON.parse(status.stdout()))
    expect(view.peers.map((peer) => [peer.name, peer.state]).sort()).toEqual([
      ['home', 'alive'],
      ['vps-fast', 'alive'],
      ['vps-public', 'alive'],
    ])
    expect(view.missionControl?.name).toBe('home')

    // `clawmesh chat ... --soul weather-brief --model demo/echo "hello"`: vps-public's soul, served by vps-fast's demo backend.
    const chatArgs = shellWords(printedLine(stdout, 'clawmesh chat --api')).slice(1)
    expect(chatArgs).toContain('weather-brief')
    const chat = runCli(chatArgs)
    running.push(chat)
    expect((await chat.exited).code, chat.stderr()).toBe(0)
    expect(chat.stdout().trim()).toBe('[demo backend on vps-fast] You said: hello')

    // The private soul stays on home (trust high): home's own demo backend answers.
    const lines = stdout.split('\n').filter((line) => line.includes('--soul inbox-triage'))
    expect(lines).toHaveLength(1)
    const privateChat = runCli(shellWords(lines[0]!.trim()).slice(1))
    running.push(privateChat)
    expect((await privateChat.exited).code, privateChat.stderr()).toBe(0)
    expect(privateChat.stdout().trim()).toBe('[demo backend on home] You said: private hello')

    // The curl command, done with fetch: same URL, headers and body; an SSE stream of the demo reply.
    const curl = shellWords(printedLine(stdout, 'curl'))
    const url = curl.find((word) => word.startsWith('http://'))!
    const headers: Record<string, string> = {}
    curl.forEach((word, index) => {
      if (word === '-H') {
        const [name, ...value] = (curl[index + 1] ?? '').split(':')
        headers[name!.trim()] = value.join(':').trim()
      }
    })
    expect(headers['x-clawmesh-soul']).toBe('weather-brief')
    const body = curl[curl.indexOf('-d') + 1]!
    const response = await fetch(url, { method: 'POST', headers, body })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    const events = (await response.text())
      .split('\n')
      .filter((line) => line.startsWith('data: ') && line !== 'data: [DONE]')
      .map((line) => JSON.parse(line.slice(6)) as { choices: { delta?: { content?: string } }[] })
    expect(events.map((event) => event.choices[0]?.delta?.content ?? '').join('')).toBe(
      '[demo backend on vps-fast] You said: hello',
    )

    demo.child.kill('SIGINT')
    const exit = await demo.exited
    expect(exit.code).toBe(0)
    expect(demo.stdout()).toContain('stopping the demo peers')
    expect(demo.stderr()).not.toMatch(/\n\s+at /)
    // Every peer is gone: the API no longer answers.
    await expect(fetch(`${new URL(url).origin}/healthz`)).rejects.toThrow()
  }, 60_000)
})
