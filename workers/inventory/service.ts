import {
  BUCKETS,
  deadlineMsgId,
  laneSubject,
  SUBJECTS,
  toDeadlineFiredSubject,
  toDeadlineScheduleSubject,
} from '../../schemas/subjects.ts'
import type { OrderCancelRequested } from '../../schemas/events.ts'
import { publishSchedule } from '../../shared/nats/schedule.ts'
import { EVENT_SOURCES } from '../../shared/nats/cloudevents.ts'
import { kvDecisionStore } from '../../shared/saga/decision.ts'
import { createApiKeyVerifier } from '../../shared/http/api-keys.ts'
import { createRateLimiter } from '../../shared/http/rate-limit.ts'
import type { ConnectFn } from '../../shared/nats/connect.ts'
import { openBucket, startDurableConsumer, startNatsRuntime, toStoppable } from '../../shared/nats/runtime.ts'
import type { Logger } from '../../shared/observability/logger.ts'
import type { Metrics } from '../../shared/observability/metrics.ts'
import type { Tracer } from '../../shared/observability/tracing.ts'
import { createApp } from './app.ts'
import type { InventoryConfig } from './config.ts'
import { createDeadlineRelay, createInventoryHandlers } from './handlers.ts'
import { createStockStore } from './stock-store.ts'

/** The worker's durable consumers: two per lane (see SAGA_CONSUMERS for why two), and the deadline relay. */
export const INVENTORY_CONSUMERS = {
  orders: 'inventory',
  payments: 'inventory-payments',
  ordersExpress: 'inventory-express',
  paymentsExpress: 'inventory-payments-express',
  deadlines: 'inventory-deadlines',
} as const

export async function startInventoryService(
  config: InventoryConfig,
  deps: { connect: ConnectFn; logger: Logger; metrics: Metrics; tracer?: Tracer },
) {
  const rt = await startNatsRuntime('inventory', config, deps)
  const store = createStockStore(
    await openBucket(rt, BUCKETS.stock),
    await openBucket(rt, BUCKETS.reservations),
  )
  const decisions = kvDecisionStore(await openBucket(rt, BUCKETS.decisions))
  const handlers = createInventoryHandlers({
    store,
    decisions,
    currency: config.INVENTORY_CURRENCY,
    deadlineMs: config.ORDER_DEADLINE_MS,
    scheduleDeadline: async (orderId, deadlineAt, correlationId, trace, priority = 'standard') => {
      const payload: OrderCancelRequested = {
        version: 1,
        orderId,
        occurredAt: deadlineAt,
        reason: 'deadline_exceeded',
      }
      await publishSchedule(
        rt.js,
        {
          scheduleSubject: toDeadlineScheduleSubject(orderId),
          // Fired in DEADLINES, then relayed into ORDERS in the order's lane
          // (createDeadlineRelay): an express order's deadline goes to the express consumers.
          target: toDeadlineFiredSubject(laneSubject(SUBJECTS.orderCancelRequested, priority)),
          eventSubject: laneSubject(SUBJECTS.orderCancelRequested, priority),
          at: new Date(deadlineAt),
          payload,
          version: 1,
          correlationId,
          msgId: deadlineMsgId(orderId),
          source: EVENT_SOURCES.inventory,
          trace,
        },
        config.NATS_REQUEST_TIMEOUT_MS,
      )
    },
    leaseMs: config.CONSUMER_ACK_WAIT_MS,
  })
  // First the payments consumer: splitting it off reads where `inventory`
  // had got to, before `inventory` is narrowed to orders.created.
  const payments = await startDurableConsumer(rt, { durable: INVENTORY_CONSUMERS.payments, handlers })
  let orders
  try {
    orders = await startDurableConsumer(rt, {
      durable: INVENTORY_CONSUMERS.orders,
      // Every handler on both consumers: payment events `inventory` delivered
      // before it was narrowed stay pending on it and come back here, and an
      // older instance still running during a rollout widens it again. The
      // handlers are idempotent, so a payment event arriving on both
      // consumers takes effect once.
      handlers,
    })
  } catch (error) {
    await payments.stop()
    throw error
  }
  // The express lane: its own consumers and concurrency.
  const started = [orders, payments]
  try {
    for (const durable of [INVENTORY_CONSUMERS.paymentsExpress, INVENTORY_CONSUMERS.ordersExpress])
      started.push(await startDurableConsumer(rt, { durable, handlers }))
    started.push(
      await startDurableConsumer(rt, {
        durable: INVENTORY_CONSUMERS.deadlines,
        handlers: createDeadlineRelay({ decisions, reservations: store }),
      }),
    )
  } catch (error) {
    await Promise.all(started.map((c) => c.stop()))
    throw error
  }
  const app = createApp({
    store,
    logger: deps.logger,
    metrics: deps.metrics,
    checkReady: rt.readiness.check,
    verifier: createApiKeyVerifier(config.API_KEYS),
    limiter: createRateLimiter({ perSecond: config.RATE_LIMIT_PER_SECOND, burst: config.RATE_LIMIT_BURST }),
    maxBodyBytes: config.INVENTORY_MAX_BODY_BYTES,
    tracer: rt.tracer,
  })
  return { app, ...toStoppable(rt, started) }
}
