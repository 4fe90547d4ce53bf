/**
 * The manifest in force: one observable that every room of a peer reads per
 * use or subscribes to, so a newer signed version adopted at runtime takes
 * effect everywhere at once, not only where someone remembered to pass it.
 * Settings that cannot change under a running peer are listed in
 * `RESTART_ONLY_SETTINGS`; `restartOnlyChanges` names the ones a new version
 * changed, so the peer can log them.
 */
import type { Manifest, NodeConfig } from './schema.js'

/** A manifest and its signed text (when known). */
export interface ManifestVersion {
  manifest: Manifest
  /** The text as signed, re-published to peers that were away. */
  text: string | undefined
}

/** Called with the new version and the one it replaced. */
export type ManifestListener = (next: ManifestVersion, previous: ManifestVersion) => void

/** Holds the manifest in force and tells subscribers when it is replaced. */
export class ManifestInForce {
  #current: ManifestVersion
  readonly #listeners = new Set<ManifestListener>()

  constructor(initial: ManifestVersion) {
    this.#current = initial
  }

  /** The manifest in force now. */
  get manifest(): Manifest {
    return this.#current.manifest
  }

  /** The manifest in force now, with its signed text. */
  current(): ManifestVersion {
    return this.#current
  }

  /** Puts `next` in force and calls every subscriber, in subscription order. */
  replace(next: ManifestVersion): void {
    const previous = this.#current
    this.#current = next
    for (const listener of this.#listeners) listener(next, previous)
  }

  /** Registers a listener of replacements; returns its remover. */
  subscribe(listener: ManifestListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
}

/**
 * Settings a running peer keeps from start-up (each needs a new listener, a
 * new key or a new process): `[label, read]`, read for this peer's node.
 */
export const RESTART_ONLY_SETTINGS: ReadonlyArray<
  readonly [label: string, read: (manifest: Manifest, node: NodeConfig | undefined) => unknown]
> = [
  ['nodes[].address (listen address)', (_manifest, node) => node?.address],
  ['nodes[].api (HTTP API address)', (_manifest, node) => node?.api],
  ['nodes[].backends (this node’s own backends)', (_manifest, node) => node?.backends],
  ['federation.secret (private-network key)', (manifest) => manifest.federation.secret],
  [
    'federation.health.heartbeat_interval_ms',
    (manifest) => manifest.federation.health?.heartbeat_interval_ms,
  ],
  ['federation.health.probe_interval_ms', (manifest) => manifest.federation.health?.probe_interval_ms],
]

/** Labels of the restart-only settings that differ between two versions, for `nodeName`'s node. */
export function restartOnlyChanges(previous: Manifest, next: Manifest, nodeName: string): string[] {
  const nodeIn = (manifest: Manifest): NodeConfig | undefined =>
    manifest.federation.nodes.find((node) => node.name === nodeName)
  return RESTART_ONLY_SETTINGS.filter(
    ([, read]) =>
      JSON.stringify(read(previous, nodeIn(previous))) !== JSON.stringify(read(next, nodeIn(next))),
  ).map(([label]) => label)
}
