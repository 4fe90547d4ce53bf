/**
 * Boot-time registration, the second file of the lesson's two-file pattern: call it before the
 * peer starts; souls then target the backend by name (`model: mycorp-gateway/corp-large`), and a
 * manifest may list it as `{ name: mycorp-gateway, type: custom }`.
 */
import { registerBackend } from '../../src/llm/index.js'
import { MyCorpGatewayBackend } from './mycorp-gateway-backend.js'

/** Registers the MyCorp gateway from `MYCORP_GATEWAY_URL`, `MYCORP_GATEWAY_KEY`, `MYCORP_GATEWAY_TENANT`. */
export function registerMyCorpGateway(environment: NodeJS.ProcessEnv = process.env): MyCorpGatewayBackend {
  const backend = new MyCorpGatewayBackend({
    endpoint: environment.MYCORP_GATEWAY_URL ?? '',
    apiKey: environment.MYCORP_GATEWAY_KEY ?? '',
    tenant: environment.MYCORP_GATEWAY_TENANT ?? '',
  })
  registerBackend(backend)
  return backend
}
