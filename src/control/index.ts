/**
 * The control room: the deterministic Mission Control election and the
 * tracker of the leader and its term. See docs/health.md.
 */
export {
  compareCandidates,
  type ElectionCandidate,
  type ElectionOptions,
  electLeader,
  rankCandidates,
} from './election.js'
export {
  type ControlState,
  DEFAULT_STABILIZATION_MS,
  type LeaderChange,
  type LeaderListener,
  MissionControl,
  type MissionControlOptions,
} from './mission-control.js'
