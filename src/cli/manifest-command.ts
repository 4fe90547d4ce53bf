/**
 * `clawmesh manifest sign FILE --key KEYFILE [--endorse KEYFILE]... [--version N] [--out FILE]`
 * stamps a version and signs; `clawmesh manifest verify FILE` checks the
 * signature against the manifest's own `federation.key` and prints the version.
 */
import { randomBytes } from 'node:crypto'
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { parse } from 'yaml'
import { verifyManifestSignature } from '../config/manifest-signature.js'
import { ClawmeshError, errorMessage } from '../errors.js'
import { signManifestText } from '../identity/federation-key.js'
import { CommandFileError, CommandUsageError } from './federation-command.js'
import { printError, printLine } from './output.js'

/** Usage of `clawmesh manifest`. */
export const manifestUsage = `Usage:
  clawmesh manifest sign FILE --key KEYFILE [--endorse OLD_KEYFILE] [--version N] [--out FILE]
      stamp a version (default: previous + 1) and sign; rewrites FILE unless --out;
      --endorse adds the old key's signature when federation.key is being rotated
  clawmesh manifest verify FILE
      check the signature against the manifest's federation.key and print the version
  clawmesh manifest push FILE [--api URL]
      hand a newer signed manifest to a running peer (default http://127.0.0.1:8081);
      it checks it, adopts it and spreads it to the federation`

/** Runs `clawmesh manifest <sign|verify>` with `args` after `manifest`. */
export async function runManifest(args: string[]): Promise<void> {
  const [sub, ...rest] = args
  if (sub === 'sign') return sign(rest)
  if (sub === 'verify') return verify(rest)
  if (sub === 'push') return push(rest)
  throw new CommandUsageError(
    `${sub === undefined ? 'missing sub-command' : `unknown sub-command "${sub}"`}\n${manifestUsage}`,
  )
}

/** A peer refused a pushed manifest (or could not be reached). */
export class ManifestPushError extends ClawmeshError {
  static override name = 'ManifestPushError'
  constructor(code: string, message: string) {
    super(code, message)
  }
}

async function push(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: { api: { type: 'string', default: 'http://127.0.0.1:8081' } },
  })
  const file = singleFile(positionals, 'push')
  const api = values.api.includes('://') ? values.api : `http://${values.api}`
  const text = await readText(file)
  let response: Response
  try {
    response = await fetch(new URL('/manifest', api), {
      method: 'POST',
      headers: { 'content-type': 'application/yaml' },
      body: text,
      signal: AbortSignal.timeout(10_000),
    })
  } catch (error) {
    throw new ManifestPushError('PEER_UNREACHABLE', `cannot reach ${api}: ${(error as Error).message}`)
  }
  const body = (await response.json().catch(() => ({}))) as {
    version?: number
    error?: { code?: string; message?: string }
  }
  if (!response.ok) {
    throw new ManifestPushError(
      body.error?.code ?? 'MANIFEST_REFUSED',
      body.error?.message ?? `HTTP ${response.status}`,
    )
  }
  printLine(
    `adopted manifest version ${body.version ?? '?'} at ${api}; it spreads to the federation over gossip`,
  )
}

async function sign(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      key: { type: 'string' },
      endorse: { type: 'string', multiple: true },
      version: { type: 'string' },
      out: { type: 'string' },
    },
  })
  const file = singleFile(positionals, 'sign')
  if (values.key === undefined)
    throw new CommandUsageError(`manifest sign needs --key KEYFILE\n${manifestUsage}`)
  let version: number | undefined
  if (values.version !== undefined) {
    version = /^[0-9]+$/.test(values.version) ? Number(values.version) : Number.NaN
    if (!Number.isSafeInteger(version))
      throw new CommandUsageError(`--version must be a non-negative integer, got ${values.version}`)
  }
  const privateKey = await readKeyFile(values.key)
  const endorsingKeys = await Promise.all((values.endorse ?? []).map(readKeyFile))
  const text = await readText(file)
  const signed = signManifestText(text, privateKey, {
    ...(version === undefined ? {} : { version }),
    endorsingKeys,
  })
  const out = values.out ?? file
  await writeAtomically(out, signed)
  const stamped = (parse(signed) as { version?: unknown }).version
  printLine(`signed ${out}: version ${String(stamped)}`)
}

async function verify(args: string[]): Promise<void> {
  const { positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: {} })
  const file = singleFile(positionals, 'verify')
  // Only the signature: the other `${VAR}`s are the hosts' secrets, which an administrator may not have.
  const { version } = verifyManifestSignature(await readText(file), file)
  printLine(`${file}: signature ok, version ${version ?? 'none'}`)
}

function singleFile(positionals: string[], sub: string): string {
  const [file, ...extra] = positionals
  if (file === undefined || extra.length > 0)
    throw new CommandUsageError(`manifest ${sub} takes exactly one FILE\n${manifestUsage}`)
  return file
}

async function readKeyFile(file: string): Promise<string> {
  let mode: number
  try {
    mode = (await stat(file)).mode & 0o777
  } catch (error) {
    throw new CommandFileError('FILE_ACCESS', `cannot read key file ${file}: ${errorMessage(error)}`, {
      cause: error,
    })
  }
  if ((mode & 0o077) !== 0)
    printError(`warning: key file ${file} is readable by others (mode ${mode.toString(8)}); chmod 600 it`)
  return (await readText(file)).trim()
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (error) {
    throw new CommandFileError('FILE_ACCESS', `cannot read ${file}: ${errorMessage(error)}`, { cause: error })
  }
}

/** Writes via a temporary file and rename, so a crash never leaves half a manifest; keeps the file mode. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const temporary = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}.tmp`)
  let mode = 0o644
  try {
    mode = (await stat(file)).mode & 0o777
  } catch {
    // A new file: default mode.
  }
  try {
    await writeFile(temporary, text, { mode, flag: 'wx' })
    await rename(temporary, file)
  } catch (error) {
    await rm(temporary, { force: true })
    throw new CommandFileError('FILE_ACCESS', `cannot write ${file}: ${errorMessage(error)}`, {
      cause: error,
    })
  }
}
