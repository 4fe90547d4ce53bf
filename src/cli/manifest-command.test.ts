// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are manifest text with literal ${VAR}
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest'
import { ManifestError } from '../config/errors.js'
import { loadManifest } from '../config/load.js'
import { generateSecret } from '../identity/psk.js'
import { runFederation } from './federation-command.js'
import { runManifest } from './manifest-command.js'

describe('clawmesh manifest', () => {
  let directory: string
  let stdout: MockInstance
  let stderr: MockInstance
  let keyFile: string
  let publicKey: string
  let manifestFile: string
  const env = { FED_SECRET: generateSecret() }
  const written = (spy: MockInstance): string => spy.mock.calls.map(([chunk]) => String(chunk)).join('')

  function manifestText(key: string): string {
    return [
      '# home federation',
      'federation:',
      `  key: ${key}`,
      '  secret: ${FED_SECRET}',
      '  nodes:',
      '    - name: home',
      '      address: home.example.com:8082',
      '      trust: high',
      '    - name: vps # public data only',
      '      address: vps.example.com:8082',
      '      trust: low',
      '',
    ].join('\n')
  }

  async function loadError(file: string): Promise<ManifestError> {
    try {
      await loadManifest(file, { env })
    } catch (error) {
      expect(error).toBeInstanceOf(ManifestError)
      return error as ManifestError
    }
    throw new ManifestError([{ file, line: undefined, field: '', message: 'expected loadManifest to throw' }])
  }

  beforeEach(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'clawmesh-manifest-'))
    stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    keyFile = path.join(directory, 'federation.key')
    await runFederation(['keygen', '--out', keyFile])
    publicKey = written(stdout).trim()
    stdout.mockClear()
    stderr.mockClear()
    manifestFile = path.join(directory, 'clawmesh.yaml')
    await writeFile(manifestFile, manifestText(publicKey))
  })
  afterEach(async () => {
    vi.restoreAllMocks()
    await rm(directory, { recursive: true, force: true })
  })

  it('sign rewrites the file in place; loadManifest accepts it; comments survive', async () => {
    await runManifest(['sign', manifestFile, '--key', keyFile])
    expect(written(stdout)).toBe(`signed ${manifestFile}: version 1\n`)
    expect(written(stderr)).toBe('')
    const manifest = await loadManifest(manifestFile, { env })
    expect(manifest.version).toBe(1)
    expect(manifest.federation.secret).toBe(env.FED_SECRET)
    const text = await readFile(manifestFile, 'utf8')
    expect(text).toContain('# public data only')
    expect(text).toContain('${FED_SECRET}')
  })

  it('sign again bumps the version; --version and --out are honoured', async () => {
    await runManifest(['sign', manifestFile, '--key', keyFile])
    await runManifest(['sign', manifestFile, '--key', keyFile])
    expect((await loadManifest(manifestFile, { env })).version).toBe(2)
    const out = path.join(directory, 'v10.yaml')
    await runManifest(['sign', manifestFile, '--key', keyFile, '--version', '10', '--out', out])
    expect((await loadManifest(out, { env })).version).toBe(10)
    expect((await loadManifest(manifestFile, { env })).version).toBe(2)
  })

  it('one character of a node trust edited after signing: loadManifest refuses it as tampered', async () => {
    await runManifest(['sign', manifestFile, '--key', keyFile])
    const signed = await readFile(manifestFile, 'utf8')
    await writeFile(manifestFile, signed.replace('trust: low', 'trust: lou'))
    const error = await loadError(manifestFile)
    expect(error.field).toBe('signature')
    expect(error.message).toContain('signature does not match federation.key')
    await expect(runManifest(['verify', manifestFile])).rejects.toThrow(
      'signature does not match federation.key',
    )
  })

  it('unsigned with federation.key: loadManifest and verify refuse it', async () => {
    const error = await loadError(manifestFile)
    expect(error.field).toBe('signature')
    expect(error.message).toContain('manifest is not signed but federation.key is set')
    await expect(runManifest(['verify', manifestFile])).rejects.toBeInstanceOf(ManifestError)
  })

  it('verify prints the version without needing the hosts secrets in the environment', async () => {
    await runManifest(['sign', manifestFile, '--key', keyFile, '--version', '3'])
    stdout.mockClear()
    expect(process.env.FED_SECRET).toBeUndefined()
    await runManifest(['verify', manifestFile])
    expect(written(stdout)).toBe(`${manifestFile}: signature ok, version 3\n`)
  })

  it('rotation: signed by the new key and endorsed by the old one, it loads under the new key', async () => {
    const nextKeyFile = path.join(directory, 'next.key')
    await runFederation(['keygen', '--out', nextKeyFile])
    const nextPublicKey = written(stdout).trim()
    await writeFile(manifestFile, manifestText(nextPublicKey))
    await runManifest(['sign', manifestFile, '--key', nextKeyFile, '--endorse', keyFile, '--version', '2'])
    const signature = (await loadManifest(manifestFile, { env })).signature ?? ''
    expect(signature.split(' ')).toHaveLength(2)
  })

  it('refuses to sign with a key that is not federation.key, and warns about a readable key file', async () => {
    const otherKeyFile = path.join(directory, 'other.key')
    await runFederation(['keygen', '--out', otherKeyFile])
    const before = await readFile(manifestFile, 'utf8')
    await expect(runManifest(['sign', manifestFile, '--key', otherKeyFile])).rejects.toMatchObject({
      code: 'FEDERATION_KEY_INVALID',
    })
    expect(await readFile(manifestFile, 'utf8')).toBe(before)
    await chmod(keyFile, 0o644)
    await runManifest(['sign', manifestFile, '--key', keyFile])
    expect(written(stderr)).toContain('readable by others')
  })

  it('keeps the manifest file mode when rewriting it in place', async () => {
    await chmod(manifestFile, 0o640)
    await runManifest(['sign', manifestFile, '--key', keyFile])
    expect((await stat(manifestFile)).mode & 0o777).toBe(0o640)
  })

  it('refuses bad usage with USAGE and missing files with FILE_ACCESS', async () => {
    await expect(runManifest([])).rejects.toMatchObject({ code: 'USAGE' })
    await expect(runManifest(['sign', manifestFile])).rejects.toMatchObject({ code: 'USAGE' })
    await expect(runManifest(['sign', manifestFile, '--key', keyFile, '--version=-1'])).rejects.toMatchObject(
      {
        code: 'USAGE',
      },
    )
    await expect(
      runManifest(['sign', manifestFile, '--key', keyFile, '--version', '1.5']),
    ).rejects.toMatchObject({
      code: 'USAGE',
    })
    await expect(runManifest(['verify'])).rejects.toMatchObject({ code: 'USAGE' })
    await expect(
      runManifest(['sign', manifestFile, '--key', path.join(directory, 'none')]),
    ).rejects.toMatchObject({
      code: 'FILE_ACCESS',
    })
  })
})
