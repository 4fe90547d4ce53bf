/**
 * The config room: the federation manifest's schema, loading with positions
 * and `${VAR}` interpolation, cross-field checks, defaults and resolution.
 */
export { addressHostPort, addressToMultiaddr, type HostPort, parseHostPort } from './address.js'
export { checkManifest, type ManifestCheckIssue } from './check.js'
export * from './defaults.js'
export {
  formatFieldPath,
  formatManifestIssue,
  InvalidAddressError,
  ManifestError,
  type ManifestIssue,
  UnknownBackendError,
  UnknownNodeError,
  UnknownSoulError,
} from './errors.js'
export { type InterpolationResult, interpolate } from './interpolate.js'
export { MANIFEST_JSON_SCHEMA_PATH, manifestJsonSchema, manifestJsonSchemaText } from './json-schema.js'
export { type LoadManifestOptions, loadManifest, parseManifest } from './load.js'
export {
  ManifestInForce,
  type ManifestListener,
  type ManifestVersion,
  RESTART_ONLY_SETTINGS,
  restartOnlyChanges,
} from './manifest-in-force.js'
export {
  backendMinTrust,
  backendTimeoutMs,
  backendUrl,
  controlPlaneCandidates,
  controlPlaneNodeName,
  type ElectionSettings,
  electionSettings,
  findNode,
  type HealthSettings,
  healthSettings,
  type LimitSettings,
  limitSettings,
  nodeApiAddress,
  type RoutingSettings,
  routingSettings,
  soulOwner,
  soulSensitivity,
} from './resolve.js'
export {
  BackendConfig,
  BackendType,
  backendTypes,
  ElectionConfig,
  FederationConfig,
  HealthConfig,
  LimitsConfig,
  Manifest,
  type ManifestInput,
  NodeConfig,
  RoutingConfig,
  SoulConfig,
  TrustLevel,
  trustAtLeast,
  trustLevels,
} from './schema.js'
export { sanitizeNodeName, standaloneManifest } from './standalone-manifest.js'
