/**
 * Every verified advert this peer has seen, newest per peer, with indexes for
 * "who owns soul X" and "who offers backend Y". It also supplies the DHT
 * validator and selector for the `/clawmesh/` namespace, so a forged or stale
 * record is refused on every path it can arrive by (PUT from a peer, GET
 * results, our own look-ups).
 */
import { EventEmitter } from 'node:events'
import type { SelectFn, ValidateFn } from '@libp2p/kad-dht'
import { toString as bytesToString } from 'uint8arrays'
import { ClawmeshError } from '../errors.js'
import { type AdvertBody, AdvertError, decodeAdvert } from './advert.js'

/** Events of the store. */
export interface AdvertStoreEvents {
  /** A peer's advert is new or newer than before. */
  change: [body: AdvertBody]
}

/** Known adverts, newest per peer. */
export class AdvertStore extends EventEmitter<AdvertStoreEvents> {
  /**
   * @param admit decides membership: throws (a `ClawmeshError` with a code) to refuse a
   *   verified advert whose peer is not a member under the name it claims. Default: admit all.
   */
  readonly #admit: (body: AdvertBody) => void

  constructor(admit: (body: AdvertBody) => void = () => undefined) {
    super()
    this.#admit = admit
  }

  readonly #adverts = new Map<string, AdvertBody>()
  /** The signed encoding of each held advert, so it can be relayed and re-verified by others. */
  readonly #encoded = new Map<string, Uint8Array>()
  /** Counts of refused records by error code, for status and tests. */
  readonly rejected = new Map<string, number>()

  /** DHT validator: verified signature and key, and never older than what we hold. */
  readonly validator: ValidateFn = async (key, value) => {
    try {
      const body = await decodeAdvert(key, value)
      this.accept(body, value)
    } catch (error) {
      const code = error instanceof ClawmeshError ? error.code : 'ADVERT_MALFORMED'
      this.rejected.set(code, (this.rejected.get(code) ?? 0) + 1)
      throw error
    }
  }

  /** Verifies and records an encoded advert found under `key`; false (counted) if refused. */
  async offer(key: Uint8Array, value: Uint8Array): Promise<boolean> {
    try {
      await this.validator(key, value)
      return true
    } catch {
      return false
    }
  }

  /** DHT selector: the record with the highest sequence (records reaching it were validated). */
  readonly selector: SelectFn = (_key, records) => {
    let best = 0
    let bestSeq = -1
    records.forEach((record, index) => {
      const seq = sequenceOf(record)
      if (seq > bestSeq) {
        best = index
        bestSeq = seq
      }
    })
    return best
  }

  /**
   * Records a verified advert (and its signed encoding, when known). Throws
   * `ADVERT_STALE` when it is older than the one held; returns true when it
   * changed what we know.
   */
  accept(body: AdvertBody, encoded?: Uint8Array): boolean {
    this.#admit(body)
    const known = this.#adverts.get(body.peerId)
    if (known !== undefined && body.seq < known.seq) {
      throw new AdvertError(
        'ADVERT_STALE',
        `advert of ${body.peerId} has seq ${body.seq} < ${known.seq} already seen`,
      )
    }
    if (encoded !== undefined && (known === undefined || body.seq >= known.seq))
      this.#encoded.set(body.peerId, encoded)
    if (known !== undefined && body.seq === known.seq) return false
    if (encoded === undefined) this.#encoded.delete(body.peerId)
    this.#adverts.set(body.peerId, body)
    this.emit('change', body)
    return true
  }

  /** The newest advert of a peer. */
  get(peerId: string): AdvertBody | undefined {
    return this.#adverts.get(peerId)
  }

  /** Signed encodings of every held advert whose encoding we have. */
  allEncoded(): Uint8Array[] {
    return [...this.#encoded.values()]
  }

  /** The signed encoding of a peer's advert, if held. */
  encodedOf(peerId: string): Uint8Array | undefined {
    return this.#encoded.get(peerId)
  }

  /** Every known advert. */
  all(): AdvertBody[] {
    return [...this.#adverts.values()]
  }

  /** Peers that advertise soul `name`. */
  ownersOfSoul(name: string): AdvertBody[] {
    return this.all().filter((advert) => advert.souls.includes(name))
  }

  /** Peers that advertise backend `name`. */
  ownersOfBackend(name: string): AdvertBody[] {
    return this.all().filter((advert) => advert.backends.some((backend) => backend.name === name))
  }

  /** Forgets a peer (e.g. revoked). */
  forget(peerId: string): void {
    this.#adverts.delete(peerId)
    this.#encoded.delete(peerId)
  }
}

function sequenceOf(record: Uint8Array): number {
  try {
    const envelope = JSON.parse(bytesToString(record)) as { body?: unknown }
    if (typeof envelope.body !== 'string') return -1
    const body = JSON.parse(envelope.body) as { seq?: unknown }
    return typeof body.seq === 'number' ? body.seq : -1
  } catch {
    return -1
  }
}
