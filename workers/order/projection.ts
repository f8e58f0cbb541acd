import type { KV } from '@nats-io/kv'
import type { EventOf } from '../../schemas/events.ts'
import { OrderStatusV1 } from '../../schemas/order-status.ts'
import { SUBJECTS, type Subject } from '../../schemas/subjects.ts'
import type { Handler, Handlers, MessageContext } from '../../shared/nats/consumer.ts'
import { updateJson } from '../../shared/nats/kv-json.ts'
import { applyEvent } from './domain.ts'

/** Consumer handlers that keep the order-status KV bucket up to date. */
export function createProjectionHandlers(statusKv: KV, now: () => Date = () => new Date()): Handlers {
  function project<S extends Subject>(subject: S): Handler<S> {
    return async (event: EventOf<S>, ctx: MessageContext) => {
      const changed = await updateJson(statusKv, event.orderId, OrderStatusV1, (current) => {
        const next = applyEvent(current, subject, event, {
          at: now().toISOString(),
          correlationId: ctx.correlationId,
        })
        return next === null ? { result: false } : { value: next, result: true }
      })
      if (changed) ctx.logger.debug({ event: subject }, 'order status updated')
      return []
    }
  }
  return {
    [SUBJECTS.orderCreated]: project(SUBJECTS.orderCreated),
    [SUBJECTS.inventoryReserved]: project(SUBJECTS.inventoryReserved),
    [SUBJECTS.orderCancelled]: project(SUBJECTS.orderCancelled),
    [SUBJECTS.paymentCompleted]: project(SUBJECTS.paymentCompleted),
    [SUBJECTS.paymentFailed]: project(SUBJECTS.paymentFailed),
    [SUBJECTS.inventoryReleased]: project(SUBJECTS.inventoryReleased),
  }
}
