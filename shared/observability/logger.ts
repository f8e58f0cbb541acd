import { pino, type LoggerOptions } from 'pino'
import { ConfigError } from '../config/load-config.ts'
import { LOG_FORMATS, redactFields, type LogFormat, type Logger } from './log.ts'

export type { Logger, LogFormat }

export interface LoggerConfig {
  service: string
  level: string
  /** `json` or `pretty`; when not given, `LOG_FORMAT` of the process environment (default `json`). */
  format?: LogFormat
  /** Where lines go; stdout unless a test passes its own stream (then always JSON). */
  destination?: { write(line: string): void }
}

/**
 * `LOG_FORMAT` read and checked: unset or empty means `json`; anything but
 * `json` or `pretty` is a {@link ConfigError} naming the variable.
 */
export function logFormatFromEnv(env: Readonly<Record<string, string | undefined>>): LogFormat {
  const value = env['LOG_FORMAT']
  if (value === undefined || value === '') return 'json'
  const format = LOG_FORMATS.find((f) => f === value)
  if (format === undefined)
    throw new ConfigError([`LOG_FORMAT: must be ${LOG_FORMATS.join(' or ')}, got ${JSON.stringify(value)}`])
  return format
}

/** What `--help` says of LOG_FORMAT (every service reads it). */
export const LOG_FORMAT_HELP =
  'Logs: LOG_FORMAT json (default) or pretty (a compiled binary logs JSON either way).'

/** LOG_FORMAT's problem, if any, to list with a service's other settings. */
export function logFormatProblems(env: Readonly<Record<string, string | undefined>>): string[] {
  try {
    logFormatFromEnv(env)
    return []
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems]
    throw error
  }
}

/**
 * pino, for Bun, Node and Deno: JSON lines on stdout, one object per line. No
 * transports: they spawn worker threads, which a compiled single-file binary
 * cannot load. Workers use `createConsoleLogger` (same line shape).
 * `pretty` formats each line with pino-pretty in this thread; the package is
 * imported only then (see {@link prettyStdout}).
 */
export function createLogger({
  service,
  level,
  destination,
  format = logFormatFromEnv(process.env),
}: LoggerConfig): Logger {
  const options: LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    // REDACTED_PATHS, hidden by one copy-on-write pass (log.ts) on each
    // line's fields and on each child's bindings (redactingChildren); pino's
    // own `redact` parses its paths and clones the fields on every line
    // (about 1 µs of the intake's ~110 per POST).
    formatters: { level: (label) => ({ level: label }), log: redactFields },
    serializers: { err: serializeError },
  }
  if (destination) return redactingChildren(pino(options, destination))
  return redactingChildren(
    format === 'pretty' ? pino(options, prettyStdout(service)) : pino(options, turnBatchedStdout()),
  )
}

/**
 * pino applies no formatter to a child's bindings (it resets
 * `formatters.bindings` for children), so every child, and each of its own
 * children, has its bindings redacted before pino stores them.
 */
/**
 * pino's error serializer, without the constants a `DOMException` inherits
 * (`INDEX_SIZE_ERR` ... `DATA_CLONE_ERR`: enumerable on its prototype in
 * Bun and Node), which made a timeout's line 25 fields longer. Its `name` and `code`
 * stay.
 */
function serializeError(error: unknown): unknown {
  const out = pino.stdSerializers.err(error as Error) as unknown
  // pino's `type` is the constructor's name, which a minified binary renames
  // (`--keep-names` keeps functions', not classes'): a name of the error's own
  // (every error class here sets one, as nats.js's do) says it in every build.
  // A DOMException (a runtime's own class) keeps its type and its `name` field.
  if (typeof DOMException === 'undefined' || !(error instanceof DOMException)) {
    const name = (error as { name?: unknown } | null)?.name
    if (
      typeof name === 'string' &&
      name !== '' &&
      name !== 'Error' &&
      typeof out === 'object' &&
      out !== null
    )
      (out as Record<string, unknown>)['type'] = name
    return out
  }
  const fields = out as Record<string, unknown>
  for (const key of Object.keys(fields))
    if (/^[A-Z][A-Z_]+$/.test(key) && !Object.hasOwn(error, key)) delete fields[key]
  return fields
}

function redactingChildren<L extends object>(logger: L): L {
  const root = logger as unknown as WithChildren
  // pino's own method, taken once: a child inherits the root's replacement.
  const pinoChild = root.child
  const wrap = (instance: WithChildren): WithChildren => {
    instance.child = (bindings, options) => wrap(pinoChild.call(instance, redactFields(bindings), options))
    return instance
  }
  wrap(root)
  return logger
}

interface WithChildren {
  child: (this: WithChildren, bindings: Record<string, unknown>, options?: object) => WithChildren
}

const flushedOnExit = new Set<() => void>()
/** One `exit` listener for every batched stdout of the process (not one each). */
function flushOnExit(flush: () => void): void {
  if (flushedOnExit.size === 0)
    process.once('exit', () => {
      for (const f of flushedOnExit) f()
    })
  flushedOnExit.add(flush)
}

/**
 * Stdout, the lines logged in one turn of the event loop written together at
 * its end (`setImmediate`) in one synchronous write, as NATS sends are
 * (shared/nats/end-of-turn.ts): under load the requests handled in one turn
 * cost one write instead of one per line. Nothing waits longer than the rest
 * of the turn, and every line still waiting is written before the process
 * exits (an `exit` handler, also after an uncaught error); a `kill -9` loses at
 * most the lines of the turn it interrupts. A runtime without `setImmediate`
 * writes each line at once.
 */
export function turnBatchedStdout(
  out: { write(chunk: string): unknown } = pino.destination({ dest: 1, sync: true }),
): { write(line: string): void; flushSync(): void } {
  if (typeof setImmediate !== 'function') return { write: (line) => void out.write(line), flushSync() {} }
  let lines: string[] = []
  const flushSync = (): void => {
    if (lines.length === 0) return
    const chunk = lines.join('')
    lines = []
    out.write(chunk)
  }
  flushOnExit(flushSync)
  return {
    write(line) {
      if (lines.length === 0) setImmediate(flushSync)
      lines.push(line)
    },
    flushSync,
  }
}

/** Where a compiled Bun binary's embedded modules live (`bun build --compile`). */
const COMPILED_URL_PREFIX = 'file:///$bunfs/'

/**
 * Stdout through pino-pretty's `prettyFactory` (a plain function: no
 * transport, no worker thread).
 * pino-pretty is imported on first use only; lines logged before it has
 * loaded wait for it, and are written as JSON if the process exits first or
 * the import fails (then JSON it stays, with one line saying why). A compiled
 * binary logs JSON, with one line saying so.
 */
function prettyStdout(service: string): { write(line: string): void } {
  const out = pino.destination({ dest: 1, sync: true })
  const jsonInstead = (reason: string): void =>
    void out.write(
      `${JSON.stringify({ level: 'warn', time: new Date().toISOString(), service, msg: `LOG_FORMAT=pretty: ${reason}; logging JSON` })}\n`,
    )
  // A compiled binary embeds no pino-pretty (scripts/build.ts keeps it out),
  // and loads no JavaScript from the folder it runs in: JSON it is.
  if (import.meta.url.startsWith(COMPILED_URL_PREFIX)) {
    jsonInstead('not in the compiled binaries')
    return turnBatchedStdout(out)
  }
  let format: ((line: string) => string) | undefined
  let pending: string[] | undefined = []
  const flushRaw = (): void => {
    for (const line of pending ?? []) out.write(line)
    pending = undefined
  }
  process.once('exit', flushRaw)
  import('pino-pretty').then(
    ({ prettyFactory }) => {
      const pretty = prettyFactory({
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'service',
        messageFormat: '[{service}] {msg}',
        singleLine: true,
      })
      format = (line) => pretty(line)
      for (const line of pending ?? []) out.write(format(line))
      pending = undefined
      process.off('exit', flushRaw)
    },
    (error: unknown) => {
      flushRaw()
      jsonInstead(`pino-pretty did not load (${error instanceof Error ? error.message : String(error)})`)
    },
  )
  return {
    write(line) {
      if (format !== undefined) out.write(format(line))
      else if (pending !== undefined) pending.push(line)
      else out.write(line)
    },
  }
}
