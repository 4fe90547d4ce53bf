import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { generateFederationKey, signManifestText } from './federation-key.js'
import { isNewerManifest, manifestAdoption, type VersionedManifest } from './manifest-version.js'

const key = generateFederationKey()

function text(federationKey: string, trust = 'low'): string {
  return `federation:\n  key: ${federationKey}\n  nodes:\n    - name: a\n      address: a:1\n      trust: ${trust}\n`
}

/** What `parseManifest` would return for these fields (no interpolation in these texts). */
function loaded(signed: string): VersionedManifest {
  return parse(signed) as VersionedManifest
}

describe('isNewerManifest', () => {
  it('orders by version; a missing version precedes every version; equal is not newer', () => {
    expect(isNewerManifest({ version: 1 }, { version: 2 })).toBe(true)
    expect(isNewerManifest({ version: 2 }, { version: 2 })).toBe(false)
    expect(isNewerManifest({ version: 3 }, { version: 2 })).toBe(false)
    expect(isNewerManifest({}, { version: 0 })).toBe(true)
    expect(isNewerManifest({ version: 1 }, {})).toBe(false)
    expect(isNewerManifest({}, {})).toBe(false)
  })
})

describe('manifestAdoption', () => {
  const v1 = signManifestText(text(key.publicKey), key.privateKey)
  const current = loaded(v1)

  it('adopts a newer manifest signed by the same federation key', () => {
    const v2 = signManifestText(text(key.publicKey, 'high'), key.privateKey, { version: 2 })
    expect(manifestAdoption(current, loaded(v2), v2)).toEqual({ adopt: true, rotatesKey: false })
  })

  it('refuses the same or an older version (no replay of old manifests)', () => {
    expect(manifestAdoption(current, current, v1)).toMatchObject({ adopt: false, reason: 'not-newer' })
    const v5 = loaded(signManifestText(text(key.publicKey), key.privateKey, { version: 5 }))
    expect(manifestAdoption(v5, current, v1)).toMatchObject({ adopt: false, reason: 'not-newer' })
  })

  it('refuses a member rotating the key by itself: a newer manifest under its own key', () => {
    const member = generateFederationKey()
    const forged = signManifestText(text(member.publicKey, 'high'), member.privateKey, { version: 99 })
    expect(manifestAdoption(current, loaded(forged), forged)).toMatchObject({
      adopt: false,
      reason: 'not-signed-by-current-key',
    })
  })

  it('refuses a newer manifest that drops federation.key', () => {
    const dropped = `federation:\n  nodes:\n    - name: a\n      address: a:1\n      trust: high\nversion: 9\n`
    expect(manifestAdoption(current, loaded(dropped), dropped)).toMatchObject({
      adopt: false,
      reason: 'candidate-unsigned',
    })
  })

  it('adopts a rotation signed by the new key and endorsed by the current one', () => {
    const next = generateFederationKey()
    const rotated = signManifestText(text(next.publicKey), next.privateKey, {
      version: 2,
      endorsingKeys: [key.privateKey],
    })
    expect(manifestAdoption(current, loaded(rotated), rotated)).toEqual({ adopt: true, rotatesKey: true })
    // After the rotation, the old key alone can no longer change the manifest.
    const stale = signManifestText(text(key.publicKey), key.privateKey, { version: 3 })
    expect(manifestAdoption(loaded(rotated), loaded(stale), stale)).toMatchObject({
      adopt: false,
      reason: 'not-signed-by-current-key',
    })
  })

  it('refuses a rotation the new key did not sign (only the current key did)', () => {
    const next = generateFederationKey()
    // `${NEXT_KEY}` keeps signManifestText from checking the signer against federation.key.
    const endorsedOnly = signManifestText(text('$' + '{NEXT_KEY}'), key.privateKey, { version: 2 })
    const candidate: VersionedManifest = { version: 2, federation: { key: next.publicKey } }
    expect(manifestAdoption(current, candidate, endorsedOnly)).toMatchObject({
      adopt: false,
      reason: 'not-signed-by-own-key',
    })
  })

  it('without a current federation.key nothing is adopted over the mesh', () => {
    const unsigned: VersionedManifest = { federation: {} }
    expect(manifestAdoption(unsigned, current, v1)).toMatchObject({
      adopt: false,
      reason: 'current-unsigned',
    })
  })
})
