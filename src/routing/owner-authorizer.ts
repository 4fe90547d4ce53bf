/**
 * The owner's re-check of both trust rules, from the manifest, for
 * `LlmService`'s `authorize`: the caller is judged by its authenticated peer
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
