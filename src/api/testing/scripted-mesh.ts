/**
 * A `Mesh` for tests of the HTTP gateway and the CLI: it hosts a fixed set
 * of souls, plays scripted parts (with delays and failures), and records
 * every request and the `AbortSignal` it was given.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { ChatPart, EmbedResponse } from '../../llm/types.js'
import type {
  Mesh,
  MeshCallOptions,
  MeshChatRequest,
  MeshEmbedRequest,
  MeshModel,
} from '../../routing/mesh.js'

/** One step of a scripted reply: a part, a pause, or a failure. */
export type ScriptStep = ChatPart | { type: 'sleep'; ms: number } | { type: 'throw'; error: unknown }

/** A scripted mesh; set `chatScript`, `embedResult` or `modelList` per test. */
export class ScriptedMesh implements Mesh {
  /** Souls this "peer" hosts. */
  readonly souls: Set<string>
  /** Steps the next chat replies with (or a function of the request). */
  chatScript: ScriptStep[] | ((request: MeshChatRequest) => ScriptStep[]) = []
  /** What `embed` returns, or throws when it is an Error. */
  embedResult: EmbedResponse | Error = { embeddings: [] }
  /** What `models` returns. */
  modelList: MeshModel[] = []
  readonly chatRequests: MeshChatRequest[] = []
  readonly embedRequests: MeshEmbedRequest[] = []
  readonly signals: (AbortSignal | undefined)[] = []
  /** Parts handed out so far (to observe backpressure). */
  pulled = 0

  constructor(souls: string[] = ['inbox-triage']) {
    this.souls = new Set(souls)
  }

  /** True for the souls given to the constructor. */
  hostsSoul(soul: string): boolean {
    return this.souls.has(soul)
  }

  /** Plays the script; a pause ends early (throwing the abort reason) when the signal aborts. */
  chat(request: MeshChatRequest, options?: MeshCallOptions): AsyncIterable<ChatPart> {
    this.chatRequests.push(request)
    this.signals.push(options?.signal)
    const steps = typeof this.chatScript === 'function' ? this.chatScript(request) : this.chatScript
    const signal = options?.signal
    const mesh = this
    return (async function* play(): AsyncGenerator<ChatPart> {
      for (const step of steps) {
        signal?.throwIfAborted()
        if (step.type === 'sleep') await sleep(step.ms, undefined, signal === undefined ? {} : { signal })
        else if (step.type === 'throw') throw step.error
        else {
          mesh.pulled++
          yield step
        }
      }
    })()
  }

  /** Returns (or throws) `embedResult`. */
  async embed(request: MeshEmbedRequest, options?: MeshCallOptions): Promise<EmbedResponse> {
    this.embedRequests.push(request)
    this.signals.push(options?.signal)
    if (this.embedResult instanceof Error) throw this.embedResult
    return this.embedResult
  }

  /** Returns `modelList`. */
  async models(_soul: string): Promise<MeshModel[]> {
    return this.modelList
  }
}
