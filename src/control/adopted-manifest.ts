/**
 * The newest signed manifest a peer adopted over the mesh, kept in its data
 * dir so a restart starts from the version in force, not from an older file.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseManifest } from '../config/load.js'
import type { ManifestVersion } from '../config/manifest-in-force.js'
import { manifestAdoption } from '../identity/manifest-version.js'

/** File in the data dir holding the last manifest adopted over the mesh. */
export const ADOPTED_MANIFEST_FILE = 'manifest.adopted.yaml'

/**
 * The manifest to start with: `given`, or the newer signed version adopted
 * before the restart, if that one still passes the adoption checks against
 * `given`. Without `federation.key` nothing is adopted, so `given` it is.
 */
export async function manifestToStartWith(given: ManifestVersion, dataDir: string): Promise<ManifestVersion> {
  if (given.manifest.federation.key === undefined) return given
  const file = join(dataDir, ADOPTED_MANIFEST_FILE)
  const text = await readFile(file, 'utf8').catch(() => undefined)
  if (text === undefined) return given
  try {
    const adopted = parseManifest(text, file)
    return manifestAdoption(given.manifest, adopted, text).adopt ? { manifest: adopted, text } : given
  } catch {
    return given
  }
}

/** Keeps an adopted manifest's signed text in the data dir (0600). */
export function saveAdoptedManifest(dataDir: string, text: string): Promise<void> {
  return writeFile(join(dataDir, ADOPTED_MANIFEST_FILE), text, { mode: 0o600 })
}
