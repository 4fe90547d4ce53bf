import { describe, expect, it } from 'vitest'
import { type OwnerCandidate, rankOwners } from './select-owner.js'

const owner = (name: string, fields: Partial<OwnerCandidate> = {}): OwnerCandidate => ({
  peerId: `peer-${name}`,
  name,
  trust: 'high',
  connected: false,
  ...fields,
})

describe('rankOwners', () => {
  it('drops owners below the sensitivity and reports the rule for each', () => {
    const { eligible, refused } = rankOwners(
      [owner('home'), owner('vps-public', { trust: 'low' }), owner('vps-fast', { trust: 'medium' })],
      { sensitivity: 'medium', soul: 'inbox-triage' },
    )
    expect(eligible.map((candidate) => candidate.name)).toEqual(['home', 'vps-fast'])
    expect(refused).toHaveLength(1)
    expect(refused[0]?.error.code).toBe('TRUST_SENSITIVITY')
    expect(refused[0]?.error.message).toContain('vps-public (trust low)')
  })

  it('drops owners whose backend requires more trust than the caller has', () => {
    const { eligible, refused } = rankOwners([owner('a', { backendMinTrust: 'high' }), owner('b')], {
      sensitivity: 'low',
      callerTrust: 'medium',
      caller: 'vps-fast',
      backend: 'gpu',
    })
    expect(eligible.map((candidate) => candidate.name)).toEqual([])
    expect(refused.map((entry) => entry.error.code)).toEqual(['TRUST_MIN_TRUST', 'TRUST_MIN_TRUST'])
    const allowed = rankOwners([owner('a', { backendMinTrust: 'medium' })], {
      sensitivity: 'low',
      callerTrust: 'medium',
    })
    expect(allowed.eligible).toHaveLength(1)
  })

  it('orders healthy, unknown, unhealthy; then least in flight; then connected; then peer ID', () => {
    const { eligible } = rankOwners(
      [
        owner('sick', { healthy: false }),
        owner('unknown'),
        owner('busy', { healthy: true, inFlight: 5 }),
        owner('z-idle', { healthy: true, inFlight: 0 }),
        owner('connected', { healthy: true, inFlight: 0, connected: true }),
        owner('a-idle', { healthy: true, inFlight: 0 }),
      ],
      { sensitivity: 'low' },
    )
    expect(eligible.map((candidate) => candidate.name)).toEqual([
      'connected',
      'a-idle',
      'z-idle',
      'busy',
      'unknown',
      'sick',
    ])
  })
})
