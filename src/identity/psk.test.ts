import { generateKeyPair } from '@libp2p/crypto/keys'
import { generateKey } from '@libp2p/pnet'
import { afterEach, describe, expect, it } from 'vitest'
import { type ClawmeshNode, createNode } from '../net/create-node.js'
import { generateSecret, SecretError, secretToPsk } from './psk.js'

const decoder = new TextDecoder()
const dialTimeoutMs = 2000

function secretError(secret: string): SecretError {
  try {
    secretToPsk(secret)
  } catch (error) {
    expect(error).toBeInstanceOf(SecretError)
    expect((error as SecretError).name).toBe('SecretError')
    expect((error as SecretError).code).toBe('SECRET_INVALID')
    return error as SecretError
  }
  throw new SecretError('expected secretToPsk to throw')
}

describe('secretToPsk', () => {
  it('generateSecret gives 64 lowercase hex chars, different every time', () => {
    const a = generateSecret()
    const b = generateSecret()
    expect(a).toMatch(/^[0-9a-f]{64}$/)
    expect(b).not.toBe(a)
  })

  it('turns the hex form into the pnet v1 PSK file text', () => {
    const secret = generateSecret()
    expect(decoder.decode(secretToPsk(secret))).toBe(`/key/swarm/psk/1.0.0/\n/base16/\n${secret}`)
    expect(secretToPsk(`  ${secret.toUpperCase()}\n`)).toEqual(secretToPsk(secret))
  })

  it('accepts the PSK file text that @libp2p/pnet generateKey writes, CRLF and a final newline too', () => {
    const file = new Uint8Array(95)
    generateKey(file)
    const text = decoder.decode(file)
    const key = text.split('\n')[2]!
    expect(secretToPsk(text)).toEqual(secretToPsk(key))
    expect(secretToPsk(`${text.replaceAll('\n', '\r\n')}\r\n`)).toEqual(secretToPsk(key))
  })

  it('refuses anything else with SECRET_INVALID and never echoes the secret', () => {
    const short = 'abcdef0123'
    expect(secretError(short).message).not.toContain(short)
    secretError('')
    secretError(`${generateSecret()}00`)
    secretError(`g${generateSecret().slice(1)}`)
    secretError(`/key/swarm/psk/1.0.0/\n/base64/\n${generateSecret()}`)
    secretError(`/key/swarm/psk/1.0.0/\n/base16/\n${generateSecret().slice(2)}`)
    secretError(`/key/swarm/psk/1.0.0/\n/base16/\n${generateSecret()}\nmore`)
  })
})

describe('private network (pnet) with a secret', () => {
  const nodes: ClawmeshNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((node) => node.stop()))
  })

  async function node(secret?: string): Promise<ClawmeshNode> {
    const created = await createNode({
      privateKey: await generateKeyPair('Ed25519'),
      inboundConnectionThreshold: 100,
      ...(secret === undefined ? {} : { psk: secretToPsk(secret) }),
    })
    nodes.push(created)
    return created
  }

  it('members with the same secret connect; no secret or another secret cannot; the member keeps serving', async () => {
    const secret = generateSecret()
    const member = await node(secret)
    const address = member.getMultiaddrs()[0]!

    // A stranger's dial either fails at once (reset) or stalls until its own timeout: the member waits for
    // a 24-byte pnet nonce that a plain libp2p dialer never sends. Either way no connection completes.
    const noSecret = await node()
    await expect(noSecret.dial(address, { signal: AbortSignal.timeout(dialTimeoutMs) })).rejects.toThrow()
    const otherSecret = await node(generateSecret())
    await expect(otherSecret.dial(address, { signal: AbortSignal.timeout(dialTimeoutMs) })).rejects.toThrow()
    // And the other way round: the member cannot be talked into connecting out to either.
    await expect(
      member.dial(noSecret.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(dialTimeoutMs) }),
    ).rejects.toThrow()
    expect(member.getConnections(noSecret.peerId)).toHaveLength(0)
    expect(member.getConnections(otherSecret.peerId)).toHaveLength(0)

    // The hex form and the PSK-file form of one secret are the same network.
    const sameSecret = await node(`/key/swarm/psk/1.0.0/\n/base16/\n${secret}\n`)
    const connection = await sameSecret.dial(address, { signal: AbortSignal.timeout(dialTimeoutMs) })
    expect(connection.remotePeer.equals(member.peerId)).toBe(true)
    expect(await sameSecret.services.ping.ping(member.peerId)).toBeGreaterThanOrEqual(0)
  })
})
