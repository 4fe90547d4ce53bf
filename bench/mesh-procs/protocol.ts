/**
 * Messages between the mesh-procs parent (run.ts) and its workers (one
 * libp2p peer per OS process), over Node's IPC channel.
 */
import type { TrustLevel } from '../../src/config/schema.js'

/** How a worker is configured (JSON in the CLAWMESH_WORKER env var). */
export interface WorkerConfig {
  index: number
  /** Base64 protobuf of the Ed25519 private key. */
  privateKey: string
  members: Array<{ peerId: string; name: string; trust: TrustLevel }>
  /** Gossipsub: `lean` = clawmesh defaults, `library` = gossipsub's own defaults. */
  gossip: 'lean' | 'library'
  /** Adaptive heartbeat period on (default) or off (every peer every interval). */
  adaptive: boolean
  /** Publish heartbeats at all (off: idle upkeep only). */
  beats: boolean
}

/** Parent → worker. */
export type ParentMessage =
  | { type: 'dial'; addresses: string[] }
  | { type: 'flip'; ok: boolean }
  | { type: 'sample' }

/** Worker → parent. All `at` values are `performance.timeOrigin + performance.now()` (ms). */
export type WorkerMessage =
  | { type: 'ready'; peerId: string; address: string }
  | { type: 'control'; leader: string | undefined; term: number; at: number }
  | { type: 'alive'; count: number; at: number }
  | { type: 'backend'; peerId: string; ok: boolean; at: number }
  | { type: 'flipped'; at: number }
  | { type: 'dialled'; connected: number; failed: number }
  | {
      type: 'sample'
      bytesWritten: number
      cpuMicros: number
      beatsSent: number
      payloadBytes: number
      periodMs: number
      connections: number
      rss: number
    }

/** Wall-clock-aligned high-resolution time, comparable across processes on one host. */
export function clock(): number {
  return performance.timeOrigin + performance.now()
}
