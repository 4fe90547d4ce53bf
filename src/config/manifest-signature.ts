/**
 * Signature check on load: with `federation.key` set, a manifest must carry
 * a valid signature by that key. The signature covers the text BEFORE
 * `${VAR}` interpolation (the signer does not know each host's secrets), so
 * it is checked on the original text, with the key as interpolated.
 */
import { LineCounter, parseDocument } from 'yaml'
import { FederationKeyError, ManifestSignatureError, verifyManifestText } from '../identity/federation-key.js'
import { ManifestError, type ManifestIssue } from './errors.js'
import { interpolate } from './interpolate.js'
import { locatePath } from './yaml-positions.js'

/** `federation.key` of a parsed (not yet validated) manifest, when it is set; non-strings count as set. */
export function declaredFederationKey(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined
  const federation = (data as { federation?: unknown }).federation
  if (typeof federation !== 'object' || federation === null) return undefined
  const key = (federation as { key?: unknown }).key
  if (key === undefined || key === null) return undefined
  return typeof key === 'string' ? key : String(key)
}

/** Throws a `ManifestError` at `signature` (or `federation.key`) unless `text` is signed by `federationKey`. */
export function checkManifestSignature(
  text: string,
  federationKey: string,
  file: string,
  locate: (path: readonly PropertyKey[]) => { line: number | undefined },
): { version: number | undefined } {
  const issue = (field: 'signature' | 'federation.key', message: string): ManifestIssue => ({
    file,
    line: locate(field === 'signature' ? ['signature'] : ['federation', 'key']).line,
    field,
    message,
  })
  try {
    return verifyManifestText(text, federationKey)
  } catch (error) {
    if (error instanceof FederationKeyError)
      throw new ManifestError([issue('federation.key', error.message)], { cause: error })
    if (error instanceof ManifestSignatureError)
      throw new ManifestError([issue('signature', error.message)], { cause: error })
    throw error
  }
}

/**
 * Checks only the signature of manifest `text` against its own `federation.key` (interpolated from
 * `env` when written as `${VAR}`), without the rest of the schema: for `clawmesh manifest verify` on an
 * administrator's machine that lacks the hosts' other secrets. Throws `ManifestError`.
 */
export function verifyManifestSignature(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): { version: number | undefined } {
  const lineCounter = new LineCounter()
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const locate = (path: readonly PropertyKey[]) => locatePath(document, lineCounter, path)
  const [parseProblem] = document.errors
  if (parseProblem !== undefined)
    throw new ManifestError([
      { file, line: lineCounter.linePos(parseProblem.pos[0]).line, field: '', message: parseProblem.message },
    ])
  const written = document.getIn(['federation', 'key'])
  const keyLine = locate(['federation', 'key']).line
  if (typeof written !== 'string')
    throw new ManifestError([
      {
        file,
        line: keyLine,
        field: 'federation.key',
        message: 'no federation.key: nothing to verify against',
      },
    ])
  const key = interpolate(written, env)
  if (!key.ok)
    throw new ManifestError([
      { file, line: keyLine, field: 'federation.key', message: key.problems.join('; ') },
    ])
  return checkManifestSignature(text, key.value, file, locate)
}
