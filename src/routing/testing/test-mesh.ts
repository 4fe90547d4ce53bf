/** Real libp2p nodes on loopback for routing tests, with one owner service and one client per setup. */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { LLMBackend } from '../../llm/types.js'
import type { ClawmeshNode } from '../../net/create-node.js'
import { createNode } from '../../net/create-node.js'
import { LLMClient, type LLMClientOptions } from '../llm-client.js'
import { type AuthorizeContext, LLMService, type LLMServiceLimits } from '../llm-service.js'

/** Tracks what a test started so `stopAll` can clean up. */
export class TestMesh {
  readonly nodes: ClawmeshNode[] = []
  readonly services: LLMService[] = []
  readonly clients: LLMClient[] = []

  /** Starts a node on 127.0.0.1 with a fresh Ed25519 key. */
  async node(): Promise<ClawmeshNode> {
    const node = await createNode({ privateKey: await generateKeyPair('Ed25519') })
    this.nodes.push(node)
    return node
  }

  /** Starts an `LLMService` on `node` serving `backends` by name. */
  async owner(
    node: ClawmeshNode,
    backends: LLMBackend[],
    options: {
      limits?: LLMServiceLimits
      authorize?: (context: AuthorizeContext) => void | Promise<void>
    } = {},
  ): Promise<LLMService> {
    const byName = new Map(backends.map((backend) => [backend.name, backend]))
    const service = new LLMService({
      node,
      resolveBackend: (name) => byName.get(name),
      authorize: options.authorize ?? (() => {}),
      ...(options.limits ? { limits: options.limits } : {}),
    })
    await service.start()
    this.services.push(service)
    return service
  }

  /** An `LLMClient` on `node`, already connected to `owners`. */
  async client(
    node: ClawmeshNode,
    owners: ClawmeshNode[],
    init: Omit<LLMClientOptions, 'node'> = {},
  ): Promise<LLMClient> {
    for (const owner of owners) await node.dial(owner.getMultiaddrs()[0]!)
    const client = new LLMClient({ node, ...init })
    this.clients.push(client)
    return client
  }

  /** Stops everything this mesh started. */
  async stopAll(): Promise<void> {
    for (const client of this.clients.splice(0)) client.close()
    await Promise.all(this.services.splice(0).map((service) => service.stop()))
    await Promise.all(this.nodes.splice(0).map((node) => node.stop()))
  }
}
