/**
 * A logger with web-standard APIs only, for runtimes where pino does not run
 * (Cloudflare Workers): the same JSON line shape as `createLogger` (level
 * label, ISO time, service, bindings, fields, msg), the same redaction, and
 * errors as `{ type, message, stack }`. Lines go to `console.log`.
 */
import { redactFields, type LogFields, type LogFn, type Logger } from './log.ts'

export interface ConsoleLoggerConfig {
  service: string
  level: string
  /** Where lines go (default `console.log`). */
  write?: (line: string) => void
  now?: () => Date
}

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 }

export function createConsoleLogger({
  service,
  level,
  write = (line) => console.log(line),
  now = () => new Date(),
}: ConsoleLoggerConfig): Logger {
  const threshold = LEVELS[level] ?? Number.POSITIVE_INFINITY
  const build = (bindings: LogFields): Logger => {
    const at = (label: string): LogFn => {
      const value = LEVELS[label] ?? 0
      return (fieldsOrMessage: LogFields | string, message?: string) => {
        if (value < threshold) return
        const fields = typeof fieldsOrMessage === 'string' ? {} : fieldsOrMessage
        const msg = typeof fieldsOrMessage === 'string' ? fieldsOrMessage : message
        const line = {
          level: label,
          time: now().toISOString(),
          service,
          ...bindings,
          ...fields,
          ...(msg === undefined ? {} : { msg }),
        }
        write(JSON.stringify(redactFields(line), replaceErrors))
      }
    }
    return {
      error: at('error'),
      warn: at('warn'),
      info: at('info'),
      debug: at('debug'),
      child: (more) => build({ ...bindings, ...more }),
    }
  }
  return build({})
}

function replaceErrors(_key: string, value: unknown): unknown {
  if (!(value instanceof Error)) return value
  return {
    type: value.name,
    message: value.message,
    ...(value.stack === undefined ? {} : { stack: value.stack }),
    ...(value.cause === undefined ? {} : { cause: value.cause }),
  }
}
