// Inventory handlers on real KV buckets: redelivery and crashes between steps
// never reserve twice and never leak stock.
import { jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EventOf, OrderCreated, OrderCreatedV1Event } from '../schemas/events.ts'
import { BUCKETS, SUBJECTS } from '../schemas/subjects.ts'
import { PauseConsumption, type Handler, type MessageContext } from '../shared/nats/consumer.ts'
import { KvRecordError } from '../shared/nats/kv-json.ts'
import { DEFAULT_LIMITS, ensureBucket, ensureStreams } from '../shared/nats/topology.ts'
import { createLogger } from '../shared/observability/logger.ts'
import { returnOrRelease, sellHold, stockTag, toStockView } from '../workers/inventory/domain.ts'
import { claimCancellation, kvDecisionStore } from '../shared/saga/decision.ts'
import { createInventoryHandlers, CurrencyMismatchError } from '../workers/inventory/handlers.ts'
import { createStockStore, type StockStore } from '../workers/inventory/stock-store.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'

let server: NatsServerHandle
let nc: NatsConnection
let store: StockStore
let reserve: Handler<typeof SUBJECTS.orderCreated>
let release: Handler<typeof SUBJECTS.paymentFailed>
let sell: Handler<typeof SUBJECTS.paymentCompleted>
let cancelled: Handler<typeof SUBJECTS.orderCancelled>
let decisionStore: ReturnType<typeof kvDecisionStore>
const ctx: MessageContext = {
  correlationId: 'c',
  priority: 'standard',
  deliveryCount: 2,
  logger: createLogger({ service: 't', level: 'silent' }),
}
const at = '2026-01-01T00:00:00.000Z'

function created(orderId: string, items: { sku: string; quantity: number }[]): OrderCreatedV1Event {
  return { version: 1, orderId, occurredAt: at, customerId: 'c', items, sealedPaymentToken: 'sealed.v1.test' }
}

/** The order's `payments.completed`. */
function paymentCompleted(orderId: string, chargeId: string, amountCents: number) {
  return { version: 1 as const, orderId, occurredAt: at, chargeId, amountCents, currency: 'USD' }
}

/** The order's `orders.cancelled` at its customer's request, after a refund. */
function cancelledByCustomer(orderId: string, refundId: string) {
  return { version: 1 as const, orderId, occurredAt: at, reason: 'customer_request' as const, refundId }
}

async function view(sku: string) {
  const record = await store.getStock(sku)
  return record === null ? null : toStockView(record)
}

beforeAll(async () => {
  server = await startNatsServer({ websocket: false })
  nc = await connect(server.connectOptions())
  await ensureStreams(await jetstreamManager(nc), DEFAULT_LIMITS)
  store = createStockStore(
    await ensureBucket(nc, BUCKETS.stock, DEFAULT_LIMITS),
    await ensureBucket(nc, BUCKETS.reservations, DEFAULT_LIMITS),
  )
  decisionStore = kvDecisionStore(await ensureBucket(nc, BUCKETS.decisions, DEFAULT_LIMITS))
  const handlers = createInventoryHandlers({
    store,
    decisions: decisionStore,
    currency: 'USD',
    deadlineMs: 600_000,
    scheduleDeadline: () => Promise.resolve(),
    now: () => new Date(at),
  })
  reserve = handlers[SUBJECTS.orderCreated]
  release = handlers[SUBJECTS.paymentFailed]
  sell = handlers[SUBJECTS.paymentCompleted]
  cancelled = handlers[SUBJECTS.orderCancelled]
})

afterAll(async () => {
  await nc?.close()
  await server?.dispose()
})

describe('inventory idempotency', () => {
  it('reserves once however often orders.created is delivered', async () => {
    await store.setStock('IDEM-A', { onHand: 10, priceCents: 250 })
    const event = created('00000000-0000-4000-8000-000000000001', [{ sku: 'IDEM-A', quantity: 3 }])
    const first = await reserve(event, ctx)
    const again = await reserve(event, ctx)
    expect(again).toStrictEqual(first)
    expect(first.map((e) => e.subject)).toStrictEqual([SUBJECTS.inventoryReserved])
    expect((first[0]?.payload as EventOf<typeof SUBJECTS.inventoryReserved>).amountCents).toBe(750)
    expect(await view('IDEM-A')).toStrictEqual({
      sku: 'IDEM-A',
      onHand: 10,
      reserved: 3,
      available: 7,
      priceCents: 250,
    })
  })

  it('completes after a crash between holds, holding each sku once', async () => {
    await store.setStock('CRASH-A', { onHand: 5, priceCents: 100 })
    await store.setStock('CRASH-B', { onHand: 5, priceCents: 100 })
    const orderId = '00000000-0000-4000-8000-000000000002'
    // The first delivery took the hold on CRASH-A, then the process died.
    expect((await store.takeHold('CRASH-A', orderId, 2)).kind).toBe('held')
    const events = await reserve(
      created(orderId, [
        { sku: 'CRASH-A', quantity: 2 },
        { sku: 'CRASH-B', quantity: 1 },
      ]),
      ctx,
    )
    expect(events.map((e) => e.subject)).toStrictEqual([SUBJECTS.inventoryReserved])
    expect(await view('CRASH-A')).toMatchObject({ reserved: 2, available: 3 })
    expect(await view('CRASH-B')).toMatchObject({ reserved: 1, available: 4 })
  })

  it('releases every hold when a later sku is short, even after a crash left one behind', async () => {
    await store.setStock('SHORTX-A', { onHand: 5, priceCents: 100 })
    await store.setStock('SHORTX-B', { onHand: 0, priceCents: 100 })
    const orderId = '00000000-0000-4000-8000-000000000003'
    await store.takeHold('SHORTX-A', orderId, 4)
    const events = await reserve(
      created(orderId, [
        { sku: 'SHORTX-A', quantity: 4 },
        { sku: 'SHORTX-B', quantity: 1 },
      ]),
      ctx,
    )
    expect(events.map((e) => [e.subject, (e.payload as { shortSkus?: string[] }).shortSkus])).toStrictEqual([
      [SUBJECTS.orderCancelled, ['SHORTX-B']],
    ])
    expect(await view('SHORTX-A')).toMatchObject({ onHand: 5, reserved: 0, available: 5 })
    // Redelivered after the decision: the same cancellation, nothing held.
    expect(
      (
        await reserve(
          created(orderId, [
            { sku: 'SHORTX-A', quantity: 4 },
            { sku: 'SHORTX-B', quantity: 1 },
          ]),
          ctx,
        )
      ).map((e) => e.subject),
    ).toStrictEqual([SUBJECTS.orderCancelled])
    expect(await view('SHORTX-A')).toMatchObject({ reserved: 0 })
  })

  it('releases once on payments.failed and never re-reserves a released order', async () => {
    await store.setStock('REL-A', { onHand: 4, priceCents: 100 })
    const orderId = '00000000-0000-4000-8000-000000000004'
    const order = created(orderId, [{ sku: 'REL-A', quantity: 2 }])
    await reserve(order, ctx)
    const failed = { version: 1 as const, orderId, occurredAt: at, reason: 'declined' as const }
    expect((await release(failed, ctx)).map((e) => e.subject)).toStrictEqual([SUBJECTS.inventoryReleased])
    expect((await release(failed, ctx)).map((e) => e.subject)).toStrictEqual([SUBJECTS.inventoryReleased])
    expect(await reserve(order, ctx)).toStrictEqual([])
    expect(await view('REL-A')).toStrictEqual({
      sku: 'REL-A',
      onHand: 4,
      reserved: 0,
      available: 4,
      priceCents: 100,
    })
  })

  it('sells once on payments.completed', async () => {
    await store.setStock('SELL-A', { onHand: 4, priceCents: 100 })
    const orderId = '00000000-0000-4000-8000-000000000005'
    await reserve(created(orderId, [{ sku: 'SELL-A', quantity: 3 }]), ctx)
    const completed = paymentCompleted(orderId, 'ch_1', 300)
    await sell(completed, ctx)
    await sell(completed, ctx)
    expect(await view('SELL-A')).toStrictEqual({
      sku: 'SELL-A',
      onHand: 1,
      reserved: 0,
      available: 1,
      priceCents: 100,
    })
    expect((await store.getStock('SELL-A'))?.sold).toBe(3)
  })

  it('lets one of two concurrent deliveries decide; the other waits and repeats its outcome', async () => {
    await store.setStock('RACE-A', { onHand: 3, priceCents: 100 })
    await store.setStock('RACE-SHORT', { onHand: 1, priceCents: 100 })
    const order = created('00000000-0000-4000-8000-000000000007', [
      { sku: 'RACE-A', quantity: 2 },
      { sku: 'RACE-SHORT', quantity: 1 },
    ])
    const outcomes = await Promise.allSettled([reserve(order, ctx), reserve(order, ctx)])
    const busy = outcomes.filter((o) => o.status === 'rejected')
    expect(busy.every((o) => o.status === 'rejected' && o.reason instanceof PauseConsumption)).toBe(true)
    expect(busy.length).toBeLessThanOrEqual(1)
    // The held-back delivery comes again and repeats the decision.
    const again = await reserve(order, ctx)
    expect(again.map((e) => e.subject)).toStrictEqual([SUBJECTS.inventoryReserved])
    expect(await view('RACE-A')).toMatchObject({ reserved: 2, available: 1 })
    expect(await view('RACE-SHORT')).toMatchObject({ reserved: 1, available: 0 })
  })

  it('takes over a decision whose holder crashed once its lease ran out', async () => {
    await store.setStock('LEASE-A', { onHand: 2, priceCents: 100 })
    const orderId = '00000000-0000-4000-8000-000000000008'
    expect(await store.claimReservation(orderId, 'crashed-worker', 60_000, [])).toStrictEqual({
      kind: 'claimed',
    })
    await expect(reserve(created(orderId, [{ sku: 'LEASE-A', quantity: 1 }]), ctx)).rejects.toBeInstanceOf(
      PauseConsumption,
    )
    expect(await store.claimReservation(orderId, 'crashed-worker', -1, [])).toStrictEqual({ kind: 'claimed' })
    const events = await reserve(created(orderId, [{ sku: 'LEASE-A', quantity: 1 }]), ctx)
    expect(events.map((e) => e.subject)).toStrictEqual([SUBJECTS.inventoryReserved])
    expect(await view('LEASE-A')).toMatchObject({ reserved: 1 })
  })

  it('releases the holds of an order whose orders.created died mid-reservation when its deadline cancels it', async () => {
    await store.setStock('DEAD-A', { onHand: 5, priceCents: 100 })
    await store.setStock('DEAD-B', { onHand: 5, priceCents: 100 })
    const orderId = '00000000-0000-4000-8000-000000000009'
    const items = [
      { sku: 'DEAD-A', quantity: 2 },
      { sku: 'DEAD-B', quantity: 1 },
    ]
    // A delivery took its lease and one hold, then died; its message was dead-lettered.
    expect(await store.claimReservation(orderId, 'dead-worker', -1, items)).toStrictEqual({ kind: 'claimed' })
    expect((await store.takeHold('DEAD-A', orderId, 2)).kind).toBe('held')
    expect(await view('DEAD-A')).toMatchObject({ reserved: 2 })

    const deadline = { version: 1 as const, orderId, occurredAt: at, reason: 'deadline_exceeded' as const }
    const events = await cancelled(deadline, ctx)
    expect(events.map((e) => [e.subject, e.payload])).toMatchObject([
      [SUBJECTS.inventoryReleased, { reason: 'deadline_exceeded', items }],
    ])
    expect(await view('DEAD-A')).toMatchObject({ onHand: 5, reserved: 0 })
    expect(await view('DEAD-B')).toMatchObject({ onHand: 5, reserved: 0 })
    // A replay of the dead letter later finds the order settled: no new hold.
    expect(await reserve(created(orderId, items), ctx)).toStrictEqual([])
    expect(await view('DEAD-A')).toMatchObject({ reserved: 0 })
  })

  it('releases the holds an earlier attempt took when a later one finds the order cancelled (its deadline, during a NATS stall)', async () => {
    await store.setStock('STALL-A', { onHand: 5, priceCents: 100 })
    await store.setStock('STALL-B', { onHand: 5, priceCents: 100 })
    const orderId = '00000000-0000-4000-8000-000000000019'
    const items = [
      { sku: 'STALL-A', quantity: 2 },
      { sku: 'STALL-B', quantity: 1 },
    ]
    // The first delivery took its lease and both holds, then NATS stalled before it
    // wrote the reservation: its lease ran out, and the deadline cancelled the order.
    expect(await store.claimReservation(orderId, 'stalled-worker', -1, items)).toStrictEqual({
      kind: 'claimed',
    })
    expect((await store.takeHold('STALL-A', orderId, 2)).kind).toBe('held')
    expect((await store.takeHold('STALL-B', orderId, 1)).kind).toBe('held')
    const claim = await claimCancellation(
      decisionStore,
      orderId,
      'deadline_exceeded',
      'payment',
      () => new Date(at),
    )
    expect(claim.kind).toBe('cancelled')
    // The next delivery finds the order cancelled: it holds nothing, and gives back what the first held.
    expect(await reserve(created(orderId, items), ctx)).toStrictEqual([])
    expect(await view('STALL-A')).toMatchObject({ onHand: 5, reserved: 0 })
    expect(await view('STALL-B')).toMatchObject({ onHand: 5, reserved: 0 })
    // The cancellation's own delivery then finds nothing left to release.
    const deadline = { version: 1 as const, orderId, occurredAt: at, reason: 'deadline_exceeded' as const }
    expect(await cancelled(deadline, ctx)).toStrictEqual([])
    expect(await view('STALL-A')).toMatchObject({ reserved: 0 })
  })

  it('gives nothing back for an order past its deadline that the payment worker is charging (another delivery reserved it)', async () => {
    // A delivery that reads the deadline as passed (its own clock, or a shorter ORDER_DEADLINE_MS
    // during a rolling change) while another delivery reserved the order and payment took it.
    const late = createInventoryHandlers({
      store,
      decisions: decisionStore,
      currency: 'USD',
      deadlineMs: 1,
      scheduleDeadline: () => Promise.resolve(),
      now: () => new Date(Date.parse(at) + 60_000),
    })[SUBJECTS.orderCreated]
    await store.setStock('PAYING-A', { onHand: 5, priceCents: 100 })
    const orderId = '00000000-0000-4000-8000-000000000020'
    const items = [{ sku: 'PAYING-A', quantity: 2 }]
    // The other delivery took its lease and the hold; its lease ran out before it wrote the record.
    expect(await store.claimReservation(orderId, 'other-worker', -1, items)).toStrictEqual({
      kind: 'claimed',
    })
    expect((await store.takeHold('PAYING-A', orderId, 2)).kind).toBe('held')
    await decisionStore.update(orderId, () => ({
      value: {
        orderId,
        decision: 'paying' as const,
        decidedBy: 'payment' as const,
        decidedAt: at,
        updatedAt: at,
        payment: { state: 'charging' as const, amountCents: 200, currency: 'USD' },
      },
      result: undefined,
    }))
    expect(await late(created(orderId, items), ctx)).toStrictEqual([])
    // The charge may go through: its hold stays, for the sale.
    expect(await view('PAYING-A')).toMatchObject({ onHand: 5, reserved: 2 })
  })

  it("puts a refunded order's units back whichever of its sale and its cancellation comes first, or both at once", async () => {
    await store.setStock('RACE-SALE', { onHand: 100, priceCents: 100 })
    const cancel = (orderId: string) => cancelledByCustomer(orderId, `re_${orderId}`)
    const paid = (orderId: string) => paymentCompleted(orderId, `ch_${orderId}`, 200)
    for (let i = 0; i < 30; i++) {
      const orderId = `00000000-0000-4000-8000-0000000010${String(i).padStart(2, '0')}`
      await reserve(created(orderId, [{ sku: 'RACE-SALE', quantity: 2 }]), ctx)
      if (i % 3 === 0) {
        await sell(paid(orderId), ctx)
        await cancelled(cancel(orderId), ctx)
      } else if (i % 3 === 1) {
        await cancelled(cancel(orderId), ctx)
        await sell(paid(orderId), ctx)
      } else {
        await Promise.all([sell(paid(orderId), ctx), cancelled(cancel(orderId), ctx)])
      }
      // Delivered again: nothing changes.
      await Promise.all([sell(paid(orderId), ctx), cancelled(cancel(orderId), ctx)])
    }
    expect(await view('RACE-SALE')).toMatchObject({ onHand: 100, reserved: 0, available: 100 })
    expect((await store.getStock('RACE-SALE'))?.sold).toBe(0)
  })

  it("returns a refunded order's units once, even when its orders.cancelled comes again after the sku forgot the return", async () => {
    await store.setStock('RETURN-ONCE', { onHand: 10, priceCents: 100 })
    const orderId = '00000000-0000-4000-8000-000000001101'
    await reserve(created(orderId, [{ sku: 'RETURN-ONCE', quantity: 3 }]), ctx)
    const paid = paymentCompleted(orderId, 'ch_r', 300)
    await sell(paid, ctx)
    expect(await view('RETURN-ONCE')).toMatchObject({ onHand: 7, reserved: 0 })
    const cancel = cancelledByCustomer(orderId, 're_r')
    const first = await cancelled(cancel, ctx)
    expect(first.map((e) => e.subject)).toStrictEqual([SUBJECTS.inventoryReleased])
    expect(await view('RETURN-ONCE')).toMatchObject({ onHand: 10, reserved: 0 })
    const done = await store.getReservation(orderId)
    expect(done).toMatchObject({ state: 'returned' })
    expect(done?.returnPending).toBeUndefined()
    // The sku keeps only its newest returns: this one pushed out by a thousand later ones.
    await store.changeHold('RETURN-ONCE', (r) => (r === null ? null : { ...r, returned: {} }))
    // Said again past the duplicate window (a customer asking again, a replay): the same event, no stock moved.
    expect((await cancelled(cancel, { ...ctx, deliveryCount: 1 })).map((e) => e.subject)).toStrictEqual([
      SUBJECTS.inventoryReleased,
    ])
    expect(await view('RETURN-ONCE')).toMatchObject({ onHand: 10, reserved: 0 })
    expect((await store.getStock('RETURN-ONCE'))?.sold).toBe(0)
  })

  it('returns the units of a return left pending by a crash, and none for a returned record of an earlier release', async () => {
    await store.setStock('RETURN-PENDING', { onHand: 10, priceCents: 100 })
    const pending = '00000000-0000-4000-8000-000000001102'
    const legacy = '00000000-0000-4000-8000-000000001103'
    for (const orderId of [pending, legacy]) {
      await reserve(created(orderId, [{ sku: 'RETURN-PENDING', quantity: 2 }]), ctx)
      await sell(paymentCompleted(orderId, `ch_${orderId}`, 200), ctx)
    }
    expect(await view('RETURN-PENDING')).toMatchObject({ onHand: 6, reserved: 0 })
    // Stopped after the record became `returned`, before any unit moved.
    await store.transition(pending, (r) =>
      r === null ? undefined : { ...r, state: 'returned', returnPending: true, updatedAt: at },
    )
    // Written by 0.2.0, whose units went back when it became `returned` (put back here by hand).
    await store.transition(legacy, (r) =>
      r === null ? undefined : { ...r, state: 'returned', updatedAt: at },
    )
    await store.changeHold('RETURN-PENDING', (r) => returnOrRelease(r, legacy, 2))
    expect(await view('RETURN-PENDING')).toMatchObject({ onHand: 8 })
    await cancelled(cancelledByCustomer(pending, 're_p'), ctx)
    expect(await view('RETURN-PENDING')).toMatchObject({ onHand: 10, reserved: 0 })
    expect((await store.getReservation(pending))?.returnPending).toBeUndefined()
    // The sku has forgotten the legacy return: the record alone keeps it from counting twice.
    await store.changeHold('RETURN-PENDING', (r) => (r === null ? null : { ...r, returned: {} }))
    const again = await cancelled(cancelledByCustomer(legacy, 're_l'), ctx)
    expect(again.map((e) => e.subject)).toStrictEqual([SUBJECTS.inventoryReleased])
    expect(await view('RETURN-PENDING')).toMatchObject({ onHand: 10, reserved: 0 })
  })

  it('lets the next delivery decide at once when one fails holding the lease (an invalid stock record)', async () => {
    const kv = await ensureBucket(nc, BUCKETS.stock, DEFAULT_LIMITS)
    await kv.put('BROKEN-REC', 'not json')
    const order = created('00000000-0000-4000-8000-000000001201', [{ sku: 'BROKEN-REC', quantity: 1 }])
    await expect(reserve(order, ctx)).rejects.toThrow(KvRecordError)
    // The reason a dead letter would carry names the repair.
    await expect(reserve(order, ctx)).rejects.toThrow(
      'PUT /inventory/BROKEN-REC with an admin key and no If-Match replaces it',
    )
    // Not held back as "another delivery is deciding it" for the lease's 30 s: the failed one gave it up.
    await expect(reserve(order, ctx)).rejects.toThrow(KvRecordError)
    // An operator repairs the record: the next delivery reserves.
    await kv.delete('BROKEN-REC')
    await store.setStock('BROKEN-REC', { onHand: 5, priceCents: 100 })
    expect((await reserve(order, ctx)).map((e) => e.subject)).toStrictEqual([SUBJECTS.inventoryReserved])
    expect(await view('BROKEN-REC')).toMatchObject({ onHand: 5, reserved: 1 })
  })

  it('refuses to set on-hand below what open orders hold', async () => {
    await store.setStock('PUT-A', { onHand: 5, priceCents: 100 })
    await reserve(created('00000000-0000-4000-8000-000000000006', [{ sku: 'PUT-A', quantity: 4 }]), ctx)
    expect(await store.setStock('PUT-A', { onHand: 3, priceCents: 100 })).toStrictEqual({
      kind: 'below_reserved',
      reserved: 4,
    })
  })

  it('takes no hold until the deadline is scheduled, and schedules none for an order past it', async () => {
    await store.setStock('DL-A', { onHand: 5, priceCents: 100 })
    const scheduled: string[] = []
    let failing = true
    const deadlineMs = 600_000
    let clock = Date.parse(at)
    const handlers = createInventoryHandlers({
      store,
      decisions: kvDecisionStore(await ensureBucket(nc, BUCKETS.decisions, DEFAULT_LIMITS)),
      currency: 'USD',
      deadlineMs,
      // Sent beside the lease claim: fails after the claim has been answered.
      scheduleDeadline: async (orderId) => {
        await new Promise((resolve) => setTimeout(resolve, 50))
        if (failing) throw new Error('DEADLINES unavailable')
        scheduled.push(orderId)
      },
      leaseMs: 100,
      now: () => new Date(clock),
    })
    const reserveHere = handlers[SUBJECTS.orderCreated]
    const orderId = '00000000-0000-4000-8000-000000000041'
    const order = created(orderId, [{ sku: 'DL-A', quantity: 2 }])
    await expect(reserveHere(order, ctx)).rejects.toThrow('DEADLINES unavailable')
    expect(await view('DL-A')).toMatchObject({ reserved: 0, available: 5 })

    // Redelivered once the lease has run out, with the schedule stored this time.
    failing = false
    await new Promise((resolve) => setTimeout(resolve, 150))
    const events = await reserveHere(order, ctx)
    expect(events.map((e) => e.subject)).toStrictEqual([SUBJECTS.inventoryReserved])
    expect(scheduled).toStrictEqual([orderId])
    expect(await view('DL-A')).toMatchObject({ reserved: 2, available: 3 })

    // Past its deadline when it arrives: cancelled, nothing held, nothing scheduled.
    clock += deadlineMs + 1
    const late = '00000000-0000-4000-8000-000000000042'
    const cancelled = await reserveHere(created(late, [{ sku: 'DL-A', quantity: 1 }]), ctx)
    expect(cancelled.map((e) => [e.subject, (e.payload as { reason?: string }).reason])).toStrictEqual([
      [SUBJECTS.orderCancelled, 'deadline_exceeded'],
    ])
    expect(scheduled).toStrictEqual([orderId])
    expect(await view('DL-A')).toMatchObject({ reserved: 2, available: 3 })
  })

  it("says a cancellation it decided in an earlier attempt again, and stays quiet about another decider's", async () => {
    const decisions = kvDecisionStore(await ensureBucket(nc, BUCKETS.decisions, DEFAULT_LIMITS))
    await store.setStock('AGAIN-A', { onHand: 0, priceCents: 100 })
    // An earlier attempt found the order short and claimed its cancellation,
    // then failed before it stored the reservation and published the event.
    const short = '00000000-0000-4000-8000-000000000051'
    expect(
      (await claimCancellation(decisions, short, 'out_of_stock', 'inventory', () => new Date(at))).kind,
    ).toBe('cancelled')
    const again = await reserve(created(short, [{ sku: 'AGAIN-A', quantity: 1 }]), ctx)
    expect(again.map((e) => [e.subject, e.msgId, (e.payload as { reason?: string }).reason])).toStrictEqual([
      [SUBJECTS.orderCancelled, `${SUBJECTS.orderCancelled}:${short}`, 'out_of_stock'],
    ])
    // A customer's cancellation this worker handled: its own redelivery says it again.
    const customer = '00000000-0000-4000-8000-000000000053'
    expect(
      (await claimCancellation(decisions, customer, 'customer_request', 'inventory', () => new Date(at)))
        .kind,
    ).toBe('cancelled')
    expect(await reserve(created(customer, [{ sku: 'AGAIN-A', quantity: 1 }]), ctx)).toStrictEqual([])
    // The payment worker cancelled this one: its event is its own to publish.
    const theirs = '00000000-0000-4000-8000-000000000052'
    expect(
      (await claimCancellation(decisions, theirs, 'deadline_exceeded', 'payment', () => new Date(at))).kind,
    ).toBe('cancelled')
    expect(await reserve(created(theirs, [{ sku: 'AGAIN-A', quantity: 1 }]), ctx)).toStrictEqual([])
  })

  it("holds nothing for an order in another currency than the stock's, and says which settings disagree", async () => {
    await store.setStock('CUR-A', { onHand: 5, priceCents: 100 })
    const scheduled: string[] = []
    const handlers = createInventoryHandlers({
      store,
      decisions: kvDecisionStore(await ensureBucket(nc, BUCKETS.decisions, DEFAULT_LIMITS)),
      currency: 'USD',
      deadlineMs: 600_000,
      scheduleDeadline: (orderId) => {
        scheduled.push(orderId)
        return Promise.resolve()
      },
      now: () => new Date(at),
    })
    const reserveHere = handlers[SUBJECTS.orderCreated]
    const v2 = (orderId: string, currency: string): OrderCreated => ({
      version: 2,
      orderId,
      occurredAt: at,
      customer: { id: 'c', email: 'c@example.com' },
      currency,
      items: [{ sku: 'CUR-A', quantity: 2, unitPriceCents: 100 }],
      sealedPaymentToken: 'sealed.v1.test',
    })
    const euro = '00000000-0000-4000-8000-000000000061'
    const attempt = reserveHere(v2(euro, 'EUR'), ctx)
    await expect(attempt).rejects.toBeInstanceOf(CurrencyMismatchError)
    await expect(attempt).rejects.toThrow(
      'order in EUR, stock priced in USD: ORDER_CURRENCY and INVENTORY_CURRENCY must be the same',
    )
    // Its deadline stands (it cancels the order if nobody fixes the settings); no hold, no record.
    expect(scheduled).toStrictEqual([euro])
    expect(await view('CUR-A')).toMatchObject({ reserved: 0, available: 5 })
    expect(await store.getReservation(euro)).toBeNull()

    // The stock's own currency goes through.
    const dollars = '00000000-0000-4000-8000-000000000062'
    const events = await reserveHere(v2(dollars, 'USD'), ctx)
    expect(events.map((e) => [e.subject, (e.payload as { currency?: string }).currency])).toStrictEqual([
      [SUBJECTS.inventoryReserved, 'USD'],
    ])
    expect(await view('CUR-A')).toMatchObject({ reserved: 2, available: 3 })
  })

  it('dates an order no later than the stream stored it: an occurredAt years ahead does not push its deadline', async () => {
    await store.setStock('DATE-A', { onHand: 5, priceCents: 100 })
    const scheduled: [string, string][] = []
    const handlers = createInventoryHandlers({
      store,
      decisions: kvDecisionStore(await ensureBucket(nc, BUCKETS.decisions, DEFAULT_LIMITS)),
      currency: 'USD',
      deadlineMs: 600_000,
      scheduleDeadline: (orderId, deadlineAt) => {
        scheduled.push([orderId, deadlineAt])
        return Promise.resolve()
      },
      now: () => new Date(at),
    })
    const reserveHere = handlers[SUBJECTS.orderCreated]
    const storedAt = Date.parse(at)
    const deadlineOfReserved = (events: readonly { payload: unknown }[]) =>
      (events[0]?.payload as EventOf<typeof SUBJECTS.inventoryReserved>).deadlineAt

    // Dated 2099 by its publisher, stored now: its deadline is ten minutes from now, on the schedule and on the event.
    const future = '00000000-0000-4000-8000-000000000065'
    const forged = {
      ...created(future, [{ sku: 'DATE-A', quantity: 2 }]),
      occurredAt: '2099-01-01T00:00:00.000Z',
    }
    const events = await reserveHere(forged, { ...ctx, storedAt })
    expect(scheduled).toStrictEqual([[future, '2026-01-01T00:10:00.000Z']])
    expect(deadlineOfReserved(events)).toBe('2026-01-01T00:10:00.000Z')
    // A redelivery repeats the same deadline.
    expect(deadlineOfReserved(await reserveHere(forged, { ...ctx, storedAt, deliveryCount: 3 }))).toBe(
      '2026-01-01T00:10:00.000Z',
    )

    // An intake clock a little ahead of the server's (within a minute) is believed as it is.
    const ahead = '00000000-0000-4000-8000-000000000066'
    const skewed = {
      ...created(ahead, [{ sku: 'DATE-A', quantity: 1 }]),
      occurredAt: '2026-01-01T00:00:30.000Z',
    }
    expect(deadlineOfReserved(await reserveHere(skewed, { ...ctx, storedAt }))).toBe(
      '2026-01-01T00:10:30.000Z',
    )
  })

  it('sets a price under If-Match only while on hand is what was read: a sale since refuses it', async () => {
    await store.setStock('TAG-A', { onHand: 10, priceCents: 100 })
    const read = await store.getStock('TAG-A')
    const etag = stockTag(read ?? { onHand: -1, priceCents: -1 })
    expect(etag).toBe('"10-100"')
    // A hold alone changes nothing the tag names.
    const orderId = '00000000-0000-4000-8000-000000000071'
    expect((await store.takeHold('TAG-A', orderId, 3)).kind).toBe('held')
    expect(await store.setStock('TAG-A', { onHand: 10, priceCents: 120 }, etag)).toMatchObject({ kind: 'ok' })
    // The sale takes 3 off hand: writing back the 10 read before would put them back.
    expect(await store.changeHold('TAG-A', (r) => sellHold(r, orderId))).toBe(true)
    expect(await store.setStock('TAG-A', { onHand: 10, priceCents: 150 }, '"10-120"')).toStrictEqual({
      kind: 'precondition_failed',
      etag: '"7-120"',
    })
    expect(await view('TAG-A')).toMatchObject({ onHand: 7, priceCents: 120 })
    expect(await store.setStock('TAG-A', { onHand: 7, priceCents: 150 }, '"7-120"')).toMatchObject({
      kind: 'ok',
    })
    expect(await view('TAG-A')).toMatchObject({ onHand: 7, priceCents: 150 })
  })
})
