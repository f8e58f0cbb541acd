import { describe, expect, it } from 'vitest'
import type { OrderCancelRequested } from '../../schemas/events.ts'
import { SUBJECTS } from '../../schemas/subjects.ts'
import type { Handler, MessageContext } from '../../shared/nats/consumer.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import type { OrderDecision, PaymentState } from '../../shared/saga/decision.ts'
import { createDeadlineRelay } from './handlers.ts'
import type { ReservationRecord } from './records.ts'

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

function reservation(state: ReservationRecord['state']): ReservationRecord {
  return {
    orderId,
    state,
    items: [{ sku: 'MUG-002', quantity: 2, unitPriceCents: 1250 }],
    amountCents: 2500,
    currency: 'USD',
    shortSkus: [],
    updatedAt: '2026-12-04T10:00:01.000Z',
  }
}

function relayWith(decision: OrderDecision | null, held: ReservationRecord | null) {
  const handlers = createDeadlineRelay({
    decisions: { read: () => Promise.resolve(decision) },
    reservations: { getReservation: () => Promise.resolve(held), changeHold: () => Promise.resolve(false) },
  })
  return handlers[SUBJECTS.orderCancelRequested] as Handler<typeof SUBJECTS.orderCancelRequested>
}

const relayed = [{ subject: SUBJECTS.orderCancelRequested, payload: due, msgId: `deadline:${orderId}` }]

describe('the deadline relay', () => {
  const unsettled: [string, OrderDecision | null, ReservationRecord | null][] = [
    ['nothing decided or held yet', null, null],
    ['reserved, nobody decided', null, reservation('reserved')],
    ['reserving (a stalled reservation)', null, reservation('reserving')],
    ['a charge in flight', decided('paying', 'charging'), reservation('reserved')],
    // The decision says cancelled but the stock is still held: the relay lets the handlers repeat it.
    ['cancelled, stock still held', decided('cancelled'), reservation('reserved')],
    // As the payment worker writes a decline: its payments.failed is said again.
    ['declined, stock still held', decided('paying', 'declined'), reservation('reserved')],
    // A late charge refunded after the charge went unanswered: no payment, the order ends payment_failed.
    ['a late charge refunded, stock still held', decided('paying', 'refunded'), reservation('reserved')],
    // A refund under way or made for a cancellation whose orders.cancelled may have been lost: the
    // payment worker says the refund and the cancellation again, which releases the stock.
    ['a refund under way, stock still held', decided('paying', 'refunding'), reservation('reserved')],
    // Charged, its payments.completed lost: the payment worker says it again (never a cancellation).
    ['charged, stock still held', decided('paying', 'charged'), reservation('reserved')],
    ...(['customer_request', 'deadline_exceeded'] as const).map(
      (reason): [string, OrderDecision | null, ReservationRecord | null] => [
        `refunded after a ${reason} cancellation, stock still held`,
        { ...decided('paying', 'refunded'), reason },
        reservation('reserved'),
      ],
    ),
    // Sold, then refunded for a cancellation whose orders.cancelled may have been lost: only that
    // event returns the units (the payment worker says it again).
    [
      'sold, its refund under way',
      { ...decided('paying', 'refunding'), reason: 'customer_request' },
      reservation('sold'),
    ],
    ['sold, refunded', { ...decided('paying', 'refunded'), reason: 'customer_request' }, reservation('sold')],
  ]
  it.each(unsettled)('relays the deadline when %s, as the event under the schedule id', async (_, d, r) => {
    expect(await relayWith(d, r)(due, ctx)).toStrictEqual(relayed)
  })

  const settled: [string, OrderDecision | null, ReservationRecord | null][] = [
    ...(['rejected', 'released', 'cancelled', 'sold', 'returned'] as const).map(
      (state): [string, OrderDecision | null, ReservationRecord | null] => [
        `reservation ${state}`,
        decided('cancelled'),
        reservation(state),
      ],
    ),
    [
      'payment refunded, stock returned',
      { ...decided('paying', 'refunded'), reason: 'customer_request' },
      reservation('returned'),
    ],
  ]
  it.each(settled)('drops the deadline of an order settled by then (%s)', async (_, d, r) => {
    expect(await relayWith(d, r)(due, ctx)).toStrictEqual([])
  })

  it("retries a sold order's deadline while its decision cannot be read, and relays an unsettled one's without it", async () => {
    const unreadable = (held: ReservationRecord) =>
      createDeadlineRelay({
        decisions: { read: () => Promise.reject(new Error('holds a record its writers did not seal')) },
        reservations: {
          getReservation: () => Promise.resolve(held),
          changeHold: () => Promise.resolve(false),
        },
      })[SUBJECTS.orderCancelRequested] as Handler<typeof SUBJECTS.orderCancelRequested>
    await expect(unreadable(reservation('sold'))(due, ctx)).rejects.toThrow(/did not seal/)
    expect(await unreadable(reservation('reserved'))(due, ctx)).toStrictEqual(relayed)
    expect(await unreadable(reservation('released'))(due, ctx)).toStrictEqual([])
    expect(await relayWith(decided('paying', 'charged'), reservation('sold'))(due, ctx)).toStrictEqual([])
  })
})
