/**
 * The health room: heartbeats on `/clawmesh/health/1`, backend probes and
 * the membership view (alive / suspect / dead). See docs/health.md.
 */
export {
  type BackendChangeListener,
  type BackendHealth,
  BackendProber,
  type BackendProberOptions,
  DEFAULT_PROBE_INTERVAL_MS,
  type ProbedBackend,
} from './backend-prober.js'
export { type HealthErrorCode, HealthOptionsError, ProbeTimeoutError } from './errors.js'
export {
  type BackendHealthReport,
  type DecodeFailure,
  type DecodeResult,
  decodeHeartbeat,
  encodeHeartbeat,
  HEARTBEAT_VERSION,
  type Heartbeat,
  MAX_BACKENDS_PER_HEARTBEAT,
  MAX_HEARTBEAT_BYTES,
  MAX_HEARTBEAT_PERIOD_MS,
} from './heartbeat.js'
export {
  type AnnouncedControl,
  DEFAULT_FAST_RANKS,
  DEFAULT_FULL_STATE_EVERY,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_MAX_INTERVAL_MS,
  DEFAULT_PERIOD_PER_PEER_MS,
  type DropReason,
  dropReasons,
  HeartbeatService,
  type HeartbeatServiceOptions,
  type HeartbeatStats,
} from './heartbeat-service.js'
export {
  DEFAULT_DEAD_AFTER_BEATS,
  DEFAULT_DEAD_AFTER_MS,
  DEFAULT_SUSPECT_AFTER_BEATS,
  DEFAULT_SUSPECT_AFTER_MS,
  type IsMember,
  type MemberInfo,
  type MemberSnapshot,
  type MembershipEvent,
  type MembershipListener,
  type MembershipOptions,
  MembershipView,
  type PeerState,
} from './membership.js'
