/**
 * Who is a member: the manifest node a peer ID is. A node with `peer_id`
 * is that identity and no other. A node without one is bound to the first
 * peer that presents its name in a signed advert (trust on first use),
 * persisted in the data dir (`members.json`, mode 0600) and logged as a
 * warning; a different peer presenting that name later is refused.
 */
import { join } from 'node:path'
import type { Manifest, NodeConfig } from '../config/schema.js'
import { ClawmeshError, errorMessage } from '../errors.js'
import { readStateFile, StateFileError, writeFileAtomic } from '../identity/state-file.js'
import type { Logger } from '../log.js'

/** File of trust-on-first-use bindings inside the data dir. */
export const MEMBERS_FILE = 'members.json'

/** A peer claimed a name it may not have. */
export class MembershipError extends ClawmeshError {
  static override name = 'MembershipError'
  declare readonly code: 'NOT_A_MEMBER' | 'NAME_TAKEN' | 'PEER_ID_MISMATCH'
  constructor(code: 'NOT_A_MEMBER' | 'NAME_TAKEN' | 'PEER_ID_MISMATCH', message: string) {
    super(code, message)
  }
}

/** Told when a first-use binding could not be saved and was undone: the peer is no longer a member. */
export type BindingLostListener = (peerId: string, name: string) => void

/** What to do about a damaged members file. */
const MEMBERS_REMEDY =
  'restore it from a backup, or pin every node with nodes[].peer_id and delete the file (its bindings are then learned again on first use)'

/** The membership of one peer's federation. */
export class MemberDirectory {
  /** name → peer ID, learned on first use (only for nodes without `peer_id`). */
  readonly #firstUse = new Map<string, string>()
  readonly #file: string
  #saving: Promise<void> = Promise.resolve()

  #manifest: Manifest
  readonly #log: Logger
  #onBindingLost: BindingLostListener = () => undefined

  private constructor(manifest: Manifest, dataDir: string, log: Logger) {
    this.#manifest = manifest
    this.#log = log
    this.#file = join(dataDir, MEMBERS_FILE)
  }

  /**
   * Loads the persisted bindings (a missing file is an empty directory). A
   * damaged or unreadable file refuses to start (`STATE_FILE_INVALID`): an
   * empty directory instead would let an impostor take a bound name.
   */
  static async load(manifest: Manifest, dataDir: string, log: Logger): Promise<MemberDirectory> {
    const directory = new MemberDirectory(manifest, dataDir, log)
    const text = await readStateFile(directory.#file, MEMBERS_REMEDY)
    if (text === undefined) return directory
    let saved: unknown
    try {
      saved = JSON.parse(text)
    } catch (error) {
      throw new StateFileError(directory.#file, `is not valid JSON (${errorMessage(error)})`, MEMBERS_REMEDY)
    }
    if (typeof saved !== 'object' || saved === null || Array.isArray(saved)) {
      throw new StateFileError(
        directory.#file,
        'is not a JSON object of node name to peer ID',
        MEMBERS_REMEDY,
      )
    }
    for (const [name, peerId] of Object.entries(saved)) {
      if (typeof peerId !== 'string' || peerId === '') {
        throw new StateFileError(directory.#file, `the binding of "${name}" is not a peer ID`, MEMBERS_REMEDY)
      }
      directory.#firstUse.set(name, peerId)
    }
    return directory
  }

  /** Registers who is told when a new binding could not be saved and was undone. */
  onBindingLost(listener: BindingLostListener): void {
    this.#onBindingLost = listener
  }

  /** The node `peerId` is bound to (by `peer_id` or by first use), or undefined for a stranger. */
  nodeOf(peerId: string): NodeConfig | undefined {
    for (const node of this.#manifest.federation.nodes) {
      if (node.peer_id !== undefined) {
        if (node.peer_id === peerId) return node
      } else if (this.#firstUse.get(node.name) === peerId) {
        return node
      }
    }
    return undefined
  }

  /** True when `peerId` is a member. */
  isMember(peerId: string): boolean {
    return this.nodeOf(peerId) !== undefined
  }

  /**
   * A peer presents `name` (in an advert it signed). Returns its node, binding
   * it on first use; throws `MembershipError` when the name is not in the
   * manifest, is bound to another identity, or the peer already holds another name.
   */
  claim(peerId: string, name: string): NodeConfig {
    const node = this.#manifest.federation.nodes.find((candidate) => candidate.name === name)
    if (node === undefined)
      throw new MembershipError(
        'NOT_A_MEMBER',
        `peer ${peerId} claims "${name}", which is not a node of the manifest`,
      )
    if (node.peer_id !== undefined) {
      if (node.peer_id !== peerId) {
        throw new MembershipError(
          'PEER_ID_MISMATCH',
          `peer ${peerId} claims "${name}", which the manifest binds to ${node.peer_id}`,
        )
      }
      return node
    }
    const bound = this.#firstUse.get(name)
    if (bound === peerId) return node
    if (bound !== undefined) {
      throw new MembershipError(
        'NAME_TAKEN',
        `peer ${peerId} claims "${name}", which is already bound to ${bound} (trust on first use)`,
      )
    }
    const held = this.nodeOf(peerId)
    if (held !== undefined) {
      throw new MembershipError(
        'NAME_TAKEN',
        `peer ${peerId} is already "${held.name}" and cannot also be "${name}"`,
      )
    }
    this.#firstUse.set(name, peerId)
    this.#log.warn('bound a node name to a peer on first use; pin it with nodes[].peer_id', {
      node: name,
      peerId,
    })
    // A binding that cannot be saved is refused: after a restart the name would be free for anyone.
    void this.#persist().then((saved) => {
      if (saved || this.#firstUse.get(name) !== peerId) return
      this.#firstUse.delete(name)
      this.#log.error('first-use binding refused: it could not be saved', { node: name, peerId })
      this.#onBindingLost(peerId, name)
    })
    return node
  }

  /** Binds this peer's own name (it is always its own node). */
  bindSelf(peerId: string, name: string): void {
    this.claim(peerId, name)
  }

  /** Replaces the manifest (a newer signed version); returns the peer IDs that stopped being members. */
  update(manifest: Manifest, knownPeers: readonly string[]): string[] {
    const before = knownPeers.filter((peerId) => this.isMember(peerId))
    this.#manifest = manifest
    for (const name of [...this.#firstUse.keys()]) {
      const node = manifest.federation.nodes.find((candidate) => candidate.name === name)
      if (node === undefined || node.peer_id !== undefined) this.#firstUse.delete(name)
    }
    void this.#persist()
    return before.filter((peerId) => !this.isMember(peerId))
  }

  /** Writes the bindings atomically (temp file, fsync, rename), mode 0600; writes are serialised. True when saved. */
  #persist(): Promise<boolean> {
    const text = `${JSON.stringify(Object.fromEntries(this.#firstUse), null, 2)}\n`
    const write = this.#saving.then(() =>
      writeFileAtomic(this.#file, text, { mode: 0o600 }).then(
        () => true,
        (error: unknown) => {
          this.#log.error('cannot save members file', { file: this.#file, error: errorMessage(error) })
          return false
        },
      ),
    )
    this.#saving = write.then(() => undefined)
    return write
  }

  /** Resolves when pending writes are done. */
  flush(): Promise<void> {
    return this.#saving
  }
}
