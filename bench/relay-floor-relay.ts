/**
 * Child process of `bench/relay-floor.ts`: a TCP relay that only copies bytes (no parsing, no
 * encryption), listening on an ephemeral port and forwarding every connection to `process.argv[2]`.
 */
import { connect, createServer } from 'node:net'

const [host, port] = (process.argv[2] ?? '').split(':')
const server = createServer((downstream) => {
  const upstream = connect({ host: host ?? '127.0.0.1', port: Number(port), noDelay: true })
  downstream.setNoDelay(true)
  downstream.pipe(upstream)
  upstream.pipe(downstream)
  const close = (): void => {
    downstream.destroy()
    upstream.destroy()
  }
  downstream.on('error', close)
  upstream.on('error', close)
  downstream.on('close', close)
  upstream.on('close', close)
})
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  if (typeof address === 'object' && address !== null) process.send?.({ port: address.port })
})
process.on('disconnect', () => process.exit(0))
