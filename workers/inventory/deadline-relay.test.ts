import { describe, expect, it } from 'vitest'
import type { OrderCancelRequested } from '../../schemas/events.ts'
import { SUBJECTS } from '../../schemas/subjects.ts'
import type { Handler, MessageContext } from '../../shared/nats/consumer.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import type { OrderDecision, PaymentState } from '../../shared/saga/decision.ts'
import { createDeadlineRelay } from './handlers.ts'

const orderId = '01a24000-0000-7000-8000-000000000001'
const due: OrderCancelRequested = {
  version: 1,
  orderId,
  occurredAt: '2026-12-04T10:10:00.000Z',
  reason: 'deadline_exceeded',
}
const ctx: MessageContext = {
  correlationId: 'corr-1',
  priority: 'express',
  deliveryCount: 1,
  logger: createLogger({ service: 't', level: 'silent' }),
}

function decided(decision: 'paying' | 'cancelled', state?: PaymentState): OrderDecision {
  return {
    orderId,
    decision,
    decidedBy: decision === 'paying' ? 'payment' : 'inventory',
    decidedAt: '2026-12-04T10:00:01.000Z',
    updatedAt: '2026-12-04T10:00:02.000Z',
    ...(state === undefined ? {} : { payment: { state, amountCents: 2500, currency: 'USD' } }),
  }
}

function relayWith(decision: OrderDecision | null) {
  const handlers = createDeadlineRelay({ read: () => Promise.resolve(decision) })
  return handlers[SUBJECTS.orderCancelRequested] as Handler<typeof SUBJECTS.orderCancelRequested>
}

describe('the deadline relay', () => {
  it.each([
    ['no decision yet', null],
    ['a charge in flight', decided('paying', 'charging')],
  ])(
    'relays the deadline of an unsettled order (%s) as the event, under the schedule id',
    async (_, decision) => {
      expect(await relayWith(decision)(due, ctx)).toStrictEqual([
        { subject: SUBJECTS.orderCancelRequested, payload: due, msgId: `deadline:${orderId}` },
      ])
    },
  )

  const settled: [string, OrderDecision][] = [
    ['cancelled', decided('cancelled')],
    ...(['charged', 'declined', 'refunding', 'refunded', 'unresolved'] as const).map(
      (state): [string, OrderDecision] => [state, decided('paying', state)],
    ),
  ]
  it.each(settled)('drops the deadline of an order settled by then (%s)', async (_, decision) => {
    expect(await relayWith(decision)(due, ctx)).toStrictEqual([])
  })
})
