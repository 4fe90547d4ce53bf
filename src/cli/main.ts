#!/usr/bin/env node
/**
 * The `clawmesh` command. Parses arguments, runs one sub-command, maps named
 * errors to a one-line message and exit code 1 (2 for usage errors).
 */
import { readFile } from 'node:fs/promises'
import { homedir, hostname } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadManifest, standaloneManifest } from '../config/index.js'
import { ClawmeshError, errorMessage } from '../errors.js'
import { loadOrCreatePeerKey } from '../identity/peer-key.js'
import { createPeer } from '../peer.js'
import { printError, printLine } from './output.js'

/** A usage error (exit code 2). */
export class UsageError extends ClawmeshError {
  static override name = 'UsageError'
  constructor(message: string) {
    super('USAGE', message)
  }
}

const usage = `Usage:
  clawmesh start [--manifest FILE --node NAME] [--data-dir DIR] [--listen ADDR] [--bootstrap ADDR]... [--api HOST:PORT]
  clawmesh status [--api URL] [--json] [--watch]
  clawmesh chat --soul NAME [--model BACKEND[/MODEL]] [--api URL] PROMPT
  clawmesh id [--data-dir DIR]
  clawmesh demo [--data-dir DIR] [--no-ollama] [--ollama URL]
  clawmesh federation secret | keygen [--out FILE]
  clawmesh manifest sign FILE --key KEYFILE [--endorse OLDKEY]... [--version N] [--out FILE] | verify FILE | push FILE [--api URL]
`

const defaultDataDir = (): string => join(homedir(), '.clawmesh')

async function start(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      manifest: { type: 'string' },
      node: { type: 'string' },
      'data-dir': { type: 'string' },
      listen: { type: 'string', multiple: true },
      bootstrap: { type: 'string', multiple: true },
      api: { type: 'string' },
    },
    strict: true,
  })
  if (values.manifest !== undefined && values.node === undefined)
    throw new UsageError('--manifest needs --node NAME')
  if (values.manifest === undefined && values.node !== undefined)
    throw new UsageError('--node needs --manifest FILE')
  const manifest =
    values.manifest === undefined ? standaloneManifest(hostname()) : await loadManifest(values.manifest)
  const manifestText = values.manifest === undefined ? undefined : await readFile(values.manifest, 'utf8')
  const nodeName = values.node ?? manifest.federation.nodes[0]!.name
  const peer = await createPeer({
    manifest,
    node: nodeName,
    dataDir: values['data-dir'] ?? defaultDataDir(),
    ...(manifestText === undefined ? {} : { manifestText }),
    ...(values.listen === undefined ? {} : { listen: values.listen }),
    ...(values.bootstrap === undefined ? {} : { bootstrap: values.bootstrap }),
    ...(values.api === undefined ? {} : { api: values.api }),
  })
  printLine(`clawmesh peer "${peer.name}" started`)
  printLine(`peer id: ${peer.peerId}`)
  for (const addr of peer.multiaddrs()) printLine(`listening: ${addr}`)
  if (peer.apiUrl !== undefined) printLine(`api: ${peer.apiUrl}`)
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  printLine('stopping')
  await peer.stop()
}

async function id(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { 'data-dir': { type: 'string' } }, strict: true })
  const identity = await loadOrCreatePeerKey(values['data-dir'] ?? defaultDataDir())
  printLine(identity.peerId.toString())
}

async function status(args: string[]): Promise<void> {
  const { runStatus } = await import('./status-command.js')
  await runStatus(args)
}

async function chat(args: string[]): Promise<void> {
  const { runChat } = await import('./chat-command.js')
  await runChat(args)
}

async function federation(args: string[]): Promise<void> {
  const { runFederation } = await import('./federation-command.js')
  await runFederation(args)
}

async function manifestCommand(args: string[]): Promise<void> {
  const { runManifest } = await import('./manifest-command.js')
  await runManifest(args)
}

const commands: Record<string, (args: string[]) => Promise<void>> = {
  start,
  id,
  status,
  chat,
  federation,
  manifest: manifestCommand,
  demo: async (args) => (await import('./demo-command.js')).runDemo(args),
}

/** Runs the CLI with `argv` (without node and script). */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    printLine(usage)
    return command === undefined ? 2 : 0
  }
  const run = commands[command]
  if (run === undefined) {
    printError(`clawmesh: unknown command "${command}"\n${usage}`)
    return 2
  }
  try {
    await run(rest)
    return 0
  } catch (error) {
    const code = (error as { code?: string }).code
    if (error instanceof UsageError || code === 'USAGE' || code?.startsWith('ERR_PARSE_ARGS')) {
      printError(`clawmesh ${command}: ${errorMessage(error)}\n${usage}`)
      return 2
    }
    printError(`clawmesh ${command}: ${errorMessage(error)}`)
    return 1
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
    // libp2p may leave sockets closing; do not wait on them after a clean stop.
    setTimeout(() => process.exit(code), 200).unref()
  },
  (error: unknown) => {
    printError(`clawmesh: ${errorMessage(error)}`)
    process.exit(1)
  },
)
