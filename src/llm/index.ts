/** The `llm` room: the LLMBackend contract, its registry and errors, and the built-in backends. */

export { AnthropicBackend, anthropicDefaultUrl } from './anthropic-backend.js'
export type { BackendOptions, BackendSettings } from './backend-options.js'
export type { DescribeFailure, ProviderFailure } from './call-guard.js'
export {
  backendErrorFromStatus,
  CallGuard,
  codeForStatus,
  defaultTimeoutMs,
  parseRetryAfter,
  redactSecrets,
} from './call-guard.js'
export * from './errors.js'
export { GoogleBackend, googleDefaultUrl } from './google-backend.js'
export { OllamaBackend, ollamaDefaultUrl, withLatestTag } from './ollama-backend.js'
export { OpenAICompatibleBackend, openaiDefaultUrl } from './openai-compatible-backend.js'
export {
  BackendRegistry,
  type CreateBackendOptions,
  createBackend,
  createBackendRegistry,
  registerBackend,
  registeredBackends,
  unregisterBackend,
} from './registry.js'
export type * from './types.js'
