import { pino, type Logger, type LoggerOptions } from 'pino'

export type { Logger }

export interface LoggerConfig {
  service: string
  level: string
  /** Where lines go; stdout unless a test passes its own stream. */
  destination?: { write(line: string): void }
}

/**
 * JSON lines on stdout, one object per line. No transports: they spawn worker
 * threads, which a compiled single-file binary cannot load.
 */
export function createLogger({ service, level, destination }: LoggerConfig): Logger {
  const options: LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: ['paymentToken', '*.paymentToken', 'token'], censor: '[redacted]' },
  }
  // Synchronous stdout writes: a line logged just before a crash is not lost.
  return destination ? pino(options, destination) : pino(options)
}
