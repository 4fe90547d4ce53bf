import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { loadManifest } from './load.js'
import { controlPlaneNodeName, soulSensitivity } from './resolve.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const copies = {
  'examples/ (repo copy)': path.join(repoRoot, 'examples', 'claworc-federation.yaml'),
  '../shared/examples/ (original)': path.resolve(
    repoRoot,
    '..',
    'shared',
    'examples',
    'claworc-federation.yaml',
  ),
}

describe('claworc-federation.yaml', () => {
  it('the repo copy is byte-for-byte the shared original', async () => {
    const [copy, original] = await Promise.all(Object.values(copies).map((file) => readFile(file)))
    expect(copy?.equals(original!)).toBe(true)
  })

  for (const [label, file] of Object.entries(copies)) {
    it(`loads unchanged from ${label}`, async () => {
      const manifest = await loadManifest(file, { env: {} })
      expect(
        manifest.federation.nodes.map((node) => ({
          name: node.name,
          address: node.address,
          souls: node.souls,
          trust: node.trust,
        })),
      ).toEqual([
        {
          name: 'home',
          address: 'home.example.com:8082',
          souls: ['inbox-triage', 'finance-bookkeeper'],
          trust: 'high',
        },
        {
          name: 'vps-public',
          address: 'vps.example.com:8082',
          souls: ['weather-brief', 'social-summary'],
          trust: 'low',
        },
        {
          name: 'vps-fast',
          address: 'oncall.example.com:8082',
          souls: ['escalation-router'],
          trust: 'medium',
        },
      ])
      expect(manifest.federation.control_plane).toBe('home.example.com:8081')
      expect(controlPlaneNodeName(manifest)).toBe('home')
      expect(soulSensitivity(manifest, 'finance-bookkeeper')).toBe('high')
      expect(soulSensitivity(manifest, 'weather-brief')).toBe('low')
      expect(soulSensitivity(manifest, 'escalation-router')).toBe('medium')
    })
  }
})
