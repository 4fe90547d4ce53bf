import { afterAll, afterEach, beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest'
import { openAIRoutes } from '../api/openai-gateway.js'
import { type ApiServer, startApiServer } from '../api/server.js'
import { ScriptedMesh } from '../api/testing/scripted-mesh.js'
import { ClawmeshError } from '../errors.js'
import type { Logger } from '../log.js'
import { RoutingError } from '../routing/errors.js'
import { ChatError, runChat } from './chat-command.js'

const log: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => log }

let mesh: ScriptedMesh
let api: ApiServer
let stdout: MockInstance<typeof process.stdout.write>
let written: string[]

beforeAll(async () => {
  mesh = new ScriptedMesh(['inbox-triage'])
  api = await startApiServer({
    host: '127.0.0.1',
    port: 0,
    routes: openAIRoutes({ mesh, maxBodyBytes: 1024 * 1024, log }),
    log,
  })
})

afterAll(async () => {
  await api.close()
})

/** Captures stdout while `run` runs; the captured writes stay in `written`. */
async function captured(run: () => Promise<void>): Promise<void> {
  written = []
  stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString())
    return true
  })
  try {
    await run()
  } finally {
    stdout.mockRestore()
  }
}

afterEach(() => {
  mesh.chatRequests.length = 0
})

describe('clawmesh chat', () => {
  it('streams the reply to stdout as it arrives', async () => {
    const tokens = ['The ', 'inbox ', 'is ', 'clear.']
    mesh.chatScript = [
      ...tokens.map((text) => ({ type: 'text-delta' as const, text })),
      { type: 'end', finishReason: 'stop' },
    ]
    await captured(() =>
      runChat([
        '--soul',
        'inbox-triage',
        '--api',
        api.url,
        '--model',
        'fast/llama3',
        'how',
        'is',
        'my inbox?',
      ]),
    )
    // Each delta is its own write, in order, then one newline.
    expect(written).toEqual([...tokens, '\n'])
    expect(mesh.chatRequests[0]).toEqual({
      soul: 'inbox-triage',
      model: 'fast/llama3',
      request: { messages: [{ role: 'user', content: 'how is my inbox?' }] },
    })
  })

  it('sends an empty model (the soul default) without --model, accepts host:port, prints tool calls', async () => {
    mesh.chatScript = [
      { type: 'tool-call-delta', index: 0, id: 'call_1', name: 'archive', argumentsDelta: '{"id":' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: '7}' },
      { type: 'end', finishReason: 'tool-calls' },
    ]
    await captured(() =>
      runChat(['--soul', 'inbox-triage', '--api', api.url.replace('http://', ''), 'archive 7']),
    )
    expect(written.join('')).toBe('[tool call] archive({"id":7})\n')
    expect(mesh.chatRequests[0]?.model).toBe('')
  })

  it('fails with the gateway message and code for a foreign soul', async () => {
    let error: unknown
    await captured(() =>
      runChat(['--soul', 'finance-bookkeeper', '--api', api.url, 'hi']).catch((caught) => {
        error = caught
      }),
    )
    expect(error).toBeInstanceOf(ChatError)
    expect((error as ChatError).code).toBe('FOREIGN_SOUL')
    expect((error as ChatError).message).toBe(
      'soul "finance-bookkeeper" is not hosted by this peer (FOREIGN_SOUL)',
    )
    expect(written).toEqual([])
  })

  it('fails with the mesh code before the first token', async () => {
    mesh.chatScript = [
      { type: 'throw', error: new ClawmeshError('UNKNOWN_BACKEND', 'no node offers backend "gpu"') },
    ]
    const error = await runChat(['--soul', 'inbox-triage', '--api', api.url, '--model', 'gpu', 'hi']).catch(
      (caught: unknown) => caught,
    )
    expect(error).toMatchObject({
      code: 'UNKNOWN_BACKEND',
      message: 'no node offers backend "gpu" (UNKNOWN_BACKEND)',
    })
  })

  it('keeps the text already printed and fails when the stream breaks mid-reply', async () => {
    mesh.chatScript = [
      { type: 'text-delta', text: 'partial' },
      {
        type: 'throw',
        error: new RoutingError('OWNER_FAILED', 'owner vps-fast went away', { retryable: false }),
      },
    ]
    let error: unknown
    await captured(() =>
      runChat(['--soul', 'inbox-triage', '--api', api.url, 'hi']).catch((caught) => {
        error = caught
      }),
    )
    expect(written).toEqual(['partial', '\n'])
    expect(error).toMatchObject({ code: 'OWNER_FAILED', message: 'owner vps-fast went away (OWNER_FAILED)' })
  })

  it('fails clearly when the gateway cannot be reached or arguments are missing', async () => {
    const unreachable = await runChat(['--soul', 'inbox-triage', '--api', 'http://127.0.0.1:9', 'hi']).catch(
      (caught: unknown) => caught,
    )
    expect(unreachable).toMatchObject({ code: 'GATEWAY_UNREACHABLE' })
    expect((unreachable as Error).message).toContain('cannot reach http://127.0.0.1:9')
    await expect(runChat(['hi'])).rejects.toMatchObject({ code: 'USAGE' })
    await expect(runChat(['--soul', 'inbox-triage'])).rejects.toMatchObject({ code: 'USAGE' })
  })
})
