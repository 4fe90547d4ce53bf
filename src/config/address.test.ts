import { describe, expect, it } from 'vitest'
import { addressHostPort, addressToMultiaddr, parseHostPort } from './address.js'
import { InvalidAddressError } from './errors.js'

describe('addressToMultiaddr', () => {
  it('converts host:port by host kind', () => {
    expect(addressToMultiaddr('10.0.0.7:8082')).toBe('/ip4/10.0.0.7/tcp/8082')
    expect(addressToMultiaddr('[::1]:8082')).toBe('/ip6/::1/tcp/8082')
    expect(addressToMultiaddr('home.example.com:8082')).toBe('/dns/home.example.com/tcp/8082')
    expect(addressToMultiaddr('localhost:0')).toBe('/dns/localhost/tcp/0')
  })

  it('passes a valid multiaddr through unchanged', () => {
    expect(addressToMultiaddr('/ip4/127.0.0.1/tcp/4001')).toBe('/ip4/127.0.0.1/tcp/4001')
    expect(addressToMultiaddr('/dns4/home.example.com/tcp/4001')).toBe('/dns4/home.example.com/tcp/4001')
  })

  it.each([
    ['nowhere', 'invalid address "nowhere": expected host:port or a multiaddr'],
    ['home:99999', 'invalid address "home:99999": expected a port from 0 to 65535, got "99999"'],
    ['home:http', 'invalid address "home:http": expected a port from 0 to 65535, got "http"'],
    [':8080', 'invalid address ":8080": expected a host name or IP address, got ""'],
    ['bad host:1', 'invalid address "bad host:1": expected a host name or IP address, got "bad host"'],
    ['10.0.0.300:1', 'invalid address "10.0.0.300:1": expected a host name or IP address, got "10.0.0.300"'],
    ['::1:8080', 'invalid address "::1:8080": write an IPv6 host in brackets: [::1]:8081'],
    ['[nope]:1', 'invalid address "[nope]:1": expected an IPv6 address inside [ ]'],
    ['/', 'invalid address "/": the multiaddr is empty'],
  ])('rejects %s', (address, message) => {
    let caught: unknown
    try {
      addressToMultiaddr(address)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(InvalidAddressError)
    expect((caught as InvalidAddressError).code).toBe('INVALID_ADDRESS')
    expect((caught as Error).message).toBe(message)
  })

  it('rejects an unknown multiaddr protocol', () => {
    expect(() => addressToMultiaddr('/foo/1')).toThrow(/^invalid address "\/foo\/1": not a valid multiaddr/)
  })
})

describe('addressHostPort', () => {
  it('reads host:port and multiaddrs', () => {
    expect(parseHostPort('h.example:1')).toEqual({ host: 'h.example', port: 1 })
    expect(
      addressHostPort('/dns4/h.example/tcp/9/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'),
    ).toEqual({
      host: 'h.example',
      port: 9,
    })
    expect(addressHostPort('/ip4/1.2.3.4/udp/9/quic-v1')).toEqual({ host: '1.2.3.4', port: undefined })
  })
})
