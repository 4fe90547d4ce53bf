import { afterEach, describe, expect, it } from 'vitest'
import { BackendConfig } from '../config/schema.js'
import { AnthropicBackend } from './anthropic-backend.js'
import {
  BackendConfigError,
  DuplicateBackendError,
  UnknownBackendError,
  UnknownBackendTypeError,
} from './errors.js'
import { GoogleBackend } from './google-backend.js'
import { OllamaBackend } from './ollama-backend.js'
import { OpenAICompatibleBackend } from './openai-compatible-backend.js'
import {
  BackendRegistry,
  createBackend,
  createBackendRegistry,
  registerBackend,
  registeredBackends,
  unregisterBackend,
} from './registry.js'
import type { LLMBackend } from './types.js'

function stubBackend(name: string, closed: string[] = []): LLMBackend {
  return {
    name,
    type: 'stub',
    async *chat() {
      yield { type: 'end', finishReason: 'stop' }
    },
    embed: async () => ({ embeddings: [] }),
    health: async () => ({ ok: true, latencyMs: 0 }),
    models: async () => ['stub-model'],
    close: async () => {
      closed.push(name)
    },
  }
}

afterEach(() => {
  for (const backend of registeredBackends()) unregisterBackend(backend.name)
})

describe('BackendRegistry', () => {
  it('registers, gets, lists and closes backends', async () => {
    const closed: string[] = []
    const registry = new BackendRegistry()
    registry.register(stubBackend('a', closed))
    registry.register(stubBackend('b', closed))
    expect(registry.get('b').name).toBe('b')
    expect(registry.list().map((backend) => backend.name)).toEqual(['a', 'b'])
    await registry.close()
    expect(closed.sort()).toEqual(['a', 'b'])
    expect(registry.list()).toEqual([])
  })

  it('refuses a duplicate name and names an unknown backend', () => {
    const registry = new BackendRegistry()
    registry.register(stubBackend('a'))
    const duplicate = () => registry.register(stubBackend('a'))
    expect(duplicate).toThrow(DuplicateBackendError)
    expect(duplicate).toThrow('a backend named "a" is already registered')
    try {
      registry.get('nope')
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(UnknownBackendError)
      expect((error as UnknownBackendError).name).toBe('UnknownBackendError')
      expect((error as UnknownBackendError).code).toBe('UNKNOWN_BACKEND')
    }
  })
})

describe('registerBackend', () => {
  it('makes a code-registered backend available process-wide and refuses duplicates', () => {
    registerBackend(stubBackend('mycorp-gateway'))
    expect(registeredBackends().map((backend) => backend.name)).toEqual(['mycorp-gateway'])
    expect(() => registerBackend(stubBackend('mycorp-gateway'))).toThrow(DuplicateBackendError)
  })
})

describe('createBackend', () => {
  const config = (entry: Record<string, unknown>) => BackendConfig.parse(entry)

  it('builds each built-in type from a manifest entry', async () => {
    expect(await createBackend(config({ name: 'local' }))).toBeInstanceOf(OllamaBackend) // type defaults to ollama
    expect(
      await createBackend(config({ name: 'v', type: 'openai-compatible', url: 'http://127.0.0.1:8000/v1' })),
    ).toBeInstanceOf(OpenAICompatibleBackend)
    expect(await createBackend(config({ name: 'c', type: 'anthropic', api_key: 'k-1234' }))).toBeInstanceOf(
      AnthropicBackend,
    )
    expect(await createBackend(config({ name: 'g', type: 'google', api_key: 'k-1234' }))).toBeInstanceOf(
      GoogleBackend,
    )
  })

  it('resolves type custom to the backend registered under that name, or says what is missing', async () => {
    const gateway = stubBackend('mycorp-gateway')
    registerBackend(gateway)
    expect(await createBackend(config({ name: 'mycorp-gateway', type: 'custom' }))).toBe(gateway)
    const missing = () => createBackend(config({ name: 'other', type: 'custom' }))
    await expect(missing()).rejects.toThrow(BackendConfigError)
    await expect(missing()).rejects.toThrow(/registerBackend\(\).*registered: mycorp-gateway/)
  })

  it('names an unknown type', async () => {
    const entry = { name: 'x', type: 'mistral' } as unknown as BackendConfig
    await expect(createBackend(entry)).rejects.toThrow(UnknownBackendTypeError)
    await expect(createBackend(entry)).rejects.toThrow(
      /unknown backend type "mistral" \(expected one of ollama, /,
    )
  })
})

describe('createBackendRegistry', () => {
  it('holds manifest backends plus code-registered ones, and refuses duplicate manifest names', async () => {
    registerBackend(stubBackend('mycorp-gateway'))
    registerBackend(stubBackend('billing-proxy'))
    const registry = await createBackendRegistry([
      BackendConfig.parse({ name: 'local' }),
      BackendConfig.parse({ name: 'mycorp-gateway', type: 'custom' }),
    ])
    expect(registry.list().map((backend) => backend.name)).toEqual([
      'local',
      'mycorp-gateway',
      'billing-proxy',
    ])
    await registry.close()
    await expect(
      createBackendRegistry(
        [BackendConfig.parse({ name: 'local' }), BackendConfig.parse({ name: 'local' })],
        {
          registered: [],
        },
      ),
    ).rejects.toThrow(DuplicateBackendError)
  })
})
