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
import { ClawmeshError } from '../errors.js'
import { DHT_PROTOCOL } from './constants.js'
import { installPnetCipherFix } from './pnet-cipher-fix.js'
import { installStackPatches } from './stack-patches.js'

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
  /** Gossipsub tuning; unset fields take `DEFAULT_GOSSIP_OPTIONS` (see docs/health.md). */
  gossip?: GossipOptions
}

/**
 * Gossipsub settings clawmesh exposes. Mesh degrees and gossip fan-out follow
 * the gossipsub spec's names (D, Dlo, Dhi, Dlazy, Dout, Dscore).
 */
export interface GossipOptions {
  /** Target mesh degree. */
  D?: number
  /** Fewest mesh peers before grafting more. */
  Dlo?: number
  /** Most mesh peers before pruning. */
  Dhi?: number
  /** Mesh peers kept by score when pruning. */
  Dscore?: number
  /** Outbound mesh peers kept (must be < Dlo and <= D / 2). */
  Dout?: number
  /** Least peers sent IHAVE gossip per gossipsub heartbeat. */
  Dlazy?: number
  /** Share of non-mesh peers sent IHAVE gossip (at least Dlazy). */
  gossipFactor?: number
  /** Gossipsub heartbeats of message IDs advertised in IHAVE. */
  historyGossip?: number
  /** Gossipsub heartbeats a message stays in the cache (IWANT answers). */
  historyLength?: number
  /** Send one's own messages to every subscribed peer instead of the mesh only. */
  floodPublish?: boolean
  /** Smallest message for which IDONTWANT is sent to mesh peers (bytes). */
  idontwantMinDataSize?: number
  /** Largest inbound RPC (bytes); a longer length prefix closes the stream before decoding. */
  maxInboundDataLength?: number
  /** Per-RPC counts refused while decoding. */
  decodeRpcLimits?: {
    maxSubscriptions: number
    maxMessages: number
    maxIhaveMessageIDs: number
    maxIwantMessageIDs: number
    maxIdontwantMessageIDs: number
    maxControlMessages: number
    maxPeerInfos: number
  }
}

/**
 * Gossipsub defaults for a small federation (tens of peers, one small topic),
 * chosen by measurement (BENCHMARKS.md "Health and election"): a lean mesh
 * (D 4 instead of 6), own messages to the mesh only (no flood publish, which
 * costs one copy per subscribed peer), IHAVE gossip to 2 peers about one
 * gossipsub heartbeat of IDs (instead of a quarter of all non-mesh peers about
 * three), and inbound RPCs capped at 64 KiB.
 */
export const DEFAULT_GOSSIP_OPTIONS: Readonly<Required<GossipOptions>> = {
  D: 4,
  Dlo: 3,
  Dhi: 6,
  Dscore: 2,
  Dout: 1,
  Dlazy: 2,
  gossipFactor: 0,
  historyGossip: 1,
  historyLength: 5,
  floodPublish: false,
  // Heartbeats are ~150-350 bytes: an IDONTWANT (a ~46-byte ID to every mesh peer) would cost about what it saves.
  idontwantMinDataSize: 512,
  maxInboundDataLength: 64 * 1024,
  decodeRpcLimits: {
    maxSubscriptions: 256,
    maxMessages: 256,
    maxIhaveMessageIDs: 1000,
    maxIwantMessageIDs: 1000,
    maxIdontwantMessageIDs: 512,
    maxControlMessages: 256,
    maxPeerInfos: 16,
  },
}

/** Gossipsub's own defaults (v17), for comparison runs: D 6, flood publish, IHAVE about 3 heartbeats to >= 6 peers. */
export const GOSSIPSUB_LIBRARY_DEFAULTS: Readonly<Required<GossipOptions>> = {
  D: 6,
  Dlo: 4,
  Dhi: 12,
  Dscore: 4,
  Dout: 2,
  Dlazy: 6,
  gossipFactor: 0.25,
  historyGossip: 3,
  historyLength: 5,
  floodPublish: true,
  idontwantMinDataSize: 512,
  maxInboundDataLength: 4 * 1024 * 1024,
  decodeRpcLimits: {
    maxSubscriptions: 5000,
    maxMessages: 5000,
    maxIhaveMessageIDs: 5000,
    maxIwantMessageIDs: 5000,
    maxIdontwantMessageIDs: 512,
    maxControlMessages: 5000,
    maxPeerInfos: 16,
  },
}

/** The gossipsub init fields for `options` over `DEFAULT_GOSSIP_OPTIONS`. */
export function gossipsubInit(options: GossipOptions = {}) {
  const merged = { ...DEFAULT_GOSSIP_OPTIONS, ...stripUndefined(options) }
  return {
    D: merged.D,
    Dlo: merged.Dlo,
    Dhi: merged.Dhi,
    Dscore: merged.Dscore,
    Dout: merged.Dout,
    Dlazy: merged.Dlazy,
    gossipFactor: merged.gossipFactor,
    mcacheGossip: merged.historyGossip,
    mcacheLength: merged.historyLength,
    floodPublish: merged.floodPublish,
    idontwantMinDataSize: merged.idontwantMinDataSize,
    maxInboundDataLength: merged.maxInboundDataLength,
    decodeRpcLimits: { ...merged.decodeRpcLimits },
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>
}

/** DHT validator that refuses every `/pk/` record. */
function refusePublicKeyRecord(): never {
  throw new DhtRecordRefusedError('/pk/ records are not accepted on the clawmesh DHT')
}

/** A DHT record of a namespace clawmesh does not keep. */
export class DhtRecordRefusedError extends ClawmeshError {
  static override name = 'DhtRecordRefusedError'
  constructor(message: string) {
    super('DHT_RECORD_REFUSED', message)
  }
}

/** Creates (and by default starts) a clawmesh libp2p node. */
export async function createNode(options: CreateNodeOptions): Promise<ClawmeshNode> {
  // The pnet cipher crashes on large writes and leaks two WASM slots per connection (src/net/pnet-cipher-fix.ts).
  if (options.psk !== undefined) installPnetCipherFix()
  // Less work per frame in @libp2p/tcp, yamux and Noise's reader (src/net/stack-patches.ts).
  installStackPatches()
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
        // clawmesh keeps only its own `/clawmesh/` records; the built-in `/pk/` namespace (public
        // keys, needless with Ed25519 peer IDs) would let any connected peer fill our datastore.
        validators: { pk: refusePublicKeyRecord, ...options.validators },
        selectors: options.selectors ?? {},
      }),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        ...gossipsubInit(options.gossip),
        ...(options.ipColocationFactorWeight === undefined
          ? {}
          : { scoreParams: { IPColocationFactorWeight: options.ipColocationFactorWeight } }),
      }),
    },
  })
}
