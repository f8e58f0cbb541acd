// kvDecisionStore on a real bucket: writes at the revision this process last
// wrote or read (no read before a write), a create for a first claim, a read
// only when the guess was stale; every outcome still decided on what is stored.
// And what it saves: the payment worker confirms an order with two decision
// writes and no read.
import { jetstreamManager } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BUCKETS, SUBJECTS } from '../schemas/subjects.ts'
import type { Handler, MessageContext } from '../shared/nats/consumer.ts'
import { DEFAULT_LIMITS, ensureBucket, ensureStreams } from '../shared/nats/topology.ts'
import { createLogger } from '../shared/observability/logger.ts'
import {
  claimCancellation,
  kvDecisionStore,
  type OrderDecision,
  type PaymentPart,
} from '../shared/saga/decision.ts'
import { createPaymentHandlers } from '../workers/payment/handlers.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'

let server: NatsServerHandle
let nc: NatsConnection
let kv: KV
const count = { reads: 0, writes: 0 }
const at = '2026-01-01T00:00:00.000Z'
const now = () => new Date(at)
let serial = 0
const newOrderId = () => `00000000-0000-4000-8000-${String(++serial).padStart(12, '0')}`

/** Decision read and write requests so far, refused writes included (every client's: core NATS fans them out to us too). */
async function counted(): Promise<{ reads: number; writes: number }> {
  await nc.flush()
  return { ...count }
}
async function costOf(work: () => Promise<unknown>): Promise<{ reads: number; writes: number }> {
  const before = await counted()
  await work()
  const after = await counted()
  return { reads: after.reads - before.reads, writes: after.writes - before.writes }
}

const paying = (orderId: string): OrderDecision => ({
  orderId,
  decision: 'paying',
  decidedBy: 'payment',
  decidedAt: at,
  updatedAt: at,
  payment: { state: 'charging', amountCents: 500, currency: 'USD' },
})
const claimPaying = (orderId: string) => (current: OrderDecision | null) =>
  current === null ? { value: paying(orderId), result: 'claimed' } : { result: current.decision }
const setState = (state: PaymentPart['state']) => (current: OrderDecision | null) => {
  if (current?.payment === undefined) throw new Error('no payment part')
  const value = { ...current, payment: { ...current.payment, state } }
  return { value, result: value }
}

beforeAll(async () => {
  server = await startNatsServer({ websocket: false })
  nc = await connect(server.connectOptions())
  await ensureStreams(await jetstreamManager(nc), DEFAULT_LIMITS)
  kv = await ensureBucket(nc, BUCKETS.decisions, DEFAULT_LIMITS)
  nc.subscribe(`$JS.API.STREAM.MSG.GET.KV_${BUCKETS.decisions}`, { callback: () => void count.reads++ })
  nc.subscribe(`$JS.API.DIRECT.GET.KV_${BUCKETS.decisions}.>`, { callback: () => void count.reads++ })
  nc.subscribe(`$KV.${BUCKETS.decisions}.>`, { callback: () => void count.writes++ })
})

afterAll(async () => {
  await nc?.close()
  await server?.dispose()
})

describe('kvDecisionStore', () => {
  it('claims an order with a create and settles it at the revision it wrote: two writes, no read', async () => {
    const store = kvDecisionStore(kv)
    const orderId = newOrderId()
    const cost = await costOf(async () => {
      expect(await store.update(orderId, claimPaying(orderId), { assumeAbsent: true })).toBe('claimed')
      await store.update(orderId, setState('charged'))
    })
    expect(cost).toStrictEqual({ reads: 0, writes: 2 })
    expect((await kvDecisionStore(kv).read(orderId))?.payment?.state).toBe('charged')
  })

  it('decides a claim on the stored record when a cancellation claimed the order first', async () => {
    const orderId = newOrderId()
    await claimCancellation(kvDecisionStore(kv), orderId, 'customer_request', 'inventory', now)
    const store = kvDecisionStore(kv)
    // The create is refused on the record, which is then read: no charge is claimed.
    const cost = await costOf(async () => {
      expect(await store.update(orderId, claimPaying(orderId), { assumeAbsent: true })).toBe('cancelled')
    })
    expect(cost).toStrictEqual({ reads: 1, writes: 1 })
  })

  it("keeps another process's change: a stale revision fails, is read, and the change is decided again", async () => {
    const orderId = newOrderId()
    const [payment, other] = [kvDecisionStore(kv), kvDecisionStore(kv)]
    await payment.update(orderId, claimPaying(orderId), { assumeAbsent: true })
    // Another payment worker notes a cancellation on the charge in flight.
    await other.update(orderId, (current) => {
      if (current?.payment === undefined) throw new Error('no payment part')
      const value = {
        ...current,
        payment: { ...current.payment, cancelRequested: 'customer_request' as const },
      }
      return { value, result: undefined }
    })
    // The write at the revision it knows is refused; it reads and writes again.
    const cost = await costOf(() => payment.update(orderId, setState('charged')))
    expect(cost).toStrictEqual({ reads: 1, writes: 2 })
    expect((await other.read(orderId))?.payment).toMatchObject({
      state: 'charged',
      cancelRequested: 'customer_request',
    })
  })

  it('decides not to write only on the stored record, never on what it last wrote', async () => {
    const orderId = newOrderId()
    const [mine, other] = [kvDecisionStore(kv), kvDecisionStore(kv)]
    await mine.update(orderId, claimPaying(orderId), { assumeAbsent: true }) // it knows `charging`
    await other.update(orderId, setState('charged'))
    // On its stale `charging` it would leave the record; on the stored `charged` it writes.
    const refundIfCharged = (current: OrderDecision | null) =>
      current?.payment?.state === 'charged' ? setState('refunding')(current) : { result: current }
    expect((await mine.update(orderId, refundIfCharged))?.payment?.state).toBe('refunding')
  })

  it('reads first once an order has left its bounded cache', async () => {
    const store = kvDecisionStore(kv, { cacheSize: 2 })
    const orders = [newOrderId(), newOrderId(), newOrderId()]
    for (const orderId of orders) await store.update(orderId, claimPaying(orderId), { assumeAbsent: true })
    const [oldest, newest] = [orders[0] ?? '', orders[2] ?? '']
    expect(await costOf(() => store.update(newest, setState('charged')))).toStrictEqual({
      reads: 0,
      writes: 1,
    })
    expect(await costOf(() => store.update(oldest, setState('charged')))).toStrictEqual({
      reads: 1,
      writes: 1,
    })
  })

  it('claims an order whose record was deleted by hand, over its tombstone', async () => {
    const orderId = newOrderId()
    await kvDecisionStore(kv).update(orderId, claimPaying(orderId), { assumeAbsent: true })
    await kv.delete(orderId)
    const claim = await claimCancellation(kvDecisionStore(kv), orderId, 'deadline_exceeded', 'payment', now, {
      assumeAbsent: true,
    })
    expect(claim.kind).toBe('cancelled')
    expect((await kvDecisionStore(kv).read(orderId))?.decision).toBe('cancelled')
  })
})

describe('the payment worker on a real decision bucket', () => {
  const ctx: MessageContext = {
    correlationId: 'c',
    priority: 'standard',
    deliveryCount: 1,
    logger: createLogger({ service: 't', level: 'silent' }),
  }
  const charges: string[] = []
  const refunds: string[] = []
  const handlers = () => {
    const h = createPaymentHandlers({
      gateway: {
        charge: (request) => {
          charges.push(request.orderId)
          return Promise.resolve({ kind: 'succeeded', chargeId: `ch_${request.orderId}` })
        },
        refund: (input) => {
          refunds.push(input.chargeId)
          return Promise.resolve({ refundId: `re_${input.chargeId}`, amountCents: 500 })
        },
      },
      decisions: kvDecisionStore(kv),
      reconcile: () => Promise.resolve(),
      tokens: { open: () => Promise.resolve('tok_ok') },
      maxPauseMs: 60_000,
      now,
    })
    return {
      pay: h[SUBJECTS.inventoryReserved] as Handler<typeof SUBJECTS.inventoryReserved>,
      cancel: h[SUBJECTS.orderCancelRequested] as Handler<typeof SUBJECTS.orderCancelRequested>,
    }
  }
  const reserved = (orderId: string) => ({
    ...{ version: 1 as const, orderId, occurredAt: at, amountCents: 500, currency: 'USD' },
    ...{ items: [{ sku: 'A', quantity: 1, unitPriceCents: 500 }], sealedPaymentToken: 'sealed' },
  })
  const customerCancel = (orderId: string) => ({
    ...{ version: 1 as const, orderId, occurredAt: at, reason: 'customer_request' as const },
  })

  it('confirms an order with two decision writes and no read', async () => {
    const { pay } = handlers()
    const orderId = newOrderId()
    let events: readonly { subject: string }[] = []
    const cost = await costOf(async () => {
      events = await pay(reserved(orderId), ctx)
    })
    expect(events.map((e) => e.subject)).toStrictEqual([SUBJECTS.paymentCompleted])
    expect(cost).toStrictEqual({ reads: 0, writes: 2 })
    expect(charges.filter((c) => c === orderId)).toHaveLength(1)
  })

  it('charges nothing for an order another worker cancelled first, and refunds a confirmed one once', async () => {
    const { pay } = handlers()
    const cancelledFirst = newOrderId()
    await claimCancellation(kvDecisionStore(kv), cancelledFirst, 'customer_request', 'inventory', now)
    expect(await pay(reserved(cancelledFirst), ctx)).toStrictEqual([])
    expect(charges).not.toContain(cancelledFirst)

    const confirmed = newOrderId()
    await pay(reserved(confirmed), ctx)
    // Another payment worker takes the customer's cancel: one read decides it, then the refund's writes.
    const other = handlers()
    let subjects: string[] = []
    const cost = await costOf(async () => {
      subjects = (await other.cancel(customerCancel(confirmed), ctx)).map((e) => e.subject)
    })
    expect(subjects).toStrictEqual([SUBJECTS.paymentRefunded, SUBJECTS.orderCancelled])
    expect(cost).toStrictEqual({ reads: 1, writes: 2 }) // refunding, refunded
    // Asked again: no second refund; its refund and cancellation said again (their message ids keep them once).
    const again = await other.cancel(customerCancel(confirmed), ctx)
    expect(again.map((e) => e.subject)).toStrictEqual([SUBJECTS.paymentRefunded, SUBJECTS.orderCancelled])
    expect(refunds.filter((r) => r === `ch_${confirmed}`)).toHaveLength(1)
    expect((await kvDecisionStore(kv).read(confirmed))?.payment?.state).toBe('refunded')
  })
})
