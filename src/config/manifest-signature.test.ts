// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are manifest text with literal ${VAR}
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { generateFederationKey, signManifestText } from '../identity/federation-key.js'
import { generateSecret } from '../identity/psk.js'
import { ManifestError } from './errors.js'
import { loadManifest, parseManifest } from './load.js'

const key = generateFederationKey()

function manifestText(federationKey: string = key.publicKey): string {
  return [
    'federation:',
    `  key: ${federationKey}`,
    '  secret: ${FED_SECRET}',
    '  nodes:',
    '    - name: home',
    '      address: ${HOME_ADDRESS}',
    '      trust: high',
    '    - name: vps',
    '      address: vps.example.com:8082',
    '      trust: low',
    '',
  ].join('\n')
}

const env = { FED_SECRET: generateSecret(), HOME_ADDRESS: 'home.example.com:8082' }

function loadError(text: string, environment: NodeJS.ProcessEnv = env): ManifestError {
  try {
    parseManifest(text, 'clawmesh.yaml', { env: environment })
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestError)
    return error as ManifestError
  }
  throw new ManifestError([
    { file: '', line: undefined, field: '', message: 'expected parseManifest to throw' },
  ])
}

describe('manifest signature on load', () => {
  it('accepts a signed manifest and returns the interpolated values and the version', () => {
    const manifest = parseManifest(signManifestText(manifestText(), key.privateKey), 'clawmesh.yaml', { env })
    expect(manifest.version).toBe(1)
    expect(manifest.federation.secret).toBe(env.FED_SECRET)
    expect(manifest.federation.nodes[0]?.address).toBe('home.example.com:8082')
  })

  it('signs the text before interpolation: other hosts with other secrets load the same signed file', () => {
    const signed = signManifestText(manifestText(), key.privateKey)
    const other = { FED_SECRET: generateSecret(), HOME_ADDRESS: '10.0.0.2:8082' }
    expect(parseManifest(signed, 'clawmesh.yaml', { env: other }).federation.secret).toBe(other.FED_SECRET)
  })

  it('refuses an unsigned manifest when federation.key is set, at the signature field', () => {
    const error = loadError(manifestText())
    expect(error.field).toBe('signature')
    expect(error.line).toBe(1)
    expect(error.issues).toHaveLength(1)
    expect(error.message).toBe('clawmesh.yaml:1 signature: manifest is not signed but federation.key is set')
  })

  it('refuses a tampered manifest at the signature line', () => {
    const signed = signManifestText(manifestText(), key.privateKey)
    const tampered = signed.replace('trust: low', 'trust: high')
    const error = loadError(tampered)
    expect(error.field).toBe('signature')
    const signatureLine = tampered.split('\n').findIndex((line) => line.startsWith('signature:')) + 1
    expect(error.line).toBe(signatureLine)
    expect(error.message).toBe(
      `clawmesh.yaml:${signatureLine} signature: signature does not match federation.key`,
    )
  })

  it('reports tampering before schema problems: one character of a trust level changed', () => {
    const signed = signManifestText(manifestText(), key.privateKey)
    const error = loadError(signed.replace('trust: low', 'trust: lov'))
    expect(error.issues).toHaveLength(1)
    expect(error.message).toContain('signature: signature does not match federation.key')
  })

  it('refuses a manifest re-signed by another key but claiming the federation key', () => {
    const attacker = generateFederationKey()
    const forged = signManifestText(manifestText(attacker.publicKey), attacker.privateKey).replace(
      attacker.publicKey,
      key.publicKey,
    )
    expect(loadError(forged).message).toContain('signature does not match federation.key')
  })

  it('reports a malformed federation.key at its own line', () => {
    const error = loadError(manifestText('clawmesh-fed-pk-nonsense!'))
    expect(error.field).toBe('federation.key')
    expect(error.line).toBe(2)
    expect(error.message).toContain('not a federation public key')
  })

  it('loads files the same way (loadManifest)', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'clawmesh-signature-'))
    try {
      const file = path.join(directory, 'clawmesh.yaml')
      await writeFile(file, signManifestText(manifestText(), key.privateKey, { version: 7 }))
      expect((await loadManifest(file, { env })).version).toBe(7)
      await writeFile(file, manifestText())
      await expect(loadManifest(file, { env })).rejects.toThrow(
        `${file}:1 signature: manifest is not signed but federation.key is set`,
      )
    } finally {
      await rm(directory, { recursive: true, force: true })
    }
  })

  it('a manifest without federation.key needs no signature', () => {
    const text = manifestText().replace(`  key: ${key.publicKey}\n`, '')
    expect(parseManifest(text, 'clawmesh.yaml', { env }).federation.key).toBeUndefined()
  })
})
