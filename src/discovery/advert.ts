/**
 * The advert: what one peer says about itself on the DHT (name, souls,
 * backends, addresses), signed by its own peer key and sequenced so a newer
 * record always wins and an older one is refused. Trust is NOT in the advert:
 * it comes from the manifest only.
 */
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { fromString as bytesFromString, toString as bytesToString } from 'uint8arrays'
import { z } from 'zod'
import { ClawmeshError } from '../errors.js'

/** DHT namespace of every clawmesh record (the validator/selector key). */
export const ADVERT_NAMESPACE = 'clawmesh'
/** Largest advert accepted, encoded. */
export const MAX_ADVERT_BYTES = 64 * 1024

const shortString = z.string().min(1).max(256)

/** What a peer advertises about one backend. */
export const AdvertBackend = z.strictObject({
  name: shortString,
  type: shortString,
  models: z.array(shortString).max(1024),
})
export type AdvertBackend = z.infer<typeof AdvertBackend>

/** The signed body of an advert. */
export const AdvertBody = z.strictObject({
  v: z.literal(1),
  peerId: shortString,
  name: shortString,
  /** Strictly increasing across restarts (milliseconds-based, see `nextSequence`). */
  seq: z.number().int().nonnegative(),
  issuedAt: z.number().int().nonnegative(),
  souls: z.array(shortString).max(1024),
  backends: z.array(AdvertBackend).max(256),
  addrs: z.array(z.string().max(512)).max(64),
  /** HTTP API address the peer serves, if it wants to be reachable by tools. */
  api: z.string().max(256).optional(),
})
export type AdvertBody = z.infer<typeof AdvertBody>

const Envelope = z.strictObject({ body: z.string().max(MAX_ADVERT_BYTES), sig: z.string().max(256) })

/** Why an advert was refused. */
export type AdvertErrorCode = 'ADVERT_MALFORMED' | 'ADVERT_FORGED' | 'ADVERT_STALE' | 'ADVERT_TOO_LARGE'

/** An advert failed validation; DHT validators throw it so kad-dht drops the record. */
export class AdvertError extends ClawmeshError {
  static override name = 'AdvertError'
  declare readonly code: AdvertErrorCode
  constructor(code: AdvertErrorCode, message: string) {
    super(code, message)
  }
}

/** The DHT key of a peer's advert: `/clawmesh/advert/<peerId>`. */
export function advertKey(peerId: PeerId | string): Uint8Array {
  return bytesFromString(`/${ADVERT_NAMESPACE}/advert/${peerId.toString()}`)
}

/** The peer ID a key names, or throws if the key is not an advert key. */
export function peerIdOfAdvertKey(key: Uint8Array): string {
  const text = bytesToString(key)
  const match = /^\/clawmesh\/advert\/([1-9A-HJ-NP-Za-km-z]{10,128})$/.exec(text)
  if (match?.[1] === undefined)
    throw new AdvertError('ADVERT_MALFORMED', `not an advert key: ${text.slice(0, 80)}`)
  return match[1]
}

/** Signs `body` with the peer's key and encodes it for the DHT. */
export async function encodeAdvert(privateKey: PrivateKey, body: AdvertBody): Promise<Uint8Array> {
  if (peerIdFromPrivateKey(privateKey).toString() !== body.peerId) {
    throw new AdvertError('ADVERT_FORGED', 'advert body names a different peer than the signing key')
  }
  const text = JSON.stringify(body)
  const signature = await privateKey.sign(bytesFromString(text))
  const encoded = bytesFromString(JSON.stringify({ body: text, sig: bytesToString(signature, 'base64url') }))
  if (encoded.byteLength > MAX_ADVERT_BYTES)
    throw new AdvertError('ADVERT_TOO_LARGE', 'advert exceeds 64 KiB')
  return encoded
}

/**
 * Decodes and verifies an advert found under `key`: well-formed, stored under
 * its own peer's key, signed by that peer. Does not judge freshness.
 */
export async function decodeAdvert(key: Uint8Array, value: Uint8Array): Promise<AdvertBody> {
  if (value.byteLength > MAX_ADVERT_BYTES) throw new AdvertError('ADVERT_TOO_LARGE', 'advert exceeds 64 KiB')
  const keyPeer = peerIdOfAdvertKey(key)
  let envelope: z.infer<typeof Envelope>
  let body: AdvertBody
  try {
    envelope = Envelope.parse(JSON.parse(bytesToString(value)))
    body = AdvertBody.parse(JSON.parse(envelope.body))
  } catch {
    throw new AdvertError('ADVERT_MALFORMED', `advert for ${keyPeer} is not a valid advert`)
  }
  if (body.peerId !== keyPeer) {
    throw new AdvertError('ADVERT_FORGED', `advert stored under ${keyPeer} claims to be ${body.peerId}`)
  }
  const publicKey = peerIdFromString(keyPeer).publicKey
  if (publicKey === undefined)
    throw new AdvertError('ADVERT_FORGED', `peer ID ${keyPeer} does not embed a public key`)
  let valid = false
  try {
    valid = await publicKey.verify(bytesFromString(envelope.body), bytesFromString(envelope.sig, 'base64url'))
  } catch {
    valid = false
  }
  if (!valid) throw new AdvertError('ADVERT_FORGED', `advert for ${keyPeer} is not signed by ${keyPeer}`)
  return body
}

/** A sequence number above `previous` and at least the wall clock, so restarts never go backwards. */
export function nextSequence(previous: number): number {
  return Math.max(Date.now(), previous + 1)
}
