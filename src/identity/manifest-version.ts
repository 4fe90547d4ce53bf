/**
 * When a peer may adopt a manifest handed to it over the mesh (pure: no I/O).
 * A candidate is adopted only if it is newer than the current manifest AND
 * carries a valid signature by the CURRENT `federation.key`. So a member,
 * who holds no federation private key, can neither forge a manifest nor
 * rotate the key; the holder of the key rotates it by signing a manifest
 * that names the new key with the new key and endorsing it with the old.
 */
import { ManifestSignatureError, sameFederationKey, verifyManifestText } from './federation-key.js'

/** The parts of a (loaded, interpolated) manifest that adoption looks at. */
export interface VersionedManifest {
  /** Stamped by `clawmesh manifest sign`; absent on an unsigned manifest. */
  readonly version?: number | undefined
  readonly federation: { readonly key?: string | undefined }
}

/** Why a candidate manifest is not adopted. */
export type ManifestRefusal =
  | 'current-unsigned'
  | 'candidate-unsigned'
  | 'not-newer'
  | 'not-signed-by-current-key'
  | 'not-signed-by-own-key'

/** The outcome of `manifestAdoption`. */
export type ManifestAdoption =
  | { readonly adopt: true; readonly rotatesKey: boolean }
  | { readonly adopt: false; readonly reason: ManifestRefusal; readonly message: string }

/** Is `candidate` a later version than `current`? A manifest without a version precedes every version. */
export function isNewerManifest(
  current: { readonly version?: number | undefined },
  candidate: { readonly version?: number | undefined },
): boolean {
  if (candidate.version === undefined) return false
  return current.version === undefined || candidate.version > current.version
}

/**
 * Decides whether a peer running `current` adopts `candidate`, whose text as received (before
 * interpolation) is `candidateText`. The caller has already loaded the candidate with `parseManifest`.
 */
export function manifestAdoption(
  current: VersionedManifest,
  candidate: VersionedManifest,
  candidateText: string,
): ManifestAdoption {
  const currentKey = current.federation.key
  if (currentKey === undefined)
    return refuse(
      'current-unsigned',
      'this federation has no federation.key: manifests are only changed by hand',
    )
  const candidateKey = candidate.federation.key
  if (candidateKey === undefined)
    return refuse('candidate-unsigned', 'the candidate manifest has no federation.key')
  if (!isNewerManifest(current, candidate))
    return refuse(
      'not-newer',
      `the candidate version ${candidate.version ?? 'none'} is not newer than ${current.version ?? 'none'}`,
    )
  if (!signedBy(candidateText, currentKey))
    return refuse(
      'not-signed-by-current-key',
      'the candidate manifest is not signed by the current federation.key',
    )
  const rotatesKey = !sameFederationKey(currentKey, candidateKey)
  if (rotatesKey && !signedBy(candidateText, candidateKey))
    return refuse('not-signed-by-own-key', 'the candidate manifest is not signed by its own federation.key')
  return { adopt: true, rotatesKey }
}

function signedBy(text: string, key: string): boolean {
  try {
    verifyManifestText(text, key)
    return true
  } catch (error) {
    if (error instanceof ManifestSignatureError) return false
    throw error
  }
}

function refuse(reason: ManifestRefusal, message: string): ManifestAdoption {
  return { adopt: false, reason, message }
}
