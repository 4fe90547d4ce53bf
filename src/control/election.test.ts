import { describe, expect, it } from 'vitest'
import { type ElectionCandidate, electLeader, rankCandidates } from './election.js'

const candidate = (peerId: string, overrides: Partial<ElectionCandidate> = {}): ElectionCandidate => ({
  peerId,
  name: `n-${peerId}`,
  trust: 'high',
  state: 'alive',
  stable: true,
  ...overrides,
})

describe('electLeader', () => {
  it('ranks preferred first, then higher trust, then the lowest peer ID', () => {
    const peers = [
      candidate('12D3b', { trust: 'medium' }),
      candidate('12D3c'),
      candidate('12D3d'),
      candidate('12D3a', { trust: 'medium' }),
    ]
    expect(rankCandidates(peers).map((c) => c.peerId)).toEqual(['12D3c', '12D3d', '12D3a', '12D3b'])
    expect(electLeader(peers)).toBe('12D3c')
    expect(electLeader(peers, { preferred: 'n-12D3b' })).toBe('12D3b')
    expect(electLeader(peers, { preferred: '12D3d' })).toBe('12D3d')
  })

  it('uses plain string order of peer IDs, not locale order', () => {
    expect(electLeader([candidate('12D3Za'), candidate('12D3aa')])).toBe('12D3Za')
  })

  it('ignores suspect and dead peers', () => {
    const peers = [candidate('a', { state: 'suspect' }), candidate('b', { state: 'dead' }), candidate('c')]
    expect(electLeader(peers)).toBe('c')
    expect(electLeader([candidate('a', { state: 'dead' })])).toBeUndefined()
  })

  it('bars low-trust peers unless allowed, but elects one when only low-trust peers are alive', () => {
    const peers = [candidate('a', { trust: 'low' }), candidate('b', { trust: 'medium' })]
    expect(electLeader(peers)).toBe('b')
    expect(electLeader(peers, { preferred: 'n-a' })).toBe('b')
    expect(electLeader(peers, { preferred: 'n-a', allowLowTrustLeader: true })).toBe('a')
    expect(electLeader([candidate('a', { trust: 'low' }), candidate('b', { state: 'dead' })])).toBe('a')
  })

  it('keeps a sitting leader against a better but not yet stable peer', () => {
    const peers = [candidate('a', { stable: false }), candidate('b')]
    expect(electLeader(peers, { sitting: 'b' })).toBe('b')
    expect(electLeader(peers)).toBe('a')
    // A sitting leader that is gone is replaced at once, stable or not.
    const gone = [candidate('a', { stable: false }), candidate('b', { state: 'suspect' })]
    expect(electLeader(gone, { sitting: 'b' })).toBe('a')
    expect(electLeader([candidate('a'), candidate('b')], { sitting: 'b' })).toBe('a')
  })
})
