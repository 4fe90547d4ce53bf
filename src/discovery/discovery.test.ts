import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { fromString as bytesFromString, toString as bytesToString } from 'uint8arrays'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../log.js'
import { type ClawmeshNode, createNode } from '../net/create-node.js'
import { type AdvertBody, advertKey, decodeAdvert, encodeAdvert } from './advert.js'
import { AdvertStore } from './advert-store.js'
import { DiscoveryService } from './discovery-service.js'

interface TestPeer {
  node: ClawmeshNode
  store: AdvertStore
  discovery: DiscoveryService
  privateKey: PrivateKey
}

const log = createLogger('test')

async function startPeer(
  index: number,
  bootstrap: string | undefined,
  privateKey?: PrivateKey,
): Promise<TestPeer> {
  const key = privateKey ?? (await generateKeyPair('Ed25519'))
  const store = new AdvertStore()
  const node = await createNode({
    privateKey: key,
    validators: { clawmesh: store.validator },
    selectors: { clawmesh: store.selector },
  })
  const discovery = new DiscoveryService({
    node,
    privateKey: key,
    store,
    log,
    describe: () => ({
      name: `node-${index}`,
      souls: [`soul-${index}a`, `soul-${index}b`],
      backends: [{ name: `backend-${index}`, type: 'ollama', models: ['llama3:latest'] }],
    }),
    sweepIntervalMs: 500,
    ...(bootstrap === undefined ? {} : { joinAddrs: [multiaddr(bootstrap)] }),
  })
  await discovery.start()
  return { node, store, discovery, privateKey: key }
}

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now()
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return Date.now() - started
}

describe('discovery over the private DHT', () => {
  const peers: TestPeer[] = []
  afterEach(async () => {
    await Promise.all(
      peers.splice(0).map(async (peer) => {
        await peer.discovery.stop()
        await peer.node.stop()
      }),
    )
  })

  it('5 peers, each given one bootstrap address, resolve every soul and backend owner', async () => {
    for (let index = 0; index < 5; index++) {
      // A chain: each peer knows only the one before it.
      const bootstrap = index === 0 ? undefined : peers[index - 1]!.node.getMultiaddrs()[0]!.toString()
      peers.push(await startPeer(index, bootstrap))
    }
    for (const peer of peers) {
      await eventually(async () => {
        for (let index = 0; index < 5; index++) {
          const soulOwners = await peer.discovery.ownersOfSoul(`soul-${index}b`)
          const backendOwners = await peer.discovery.ownersOfBackend(`backend-${index}`)
          const expected = peers[index]!.node.peerId.toString()
          if (soulOwners.map((owner) => owner.peerId).join() !== expected) return false
          if (backendOwners.map((owner) => owner.peerId).join() !== expected) return false
        }
        return true
      }, 20_000)
    }
    const known = peers[4]!.store.get(peers[0]!.node.peerId.toString())
    expect(known?.name).toBe('node-0')
    expect(known?.addrs.length).toBeGreaterThan(0)
  })

  it('a restarted peer keeps its key and is found again with a newer advert', async () => {
    peers.push(await startPeer(0, undefined))
    const bootstrap = peers[0]!.node.getMultiaddrs()[0]!.toString()
    const restarting = await startPeer(1, bootstrap)
    peers.push(restarting)
    const id = restarting.node.peerId.toString()
    await eventually(() => peers[0]!.store.get(id) !== undefined, 10_000)
    const firstSeq = peers[0]!.store.get(id)!.seq
    await restarting.discovery.stop()
    await restarting.node.stop()
    peers.pop()
    const again = await startPeer(1, bootstrap, restarting.privateKey)
    peers.push(again)
    expect(again.node.peerId.toString()).toBe(id)
    await eventually(() => (peers[0]!.store.get(id)?.seq ?? 0) > firstSeq, 10_000)
    expect((await peers[0]!.discovery.ownersOfSoul('soul-1a')).map((owner) => owner.peerId)).toEqual([id])
  })

  it('rejects forged and stale records, on PUT and in look-ups', async () => {
    const honest = await startPeer(0, undefined)
    const victim = await startPeer(1, honest.node.getMultiaddrs()[0]!.toString())
    peers.push(honest, victim)
    const victimId = victim.node.peerId.toString()
    await eventually(() => honest.store.get(victimId) !== undefined, 10_000)
    const genuine = honest.store.get(victimId)!

    // Forged: an attacker signs a record claiming the victim's key with its own key.
    const attackerKey = await generateKeyPair('Ed25519')
    const forgedBody: AdvertBody = { ...genuine, seq: genuine.seq + 1000, souls: ['stolen-soul'] }
    const attackerBody = { ...forgedBody, peerId: peerIdFromPrivateKey(attackerKey).toString() }
    const signedByAttacker = await encodeAdvert(attackerKey, attackerBody)
    const envelope = JSON.parse(bytesToString(signedByAttacker)) as { body: string; sig: string }
    const forged = bytesFromString(JSON.stringify({ body: JSON.stringify(forgedBody), sig: envelope.sig }))
    await expect(decodeAdvert(advertKey(victimId), forged)).rejects.toMatchObject({ code: 'ADVERT_FORGED' })
    await expect(honest.store.validator(advertKey(victimId), forged)).rejects.toMatchObject({
      name: 'AdvertError',
    })
    // A record stored under the attacker's own key but claiming the victim's peer ID.
    await expect(decodeAdvert(advertKey(attackerBody.peerId), forged)).rejects.toMatchObject({
      code: 'ADVERT_FORGED',
    })

    // Stale: a genuine, correctly signed but older record of the victim.
    const stale = await encodeAdvert(victim.privateKey, { ...genuine, seq: genuine.seq - 1, souls: ['old'] })
    await expect(honest.store.validator(advertKey(victimId), stale)).rejects.toMatchObject({
      code: 'ADVERT_STALE',
    })

    // Over the wire: an attacker node PUTs both to the honest peer; neither lands.
    const attacker = await startPeer(2, honest.node.getMultiaddrs()[0]!.toString(), attackerKey)
    peers.push(attacker)
    await eventually(() => honest.node.getPeers().some((peer) => peer.equals(attacker.node.peerId)), 10_000)
    for (const value of [forged, stale]) {
      for await (const _event of attacker.node.services.dht.put(advertKey(victimId), value, {
        signal: AbortSignal.timeout(5_000),
      })) {
        // drain
      }
    }
    expect(honest.store.get(victimId)?.souls).toEqual(genuine.souls)
    expect(honest.store.rejected.get('ADVERT_FORGED') ?? 0).toBeGreaterThan(0)
    expect(honest.store.rejected.get('ADVERT_STALE') ?? 0).toBeGreaterThan(0)
    expect((await honest.discovery.ownersOfSoul('stolen-soul')).length).toBe(0)
  })
})
