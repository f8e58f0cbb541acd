import * as v from 'valibot'
import { shownUrl } from './shown-url.ts'

/** Thrown by {@link loadConfig}; carries every problem found, not only the first. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
  }
}

type Env = Readonly<Record<string, string | undefined>>

/**
 * Reads a service's settings from an environment object through one Valibot
 * schema. Empty strings count as unset so `FOO=` falls back to the default.
 * Every problem is reported at once.
 */
export function loadConfig<const TSchema extends v.GenericSchema<Record<string, unknown>>>(
  schema: TSchema,
  env: Env,
): v.InferOutput<TSchema> {
  const input: Record<string, string> = {}
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') input[key] = value
  }
  const result = v.safeParse(schema, input, { abortEarly: false })
  if (result.success) return result.output
  throw new ConfigError(
    result.issues.map((issue) => {
      const key = v.getDotPath(issue) ?? '(root)'
      // A required variable that is not set: Valibot's own text names the key again.
      const missing = issue.type === 'object' && issue.received === 'undefined'
      return `${key}: ${missing ? 'is required' : issue.message}`
    }),
  )
}

/** `"123"` -> 123, bounded; the message names the variable's expectations. */
export function intFromEnv(defaultValue: number, min: number, max: number) {
  return v.optional(
    v.pipe(
      v.string(),
      v.regex(/^-?\d+$/, 'must be an integer'),
      v.transform(Number),
      v.number(),
      v.minValue(min, `must be >= ${min}`),
      v.maxValue(max, `must be <= ${max}`),
    ),
    String(defaultValue),
  )
}

/** `"0.5"` -> 0.5, within [min, max]. */
export function fractionFromEnv(defaultValue: number, min = 0, max = 1) {
  return v.optional(
    v.pipe(
      v.string(),
      v.regex(/^(\d+(\.\d*)?|\.\d+)$/, `must be a number from ${min} to ${max}`),
      v.transform(Number),
      v.number(),
      v.minValue(min, `must be >= ${min}`),
      v.maxValue(max, `must be <= ${max}`),
    ),
    String(defaultValue),
  )
}

/** `"true" | "false" | "1" | "0" | "yes" | "no"`, in any case -> boolean. */
export function boolFromEnv(defaultValue: boolean) {
  return v.optional(
    v.pipe(
      v.string(),
      v.toLowerCase(),
      v.picklist(['true', 'false', '1', '0', 'yes', 'no'], 'must be true or false (1 or 0, yes or no)'),
      v.transform((s) => s === 'true' || s === '1' || s === 'yes'),
    ),
    defaultValue ? 'true' : 'false',
  )
}

export const logLevelFromEnv = v.optional(
  v.picklist(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    'must be one of fatal, error, warn, info, debug, trace, silent',
  ),
  'info',
)

/** Comma-separated URLs, each matching `pattern`; at least one. */
export function urlListFromEnv(pattern: RegExp, message: string) {
  return v.pipe(
    v.string(),
    v.transform((s) =>
      s
        .split(',')
        .map((u) => u.trim())
        .filter((u) => u !== ''),
    ),
    v.array(
      v.pipe(
        v.string(),
        v.regex(pattern, message),
        v.check(
          hasHostAndPort,
          (issue) => `${shownUrl(issue.input)}: needs a host, and a port (if given) of 1-65535`,
        ),
      ),
    ),
    v.minLength(1, 'must name at least one server'),
  )
}

/** A URL that parses, names a host, and whose port, if given, is 1-65535 (`new URL` refuses ports above). */
function hasHostAndPort(url: string): boolean {
  try {
    const parsed = new URL(url)
    return parsed.hostname !== '' && parsed.port !== '0'
  } catch {
    return false
  }
}

/**
 * The base URL of another HTTP service: http(s), no query or fragment (a path
 * joined to one would land inside it), trailing slashes removed; a path
 * prefix (`https://psp.example/v1`) is kept and the routes go under it.
 */
export function baseUrlFromEnv(defaultValue: string) {
  return v.optional(
    v.pipe(
      v.string(),
      v.url('must be a URL'),
      v.regex(/^https?:\/\//, 'must be http(s)'),
      v.check(
        (url) => !/[?#]/.test(url),
        'must have no query or fragment (the routes are added to its path)',
      ),
      v.transform((url) => url.replace(/\/+$/, '')),
    ),
    defaultValue,
  )
}

/** Comma-separated NATS server URLs (nats://, tls://, ws://, wss://). */
export const natsUrlsFromEnv = v.optional(
  urlListFromEnv(/^(nats|tls|ws|wss):\/\/[^\s]+$/, 'must be nats://, tls://, ws:// or wss:// URLs'),
  'nats://127.0.0.1:4222',
)

export const bindHostFromEnv = v.optional(v.pipe(v.string(), v.minLength(1)), '127.0.0.1')

/** An ISO 4217 currency code (three capital letters), `USD` when unset. */
export const currencyFromEnv = v.optional(
  v.pipe(v.string(), v.regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code')),
  'USD',
)

/** The configuration, or the problems a {@link ConfigError} named. */
export function loadOrProblems<C>(load: () => C): { config: C } | { problems: readonly string[] } {
  try {
    return { config: load() }
  } catch (error) {
    if (error instanceof ConfigError) return { problems: error.problems }
    throw error
  }
}
