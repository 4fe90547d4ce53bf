/**
 * The manifest of a peer started without one (DESIGN.md, CLI): a single
 * high-trust node named after the host, with the local Ollama as its backend.
 */
import {
  DEFAULT_STANDALONE_ADDRESS,
  DEFAULT_STANDALONE_BACKEND,
  DEFAULT_STANDALONE_NAME,
} from './defaults.js'
import { Manifest } from './schema.js'

/** Turns a host name into a valid node name: letters, digits, `.`, `_`, `-`; starts alphanumeric; max 63. */
export function sanitizeNodeName(hostName: string): string {
  const cleaned = hostName
    .replace(/[^a-zA-Z0-9._-]+/g, '-')
    .replace(/^[^a-zA-Z0-9]+/, '')
    .slice(0, 63)
  return cleaned === '' ? DEFAULT_STANDALONE_NAME : cleaned
}

/** The no-manifest default: one node (the host), trust high, loopback address, one `ollama` backend, no souls. */
export function standaloneManifest(hostName: string): Manifest {
  return Manifest.parse({
    federation: {
      nodes: [
        {
          name: sanitizeNodeName(hostName),
          address: DEFAULT_STANDALONE_ADDRESS,
          trust: 'high',
          souls: [],
          backends: [{ name: DEFAULT_STANDALONE_BACKEND, type: 'ollama' }],
        },
      ],
    },
  })
}
