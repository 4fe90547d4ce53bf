/**
 * Hands a newer signed manifest around the federation. Any peer given one
 * (`POST /manifest` on its local API, `clawmesh manifest push`) checks it —
 * newer version, signed by the CURRENT federation key (and by its own key
 * when it rotates it) — adopts it and publishes it on the gossip topic
 * `/clawmesh/manifest/1`; every peer that receives it runs the same checks.
 * The current signed text is re-published periodically so peers that were
 * away catch up. A member cannot change the manifest: only the holder of
 * the federation key can.
 */
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { parseManifest } from '../config/load.js'
import type { Manifest } from '../config/schema.js'
import { ClawmeshError, errorMessage } from '../errors.js'
import { manifestAdoption } from '../identity/manifest-version.js'
import type { Logger } from '../log.js'
import type { ClawmeshNode } from '../net/create-node.js'

/** Gossip topic of signed manifests. */
export const MANIFEST_TOPIC = '/clawmesh/manifest/1'
/** Largest manifest accepted over the mesh or the API. */
export const MAX_MANIFEST_BYTES = 1024 * 1024

/** A manifest handed to this peer was refused; `reason` says which check failed. */
export class ManifestRefusedError extends ClawmeshError {
  static override name = 'ManifestRefusedError'
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super('MANIFEST_REFUSED', message)
  }
}

/** Options of the sync service. */
export interface ManifestSyncOptions {
  node: ClawmeshNode
  /** The manifest in force and its signed text (undefined when started from an object). */
  current: () => { manifest: Manifest; text: string | undefined }
  /** Applies an adopted manifest to the peer. */
  adopt: (manifest: Manifest, text: string) => Promise<void>
  /** Only members' gossip is considered. */
  isMember: (peerId: string) => boolean
  /** Re-publish period of the current signed manifest. Default: 10 s. */
  republishMs?: number
  log: Logger
}

/** Adopts and spreads newer signed manifests. */
export class ManifestSync {
  #timer: NodeJS.Timeout | undefined
  #adopting: Promise<unknown> = Promise.resolve()

  readonly #options: ManifestSyncOptions

  constructor(options: ManifestSyncOptions) {
    this.#options = options
  }

  /** Subscribes to the topic and starts re-publishing. */
  start(): void {
    const pubsub = this.#options.node.services.pubsub
    pubsub.topicValidators.set(MANIFEST_TOPIC, (from, message) => {
      if (message.data.byteLength > MAX_MANIFEST_BYTES) return TopicValidatorResult.Reject
      return this.#options.isMember(from.toString())
        ? TopicValidatorResult.Accept
        : TopicValidatorResult.Ignore
    })
    pubsub.addEventListener('message', this.#onMessage)
    pubsub.subscribe(MANIFEST_TOPIC)
    this.#timer = setInterval(() => this.publish(), this.#options.republishMs ?? 10_000)
    this.#timer.unref()
  }

  /** Unsubscribes and stops re-publishing. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    const pubsub = this.#options.node.services.pubsub
    pubsub.removeEventListener('message', this.#onMessage)
    pubsub.topicValidators.delete(MANIFEST_TOPIC)
    try {
      pubsub.unsubscribe(MANIFEST_TOPIC)
    } catch {
      // already stopped
    }
  }

  /**
   * Checks a candidate manifest text and adopts it, or throws
   * `ManifestRefusedError` (or the `ManifestError` that names file:line).
   * Offers are applied one at a time.
   */
  offer(text: string, source: string): Promise<{ version: number | undefined }> {
    const run = this.#adopting.then(() => this.#check(text, source))
    this.#adopting = run.catch(() => undefined)
    return run
  }

  /** Publishes the current signed manifest, if there is one. */
  publish(): void {
    const { text, manifest } = this.#options.current()
    if (text === undefined || manifest.version === undefined) return
    this.#options.node.services.pubsub
      .publish(MANIFEST_TOPIC, new TextEncoder().encode(text))
      .catch((error: unknown) =>
        this.#options.log.debug('manifest publish failed', { error: errorMessage(error) }),
      )
  }

  async #check(text: string, source: string): Promise<{ version: number | undefined }> {
    if (Buffer.byteLength(text) > MAX_MANIFEST_BYTES) {
      throw new ManifestRefusedError(
        'too-large',
        `manifest from ${source} is over ${MAX_MANIFEST_BYTES} bytes`,
      )
    }
    // Verifies the candidate's own signature and schema; `${VAR}`s take this host's environment.
    const candidate = parseManifest(text, `<manifest from ${source}>`)
    const { manifest: current } = this.#options.current()
    if (candidate.version !== undefined && candidate.version === current.version) {
      return { version: candidate.version }
    }
    const decision = manifestAdoption(current, candidate, text)
    if (!decision.adopt) throw new ManifestRefusedError(decision.reason, decision.message)
    await this.#options.adopt(candidate, text)
    this.#options.log.warn('adopted a newer signed manifest', { version: candidate.version, source })
    this.publish()
    return { version: candidate.version }
  }

  readonly #onMessage = (event: CustomEvent<{ topic: string; data: Uint8Array }>): void => {
    const { topic, data } = event.detail
    if (topic !== MANIFEST_TOPIC) return
    this.offer(new TextDecoder().decode(data), 'gossip').catch((error: unknown) => {
      // Older copies keep circulating after an adoption; only other refusals are worth a line.
      if (error instanceof ManifestRefusedError && error.reason === 'not-newer') return
      this.#options.log.debug('manifest from gossip refused', { error: errorMessage(error) })
    })
  }
}
