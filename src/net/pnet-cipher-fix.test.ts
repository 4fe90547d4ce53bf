import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach, describe, expect, it } from 'vitest'
import { generateSecret, secretToPsk } from '../identity/psk.js'
import { type ClawmeshNode, createNode } from './create-node.js'
import { loadXsalsa20 } from './pnet-cipher-fix.js'

// The library's crash and the fix's equivalence are shown in test/hostile/xsalsa20.test.ts;
// this checks that every peer with a federation secret runs with the fix in place.
describe('pnet cipher fix', () => {
  const nodes: ClawmeshNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((node) => node.stop()))
  })

  it('is installed by createNode whenever a secret is set, and two such nodes still talk', async () => {
    const psk = secretToPsk(generateSecret())
    const a = await createNode({ privateKey: await generateKeyPair('Ed25519'), psk })
    const b = await createNode({ privateKey: await generateKeyPair('Ed25519'), psk })
    nodes.push(a, b)
    expect(loadXsalsa20().prototype.chunked).toBe(true)
    await b.dial(a.getMultiaddrs()[0]!)
    expect(await b.services.ping.ping(a.peerId)).toBeGreaterThanOrEqual(0)
  })
})
