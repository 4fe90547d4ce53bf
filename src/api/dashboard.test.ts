import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { repoRoot, waitFor } from '../../test/cli-process.js'
import { type MeshFixture, startMeshFixture } from '../../test/mesh-fixture.js'
import type { StatusView } from '../control/status-view.js'

const chromiumPath = '/usr/bin/chromium'
const health = {
  heartbeat_interval_ms: 200,
  suspect_after_ms: 600,
  dead_after_ms: 1_200,
  probe_interval_ms: 500,
}
const viewport = { width: 1280, height: 720 }

/** The few browser globals the page callbacks use (the project's tsconfig has no DOM lib). */
interface Browser {
  document: {
    getElementById(id: string): { textContent: string | null } | null
    querySelectorAll(selector: string): { length: number }
    createElement(tag: 'canvas'): {
      width: number
      height: number
      getContext(kind: '2d'): {
        drawImage(image: unknown, x: number, y: number): void
        getImageData(x: number, y: number, width: number, height: number): { data: Uint8ClampedArray }
      } | null
    }
  }
  Image: new () => { src: string; naturalWidth: number; naturalHeight: number; decode(): Promise<void> }
  getComputedStyle(element: unknown): { backgroundColor: string }
  pwned?: number
}

/** What the browser decodes from a PNG: size, colour count and pixels near the state colours. */
interface PixelReport {
  width: number
  height: number
  colours: number
  red: number
  amber: number
  green: number
}

/** Decodes a PNG in the browser (canvas) and counts what the test looks for. */
async function inspectPng(page: Page, png: Buffer): Promise<PixelReport> {
  return page.evaluate(
    async (dataUrl) => {
      const { document, Image } = globalThis as unknown as Browser
      const image = new Image()
      image.src = dataUrl
      await image.decode()
      const canvas = document.createElement('canvas')
      canvas.width = image.naturalWidth
      canvas.height = image.naturalHeight
      const context = canvas.getContext('2d')!
      context.drawImage(image, 0, 0)
      const { data } = context.getImageData(0, 0, canvas.width, canvas.height)
      const colours = new Set<number>()
      let red = 0
      let amber = 0
      let green = 0
      const near = (offset: number, r: number, g: number, b: number): boolean =>
        Math.abs(data[offset]! - r) + Math.abs(data[offset + 1]! - g) + Math.abs(data[offset + 2]! - b) < 30
      for (let offset = 0; offset < data.length; offset += 4) {
        colours.add((data[offset]! << 16) | (data[offset + 1]! << 8) | data[offset + 2]!)
        if (near(offset, 0xc6, 0x28, 0x28)) red++
        if (near(offset, 0xb8, 0x6e, 0x00)) amber++
        if (near(offset, 0x1a, 0x7f, 0x37)) green++
      }
      return { width: canvas.width, height: canvas.height, colours: colours.size, red, amber, green }
    },
    `data:image/png;base64,${png.toString('base64')}`,
  )
}

describe('dashboard (GET /) in headless Chromium against a live 3-peer mesh', () => {
  let mesh: MeshFixture
  let context: BrowserContext
  let profile: string
  const pageErrors: string[] = []
  beforeAll(async () => {
    if (!existsSync(chromiumPath)) {
      throw new Error(
        `${chromiumPath} is missing: the dashboard test needs Debian's chromium package (apt-get install -y chromium; .ci/run installs it)`,
      )
    }
    profile = await mkdtemp(join(tmpdir(), 'clawmesh-chromium-'))
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      viewport,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
    mesh = await startMeshFixture({ api: true, health })
  })
  afterAll(async () => {
    await context?.close()
    await mesh?.stop()
    if (profile !== undefined) await rm(profile, { recursive: true, force: true })
  })

  async function openDashboard(url: string): Promise<Page> {
    const page = await context.newPage()
    page.on('pageerror', (error) => pageErrors.push(error.message))
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text())
    })
    const response = await page.goto(url)
    expect(response?.status()).toBe(200)
    expect(response?.headers()['content-type']).toBe('text/html; charset=utf-8')
    return page
  }

  it('shows every peer, the Mission Control and its term; a stopped peer turns amber/red, not hidden; the screenshot shows it', async () => {
    const home = mesh.peers.home!
    const page = await openDashboard(`${home.apiUrl}/`)
    await page.waitForFunction(
      () => {
        const { document } = globalThis as unknown as Browser
        return (
          document.querySelectorAll('tr.peer.state-alive').length === 3 &&
          document.getElementById('mc-name')?.textContent === 'home'
        )
      },
      undefined,
      { timeout: 20_000 },
    )
    const rows = await page.$$eval('tr.peer', (elements) =>
      elements.map((row) => ({ name: row.getAttribute('data-peer'), className: row.className })),
    )
    expect(rows.map((row) => row.name)).toEqual(['home', 'vps-fast', 'vps-public'])
    for (const row of rows) expect(row.className).toContain('state-alive')
    // The term may still move while the mesh settles: the page must catch up within a refresh or two.
    await waitFor(
      async () => (await page.textContent('#mc-term')) === String(home.parts.missionControl.current().term),
      5_000,
      "the page's term to match home's",
    )
    expect(await page.getAttribute('#source', 'class')).toContain('source-mission-control')
    const aliveColour = await page.$eval(
      'tr.peer[data-peer="home"] .badge',
      (badge) => (globalThis as unknown as Browser).getComputedStyle(badge).backgroundColor,
    )
    expect(aliveColour).toBe('rgb(26, 127, 55)')
    expect(await page.textContent('tr.peer[data-peer="vps-fast"] .backends')).toMatch(
      /fast \(openai-compatible\) (ok \d+ ms|\?)/,
    )
    expect(await page.textContent('tr.peer[data-peer="home"] .souls')).toContain('inbox-triage (high)')

    // Kill vps-public (no clean leave): it must stay listed, coloured amber (suspect) or red (dead).
    await mesh.peers['vps-public']!.parts.node.stop()
    const killed = 'tr.peer[data-peer="vps-public"]'
    await page.waitForSelector(`${killed}.state-suspect, ${killed}.state-dead`, { timeout: 10_000 })
    const state = await page.getAttribute(killed, 'data-state')
    const killedColour = await page.$eval(
      `${killed} .badge`,
      (badge) => (globalThis as unknown as Browser).getComputedStyle(badge).backgroundColor,
    )
    expect(killedColour).toBe(state === 'dead' ? 'rgb(198, 40, 40)' : 'rgb(184, 110, 0)')
    expect(await page.textContent(`${killed} .badge`)).toBe(state)
    const text = (await page.textContent('body')) ?? ''
    for (const name of ['home', 'vps-fast', 'vps-public']) expect(text).toContain(name)
    expect(text).toContain(`1 ${state}`)

    // Screenshot, kept for a human, and inspected: real size, many colours, red and green state badges, unlike a blank page.
    const dir = join(repoRoot, '.tmp')
    await mkdir(dir, { recursive: true })
    const shot = await page.screenshot({ fullPage: true })
    await writeFile(join(dir, 'dashboard.png'), shot)
    const blankPage = await context.newPage()
    const blank = await blankPage.screenshot()
    const report = await inspectPng(blankPage, shot)
    const blankReport = await inspectPng(blankPage, blank)
    expect(report.width).toBe(viewport.width)
    expect(report.height).toBeGreaterThanOrEqual(300)
    expect(report.colours).toBeGreaterThan(50)
    expect(report.red + report.amber).toBeGreaterThan(200) // the killed peer's badge
    expect(report.green).toBeGreaterThan(400) // two alive badges
    expect(blankReport.colours).toBe(1)
    expect(Buffer.compare(shot, blank)).not.toBe(0)
    // The killed peer's own badge, cropped: mostly its state colour.
    const badge = await page.locator(`${killed} .badge`).screenshot()
    const badgeReport = await inspectPng(blankPage, badge)
    const badgePixels = badgeReport.width * badgeReport.height
    // Red or amber: the peer may turn from suspect to dead between the state read above and this crop.
    expect((badgeReport.red + badgeReport.amber) / badgePixels).toBeGreaterThan(0.4)
    expect(badgeReport.green / badgePixels).toBeLessThan(0.05)
    await blankPage.close()
    await page.close()
    expect(pageErrors).toEqual([])
  })

  it('renders hostile names as text, and shows a fallback view plainly', async () => {
    const page = await context.newPage()
    const hostile = '<img src=x onerror="window.pwned=1">'
    const view: StatusView = {
      missionControl: null,
      self: { peerId: 'p1', name: hostile },
      source: 'self',
      generatedAt: Date.now(),
      peers: [
        {
          peerId: 'p1',
          name: hostile,
          trust: 'low',
          state: 'suspect',
          lastSeenMs: 2_500,
          addrs: [],
          inFlight: 2,
          souls: [{ name: '<b>soul</b>', sensitivity: 'medium' }],
          backends: [
            { name: '<script>x</script>', type: 'ollama', models: [], healthy: false, latencyMs: 12 },
          ],
        },
      ],
    }
    await page.route('**/status', (route) => route.fulfill({ json: view }))
    await page.goto(`${mesh.peers.home!.apiUrl}/`)
    await page.waitForSelector('tr.peer.state-suspect')
    expect(await page.textContent('tr.peer .name')).toContain(hostile)
    expect(await page.$$('tbody img, tbody b, tbody script')).toHaveLength(0)
    expect(await page.evaluate(() => (globalThis as unknown as Browser).pwned)).toBeUndefined()
    expect(await page.textContent('#mc-name')).toBe('none elected')
    expect(await page.getAttribute('#source', 'class')).toContain('source-self')
    expect(await page.textContent('#source')).toContain('own view')
    const amber = await page.$eval(
      'tr.peer .badge',
      (badge) => (globalThis as unknown as Browser).getComputedStyle(badge).backgroundColor,
    )
    expect(amber).toBe('rgb(184, 110, 0)')
    expect(await page.textContent('tr.peer .backends')).toContain('down 12 ms')
    await page.close()
  })
})
