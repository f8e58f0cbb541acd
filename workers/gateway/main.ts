/**
 * Composition root of the payment gateway sandbox:
 * `bun run workers/gateway/main.ts [--help | --version | healthcheck]`.
 * Importing this file does nothing; only running it as the entry point starts the server.
 */
import pkg from '../../package.json' with { type: 'json' }
import * as v from 'valibot'
import { ConfigError, loadConfig, loadOrProblems } from '../../shared/config/load-config.ts'
import { loadWithSecretFiles } from '../../shared/config/secrets.ts'
import { createLogger, LOG_FORMAT_HELP, logFormatProblems } from '../../shared/observability/logger.ts'
import { createMetrics } from '../../shared/observability/metrics.ts'
import {
  createTracerFromEnv,
  TRACING_HELP,
  tracingProblems,
} from '../../shared/observability/tracer-from-env.ts'
import {
  exitWith,
  listenFailure,
  onShutdownSignal,
  refuseStrayArguments,
  serveHttp,
} from '../../shared/runtime/server.ts'
import { createApp } from './app.ts'
import { gatewayConfigSchema, gatewayEnvHelp, loadGatewayConfig, type GatewayConfig } from './config.ts'
import { LedgerFileError, memoryJournal, openLedgerFile, type Journal } from './journal.ts'
import { probeConfigFailed, probeReady } from '../../shared/runtime/ready-probe.ts'

type Env = Readonly<Record<string, string | undefined>>

/** Settings that can also come from a file (`NAME_FILE`). */
const SECRETS = ['GATEWAY_SECRET_KEY'] as const

export function helpText(): string {
  const width = Math.max(...gatewayEnvHelp.map(([name]) => name.length))
  const lines = gatewayEnvHelp.map(
    ([name, value, text]) =>
      `  ${name.padEnd(width)}  ${text} ${value === '(required)' ? '[required]' : `[default: ${value}]`}`,
  )
  return [
    `gateway ${pkg.version}: payment gateway sandbox, a card processor API (in memory, or kept in GATEWAY_LEDGER_FILE)`,
    '',
    'usage: gateway [--help | --version | healthcheck]',
    '',
    'environment:',
    ...lines,
    '',
    LOG_FORMAT_HELP,
    TRACING_HELP,
    '',
  ].join('\n')
}

export async function main(argv: readonly string[], env: Env): Promise<void> {
  if (argv.includes('--help')) {
    process.stdout.write(helpText())
    return
  }
  if (argv.includes('--version')) {
    process.stdout.write(`${pkg.version}\n`)
    return
  }
  // As the other services: an argument it does not know is refused, not ignored.
  refuseStrayArguments('gateway', argv)
  if (argv[0] === 'healthcheck') {
    process.exit(await healthcheck(env))
  }

  const config = readConfig(env)
  const logger = createLogger({ service: 'gateway', level: config.logLevel })
  const tracer = await createTracerFromEnv('gateway', pkg.version, env, logger).catch((error: unknown) => {
    if (error instanceof ConfigError) exitWith(`gateway: ${error.message}`)
    throw error
  })
  const shutdown = new AbortController()
  let journal: Journal = memoryJournal
  let app: ReturnType<typeof createApp>
  try {
    if (config.ledgerFile !== undefined) journal = openLedgerFile(config.ledgerFile, { logger })
    app = createApp({
      config,
      logger,
      metrics: createMetrics('gateway'),
      journal,
      shutdownSignal: shutdown.signal,
      tracer,
    })
  } catch (error) {
    if (!(error instanceof LedgerFileError)) throw error
    exitWith(`gateway failed to start: ${error.message}`)
  }
  let server: Awaited<ReturnType<typeof serveHttp>>
  try {
    server = await serveHttp({ fetch: app.fetch, port: config.port, hostname: config.host })
  } catch (error) {
    exitWith(`gateway: ${listenFailure(config.host, config.port, error)}`)
  }
  logger.info(
    { port: server.port, host: config.host, version: pkg.version, ledgerFile: config.ledgerFile ?? null },
    'listening',
  )

  // Attempts still in their slow wait are abandoned, unwritten (their clients get 503).
  // A request still open at the deadline (an upload that stalls) is cut: the
  // process exits 1, as the other services do. Every answered charge was
  // written to the journal before its answer.
  onShutdownSignal(async (signal) => {
    const deadlineMs = config.shutdownTimeoutMs
    logger.info({ signal, deadlineMs }, 'shutting down')
    const deadline = setTimeout(() => {
      logger.error({ deadlineMs }, 'graceful shutdown took too long; exiting')
      journal.close()
      process.exit(1)
    }, deadlineMs)
    shutdown.abort(new Error(`received ${signal}`))
    await server.close()
    journal.close()
    await tracer
      .shutdown()
      .catch((error: unknown) => logger.warn({ err: error }, 'trace export at exit failed'))
    clearTimeout(deadline)
    logger.info('stopped')
  })
}

/**
 * `gateway healthcheck`: exit code 0 when this sandbox's `/ready` answers 200
 * within 2 s, else 1 with the reason on stderr, so an image without a shell or curl can declare a
 * HEALTHCHECK with the binary itself. Asks the configured HOST, or loopback
 * when it binds every address.
 */
export async function healthcheck(env: Env): Promise<number> {
  let url: string
  try {
    // Only where it listens: a probe needs none of the gateway's secrets.
    const { PORT, HOST } = loadConfig(v.pick(gatewayConfigSchema, ['PORT', 'HOST']), env)
    url = `http://${probeHost(HOST)}:${PORT}/ready`
  } catch (error) {
    return probeConfigFailed('gateway', error) // an invalid configuration never started a server
  }
  return await probeReady('gateway', url)
}

/** Where a local client reaches a server bound to `host`. */
function probeHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '[::]') return '127.0.0.1'
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}

/** The settings, or exit 1 naming every problem (the tracing settings' too). */
function readConfig(env: Env): GatewayConfig {
  const loaded = loadOrProblems(() => loadWithSecretFiles(env, SECRETS, loadGatewayConfig))
  const problems = [
    ...('problems' in loaded ? loaded.problems : []),
    ...tracingProblems(env),
    ...logFormatProblems(env),
  ]
  if (problems.length > 0 || !('config' in loaded)) exitWith(`gateway: ${new ConfigError(problems).message}`)
  return loaded.config
}

if (import.meta.main) {
  main(process.argv.slice(2), process.env).catch((error: unknown) => {
    exitWith(
      `gateway failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    )
  })
}
