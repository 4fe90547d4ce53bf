import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach, describe, expect, it } from 'vitest'
import { type ClawmeshNode, createNode } from './create-node.js'

describe('createNode', () => {
  const nodes: ClawmeshNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((node) => node.stop()))
  })

  it('connects two nodes over Noise-encrypted TCP and pings', async () => {
    const a = await createNode({ privateKey: await generateKeyPair('Ed25519') })
    const b = await createNode({ privateKey: await generateKeyPair('Ed25519') })
    nodes.push(a, b)
    const connection = await a.dial(b.getMultiaddrs()[0]!)
    expect(connection.remotePeer.equals(b.peerId)).toBe(true)
    expect(connection.encryption).toBe('/noise')
    const rtt = await a.services.ping.ping(b.peerId)
    expect(rtt).toBeGreaterThanOrEqual(0)
  })

  it('dials a bare host:port address (no /p2p/) and learns the peer ID in the handshake', async () => {
    const a = await createNode({ privateKey: await generateKeyPair('Ed25519') })
    const b = await createNode({ privateKey: await generateKeyPair('Ed25519') })
    nodes.push(a, b)
    const bare = b.getMultiaddrs()[0]!.decapsulateCode(421)
    expect(bare.toString()).not.toContain('/p2p/')
    const connection = await a.dial(bare)
    expect(connection.remotePeer.equals(b.peerId)).toBe(true)
  })

  it('keeps no /pk/ records: the namespace is refused by its validator', async () => {
    const a = await createNode({ privateKey: await generateKeyPair('Ed25519') })
    nodes.push(a)
    const validate = a.services.dht.validators.pk
    expect(validate).toBeDefined()
    expect(() => validate!(new TextEncoder().encode('/pk/anything'), new Uint8Array(8))).toThrow(
      expect.objectContaining({ code: 'DHT_RECORD_REFUSED' }),
    )
  })
})
