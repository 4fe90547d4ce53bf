/**
 * The federation key (Ed25519) and manifest signatures.
 *
 * Text forms (one line each, unambiguous by prefix, base64url without padding):
 * - private key: `clawmesh-fed-sk-<libp2p private key protobuf>`
 * - public key (`federation.key`): `clawmesh-fed-pk-<libp2p public key protobuf>`
 * - signature (`signature:`): `clawmesh-fed-sig-<64-byte Ed25519 signature>`; a manifest may carry up to
 *   four, separated by spaces, so a key rotation can be signed by the new key and endorsed by the old one.
 *
 * What is signed: the manifest text BEFORE `${VAR}` interpolation (the signer does not know the hosts'
 * secrets), parsed as YAML, minus the top-level `signature` field, as canonical JSON (object keys sorted
 * by UTF-16 code units, no whitespace, numbers as JavaScript prints them), prefixed by the domain tag
 * `clawmesh-manifest-signature-v1\n`. Canonical JSON rather than the bytes of the file, so comments,
 * quoting, key order and indentation may change without breaking the signature, while every value that
 * the loader reads is covered, `version` included.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto'
import {
  privateKeyFromProtobuf,
  privateKeyFromRaw,
  privateKeyToProtobuf,
  publicKeyFromProtobuf,
  publicKeyToProtobuf,
} from '@libp2p/crypto/keys'
import type { PrivateKey, PublicKey } from '@libp2p/interface'
import { fromString as bytesFromString, toString as bytesToString } from 'uint8arrays'
import { type Document, isMap, parseDocument } from 'yaml'
import { ClawmeshError, errorMessage } from '../errors.js'

/** Prefix of a federation private key's text form. */
export const FEDERATION_PRIVATE_KEY_PREFIX = 'clawmesh-fed-sk-'
/** Prefix of a federation public key's text form (the value of `federation.key`). */
export const FEDERATION_PUBLIC_KEY_PREFIX = 'clawmesh-fed-pk-'
/** Prefix of one manifest signature. */
export const MANIFEST_SIGNATURE_PREFIX = 'clawmesh-fed-sig-'
/** Domain separation: these bytes start every signed payload, so a manifest signature means nothing else. */
export const MANIFEST_SIGNATURE_DOMAIN = 'clawmesh-manifest-signature-v1\n'
/** Most signatures one manifest may carry (bounds the work of verifying a hostile one). */
export const MAX_MANIFEST_SIGNATURES = 4

/** A federation key text that cannot be used. */
export class FederationKeyError extends ClawmeshError {
  static override name = 'FederationKeyError'
  constructor(message: string, options?: ErrorOptions) {
    super('FEDERATION_KEY_INVALID', message, options)
  }
}

/** Why a manifest's signature was refused. */
export type ManifestSignatureProblem = 'unsigned' | 'mismatch' | 'malformed' | 'unparsable'

/** A manifest that is unsigned, tampered with, or cannot be signed. */
export class ManifestSignatureError extends ClawmeshError {
  static override name = 'ManifestSignatureError'
  /** What is wrong, for callers that map it (e.g. to a field of a `ManifestError`). */
  readonly problem: ManifestSignatureProblem

  constructor(problem: ManifestSignatureProblem, message: string, options?: ErrorOptions) {
    super(problem === 'unsigned' ? 'MANIFEST_UNSIGNED' : 'MANIFEST_SIGNATURE_INVALID', message, options)
    this.problem = problem
  }
}

/** A federation key pair in text form. */
export interface FederationKeyPair {
  /** `clawmesh-fed-sk-…`: keep it off the hosts, file mode 0600. */
  readonly privateKey: string
  /** `clawmesh-fed-pk-…`: goes into `federation.key`. */
  readonly publicKey: string
}

/** Generates a fresh Ed25519 federation key pair in text form. */
export function generateFederationKey(): FederationKeyPair {
  const { privateKey } = generateKeyPairSync('ed25519')
  const jwk = privateKey.export({ format: 'jwk' })
  const raw = new Uint8Array(64)
  raw.set(bytesFromString(jwk.d ?? '', 'base64url'), 0)
  raw.set(bytesFromString(jwk.x ?? '', 'base64url'), 32)
  const key = privateKeyFromRaw(raw)
  return {
    privateKey: FEDERATION_PRIVATE_KEY_PREFIX + bytesToString(privateKeyToProtobuf(key), 'base64url'),
    publicKey: publicKeyText(key.publicKey),
  }
}

/** The public key text (`clawmesh-fed-pk-…`) of a private key text. */
export function federationPublicKeyOf(privateKeyText: string): string {
  return publicKeyText(parsePrivateKey(privateKeyText).publicKey)
}

/** Do two public key texts name the same key? False when either is not a valid key text. */
export function sameFederationKey(a: string, b: string): boolean {
  try {
    return parsePublicKey(a).equals(parsePublicKey(b))
  } catch {
    return false
  }
}

/** Checks a public key text; throws `FederationKeyError` naming the expected form. */
export function parseFederationPublicKey(text: string): PublicKey {
  return parsePublicKey(text)
}

/** Options of `signManifestText`. */
export interface SignManifestOptions {
  /** Version to stamp. Default: the manifest's `version` + 1, or 1 when it has none. */
  readonly version?: number
  /**
   * Further private keys whose signatures are added, e.g. the OLD key when rotating `federation.key`
   * to a new one, so peers holding the old manifest adopt the new one. Default: none.
   */
  readonly endorsingKeys?: readonly string[]
}

/**
 * Stamps `version` and signs manifest `yamlText` with `privateKeyText`; returns the new text with
 * `version` and `signature` set through the YAML Document API (comments and layout survive).
 */
export function signManifestText(
  yamlText: string,
  privateKeyText: string,
  options: SignManifestOptions = {},
): string {
  const keys = [privateKeyText, ...(options.endorsingKeys ?? [])].map(parsePrivateKey)
  if (keys.length > MAX_MANIFEST_SIGNATURES)
    throw new ManifestSignatureError(
      'malformed',
      `at most ${MAX_MANIFEST_SIGNATURES} keys may sign a manifest`,
    )
  const document = parseManifestDocument(yamlText)

  const previous = document.get('version')
  const version =
    options.version ?? (typeof previous === 'number' && Number.isSafeInteger(previous) ? previous + 1 : 1)
  if (!Number.isSafeInteger(version) || version < 0)
    throw new ManifestSignatureError('malformed', `version must be a non-negative integer, got ${version}`)
  document.set('version', version)
  document.delete('signature')

  // The key that load-time verification uses must be one of the signers, or the result would not load.
  const declared = documentFederationKey(document)
  if (declared !== undefined && !declared.includes('${')) {
    const declaredKey = parsePublicKey(declared)
    if (!keys.some((key) => key.publicKey.equals(declaredKey)))
      throw new FederationKeyError('none of the signing keys is the manifest federation.key')
  }

  const payload = signedPayload(document)
  const signatures = keys.map(
    (key) => MANIFEST_SIGNATURE_PREFIX + bytesToString(sign(null, payload, nodePrivateKey(key)), 'base64url'),
  )
  document.set('signature', signatures.join(' '))
  return document.toString()
}

/**
 * Verifies that manifest `yamlText` (before interpolation) carries a signature by `publicKeyText`;
 * returns its `version`. Throws `ManifestSignatureError` (unsigned, mismatch, malformed) or `FederationKeyError`.
 */
export function verifyManifestText(yamlText: string, publicKeyText: string): { version: number | undefined } {
  const publicKey = nodePublicKey(parsePublicKey(publicKeyText))
  const document = parseManifestDocument(yamlText)
  const signatureValue = document.get('signature')
  if (signatureValue === undefined || signatureValue === null || signatureValue === '')
    throw new ManifestSignatureError('unsigned', 'manifest is not signed but federation.key is set')
  const signatures = typeof signatureValue === 'string' ? parseSignatures(signatureValue) : undefined
  if (signatures === undefined)
    throw new ManifestSignatureError(
      'malformed',
      `signature is malformed: expected up to ${MAX_MANIFEST_SIGNATURES} ${MANIFEST_SIGNATURE_PREFIX}… values separated by spaces`,
    )
  document.delete('signature')
  const payload = signedPayload(document)
  if (!signatures.some((signature) => verify(null, payload, publicKey, signature)))
    throw new ManifestSignatureError('mismatch', 'signature does not match federation.key')
  const version = document.get('version')
  return { version: typeof version === 'number' ? version : undefined }
}

/** The bytes a manifest signature covers: the domain tag and the canonical JSON of the document. */
export function manifestSignedPayload(yamlText: string): Uint8Array {
  const document = parseManifestDocument(yamlText)
  document.delete('signature')
  return signedPayload(document)
}

/** JSON with object keys sorted and no whitespace; throws on values JSON cannot hold exactly. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number') {
    // `.inf` and `.nan` would all print as null: refuse rather than let two documents sign alike.
    if (!Number.isFinite(value))
      throw new ManifestSignatureError('unparsable', `cannot sign the number ${value}`)
    return JSON.stringify(value)
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    )
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`
  }
  throw new ManifestSignatureError('unparsable', `cannot sign a value of type ${describe(value)}`)
}

function describe(value: unknown): string {
  if (typeof value !== 'object') return typeof value
  return (value as object).constructor?.name ?? 'object'
}

function signedPayload(document: Document): Uint8Array {
  let data: unknown
  try {
    data = document.toJS({ maxAliasCount: 100 })
  } catch (error) {
    throw new ManifestSignatureError('unparsable', `cannot read the manifest: ${errorMessage(error)}`, {
      cause: error,
    })
  }
  return new TextEncoder().encode(MANIFEST_SIGNATURE_DOMAIN + canonicalJson(data))
}

/** Parses like the manifest loader does (unique keys), requiring a top-level map. */
function parseManifestDocument(yamlText: string): Document {
  const document = parseDocument(yamlText, { prettyErrors: false, uniqueKeys: true })
  const [first] = document.errors
  if (first !== undefined)
    throw new ManifestSignatureError('unparsable', `the manifest is not valid YAML: ${first.message}`)
  if (!isMap(document.contents))
    throw new ManifestSignatureError('unparsable', 'the manifest is not a YAML map')
  return document
}

function documentFederationKey(document: Document): string | undefined {
  const key = document.getIn(['federation', 'key'])
  return typeof key === 'string' ? key : undefined
}

function parseSignatures(value: string): Uint8Array[] | undefined {
  const parts = value.trim().split(/\s+/)
  if (parts.length > MAX_MANIFEST_SIGNATURES) return undefined
  const signatures: Uint8Array[] = []
  for (const part of parts) {
    if (!part.startsWith(MANIFEST_SIGNATURE_PREFIX)) return undefined
    const bytes = decodeBase64url(part.slice(MANIFEST_SIGNATURE_PREFIX.length))
    if (bytes?.length !== 64) return undefined
    signatures.push(bytes)
  }
  return signatures
}

function parsePrivateKey(text: string): PrivateKey {
  const trimmed = text.trim()
  if (!trimmed.startsWith(FEDERATION_PRIVATE_KEY_PREFIX))
    throw new FederationKeyError(`not a federation private key: expected ${FEDERATION_PRIVATE_KEY_PREFIX}…`)
  const bytes = decodeBase64url(trimmed.slice(FEDERATION_PRIVATE_KEY_PREFIX.length))
  let key: PrivateKey
  try {
    if (bytes === undefined) throw new FederationKeyError('bad base64url')
    key = privateKeyFromProtobuf(bytes)
  } catch (error) {
    throw new FederationKeyError(`not a federation private key: ${errorMessage(error)}`, { cause: error })
  }
  if (key.type !== 'Ed25519')
    throw new FederationKeyError(`federation keys are Ed25519, this one is ${key.type}`)
  return key
}

function parsePublicKey(text: string): PublicKey {
  const trimmed = text.trim()
  if (!trimmed.startsWith(FEDERATION_PUBLIC_KEY_PREFIX))
    throw new FederationKeyError(`not a federation public key: expected ${FEDERATION_PUBLIC_KEY_PREFIX}…`)
  const bytes = decodeBase64url(trimmed.slice(FEDERATION_PUBLIC_KEY_PREFIX.length))
  let key: PublicKey
  try {
    if (bytes === undefined) throw new FederationKeyError('bad base64url')
    key = publicKeyFromProtobuf(bytes)
  } catch (error) {
    throw new FederationKeyError(`not a federation public key: ${errorMessage(error)}`, { cause: error })
  }
  if (key.type !== 'Ed25519')
    throw new FederationKeyError(`federation keys are Ed25519, this one is ${key.type}`)
  return key
}

function publicKeyText(key: PublicKey): string {
  return FEDERATION_PUBLIC_KEY_PREFIX + bytesToString(publicKeyToProtobuf(key), 'base64url')
}

/** Strict base64url (no padding, canonical): undefined for anything else. */
function decodeBase64url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined
  try {
    const bytes = bytesFromString(text, 'base64url')
    return bytesToString(bytes, 'base64url') === text ? bytes : undefined
  } catch {
    return undefined
  }
}

// Node's crypto signs and verifies Ed25519 synchronously; libp2p's key interface may return promises,
// and manifest loading is synchronous.
function nodePrivateKey(key: PrivateKey): KeyObject {
  return createPrivateKey({
    format: 'jwk',
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      d: bytesToString(key.raw.subarray(0, 32), 'base64url'),
      x: bytesToString(key.publicKey.raw, 'base64url'),
    },
  })
}

function nodePublicKey(key: PublicKey): KeyObject {
  return createPublicKey({
    format: 'jwk',
    key: { kty: 'OKP', crv: 'Ed25519', x: bytesToString(key.raw, 'base64url') },
  })
}
