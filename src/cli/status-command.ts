/**
 * `clawmesh status`: the Mission Control's view, read through any peer's API.
 */
import { parseArgs } from 'node:util'
import { StatusView } from '../api/status-view.js'
import { ClawmeshError, errorMessage } from '../errors.js'
import { formatTable, printLine } from './output.js'

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

/** Renders the view as a table. */
export function renderStatus(view: StatusView): string {
  const lines: string[] = []
  const control = view.missionControl
  lines.push(
    control === null
      ? 'Mission Control: none elected'
      : `Mission Control: ${control.name} (${control.peerId.slice(-8)})  term ${control.term}`,
  )
  lines.push(
    `View from: ${view.self.name} (${view.source === 'self' ? "this peer's own view" : 'Mission Control'})`,
  )
  lines.push('')
  const rows = [['PEER', 'TRUST', 'STATE', 'LAST SEEN', 'IN FLIGHT', 'SOULS', 'BACKENDS']]
  for (const peer of view.peers) {
    rows.push([
      peer.name,
      peer.trust,
      peer.state,
      peer.peerId === view.self.peerId ? 'self' : `${(peer.lastSeenMs / 1000).toFixed(1)}s ago`,
      String(peer.inFlight),
      peer.souls.map((soul) => soul.name).join(',') || '-',
      peer.backends
        .map((backend) => {
          const health = backend.healthy === null ? '?' : backend.healthy ? 'ok' : 'DOWN'
          const latency = backend.latencyMs === null ? '' : ` ${Math.round(backend.latencyMs)}ms`
          return `${backend.name}(${backend.type}) ${health}${latency}`
        })
        .join(', ') || '-',
    ])
  }
  lines.push(formatTable(rows))
  return lines.join('\n')
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
  if (!values.watch) {
    const view = await fetchStatus(apiUrl)
    printLine(values.json ? JSON.stringify(view, null, 2) : renderStatus(view))
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
      text = values.json ? JSON.stringify(view, null, 2) : renderStatus(view)
    } catch (error) {
      text = `clawmesh status: ${errorMessage(error)}`
    }
    // Clear the screen and home the cursor, then redraw.
    process.stdout.write(`\u001b[2J\u001b[H${text}\n\n(refreshing every second; Ctrl-C to stop)\n`)
    await new Promise((resolve) => setTimeout(resolve, 1_000))
  }
}
