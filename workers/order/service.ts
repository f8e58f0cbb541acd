import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { BUCKETS, STREAMS } from '../../schemas/subjects.ts'
import { toTopologyLimits } from '../../shared/config/nats-settings.ts'
import { connectNats, type ConnectFn } from '../../shared/nats/connect.ts'
import { startConsumer, type RunningConsumer } from '../../shared/nats/consumer.ts'
import { createNatsReadiness } from '../../shared/nats/readiness.ts'
import { durableConsumerConfig, ensureBucket, ensureConsumer, ensureStreams } from '../../shared/nats/topology.ts'
import type { Logger } from '../../shared/observability/logger.ts'
import type { Metrics } from '../../shared/observability/metrics.ts'
import { createApp } from './app.ts'
import type { OrderConfig } from './config.ts'
import { createNatsOrderStore } from './order-store.ts'
import { createProjectionHandlers } from './projection.ts'

export const PROJECTION_CONSUMER = 'order-status'

export interface OrderService {
  app: ReturnType<typeof createApp>
  /** Readiness 503, stop consuming (in-flight finish), drain the connection. */
  stop(): Promise<void>
  markStopping(): void
}

/** Wires the order service onto a NATS connection: topology, projection, HTTP app. */
export async function startOrderService(
  config: OrderConfig,
  { connect, logger, metrics }: { connect: ConnectFn; logger: Logger; metrics: Metrics },
): Promise<OrderService> {
  const nats = await connectNats({
    connect,
    servers: config.NATS_URL,
    name: 'order',
    logger,
    maxWaitMs: config.NATS_CONNECT_TIMEOUT_MS,
  })
  const { nc } = nats
  const timeout = config.NATS_REQUEST_TIMEOUT_MS
  const limits = toTopologyLimits(config)
  const jsm = await jetstreamManager(nc, { timeout })
  await ensureStreams(jsm, limits)
  const js = jetstream(nc, { timeout })
  const statusKv = await ensureBucket(nc, BUCKETS.orderStatus, limits)
  const idempotencyKv = await ensureBucket(nc, BUCKETS.idempotency, limits)

  let projection: RunningConsumer | undefined
  if (config.ORDER_PROJECTION === 'on') {
    await ensureConsumer(jsm, STREAMS.orders.name, durableConsumerConfig(PROJECTION_CONSUMER, STREAMS.orders.subjects, limits))
    projection = await startConsumer({
      js,
      logger,
      metrics,
      stream: STREAMS.orders.name,
      durable: PROJECTION_CONSUMER,
      handlers: createProjectionHandlers(statusKv),
      concurrency: config.CONSUMER_CONCURRENCY,
      maxDeliver: limits.maxDeliver,
      ackWaitMs: limits.ackWaitMs,
      publishTimeoutMs: timeout,
    })
  }

  const readiness = createNatsReadiness({ nats, jsm, streams: [STREAMS.orders.name] })
  const store = createNatsOrderStore({ js, statusKv, idempotencyKv, isConnected: nats.isConnected, logger, metrics, timeoutMs: timeout })
  const app = createApp({
    store,
    logger,
    metrics,
    checkReady: readiness.check,
    maxBodyBytes: config.ORDER_MAX_BODY_BYTES,
    retryAfterSeconds: config.ORDER_RETRY_AFTER_SECONDS,
  })

  return {
    app,
    markStopping: readiness.markStopping,
    async stop() {
      readiness.markStopping()
      await projection?.stop()
      await nc.drain()
    },
  }
}
