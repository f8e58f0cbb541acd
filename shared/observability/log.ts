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

const CENSOR = '[redacted]'
const TOP_LEVEL = new Set<string>(REDACTED_PATHS.filter((p) => !p.includes('.')))
const NESTED = new Set<string>(REDACTED_PATHS.filter((p) => p.startsWith('*.')).map((p) => p.slice(2)))

/**
 * `fields` with every {@link REDACTED_PATHS} value replaced by `[redacted]`:
 * at the top level, and one level down in any object. Copies only what it
 * changes, and nothing when there is nothing to hide (the common line), so a
 * log line costs no clone of its fields.
 */
export function redactFields(fields: LogFields): LogFields {
  let out: LogFields | undefined
  for (const key of Object.keys(fields)) {
    const value = fields[key]
    if (TOP_LEVEL.has(key)) (out ??= { ...fields })[key] = CENSOR
    else if (typeof value === 'object' && value !== null && holdsNested(value))
      (out ??= { ...fields })[key] = censoredCopy(value)
  }
  return out ?? fields
}

function holdsNested(value: object): boolean {
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return false
  for (const name of NESTED) if (Object.hasOwn(value, name)) return true
  return false
}

/**
 * `value` with its {@link NESTED} fields censored. A plain object becomes a
 * plain copy; anything else (an Error the `err` serializer reads) keeps its
 * prototype and every own property, message and stack included.
 */
function censoredCopy(value: object): object {
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, NESTED.has(k) ? CENSOR : v]))
  const copy = Object.create(proto as object) as object
  for (const key of Reflect.ownKeys(value)) {
    const described = Object.getOwnPropertyDescriptor(value, key)
    if (described === undefined) continue
    Object.defineProperty(
      copy,
      key,
      typeof key === 'string' && NESTED.has(key)
        ? { value: CENSOR, enumerable: described.enumerable ?? true, writable: true, configurable: true }
        : described,
    )
  }
  return copy
}

/** `LOG_FORMAT`: JSON lines (the default, for machines) or `pretty` (pino-pretty, for a person watching). */
export const LOG_FORMATS = ['json', 'pretty'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]
