/**
 * The private-network secret (`federation.secret`): a libp2p pnet v1
 * pre-shared key. In manifests and the environment it is written as one
 * line, the key's 64 lowercase hex characters (32 random bytes); the full
 * three-line PSK file text of `@libp2p/pnet` (`/key/swarm/psk/1.0.0/`,
 * `/base16/`, the hex key) is accepted too.
 */
import { randomBytes } from 'node:crypto'
import { ClawmeshError } from '../errors.js'

/** First line of a pnet v1 PSK file. */
export const PSK_V1_HEADER = '/key/swarm/psk/1.0.0/'
/** Second line of a pnet v1 PSK file: the key's encoding. */
export const PSK_V1_ENCODING = '/base16/'

const hexKey = /^[0-9a-fA-F]{64}$/

/** A secret that is neither a 64-hex-char key nor a pnet v1 PSK file text. */
export class SecretError extends ClawmeshError {
  static override name = 'SecretError'
  constructor(message: string) {
    super('SECRET_INVALID', message)
  }
}

/** A fresh private-network secret: 64 lowercase hex characters (32 bytes from the OS CSPRNG). */
export function generateSecret(): string {
  for (;;) {
    const secret = randomBytes(32).toString('hex')
    // An unquoted YAML scalar of only digits (or digits, `e`, digits) reads as a number; vanishingly
    // rare, but a secret must paste into a manifest unquoted, so draw again.
    if (!/^[0-9]+(?:e[0-9]+)?$/.test(secret)) return secret
  }
}

/** Converts a secret (64 hex chars, or the 3-line PSK file text) into the bytes `preSharedKey({ psk })` takes. */
export function secretToPsk(secret: string): Uint8Array {
  const text = secret.trim()
  if (hexKey.test(text)) return pskFileBytes(text)
  if (text.startsWith(PSK_V1_HEADER)) {
    const lines = text.split(/\r\n|\r|\n/).map((line) => line.trim())
    const [header, encoding, key, ...rest] = lines
    if (
      header === PSK_V1_HEADER &&
      encoding === PSK_V1_ENCODING &&
      key !== undefined &&
      hexKey.test(key) &&
      rest.every((line) => line === '')
    )
      return pskFileBytes(key)
    throw new SecretError(
      `invalid private-network secret: a PSK file must be the three lines ${PSK_V1_HEADER}, ${PSK_V1_ENCODING} and 64 hex characters`,
    )
  }
  // The secret itself is never echoed: only its shape.
  throw new SecretError(
    `invalid private-network secret (${text.length} characters): expected 64 hex characters (clawmesh federation secret) or a ${PSK_V1_HEADER} PSK file text`,
  )
}

/** The canonical PSK file text for a hex key; pnet's base16 decoder only reads lowercase. */
function pskFileBytes(key: string): Uint8Array {
  return new TextEncoder().encode(`${PSK_V1_HEADER}\n${PSK_V1_ENCODING}\n${key.toLowerCase()}`)
}
