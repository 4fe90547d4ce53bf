import { isIPv4, isIPv6 } from 'node:net'
import { addressHostPort } from '../config/address.js'

/** A listen multiaddr for an address (`host:port` or a multiaddr): a DNS host listens on all interfaces at that port. */
export function listenMultiaddr(address: string): string {
  if (address.startsWith('/')) return address
  const { host, port } = addressHostPort(address)
  if (isIPv4(host)) return `/ip4/${host}/tcp/${port ?? 0}`
  if (isIPv6(host)) return `/ip6/${host}/tcp/${port ?? 0}`
  return `/ip4/0.0.0.0/tcp/${port ?? 0}`
}
