import { afterEach, describe, expect, it } from 'vitest'
import { BackendConfig } from '../../src/config/schema.js'
import {
  BackendConfigError,
  createBackend,
  registeredBackends,
  unregisterBackend,
} from '../../src/llm/index.js'
import { runBackendContract } from '../../src/llm/testing/backend-contract.js'
import { startFakeGateway } from './fake-gateway.js'
import { MyCorpGatewayBackend } from './mycorp-gateway-backend.js'
import { registerMyCorpGateway } from './register.js'

runBackendContract({
  name: 'mycorp-gateway (custom example)',
  startFake: startFakeGateway,
  create: (fake, { apiKey, timeoutMs }) =>
    new MyCorpGatewayBackend({ endpoint: fake.url, apiKey, tenant: 'finance', timeoutMs }),
  chatModel: 'corp-large',
  embedModel: 'corp-embed',
  models: { script: ['corp-a', 'corp-b'], expected: ['corp-a', 'corp-b'] },
  assertAuth: (request, apiKey) => {
    expect(request.headers['x-mycorp-key']).toBe(apiKey)
    expect(request.headers['x-mycorp-tenant']).toBe('finance')
  },
})

describe('registering the MyCorp gateway at boot', () => {
  afterEach(() => {
    unregisterBackend('mycorp-gateway')
  })

  it('makes a manifest `type: custom` entry resolve to it', async () => {
    const backend = registerMyCorpGateway({
      MYCORP_GATEWAY_URL: 'http://127.0.0.1:9/',
      MYCORP_GATEWAY_KEY: 'k-12345',
      MYCORP_GATEWAY_TENANT: 'finance',
    })
    expect(registeredBackends()).toContain(backend)
    expect(await createBackend(BackendConfig.parse({ name: 'mycorp-gateway', type: 'custom' }))).toBe(backend)
  })

  it('refuses to start without its environment', () => {
    expect(() => registerMyCorpGateway({})).toThrow(BackendConfigError)
    expect(registeredBackends()).toEqual([])
  })
})
