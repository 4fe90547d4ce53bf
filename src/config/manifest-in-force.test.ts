import { describe, expect, it } from 'vitest'
import { parseManifest } from './load.js'
import { ManifestInForce, RESTART_ONLY_SETTINGS, restartOnlyChanges } from './manifest-in-force.js'

const manifest = (extra: string) =>
  parseManifest(
    `federation:\n  nodes:\n    - name: home\n      address: 127.0.0.1:7000\n      souls: [a]\n      trust: high\n${extra}`,
    'test.yaml',
  )

describe('ManifestInForce', () => {
  it('tells every subscriber, in order, the new version and the one it replaced', () => {
    const first = { manifest: manifest(''), text: 'v1' }
    const second = { manifest: manifest('  control_plane: home\n'), text: 'v2' }
    const inForce = new ManifestInForce(first)
    const seen: string[] = []
    inForce.subscribe((next, previous) => seen.push(`a:${previous.text}->${next.text}`))
    const remove = inForce.subscribe((next) => seen.push(`b:${next.text}`))
    inForce.replace(second)
    expect(inForce.manifest).toBe(second.manifest)
    expect(inForce.current().text).toBe('v2')
    remove()
    inForce.replace(first)
    expect(seen).toEqual(['a:v1->v2', 'b:v2', 'a:v2->v1'])
  })

  it('names the restart-only settings a new version changes, and nothing else', () => {
    const before = manifest('  health:\n    heartbeat_interval_ms: 1000\n')
    const limitsOnly = manifest(
      '  health:\n    heartbeat_interval_ms: 1000\n  limits:\n    max_body_bytes: 10\n',
    )
    expect(restartOnlyChanges(before, limitsOnly, 'home')).toEqual([])
    const slower = manifest('  health:\n    heartbeat_interval_ms: 2000\n  secret: abc\n')
    expect(restartOnlyChanges(before, slower, 'home')).toEqual([
      'federation.secret (private-network key)',
      'federation.health.heartbeat_interval_ms',
    ])
    expect(RESTART_ONLY_SETTINGS.length).toBeGreaterThanOrEqual(6)
  })
})
