import type { KV } from '@nats-io/kv'
import type { EventOf } from '../../schemas/events.ts'
import { isFinalStatus, OrderStatusV1, type OrderStatus } from '../../schemas/order-status.ts'
import { SUBJECTS, type Subject } from '../../schemas/subjects.ts'
import {
  combineConsumers,
  type Handler,
  type Handlers,
  type MessageContext,
  type RunningConsumer,
} from '../../shared/nats/consumer.ts'
import { createRecordWriter } from '../../shared/nats/record-writer.ts'
import type { SagaConsumerName } from '../../shared/nats/saga-consumers.ts'
import { startDurableConsumer, type NatsRuntime } from '../../shared/nats/runtime.ts'
import { applyEvent } from './domain.ts'
import { createProjectionMetrics, type ProjectionObserver } from './projection-metrics.ts'

/** The durable consumer behind the order-status bucket, wherever it runs. */
export const PROJECTION_CONSUMER = 'order-status' satisfies SagaConsumerName

/** The express lane's projection consumer: express orders are projected ahead of a standard backlog. */
export const PROJECTION_EXPRESS_CONSUMER = 'order-status-express' satisfies SagaConsumerName

/** Starts the projection: every order event, both lanes, applied to the order-status bucket. */
export async function startProjection(rt: NatsRuntime, statusKv: KV): Promise<RunningConsumer> {
  const recordMetrics = createProjectionMetrics(rt.metrics.registry)
  const handlers = createProjectionHandlers(statusKv, undefined, undefined, (change) => {
    recordMetrics(change)
    // An express order's final status ends the other workers' hold for it (lane-signals.ts).
    const { after, before } = change
    if (
      after.priority === 'express' &&
      isFinalStatus(after.status) &&
      !(before !== null && isFinalStatus(before.status))
    ) {
      rt.laneSignals.settled(after.orderId)
    }
  })
  const standard = await startDurableConsumer(rt, { durable: PROJECTION_CONSUMER, handlers })
  try {
    const express = await startDurableConsumer(rt, { durable: PROJECTION_EXPRESS_CONSUMER, handlers })
    return combineConsumers([standard, express])
  } catch (error) {
    await standard.stop()
    throw error
  }
}

/** Orders whose last written record the projection keeps, to write without reading first. */
export const PROJECTION_CACHE_SIZE = 10_000

/**
 * Consumer handlers that keep the order-status KV bucket up to date. Each
 * event is a compare-and-set write against the record this projection wrote
 * last for the order (kept for the newest {@link PROJECTION_CACHE_SIZE}
 * orders), one event of an order at a time, and `orders.created` assumes a
 * new key: one KV write per event and no read, unless another writer got
 * there first (then it reads and retries).
 */
export function createProjectionHandlers(
  statusKv: KV,
  now: () => Date = () => new Date(),
  cacheSize = PROJECTION_CACHE_SIZE,
  /** Told of every change applied (business metrics, projection-metrics.ts). */
  observe?: ProjectionObserver,
): Handlers {
  const records = createRecordWriter(statusKv, OrderStatusV1, { cacheSize })

  function project<S extends Subject>(subject: S): Handler<S> {
    return async (event: EventOf<S>, ctx: MessageContext) => {
      const appliedAt = now()
      let applied: { before: OrderStatus | null; after: OrderStatus } | undefined
      const changed = await records.update(
        event.orderId,
        (current) => {
          const next = applyEvent(current, subject, event, {
            at: appliedAt.toISOString(),
            correlationId: ctx.correlationId,
            lane: ctx.priority,
          })
          applied = next === null ? undefined : { before: current, after: next }
          return next === null ? { result: false } : { value: next, result: true }
        },
        { assumeAbsent: subject === SUBJECTS.orderCreated },
      )
      if (changed && applied !== undefined) observe?.({ ...applied, occurredAt: event.occurredAt, appliedAt })
      if (changed) ctx.logger.debug({ event: subject }, 'order status updated')
      return []
    }
  }
  return {
    [SUBJECTS.orderCreated]: project(SUBJECTS.orderCreated),
    [SUBJECTS.inventoryReserved]: project(SUBJECTS.inventoryReserved),
    [SUBJECTS.orderCancelled]: project(SUBJECTS.orderCancelled),
    [SUBJECTS.orderCancelRequested]: project(SUBJECTS.orderCancelRequested),
    [SUBJECTS.paymentRefunded]: project(SUBJECTS.paymentRefunded),
    [SUBJECTS.paymentCompleted]: project(SUBJECTS.paymentCompleted),
    [SUBJECTS.paymentFailed]: project(SUBJECTS.paymentFailed),
    [SUBJECTS.inventoryReleased]: project(SUBJECTS.inventoryReleased),
  }
}
