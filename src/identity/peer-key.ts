/**
 * The peer's Ed25519 identity, created on first start and kept in the data
 * dir (`peer.key`, protobuf-encoded private key, file mode 0600).
 */
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ClawmeshError, errorMessage } from '../errors.js'

/** File name of the peer key inside the data dir. */
export const PEER_KEY_FILE = 'peer.key'

/** The peer key file exists but cannot be used. */
export class PeerKeyError extends ClawmeshError {
  static override name = 'PeerKeyError'
  constructor(message: string, options?: ErrorOptions) {
    super('PEER_KEY_INVALID', message, options)
  }
}

/** A loaded identity. */
export interface PeerIdentity {
  privateKey: PrivateKey
  peerId: PeerId
  /** True when this call created the key. */
  created: boolean
}

/** Loads the peer key from `dataDir`, creating it (0600, dir 0700) on first use. */
export async function loadOrCreatePeerKey(dataDir: string): Promise<PeerIdentity> {
  const file = join(dataDir, PEER_KEY_FILE)
  let bytes: Uint8Array | undefined
  try {
    bytes = await readFile(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new PeerKeyError(`cannot read ${file}: ${errorMessage(error)}`, { cause: error })
    }
  }
  if (bytes !== undefined) {
    const mode = (await stat(file)).mode & 0o777
    if ((mode & 0o077) !== 0) await chmod(file, 0o600)
    let privateKey: PrivateKey
    try {
      privateKey = privateKeyFromProtobuf(bytes)
    } catch (error) {
      throw new PeerKeyError(`${file} is not a libp2p private key: ${errorMessage(error)}`, { cause: error })
    }
    if (privateKey.type !== 'Ed25519')
      throw new PeerKeyError(`${file} holds a ${privateKey.type} key, expected Ed25519`)
    return { privateKey, peerId: peerIdFromPrivateKey(privateKey), created: false }
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const privateKey = await generateKeyPair('Ed25519')
  // `wx` refuses to overwrite a key another process wrote in the meantime.
  await writeFile(file, privateKeyToProtobuf(privateKey), { mode: 0o600, flag: 'wx' })
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey), created: true }
}
