// The order deadline as the backstop of a lost cancellation, on real KV
// buckets with the real inventory, payment, reconciliation and relay handlers.
// A customer cancels while the charge is unanswered; the delivery that said
// `orders.cancelled` is dead-lettered, so that event never reaches the stream;
// reconciliation later finds the processor's late charge and refunds it. Only
// the deadline is left to release the stock held for the order.
import { Kvm } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OrderCancelRequested } from '../schemas/events.ts'
import { SUBJECTS } from '../schemas/subjects.ts'
import type { Handler, MessageContext } from '../shared/nats/consumer.ts'
import type { OutgoingEvent } from '../shared/nats/publish.ts'
import { createLogger } from '../shared/observability/logger.ts'
import { kvDecisionStore } from '../shared/saga/decision.ts'
import {
  createTokenOpener,
  createTokenSealer,
  generateSealingKeyPair,
} from '../shared/security/sealed-token.ts'
import { toStockView } from '../workers/inventory/domain.ts'
import { createDeadlineRelay, createInventoryHandlers } from '../workers/inventory/handlers.ts'
import { createStockStore } from '../workers/inventory/stock-store.ts'
import { createPaymentHandlers } from '../workers/payment/handlers.ts'
import { addEntry, createReconciler } from '../workers/payment/reconciliation.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'

let server: NatsServerHandle
let nc: NatsConnection
const ctx: MessageContext = {
  correlationId: 'c',
  priority: 'standard',
  deliveryCount: 1,
  logger: createLogger({ service: 't', level: 'silent' }),
}

beforeAll(async () => {
  server = await startNatsServer({ websocket: false })
  nc = await connect(server.connectOptions())
})

afterAll(async () => {
  await nc?.close()
  await server?.dispose()
})

/** Everything one order's story needs, on buckets of its own; the processor answers `charge`. */
async function saga(tag: string, charge: 'unanswered' | 'succeeded' | 'declined' = 'unanswered') {
  const kvm = new Kvm(nc)
  const decisions = kvDecisionStore(await kvm.create(`decisions-${tag}`, { history: 1 }))
  const store = createStockStore(
    await kvm.create(`stock-${tag}`, { history: 1 }),
    await kvm.create(`reservations-${tag}`, { history: 1 }),
  )
  const reconciliationKv = await kvm.create(`reconciliation-${tag}`, { history: 1 })
  /** What reconciliation published. */
  const reconciled: OutgoingEvent[] = []
  await store.setStock('MUG-002', { onHand: 5, priceCents: 500 })
  const inventory = createInventoryHandlers({
    store,
    decisions,
    currency: 'USD',
    deadlineMs: 600_000,
    scheduleDeadline: () => Promise.resolve(),
  })
  const keys = await generateSealingKeyPair()
  let answer: () => void = () => undefined
  const answered = new Promise<void>((resolve) => (answer = resolve))
  const refund = ({ chargeId }: { chargeId: string }) =>
    Promise.resolve({ refundId: `re_${chargeId}`, amountCents: 1000 })
  const payment = createPaymentHandlers({
    // The processor gives no answer the worker can settle on.
    gateway: {
      charge: async () => {
        await answered
        if (charge === 'succeeded') return { kind: 'succeeded', chargeId: 'ch_taken' } as const
        if (charge === 'declined') return { kind: 'declined', code: 'card_declined' } as const
        return { kind: 'unresolved', detail: 'no answer' } as const
      },
      refund,
    },
    decisions,
    reconcile: (entry) => addEntry(reconciliationKv, entry, Date.now()),
    tokens: await createTokenOpener([keys.privateJwk]),
    maxPauseMs: 60_000,
  })
  const reconciler = createReconciler({
    kv: reconciliationKv,
    listKeys: async () => {
      const keys: string[] = []
      for await (const key of await reconciliationKv.keys()) keys.push(key)
      return keys
    },
    // The charge surfaces late: the processor did take it.
    gateway: { lookup: () => Promise.resolve({ kind: 'succeeded', chargeId: 'ch_late' }), refund },
    decisions,
    publish: (event) => {
      reconciled.push(event)
      return Promise.resolve()
    },
    logger: ctx.logger,
    intervalMs: 10,
    windowMs: 60_000,
    maxBackoffMs: 10,
  })
  const relay = createDeadlineRelay({ decisions, reservations: store })
  return {
    store,
    decisions,
    answer,
    sealer: await createTokenSealer(keys.publicJwk),
    reserve: inventory[SUBJECTS.orderCreated] as Handler<typeof SUBJECTS.orderCreated>,
    onCancelled: inventory[SUBJECTS.orderCancelled] as Handler<typeof SUBJECTS.orderCancelled>,
    onFailed: inventory[SUBJECTS.paymentFailed] as Handler<typeof SUBJECTS.paymentFailed>,
    onCompleted: inventory[SUBJECTS.paymentCompleted] as Handler<typeof SUBJECTS.paymentCompleted>,
    pay: payment[SUBJECTS.inventoryReserved] as Handler<typeof SUBJECTS.inventoryReserved>,
    cancel: payment[SUBJECTS.orderCancelRequested] as Handler<typeof SUBJECTS.orderCancelRequested>,
    relay: relay[SUBJECTS.orderCancelRequested] as Handler<typeof SUBJECTS.orderCancelRequested>,
    reconciler,
    reconciled,
  }
}

/** What inventory does with the events the payment worker said (the ones that reach it). */
async function deliver(s: Awaited<ReturnType<typeof saga>>, events: readonly OutgoingEvent[]) {
  for (const event of events) {
    if (event.subject === SUBJECTS.orderCancelled) await s.onCancelled(event.payload as never, ctx)
    if (event.subject === SUBJECTS.paymentFailed) await s.onFailed(event.payload as never, ctx)
    if (event.subject === SUBJECTS.paymentCompleted) await s.onCompleted(event.payload as never, ctx)
  }
}

/** The order's `orders.created` handled by inventory: its `inventory.reserved`. */
async function reserveOrder(s: Awaited<ReturnType<typeof saga>>, orderId: string) {
  const [reserved] = await s.reserve(
    {
      version: 1,
      orderId,
      occurredAt: new Date().toISOString(),
      customerId: 'c',
      items: [{ sku: 'MUG-002', quantity: 2 }],
      sealedPaymentToken: await s.sealer.seal('tok_ok', orderId),
    },
    ctx,
  )
  expect(reserved?.subject).toBe(SUBJECTS.inventoryReserved)
  return reserved!
}

const deadlineOf = (orderId: string): OrderCancelRequested => ({
  version: 1,
  orderId,
  occurredAt: new Date().toISOString(),
  reason: 'deadline_exceeded',
})

/** Until the payment worker has claimed the order and its charge is in flight (bounded). */
async function untilCharging(s: Awaited<ReturnType<typeof saga>>, orderId: string) {
  const waitFor = Date.now() + 5_000
  while ((await s.decisions.read(orderId))?.payment?.state !== 'charging' && Date.now() < waitFor)
    await new Promise((resolve) => setTimeout(resolve, 20))
}

/** The order's deadline fires: inventory relays it (checked), and the payment worker's answer to it. */
async function fireDeadline(s: Awaited<ReturnType<typeof saga>>, orderId: string) {
  const due = deadlineOf(orderId)
  expect((await s.relay(due, ctx)).map((event) => event.subject)).toStrictEqual([
    SUBJECTS.orderCancelRequested,
  ])
  return s.cancel(due, ctx)
}

describe('the deadline after a lost cancellation and a late refund', () => {
  it.each([
    ['the customer cancelled while the charge was unanswered', true, SUBJECTS.orderCancelled],
    ['nobody cancelled (the order ended payment_failed)', false, SUBJECTS.paymentFailed],
  ] as const)('releases the held stock when %s', async (_, customerCancels, releasedBy) => {
    const s = await saga(customerCancels ? 'cancelled' : 'failed')
    const orderId = crypto.randomUUID()
    const reserved = await reserveOrder(s, orderId)
    const paying = s.pay(reserved.payload as never, ctx)
    // The cancellation waits on the charge in flight.
    await untilCharging(s, orderId)
    if (customerCancels) {
      const request: OrderCancelRequested = {
        version: 1,
        orderId,
        occurredAt: new Date().toISOString(),
        reason: 'customer_request',
      }
      expect(await s.cancel(request, ctx)).toStrictEqual([])
    }
    s.answer()
    // What this delivery says is lost: its publish failed, and it was dead-lettered.
    const lost = await paying
    expect(lost.map((event) => event.subject)).toStrictEqual([releasedBy])
    await s.reconciler.scan()
    const decided = await s.decisions.read(orderId)
    expect(decided?.payment?.state).toBe('refunded')
    expect(toStockView((await s.store.getStock('MUG-002'))!)).toMatchObject({ onHand: 5, reserved: 2 })

    const said = await fireDeadline(s, orderId)
    expect(said.map((event) => event.subject)).toContain(releasedBy)
    await deliver(s, said)
    expect(toStockView((await s.store.getStock('MUG-002'))!)).toMatchObject({
      onHand: 5,
      reserved: 0,
      available: 5,
    })
    expect((await s.store.getReservation(orderId))?.state).toBe('released')
  })

  it("releases the held stock when the deadline's own cancellation was lost: reconciliation says it", async () => {
    const s = await saga('expired')
    const orderId = crypto.randomUUID()
    const reserved = await reserveOrder(s, orderId)
    const paying = s.pay(reserved.payload as never, ctx)
    await untilCharging(s, orderId)
    // The deadline comes while the charge is in flight: the order is cancelled, the key reconciled.
    const lost = await fireDeadline(s, orderId)
    expect(lost.map((event) => event.subject)).toStrictEqual([SUBJECTS.orderCancelled])
    s.answer()
    await paying
    // That orders.cancelled was lost with its dead-lettered delivery, and the deadline fires once.
    await s.reconciler.scan()
    expect(s.reconciled.map((event) => event.subject)).toStrictEqual([
      SUBJECTS.paymentRefunded,
      SUBJECTS.orderCancelled,
    ])
    expect(s.reconciled[1]?.msgId).toBe(lost[0]?.msgId)
    await deliver(s, s.reconciled)
    expect((await s.store.getReservation(orderId))?.state).toBe('released')
    expect(toStockView((await s.store.getStock('MUG-002'))!)).toMatchObject({ onHand: 5, reserved: 0 })
  })

  it('releases the held stock of a declined order whose payments.failed was lost', async () => {
    const s = await saga('declined', 'declined')
    const orderId = crypto.randomUUID()
    const reserved = await reserveOrder(s, orderId)
    s.answer()
    const lost = await s.pay(reserved.payload as never, ctx)
    expect(lost.map((event) => event.subject)).toStrictEqual([SUBJECTS.paymentFailed])
    const said = await fireDeadline(s, orderId)
    expect(said.map((event) => [event.subject, event.msgId])).toStrictEqual(
      lost.map((event) => [event.subject, event.msgId]),
    )
    await deliver(s, said)
    expect((await s.store.getReservation(orderId))?.state).toBe('released')
    expect(toStockView((await s.store.getStock('MUG-002'))!)).toMatchObject({ onHand: 5, reserved: 0 })
  })

  it("returns the units of a sold order refunded at a customer's request whose cancellation was lost", async () => {
    const s = await saga('sold-refunded', 'succeeded')
    const orderId = crypto.randomUUID()
    const reserved = await reserveOrder(s, orderId)
    s.answer()
    await deliver(s, await s.pay(reserved.payload as never, ctx))
    expect((await s.store.getReservation(orderId))?.state).toBe('sold')
    // The customer cancels the confirmed order: refunded at the processor, and
    // what the delivery says is lost with it (dead-lettered).
    const request: OrderCancelRequested = {
      version: 1,
      orderId,
      occurredAt: new Date().toISOString(),
      reason: 'customer_request',
    }
    const lost = await s.cancel(request, ctx)
    expect(lost.map((event) => event.subject)).toStrictEqual([
      SUBJECTS.paymentRefunded,
      SUBJECTS.orderCancelled,
    ])
    expect((await s.decisions.read(orderId))?.payment?.state).toBe('refunded')
    expect(toStockView((await s.store.getStock('MUG-002'))!)).toMatchObject({ onHand: 3 })

    const said = await fireDeadline(s, orderId)
    // The same refund and cancellation, under the same ids, with the customer's reason.
    expect(said.map((event) => [event.subject, event.msgId])).toStrictEqual(
      lost.map((event) => [event.subject, event.msgId]),
    )
    expect(said.at(-1)?.payload).toMatchObject({ reason: 'customer_request' })
    await deliver(s, said)
    expect((await s.store.getReservation(orderId))?.state).toBe('returned')
    expect(toStockView((await s.store.getStock('MUG-002'))!)).toMatchObject({
      onHand: 5,
      reserved: 0,
      available: 5,
    })
  })

  it('confirms and sells a charged order whose payments.completed was lost', async () => {
    const s = await saga('charged', 'succeeded')
    const orderId = crypto.randomUUID()
    const reserved = await reserveOrder(s, orderId)
    s.answer()
    // Charged at the processor and recorded; the publish is lost with the dead-lettered delivery.
    const lost = await s.pay(reserved.payload as never, ctx)
    expect(lost.map((event) => event.subject)).toStrictEqual([SUBJECTS.paymentCompleted])
    expect((await s.decisions.read(orderId))?.payment?.state).toBe('charged')
    expect((await s.store.getReservation(orderId))?.state).toBe('reserved')

    const said = await fireDeadline(s, orderId)
    // The same event under the same id, never a cancellation or a refund of a paid order.
    expect(said.map((event) => [event.subject, event.msgId])).toStrictEqual(
      lost.map((event) => [event.subject, event.msgId]),
    )
    await deliver(s, said)
    expect((await s.store.getReservation(orderId))?.state).toBe('sold')
    expect(toStockView((await s.store.getStock('MUG-002'))!)).toMatchObject({
      onHand: 3,
      reserved: 0,
      available: 3,
    })
    expect((await s.decisions.read(orderId))?.payment?.state).toBe('charged')
  })
})
