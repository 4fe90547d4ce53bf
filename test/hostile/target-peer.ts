/**
 * The peer under fuzz, run in its own process (`node --expose-gc --import tsx`)
 * so its heap is measured alone and a crash cannot hide in the test runner.
 * Config comes as JSON in CLAWMESH_FUZZ_TARGET; it talks to the test over IPC:
 * `ready` once started, `heap` on request (after full GCs), `stop` to exit.
 * Every unhandled rejection and uncaught exception is counted and reported.
 */
import { Manifest } from '../../src/config/schema.js'
import { createLogger } from '../../src/log.js'
import { createPeer } from '../../src/peer.js'

/** What the test hands the target. */
export interface TargetConfig {
  manifest: unknown
  node: string
  dataDir: string
  api: string
  strangerGraceMs: number
}

/** Messages the target sends to the test. */
export type TargetReport =
  | { type: 'ready'; peerId: string; addrs: string[]; apiUrl: string }
  | { type: 'heap'; heapUsed: number; rss: number; faults: string[]; stats: Record<string, unknown> }

const faults: string[] = []
process.on('unhandledRejection', (reason) => {
  faults.push(
    `unhandledRejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`,
  )
})
process.on('uncaughtException', (error) => {
  faults.push(`uncaughtException: ${error.stack ?? error.message}`)
})

const config = JSON.parse(process.env.CLAWMESH_FUZZ_TARGET ?? '{}') as TargetConfig
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run the target with --expose-gc')

const peer = await createPeer({
  manifest: Manifest.parse(config.manifest),
  node: config.node,
  dataDir: config.dataDir,
  api: config.api,
  colocated: true,
  strangerGraceMs: config.strangerGraceMs,
  discovery: { sweepIntervalMs: 500 },
  log: createLogger('fuzz-target'),
})

function send(report: TargetReport): void {
  process.send?.(report)
}

process.on('message', async (message: { type: string }) => {
  if (message.type === 'heap') {
    for (let round = 0; round < 4; round++) {
      gc()
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const memory = process.memoryUsage()
    send({
      type: 'heap',
      heapUsed: memory.heapUsed,
      rss: memory.rss,
      faults,
      stats: {
        llmInFlight: peer.inFlight(),
        // Open LLM streams must drain back to 0.
        llmOpenStreams: peer.parts.llmService.openStreams(),
        connections: peer.parts.node.getConnections().length,
        advertsRejected: Object.fromEntries(peer.parts.adverts.rejected),
        adverts: peer.parts.adverts.all().length,
        heartbeats: peer.parts.heartbeats.stats(),
        expelled: peer.parts.gatekeeper.expelled,
      },
    })
  } else if (message.type === 'stop') {
    await peer.stop().catch(() => undefined)
    process.exit(0)
  }
})

send({ type: 'ready', peerId: peer.peerId, addrs: peer.multiaddrs(), apiUrl: peer.apiUrl ?? '' })
