/**
 * The routing room: the `/clawmesh/llm/1.0.0` stream protocol (owner service
 * and caller client), the trust rules, owner ranking and failover.
 */
export * from './constants.js'
export {
  FrameError,
  FrameTimeoutError,
  LimitError,
  RoutingError,
  TrustError,
  type TrustErrorCode,
} from './errors.js'
export {
  type ChatFrame,
  type EmbedFrame,
  type ProtocolErrorCode,
  protocolErrorCodes,
  type RequestFrame,
  RequestFrameSchema,
  type ResponseFrame,
  ResponseFrameSchema,
} from './frames.js'
export {
  type CallOptions,
  type ChatCall,
  type EmbedCall,
  LLMClient,
  type LLMClientOptions,
} from './llm-client.js'
export {
  type AuthorizeContext,
  LLMService,
  type LLMServiceLimits,
  type LLMServiceOptions,
} from './llm-service.js'
export { type ManifestAuthorizerOptions, manifestAuthorizer } from './owner-authorizer.js'
export { callWithFailover, type FailedAttempt, routeWithFailover } from './route-with-failover.js'
export { type OwnerCandidate, type RankedOwners, type RankOptions, rankOwners } from './select-owner.js'
export {
  type CallerAllowedInput,
  checkCallerAllowed,
  checkSoulMayUse,
  type SoulMayUseInput,
} from './trust-policy.js'
