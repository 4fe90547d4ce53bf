/**
 * Builds the one libp2p node a peer runs: TCP, Noise (always), Yamux,
 * identify, ping, a private kad-dht and gossipsub.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { type Identify, identify } from '@libp2p/identify'
import type { ConnectionGater, Libp2p, PrivateKey } from '@libp2p/interface'
import { type KadDHT, kadDHT, passthroughMapper, type Selectors, type Validators } from '@libp2p/kad-dht'
import { type Ping, ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { DHT_PROTOCOL } from './constants.js'

/** The services every clawmesh node carries. */
export type ClawmeshServices = {
  identify: Identify
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
}

/** A libp2p node with the clawmesh services. */
export type ClawmeshNode = Libp2p<ClawmeshServices>

/** Options of `createNode`; everything but the key is optional. */
export interface CreateNodeOptions {
  privateKey: PrivateKey
  /** Listen multiaddrs. Default: `/ip4/127.0.0.1/tcp/0`. */
  listen?: string[]
  /** Full multiaddrs (with `/p2p/`) handed to bootstrap discovery. */
  bootstrap?: string[]
  /** DHT record validators by namespace (the first key segment). */
  validators?: Validators
  /** DHT record selectors by namespace. */
  selectors?: Selectors
  /**
   * Gossipsub peer-score IP colocation weight. Default: gossipsub's (-53 past
   * one peer per IP). Loopback tests and single-host demos put many peers on
   * 127.0.0.1 and must set it to 0, or every peer's score goes negative.
   */
  ipColocationFactorWeight?: number
  /**
   * Inbound connections accepted per second from one IP. Default: libp2p's 5,
   * which throttles a single-host federation; colocated peers raise it.
   */
  inboundConnectionThreshold?: number
  /** Private network key (the PSK file contents, see `@libp2p/pnet`). */
  psk?: Uint8Array
  /** Decides which connections to accept. */
  connectionGater?: ConnectionGater
  /** Start the node at once. Default: true. */
  start?: boolean
}

/** Creates (and by default starts) a clawmesh libp2p node. */
export async function createNode(options: CreateNodeOptions): Promise<ClawmeshNode> {
  const peerDiscovery = options.bootstrap?.length ? [bootstrap({ list: options.bootstrap, timeout: 0 })] : []
  return createLibp2p({
    privateKey: options.privateKey,
    start: options.start ?? true,
    addresses: { listen: options.listen ?? ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(options.psk ? { connectionProtector: preSharedKey({ psk: options.psk }) } : {}),
    // Private and loopback addresses are the normal case for a home federation.
    connectionGater: {
      denyDialMultiaddr: () => false,
      ...options.connectionGater,
    },
    peerDiscovery,
    connectionManager: {
      // A whole federation may join one bootstrap peer at once.
      maxIncomingPendingConnections: 64,
      ...(options.inboundConnectionThreshold === undefined
        ? {}
        : { inboundConnectionThreshold: options.inboundConnectionThreshold }),
    },
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        validators: options.validators ?? {},
        selectors: options.selectors ?? {},
      }),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        ...(options.ipColocationFactorWeight === undefined
          ? {}
          : { scoreParams: { IPColocationFactorWeight: options.ipColocationFactorWeight } }),
      }),
    },
  })
}
