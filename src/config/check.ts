/**
 * Checks across fields that a zod schema cannot express. Each problem is
 * reported with the path of the field to fix; `load.ts` maps paths to lines.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { addressToMultiaddr, parseHostPort } from './address.js'
import { controlPlaneCandidates, healthSettings } from './resolve.js'
import type { Manifest } from './schema.js'

/** One cross-field problem: the path of the field to fix and what is wrong. */
export interface ManifestCheckIssue {
  /** zod-style path, e.g. `['federation', 'nodes', 1, 'name']`. */
  readonly path: readonly (string | number)[]
  readonly message: string
}

/** Every cross-field problem of a schema-valid manifest (nodes, control plane, health, then souls). */
export function checkManifest(manifest: Manifest): ManifestCheckIssue[] {
  return [...checkNodes(manifest), ...checkHealth(manifest), ...checkSouls(manifest)]
}

function checkNodes(manifest: Manifest): ManifestCheckIssue[] {
  const issues: ManifestCheckIssue[] = []
  const nodeNames = new Map<string, string>()
  const soulHomes = new Map<string, { index: number; name: string }>()
  const peerIds = new Map<string, string>()
  const nodes = manifest.federation.nodes
  nodes.forEach((node, index) => {
    const at = (...rest: (string | number)[]) => ['federation', 'nodes', index, ...rest]
    const previousName = nodeNames.get(node.name)
    if (previousName !== undefined) {
      issues.push({ path: at('name'), message: `duplicate node name ${node.name} (also ${previousName})` })
    } else {
      nodeNames.set(node.name, `federation.nodes[${index}]`)
    }
    node.souls.forEach((soul, soulIndex) => {
      const home = soulHomes.get(soul)
      if (home === undefined) soulHomes.set(soul, { index, name: node.name })
      else if (home.index === index) {
        issues.push({
          path: at('souls', soulIndex),
          message: `soul ${soul} is listed twice on node ${home.name}`,
        })
      } else {
        issues.push({
          path: at('souls', soulIndex),
          message: `soul ${soul} is already hosted by node ${home.name} (souls do not migrate; list it on one node)`,
        })
      }
    })
    const backendNames = new Set<string>()
    node.backends.forEach((backend, backendIndex) => {
      if (backendNames.has(backend.name)) {
        issues.push({
          path: at('backends', backendIndex, 'name'),
          message: `duplicate backend name ${backend.name} on node ${node.name}`,
        })
      }
      backendNames.add(backend.name)
    })
    const addressProblem = problem(() => addressToMultiaddr(node.address))
    if (addressProblem !== undefined) issues.push({ path: at('address'), message: addressProblem })
    if (node.api !== undefined) {
      const api = node.api
      const apiProblem = problem(() => parseHostPort(api))
      if (apiProblem !== undefined) issues.push({ path: at('api'), message: apiProblem })
    }
    if (node.peer_id !== undefined) {
      let canonical: string | undefined
      try {
        canonical = peerIdFromString(node.peer_id).toString()
      } catch {
        issues.push({
          path: at('peer_id'),
          message: `${JSON.stringify(node.peer_id)} is not a valid libp2p peer ID (expected a base58 ID such as 12D3KooW...)`,
        })
      }
      if (canonical !== undefined) {
        const owner = peerIds.get(canonical)
        if (owner !== undefined) {
          issues.push({ path: at('peer_id'), message: `duplicate peer ID ${canonical} (also node ${owner})` })
        } else {
          peerIds.set(canonical, node.name)
        }
      }
    }
  })
  const controlPlane = manifest.federation.control_plane
  if (controlPlane !== undefined) {
    const candidates = controlPlaneCandidates(manifest)
    if (candidates.length === 0) {
      issues.push({
        path: ['federation', 'control_plane'],
        message: `${controlPlane} matches no node name, address or api`,
      })
    } else if (candidates.length > 1) {
      issues.push({
        path: ['federation', 'control_plane'],
        message: `${controlPlane} is ambiguous: it matches nodes ${candidates.join(', ')}; name one node`,
      })
    }
  }
  return issues
}

function checkHealth(manifest: Manifest): ManifestCheckIssue[] {
  const { heartbeatIntervalMs, suspectAfterMs, deadAfterMs } = healthSettings(manifest)
  const health = manifest.federation.health
  const issues: ManifestCheckIssue[] = []
  if (suspectAfterMs <= heartbeatIntervalMs) {
    issues.push({
      path: [
        'federation',
        'health',
        health?.suspect_after_ms === undefined ? 'heartbeat_interval_ms' : 'suspect_after_ms',
      ],
      message: `suspect_after_ms (${suspectAfterMs}) must be longer than heartbeat_interval_ms (${heartbeatIntervalMs})`,
    })
  }
  if (deadAfterMs <= suspectAfterMs) {
    issues.push({
      path: [
        'federation',
        'health',
        health?.dead_after_ms === undefined ? 'suspect_after_ms' : 'dead_after_ms',
      ],
      message: `dead_after_ms (${deadAfterMs}) must be longer than suspect_after_ms (${suspectAfterMs})`,
    })
  }
  return issues
}

function checkSouls(manifest: Manifest): ManifestCheckIssue[] {
  const issues: ManifestCheckIssue[] = []
  const hosted = new Set(manifest.federation.nodes.flatMap((node) => node.souls))
  const offered = new Set(
    manifest.federation.nodes.flatMap((node) => node.backends.map((backend) => backend.name)),
  )
  for (const [soul, settings] of Object.entries(manifest.souls ?? {})) {
    if (!hosted.has(soul)) {
      issues.push({ path: ['souls', soul], message: `unknown soul reference: no node hosts soul ${soul}` })
    }
    if (settings.backend !== undefined && !offered.has(settings.backend)) {
      issues.push({
        path: ['souls', soul, 'backend'],
        message: `no node offers a backend named ${settings.backend}`,
      })
    }
  }
  return issues
}

/** The message of what `action` throws, or undefined if it succeeds. */
function problem(action: () => unknown): string | undefined {
  try {
    action()
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}
