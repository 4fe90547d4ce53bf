// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are manifest text with literal ${VAR}
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import {
  canonicalJson,
  FederationKeyError,
  federationPublicKeyOf,
  generateFederationKey,
  ManifestSignatureError,
  manifestSignedPayload,
  sameFederationKey,
  signManifestText,
  verifyManifestText,
} from './federation-key.js'

const key = generateFederationKey()

function manifest(federationKey = key.publicKey): string {
  return [
    '# the federation',
    'federation:',
    `  key: ${federationKey} # public`,
    '  secret: ${FED_SECRET}',
    '  nodes:',
    '    - name: home # the big box',
    '      address: home.example.com:8082',
    '      trust: high',
    '    - name: vps',
    '      address: vps.example.com:8082',
    '      trust: low',
    '',
  ].join('\n')
}

function signatureError(run: () => unknown): ManifestSignatureError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestSignatureError)
    expect((error as ManifestSignatureError).name).toBe('ManifestSignatureError')
    return error as ManifestSignatureError
  }
  throw new FederationKeyError('expected a ManifestSignatureError')
}

describe('federation key', () => {
  it('has unambiguous one-line text forms', () => {
    expect(key.privateKey).toMatch(/^clawmesh-fed-sk-[A-Za-z0-9_-]+$/)
    expect(key.publicKey).toMatch(/^clawmesh-fed-pk-[A-Za-z0-9_-]+$/)
    expect(federationPublicKeyOf(key.privateKey)).toBe(key.publicKey)
    expect(sameFederationKey(key.publicKey, ` ${key.publicKey}\n`)).toBe(true)
    expect(sameFederationKey(key.publicKey, generateFederationKey().publicKey)).toBe(false)
    expect(sameFederationKey(key.publicKey, 'nonsense')).toBe(false)
  })

  it('refuses a public key where a private key belongs, and garbage, with FEDERATION_KEY_INVALID', () => {
    for (const bad of [key.publicKey, 'clawmesh-fed-sk-AAAA', 'clawmesh-fed-sk-!!', '']) {
      expect(() => federationPublicKeyOf(bad)).toThrow(FederationKeyError)
    }
    expect(() => verifyManifestText(manifest(), key.privateKey)).toThrow(
      expect.objectContaining({ code: 'FEDERATION_KEY_INVALID' }),
    )
  })
})

describe('signManifestText / verifyManifestText', () => {
  it('stamps version 1, signs, keeps comments, and verifies', () => {
    const signed = signManifestText(manifest(), key.privateKey)
    expect(signed).toContain('# the big box')
    expect(signed).toContain('# public')
    expect(signed).toContain('${FED_SECRET}')
    const data = parse(signed) as { version: number; signature: string }
    expect(data.version).toBe(1)
    expect(data.signature).toMatch(/^clawmesh-fed-sig-[A-Za-z0-9_-]{86}$/)
    expect(verifyManifestText(signed, key.publicKey)).toEqual({ version: 1 })
  })

  it('re-signing bumps the version; an explicit version wins', () => {
    const once = signManifestText(manifest(), key.privateKey)
    const twice = signManifestText(once, key.privateKey)
    expect(verifyManifestText(twice, key.publicKey)).toEqual({ version: 2 })
    expect(
      verifyManifestText(signManifestText(twice, key.privateKey, { version: 40 }), key.publicKey),
    ).toEqual({
      version: 40,
    })
    expect(() => signManifestText(manifest(), key.privateKey, { version: -1 })).toThrow(
      ManifestSignatureError,
    )
  })

  it('survives re-serialisation: comments, quoting, key order and indentation do not matter', () => {
    const signed = signManifestText(manifest(), key.privateKey)
    const data = parse(signed) as Record<string, unknown>
    // Same data written as JSON (valid YAML) with the keys in another order.
    const reordered = JSON.stringify(
      { signature: data.signature, version: data.version, federation: data.federation },
      null,
      4,
    )
    expect(verifyManifestText(reordered, key.publicKey)).toEqual({ version: 1 })
    const requoted = signed.replace('address: home.example.com:8082', 'address: "home.example.com:8082"')
    expect(verifyManifestText(requoted, key.publicKey)).toEqual({ version: 1 })
  })

  it('refuses a changed value, a changed version, a changed type and an added field as a mismatch', () => {
    const signed = signManifestText(manifest(), key.privateKey)
    const edits = [
      signed.replace('trust: low', 'trust: high'),
      signed.replace('version: 1', 'version: 9'),
      signed.replace('${FED_SECRET}', '${OTHER}'),
      signed.replace('      trust: low', '      trust: low\n      peer_id: x'),
      signed.replace('home.example.com', 'home.example.con'),
    ]
    for (const edit of edits) {
      expect(edit).not.toBe(signed)
      expect(signatureError(() => verifyManifestText(edit, key.publicKey)).problem).toBe('mismatch')
    }
  })

  it('refuses a signature by another key and an unsigned manifest', () => {
    const other = generateFederationKey()
    const signedByOther = signManifestText(manifest(other.publicKey), other.privateKey)
    const forged = signedByOther.replace(other.publicKey, key.publicKey)
    const mismatch = signatureError(() => verifyManifestText(forged, key.publicKey))
    expect(mismatch.problem).toBe('mismatch')
    expect(mismatch.code).toBe('MANIFEST_SIGNATURE_INVALID')
    expect(mismatch.message).toBe('signature does not match federation.key')
    const unsigned = signatureError(() => verifyManifestText(manifest(), key.publicKey))
    expect(unsigned.problem).toBe('unsigned')
    expect(unsigned.code).toBe('MANIFEST_UNSIGNED')
    expect(unsigned.message).toBe('manifest is not signed but federation.key is set')
  })

  it('refuses malformed signatures (wrong prefix, wrong length, too many)', () => {
    const signed = signManifestText(manifest(), key.privateKey)
    const signature = (parse(signed) as { signature: string }).signature
    for (const bad of [
      signature.replace('clawmesh-fed-sig-', 'sig-'),
      signature.slice(0, -2),
      Array(5).fill(signature).join(' '),
    ]) {
      expect(
        signatureError(() => verifyManifestText(signed.replace(signature, bad), key.publicKey)).problem,
      ).toBe('malformed')
    }
  })

  it('will not sign with a key that is not the manifest federation.key (the result would not load)', () => {
    const other = generateFederationKey()
    expect(() => signManifestText(manifest(), other.privateKey)).toThrow(FederationKeyError)
  })

  it('a rotation carries the new key signature and the old key endorsement; each verifies', () => {
    const next = generateFederationKey()
    const rotated = signManifestText(manifest(next.publicKey), next.privateKey, {
      endorsingKeys: [key.privateKey],
    })
    expect(verifyManifestText(rotated, next.publicKey)).toEqual({ version: 1 })
    expect(verifyManifestText(rotated, key.publicKey)).toEqual({ version: 1 })
    expect(() => verifyManifestText(rotated, generateFederationKey().publicKey)).toThrow(
      ManifestSignatureError,
    )
  })

  it('signs the canonical JSON of the document before interpolation, minus signature, with a domain tag', () => {
    const signed = signManifestText(manifest(), key.privateKey)
    const text = new TextDecoder().decode(manifestSignedPayload(signed))
    expect(text.startsWith('clawmesh-manifest-signature-v1\n{"federation":{"key":')).toBe(true)
    expect(text).toContain('"secret":"${FED_SECRET}"')
    expect(text).not.toContain('signature"')
    expect(text.endsWith(',"version":1}')).toBe(true)
  })

  it('canonicalJson sorts keys and refuses values JSON cannot hold exactly', () => {
    expect(canonicalJson({ b: [1, 'x', null], a: { d: true, c: 1.5 } })).toBe(
      '{"a":{"c":1.5,"d":true},"b":[1,"x",null]}',
    )
    expect(() => canonicalJson({ a: Number.POSITIVE_INFINITY })).toThrow(ManifestSignatureError)
    expect(() => canonicalJson(new Map())).toThrow(ManifestSignatureError)
    expect(() => signManifestText(`${manifest()}limit: .inf\n`, key.privateKey)).toThrow(
      ManifestSignatureError,
    )
  })

  it('refuses text that is not a YAML map', () => {
    expect(signatureError(() => signManifestText('- a\n- b\n', key.privateKey)).problem).toBe('unparsable')
    expect(signatureError(() => verifyManifestText('a: [\n', key.publicKey)).problem).toBe('unparsable')
  })
})
