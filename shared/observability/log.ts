/**
 * The logger every module depends on: structured fields first, then a message.
 * pino (`logger.ts`, Bun/Node/Deno) and the console logger (`console-logger.ts`,
 * Workers) both satisfy it, so no module outside an entry needs to know which.
 */
export type LogFields = Record<string, unknown>

export interface LogFn {
  (fields: LogFields, message?: string): void
  (message: string): void
}

export interface Logger {
  error: LogFn
  warn: LogFn
  info: LogFn
  debug: LogFn
  /** A logger that adds `bindings` to every line. */
  child(bindings: LogFields): Logger
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** Field paths whose values never reach a log line (card tokens). */
export const REDACTED_PATHS = ['paymentToken', '*.paymentToken', 'token'] as const

/** `LOG_FORMAT`: JSON lines (the default, for machines) or `pretty` (pino-pretty, for a person watching). */
export const LOG_FORMATS = ['json', 'pretty'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]
