/**
 * `clawmesh status`: the Mission Control's view, read through any peer's API.
 */
import { parseArgs } from 'node:util'
import { StatusView } from '../control/status-view.js'
import { ClawmeshError, errorMessage } from '../errors.js'
import { formatTable, printLine, printText } from './output.js'

/** The API could not be reached or answered nonsense. */
export class StatusFetchError extends ClawmeshError {
  static override name = 'StatusFetchError'
  constructor(message: string) {
    super('STATUS_UNAVAILABLE', message)
  }
}

/** Fetches and validates `GET /status` from `apiUrl`. */
export async function fetchStatus(apiUrl: string): Promise<StatusView> {
  let response: Response
  try {
    response = await fetch(new URL('/status', apiUrl), { signal: AbortSignal.timeout(5_000) })
  } catch (error) {
    throw new StatusFetchError(`cannot reach ${apiUrl}: ${errorMessage(error)}`)
  }
  if (!response.ok) throw new StatusFetchError(`${apiUrl}/status answered HTTP ${response.status}`)
  const parsed = StatusView.safeParse(await response.json().catch(() => undefined))
  if (!parsed.success) throw new StatusFetchError(`${apiUrl}/status did not return a status view`)
  return parsed.data
}

/** Options of `renderStatus`. */
export interface RenderOptions {
  /** Colour the states (green, yellow, red) with ANSI codes. Default: false. */
  colour?: boolean
}

const stateColours: Record<StatusView['peers'][number]['state'], string> = {
  alive: '\u001b[32m',
  suspect: '\u001b[33m',
  dead: '\u001b[31m',
}

/**
 * Renders the view as a table: the Mission Control and its term, where the
 * view comes from (plainly marked when it is only the answering peer's own),
 * then one row per peer with trust, state, last seen, in flight, souls with
 * their sensitivity and backends with health and probe latency.
 */
export function renderStatus(view: StatusView, options: RenderOptions = {}): string {
  const lines: string[] = []
  const control = view.missionControl
  lines.push(
    control === null
      ? 'Mission Control: none elected'
      : `Mission Control: ${control.name} (${control.peerId.slice(-8)})  term ${control.term}`,
  )
  lines.push(
    view.source === 'self'
      ? `View: ${view.self.name}'s own (FALLBACK: the Mission Control did not answer in time)`
      : `View: the Mission Control's, via ${view.self.name}`,
  )
  const counts = { alive: 0, suspect: 0, dead: 0 }
  for (const peer of view.peers) counts[peer.state]++
  lines.push(
    `Peers: ${view.peers.length} (${counts.alive} alive, ${counts.suspect} suspect, ${counts.dead} dead)`,
  )
  lines.push('')
  const rows = [['PEER', 'TRUST', 'STATE', 'LAST SEEN', 'IN FLIGHT', 'SOULS', 'BACKENDS']]
  for (const peer of view.peers) {
    const marks = [
      ...(control?.peerId === peer.peerId ? ['MC'] : []),
      ...(peer.peerId === view.self.peerId ? ['self'] : []),
    ]
    rows.push([
      marks.length === 0 ? peer.name : `${peer.name} [${marks.join(',')}]`,
      peer.trust,
      options.colour === true ? `${stateColours[peer.state]}${peer.state}\u001b[0m` : peer.state,
      peer.peerId === view.self.peerId ? '-' : formatAge(peer.lastSeenMs),
      String(peer.inFlight),
      peer.souls.map((soul) => `${soul.name}(${soul.sensitivity})`).join(', ') || '-',
      peer.backends
        .map((backend) => {
          const health = backend.healthy === null ? 'unprobed' : backend.healthy ? 'ok' : 'DOWN'
          const latency = backend.latencyMs === null ? '' : ` ${Math.round(backend.latencyMs)}ms`
          return `${backend.name}(${backend.type}) ${health}${latency}`
        })
        .join(', ') || '-',
    ])
  }
  lines.push(formatTable(rows))
  return lines.join('\n')
}

/** `850ms ago`, `3.2s ago`, `4m ago`. */
function formatAge(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms ago`
  if (ms < 120_000) return `${(ms / 1_000).toFixed(1)}s ago`
  return `${Math.round(ms / 60_000)}m ago`
}

/** Runs `clawmesh status`. */
export async function runStatus(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      api: { type: 'string', default: 'http://127.0.0.1:8081' },
      json: { type: 'boolean', default: false },
      watch: { type: 'boolean', default: false },
    },
    strict: true,
  })
  const apiUrl = values.api.includes('://') ? values.api : `http://${values.api}`
  // Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org).
  const colour = process.stdout.isTTY === true && process.env.NO_COLOR === undefined
  if (!values.watch) {
    const view = await fetchStatus(apiUrl)
    printLine(values.json ? JSON.stringify(view, null, 2) : renderStatus(view, { colour }))
    return
  }
  let stopped = false
  process.once('SIGINT', () => {
    stopped = true
  })
  while (!stopped) {
    let text: string
    try {
      const view = await fetchStatus(apiUrl)
      text = values.json ? JSON.stringify(view, null, 2) : renderStatus(view, { colour })
    } catch (error) {
      text = `clawmesh status: ${errorMessage(error)}`
    }
    // Clear the screen and home the cursor, then redraw.
    printText(`\u001b[2J\u001b[H${text}\n\n(refreshing every second; Ctrl-C to stop)\n`)
    await new Promise((resolve) => setTimeout(resolve, 1_000))
  }
}
