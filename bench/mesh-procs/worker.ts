/**
 * One mesh-procs peer: a real libp2p node (createNode) with the health room
 * (BackendProber over a scriptable fake backend, MembershipView,
 * MissionControl, HeartbeatService), driven by the parent over IPC.
 * Counts every byte written to a TCP socket in this process.
 */
import net from 'node:net'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { MissionControl } from '../../src/control/mission-control.js'
import { FakeBackend } from '../../src/control/testing/mesh.js'
import { BackendProber, HeartbeatService, type MemberInfo, MembershipView } from '../../src/health/index.js'
import { createNode, GOSSIPSUB_LIBRARY_DEFAULTS } from '../../src/net/create-node.js'
import { clock, type ParentMessage, type WorkerConfig, type WorkerMessage } from './protocol.js'

let bytesWritten = 0
const originalWrite = net.Socket.prototype.write
net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
  if (chunk instanceof Uint8Array) bytesWritten += chunk.byteLength
  else if (typeof chunk === 'string') bytesWritten += Buffer.byteLength(chunk)
  return (originalWrite as (...args: unknown[]) => boolean).call(this, chunk, ...rest)
} as typeof net.Socket.prototype.write

const send = (message: WorkerMessage): void => {
  process.send?.(message)
}

const config = JSON.parse(process.env.CLAWMESH_WORKER ?? '{}') as WorkerConfig
const privateKey = privateKeyFromProtobuf(Buffer.from(config.privateKey, 'base64'))
const members = new Map<string, MemberInfo>(
  config.members.map((member) => [member.peerId, { name: member.name, trust: member.trust }]),
)
const node = await createNode({
  privateKey,
  ipColocationFactorWeight: 0,
  inboundConnectionThreshold: 1_000,
  ...(config.gossip === 'library' ? { gossip: GOSSIPSUB_LIBRARY_DEFAULTS } : {}),
})
const peerId = node.peerId.toString()
const backend = new FakeBackend(`backend-${config.index}`)
const prober = new BackendProber({ backends: [backend], intervalMs: 5000 })
const membership = new MembershipView({
  self: { peerId, ...members.get(peerId)! },
  isMember: (id) => members.get(id),
})
const mission = new MissionControl({ membership })
const heartbeats = new HeartbeatService({
  node,
  name: members.get(peerId)!.name,
  membership,
  prober,
  control: () => mission.current(),
  ...(config.adaptive ? {} : { periodPerPeerMs: 0 }),
})
mission.subscribe((change) => {
  heartbeats.beatNow()
  send({ type: 'control', leader: change.leader, term: change.term, at: clock() })
})
let lastTerm = -1
let lastAlive = 0
const backendOk = new Map<string, boolean>()
membership.subscribe((event) => {
  const now = clock()
  const control = mission.current()
  // A term adopted without a change of leader is reported too.
  if (control.term !== lastTerm) {
    lastTerm = control.term
    send({ type: 'control', leader: control.leader, term: control.term, at: now })
  }
  const alive = membership.aliveCount()
  if (alive !== lastAlive) {
    lastAlive = alive
    send({ type: 'alive', count: alive, at: now })
  }
  if (event.type === 'heartbeat') {
    const ok = membership.get(event.peerId)?.backends[0]?.ok
    if (ok !== undefined && backendOk.get(event.peerId) !== ok) {
      backendOk.set(event.peerId, ok)
      send({ type: 'backend', peerId: event.peerId, ok, at: now })
    }
  }
})
process.on('message', (message: ParentMessage) => {
  if (message.type === 'dial') {
    void dialAll(message.addresses)
  } else if (message.type === 'flip') {
    backend.ok = message.ok
    void prober.probe(backend).then(() => send({ type: 'flipped', at: clock() }))
  } else if (message.type === 'sample') {
    const cpu = process.cpuUsage()
    const stats = heartbeats.stats()
    send({
      type: 'sample',
      bytesWritten,
      cpuMicros: cpu.user + cpu.system,
      beatsSent: stats.sent,
      payloadBytes: stats.bytesSent,
      periodMs: stats.periodMs,
      connections: node.getConnections().length,
      rss: process.memoryUsage().rss,
    })
  }
})
process.on('disconnect', () => process.exit(0))

// Dials with retries: a loaded 2-core host can time a Noise handshake out.
async function dialAll(addresses: string[]): Promise<void> {
  const results = await Promise.all(
    addresses.map(async (address) => {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          await node.dial(multiaddr(address), { signal: AbortSignal.timeout(15_000) })
          return true
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 500 * (attempt + 1)))
        }
      }
      return false
    }),
  )
  const connected = results.filter(Boolean).length
  send({ type: 'dialled', connected, failed: results.length - connected })
}

mission.start()
if (config.beats) heartbeats.start()
send({ type: 'ready', peerId, address: node.getMultiaddrs()[0]!.toString() })
