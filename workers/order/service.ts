import { BUCKETS, STREAMS } from '../../schemas/subjects.ts'
import type { ConnectFn } from '../../shared/nats/connect.ts'
import type { RunningConsumer } from '../../shared/nats/consumer.ts'
import {
  openBucket,
  startDurableConsumer,
  startNatsRuntime,
  toStoppable,
  type Stoppable,
} from '../../shared/nats/runtime.ts'
import type { Logger } from '../../shared/observability/logger.ts'
import type { Metrics } from '../../shared/observability/metrics.ts'
import { createApp } from './app.ts'
import type { OrderConfig } from './config.ts'
import { createNatsOrderStore } from './order-store.ts'
import { createProjectionHandlers } from './projection.ts'

export const PROJECTION_CONSUMER = 'order-status'

export interface OrderService extends Stoppable {
  app: ReturnType<typeof createApp>
}

/** Wires the order service onto NATS: streams, buckets, the status projection and the HTTP app. */
export async function startOrderService(
  config: OrderConfig,
  deps: { connect: ConnectFn; logger: Logger; metrics: Metrics },
): Promise<OrderService> {
  const rt = await startNatsRuntime('order', config, deps)
  const statusKv = await openBucket(rt, BUCKETS.orderStatus)
  const idempotencyKv = await openBucket(rt, BUCKETS.idempotency)

  let projection: RunningConsumer | undefined
  if (config.ORDER_PROJECTION === 'on') {
    projection = await startDurableConsumer(rt, {
      durable: PROJECTION_CONSUMER,
      filterSubjects: STREAMS.orders.subjects,
      handlers: createProjectionHandlers(statusKv),
    })
  }

  const store = createNatsOrderStore({
    js: rt.js,
    statusKv,
    idempotencyKv,
    isConnected: rt.nats.isConnected,
    logger: deps.logger,
    metrics: deps.metrics,
    timeoutMs: config.NATS_REQUEST_TIMEOUT_MS,
  })
  const app = createApp({
    store,
    logger: deps.logger,
    metrics: deps.metrics,
    checkReady: rt.readiness.check,
    maxBodyBytes: config.ORDER_MAX_BODY_BYTES,
    retryAfterSeconds: config.ORDER_RETRY_AFTER_SECONDS,
  })

  return { app, ...toStoppable(rt, [projection]) }
}
