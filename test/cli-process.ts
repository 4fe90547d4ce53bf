/**
 * Helpers for end-to-end tests that run the real `clawmesh` command as OS
 * processes (built output in dist/, so `npm test` builds first).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'

/** The repository root. */
export const repoRoot = resolve(import.meta.dirname, '..')
/** The built CLI entry. */
export const cliPath = join(repoRoot, 'dist', 'cli', 'main.js')

/** A running `clawmesh` process with its output collected. */
export interface CliProcess {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Spawns `clawmesh ...args` with the Node running the tests. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` (npm test does)`)
  const child = spawn(process.execPath, [cliPath, ...args], {
    env: { ...process.env, CLAWMESH_LOG: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  return { child, stdout: () => stdout, stderr: () => stderr, exited }
}

/** Waits until `check` holds, polling every 50 ms. */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const started = Date.now()
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * A TCP port free on 127.0.0.1 right now, chosen below the kernel's ephemeral
 * range (32768+) so an outgoing connection cannot take it before the test binds it.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    if (taken.has(port)) continue
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer()
      server.once('error', () => resolve(false))
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
    })
    if (free) {
      taken.add(port)
      return port
    }
  }
}

/** Ports handed out by this process, never handed out twice. */
const taken = new Set<number>()
