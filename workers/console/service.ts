import { listDeadLetters } from '../../shared/nats/dead-letter-admin.ts'
import { registerDeadLetterGauge } from './dead-letter-gauge.ts'
import { BUCKETS } from '../../schemas/subjects.ts'
import { createApiKeyVerifier } from '../../shared/http/api-keys.ts'
import { createRateLimiter } from '../../shared/http/rate-limit.ts'
import type { ConnectFn } from '../../shared/nats/connect.ts'
import { requireStreams } from '../../shared/nats/topology.ts'
import { ORDER_INDEX } from '../../shared/nats/order-index.ts'
import {
  openBucket,
  retryWhileUnavailable,
  startNatsRuntime,
  toStoppable,
  type Stoppable,
} from '../../shared/nats/runtime.ts'
import type { Logger } from '../../shared/observability/logger.ts'
import type { Metrics } from '../../shared/observability/metrics.ts'
import { createConsoleApp } from './app.ts'
import type { ConsoleConfig } from './config.ts'
import { createNatsConsoleData } from './console-data.ts'
import { startIndexFiler } from './index-filer.ts'
import { startIndexWriter } from './index-writer.ts'
import { startLiveOrders } from './live.ts'

export interface ConsoleService extends Stoppable {
  app: ReturnType<typeof createConsoleApp>
}

/** Dead letters the by-consumer gauge reads per scrape at most. */
const DEAD_LETTERS_COUNTED = 10_000

/**
 * The operator console on NATS: the order index's writer and filer (unless
 * CONSOLE_INDEX=false), the live watch of the order-status bucket, and the
 * page with its API.
 */
export async function startConsoleService(
  config: ConsoleConfig,
  deps: { connect: ConnectFn; logger: Logger; metrics: Metrics },
): Promise<ConsoleService> {
  const rt = await startNatsRuntime('console', config, deps)
  const statusKv = await openBucket(rt, BUCKETS.orderStatus, { showOnly: true })
  await retryWhileUnavailable(
    () => requireStreams(rt.jsm, [ORDER_INDEX.stream, ORDER_INDEX.retriesStream]),
    config.NATS_CONNECT_TIMEOUT_MS,
    deps.logger,
  )
  const writer = config.CONSOLE_INDEX
    ? await startIndexWriter(rt, { delayMs: config.CONSOLE_INDEX_DELAY_MS })
    : undefined
  const filer = config.CONSOLE_INDEX ? await startIndexFiler(rt) : undefined
  const live = await startLiveOrders(statusKv, {
    logger: deps.logger,
    intervalMs: config.CONSOLE_LIVE_INTERVAL_MS,
  })
  const data = createNatsConsoleData({
    js: rt.js,
    nc: rt.nc,
    jsm: rt.jsm,
    statusKv,
    live,
    orderUrl: config.CONSOLE_ORDER_URL,
    paymentUrl: config.CONSOLE_PAYMENT_URL,
    timeoutMs: config.NATS_REQUEST_TIMEOUT_MS,
  })
  registerDeadLetterGauge({
    registry: deps.metrics.registry,
    list: () =>
      listDeadLetters(rt.js, rt.jsm, {
        limit: DEAD_LETTERS_COUNTED,
        timeoutMs: config.NATS_REQUEST_TIMEOUT_MS,
      }),
    logger: deps.logger,
    timeoutMs: config.NATS_REQUEST_TIMEOUT_MS,
  })
  const app = createConsoleApp({
    data,
    logger: deps.logger,
    metrics: deps.metrics,
    checkReady: rt.readiness.check,
    verifier: createApiKeyVerifier(config.API_KEYS),
    limiter: createRateLimiter({ perSecond: config.RATE_LIMIT_PER_SECOND, burst: config.RATE_LIMIT_BURST }),
    tracer: rt.tracer,
  })
  const stoppable = toStoppable(rt, [])
  return {
    app,
    ...stoppable,
    async stopConsuming() {
      await stoppable.stopConsuming()
      await Promise.all([writer?.stop(), filer?.stop(), live.stop()])
    },
  }
}
