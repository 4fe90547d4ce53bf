/**
 * The owner's re-check of both trust rules, from the manifest, for
 * `LLMService`'s `authorize`: the caller is judged by its authenticated peer
 * ID (never by a claim in the frame), and a soul's sensitivity is the larger
 * of what the frame says and what the manifest says.
 */
import type { PeerId } from '@libp2p/interface'
import { backendMinTrust, soulOwner, soulSensitivity } from '../config/resolve.js'
import { type Manifest, type TrustLevel, trustAtLeast } from '../config/schema.js'
import { TrustError } from './errors.js'
import type { AuthorizeContext } from './llm-service.js'
import { checkCallerAllowed, checkSoulMayUse } from './trust-policy.js'

/** Options of `manifestAuthorizer`. */
export interface ManifestAuthorizerOptions {
  manifest: Manifest
  /** This (owner) node's name in the manifest. */
  self: string
  /** The manifest node an authenticated peer is (peer_id binding or trust on first use); `undefined` for strangers. */
  nodeOfPeer(peerId: PeerId): string | undefined
}

/** Builds an `authorize` that throws `TrustError` for strangers and for either rule. */
export function manifestAuthorizer(options: ManifestAuthorizerOptions): (context: AuthorizeContext) => void {
  const { manifest } = options
  const self = manifest.federation.nodes.find((node) => node.name === options.self)
  if (self === undefined)
    throw new TrustError('TRUST_UNKNOWN_PEER', `this node "${options.self}" is not in the manifest`)
  return ({ remotePeer, frame }) => {
    const callerName = options.nodeOfPeer(remotePeer)
    const caller = manifest.federation.nodes.find((node) => node.name === callerName)
    if (caller === undefined) {
      throw new TrustError('TRUST_UNKNOWN_PEER', `peer ${remotePeer} is not a node of the federation`)
    }
    const declared: TrustLevel = soulOwner(manifest, frame.soul)
      ? soulSensitivity(manifest, frame.soul)
      : frame.sensitivity
    const sensitivity = trustAtLeast(declared, frame.sensitivity) ? declared : frame.sensitivity
    checkSoulMayUse({
      soul: frame.soul,
      soulSensitivity: sensitivity,
      owner: self.name,
      ownerTrust: self.trust,
    })
    const backend = self.backends.find((candidate) => candidate.name === frame.backend)
    checkCallerAllowed({
      caller: caller.name,
      callerTrust: caller.trust,
      backend: frame.backend,
      owner: self.name,
      backendMinTrust: backend ? backendMinTrust(self, backend) : self.trust,
    })
  }
}

/** Options of `ownerAuthorizer`. */
export interface OwnerAuthorizerOptions {
  /** The manifest in force, read at each request (a newer version may replace it). */
  manifest(): Manifest
  /** This (owner) node's name in the manifest. */
  self: string
  /** The manifest node an authenticated peer is; `undefined` for strangers and not-yet-known members. */
  nodeOfPeer(peerId: PeerId): string | undefined
  /** Reads a caller's signed advert from the caller itself (bounded by `signal`), binding it if it is a member. */
  fetchAdvert(peerId: PeerId, options: { signal: AbortSignal }): Promise<unknown>
  /** How long a not-yet-known caller's advert may take. Default: 2000 ms. */
  fetchAdvertTimeoutMs?: number
}

/**
 * The owner's `authorize` for `LLMService`: a member that has just joined may
 * call before its advert reached us, so an unknown caller's advert is read
 * from the caller first (bounded), then both trust rules are judged against
 * the manifest in force. A stranger's advert is refused, so it stays unknown.
 */
export function ownerAuthorizer(
  options: OwnerAuthorizerOptions,
): (context: AuthorizeContext) => Promise<void> {
  const timeoutMs = options.fetchAdvertTimeoutMs ?? 2_000
  return async (context) => {
    if (options.nodeOfPeer(context.remotePeer) === undefined) {
      await options
        .fetchAdvert(context.remotePeer, { signal: AbortSignal.timeout(timeoutMs) })
        .catch(() => undefined)
    }
    manifestAuthorizer({ manifest: options.manifest(), self: options.self, nodeOfPeer: options.nodeOfPeer })(
      context,
    )
  }
}
