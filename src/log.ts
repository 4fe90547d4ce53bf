/**
 * One structured logger for every room. Lines are JSON on stderr so they can
 * be piped to any log collector; the CLI's own human output goes through
 * `cli/output.ts`, never through here.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

const levels: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

/** A logger bound to one scope (a room, or a peer within a room). */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
  /** A child logger whose lines carry `scope` and the extra fields. */
  child(scope: string, fields?: Record<string, unknown>): Logger
}

function threshold(): number {
  const wanted = process.env.CLAWMESH_LOG as LogLevel | undefined
  if (wanted === undefined) return levels.info
  return wanted in levels ? levels[wanted] : levels.info
}

/** Values that must never reach a log line (API keys, secrets). */
const redactedKeys = /key|secret|token|authorization|password/i

function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(fields)) {
    out[key] = redactedKeys.test(key) && typeof value === 'string' ? '[redacted]' : value
  }
  return out
}

/** Creates a logger for `scope`. Honors `CLAWMESH_LOG=debug|info|warn|error|silent`. */
export function createLogger(scope: string, base: Record<string, unknown> = {}): Logger {
  const write = (level: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (process.env.CLAWMESH_LOG === 'silent' || levels[level] < threshold()) return
    const line = { time: new Date().toISOString(), level, scope, message, ...base, ...redact(fields ?? {}) }
    process.stderr.write(
      `${JSON.stringify(line, (_key, value) => (value instanceof Error ? value.message : value))}\n`,
    )
  }
  return {
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
    child: (childScope, fields) => createLogger(`${scope}:${childScope}`, { ...base, ...fields }),
  }
}
