import { describe, expect, it } from 'vitest'
import type { EventOf } from '../../schemas/events.ts'
import type { OrderStatus } from '../../schemas/order-status.ts'
import { SUBJECTS, type Subject } from '../../schemas/subjects.ts'
import { applyEvent, canonicalJson, canRead, toOrderCreated } from './domain.ts'

const orderId = '0b7d4c1e-8f3a-4d2b-9c6e-1a2b3c4d5e6f'
const at = '2026-01-01T00:00:00.000Z'
const meta = { at, correlationId: 'corr' }
const base = { version: 1 as const, orderId, occurredAt: at }

const events = {
  [SUBJECTS.orderCreated]: {
    ...base,
    customerId: 'c',
    items: [{ sku: 'A', quantity: 1 }],
    sealedPaymentToken: 'sealed.v1.test',
  },
  [SUBJECTS.inventoryReserved]: {
    ...base,
    items: [{ sku: 'A', quantity: 1, unitPriceCents: 500 }],
    amountCents: 500,
    currency: 'USD',
    sealedPaymentToken: 'sealed.v1.test',
  },
  [SUBJECTS.paymentCompleted]: { ...base, chargeId: 'ch_1', amountCents: 500, currency: 'USD' },
  [SUBJECTS.orderCancelled]: { ...base, reason: 'out_of_stock' as const, shortSkus: ['A'] },
  [SUBJECTS.paymentFailed]: { ...base, reason: 'declined' as const },
  [SUBJECTS.inventoryReleased]: {
    ...base,
    items: [{ sku: 'A', quantity: 1 }],
    reason: 'payment_failed' as const,
  },
  [SUBJECTS.orderCancelRequested]: { ...base, reason: 'customer_request' as const },
  [SUBJECTS.paymentRefunded]: {
    ...base,
    chargeId: 'ch_1',
    chargedCents: 500,
    refundId: 're_1',
    amountCents: 500,
    currency: 'USD',
    reason: 'customer_request' as const,
  },
} satisfies { [S in Subject]: EventOf<S> }

function run(subjects: Subject[]): OrderStatus | null {
  let state: OrderStatus | null = null
  for (const subject of subjects) state = applyEvent(state, subject, events[subject], meta) ?? state
  return state
}

describe('order status projection', () => {
  it.each([
    [[SUBJECTS.orderCreated], 'pending', undefined],
    [[SUBJECTS.orderCreated, SUBJECTS.inventoryReserved], 'reserved', undefined],
    [[SUBJECTS.orderCreated, SUBJECTS.inventoryReserved, SUBJECTS.paymentCompleted], 'confirmed', undefined],
    [[SUBJECTS.orderCreated, SUBJECTS.orderCancelled], 'cancelled', 'out_of_stock'],
    [
      [SUBJECTS.orderCreated, SUBJECTS.inventoryReserved, SUBJECTS.paymentFailed],
      'cancelled',
      'payment_declined',
    ],
    [
      [SUBJECTS.orderCreated, SUBJECTS.inventoryReserved, SUBJECTS.paymentFailed, SUBJECTS.inventoryReleased],
      'cancelled',
      'payment_declined',
    ],
    // released applied before the failure it follows: the failure still names the reason
    [
      [SUBJECTS.orderCreated, SUBJECTS.inventoryReserved, SUBJECTS.inventoryReleased, SUBJECTS.paymentFailed],
      'cancelled',
      'payment_declined',
    ],
    // late and out-of-order arrivals never move the status backwards
    [[SUBJECTS.orderCreated, SUBJECTS.paymentCompleted, SUBJECTS.inventoryReserved], 'confirmed', undefined],
    [[SUBJECTS.inventoryReserved, SUBJECTS.orderCreated], 'reserved', undefined],
    [
      [SUBJECTS.orderCreated, SUBJECTS.orderCancelled, SUBJECTS.inventoryReserved, SUBJECTS.paymentCompleted],
      'cancelled',
      'out_of_stock',
    ],
  ] as const)('%j ends %s (%s)', (subjects, status, reason) => {
    const state = run([...subjects])
    expect(state?.status).toBe(status)
    expect(state?.reason).toBe(reason)
    expect(state?.history.map((h) => h.event).sort()).toStrictEqual([...subjects].sort())
  })

  it('shows the amount of a confirmed order whose reservation event has not been applied yet', () => {
    const confirmed = run([SUBJECTS.orderCreated, SUBJECTS.paymentCompleted])
    expect([confirmed?.status, confirmed?.amountCents, confirmed?.chargeId]).toStrictEqual([
      'confirmed',
      500,
      'ch_1',
    ])
    const all = run([SUBJECTS.orderCreated, SUBJECTS.paymentCompleted, SUBJECTS.inventoryReserved])
    expect(all?.amountCents).toBe(500)
  })

  it('keeps the history in event time whatever order the events were applied in', () => {
    const t = (s: number) => `2026-01-01T00:00:0${s}.000Z`
    let state: OrderStatus | null = null
    state =
      applyEvent(
        state,
        SUBJECTS.paymentCompleted,
        { ...events[SUBJECTS.paymentCompleted], occurredAt: t(3) },
        meta,
      ) ?? state
    state =
      applyEvent(
        state,
        SUBJECTS.orderCreated,
        { ...events[SUBJECTS.orderCreated], occurredAt: t(1) },
        meta,
      ) ?? state
    state =
      applyEvent(
        state,
        SUBJECTS.inventoryReserved,
        { ...events[SUBJECTS.inventoryReserved], occurredAt: t(2) },
        meta,
      ) ?? state
    expect(state?.status).toBe('confirmed')
    expect(state?.history).toStrictEqual([
      { event: 'orders.created', status: 'pending', at: t(1) },
      { event: 'inventory.reserved', status: 'reserved', at: t(2) },
      { event: 'payments.completed', status: 'confirmed', at: t(3) },
    ])
  })

  it('ignores an event applied twice', () => {
    const created = applyEvent(null, SUBJECTS.orderCreated, events[SUBJECTS.orderCreated], meta)
    expect(applyEvent(created, SUBJECTS.orderCreated, events[SUBJECTS.orderCreated], meta)).toBeNull()
  })

  it('maps a gateway failure to payment_failed', () => {
    const state = applyEvent(
      run([SUBJECTS.orderCreated]),
      SUBJECTS.paymentFailed,
      { ...base, reason: 'gateway_unavailable' },
      meta,
    )
    expect(state?.reason).toBe('payment_failed')
  })

  it('keeps the order details from orders.created', () => {
    expect(run([SUBJECTS.orderCreated, SUBJECTS.inventoryReserved, SUBJECTS.paymentCompleted])).toStrictEqual(
      {
        orderId,
        status: 'confirmed',
        customerId: 'c',
        priority: 'standard',
        items: [{ sku: 'A', quantity: 1 }],
        createdAt: at,
        amountCents: 500,
        chargeId: 'ch_1',
        charges: [{ chargeId: 'ch_1', amountCents: 500, at }],
        correlationId: 'corr',
        updatedAt: at,
        history: [
          { event: 'orders.created', status: 'pending', at },
          { event: 'inventory.reserved', status: 'reserved', at },
          { event: 'payments.completed', status: 'confirmed', at },
        ],
      },
    )
  })
})

describe('an order whose later events come before its orders.created (a projection that crashed holding it)', () => {
  it("shows the lane's priority at once, no owner until orders.created (readable by admin keys only), then the owner", () => {
    const express = { ...meta, lane: 'express' as const }
    const reserved = applyEvent(null, SUBJECTS.inventoryReserved, events[SUBJECTS.inventoryReserved], express)
    const paid = applyEvent(reserved, SUBJECTS.paymentCompleted, events[SUBJECTS.paymentCompleted], express)
    expect(paid).toMatchObject({ status: 'confirmed', priority: 'express' })
    expect(paid?.owner).toBeUndefined()
    expect(canRead(paid ?? { owner: undefined }, { id: 'alice', role: 'client' })).toBe(false)
    const created = { ...events[SUBJECTS.orderCreated], owner: 'alice', priority: 'express' as const }
    const complete = applyEvent(paid, SUBJECTS.orderCreated, created, express)
    expect(complete).toMatchObject({
      status: 'confirmed',
      priority: 'express',
      owner: 'alice',
      customerId: 'c',
    })
    expect(canRead(complete ?? { owner: undefined }, { id: 'alice', role: 'client' })).toBe(true)
  })
})

describe('an order published in both versions (the migration window)', () => {
  const v1 = events[SUBJECTS.orderCreated]
  const v2: EventOf<typeof SUBJECTS.orderCreated> = {
    version: 2,
    orderId,
    occurredAt: at,
    customer: { id: 'c', email: 'c@example.com' },
    currency: 'USD',
    items: [{ sku: 'A', quantity: 1, unitPriceCents: 500 }],
    sealedPaymentToken: 'sealed.v1.test',
  }
  const created = (first: EventOf<typeof SUBJECTS.orderCreated>) =>
    applyEvent(null, SUBJECTS.orderCreated, first, meta) as OrderStatus

  it('completes a record made from the version 1 copy with what version 2 adds, once', () => {
    const later = { at: '2026-01-01T00:00:01.000Z', correlationId: 'corr' }
    const completed = applyEvent(created(v1), SUBJECTS.orderCreated, v2, later)
    expect(completed).toMatchObject({
      customerId: 'c',
      customer: { id: 'c', email: 'c@example.com' },
      currency: 'USD',
      items: [{ sku: 'A', quantity: 1, unitPriceCents: 500 }],
      updatedAt: later.at,
      history: [{ event: 'orders.created', status: 'pending', at }],
    })
    expect(applyEvent(completed, SUBJECTS.orderCreated, v2, later)).toBeNull()
  })

  it('changes nothing when the version 1 copy comes after version 2', () => {
    expect(applyEvent(created(v2), SUBJECTS.orderCreated, v1, meta)).toBeNull()
  })

  it('keeps a later status: only the version 2 fields are added', () => {
    let record = created(v1)
    for (const subject of [SUBJECTS.inventoryReserved, SUBJECTS.paymentCompleted] as const)
      record = applyEvent(record, subject, events[subject], meta) ?? record
    const completed = applyEvent(record, SUBJECTS.orderCreated, v2, meta)
    expect(completed).toStrictEqual({
      ...record,
      customer: v2.customer,
      currency: 'USD',
      items: v2.items,
    })
  })
})

describe('cancellations and refunds', () => {
  const cancelledByCustomer = { ...base, reason: 'customer_request' as const, refundId: 're_1' }

  it('cancels a confirmed order that was refunded, and shows the charge and its refund', () => {
    let state = run([
      SUBJECTS.orderCreated,
      SUBJECTS.inventoryReserved,
      SUBJECTS.paymentCompleted,
      SUBJECTS.orderCancelRequested,
      SUBJECTS.paymentRefunded,
    ])
    expect(state?.status).toBe('confirmed')
    state = applyEvent(state, SUBJECTS.orderCancelled, cancelledByCustomer, meta)
    expect(state).toMatchObject({
      status: 'cancelled',
      reason: 'customer_request',
      refundId: 're_1',
      cancelRequested: { reason: 'customer_request', at },
      charges: [{ chargeId: 'ch_1', amountCents: 500 }],
      refunds: [{ refundId: 're_1', chargeId: 'ch_1', amountCents: 500, reason: 'customer_request' }],
    })
    expect(state?.history.map((h) => h.event)).toContain(SUBJECTS.paymentRefunded)
  })

  it('does not show a deadline that fires after the order was settled', () => {
    const confirmed = run([SUBJECTS.orderCreated, SUBJECTS.inventoryReserved, SUBJECTS.paymentCompleted])
    const deadline = { ...base, reason: 'deadline_exceeded' as const }
    expect(applyEvent(confirmed, SUBJECTS.orderCancelRequested, deadline, meta)).toBeNull()
    const pending = applyEvent(run([SUBJECTS.orderCreated]), SUBJECTS.orderCancelRequested, deadline, meta)
    expect(pending?.cancelRequested).toStrictEqual({ reason: 'deadline_exceeded', at })
  })

  it('does not show a deadline that came before the payment was recorded, once it is (the order stays confirmed)', () => {
    const reserved = run([SUBJECTS.orderCreated, SUBJECTS.inventoryReserved])
    const deadline = { ...base, reason: 'deadline_exceeded' as const }
    const requested = applyEvent(reserved, SUBJECTS.orderCancelRequested, deadline, meta)
    expect(requested?.cancelRequested).toStrictEqual({ reason: 'deadline_exceeded', at })
    const confirmed = applyEvent(
      requested,
      SUBJECTS.paymentCompleted,
      events[SUBJECTS.paymentCompleted],
      meta,
    )
    expect(confirmed?.status).toBe('confirmed')
    expect(confirmed?.cancelRequested).toBeUndefined()
    expect(confirmed?.history.map((h) => h.event)).toStrictEqual([
      SUBJECTS.orderCreated,
      SUBJECTS.inventoryReserved,
      SUBJECTS.paymentCompleted,
    ])
    // A customer's request after the deadline's replaces it, and stays: it is refunded.
    const both = applyEvent(
      requested,
      SUBJECTS.orderCancelRequested,
      { ...base, reason: 'customer_request' as const },
      meta,
    )
    expect(both?.cancelRequested).toStrictEqual({ reason: 'customer_request', at })
    const stillAsked = applyEvent(both, SUBJECTS.paymentCompleted, events[SUBJECTS.paymentCompleted], meta)
    expect(stillAsked?.cancelRequested).toStrictEqual({ reason: 'customer_request', at })
    expect(stillAsked?.history.filter((h) => h.event === SUBJECTS.orderCancelRequested)).toHaveLength(1)
    // The other way round the customer's stays too.
    expect(applyEvent(both, SUBJECTS.orderCancelRequested, deadline, meta)).toBeNull()
    const asked = applyEvent(
      reserved,
      SUBJECTS.orderCancelRequested,
      { ...base, reason: 'customer_request' as const },
      meta,
    )
    const paid = applyEvent(asked, SUBJECTS.paymentCompleted, events[SUBJECTS.paymentCompleted], meta)
    expect(paid?.cancelRequested).toStrictEqual({ reason: 'customer_request', at })
  })

  it("keeps the deadline's request on an order the deadline cancelled when a customer's comes after", () => {
    const reserved = run([SUBJECTS.orderCreated, SUBJECTS.inventoryReserved])
    const deadline = { ...base, reason: 'deadline_exceeded' as const }
    const requested = applyEvent(reserved, SUBJECTS.orderCancelRequested, deadline, meta)
    const cancelled = applyEvent(
      requested,
      SUBJECTS.orderCancelled,
      { ...base, reason: 'deadline_exceeded' as const },
      meta,
    )
    expect([cancelled?.status, cancelled?.reason]).toStrictEqual(['cancelled', 'deadline_exceeded'])
    // Sent while the record still said reserved; it changes nothing on a settled order.
    const late = applyEvent(
      cancelled,
      SUBJECTS.orderCancelRequested,
      { ...base, reason: 'customer_request' as const },
      meta,
    )
    expect(late).toBeNull()
    expect(cancelled?.cancelRequested).toStrictEqual({ reason: 'deadline_exceeded', at })
  })

  it("shows the deadline's request that arrives after the payment worker cancelled the order for that deadline", () => {
    const reserved = run([SUBJECTS.orderCreated, SUBJECTS.inventoryReserved])
    const deadline = { ...base, reason: 'deadline_exceeded' as const }
    const cancelled = applyEvent(reserved, SUBJECTS.orderCancelled, deadline, meta)
    const shown = applyEvent(cancelled, SUBJECTS.orderCancelRequested, deadline, meta)
    expect([shown?.status, shown?.reason, shown?.cancelRequested]).toStrictEqual([
      'cancelled',
      'deadline_exceeded',
      { reason: 'deadline_exceeded', at },
    ])
    expect(shown?.history.map((h) => h.event)).toContain(SUBJECTS.orderCancelRequested)
    // Once only; and an order cancelled for another reason does not show it.
    expect(applyEvent(shown, SUBJECTS.orderCancelRequested, deadline, meta)).toBeNull()
    const declined = applyEvent(reserved, SUBJECTS.paymentFailed, events[SUBJECTS.paymentFailed], meta)
    expect(declined?.status).toBe('cancelled')
    expect(applyEvent(declined, SUBJECTS.orderCancelRequested, deadline, meta)).toBeNull()
  })

  it('never revives a cancelled order: a late payments.completed leaves it cancelled', () => {
    const cancelled = applyEvent(
      run([SUBJECTS.orderCreated]),
      SUBJECTS.orderCancelled,
      cancelledByCustomer,
      meta,
    )
    const late = applyEvent(cancelled, SUBJECTS.paymentCompleted, events[SUBJECTS.paymentCompleted], meta)
    expect([late?.status, late?.reason]).toStrictEqual(['cancelled', 'customer_request'])
  })

  it('shows a charge found by reconciliation on an order cancelled payment_failed', () => {
    const failed = applyEvent(
      run([SUBJECTS.orderCreated, SUBJECTS.inventoryReserved]),
      SUBJECTS.paymentFailed,
      { ...base, reason: 'gateway_unavailable', unresolved: true },
      meta,
    )
    const found = applyEvent(
      failed,
      SUBJECTS.paymentRefunded,
      { ...events[SUBJECTS.paymentRefunded], refundId: 're_9', reason: 'reconciliation' },
      meta,
    )
    expect(found).toMatchObject({
      status: 'cancelled',
      reason: 'payment_failed',
      charges: [{ chargeId: 'ch_1', amountCents: 500 }],
      refunds: [{ refundId: 're_9', reason: 'reconciliation' }],
      refundId: 're_9',
    })
    // The same refund again changes nothing.
    expect(
      applyEvent(
        found,
        SUBJECTS.paymentRefunded,
        { ...events[SUBJECTS.paymentRefunded], refundId: 're_9', reason: 'reconciliation' },
        meta,
      ),
    ).toBeNull()
  })
})

it('takes a refund reconciliation made after a customer cancelled a paid order as its refundId, once', () => {
  // The processor could not refund at once: orders.cancelled came without a refundId.
  const cancelled = applyEvent(
    run([SUBJECTS.orderCreated, SUBJECTS.inventoryReserved, SUBJECTS.paymentCompleted]),
    SUBJECTS.orderCancelled,
    { ...base, reason: 'customer_request' },
    meta,
  )
  expect(cancelled?.refundId).toBeUndefined()
  const refunded = applyEvent(
    cancelled,
    SUBJECTS.paymentRefunded,
    { ...events[SUBJECTS.paymentRefunded], refundId: 're_late', reason: 'customer_request' },
    meta,
  )
  expect(refunded).toMatchObject({ status: 'cancelled', reason: 'customer_request', refundId: 're_late' })
  expect(refunded?.refunds?.map((r) => r.refundId)).toStrictEqual(['re_late'])
})

describe('order owners', () => {
  const request = { customer: { id: 'c' }, items: [{ sku: 'A', quantity: 1 }], paymentToken: 'tok_ok' }

  it('records the key id in orders.created and keeps it in the projection', () => {
    const event = toOrderCreated(request, orderId, new Date(at), 'sealed.v1.test', 'alice')
    expect(event.owner).toBe('alice')
    expect(applyEvent(null, SUBJECTS.orderCreated, event, meta)?.owner).toBe('alice')
    const later = applyEvent(
      applyEvent(null, SUBJECTS.orderCreated, event, meta),
      SUBJECTS.paymentCompleted,
      events[SUBJECTS.paymentCompleted],
      meta,
    )
    expect(later?.owner).toBe('alice')
  })

  it('leaves the owner out when none placed the order', () => {
    const event = toOrderCreated(request, orderId, new Date(at), 'sealed.v1.test')
    expect('owner' in event).toBe(false)
    expect(applyEvent(null, SUBJECTS.orderCreated, event, meta)).not.toHaveProperty('owner')
  })

  it.each([
    [{ owner: 'alice' }, { id: 'alice', role: 'client' }, true],
    [{ owner: 'alice' }, { id: 'bob', role: 'client' }, false],
    [{ owner: 'alice' }, { id: 'ops', role: 'admin' }, true],
    [{}, { id: 'alice', role: 'client' }, false],
    [{}, { id: 'ops', role: 'admin' }, true],
  ])('lets %j be read by %j: %s', (order, key, allowed) => {
    expect(canRead(order, key)).toBe(allowed)
  })
})

describe('canonicalJson', () => {
  it('ignores key order', () => {
    expect(canonicalJson({ b: 1, a: [{ y: 2, x: 1 }] })).toBe(canonicalJson({ a: [{ x: 1, y: 2 }], b: 1 }))
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }))
  })
})
