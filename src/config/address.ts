/**
 * Node addresses: `host:port` (as in claworc-federation.yaml) or a multiaddr.
 * Pure string work; no DNS look-ups.
 */
import { isIPv4, isIPv6 } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { errorMessage } from '../errors.js'
import { InvalidAddressError } from './errors.js'

/** A host and an optional port; IPv6 hosts are held without brackets. */
export interface HostPort {
  /** IPv4, IPv6 (no brackets) or DNS name. */
  readonly host: string
  /** TCP port; undefined when the address names no port. */
  readonly port: number | undefined
}

const dnsLabel = '[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?'
const dnsName = new RegExp(`^${dnsLabel}(?:\\.${dnsLabel})*\\.?$`)
const hostProtocols = new Set(['ip4', 'ip6', 'dns', 'dns4', 'dns6', 'dnsaddr'])

/** Parses `host:port` or `[v6]:port`; throws `InvalidAddressError` on anything else. */
export function parseHostPort(address: string): HostPort & { readonly port: number } {
  let host: string
  let portText: string
  const bracketed = /^\[([^\]]*)\]:([^:]*)$/.exec(address)
  if (bracketed !== null) {
    host = bracketed[1] ?? ''
    portText = bracketed[2] ?? ''
    if (!isIPv6(host)) throw new InvalidAddressError(address, 'expected an IPv6 address inside [ ]')
  } else {
    const colon = address.lastIndexOf(':')
    if (colon < 0) throw new InvalidAddressError(address, 'expected host:port or a multiaddr')
    host = address.slice(0, colon)
    portText = address.slice(colon + 1)
    if (host.includes(':'))
      throw new InvalidAddressError(address, 'write an IPv6 host in brackets: [::1]:8081')
    if (!isHost(host))
      throw new InvalidAddressError(address, `expected a host name or IP address, got "${host}"`)
  }
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65_535) {
    throw new InvalidAddressError(address, `expected a port from 0 to 65535, got "${portText}"`)
  }
  return { host, port: Number(portText) }
}

/** Converts `host:port` to `/ip4/H/tcp/P`, `/ip6/H/tcp/P` or `/dns/H/tcp/P`; a valid multiaddr passes through unchanged. */
export function addressToMultiaddr(address: string): string {
  if (address.startsWith('/')) {
    parseMultiaddr(address)
    return address
  }
  const { host, port } = parseHostPort(address)
  const protocol = isIPv4(host) ? 'ip4' : isIPv6(host) ? 'ip6' : 'dns'
  return `/${protocol}/${host.replace(/\.$/, '')}/tcp/${port}`
}

/** The host and port an address names (`host:port` or a multiaddr's first ip/dns and tcp parts), for matching. */
export function addressHostPort(address: string): HostPort {
  if (!address.startsWith('/')) return parseHostPort(address)
  const components = parseMultiaddr(address)
  const hostComponent = components.find((component) => hostProtocols.has(component.name))
  if (hostComponent?.value === undefined)
    throw new InvalidAddressError(address, 'the multiaddr names no host')
  const tcp = components.find((component) => component.name === 'tcp')
  return { host: hostComponent.value, port: tcp?.value === undefined ? undefined : Number(tcp.value) }
}

/** Is `host` an IP address or a syntactically valid DNS name? */
function isHost(host: string): boolean {
  if (isIPv4(host)) return true
  // All-numeric names are mistyped IPv4 addresses (e.g. 10.0.0.300), not DNS names.
  if (/^[0-9.]+$/.test(host)) return false
  return host.length <= 253 && dnsName.test(host)
}

function parseMultiaddr(address: string): ReturnType<ReturnType<typeof multiaddr>['getComponents']> {
  let components: ReturnType<ReturnType<typeof multiaddr>['getComponents']>
  try {
    components = multiaddr(address).getComponents()
  } catch (error) {
    throw new InvalidAddressError(address, `not a valid multiaddr (${errorMessage(error)})`)
  }
  if (components.length === 0) throw new InvalidAddressError(address, 'the multiaddr is empty')
  return components
}
