/**
 * What a newer signed manifest changes in a running peer, in one place: the
 * members (revoked peers expelled), routing, the election rules, the limits
 * and the failure timings take effect at once; what cannot is logged as
 * restart-only. A peer whose own node is gone stops: it has been revoked.
 */
import {
  controlPlaneNodeName,
  electionSettings,
  healthSettings,
  limitSettings,
  type Manifest,
  type NodeConfig,
  restartOnlyChanges,
  routingSettings,
} from '../config/index.js'
import type { MissionControl } from '../control/mission-control.js'
import type { AdvertStore } from '../discovery/advert-store.js'
import { errorMessage } from '../errors.js'
import type { MembershipView } from '../health/membership.js'
import type { Logger } from '../log.js'
import type { ClawmeshNode } from '../net/create-node.js'
import type { Gatekeeper } from '../net/gatekeeper.js'
import type { MemberDirectory } from '../net/member-directory.js'
import type { LLMClient } from '../routing/llm-client.js'
import type { LLMService } from '../routing/llm-service.js'
import type { MeshRouter } from '../routing/mesh-router.js'

/** The rooms a manifest change reaches. */
export interface ManifestFollowers {
  /** This peer's node name. */
  name: string
  node: ClawmeshNode
  adverts: AdvertStore
  members: MemberDirectory
  gatekeeper: Gatekeeper
  mesh: MeshRouter
  missionControl: MissionControl
  llmClient: LLMClient
  llmService: LLMService
  membership: MembershipView
  log: Logger
  /** Replaces this peer's node entry where the wiring keeps it. */
  setNodeConfig(node: NodeConfig): void
  /** Stops the peer (its node was revoked). */
  stop(): Promise<void>
}

/** Applies `next` (which replaced `previous`) to every room. */
export function followManifest(rooms: ManifestFollowers, next: Manifest, previous: Manifest): void {
  const {
    name,
    node,
    adverts,
    members,
    gatekeeper,
    mesh,
    missionControl,
    llmClient,
    llmService,
    membership,
    log,
  } = rooms
  const own = next.federation.nodes.find((candidate) => candidate.name === name)
  const known = new Set([
    ...adverts.all().map((advert) => advert.peerId),
    ...node.getConnections().map((connection) => connection.remotePeer.toString()),
  ])
  known.delete(node.peerId.toString())
  const revoked = members.update(next, [...known])
  if (own === undefined) {
    log.error('this node is not in the adopted manifest: it has been revoked; stopping', {
      version: next.version,
    })
    void rooms.stop()
    return
  }
  rooms.setNodeConfig(own)
  mesh.setManifest(next, own)
  for (const peerId of revoked) {
    adverts.forget(peerId)
    gatekeeper.expel(peerId, `revoked by manifest version ${next.version ?? '?'}`)
  }
  missionControl.setRules({
    preferred: controlPlaneNodeName(next),
    allowLowTrustLeader: electionSettings(next).allowLowTrustLeader,
  })
  const nextLimits = limitSettings(next)
  llmClient.setLimits(nextLimits)
  void llmService
    .setLimits({ ...nextLimits, mergeDeltas: routingSettings(next).mergeDeltas })
    .catch((error: unknown) => log.error('cannot apply new LLM limits', { error: errorMessage(error) }))
  const nextHealth = healthSettings(next)
  try {
    membership.setTimings(nextHealth)
  } catch (error) {
    log.error('new health timings refused; keeping the old ones', { error: errorMessage(error) })
  }
  const restartOnly = restartOnlyChanges(previous, next, name)
  if (restartOnly.length > 0) {
    log.warn('the adopted manifest changes settings that take effect only after a restart', {
      version: next.version,
      settings: restartOnly,
    })
  }
}
