import { anthropicWireFormat } from './fake-anthropic.js'
import { googleWireFormat } from './fake-google.js'
import { ollamaWireFormat } from './fake-ollama.js'
import { openaiWireFormat } from './fake-openai.js'
import { type FakeProvider, type FakeScript, startFakeServer } from './fake-provider.js'

/** Provider wire formats the fakes speak. */
export type FakeProviderKind = 'openai' | 'ollama' | 'anthropic' | 'google'

/** Starts a fake `kind` server on loopback; see `fake-provider.ts` for the API. */
export function startFakeProvider(kind: FakeProviderKind, script: FakeScript = {}): Promise<FakeProvider> {
  switch (kind) {
    case 'openai':
      return startFakeServer(kind, '/v1', openaiWireFormat, script)
    case 'ollama':
      return startFakeServer(kind, '', ollamaWireFormat, script)
    case 'anthropic':
      return startFakeServer(kind, '', anthropicWireFormat, script)
    case 'google':
      return startFakeServer(kind, '', googleWireFormat, script)
  }
}
