/**
 * Errors of the config room. Every problem found in a manifest is a
 * `ManifestIssue` with a file, a 1-based line and a field path; a
 * `ManifestError` carries all of them so a user can fix them in one pass.
 */
import { ClawmeshError } from '../errors.js'

/** One problem in a manifest, located as `file:line field`. */
export interface ManifestIssue {
  /** The manifest path exactly as the caller passed it. */
  readonly file: string
  /** 1-based line; undefined only when there is no position at all (e.g. an unreadable file). */
  readonly line: number | undefined
  /** Field path such as `federation.nodes[1].trust`; empty for the document as a whole. */
  readonly field: string
  /** What is wrong, without the location, e.g. `expected low, medium or high`. */
  readonly message: string
}

/** Formats one issue as `clawmesh.yaml:12 federation.nodes[1].trust: expected low, medium or high`. */
export function formatManifestIssue(issue: ManifestIssue): string {
  const location = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}`
  return issue.field === '' ? `${location}: ${issue.message}` : `${location} ${issue.field}: ${issue.message}`
}

/** Formats a field path from zod-style segments: `['federation', 'nodes', 1, 'trust']` → `federation.nodes[1].trust`. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let field = ''
  for (const segment of path) {
    if (typeof segment === 'number') field += `[${segment}]`
    else field += field === '' ? String(segment) : `.${String(segment)}`
  }
  return field
}

/** A manifest that cannot be read, parsed or validated; lists every problem found, first one first. */
export class ManifestError extends ClawmeshError {
  static override name = 'ManifestError'
  /** Every problem found, in document order where known. Never empty. */
  readonly issues: readonly ManifestIssue[]
  /** The file of the first issue. */
  readonly file: string
  /** The line of the first issue. */
  readonly line: number | undefined
  /** The field of the first issue. */
  readonly field: string

  constructor(issues: readonly [ManifestIssue, ...ManifestIssue[]], options?: ErrorOptions) {
    super('MANIFEST_INVALID', issues.map(formatManifestIssue).join('\n'), options)
    const [first] = issues
    this.issues = issues
    this.file = first.file
    this.line = first.line
    this.field = first.field
  }
}

/** A node name that the manifest does not define. */
export class UnknownNodeError extends ClawmeshError {
  static override name = 'UnknownNodeError'
  /** The name that was looked up. */
  readonly node: string

  constructor(node: string, known: readonly string[]) {
    super('UNKNOWN_NODE', `unknown node ${node} (the manifest defines ${listOrNone(known)})`)
    this.node = node
  }
}

/** A soul that no node of the manifest hosts. */
export class UnknownSoulError extends ClawmeshError {
  static override name = 'UnknownSoulError'
  /** The soul that was looked up. */
  readonly soul: string

  constructor(soul: string) {
    super('UNKNOWN_SOUL', `unknown soul ${soul}: no node of the manifest hosts it`)
    this.soul = soul
  }
}

/** A backend name that a node does not offer. */
export class UnknownBackendError extends ClawmeshError {
  static override name = 'UnknownBackendError'
  /** The backend that was looked up. */
  readonly backend: string

  constructor(node: string, backend: string) {
    super('UNKNOWN_BACKEND', `node ${node} has no backend named ${backend}`)
    this.backend = backend
  }
}

/** An address that is neither `host:port` nor a valid multiaddr. */
export class InvalidAddressError extends ClawmeshError {
  static override name = 'InvalidAddressError'
  /** The address as given. */
  readonly address: string

  constructor(address: string, reason: string) {
    super('INVALID_ADDRESS', `invalid address ${JSON.stringify(address)}: ${reason}`)
    this.address = address
  }
}

function listOrNone(names: readonly string[]): string {
  return names.length === 0 ? 'no nodes' : names.join(', ')
}
