import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { loadManifest } from './load.js'
import { controlPlaneNodeName, soulSensitivity } from './resolve.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const exampleFile = path.join(repoRoot, 'examples', 'claworc-federation.yaml')
/**
 * SHA-256 of the federation file users start from, as published with the
 * design. The repository keeps its own copy (it reads nothing outside its
 * tree); the hash proves the copy is the original, byte for byte.
 */
const ORIGINAL_SHA256 = '85019d9f9e414959e938ff0a889a4f1bcdbc987a6d3b0ca34ee0738a5691e917'
const copies = { 'examples/': exampleFile }

describe('claworc-federation.yaml', () => {
  it('the repo copy is byte-for-byte the published original', async () => {
    const digest = createHash('sha256')
      .update(await readFile(exampleFile))
      .digest('hex')
    expect(digest).toBe(ORIGINAL_SHA256)
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
