/**
 * `GET /`: the Mission Control dashboard. One self-contained page (inline CSS
 * and script, no CDN: peers often run without internet) that reads
 * `GET /status` every second and redraws. Every string from the view goes in
 * through `textContent`, never as HTML (peer, soul and backend names come
 * from adverts). A Content-Security-Policy pins the inline script and style
 * by hash and only lets the page talk to its own origin.
 */
import { createHash } from 'node:crypto'
import type { ServerResponse } from 'node:http'

const style = `
:root { color-scheme: light; --alive: #1a7f37; --suspect: #b86e00; --dead: #c62828; --muted: #5f6b7a; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2430; background: #f5f7fa; }
header { background: #18202c; color: #fff; padding: 14px 24px; display: flex; flex-wrap: wrap; gap: 8px 32px; align-items: baseline; }
header h1 { font-size: 18px; margin: 0; font-weight: 600; }
header .fact { font-size: 15px; }
header .fact b { font-size: 17px; }
main { padding: 16px 24px; }
.source { padding: 8px 12px; border-radius: 6px; margin-bottom: 12px; font-weight: 500; }
.source-mission-control { background: #e6f4ea; color: #14532d; }
.source-self { background: #fff4e0; color: #7a4300; border: 1px solid var(--suspect); }
.source-error { background: #fdecea; color: #8a1c1c; border: 1px solid var(--dead); }
.counts span { margin-right: 16px; font-weight: 600; }
.counts .n-alive { color: var(--alive); } .counts .n-suspect { color: var(--suspect); } .counts .n-dead { color: var(--dead); }
table { width: 100%; border-collapse: collapse; background: #fff; margin-top: 8px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid #e3e7ee; vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); background: #fafbfc; }
tr.state-dead td { background: #fff5f5; }
tr.state-dead td.name { text-decoration: line-through; text-decoration-color: var(--dead); }
.name { font-weight: 600; }
.peer-id { display: block; font: 11px ui-monospace, monospace; color: var(--muted); font-weight: 400; }
.tag { display: inline-block; font-size: 11px; padding: 1px 6px; border-radius: 4px; background: #18202c; color: #fff; margin-left: 6px; font-weight: 600; }
.badge { display: inline-block; min-width: 64px; text-align: center; padding: 2px 8px; border-radius: 999px; color: #fff; font-weight: 700; }
.badge.state-alive { background: var(--alive); } .badge.state-suspect { background: var(--suspect); } .badge.state-dead { background: var(--dead); }
.chip { display: inline-block; margin: 1px 4px 1px 0; padding: 1px 6px; border-radius: 4px; background: #eef1f5; white-space: nowrap; }
.chip.ok { background: #e6f4ea; color: #14532d; } .chip.down { background: #fdecea; color: #8a1c1c; } .chip.unknown { color: var(--muted); }
.muted { color: var(--muted); }
footer { padding: 0 24px 16px; color: var(--muted); font-size: 12px; }
`

const script = `
'use strict'
const $ = (id) => document.getElementById(id)
function el(tag, className, text) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = String(text)
  return node
}
function age(ms) {
  if (ms < 1000) return ms + ' ms ago'
  if (ms < 120000) return (ms / 1000).toFixed(1) + ' s ago'
  return Math.round(ms / 60000) + ' min ago'
}
let lastOk = 0
function render(view) {
  const control = view.missionControl
  $('mc-name').textContent = control ? control.name : 'none elected'
  $('mc-term').textContent = control ? String(control.term) : '-'
  $('self-name').textContent = view.self.name
  const source = $('source')
  source.className = 'source source-' + view.source
  source.textContent = view.source === 'mission-control'
    ? "Mission Control's view (answered by " + view.self.name + ')'
    : "Fallback: " + view.self.name + "'s own view. The Mission Control did not answer in time."
  const counts = { alive: 0, suspect: 0, dead: 0 }
  const body = $('peers')
  const rows = []
  for (const peer of view.peers) {
    counts[peer.state] = (counts[peer.state] || 0) + 1
    const state = ['alive', 'suspect', 'dead'].includes(peer.state) ? peer.state : 'dead'
    const row = el('tr', 'peer state-' + state)
    row.dataset.peer = peer.name
    row.dataset.state = state
    const name = el('td', 'name', peer.name)
    if (control && control.peerId === peer.peerId) name.append(el('span', 'tag', 'MISSION CONTROL'))
    if (peer.peerId === view.self.peerId) name.append(el('span', 'tag', 'THIS PEER'))
    name.append(el('span', 'peer-id', peer.peerId))
    row.append(name)
    row.append(el('td', 'trust', peer.trust))
    const stateCell = el('td', 'state')
    stateCell.append(el('span', 'badge state-' + state, state))
    row.append(stateCell)
    row.append(el('td', 'last-seen', peer.peerId === view.self.peerId ? 'self' : age(peer.lastSeenMs)))
    row.append(el('td', 'in-flight', peer.inFlight))
    const souls = el('td', 'souls')
    for (const soul of peer.souls) souls.append(el('span', 'chip', soul.name + ' (' + soul.sensitivity + ')'))
    if (peer.souls.length === 0) souls.append(el('span', 'muted', '-'))
    row.append(souls)
    const backends = el('td', 'backends')
    for (const backend of peer.backends) {
      const health = backend.healthy === null ? 'unknown' : backend.healthy ? 'ok' : 'down'
      const latency = backend.latencyMs === null ? '' : ' ' + Math.round(backend.latencyMs) + ' ms'
      backends.append(el('span', 'chip ' + health, backend.name + ' (' + backend.type + ') ' + (health === 'unknown' ? '?' : health) + latency))
    }
    if (peer.backends.length === 0) backends.append(el('span', 'muted', '-'))
    row.append(backends)
    rows.push(row)
  }
  body.replaceChildren(...rows)
  $('n-alive').textContent = counts.alive + ' alive'
  $('n-suspect').textContent = counts.suspect + ' suspect'
  $('n-dead').textContent = counts.dead + ' dead'
  $('updated').textContent = 'updated ' + new Date(view.generatedAt).toLocaleTimeString()
  document.body.dataset.source = view.source
}
async function tick() {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), 3000)
  try {
    const response = await fetch('/status', { cache: 'no-store', signal: controller.signal })
    if (!response.ok) throw new Error('HTTP ' + response.status)
    render(await response.json())
    lastOk = Date.now()
  } catch (error) {
    const source = $('source')
    source.className = 'source source-error'
    source.textContent = 'Cannot read /status from this peer (' + (error && error.message ? error.message : error) + ')' +
      (lastOk ? '; the table shows the view of ' + age(Date.now() - lastOk) : '')
  } finally {
    clearTimeout(timer)
    setTimeout(tick, 1000)
  }
}
tick()
`

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>clawmesh: Mission Control</title>
<link rel="icon" href="data:,">
<style>${style}</style>
</head>
<body>
<header>
  <h1>clawmesh</h1>
  <span class="fact">Mission Control: <b id="mc-name">…</b></span>
  <span class="fact">term <b id="mc-term">…</b></span>
  <span class="fact">this peer: <b id="self-name">…</b></span>
</header>
<main>
  <div id="source" class="source">Loading the status view…</div>
  <div class="counts"><span id="n-alive" class="n-alive"></span><span id="n-suspect" class="n-suspect"></span><span id="n-dead" class="n-dead"></span></div>
  <table>
    <thead><tr><th>Peer</th><th>Trust</th><th>State</th><th>Last seen</th><th>In flight</th><th>Souls (sensitivity)</th><th>Backends (health, latency)</th></tr></thead>
    <tbody id="peers"></tbody>
  </table>
</main>
<footer><span id="updated"></span> · refreshes every second · <a href="/status">/status</a> · <a href="/metrics">/metrics</a></footer>
<script>${script}</script>
</body>
</html>
`

const hash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`

/** The dashboard page (constant; the data comes from `GET /status`). */
export const dashboardHtml = html

/** The Content-Security-Policy the page is served with: only its own inline script and style, only its own origin. */
export const dashboardCsp = [
  "default-src 'none'",
  `script-src ${hash(script)}`,
  `style-src ${hash(style)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/** Writes the dashboard page. */
export function sendDashboard(response: ServerResponse): void {
  response.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'content-security-policy': dashboardCsp,
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
  })
  response.end(html)
}
