import { describe, expect, it } from 'vitest'
import type { Heartbeat } from './heartbeat.js'
import { type MembershipEvent, MembershipView } from './membership.js'

const beat = (sequence: number, overrides: Partial<Heartbeat> = {}): Heartbeat => ({
  peerId: 'b',
  name: 'bee',
  epoch: 1,
  sequence,
  uptimeMs: 0,
  inFlight: 0,
  term: 0,
  ...overrides,
})

function setup() {
  let now = 0
  const view = new MembershipView({
    self: { peerId: 'a', name: 'ant', trust: 'high' },
    isMember: (peerId) => (peerId === 'b' ? { name: 'bee', trust: 'medium' } : undefined),
    suspectAfterMs: 300,
    deadAfterMs: 600,
    now: () => now,
  })
  const events: MembershipEvent[] = []
  view.subscribe((event) => events.push(event))
  return { view, events, advance: (ms: number) => (now += ms) }
}

describe('MembershipView', () => {
  it('goes alive → suspect → dead on silence and back to alive on a heartbeat', () => {
    const { view, events, advance } = setup()
    view.observe('b', beat(1, { inFlight: 2 }), { name: 'bee', trust: 'medium' })
    expect(view.get('b')).toMatchObject({ state: 'alive', name: 'bee', trust: 'medium', inFlight: 2 })
    advance(299)
    view.check()
    expect(view.get('b')?.state).toBe('alive')
    advance(1)
    view.check()
    expect(view.get('b')).toMatchObject({ state: 'suspect', lastSeenMs: 300 })
    advance(300)
    view.check()
    expect(view.get('b')?.state).toBe('dead')
    view.observe('b', beat(2), { name: 'bee', trust: 'medium' })
    expect(view.get('b')).toMatchObject({ state: 'alive', lastSeenMs: 0, recentReturns: 1, aliveForMs: 0 })
    const states = events.filter((event) => event.type === 'state').map((event) => event.to)
    expect(states).toEqual(['alive', 'suspect', 'dead', 'alive'])
  })

  it('treats a lost connection as a hint: sooner suspicion, never dead by itself', () => {
    const { view, advance } = setup()
    view.observe('b', beat(1), { name: 'bee', trust: 'medium' })
    view.connectionLost('b')
    expect(view.get('b')?.state).toBe('alive')
    advance(150)
    view.check()
    expect(view.get('b')?.state).toBe('suspect')
    advance(300)
    view.check()
    expect(view.get('b')?.state).toBe('suspect')
    advance(150)
    view.check()
    expect(view.get('b')?.state).toBe('dead')
  })

  it('lists self as alive with lastSeenMs 0 and converts backend ages to local timestamps', () => {
    const { view, advance } = setup()
    view.observe('b', beat(1, { backends: [{ name: 'ollama', ok: false, latencyMs: 5, ageMs: 1000 }] }), {
      name: 'bee',
      trust: 'medium',
    })
    advance(10_000)
    view.check()
    const snapshot = view.snapshot()
    expect(snapshot.map((member) => [member.name, member.state, member.self])).toEqual([
      ['ant', 'alive', true],
      ['bee', 'dead', false],
    ])
    expect(snapshot[0]?.lastSeenMs).toBe(0)
    const backend = snapshot[1]?.backends[0]
    expect(backend).toMatchObject({ name: 'ollama', ok: false, latencyMs: 5 })
    expect(Math.abs(Date.now() - 1000 - backend!.checkedAt)).toBeLessThan(200)
  })
})

describe('MembershipView with an adaptive heartbeat period', () => {
  it('scales suspect and dead timings from the period a peer announces, and back when it speeds up', () => {
    const { view, advance } = setup()
    // Base timings 300 / 600 ms; the peer announces a 1000 ms period: suspect after 3 × 1000, dead after 6 × 1000.
    view.observe('b', beat(1, { periodMs: 1000 }), { name: 'bee', trust: 'medium' })
    expect(view.get('b')).toMatchObject({ periodMs: 1000, suspectAfterMs: 3000 })
    advance(2999)
    view.check()
    expect(view.get('b')?.state).toBe('alive')
    advance(1)
    view.check()
    expect(view.get('b')?.state).toBe('suspect')
    advance(3000)
    view.check()
    expect(view.get('b')?.state).toBe('dead')
    // Promoted to the base interval: no period announced, the configured timings apply again.
    view.observe('b', beat(2), { name: 'bee', trust: 'medium' })
    expect(view.get('b')?.suspectAfterMs).toBe(300)
    expect(view.get('b')?.periodMs).toBeUndefined()
    advance(300)
    view.check()
    expect(view.get('b')?.state).toBe('suspect')
  })

  it('never judges a peer faster than the configured timings, and scales the connection hint too', () => {
    const { view, advance } = setup()
    view.observe('b', beat(1, { periodMs: 50 }), { name: 'bee', trust: 'medium' })
    expect(view.get('b')?.suspectAfterMs).toBe(300)
    view.observe('b', beat(2, { periodMs: 1000 }), { name: 'bee', trust: 'medium' })
    view.connectionLost('b')
    advance(1499)
    view.check()
    expect(view.get('b')?.state).toBe('alive')
    advance(1)
    view.check()
    expect(view.get('b')?.state).toBe('suspect')
    expect(view.aliveCount()).toBe(1)
  })
})
