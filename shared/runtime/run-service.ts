/**
 * The composition root every Bun/Node entry shares: read config from the
 * environment (exit 1 listing every problem), build logger and metrics, start
 * the service, serve HTTP, and on SIGTERM/SIGINT turn readiness off, stop
 * accepting, finish in-flight work and drain, within a deadline.
 */
import { correlationIdOf } from '../http/correlation.ts'
import { TimeoutError } from '@nats-io/nats-core'
import { permissionViolationOf } from '../nats/permission-violation.ts'
import type { Hono } from 'hono'
import * as v from 'valibot'
import pkg from '../../package.json' with { type: 'json' }
import {
  bindHostFromEnv,
  ConfigError,
  intFromEnv,
  loadConfig,
  loadOrProblems,
} from '../config/load-config.ts'
import { NatsConnectError } from '../nats/connect.ts'
import { NotProvisionedError } from '../nats/topology.ts'
import { JetStreamDisabledError, NatsServerTooOldError } from '../nats/server-version.ts'
import { caFileProblems, SECRET_SETTINGS, loadWithSecretFiles } from '../config/secrets.ts'
import { createLogger, LOG_FORMAT_HELP, logFormatProblems, type Logger } from '../observability/logger.ts'
import { createMetrics, type Metrics } from '../observability/metrics.ts'
import { createTracerFromEnv, TRACING_HELP, tracingProblems } from '../observability/tracer-from-env.ts'
import type { Tracer } from '../observability/tracing.ts'
import { NkeySeedError } from '../security/nkey-signer.ts'
import { SealingKeyError } from '../security/sealed-token.ts'
import { probeConfigFailed, probeReady } from './ready-probe.ts'
import {
  exitWith,
  listenFailure,
  onShutdownSignal,
  refuseStrayArguments,
  serveHttp,
  type HttpServer,
} from './server.ts'
import { SECURITY_HEADERS } from '../http/security-headers.ts'

interface BaseConfig {
  PORT: number
  HOST: string
  LOG_LEVEL: string
  SHUTDOWN_TIMEOUT_MS?: number
}

export interface RunningService {
  app: Pick<Hono, 'fetch'>
  markStopping: () => void
  stopConsuming: () => Promise<void>
  close: () => Promise<void>
}

export interface ServiceEntry<C extends BaseConfig> {
  name: string
  /** One line for `--help`. */
  description?: string
  /** Its own options before the shared ones, for `--help` (`[--from <time>]`). */
  options?: string
  /** The config schema, for `--help`. */
  schema?: v.ObjectSchema<v.ObjectEntries, v.ErrorMessage<v.ObjectIssue> | undefined>
  /**
   * Shared settings of the schema this service does not use: left out of
   * `--help`, and not checked (their defaults stand), so a value meant for
   * other services in a shared environment cannot stop this one.
   */
  unused?: readonly string[]
  loadConfig: (env: Record<string, string | undefined>) => C
  start: (config: C, deps: ServiceDeps) => Promise<RunningService>
}

/** What the composition root builds for every service. */
export interface ServiceDeps {
  logger: Logger
  metrics: Metrics
  /** Records spans when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise only propagates `traceparent`. */
  tracer: Tracer
}

export async function runService<C extends BaseConfig>(
  { name, loadConfig, start, schema, unused }: ServiceEntry<C>,
  given: Record<string, string | undefined>,
): Promise<void> {
  const env = withoutUnused(given, unused)
  let config: C
  let tracer: Tracer
  let logger: Logger
  try {
    // Only its own secrets' files are read: one environment shared by every
    // service (a ConfigMap) may name files only another service mounts.
    const secrets =
      schema === undefined ? SECRET_SETTINGS : SECRET_SETTINGS.filter((name) => name in schema.entries)
    // Every problem at once: the service's settings and the tracing ones.
    const loaded = loadOrProblems(() => loadWithSecretFiles(env, secrets, loadConfig))
    const problems = [
      ...('problems' in loaded ? loaded.problems : []),
      ...caFileProblems(env),
      ...tracingProblems(env),
      ...logFormatProblems(env),
    ]
    if (problems.length > 0 || !('config' in loaded)) throw new ConfigError(problems)
    config = loaded.config
    logger = createLogger({ service: name, level: config.LOG_LEVEL })
    tracer = await createTracerFromEnv(name, pkg.version, env, logger)
  } catch (error) {
    if (error instanceof ConfigError) exitWith(`${name}: ${error.message}`)
    throw error
  }
  const shutdownDeadlineMs = config.SHUTDOWN_TIMEOUT_MS ?? 10_000
  const metrics = createMetrics(name)
  // Signals are handled from the first moment (PID 1 in a container ignores
  // an unhandled SIGTERM): a stop while still connecting exits at once; a stop
  // once the service exists waits for the HTTP server, then stops gracefully.
  let service: RunningService | undefined
  let server: HttpServer | undefined
  onShutdownSignal(async (signal) => {
    logger.info({ signal, deadlineMs: shutdownDeadlineMs }, 'shutting down')
    const deadline = setTimeout(() => {
      logger.error({ deadlineMs: shutdownDeadlineMs }, 'graceful shutdown took too long; exiting')
      process.exit(1)
    }, shutdownDeadlineMs)
    if (service === undefined) {
      // Still connecting: nothing is in flight, nothing to hand back.
      clearTimeout(deadline)
      logger.info('stopped before start-up finished')
      return
    }
    await started.catch(() => undefined)
    // Readiness answers 503 while in-flight messages finish; then HTTP stops
    // accepting, in-flight requests finish, and the connection drains.
    service?.markStopping()
    await service?.stopConsuming()
    await server?.close()
    await service?.close()
    // Spans still buffered are sent before the process ends.
    await tracer
      .shutdown()
      .catch((error: unknown) => logger.warn({ err: error }, 'trace export at exit failed'))
    clearTimeout(deadline)
    logger.info('stopped')
  })
  const started = (async () => {
    // The port first: a service that cannot listen exits before its consumers
    // take a message (a restart loop on a taken port would otherwise pull and
    // hand back messages at every attempt). Until the service is up, every
    // route answers 503.
    try {
      // Bun.serve throws at once, node:http rejects later: both are the same fault.
      server = await serveHttp({
        fetch: (req) =>
          service === undefined ? startingResponse(req, name, metrics) : service.app.fetch(req),
        port: config.PORT,
        hostname: config.HOST,
      })
    } catch (error) {
      throw new ListenError(listenFailure(config.HOST, config.PORT, error))
    }
    service = await start(config, { logger, metrics, tracer })
    logger.info(
      { port: server.port, host: config.HOST, url: `http://${config.HOST}:${server.port}` },
      `${name} listening`,
    )
  })()
  await started
}

/**
 * The answers while the service connects and provisions: alive, not ready,
 * its index and its metrics (a scrape during start-up is not a failed one),
 * and every other route unavailable (docs/operations.md, "Health and readiness").
 */
async function startingResponse(req: Request, name: string, metrics: Metrics): Promise<Response> {
  const path = new URL(req.url).pathname
  // Every answer carries a correlation id and the security headers, as the service's own do.
  const correlation = {
    'X-Correlation-ID': correlationIdOf(req.headers.get('X-Correlation-ID') ?? undefined),
    ...SECURITY_HEADERS,
  }
  const head = req.method === 'HEAD'
  if (req.method === 'GET' || head) {
    if (path === '/health') return Response.json({ status: 'ok' }, { headers: correlation })
    if (path === '/ready')
      return Response.json({ status: 'not_ready', reason: 'starting' }, { status: 503, headers: correlation })
    if (path === '/')
      return Response.json(
        { service: name, version: pkg.version, status: 'starting' },
        { headers: correlation },
      )
    if (path === '/metrics')
      return new Response(head ? null : await metrics.registry.metrics(), {
        headers: { 'Content-Type': metrics.registry.contentType, ...correlation },
      })
  }
  return Response.json(
    { error: 'unavailable', message: 'the service is starting' },
    { status: 503, headers: { 'Retry-After': '1', ...correlation } },
  )
}

const HEALTHCHECK_DEFAULTS = v.object({ PORT: intFromEnv(3000, 0, 65535), HOST: bindHostFromEnv })

/**
 * `<binary> healthcheck`: exit 0 when this service's `/ready` answers 200
 * within 2 s, else 1 with the reason on stderr (ready-probe.ts). Lets an
 * image without a shell or curl declare a HEALTHCHECK with the binary itself.
 */
export async function healthcheck<C extends BaseConfig>(
  entry: ServiceEntry<C>,
  env: Record<string, string | undefined>,
): Promise<number> {
  let port: number
  let host = '127.0.0.1'
  try {
    // Only where the service listens: a probe needs none of its secrets.
    const listen = loadConfig(v.pick(entry.schema ?? HEALTHCHECK_DEFAULTS, ['PORT', 'HOST']), env)
    const config = v.parse(v.object({ PORT: v.number(), HOST: v.string() }), listen)
    port = config.PORT
    // A wildcard bind answers on loopback; a specific address only there.
    if (config.HOST !== '0.0.0.0' && config.HOST !== '::')
      host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST
  } catch (error) {
    return probeConfigFailed(entry.name, error)
  }
  return await probeReady(entry.name, `http://${host}:${port}/ready`)
}

/** Valibot wrappers whose absence is allowed: such a setting without a default is optional, not required. */
const OPTIONAL_TYPES: ReadonlySet<string> = new Set([
  'optional',
  'exact_optional',
  'nullish',
  'undefinedable',
])

/** The HTTP server could not start (a host that does not resolve, a port in use). */
class ListenError extends Error {
  override readonly name = 'ListenError'
}

/** The environment without the settings a service does not use (ServiceEntry.unused). */
export function withoutUnused(
  env: Record<string, string | undefined>,
  unused: readonly string[] | undefined,
): Record<string, string | undefined> {
  if (unused === undefined || unused.length === 0) return env
  return Object.fromEntries(Object.entries(env).filter(([key]) => !unused.includes(key)))
}

/**
 * `--help` text: every environment variable with its default, or whether it
 * is required. `usage` replaces the usage line of a long-running service (a
 * one-shot step has no healthcheck, no signals and no traces).
 */
export function helpText(
  entry: Pick<ServiceEntry<BaseConfig>, 'name' | 'description' | 'options' | 'schema' | 'unused'>,
  { usage }: { usage?: string } = {},
): string {
  const lines = [
    `${entry.name} ${pkg.version}${entry.description ? `: ${entry.description}` : ''}`,
    '',
    'Configuration (environment variables):',
  ]
  for (const [key, schema] of Object.entries(entry.schema?.entries ?? {})) {
    if (entry.unused?.includes(key) === true) continue
    const fallback: unknown = v.getDefault(schema)
    const optional = OPTIONAL_TYPES.has((schema as { type?: string }).type ?? '')
    const note =
      fallback !== undefined ? `default ${JSON.stringify(fallback)}` : optional ? '(optional)' : '(required)'
    const secret = (SECRET_SETTINGS as readonly string[]).includes(key)
    lines.push(`  ${key.padEnd(32)} ${note}${secret ? `, or ${key}_FILE (a path)` : ''}`)
  }
  lines.push('', LOG_FORMAT_HELP)
  if (usage !== undefined) lines.push(`Usage: ${usage}`)
  else
    lines.push(
      TRACING_HELP,
      `Usage: ${entry.options === undefined ? '' : `${entry.options} `}[--help | --version | healthcheck]. SIGTERM/SIGINT stop it gracefully.`,
    )
  return lines.join('\n')
}

/** Runs an entry as the process's main program; any startup failure exits 1. */
export function main<C extends BaseConfig>(
  entry: ServiceEntry<C>,
  argv: readonly string[] = process.argv.slice(2),
  env: Record<string, string | undefined> = process.env,
): void {
  if (argv.includes('--version')) {
    process.stdout.write(`${pkg.version}\n`)
    return
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${helpText(entry)}\n`)
    return
  }
  refuseStrayArguments(entry.name, argv)
  if (argv[0] === 'healthcheck') {
    void healthcheck(entry, env).then((code) => process.exit(code))
    return
  }
  runService(entry, env).catch((error: unknown) => {
    const line = startupFailureLine(error)
    if (line !== undefined) exitWith(`${entry.name}: ${line}`)
    process.stderr.write(
      `${entry.name}: fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    process.exit(1)
  })
}

/**
 * An operator's fault, said in one line with the settings to look at (no
 * stack trace); `undefined` for anything else, a fault of the service itself.
 */
export function startupFailureLine(error: unknown): string | undefined {
  if (
    error instanceof NatsServerTooOldError ||
    error instanceof JetStreamDisabledError ||
    error instanceof NatsConnectError ||
    error instanceof SealingKeyError ||
    error instanceof ListenError ||
    error instanceof NotProvisionedError
  )
    return error.message
  if (error instanceof NkeySeedError) return `NATS_NKEY_SEED: ${error.message}`
  // Settings only the connected service can check (a record key for a bucket it opens).
  if (error instanceof ConfigError) return error.message
  if (error instanceof TimeoutError)
    return `nats-server did not answer a request in time while this service started (NATS_REQUEST_TIMEOUT_MS): is NATS_URL a nats-server with JetStream enabled, and is it overloaded? (${error.message})`
  const refused = permissionViolationOf(error)
  if (refused !== undefined)
    return `nats-server refused this identity ${refused.operation === 'subscription' ? 'a subscription to' : 'a publish to'} ${refused.subject}: is NATS_NKEY_SEED (or NATS_NKEY_SEED_FILE) this service's own seed, and is the server's authorization generated for this version? (docs/security.md)`
  return undefined
}
