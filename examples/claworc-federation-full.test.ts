import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { controlPlaneNodeName, loadManifest, soulSensitivity } from '../src/config/index.js'

const file = fileURLToPath(new URL('claworc-federation-full.yaml', import.meta.url))
const env = {
  CLAWMESH_FEDERATION_SECRET: 'not-a-real-secret-only-checked-for-presence',
  GEMINI_API_KEY: 'gemini-test-key',
  OPENAI_API_KEY: 'sk-test-key',
  ANTHROPIC_API_KEY: 'sk-ant-test-key',
}

describe('examples/claworc-federation-full.yaml', () => {
  it('loads with its key variables set: claworc shape, backends filled in, home preferred as Mission Control', async () => {
    const manifest = await loadManifest(file, { env })
    expect(manifest.federation.nodes.map((node) => [node.name, node.trust, node.souls])).toEqual([
      ['home', 'high', ['inbox-triage', 'finance-bookkeeper']],
      ['vps-public', 'low', ['weather-brief', 'social-summary']],
      ['vps-fast', 'medium', ['escalation-router']],
    ])
    expect(controlPlaneNodeName(manifest)).toBe('home')
    expect(manifest.federation.secret).toBe(env.CLAWMESH_FEDERATION_SECRET)
    const fast = manifest.federation.nodes[2]?.backends.find((backend) => backend.name === 'fast')
    expect(fast).toMatchObject({ type: 'openai-compatible', api_key: 'sk-test-key', min_trust: 'low' })
    expect(soulSensitivity(manifest, 'finance-bookkeeper')).toBe('high')
    expect(soulSensitivity(manifest, 'weather-brief')).toBe('low')
  })

  it('refuses to load when a key variable is unset, naming it', async () => {
    const { OPENAI_API_KEY: _unset, ...partial } = env
    await expect(loadManifest(file, { env: partial })).rejects.toThrow(/OPENAI_API_KEY/)
  })
})
