/** The services of a running peer: one ordered list, started in order and stopped in reverse. */
import { errorMessage } from '../errors.js'
import type { Logger } from '../log.js'

/** One part of a running peer: started in list order, stopped in reverse. */
export interface PeerService {
  readonly name: string
  start?(): void | Promise<void>
  stop?(): void | Promise<void>
}

/** Starts `services` in order; if one fails, stops the ones started, in reverse, and rethrows. */
export async function startAll(services: readonly PeerService[], log: Logger): Promise<void> {
  for (const [index, service] of services.entries()) {
    try {
      await service.start?.()
    } catch (error) {
      await stopAll(services.slice(0, index + 1), log)
      throw error
    }
  }
}

/** Stops `services` in reverse order; a failing stop is logged and does not keep the rest running. */
export async function stopAll(services: readonly PeerService[], log: Logger): Promise<void> {
  for (const service of [...services].reverse()) {
    try {
      await service.stop?.()
    } catch (error) {
      log.warn('service did not stop cleanly', { service: service.name, error: errorMessage(error) })
    }
  }
}
