/**
 * Where a peer's `GET /status` answer comes from. The Mission Control answers
 * with its own aggregated view; any other peer fetches that view over
 * `/clawmesh/status/1.0.0` (following one `NOT_MISSION_CONTROL` redirect to
 * the leader the asked peer names), and answers it with `self` set to itself.
 * When no Mission Control answers within the deadline, the peer answers with
 * its own view marked `source: 'self'` (DESIGN.md, "Details that clients rely on").
 */

import { errorMessage } from '../errors.js'
import type { Logger } from '../log.js'
import { type LeaderRef, StatusProtocolError } from './status-protocol.js'
import type { StatusView } from './status-view.js'

/** Default deadline for reaching the Mission Control before falling back (ms). */
export const DEFAULT_STATUS_RESOLVE_TIMEOUT_MS = 1_000

/** What `resolveStatusView` needs from the peer. */
export interface StatusViewContext {
  /** The answering peer. */
  self: { peerId: string; name: string }
  /** True when the answering peer is the Mission Control. */
  isMissionControl: () => boolean
  /** The Mission Control the answering peer knows. */
  missionControl: () => LeaderRef | undefined
  /** The answering peer's own view, marked with `source`. */
  ownView: (source: StatusView['source']) => StatusView
  /** Fetches the view from a peer over the status protocol (rejects with `StatusProtocolError`). */
  fetchView: (peerId: string, options: { timeoutMs: number }) => Promise<StatusView>
  /** Deadline for the whole remote attempt (ms). Default: 1000. */
  timeoutMs?: number
  log?: Logger
}

/** The view `GET /status` answers with: the Mission Control's if it can be had in time, else this peer's own. */
export async function resolveStatusView(context: StatusViewContext): Promise<StatusView> {
  if (context.isMissionControl()) return context.ownView('mission-control')
  const deadline = performance.now() + (context.timeoutMs ?? DEFAULT_STATUS_RESOLVE_TIMEOUT_MS)
  let target = context.missionControl()
  // One redirect at most: a peer that is not the leader names the one it knows.
  for (let attempt = 0; attempt < 2 && target !== undefined; attempt++) {
    if (target.peerId === context.self.peerId) break
    const timeoutMs = Math.round(deadline - performance.now())
    if (timeoutMs <= 0) break
    try {
      const view = await context.fetchView(target.peerId, { timeoutMs })
      return { ...view, self: context.self, source: 'mission-control' }
    } catch (error) {
      context.log?.debug('mission control view unavailable', {
        leader: target.name,
        error: errorMessage(error),
        code: error instanceof StatusProtocolError ? error.code : undefined,
      })
      const named = error instanceof StatusProtocolError ? error.leader : undefined
      target = named !== undefined && named.peerId !== target.peerId ? named : undefined
    }
  }
  return context.ownView('self')
}
