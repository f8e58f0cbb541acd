import { pino, type LoggerOptions } from 'pino'
import { REDACTED_PATHS, type Logger } from './log.ts'

export type { Logger }

export interface LoggerConfig {
  service: string
  level: string
  /** Where lines go; stdout unless a test passes its own stream. */
  destination?: { write(line: string): void }
}

/**
 * pino, for Bun, Node and Deno: JSON lines on stdout, one object per line. No
 * transports: they spawn worker threads, which a compiled single-file binary
 * cannot load. Workers use `createConsoleLogger` (same line shape).
 */
export function createLogger({ service, level, destination }: LoggerConfig): Logger {
  const options: LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
  }
  // Synchronous stdout writes: a line logged just before a crash is not lost.
  return destination ? pino(options, destination) : pino(options)
}
