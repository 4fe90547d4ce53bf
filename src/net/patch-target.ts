/**
 * Install-time checks shared by the runtime patches (`stack-patches.ts`, `pnet-cipher-fix.ts`):
 * each patch names what it replaces or relies on, and refuses to install, loudly, when a package
 * update renamed or removed it, instead of silently patching nothing.
 */
import { ClawmeshError } from '../errors.js'

/** A runtime patch's target (a function, prototype or property of a pinned package) is gone. */
export class StackPatchStaleError extends ClawmeshError {
  static override name = 'StackPatchStaleError'
  /** The patch that could not be installed, e.g. `yamux window updates`. */
  readonly patch: string
  /** What it looked for, e.g. `YamuxStream.prototype.sendWindowUpdate`. */
  readonly target: string

  constructor(patch: string, target: string, found: string) {
    super(
      'STACK_PATCH_STALE',
      `runtime patch "${patch}" cannot be installed: ${target} is ${found}; the patched package changed, ` +
        'check the patch against its new version (docs/upstream/)',
    )
    this.patch = patch
    this.target = target
  }
}

function describe(value: unknown): string {
  return value === undefined
    ? 'missing'
    : `a ${value === null ? 'null' : typeof value}, not what the patch expects`
}

/** `owner[key]` when it is a function, else throws `StackPatchStaleError` naming `target`. */
export function requireFunction<T extends (...args: never[]) => unknown>(
  patch: string,
  target: string,
  owner: unknown,
  key: PropertyKey,
): T {
  const value =
    owner === null || owner === undefined ? undefined : (owner as Record<PropertyKey, unknown>)[key]
  if (typeof value !== 'function') throw new StackPatchStaleError(patch, target, describe(value))
  return value as T
}

/** Throws `StackPatchStaleError` naming `target` unless `owner[key]` has the type `type`. */
export function requireProperty(
  patch: string,
  target: string,
  owner: unknown,
  key: PropertyKey,
  type: 'number' | 'object' | 'function' | 'string',
): void {
  const value =
    owner === null || owner === undefined ? undefined : (owner as Record<PropertyKey, unknown>)[key]
  if (typeof value !== type || value === null) throw new StackPatchStaleError(patch, target, describe(value))
}
