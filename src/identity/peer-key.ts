/**
 * The peer's Ed25519 identity, created on first start and kept in the data
 * dir (`peer.key`, protobuf-encoded private key, file mode 0600).
 */
import { chmod, mkdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ClawmeshError, errorMessage } from '../errors.js'
import { writeFileAtomic } from './state-file.js'

/** File name of the peer key inside the data dir. */
export const PEER_KEY_FILE = 'peer.key'

/** The peer key file exists but cannot be used. */
export class PeerKeyError extends ClawmeshError {
  static override name = 'PeerKeyError'
  constructor(message: string, options?: ErrorOptions) {
    super('PEER_KEY_INVALID', message, options)
  }
}

/** What to do about a damaged key, said with every refusal. */
const KEY_REMEDY =
  'restore it from a backup; or, to give this host a new identity, move the file away and start again (then update nodes[].peer_id, if pinned)'

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
      throw new PeerKeyError(`cannot read ${file}: ${errorMessage(error)}; ${KEY_REMEDY}`, { cause: error })
    }
  }
  if (bytes !== undefined) {
    const mode = (await stat(file)).mode & 0o777
    if ((mode & 0o077) !== 0) await chmod(file, 0o600)
    let privateKey: PrivateKey
    try {
      privateKey = privateKeyFromProtobuf(bytes)
    } catch (error) {
      const what =
        bytes.byteLength === 0 ? 'is empty' : `is not a libp2p private key (${errorMessage(error)})`
      throw new PeerKeyError(`${file} ${what}; ${KEY_REMEDY}`, { cause: error })
    }
    if (privateKey.type !== 'Ed25519')
      throw new PeerKeyError(`${file} holds a ${privateKey.type} key, expected Ed25519; ${KEY_REMEDY}`)
    return { privateKey, peerId: peerIdFromPrivateKey(privateKey), created: false }
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const privateKey = await generateKeyPair('Ed25519')
  // Atomic (a full disk or a crash leaves no key, never an empty one) and exclusive (a key
  // another process wrote in the meantime is never replaced).
  try {
    await writeFileAtomic(file, privateKeyToProtobuf(privateKey), { mode: 0o600, exclusive: true })
  } catch (error) {
    throw new PeerKeyError(`cannot create ${file}: ${errorMessage(error)}`, { cause: error })
  }
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey), created: true }
}
