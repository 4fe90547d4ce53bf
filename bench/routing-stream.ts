/**
 * Routing stream benchmark: request round trip over `/clawmesh/llm/1.0.0`
 * with a new stream per request versus a pooled (keep-alive) stream, side by
 * side in one run, caller and owner in two processes on loopback; then the
 * time for a caller to notice an owner killed (SIGKILL) mid-stream.
 *
 *   npx tsx bench/routing-stream.ts [--requests 2000] [--kills 3]
 */
import { type ChildProcess, fork } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { ChatPart } from '../src/llm/types.js'
import { createNode } from '../src/net/create-node.js'
import { type ChatCall, LLMClient, LLMService, RoutingError } from '../src/routing/index.js'
import { ScriptedBackend, textParts } from '../src/routing/testing/scripted-backend.js'

process.env.CLAWMESH_LOG ??= 'silent'

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`)
  return index >= 0 ? Number(process.argv[index + 1]) : fallback
}

/** ~200 bytes of reply text in 10 deltas, plus usage and end: one batched `parts` frame. */
const replyParts: ChatPart[] = textParts(
  Array.from({ length: 10 }, (_, index) => `token-${index}-abcdefghijk `),
)

async function runOwner(): Promise<void> {
  const node = await createNode({ privateKey: await generateKeyPair('Ed25519') })
  const fast = new ScriptedBackend({ name: 'fast', parts: replyParts })
  const slow = new ScriptedBackend({
    name: 'slow',
    parts: textParts(Array.from({ length: 10_000 }, (_, index) => `t${index} `)),
    delayMs: 10,
  })
  const backends = new Map([
    ['fast', fast],
    ['slow', slow],
  ])
  const service = new LLMService({ node, resolveBackend: (name) => backends.get(name), authorize: () => {} })
  await service.start()
  process.send?.({ addr: node.getMultiaddrs()[0]!.toString() })
  process.on('disconnect', () => {
    void service
      .stop()
      .then(() => node.stop())
      .then(() => process.exit(0))
  })
}

function startOwner(): Promise<{ child: ChildProcess; addr: string }> {
  const child = fork(fileURLToPath(import.meta.url), ['owner'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve({ child, addr: (message as { addr: string }).addr }))
    child.once('exit', (code) => reject(new Error(`owner exited with ${code}`)))
  })
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b)
  const mean = samples.reduce((sum, value) => sum + value, 0) / samples.length
  return `p50 ${percentile(sorted, 50).toFixed(3)} ms  p99 ${percentile(sorted, 99).toFixed(3)} ms  mean ${mean.toFixed(3)} ms  (n=${samples.length})`
}

const call: ChatCall = {
  soul: 'bench',
  sensitivity: 'low',
  backend: 'fast',
  request: { model: 'scripted-1', messages: [{ role: 'user', content: 'Say something short.' }] },
}

async function runCaller(): Promise<void> {
  const requests = option('requests', 2000)
  const kills = option('kills', 3)
  const write = (line: string): void => void process.stdout.write(`${line}\n`)
  write(
    `node ${process.version}, ${requests} sequential requests per mode, ~200 B reply, owner in a child process`,
  )

  const owner = await startOwner()
  const node = await createNode({ privateKey: await generateKeyPair('Ed25519') })
  const address = multiaddr(owner.addr)
  await node.dial(address)
  const peer = peerIdFromString(address.getComponents().find((component) => component.name === 'p2p')!.value!)
  const clients = {
    'new stream per request': new LLMClient({ node, pool: false }),
    'pooled stream': new LLMClient({ node }),
  }
  const samples: Record<string, number[]> = { 'new stream per request': [], 'pooled stream': [] }
  const firstPart: Record<string, number[]> = { 'new stream per request': [], 'pooled stream': [] }

  const once = async (client: LLMClient): Promise<[number, number]> => {
    const started = performance.now()
    let first = 0
    let bytes = 0
    for await (const part of client.chat(peer, call)) {
      if (first === 0) first = performance.now() - started
      if (part.type === 'text-delta') bytes += part.text.length
    }
    if (bytes < 150) throw new Error(`short reply: ${bytes} bytes`)
    return [performance.now() - started, first]
  }

  for (const client of Object.values(clients)) for (let index = 0; index < 200; index++) await once(client)
  // Alternate blocks so both modes see the same machine state.
  const block = 250
  for (let done = 0; done < requests; done += block) {
    for (const [mode, client] of Object.entries(clients)) {
      for (let index = 0; index < Math.min(block, requests - done); index++) {
        const [total, first] = await once(client)
        samples[mode]!.push(total)
        firstPart[mode]!.push(first)
      }
    }
  }
  write('\nround trip (request sent → end part received):')
  for (const mode of Object.keys(clients)) write(`  ${mode.padEnd(24)} ${summary(samples[mode]!)}`)
  write('time to first part:')
  for (const mode of Object.keys(clients)) write(`  ${mode.padEnd(24)} ${summary(firstPart[mode]!)}`)
  for (const client of Object.values(clients)) client.close()
  owner.child.disconnect()

  write(`\nowner killed with SIGKILL mid-stream (${kills} runs): time from kill to the caller's error`)
  for (let run = 0; run < kills; run++) {
    const victim = await startOwner()
    const victimAddress = multiaddr(victim.addr)
    await node.dial(victimAddress)
    const victimPeer = peerIdFromString(victimAddress.getComponents().find((c) => c.name === 'p2p')!.value!)
    const client = new LLMClient({ node })
    let killedAt = 0
    let seen = 0
    try {
      for await (const _part of client.chat(victimPeer, { ...call, backend: 'slow' })) {
        if (++seen === 5) {
          killedAt = performance.now()
          victim.child.kill('SIGKILL')
        }
      }
      write('  stream ended without an error (unexpected)')
    } catch (error) {
      const code = error instanceof RoutingError ? error.code : String(error)
      write(
        `  run ${run + 1}: ${(performance.now() - killedAt).toFixed(1)} ms, ${code}, afterFirstToken=${(error as RoutingError).afterFirstToken}`,
      )
    }
    client.close()
  }
  await node.stop()
}

if (process.argv[2] === 'owner') await runOwner()
else await runCaller()
