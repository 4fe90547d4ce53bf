import { describe, expect, it } from 'vitest'
import { TrustError } from './errors.js'
import { checkCallerAllowed, checkSoulMayUse } from './trust-policy.js'

function thrown(run: () => void): TrustError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(TrustError)
    return error as TrustError
  }
  throw new Error('expected a TrustError')
}

describe('checkSoulMayUse (data rule)', () => {
  it('allows owners whose trust is at least the sensitivity', () => {
    expect(() => checkSoulMayUse({ soulSensitivity: 'medium', ownerTrust: 'medium' })).not.toThrow()
    expect(() => checkSoulMayUse({ soulSensitivity: 'low', ownerTrust: 'high' })).not.toThrow()
  })

  it('refuses a lower-trust owner and names the rule plainly', () => {
    const error = thrown(() =>
      checkSoulMayUse({
        soul: 'inbox-triage',
        soulSensitivity: 'high',
        owner: 'vps-fast',
        ownerTrust: 'medium',
      }),
    )
    expect(error.code).toBe('TRUST_SENSITIVITY')
    expect(error.name).toBe('TrustError')
    expect(error.message).toBe(
      'soul "inbox-triage" (sensitivity high) may not send to vps-fast (trust medium)',
    )
  })
})

describe('checkCallerAllowed (resource rule)', () => {
  it('allows callers at or above min_trust', () => {
    expect(() => checkCallerAllowed({ callerTrust: 'high', backendMinTrust: 'high' })).not.toThrow()
    expect(() => checkCallerAllowed({ callerTrust: 'medium', backendMinTrust: 'low' })).not.toThrow()
  })

  it('refuses a caller below min_trust and names the rule plainly', () => {
    const error = thrown(() =>
      checkCallerAllowed({
        caller: 'vps-fast',
        callerTrust: 'medium',
        backend: 'gpu',
        owner: 'home',
        backendMinTrust: 'high',
      }),
    )
    expect(error.code).toBe('TRUST_MIN_TRUST')
    expect(error.message).toBe('vps-fast (trust medium) may not use backend "gpu" on home (min_trust high)')
  })
})
