/**
 * The newest signed manifest a peer adopted over the mesh, kept in its data
 * dir so a restart starts from the version in force, not from an older file.
 */
import { join } from 'node:path'
import { parseManifest } from '../config/load.js'
import type { ManifestVersion } from '../config/manifest-in-force.js'
import { errorMessage } from '../errors.js'
import { manifestAdoption } from '../identity/manifest-version.js'
import { readStateFile, StateFileError, writeFileAtomic } from '../identity/state-file.js'

/** File in the data dir holding the last manifest adopted over the mesh. */
export const ADOPTED_MANIFEST_FILE = 'manifest.adopted.yaml'

/** What to do about a damaged adopted manifest. */
const ADOPTED_REMEDY =
  'delete it and start with the newest signed manifest you have (`clawmesh start --manifest FILE`), or push that one again with `clawmesh manifest push`'

/**
 * The manifest to start with: `given`, or the newer signed version adopted
 * before the restart, if that one still passes the adoption checks against
 * `given`. Without `federation.key` nothing is adopted, so `given` it is. A
 * damaged file refuses to start (`STATE_FILE_INVALID`): falling back to an
 * older manifest could make a revoked node a member again.
 */
export async function manifestToStartWith(given: ManifestVersion, dataDir: string): Promise<ManifestVersion> {
  if (given.manifest.federation.key === undefined) return given
  const file = join(dataDir, ADOPTED_MANIFEST_FILE)
  const text = await readStateFile(file, ADOPTED_REMEDY)
  if (text === undefined) return given
  let adopted: ManifestVersion['manifest']
  try {
    adopted = parseManifest(text, file)
  } catch (error) {
    throw new StateFileError(file, `is not a valid manifest (${errorMessage(error)})`, ADOPTED_REMEDY, {
      cause: error,
    })
  }
  const adoption = manifestAdoption(given.manifest, adopted, text)
  if (adoption.adopt) return { manifest: adopted, text }
  // A version the given manifest supersedes is simply stale; anything else is a file we cannot trust.
  if (adoption.reason === 'not-newer') return given
  throw new StateFileError(
    file,
    `is refused against the given manifest (${adoption.message})`,
    ADOPTED_REMEDY,
  )
}

/** Keeps an adopted manifest's signed text in the data dir (0600, atomically). */
export function saveAdoptedManifest(dataDir: string, text: string): Promise<void> {
  return writeFileAtomic(join(dataDir, ADOPTED_MANIFEST_FILE), text, { mode: 0o600 })
}
