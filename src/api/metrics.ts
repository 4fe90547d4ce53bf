/**
 * `GET /metrics`: Prometheus text exposition from prom-client, on a registry
 * of our own (never the process-global one, so two peers in one process do
 * not mix). Every value is read from the peer at scrape time by the metrics'
 * `collect` callbacks; nothing is counted twice or kept between scrapes.
 */
import type { ServerResponse } from 'node:http'
import { Counter, Gauge, Registry } from 'prom-client'
import { type DropReason, dropReasons, type HeartbeatStats, type MemberSnapshot } from '../health/index.js'

/** What the metrics read from the peer at scrape time. */
export interface MetricsSource {
  /** The membership view (self included). */
  members: () => MemberSnapshot[]
  /** The current Mission Control term (0 before the first election). */
  term: () => number
  /** Is this peer the Mission Control? */
  isMissionControl: () => boolean
  /** Heartbeat counters of this peer. */
  heartbeats: () => HeartbeatStats
  /** LLM requests this peer is serving for others right now. */
  inFlight: () => number
}

/** A peer's metrics registry. */
export interface PeerMetrics {
  readonly registry: Registry
  /** The Content-Type of `render()`'s text. */
  readonly contentType: string
  /** The exposition text, computed now. */
  render(): Promise<string>
}

const states = ['alive', 'suspect', 'dead'] as const

/** Builds the registry and its collectors over `source`. */
export function createPeerMetrics(source: MetricsSource): PeerMetrics {
  const registry = new Registry()
  const registers = [registry]
  new Gauge({
    name: 'clawmesh_peers',
    help: 'Members of the federation this peer knows, by failure-detector state (self included).',
    labelNames: ['state'],
    registers,
    collect() {
      const counts = Object.fromEntries(states.map((state) => [state, 0])) as Record<string, number>
      for (const member of source.members()) counts[member.state] = (counts[member.state] ?? 0) + 1
      for (const state of states) this.set({ state }, counts[state] ?? 0)
    },
  })
  new Gauge({
    name: 'clawmesh_mission_control_term',
    help: 'The Mission Control term this peer holds.',
    registers,
    collect() {
      this.set(source.term())
    },
  })
  new Gauge({
    name: 'clawmesh_is_mission_control',
    help: '1 if this peer is the Mission Control, else 0.',
    registers,
    collect() {
      this.set(source.isMissionControl() ? 1 : 0)
    },
  })
  new Counter({
    name: 'clawmesh_heartbeats_sent_total',
    help: 'Heartbeats this peer published.',
    registers,
    collect() {
      this.reset()
      this.inc(source.heartbeats().sent)
    },
  })
  new Counter({
    name: 'clawmesh_heartbeats_received_total',
    help: 'Heartbeats from other members that this peer accepted.',
    registers,
    collect() {
      this.reset()
      this.inc(source.heartbeats().accepted)
    },
  })
  new Counter({
    name: 'clawmesh_heartbeats_dropped_total',
    help: 'Heartbeats this peer dropped, by reason (unsigned, oversized, malformed, forged, replayed, not-member).',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset()
      const dropped: Record<DropReason, number> = source.heartbeats().dropped
      for (const reason of dropReasons) this.inc({ reason }, dropped[reason])
    },
  })
  new Gauge({
    name: 'clawmesh_requests_in_flight',
    help: 'LLM requests this peer is serving for others right now.',
    registers,
    collect() {
      this.set(source.inFlight())
    },
  })
  // Backend series come from heartbeats; a dead peer's last report is stale, so its series are left out.
  new Gauge({
    name: 'clawmesh_backend_healthy',
    help: "1 if the backend's last health probe succeeded, else 0 (peers not dead).",
    labelNames: ['peer', 'backend'],
    registers,
    collect() {
      this.reset()
      for (const { peer, backend } of liveBackends(source.members()))
        this.set({ peer, backend: backend.name }, backend.ok ? 1 : 0)
    },
  })
  new Gauge({
    name: 'clawmesh_backend_latency_ms',
    help: "Latency of the backend's last health probe in milliseconds (peers not dead).",
    labelNames: ['peer', 'backend'],
    registers,
    collect() {
      this.reset()
      for (const { peer, backend } of liveBackends(source.members()))
        this.set({ peer, backend: backend.name }, backend.latencyMs)
    },
  })
  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
  }
}

/** Writes the exposition text with the registry's Content-Type. */
export async function sendMetrics(response: ServerResponse, metrics: PeerMetrics): Promise<void> {
  const text = await metrics.render()
  response.writeHead(200, {
    'content-type': metrics.contentType,
    'content-length': Buffer.byteLength(text),
  })
  response.end(text)
}

function liveBackends(
  members: MemberSnapshot[],
): Array<{ peer: string; backend: MemberSnapshot['backends'][number] }> {
  return members
    .filter((member) => member.state !== 'dead')
    .flatMap((member) => member.backends.map((backend) => ({ peer: member.name, backend })))
}
