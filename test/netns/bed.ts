/**
 * The multi-host test bed, driven from TypeScript: `netns.sh` makes the
 * namespaces; this starts one `clawmesh start` OS process per host inside its
 * namespace (plus that host's fake providers), reads every peer's `/status`
 * from the root namespace over the bed's bridge, and makes faults: SIGKILL,
 * restarts with the same data dir, partitions (iptables DROP inside the
 * namespaces), and link impairment (`tc netem`, or iptables loss where the
 * kernel has no netem). Used by multi-host.test.ts and bench/multi-host.ts.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { stringify } from 'yaml'
import { StatusView } from '../../src/control/status-view.js'
import { cliPath, repoRoot, waitFor } from '../cli-process.js'

const run = promisify(execFile)
/** The bed's shell script. */
export const netnsScript = join(repoRoot, 'test', 'netns', 'netns.sh')
const fakeBackendsScript = join(repoRoot, 'test', 'netns', 'fake-backends.ts')
const P2P_PORT = 4001
const API_PORT = 8081

/** One host of a bed manifest. `backends` name fakes this host runs and owns. */
export interface HostSpec {
  name: string
  trust: 'low' | 'medium' | 'high'
  souls: string[]
  backends?: { name: string; minTrust?: 'low' | 'medium' | 'high' }[]
}

/** What a bed is made of. */
export interface BedOptions {
  /** Namespace and bridge prefix (a few letters). */
  prefix: string
  /** Third octet inside 198.18.0.0/15: hosts at 198.18.SUBNET.11+. */
  subnet: number
  hosts: HostSpec[]
  /** Preferred Mission Control (node name). */
  controlPlane: string
  /** `federation.health` timings. */
  health: {
    heartbeat_interval_ms: number
    suspect_after_ms: number
    dead_after_ms: number
    probe_interval_ms: number
  }
  /** `souls:` settings. */
  souls?: Record<string, { backend?: string; model?: string; sensitivity?: 'low' | 'medium' | 'high' }>
}

/** A running peer process. */
export interface PeerProcess {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<number | null>
}

/** A chat answered (or not) through a peer's gateway. */
export interface ChatResult {
  ok: boolean
  status: number
  text: string
  error: string
  ms: number
}

/** The test bed could not be made; the message says why in plain words. */
export class BedUnavailableError extends Error {
  override name = 'BedUnavailableError'
}

/** Fails with a plain reason when namespaces cannot be made here (not root, no `ip`). */
export async function checkBed(): Promise<void> {
  try {
    await run('bash', [netnsScript, 'check'])
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim()
    throw new BedUnavailableError(
      `the multi-host test bed needs network namespaces and they cannot be made here: ${stderr || String(error)}. Run as root with iproute2 and iptables installed (.ci/run does).`,
    )
  }
}

/** A bed of namespaces with one clawmesh peer process each. */
export class NetnsBed {
  readonly options: BedOptions
  readonly dir: string
  readonly manifestFile: string
  readonly peers = new Map<string, PeerProcess>()
  readonly fakes: ChildProcess[] = []
  /** Which impairment `impair()` applied: real netem or the iptables loss fallback. */
  impairment: 'netem' | 'iptables-loss' | undefined

  private constructor(options: BedOptions, dir: string) {
    this.options = options
    this.dir = dir
    this.manifestFile = join(dir, 'clawmesh.yaml')
  }

  /** Makes the namespaces, starts every host's fakes, writes the manifest. Peers are started by `startAll`. */
  static async create(options: BedOptions): Promise<NetnsBed> {
    await checkBed()
    const bed = new NetnsBed(options, await mkdtemp(join(tmpdir(), `clawmesh-${options.prefix}-`)))
    // If the test process dies without afterAll, still take the namespaces down.
    process.once('exit', () => bed.destroySync())
    // The kernel tears namespaces (and their veths) down asynchronously after their last process
    // exits, so a bed made right after another one can meet "File exists": wait and retry.
    for (let attempt = 1; ; attempt++) {
      try {
        await run('bash', [netnsScript, 'up', String(options.hosts.length), options.prefix], {
          env: { ...process.env, NETNS_SUBNET: bed.subnet },
        })
        break
      } catch (error) {
        if (attempt >= 3) throw error
        await new Promise((resolve) => setTimeout(resolve, 2_000 * attempt))
      }
    }
    const urls: Record<string, Record<string, string>> = {}
    await Promise.all(
      options.hosts.map(async (host) => {
        if ((host.backends ?? []).length === 0) return
        urls[host.name] = await bed.startFakes(host)
      }),
    )
    const manifest = {
      federation: {
        control_plane: options.controlPlane,
        health: options.health,
        nodes: options.hosts.map((host) => ({
          name: host.name,
          address: `${bed.ip(host.name)}:${P2P_PORT}`,
          api: `${bed.ip(host.name)}:${API_PORT}`,
          souls: host.souls,
          trust: host.trust,
          backends: (host.backends ?? []).map((backend) => ({
            name: backend.name,
            type: 'openai-compatible',
            url: urls[host.name]?.[backend.name],
            models: ['m'],
            timeout_ms: 10_000,
            ...(backend.minTrust === undefined ? {} : { min_trust: backend.minTrust }),
          })),
        })),
      },
      ...(options.souls === undefined ? {} : { souls: options.souls }),
    }
    await writeFile(bed.manifestFile, stringify(manifest))
    return bed
  }

  /** `198.18.SUBNET` */
  get subnet(): string {
    return `198.18.${this.options.subnet}`
  }

  /** The namespace of a host. */
  ns(name: string): string {
    return `${this.options.prefix}-h${this.index(name) + 1}`
  }

  /** The bed address of a host. */
  ip(name: string): string {
    return `${this.subnet}.${11 + this.index(name)}`
  }

  /** The API base URL of a host (reachable from the root namespace over the bridge). */
  apiUrl(name: string): string {
    return `http://${this.ip(name)}:${API_PORT}`
  }

  /** Every host name. */
  get names(): string[] {
    return this.options.hosts.map((host) => host.name)
  }

  private index(name: string): number {
    const index = this.options.hosts.findIndex((host) => host.name === name)
    if (index < 0) throw new Error(`no host ${name} in this bed`)
    return index
  }

  private async startFakes(host: HostSpec): Promise<Record<string, string>> {
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.ns(host.name),
        process.execPath,
        '--import',
        'tsx',
        fakeBackendsScript,
        host.name,
        ...(host.backends ?? []).map((backend) => backend.name),
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    )
    this.fakes.push(child)
    let stdout = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    const line = await waitFor(
      () => (stdout.includes('\n') ? stdout.split('\n')[0] : undefined),
      20_000,
      `fakes of ${host.name}`,
    )
    return JSON.parse(line) as Record<string, string>
  }

  /** Starts `clawmesh start` for a host inside its namespace (same data dir on every start). */
  start(name: string): PeerProcess {
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.ns(name),
        process.execPath,
        cliPath,
        'start',
        '--manifest',
        this.manifestFile,
        '--node',
        name,
        '--data-dir',
        join(this.dir, name),
      ],
      { cwd: repoRoot, env: { ...process.env, CLAWMESH_LOG: 'error' }, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const peer: PeerProcess = {
      child,
      stdout: () => stdout,
      stderr: () => stderr,
      exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    }
    this.peers.set(name, peer)
    return peer
  }

  /** Starts every host and waits for its peer ID line. */
  async startAll(): Promise<void> {
    const started = this.names.map((name) => this.start(name))
    await Promise.all(started.map((peer, index) => this.peerId(this.names[index]!, peer)))
  }

  /** The peer ID a host's process printed. */
  async peerId(name: string, peer = this.peers.get(name)): Promise<string> {
    if (peer === undefined) throw new Error(`${name} is not running`)
    return waitFor(() => /peer id: (\S+)/.exec(peer.stdout())?.[1], 20_000, `peer id of ${name}`)
  }

  /** Sends `signal` to a host's peer and waits until it has exited. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    const peer = this.peers.get(name)
    if (peer === undefined) return null
    peer.child.kill(signal)
    const code = await peer.exited
    this.peers.delete(name)
    return code
  }

  /** One peer's `/status` (the Mission Control's view through it), or undefined if it does not answer. */
  async status(name: string, timeoutMs = 2_000): Promise<StatusView | undefined> {
    try {
      const response = await fetch(`${this.apiUrl(name)}/status`, { signal: AbortSignal.timeout(timeoutMs) })
      if (!response.ok) return undefined
      return StatusView.parse(await response.json())
    } catch {
      return undefined
    }
  }

  /**
   * Whether every host in `alive` answers and its view has the same Mission Control
   * (`missionControl` if given), every host of `alive` alive, and no host outside it alive.
   */
  async converged(alive: string[], missionControl?: string): Promise<boolean> {
    const views = await Promise.all(alive.map((name) => this.status(name)))
    const leaders = new Set<string>()
    for (const view of views) {
      if (view === undefined || view.missionControl === null) return false
      leaders.add(view.missionControl.name)
      for (const name of alive) {
        if (view.peers.find((peer) => peer.name === name)?.state !== 'alive') return false
      }
      if (view.peers.some((peer) => !alive.includes(peer.name) && peer.state === 'alive')) return false
    }
    return leaders.size === 1 && (missionControl === undefined || leaders.has(missionControl))
  }

  /** Waits until `converged(alive, missionControl)`; resolves with the time it took in ms. On timeout the error shows every view. */
  async waitConverged(
    alive: string[],
    missionControl: string | undefined,
    timeoutMs: number,
  ): Promise<number> {
    const started = performance.now()
    try {
      await waitFor(
        () => this.converged(alive, missionControl),
        timeoutMs,
        `${alive.join(',')} alive with Mission Control ${missionControl ?? '(any one)'}`,
      )
    } catch (error) {
      throw new Error(`${(error as Error).message}; views now: ${await this.describeViews(alive)}`)
    }
    return performance.now() - started
  }

  /** One line per host: its Mission Control and the peers it does not see alive. */
  async describeViews(names: string[]): Promise<string> {
    const views = await Promise.all(names.map((name) => this.status(name)))
    return views
      .map((view, index) => {
        if (view === undefined) return `${names[index]}: no answer`
        const notAlive = view.peers
          .filter((peer) => peer.state !== 'alive')
          .map((peer) => `${peer.name}=${peer.state}`)
        const missing = names.filter((name) => !view.peers.some((peer) => peer.name === name))
        return `${names[index]}: MC ${view.missionControl?.name ?? 'none'} (${view.source}), not alive [${notAlive.join(' ')}], missing [${missing.join(' ')}]`
      })
      .join('; ')
  }

  /** Runs the `clawmesh` CLI inside a host's namespace. */
  async cli(
    name: string,
    args: string[],
    timeoutMs = 20_000,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await run(
        'ip',
        ['netns', 'exec', this.ns(name), process.execPath, cliPath, ...args],
        {
          cwd: repoRoot,
          timeout: timeoutMs,
          env: { ...process.env, CLAWMESH_LOG: 'error' },
        },
      )
      return { code: 0, stdout, stderr }
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string }
      return {
        code: typeof failed.code === 'number' ? failed.code : 1,
        stdout: failed.stdout ?? '',
        stderr: failed.stderr ?? '',
      }
    }
  }

  /** Spawns `clawmesh chat` inside a host's namespace against that host's API (a streaming client to watch). */
  spawnChat(name: string, soul: string, model: string, prompt: string): PeerProcess {
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.ns(name),
        process.execPath,
        cliPath,
        'chat',
        '--api',
        this.apiUrl(name),
        '--soul',
        soul,
        '--model',
        model,
        prompt,
      ],
      { cwd: repoRoot, env: { ...process.env, CLAWMESH_LOG: 'error' }, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    return {
      child,
      stdout: () => stdout,
      stderr: () => stderr,
      exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    }
  }

  /** One streamed chat through a host's gateway (the curl path), from the root namespace. */
  async chat(name: string, soul: string, model: string, timeoutMs = 20_000): Promise<ChatResult> {
    const started = performance.now()
    try {
      const response = await fetch(`${this.apiUrl(name)}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-clawmesh-soul': soul },
        body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hello' }] }),
        signal: AbortSignal.timeout(timeoutMs),
      })
      const body = await response.text()
      if (!response.ok) {
        return { ok: false, status: response.status, text: '', error: body, ms: performance.now() - started }
      }
      let text = ''
      let error = ''
      for (const line of body.split('\n')) {
        if (!line.startsWith('data: ') || line === 'data: [DONE]') continue
        const event = JSON.parse(line.slice(6)) as {
          choices?: { delta?: { content?: string } }[]
          error?: { message?: string }
        }
        if (event.error !== undefined) error = event.error.message ?? 'error'
        text += event.choices?.[0]?.delta?.content ?? ''
      }
      const ok = error === '' && body.includes('data: [DONE]')
      return { ok, status: response.status, text, error, ms: performance.now() - started }
    } catch (caught) {
      return { ok: false, status: 0, text: '', error: String(caught), ms: performance.now() - started }
    }
  }

  /** Cuts traffic between the two sides (iptables DROP inside every namespace); the root namespace still reaches all. */
  async partition(sideA: string[], sideB: string[]): Promise<void> {
    const cut = async (from: string[], to: string[]): Promise<void> => {
      await Promise.all(
        from.map(async (name) => {
          for (const other of to) {
            await this.iptables(name, ['-A', 'INPUT', '-s', this.ip(other), '-j', 'DROP'])
            await this.iptables(name, ['-A', 'OUTPUT', '-d', this.ip(other), '-j', 'DROP'])
          }
        }),
      )
    }
    await Promise.all([cut(sideA, sideB), cut(sideB, sideA)])
  }

  /** Removes every partition and loss rule. */
  async heal(): Promise<void> {
    await Promise.all(
      this.names.map(async (name) => {
        await this.iptables(name, ['-F', 'INPUT'])
        await this.iptables(name, ['-F', 'OUTPUT'])
      }),
    )
  }

  /**
   * Adds `delayMs` and `lossPercent` to a host's link (egress of its eth0) with netem. Where the
   * kernel has no netem (sch_netem missing), drops `lossPercent` of the host's outgoing packets
   * with iptables instead, and cannot add the delay: `impairment` says which was applied.
   */
  async impair(name: string, delayMs: number, lossPercent: number): Promise<'netem' | 'iptables-loss'> {
    try {
      await run('ip', [
        'netns',
        'exec',
        this.ns(name),
        'tc',
        'qdisc',
        'replace',
        'dev',
        'eth0',
        'root',
        'netem',
        'delay',
        `${delayMs}ms`,
        'loss',
        `${lossPercent}%`,
      ])
      this.impairment = 'netem'
    } catch {
      await this.iptables(name, [
        '-A',
        'OUTPUT',
        '-m',
        'statistic',
        '--mode',
        'random',
        '--probability',
        String(lossPercent / 100),
        '-j',
        'DROP',
      ])
      this.impairment = 'iptables-loss'
    }
    return this.impairment
  }

  /** Removes a host's impairment. */
  async unimpair(name: string): Promise<void> {
    await run('ip', ['netns', 'exec', this.ns(name), 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root']).catch(
      () => undefined,
    )
    await this.iptables(name, ['-F', 'OUTPUT'])
  }

  private async iptables(name: string, args: string[]): Promise<void> {
    await run('ip', ['netns', 'exec', this.ns(name), 'iptables', '-w', ...args])
  }

  /** Kills every process of the bed and removes the namespaces and the temp dir. */
  async destroy(): Promise<void> {
    for (const peer of this.peers.values()) peer.child.kill('SIGKILL')
    for (const fake of this.fakes) fake.kill('SIGKILL')
    this.peers.clear()
    await run('bash', [netnsScript, 'down', this.options.prefix]).catch(() => undefined)
    await rm(this.dir, { recursive: true, force: true })
  }

  private destroySync(): void {
    try {
      execFileSync('bash', [netnsScript, 'down', this.options.prefix], { stdio: 'ignore' })
    } catch {}
  }
}

/** The three-host bed: the claworc shape with fakes behind the backends. */
export function claworcHosts(): HostSpec[] {
  return [
    {
      name: 'home',
      trust: 'high',
      souls: ['inbox-triage', 'finance-bookkeeper'],
      backends: [{ name: 'private' }, { name: 'fast', minTrust: 'low' }, { name: 'slow', minTrust: 'low' }],
    },
    {
      name: 'vps-public',
      trust: 'low',
      souls: ['weather-brief', 'social-summary'],
      backends: [{ name: 'cheap' }],
    },
    {
      name: 'vps-fast',
      trust: 'medium',
      souls: ['escalation-router'],
      backends: [
        { name: 'fast', minTrust: 'low' },
        { name: 'slow', minTrust: 'low' },
        { name: 'edge', minTrust: 'low' },
      ],
    },
  ]
}

/**
 * A generated bed of `count` hosts: h01 (high, preferred Mission Control), then medium and low
 * alternating; h01, h02 and h03 own `fast` (usable by all), every host hosts one soul `soul-hNN`.
 */
export function generatedHosts(count: number): HostSpec[] {
  return Array.from({ length: count }, (_, index) => {
    const name = `h${String(index + 1).padStart(2, '0')}`
    const trust = index === 0 ? 'high' : index % 2 === 1 ? 'medium' : 'low'
    return {
      name,
      trust,
      souls: [`soul-${name}`],
      ...(index < 3 ? { backends: [{ name: 'fast', minTrust: 'low' as const }] } : {}),
    }
  })
}

/** Fast failure detection for the bed: 250 ms heartbeats, suspect after 750 ms, dead after 1.5 s. */
export const bedHealth = {
  heartbeat_interval_ms: 250,
  suspect_after_ms: 750,
  dead_after_ms: 1_500,
  probe_interval_ms: 1_000,
}
