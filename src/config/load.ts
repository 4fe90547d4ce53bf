/**
 * Loading the manifest: YAML with positions, `${VAR}` interpolation, the zod
 * signature (with `federation.key`, over the text as written, before
 * interpolation), the zod schema, then cross-field checks. Every problem
 * becomes a `ManifestIssue` with file, line and field.
 */
import { readFile } from 'node:fs/promises'
import { LineCounter, parseDocument } from 'yaml'
import type { z } from 'zod'
import { errorMessage } from '../errors.js'
import { checkManifest } from './check.js'
import { formatFieldPath, ManifestError, type ManifestIssue } from './errors.js'
import { interpolate, resolvePlainScalar } from './interpolate.js'
import { checkManifestSignature, declaredFederationKey } from './manifest-signature.js'
import { Manifest } from './schema.js'
import { locatePath, visitStringScalars } from './yaml-positions.js'
import { manifestErrorMap } from './zod-messages.js'

/** Options for loading a manifest; all optional. */
export interface LoadManifestOptions {
  /** Environment for `${VAR}` interpolation. Default: `process.env`. */
  readonly env?: NodeJS.ProcessEnv
}

/** Reads, interpolates and validates the manifest at `file`; throws `ManifestError` listing every problem. */
export async function loadManifest(file: string, options: LoadManifestOptions = {}): Promise<Manifest> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new ManifestError(
      [{ file, line: undefined, field: '', message: `cannot read manifest: ${errorMessage(error)}` }],
      {
        cause: error,
      },
    )
  }
  return parseManifest(text, file, options)
}

/** Parses manifest `text`, naming `file` in errors; throws `ManifestError` listing every problem. */
export function parseManifest(text: string, file: string, options: LoadManifestOptions = {}): Manifest {
  const env = options.env ?? process.env
  const lineCounter = new LineCounter()
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  if (document.errors.length > 0) {
    throw manifestError(
      document.errors.map((error) => ({
        file,
        line: lineCounter.linePos(error.pos[0]).line,
        field: '',
        message: error.message,
      })),
    )
  }

  // Interpolate before validation, so types are checked on the values actually used.
  const interpolationIssues: ManifestIssue[] = []
  visitStringScalars(document, lineCounter, (scalar) => {
    const result = interpolate(scalar.value, env)
    if (!result.ok) {
      const field = formatFieldPath(scalar.path)
      for (const message of result.problems)
        interpolationIssues.push({ file, line: scalar.line, field, message })
    } else if (result.substituted) {
      scalar.set(scalar.plain ? resolvePlainScalar(result.value) : result.value)
    } else if (result.value !== scalar.value) {
      scalar.set(result.value)
    }
  })
  if (interpolationIssues.length > 0) throw manifestError(interpolationIssues)

  let data: unknown
  try {
    data = document.toJS({ maxAliasCount: 100 })
  } catch (error) {
    throw new ManifestError([{ file, line: undefined, field: '', message: errorMessage(error) }], {
      cause: error,
    })
  }

  const locate = (path: readonly PropertyKey[]) => locatePath(document, lineCounter, path)
  // Authenticity before validity: a tampered manifest is reported as tampered, whatever else is wrong
  // with it. The key is read after interpolation; the signature covers `text` as written.
  const federationKey = declaredFederationKey(data)
  if (federationKey !== undefined) checkManifestSignature(text, federationKey, file, locate)
  const parsed = Manifest.safeParse(data, { error: manifestErrorMap })
  if (!parsed.success)
    throw manifestError(parsed.error.issues.flatMap((issue) => zodIssueToManifestIssues(issue, file, locate)))

  const crossIssues = checkManifest(parsed.data).map((issue) => ({
    file,
    line: locate(issue.path).line,
    field: formatFieldPath(issue.path),
    message: issue.message,
  }))
  if (crossIssues.length > 0) throw manifestError(crossIssues)
  return parsed.data
}

/** One zod issue as manifest issues: unknown keys become one issue per key, located at the key. */
function zodIssueToManifestIssues(
  issue: z.core.$ZodIssue,
  file: string,
  locate: (path: readonly PropertyKey[]) => { line: number | undefined; found: boolean },
): ManifestIssue[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const path = [...issue.path, key]
      return { file, line: locate(path).line, field: formatFieldPath(path), message: 'unknown key' }
    })
  }
  const location = locate(issue.path)
  // A missing key reports at its parent's line; a custom schema message would otherwise hide that it is missing.
  const missing = !location.found && (issue.code === 'invalid_type' || issue.code === 'invalid_value')
  return [
    {
      file,
      line: location.line,
      field: formatFieldPath(issue.path),
      message: missing ? 'missing required field' : issue.message,
    },
  ]
}

/** A ManifestError with issues in document order (stable; issues without a line last). */
function manifestError(issues: ManifestIssue[]): ManifestError {
  const sorted = [...issues].sort(
    (a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER),
  )
  const [first, ...rest] = sorted
  if (first === undefined) {
    return new ManifestError([{ file: '', line: undefined, field: '', message: 'invalid manifest' }])
  }
  return new ManifestError([first, ...rest])
}
