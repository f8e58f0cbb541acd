/**
 * Composition root of the payment gateway sandbox:
 * `bun run workers/gateway/main.ts [--help | --version]`.
 * Importing this file does nothing; only running it as the entry point starts the server.
 */
import pkg from '../../package.json' with { type: 'json' }
import { ConfigError } from '../../shared/config/load-config.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import { createMetrics } from '../../shared/observability/metrics.ts'
import { exitWith, onShutdownSignal, serveHttp } from '../../shared/runtime/server.ts'
import { createApp } from './app.ts'
import { gatewayEnvHelp, loadGatewayConfig, type GatewayConfig } from './config.ts'

type Env = Readonly<Record<string, string | undefined>>

export function helpText(): string {
  const width = Math.max(...gatewayEnvHelp.map(([name]) => name.length))
  const lines = gatewayEnvHelp.map(
    ([name, value, text]) => `  ${name.padEnd(width)}  ${text} [default: ${value}]`,
  )
  return [
    'payment gateway sandbox: a card processor API in memory',
    '',
    'usage: gateway [--help | --version]',
    '',
    'environment:',
    ...lines,
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

  const config = readConfig(env)
  const logger = createLogger({ service: 'gateway', level: config.logLevel })
  const shutdown = new AbortController()
  const app = createApp({
    config,
    logger,
    metrics: createMetrics('gateway'),
    shutdownSignal: shutdown.signal,
  })
  const server = await serveHttp({ fetch: app.fetch, port: config.port, hostname: config.host })
  logger.info({ port: server.port, host: config.host, version: pkg.version }, 'listening')

  onShutdownSignal(async (signal) => {
    logger.info({ signal }, 'shutting down')
    shutdown.abort(new Error(`received ${signal}`))
    await server.close()
    logger.info('stopped')
  })
}

function readConfig(env: Env): GatewayConfig {
  try {
    return loadGatewayConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) exitWith(error.message)
    throw error
  }
}

if (import.meta.main) {
  main(process.argv.slice(2), process.env).catch((error: unknown) => {
    exitWith(
      `gateway failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    )
  })
}
