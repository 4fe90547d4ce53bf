/**
 * clawmesh as a library: embed a peer in a program, register custom
 * backends, and send a soul's requests through the mesh.
 *
 * ```ts
 * import { createPeer, loadManifest } from 'clawmesh'
 * const peer = await createPeer({ manifest: await loadManifest('clawmesh.yaml'), node: 'home', dataDir: '.clawmesh' })
 * for await (const part of peer.chat({ soul: 'inbox-triage', model: 'local/llama3', request: { messages } })) { ... }
 * ```
 */

export {
  loadManifest,
  Manifest,
  ManifestError,
  parseManifest,
  standaloneManifest,
  type TrustLevel,
} from './config/index.js'
export { type StatusPeer, StatusView } from './control/status-view.js'
export { ClawmeshError } from './errors.js'
export * from './llm/index.js'
export { createPeer, Peer, type PeerOptions } from './peer.js'
export { RoutingError, TrustError } from './routing/errors.js'
export type { Mesh, MeshCallOptions, MeshChatRequest, MeshEmbedRequest, MeshModel } from './routing/mesh.js'
export { MeshError } from './routing/mesh-router.js'
