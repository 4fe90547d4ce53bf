/**
 * Who is a member: the manifest node a peer ID is. A node with `peer_id`
 * is that identity and no other. A node without one is bound to the first
 * peer that presents its name in a signed advert (trust on first use),
 * persisted in the data dir (`members.json`, mode 0600) and logged as a
 * warning; a different peer presenting that name later is refused.
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Manifest, NodeConfig } from '../config/schema.js'
import { ClawmeshError, errorMessage } from '../errors.js'
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

/** The membership of one peer's federation. */
export class MemberDirectory {
  /** name → peer ID, learned on first use (only for nodes without `peer_id`). */
  readonly #firstUse = new Map<string, string>()
  readonly #file: string
  #saving: Promise<void> = Promise.resolve()

  #manifest: Manifest
  readonly #log: Logger

  private constructor(manifest: Manifest, dataDir: string, log: Logger) {
    this.#manifest = manifest
    this.#log = log
    this.#file = join(dataDir, MEMBERS_FILE)
  }

  /** Loads the persisted bindings (a missing file is an empty directory). */
  static async load(manifest: Manifest, dataDir: string, log: Logger): Promise<MemberDirectory> {
    const directory = new MemberDirectory(manifest, dataDir, log)
    try {
      const saved = JSON.parse(await readFile(directory.#file, 'utf8')) as Record<string, unknown>
      for (const [name, peerId] of Object.entries(saved)) {
        if (typeof peerId === 'string') directory.#firstUse.set(name, peerId)
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        log.warn('ignoring unreadable members file', { file: directory.#file, error: errorMessage(error) })
      }
    }
    return directory
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
    void this.#persist()
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

  /** Writes the bindings atomically (temp file + rename), mode 0600; writes are serialised. */
  #persist(): Promise<void> {
    const text = `${JSON.stringify(Object.fromEntries(this.#firstUse), null, 2)}\n`
    this.#saving = this.#saving
      .then(async () => {
        const temp = `${this.#file}.tmp`
        await writeFile(temp, text, { mode: 0o600 })
        await rename(temp, this.#file)
      })
      .catch((error: unknown) =>
        this.#log.error('cannot save members file', { file: this.#file, error: errorMessage(error) }),
      )
    return this.#saving
  }

  /** Resolves when pending writes are done. */
  flush(): Promise<void> {
    return this.#saving
  }
}
