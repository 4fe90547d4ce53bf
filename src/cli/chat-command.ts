/**
 * `clawmesh chat --soul NAME [--model BACKEND[/MODEL]] [--api URL] PROMPT...`:
 * streams one reply through a peer's OpenAI-compatible gateway (the same
 * path every OpenAI client takes) and prints it as it arrives.
 */
import { parseArgs } from 'node:util'
import OpenAI from 'openai'
import { SOUL_HEADER } from '../api/openai-gateway.js'
import { ClawmeshError, errorMessage } from '../errors.js'
import { printLine, printText } from './output.js'

/** The gateway a chat goes to unless `--api` says otherwise. */
export const DEFAULT_CHAT_API = 'http://127.0.0.1:8081'

/** A chat failed; the message ends with the code, e.g. `soul "x" is not hosted by this peer (FOREIGN_SOUL)`. */
export class ChatError extends ClawmeshError {
  static override name = 'ChatError'
  constructor(code: string, message: string) {
    super(code, `${message} (${code})`)
  }
}

/** Maps a failure of the openai client to a ChatError with the gateway's code. */
function chatError(error: unknown, apiUrl: string): ChatError {
  if (error instanceof ChatError) return error
  if (error instanceof OpenAI.APIConnectionError)
    return new ChatError(
      'GATEWAY_UNREACHABLE',
      `cannot reach ${apiUrl}: ${errorMessage(error.cause ?? error)}`,
    )
  if (error instanceof OpenAI.APIError) {
    const body = error.error as { message?: unknown } | undefined
    const message = typeof body?.message === 'string' ? body.message : error.message
    const code = typeof error.code === 'string' ? error.code : `HTTP_${error.status ?? 'ERROR'}`
    return new ChatError(code, message)
  }
  return new ChatError('CHAT_FAILED', errorMessage(error))
}

/** Runs `clawmesh chat`. Without `--model` it sends `model: ""`: the soul's default backend and model. */
export async function runChat(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      soul: { type: 'string' },
      model: { type: 'string' },
      api: { type: 'string', default: DEFAULT_CHAT_API },
    },
    allowPositionals: true,
    strict: true,
  })
  const soul = values.soul
  if (soul === undefined || soul === '') throw new ChatError('USAGE', 'chat needs --soul NAME')
  const prompt = positionals.join(' ')
  if (prompt.trim() === '') throw new ChatError('USAGE', 'chat needs a PROMPT')
  const apiUrl = values.api.includes('://') ? values.api : `http://${values.api}`

  const client = new OpenAI({
    baseURL: new URL('/v1', apiUrl).toString(),
    // The gateway names callers by soul, not by key; the client insists on one.
    apiKey: 'unused',
    defaultHeaders: { [SOUL_HEADER]: soul },
    // A chat is not idempotent for the user watching it: never replay it.
    maxRetries: 0,
    timeout: 10 * 60_000,
  })

  let midLine = false
  const toolCalls = new Map<number, { name: string; arguments: string }>()
  try {
    const stream = await client.chat.completions.create({
      model: values.model ?? '',
      messages: [{ role: 'user', content: prompt }],
      stream: true,
    })
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta
      if (delta === undefined) continue
      if (typeof delta.content === 'string' && delta.content !== '') {
        printText(delta.content)
        midLine = !delta.content.endsWith('\n')
      }
      for (const call of delta.tool_calls ?? []) {
        const known = toolCalls.get(call.index) ?? { name: '', arguments: '' }
        if (call.function?.name) known.name = call.function.name
        known.arguments += call.function?.arguments ?? ''
        toolCalls.set(call.index, known)
      }
    }
  } catch (error) {
    if (midLine) printLine()
    throw chatError(error, apiUrl)
  }
  if (midLine) printLine()
  for (const call of toolCalls.values()) printLine(`[tool call] ${call.name}(${call.arguments})`)
}
