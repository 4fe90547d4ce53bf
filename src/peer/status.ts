/** A peer's status views, built from its rooms: its own, and the one `GET /status` answers. */
import { peerIdFromString } from '@libp2p/peer-id'
import type { ManifestInForce } from '../config/index.js'
import type { MissionControl } from '../control/mission-control.js'
import { fetchViewFrom } from '../control/status-protocol.js'
import { buildStatusView, type StatusView } from '../control/status-view.js'
import { resolveStatusView } from '../control/status-view-source.js'
import type { AdvertStore } from '../discovery/advert-store.js'
import { memberLiveness } from '../health/member-facts.js'
import type { MembershipView } from '../health/membership.js'
import type { Logger } from '../log.js'
import type { ClawmeshNode } from '../net/create-node.js'

/** The rooms a status view reads. */
export interface StatusRooms {
  self: { peerId: string; name: string }
  node: ClawmeshNode
  manifests: ManifestInForce
  adverts: AdvertStore
  membership: MembershipView
  missionControl: MissionControl
  /** Requests this peer serves for others right now. */
  inFlight(): number
  log: Logger
}

/** A peer's two views. */
export interface PeerStatus {
  /** This peer's own view (adverts plus its membership view), marked `source`. */
  own(source?: StatusView['source']): StatusView
  /** The Mission Control's view (fetched within ~1 s), else this peer's own. */
  resolved(): Promise<StatusView>
}

/** Builds the two views over `rooms`. */
export function peerStatus(rooms: StatusRooms): PeerStatus {
  const { self, node, manifests, adverts, membership, missionControl } = rooms
  const liveness = memberLiveness(membership, rooms.inFlight)
  const log = rooms.log.child('status')
  const own = (source: StatusView['source'] = 'self'): StatusView =>
    buildStatusView({
      manifest: manifests.manifest,
      self,
      adverts: adverts.all(),
      liveness,
      missionControl: missionControl.missionControl() ?? null,
      source,
    })
  return {
    own,
    resolved: () =>
      resolveStatusView({
        self,
        isMissionControl: () => missionControl.isLeader(),
        missionControl: () => missionControl.missionControl(),
        ownView: own,
        fetchView: (peerId, options) => fetchViewFrom(node, peerIdFromString(peerId), options),
        log,
      }),
  }
}
