/** Hostile input on the HTTP API server itself: request targets that are not URLs. */
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../log.js'
import { type ApiServer, sendJson, startApiServer } from './server.js'

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
