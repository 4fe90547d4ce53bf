/**
 * Experiment behind BENCHMARKS.md "Health and election": raw gossipsub cost of
 * one 192-byte message per peer per second, N nodes in one process, default vs
 * lean gossipsub options. Run: `npx tsx bench/health-gossip-experiment.ts N default|lean [idle]`.
 */
import net from 'node:net'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'

let bytes = 0
const originalWrite = net.Socket.prototype.write
net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
  if (chunk instanceof Uint8Array) bytes += chunk.byteLength
  return (originalWrite as (...args: unknown[]) => boolean).call(this, chunk, ...rest)
} as typeof originalWrite
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const N = Number(process.argv[2] ?? 10)
const variant = process.argv[3] ?? 'default'
const publish = process.argv[4] !== 'idle'
const gossipOptions: Record<string, object> = {
  default: {},
  lean: { D: 3, Dlo: 2, Dhi: 5, Dlazy: 2, floodPublish: false, historyGossip: 1 },
}
const nodes: Array<Libp2p<{ pubsub: GossipSub }>> = []
for (let i = 0; i < N; i++) {
  const node = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({ protocol: '/clawmesh/kad/1.0.0', clientMode: false, peerInfoMapper: passthroughMapper }),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        scoreParams: { IPColocationFactorWeight: 0 },
        ...gossipOptions[variant],
      }),
    },
  })
  node.services.pubsub.subscribe('/t')
  const earlier = nodes.slice(Math.max(0, nodes.length - 6))
  await Promise.all(earlier.map((other) => node.dial(other.getMultiaddrs()[0]!).catch(() => {})))
  nodes.push(node)
}
const payload = new Uint8Array(192).fill(65)
const timer = setInterval(() => {
  if (publish) for (const node of nodes) node.services.pubsub.publish('/t', payload).catch(() => {})
}, 1000)
await sleep(5000)
const b0 = bytes
await sleep(10000)
process.stdout.write(
  `N=${N} ${variant} ${publish ? 'publishing' : 'idle'}: ${((((bytes - b0) / N / 10) * 8) / 1000).toFixed(0)} kbit/s sent per peer\n`,
)
clearInterval(timer)
process.exit(0)
