import { connect } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { MultiaddrConnection } from '@libp2p/interface'
import { preSharedKey } from '@libp2p/pnet'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { afterEach, describe, expect, it } from 'vitest'
import { generateSecret, secretToPsk } from '../identity/psk.js'
import { type ClawmeshNode, createNode } from './create-node.js'
import { StackPatchStaleError } from './patch-target.js'
import {
  installPnetCipherFix,
  loadXsalsa20,
  pnetCipherStats,
  type XSalsa20Module,
  xsalsa20Footprint,
} from './pnet-cipher-fix.js'

const INITIAL_MEMORY_BYTES = 10 * 64 * 1024 // the module's 10 initial WASM pages
const FIRST_SLOT = 144 // where xsalsa20 puts its first 64-byte slot

type Protector = {
  protect(connection: MultiaddrConnection, options?: { signal: AbortSignal }): Promise<MultiaddrConnection>
}
const protector = (psk: Uint8Array): Protector => preSharedKey({ psk })() as unknown as Protector
const nonce = (): Uint8Array => crypto.getRandomValues(new Uint8Array(24))
const closed = (connection: MultiaddrConnection): Promise<void> =>
  connection.status === 'open' || connection.status === 'closing'
    ? new Promise((resolve) => connection.addEventListener('close', () => resolve(), { once: true }))
    : Promise.resolve()

describe('pnet cipher fix: install-time checks', () => {
  it('refuses to install with STACK_PATCH_STALE when a patched name is gone, and patches nothing', () => {
    const real = loadXsalsa20()
    const update = function update() {
      return new Uint8Array(0)
    }
    const noFinalize = Object.assign(() => ({}), { prototype: { update } }) as unknown as XSalsa20Module
    const error = (() => {
      try {
        installPnetCipherFix(noFinalize)
      } catch (thrown) {
        return thrown
      }
    })()
    expect(error).toBeInstanceOf(StackPatchStaleError)
    expect(error).toMatchObject({
      code: 'STACK_PATCH_STALE',
      target: 'xsalsa20.prototype.finalize',
      message: expect.stringContaining('xsalsa20.prototype.finalize is missing'),
    })
    expect(noFinalize.prototype.update).toBe(update)
    // The cipher is fine but @libp2p/pnet lost the export the fix wraps.
    expect(() => installPnetCipherFix(real, {})).toThrow(/@libp2p\/pnet preSharedKey is missing/)
    // A protector whose connection carries no ciphers where the fix looks for them.
    class Stub {}
    expect(() => installPnetCipherFix(real, { preSharedKey: () => () => new Stub() })).toThrow(
      StackPatchStaleError,
    )
  })
})

describe('pnet cipher fix: both ciphers of every connection are freed (real @libp2p/pnet protector)', () => {
  it('keeps the WASM memory and slots flat over 10,000 in-memory connections: nonce-only strangers, errors and full ones', async () => {
    installPnetCipherFix()
    const psk = secretToPsk(generateSecret())
    const member = protector(psk)
    const before = xsalsa20Footprint()
    const start = pnetCipherStats()
    const kinds = { fullClose: 0, fullAbort: 0, nonceThenReset: 0, nonceThenEnd: 0, nonceThenHang: 0 }
    const connections = 10_000
    const batch = 50
    for (let first = 0; first < connections; first += batch) {
      const runs: Promise<void>[] = []
      for (let index = first; index < first + batch; index++) {
        const [outbound, inbound] = multiaddrConnectionPair()
        const kind = (['fullClose', 'fullAbort', 'nonceThenReset', 'nonceThenEnd', 'nonceThenHang'] as const)[
          index % 5
        ]!
        kinds[kind]++
        runs.push(
          (async () => {
            if (kind === 'fullClose' || kind === 'fullAbort') {
              const [a, b] = await Promise.all([member.protect(outbound), member.protect(inbound)])
              const got = new Promise<Uint8Array>((resolve) =>
                b.addEventListener('message', (event) => resolve(event.data.subarray()), { once: true }),
              )
              a.send(Uint8Array.of(1, 2, 3))
              expect([...(await got)]).toEqual([1, 2, 3])
              if (kind === 'fullClose') await a.close()
              else a.abort(new Error('upgrade failed'))
              await Promise.all([closed(outbound), closed(inbound)])
              return
            }
            // A stranger: sends 24 bytes and never speaks pnet; the member's side is all that has ciphers.
            const upgrade = new AbortController()
            const protecting = member.protect(inbound, { signal: upgrade.signal })
            outbound.send(nonce())
            const box = await protecting
            if (kind === 'nonceThenReset') outbound.abort(new Error('stranger resets'))
            else if (kind === 'nonceThenEnd') await outbound.close()
            else box.abort(new Error('inbound upgrade timeout')) // what the upgrader does when it gives up
            await closed(inbound)
          })(),
        )
      }
      await Promise.all(runs)
    }
    const after = xsalsa20Footprint()
    const end = pnetCipherStats()
    // 6,000 ciphers for the two full kinds (both sides), 6,000 for the strangers (member side only).
    expect(end.connections - start.connections).toBe(4000 * 2 + 6000)
    expect(end.freed - start.freed).toBe(2 * (4000 * 2 + 6000))
    expect(end.live).toBe(start.live)
    expect(end.updatesAfterFree - start.updatesAfterFree).toBe(0)
    expect(after.memoryBytes).toBe(before.memoryBytes)
    expect(after.memoryBytes).toBe(INITIAL_MEMORY_BYTES)
    // Slots are reused: no connection got a slot beyond what 50 concurrent full pairs (200 ciphers) need.
    // Leaked, the 28,000 ciphers would reach slot 144 + 64 * 28,000 and throw after 10,237.
    expect(end.highestSlot).toBeLessThan(FIRST_SLOT + 64 * 4 * batch + 64 * 8)
    expect(after.nextSlot).toBeLessThanOrEqual(end.highestSlot)
    expect(kinds).toEqual({
      fullClose: 2000,
      fullAbort: 2000,
      nonceThenReset: 2000,
      nonceThenEnd: 2000,
      nonceThenHang: 2000,
    })
  })

  it('frees each slot once: closing, aborting and finalizing again leave the free list intact', async () => {
    installPnetCipherFix()
    const psk = secretToPsk(generateSecret())
    const member = protector(psk)
    const [outbound, inbound] = multiaddrConnectionPair()
    const [a, b] = await Promise.all([member.protect(outbound), member.protect(inbound)])
    const ciphers = [a, b].flatMap((box) => {
      const { inboundXor, outboundXor } = box as unknown as Record<string, ReturnType<XSalsa20Module>>
      return [inboundXor!, outboundXor!]
    })
    const slots = ciphers.map((cipher) => cipher._xor!._pointer)
    expect(new Set(slots).size).toBe(4)
    const freedBefore = pnetCipherStats().freed
    await a.close()
    a.abort(new Error('again'))
    b.abort(new Error('again'))
    await Promise.all([closed(outbound), closed(inbound)])
    for (const cipher of ciphers) cipher.finalize() // a double free: must be a no-op
    expect(ciphers.every((cipher) => cipher._xor === null)).toBe(true)
    expect(pnetCipherStats().freed - freedBefore).toBe(4)
    // The four slots come back once each: four new ciphers get four distinct slots, all of them these.
    const X = loadXsalsa20()
    const next = [0, 1, 2, 3].map(() => X(nonce(), new Uint8Array(32)))
    const reused = next.map((cipher) => cipher._xor!._pointer)
    expect(new Set(reused).size).toBe(4)
    expect([...reused].sort()).toEqual([...slots].sort())
    // A freed cipher answers zeros and never throws (it may run in an event listener).
    expect([...ciphers[0]!.update(Uint8Array.of(9, 9))]).toEqual([0, 0])
    for (const cipher of next) cipher.finalize()
  })
})

describe('pnet cipher fix on a real libp2p node with a secret (TCP)', () => {
  const nodes: ClawmeshNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((node) => node.stop()))
  })

  it('is installed by createNode whenever a secret is set, and two such nodes still talk', async () => {
    const psk = secretToPsk(generateSecret())
    const a = await createNode({ privateKey: await generateKeyPair('Ed25519'), psk })
    const b = await createNode({ privateKey: await generateKeyPair('Ed25519'), psk })
    nodes.push(a, b)
    expect(loadXsalsa20().prototype.update).not.toBe(undefined)
    expect(loadXsalsa20().prototype[Symbol.for('clawmesh.pnetCipherFix')]).toBe(true)
    await b.dial(a.getMultiaddrs()[0]!)
    expect(await b.services.ping.ping(a.peerId)).toBeGreaterThanOrEqual(0)
  })

  // 10,000 strangers are more than the 5,118 nonce-only connections that, leaked, exhaust the slots.
  it('frees the ciphers of 10,000 nonce-only strangers over TCP and 101 member connections; a member still connects at once', async () => {
    const psk = secretToPsk(generateSecret())
    const listen = {
      privateKey: await generateKeyPair('Ed25519'),
      psk,
      inboundConnectionThreshold: 1_000_000,
    }
    const target = await createNode(listen)
    const friend = await createNode({ privateKey: await generateKeyPair('Ed25519'), psk })
    nodes.push(target, friend)
    const address = target.getMultiaddrs()[0]!
    const port = Number(/\/tcp\/(\d+)/.exec(address.toString())?.[1])
    const before = xsalsa20Footprint()
    const start = pnetCipherStats()
    const stranger = (index: number) =>
      new Promise<void>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.write(nonce())
          // Half end politely, half reset, after the target answered with its own nonce.
          socket.once('data', () => (index % 2 === 0 ? socket.end() : socket.resetAndDestroy()))
        })
        socket.on('error', () => undefined)
        socket.on('close', () => resolve())
      })
    const strangers = 10_000
    const concurrency = 32
    let next = 0
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < strangers) await stranger(next++)
      }),
    )
    // A stranger that sends its nonce and then holds the socket open, while a member connects.
    const holders = Array.from({ length: 16 }, () =>
      connect(port, '127.0.0.1', function (this: ReturnType<typeof connect>) {
        this.write(nonce())
      }),
    )
    for (const holder of holders) holder.on('error', () => undefined)
    const dialStart = performance.now()
    await friend.dial(address)
    expect(await friend.services.ping.ping(target.peerId)).toBeGreaterThanOrEqual(0)
    const dialMs = performance.now() - dialStart
    expect(dialMs).toBeLessThan(2000)
    await friend.hangUp(target.peerId)
    for (let index = 0; index < 100; index++) {
      await friend.dial(address)
      await friend.hangUp(target.peerId)
    }
    for (const holder of holders) holder.destroy()
    const settled = async () => {
      for (let tries = 0; tries < 200 && pnetCipherStats().live !== start.live; tries++)
        await new Promise((resolve) => setTimeout(resolve, 25))
      return pnetCipherStats()
    }
    const end = await settled()
    const after = xsalsa20Footprint()
    // Every stranger got as far as the target's ciphers (it sent a full nonce); member dials have both ends here.
    expect(end.connections - start.connections).toBeGreaterThanOrEqual(strangers + 16 + 101 * 2)
    expect(end.live).toBe(start.live)
    expect(end.updatesAfterFree - start.updatesAfterFree).toBe(0)
    expect(after.memoryBytes).toBe(before.memoryBytes)
    expect(end.highestSlot).toBeLessThan(FIRST_SLOT + 64 * 2 * (concurrency + 16 + 64))
  })
})
