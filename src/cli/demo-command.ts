/**
 * `clawmesh demo`: a three-peer federation shaped like examples/claworc-federation.yaml
 * (home high, vps-public low, vps-fast medium) on this machine, in one command.
 *
 * The peers run in this process (`createPeer`), not as `clawmesh start` children: the demo
 * backend is code (`type: custom` resolves to a backend registered in code), and in-process
 * peers get it through `createPeer({ backends })` with no hidden flag on `start`; one
 * process also means one Ctrl-C stops everything, and the mesh forms in about a second.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { stringify } from 'yaml'
import { SOUL_HEADER } from '../api/openai-gateway.js'
import { loadManifest, type ManifestInput } from '../config/index.js'
import type { StatusView } from '../control/status-view.js'
import { ClawmeshError, errorMessage } from '../errors.js'
import { generateSecret } from '../identity/psk.js'
import { DEMO_BACKEND_NAME, DEMO_MODEL, DemoBackend } from '../llm/demo-backend.js'
import type { LLMBackend } from '../llm/types.js'
import { createPeer, type Peer } from '../peer.js'
import { printLine } from './output.js'

/** Where a local Ollama answers by default. */
export const DEMO_OLLAMA_URL = 'http://127.0.0.1:11434'
/** How long `clawmesh demo` waits for the three peers to see each other alive. */
export const DEMO_FORM_TIMEOUT_MS = 30_000

/** The demo could not start (ports, data dir, or the mesh did not form in time). */
export class DemoError extends ClawmeshError {
  static override name = 'DemoError'
  constructor(message: string, options?: ErrorOptions) {
    super('DEMO_FAILED', message, options)
  }
}

/** One demo node: its name, trust, souls, and whether it owns a demo backend. */
interface DemoNode {
  name: string
  trust: 'low' | 'medium' | 'high'
  souls: string[]
  /** Lowest caller trust for this node's demo backend; undefined: no demo backend here. */
  demoMinTrust?: 'low' | 'medium' | 'high'
}

/** The claworc shape: home keeps private souls, vps-fast serves the demo backend to everyone. */
const demoNodes: DemoNode[] = [
  { name: 'home', trust: 'high', souls: ['inbox-triage', 'finance-bookkeeper'], demoMinTrust: 'high' },
  { name: 'vps-public', trust: 'low', souls: ['weather-brief', 'social-summary'] },
  { name: 'vps-fast', trust: 'medium', souls: ['escalation-router'], demoMinTrust: 'low' },
]

/** A TCP port free on 127.0.0.1 right now (the kernel picks it). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** Models of the Ollama server at `url`, or undefined when nothing answers within `timeoutMs`. */
export async function probeOllama(url: string, timeoutMs = 500): Promise<string[] | undefined> {
  try {
    const response = await fetch(new URL('/api/tags', url), { signal: AbortSignal.timeout(timeoutMs) })
    if (!response.ok) return undefined
    const body = (await response.json()) as { models?: { name?: unknown }[] }
    return (body.models ?? []).flatMap((model) => (typeof model.name === 'string' ? [model.name] : []))
  } catch {
    return undefined
  }
}

/** The demo manifest (as written to the data dir) for these ports. */
export function demoManifest(
  ports: { p2p: number; api: number }[],
  ollama: { url: string } | undefined,
  secret: string = generateSecret(),
): ManifestInput {
  return {
    federation: {
      control_plane: 'home',
      // A fresh private-network key per run: only these three peers can connect to each other.
      secret,
      // Faster than the defaults so the demo forms (and reacts to a stopped peer) quickly.
      health: { heartbeat_interval_ms: 500, suspect_after_ms: 1_500, dead_after_ms: 3_000 },
      nodes: demoNodes.map((node, index) => ({
        name: node.name,
        address: `127.0.0.1:${ports[index]?.p2p}`,
        api: `127.0.0.1:${ports[index]?.api}`,
        souls: node.souls,
        trust: node.trust,
        backends: [
          ...(node.demoMinTrust === undefined
            ? []
            : [
                {
                  name: DEMO_BACKEND_NAME,
                  type: 'custom' as const,
                  models: [DEMO_MODEL],
                  min_trust: node.demoMinTrust,
                },
              ]),
          ...(ollama !== undefined && node.name === 'home'
            ? [{ name: 'ollama', type: 'ollama' as const, url: ollama.url }]
            : []),
        ],
      })),
    },
    souls: Object.fromEntries(
      demoNodes.flatMap((node) =>
        node.souls.map((soul) => [soul, { backend: DEMO_BACKEND_NAME, model: DEMO_MODEL }]),
      ),
    ),
  }
}

/** Whether every peer's view lists all three alive and names a Mission Control. */
function formed(views: StatusView[]): boolean {
  return views.every(
    (view) =>
      view.missionControl !== null &&
      view.peers.length === demoNodes.length &&
      view.peers.every((peer) => peer.state === 'alive'),
  )
}

/** Shell-quotes one argument for the printed commands. */
function quote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`
}

/** Runs `clawmesh demo` until SIGINT or SIGTERM. */
export async function runDemo(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'data-dir': { type: 'string' },
      ollama: { type: 'string', default: DEMO_OLLAMA_URL },
      'no-ollama': { type: 'boolean', default: false },
    },
    strict: true,
  })
  // Peers log JSON lines to stderr; the demo's own output is the point, so only warnings show unless asked.
  process.env.CLAWMESH_LOG ??= 'warn'
  const dataDir = values['data-dir'] ?? join(homedir(), '.clawmesh', 'demo')
  await mkdir(dataDir, { recursive: true }).catch((error: unknown) => {
    throw new DemoError(`cannot create data dir ${dataDir}: ${errorMessage(error)}`, { cause: error })
  })
  const ollamaModels = values['no-ollama'] ? undefined : await probeOllama(values.ollama)
  const ollama = ollamaModels === undefined ? undefined : { url: values.ollama }
  const ports: { p2p: number; api: number }[] = []
  for (const _node of demoNodes) ports.push({ p2p: await freePort(), api: await freePort() })
  const manifestFile = join(dataDir, 'clawmesh-demo.yaml')
  await writeFile(
    manifestFile,
    `# Written by \`clawmesh demo\` (ports change every run). The demo backend is registered in code.\n${stringify(demoManifest(ports, ollama))}`,
  )
  const manifest = await loadManifest(manifestFile)

  // Listen for Ctrl-C from the start, so an early one still stops what has started.
  let stopRequested!: () => void
  const stopSignal = new Promise<void>((resolve) => {
    stopRequested = resolve
  })
  const onSignal = (): void => stopRequested()
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const peers: Peer[] = []
  try {
    for (const node of demoNodes) {
      const backends: LLMBackend[] =
        node.demoMinTrust === undefined ? [] : [new DemoBackend({ host: node.name })]
      peers.push(
        await createPeer({
          manifest,
          node: node.name,
          dataDir: join(dataDir, node.name),
          backends,
          colocated: true,
          discovery: { sweepIntervalMs: 500 },
        }),
      )
    }
    const started = Date.now()
    let stopped = false
    void stopSignal.then(() => {
      stopped = true
    })
    for (;;) {
      const views = await Promise.all(peers.map((peer) => peer.statusView()))
      if (formed(views)) break
      if (stopped) return
      if (Date.now() - started > DEMO_FORM_TIMEOUT_MS)
        throw new DemoError(
          `the three demo peers did not see each other alive within ${DEMO_FORM_TIMEOUT_MS} ms`,
        )
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    printInstructions(peers, manifestFile, dataDir, ollama, ollamaModels)
    printLine('ready (Ctrl-C to stop)')
    await stopSignal
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    printLine('stopping the demo peers')
    await Promise.allSettled(peers.map((peer) => peer.stop()))
  }
}

function printInstructions(
  peers: Peer[],
  manifestFile: string,
  dataDir: string,
  ollama: { url: string } | undefined,
  ollamaModels: string[] | undefined,
): void {
  const api = (name: string): string => peers.find((peer) => peer.name === name)?.apiUrl ?? ''
  printLine('clawmesh demo: three peers on this machine, shaped like examples/claworc-federation.yaml')
  printLine(`  manifest: ${manifestFile}  (data dirs under ${dataDir})`)
  printLine('')
  for (const node of demoNodes) {
    const peer = peers.find((candidate) => candidate.name === node.name)
    const backends = peer?.parts.backends.list().map((backend) => `${backend.name}(${backend.type})`) ?? []
    printLine(
      `  ${node.name.padEnd(11)} trust ${node.trust.padEnd(7)} api ${api(node.name)}  souls ${node.souls.join(', ')}  backends ${backends.join(', ') || '-'}`,
    )
  }
  printLine('')
  printLine(
    `The "${DEMO_BACKEND_NAME}" backend is a DEMO: no model runs; it streams "[demo backend on HOST] You said: ..." back.`,
  )
  printLine(
    ollama === undefined
      ? `No Ollama server answered at ${DEMO_OLLAMA_URL}; start one and re-run the demo to route to it from home's souls.`
      : `Ollama answered at ${ollama.url}: home also offers it as backend "ollama" (models: ${ollamaModels?.join(', ') || 'none pulled yet'}).`,
  )
  printLine('')
  printLine(`Dashboard (Mission Control): ${api('home')}/`)
  printLine('')
  printLine('Try (in another terminal):')
  printLine(`  clawmesh status --api ${api('home')}`)
  printLine(`  clawmesh chat --api ${api('vps-public')} --soul weather-brief --model demo/echo "hello"`)
  printLine(`  clawmesh chat --api ${api('home')} --soul inbox-triage --model demo/echo "private hello"`)
  if (ollama !== undefined && ollamaModels?.[0] !== undefined)
    printLine(
      `  clawmesh chat --api ${api('home')} --soul inbox-triage --model ${quote(`ollama/${ollamaModels[0]}`)} "hello"`,
    )
  const body = JSON.stringify({
    model: 'demo/echo',
    stream: true,
    messages: [{ role: 'user', content: 'hello' }],
  })
  printLine(
    `  curl -sN ${api('vps-public')}/v1/chat/completions -H 'content-type: application/json' -H '${SOUL_HEADER}: weather-brief' -d ${quote(body)}`,
  )
  printLine('')
}
