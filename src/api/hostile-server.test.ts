/** Hostile input on the HTTP API server itself: request targets that are not URLs. */
import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../log.js'
import { type ApiServer, hostAllowed, sendJson, startApiServer } from './server.js'

/** Sends `raw` on a fresh socket and resolves with everything the server answered before closing. */
function rawRequest(url: string, raw: string): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(raw))
    let answer = ''
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer within 5 s')))
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString()
    })
    socket.on('close', () => resolve(answer))
    socket.on('error', reject)
  })
}

describe('API server under hostile requests', () => {
  let api: ApiServer | undefined
  afterEach(async () => {
    await api?.close()
  })

  it('answers a request target that is not a URL with 400 BAD_URL and keeps serving', async () => {
    api = await startApiServer({
      host: '127.0.0.1',
      port: 0,
      log: createLogger('test'),
      routes: [
        {
          method: 'GET',
          path: '/healthz',
          handler: (_request, response) => sendJson(response, 200, { ok: true }),
        },
      ],
    })
    for (const target of ['http://[x', 'http://a:99999/', 'http://[::1']) {
      const answer = await rawRequest(
        api.url,
        `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      )
      expect(answer).toMatch(/^HTTP\/1\.1 400 /)
      expect(answer).toContain('"code":"BAD_URL"')
    }
    const response = await fetch(`${api.url}/healthz`)
    expect(await response.json()).toEqual({ ok: true })
  })
})

describe('API server limits', () => {
  let api: ApiServer | undefined
  afterEach(async () => {
    await api?.close()
  })
  const healthz = {
    method: 'GET' as const,
    path: '/healthz',
    handler: (_request: unknown, response: Parameters<typeof sendJson>[0]) =>
      sendJson(response, 200, { ok: true }),
  }

  it('a loopback API refuses a foreign Host (DNS rebinding) with 403 HOST_NOT_ALLOWED, and serves loopback names', async () => {
    api = await startApiServer({ host: '127.0.0.1', port: 0, log: createLogger('test'), routes: [healthz] })
    const { port } = new URL(api.url)
    for (const host of ['evil.example', `evil.example:${port}`, '10.0.0.5']) {
      const answer = await rawRequest(
        api.url,
        `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      )
      expect(answer).toMatch(/^HTTP\/1\.1 403 /)
      expect(answer).toContain('"code":"HOST_NOT_ALLOWED"')
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost', `[::1]:${port}`]) {
      const answer = await rawRequest(
        api.url,
        `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      )
      expect(answer).toMatch(/^HTTP\/1\.1 200 /)
    }
    expect(hostAllowed('evil.example', '0.0.0.0')).toBe(false)
    expect(hostAllowed('10.1.2.3:8081', '10.1.2.3')).toBe(true)
  })

  it('caps open connections: one over the cap is closed at once, the others keep being served', async () => {
    api = await startApiServer({
      host: '127.0.0.1',
      port: 0,
      log: createLogger('test'),
      routes: [healthz],
      maxConnections: 3,
    })
    const { port } = new URL(api.url)
    const resets: string[] = []
    const idle = await Promise.all(
      Array.from(
        { length: 3 },
        () =>
          new Promise<Socket>((resolve) => {
            const socket = connect(Number(port), '127.0.0.1', () => resolve(socket))
            socket.on('error', (error: NodeJS.ErrnoException) => resets.push(error.code ?? 'error'))
          }),
      ),
    )
    // Closed (or reset) on arrival, with no answer.
    const refused = await new Promise<string>((resolve) => {
      let answer = ''
      const socket = connect(Number(port), '127.0.0.1')
      socket.on('error', () => undefined)
      socket.on('data', (chunk: Buffer) => {
        answer += chunk.toString()
      })
      socket.on('close', () => resolve(answer))
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', () => undefined)
    })
    expect(refused).toBe('')
    const served = new Promise<string>((resolve) => {
      let answer = ''
      idle[0]!.on('data', (chunk: Buffer) => {
        answer += chunk.toString()
        if (answer.includes('{"ok":true}')) resolve(answer)
      })
    })
    idle[0]!.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    expect(await served).toMatch(/^HTTP\/1\.1 200 /)
    expect(resets).toEqual([])
    for (const socket of idle) socket.destroy()
  })
})
