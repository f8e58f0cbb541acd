// Order intake on Bun or Node: `bun run workers/order/main.ts`.
import { connect } from '@nats-io/transport-node'
import { ConfigError } from '../../shared/config/load-config.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import { createMetrics } from '../../shared/observability/metrics.ts'
import { exitWith, onShutdownSignal, serveHttp } from '../../shared/runtime/server.ts'
import { loadOrderConfig, type OrderConfig } from './config.ts'
import { startOrderService } from './service.ts'

async function main(env: Record<string, string | undefined>): Promise<void> {
  let config: OrderConfig
  try {
    config = loadOrderConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) exitWith(`order: ${error.message}`)
    throw error
  }
  const logger = createLogger({ service: 'order', level: config.LOG_LEVEL })
  const metrics = createMetrics('order')
  const service = await startOrderService(config, { connect, logger, metrics })
  const server = await serveHttp({ fetch: service.app.fetch, port: config.PORT, hostname: config.HOST })
  logger.info({ port: server.port, host: config.HOST, url: `http://${config.HOST}:${server.port}` }, 'order service listening')

  onShutdownSignal(async (signal) => {
    logger.info({ signal }, 'shutting down')
    service.markStopping()
    await server.close()
    await service.stop()
    logger.info('stopped')
  })
}

main(process.env).catch((error: unknown) => {
  process.stderr.write(`order: fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exit(1)
})
