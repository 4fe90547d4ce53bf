/**
 * `clawmesh federation secret` prints a fresh private-network secret;
 * `clawmesh federation keygen [--out FILE]` makes a federation key pair.
 */
import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { ClawmeshError, errorMessage } from '../errors.js'
import { generateFederationKey } from '../identity/federation-key.js'
import { generateSecret } from '../identity/psk.js'
import { printError, printLine } from './output.js'

/** A sub-command used wrongly (code `USAGE`). */
export class CommandUsageError extends ClawmeshError {
  static override name = 'CommandUsageError'
  constructor(message: string) {
    super('USAGE', message)
  }
}

/** A file a command cannot read or write (`FILE_ACCESS`), or will not overwrite (`FILE_EXISTS`). */
export class CommandFileError extends ClawmeshError {
  static override name = 'CommandFileError'
  constructor(code: 'FILE_ACCESS' | 'FILE_EXISTS', message: string, options?: ErrorOptions) {
    super(code, message, options)
  }
}

/** Usage of `clawmesh federation`. */
export const federationUsage = `Usage:
  clawmesh federation secret                 print a fresh private-network secret (for federation.secret)
  clawmesh federation keygen [--out FILE]    make a federation key pair (private key to FILE, mode 0600)`

/** Runs `clawmesh federation <secret|keygen>` with `args` after `federation`. */
export async function runFederation(args: string[]): Promise<void> {
  const [sub, ...rest] = args
  if (sub === 'secret') {
    parseArgs({ args: rest, options: {}, strict: true })
    printLine(generateSecret())
    return
  }
  if (sub === 'keygen') {
    const { values } = parseArgs({ args: rest, options: { out: { type: 'string' } }, strict: true })
    await keygen(values.out)
    return
  }
  throw new CommandUsageError(
    `${sub === undefined ? 'missing sub-command' : `unknown sub-command "${sub}"`}\n${federationUsage}`,
  )
}

async function keygen(out: string | undefined): Promise<void> {
  const pair = generateFederationKey()
  if (out === undefined) {
    printError(
      'warning: no --out FILE: the PRIVATE key is printed below; store it somewhere safe, not on the hosts',
    )
    printLine(`private key: ${pair.privateKey}`)
    printLine(`public key: ${pair.publicKey}`)
    return
  }
  try {
    // `wx`: never overwrite a key (losing the old private key locks the federation out of its manifest).
    await writeFile(out, `${pair.privateKey}\n`, { mode: 0o600, flag: 'wx' })
  } catch (error) {
    const exists = (error as NodeJS.ErrnoException).code === 'EEXIST'
    throw exists
      ? new CommandFileError('FILE_EXISTS', `${out} already exists; not overwriting a key`, { cause: error })
      : new CommandFileError('FILE_ACCESS', `cannot write ${out}: ${errorMessage(error)}`, { cause: error })
  }
  printError(`private key written to ${out} (mode 0600); put the public key in federation.key:`)
  printLine(pair.publicKey)
}
