import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest'
import { federationPublicKeyOf } from '../identity/federation-key.js'
import { secretToPsk } from '../identity/psk.js'
import { CommandFileError, CommandUsageError, runFederation } from './federation-command.js'

describe('clawmesh federation', () => {
  let directory: string
  let stdout: MockInstance
  let stderr: MockInstance
  const written = (spy: MockInstance): string => spy.mock.calls.map(([chunk]) => String(chunk)).join('')

  beforeEach(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'clawmesh-federation-'))
    stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
  })
  afterEach(async () => {
    vi.restoreAllMocks()
    await rm(directory, { recursive: true, force: true })
  })

  it('secret prints one line that secretToPsk accepts', async () => {
    await runFederation(['secret'])
    const output = written(stdout)
    expect(output).toMatch(/^[0-9a-f]{64}\n$/)
    expect(new TextDecoder().decode(secretToPsk(output))).toContain('/key/swarm/psk/1.0.0/')
  })

  it('keygen --out writes the private key with mode 0600 and prints the public key', async () => {
    const file = path.join(directory, 'federation.key')
    await runFederation(['keygen', '--out', file])
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const privateKey = (await readFile(file, 'utf8')).trim()
    expect(privateKey).toMatch(/^clawmesh-fed-sk-/)
    expect(written(stdout)).toBe(`${federationPublicKeyOf(privateKey)}\n`)
    expect(written(stdout)).not.toContain(privateKey)
  })

  it('keygen never overwrites an existing key file', async () => {
    const file = path.join(directory, 'federation.key')
    await runFederation(['keygen', '--out', file])
    const before = await readFile(file, 'utf8')
    await expect(runFederation(['keygen', '--out', file])).rejects.toSatisfy(
      (error) => error instanceof CommandFileError && error.code === 'FILE_EXISTS',
    )
    expect(await readFile(file, 'utf8')).toBe(before)
  })

  it('keygen without --out prints both keys and warns on stderr', async () => {
    await runFederation(['keygen'])
    const lines = written(stdout).trim().split('\n')
    const privateKey = lines[0]!.replace('private key: ', '')
    expect(lines[1]).toBe(`public key: ${federationPublicKeyOf(privateKey)}`)
    expect(written(stderr)).toContain('warning')
  })

  it('refuses unknown sub-commands and options with USAGE', async () => {
    await expect(runFederation([])).rejects.toBeInstanceOf(CommandUsageError)
    await expect(runFederation(['rotate'])).rejects.toMatchObject({ code: 'USAGE' })
    await expect(runFederation(['secret', '--bits', '128'])).rejects.toMatchObject({
      code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION',
    })
  })
})
