import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { afterEach, describe, expect, it } from 'vitest'
import { STATUS_PROTOCOL } from '../net/constants.js'
import { type ClawmeshNode, createNode } from '../net/create-node.js'
import { fetchViewFrom, StatusProtocolError, StatusService } from './status-protocol.js'
import type { StatusView } from './status-view.js'

const leader = { peerId: 'leader-id', name: 'home', term: 3 }

function sampleView(self: string): StatusView {
  return {
    missionControl: leader,
    self: { peerId: self, name: 'home' },
    source: 'mission-control',
    generatedAt: Date.now(),
    peers: [
      {
        peerId: self,
        name: 'home',
        trust: 'high',
        state: 'alive',
        lastSeenMs: 0,
        addrs: [],
        inFlight: 0,
        souls: [{ name: 'inbox-triage', sensitivity: 'high' }],
        backends: [{ name: 'private', type: 'ollama', models: ['llama3'], healthy: true, latencyMs: 2 }],
      },
    ],
  }
}

describe('/clawmesh/status/1.0.0 on real libp2p nodes', () => {
  const nodes: ClawmeshNode[] = []
  const services: StatusService[] = []
  afterEach(async () => {
    await Promise.all(services.splice(0).map((service) => service.stop()))
    await Promise.all(nodes.splice(0).map((node) => node.stop()))
  })

  async function pair(): Promise<{ server: ClawmeshNode; client: ClawmeshNode }> {
    const [server, client] = await Promise.all([
      createNode({ privateKey: await generateKeyPair('Ed25519') }),
      createNode({ privateKey: await generateKeyPair('Ed25519') }),
    ])
    nodes.push(server, client)
    await client.dial(server.getMultiaddrs()[0]!)
    return { server, client }
  }

  async function serve(
    server: ClawmeshNode,
    options: { leader?: boolean; member?: boolean; maxFrameBytes?: number },
  ): Promise<StatusService> {
    const service = new StatusService({
      node: server,
      isMissionControl: () => options.leader ?? true,
      missionControl: () => leader,
      view: () => sampleView(server.peerId.toString()),
      isMember: () => options.member ?? true,
      ...(options.maxFrameBytes === undefined ? {} : { maxFrameBytes: options.maxFrameBytes }),
    })
    await service.start()
    services.push(service)
    return service
  }

  it('the Mission Control answers a member with its view, validated by the StatusView schema', async () => {
    const { server, client } = await pair()
    const service = await serve(server, {})
    const view = await fetchViewFrom(client, server.peerId, { timeoutMs: 2_000 })
    expect(view.source).toBe('mission-control')
    expect(view.missionControl).toEqual(leader)
    expect(view.peers[0]?.backends[0]).toMatchObject({ name: 'private', healthy: true, latencyMs: 2 })
    expect(service.servedCount).toBe(1)
  })

  it('a peer that is not the Mission Control refuses with NOT_MISSION_CONTROL and names the leader', async () => {
    const { server, client } = await pair()
    await serve(server, { leader: false })
    const error = await fetchViewFrom(client, server.peerId).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(StatusProtocolError)
    expect(error).toMatchObject({ name: 'StatusProtocolError', code: 'NOT_MISSION_CONTROL', leader })
  })

  it('a non-member is refused with NOT_MEMBER and gets no view', async () => {
    const { server, client } = await pair()
    const service = await serve(server, { member: false })
    await expect(fetchViewFrom(client, server.peerId)).rejects.toMatchObject({ code: 'NOT_MEMBER' })
    expect(service.servedCount).toBe(0)
  })

  it('a reply over the frame limit is refused by the server (VIEW_TOO_LARGE) and by the client (BAD_FRAME)', async () => {
    const { server, client } = await pair()
    await serve(server, { maxFrameBytes: 200 })
    await expect(fetchViewFrom(client, server.peerId)).rejects.toMatchObject({ code: 'VIEW_TOO_LARGE' })
    await services.splice(0)[0]?.stop()
    await serve(server, {})
    await expect(fetchViewFrom(client, server.peerId, { maxFrameBytes: 100 })).rejects.toMatchObject({
      code: 'BAD_FRAME',
    })
  })

  it('malformed replies and a silent server fail with BAD_FRAME and STATUS_TIMEOUT, within the deadline', async () => {
    const { server, client } = await pair()
    const held: Stream[] = []
    let reply: Uint8Array | undefined = new TextEncoder().encode('{"view":{"peers":"nope"}}')
    await server.handle(STATUS_PROTOCOL, async (stream) => {
      if (reply === undefined) {
        held.push(stream) // never answers
        return
      }
      await lpStream(stream).write(reply)
      await stream.close()
    })
    await expect(fetchViewFrom(client, server.peerId)).rejects.toMatchObject({ code: 'BAD_FRAME' })
    reply = new TextEncoder().encode('not json')
    await expect(fetchViewFrom(client, server.peerId)).rejects.toMatchObject({ code: 'BAD_FRAME' })
    reply = undefined
    const started = performance.now()
    await expect(fetchViewFrom(client, server.peerId, { timeoutMs: 300 })).rejects.toMatchObject({
      code: 'STATUS_TIMEOUT',
    })
    expect(performance.now() - started).toBeLessThan(1_000)
    for (const stream of held) stream.abort(new Error('test over'))
    await server.unhandle(STATUS_PROTOCOL)
  })

  it('a peer without the handler fails fast with STATUS_UNREACHABLE', async () => {
    const { server, client } = await pair()
    const started = performance.now()
    await expect(fetchViewFrom(client, server.peerId, { timeoutMs: 2_000 })).rejects.toMatchObject({
      code: 'STATUS_UNREACHABLE',
    })
    expect(performance.now() - started).toBeLessThan(1_000)
  })
})
