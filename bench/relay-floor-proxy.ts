/**
 * Child process of `bench/relay-floor.ts`: the smallest useful HTTP proxy in Node — `node:http` in,
 * a keep-alive `node:http` request out to `process.argv[2]` (a base URL), the streamed response
 * piped back unchanged. No parsing of the body, no routing, no encryption.
 */
import { Agent, createServer, request } from 'node:http'

const upstream = new URL(process.argv[2] ?? 'http://127.0.0.1:1')
const agent = new Agent({ keepAlive: true })
const server = createServer((incoming, outgoing) => {
  const forward = request(
    {
      host: upstream.hostname,
      port: upstream.port,
      path: incoming.url,
      method: incoming.method,
      headers: { ...incoming.headers, host: upstream.host },
      agent,
    },
    (response) => {
      outgoing.writeHead(response.statusCode ?? 502, response.headers)
      response.pipe(outgoing)
    },
  )
  forward.on('error', () => outgoing.destroy())
  incoming.pipe(forward)
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  if (typeof address === 'object' && address !== null) process.send?.({ port: address.port })
})
process.on('disconnect', () => process.exit(0))
