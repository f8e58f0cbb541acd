// Two deliveries of one `orders.created` deciding at once: the first stalled
// past its reservation lease (a frozen process, a NATS outage), the second
// took over. On real KV buckets, whatever the order of their steps, the order
// ends with one outcome, its stock held once (or not at all) and nothing
// held for an order that holds nothing.
import { jetstreamManager } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/nats-core'
import { TimeoutError } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import * as v from 'valibot'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EVENT_SCHEMAS, type EventOf, type OrderCreatedV1Event } from '../schemas/events.ts'
import { BUCKETS, SUBJECTS } from '../schemas/subjects.ts'
import type { MessageContext } from '../shared/nats/consumer.ts'
import { isNatsUnavailable } from '../shared/nats/errors.ts'
import { DEFAULT_LIMITS, ensureBucket, ensureStreams } from '../shared/nats/topology.ts'
import { createLogger } from '../shared/observability/logger.ts'
import { kvDecisionStore } from '../shared/saga/decision.ts'
import { releaseHold, toStockView } from '../workers/inventory/domain.ts'
import { createDeadlineRelay, createInventoryHandlers } from '../workers/inventory/handlers.ts'
import { createStockStore, type StockStore } from '../workers/inventory/stock-store.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'
import { waitFor } from './harness/wait-for.ts'

let server: NatsServerHandle
let nc: NatsConnection
let stockKv: KV
let reservationsKv: KV
let decisionsKv: KV
const ctx: MessageContext = {
  correlationId: 'c',
  priority: 'standard',
  deliveryCount: 1,
  logger: createLogger({ service: 't', level: 'silent' }),
}
const LEASE_MS = 300
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const created = (orderId: string, items: { sku: string; quantity: number }[]): OrderCreatedV1Event => ({
  version: 1,
  orderId,
  occurredAt: new Date().toISOString(),
  customerId: 'c',
  items,
  sealedPaymentToken: 'sealed.v1.test',
})

/** One inventory process: its own stores (own record caches) on the shared buckets. */
function inventory(store: StockStore = createStockStore(stockKv, reservationsKv), leaseMs = LEASE_MS) {
  return createInventoryHandlers({
    store,
    decisions: kvDecisionStore(decisionsKv),
    currency: 'USD',
    deadlineMs: 600_000,
    scheduleDeadline: () => Promise.resolve(),
    leaseMs,
  })
}

/** A gate a stalled call waits at until `open()`. */
function gate() {
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return { opened, open }
}

/**
 * A store of its own (as another process has) whose `method` waits for
 * `stall` before it runs: for the sku `onlySku` only, when given.
 */
function stalledStore(
  method: 'takeHold' | 'putReservation',
  stall: Promise<void>,
  onlySku?: string,
): StockStore {
  const own = createStockStore(stockKv, reservationsKv)
  const run = own[method] as (...args: unknown[]) => Promise<unknown>
  const waiting = async (...args: unknown[]) => {
    if (onlySku === undefined || args[0] === onlySku) await stall
    return run(...args)
  }
  return { ...own, [method]: waiting }
}

/** The order's deadline as the relay handles it when it fires. */
const deadline = (orderId: string) =>
  createDeadlineRelay({
    decisions: kvDecisionStore(decisionsKv),
    reservations: createStockStore(stockKv, reservationsKv),
  })[SUBJECTS.orderCancelRequested]!(
    { version: 1, orderId, occurredAt: new Date().toISOString(), reason: 'deadline_exceeded' },
    ctx,
  )

/** A store of its own whose holds wait for `stall`, and whose process is killed after one (its record never written). */
function killedAfterItsHold(stall: Promise<void>): StockStore {
  return {
    ...stalledStore('takeHold', stall),
    putReservation: () => new Promise(() => undefined),
  }
}

const outcome = (events: readonly { subject: string; payload: unknown }[]) =>
  events.map((e) => [e.subject, (e.payload as { reason?: string }).reason ?? null])

async function stockOf(sku: string) {
  const record = await createStockStore(stockKv, reservationsKv).getStock(sku)
  return record === null ? null : { ...toStockView(record), holds: record.holds }
}

beforeAll(async () => {
  server = await startNatsServer({ websocket: false })
  nc = await connect(server.connectOptions())
  await ensureStreams(await jetstreamManager(nc), DEFAULT_LIMITS)
  stockKv = await ensureBucket(nc, BUCKETS.stock, DEFAULT_LIMITS)
  reservationsKv = await ensureBucket(nc, BUCKETS.reservations, DEFAULT_LIMITS)
  decisionsKv = await ensureBucket(nc, BUCKETS.decisions, DEFAULT_LIMITS)
})

afterAll(async () => {
  await nc?.close()
  await server?.dispose()
})

describe('a delivery stalled past its reservation lease', () => {
  it('gives back a hold it took after the delivery that took over found the order short', async () => {
    const admin = createStockStore(stockKv, reservationsKv)
    await admin.setStock('L1-A', { onHand: 5, priceCents: 100 })
    await admin.setStock('L1-B', { onHand: 1, priceCents: 100 })
    expect((await admin.takeHold('L1-B', 'another-order', 1)).kind).toBe('held')
    const stall = gate()
    const stalled = stalledStore('takeHold', stall.opened, 'L1-B')
    const orderId = '00000000-0000-4000-8000-00000000b001'
    const order = created(orderId, [
      { sku: 'L1-A', quantity: 1 },
      { sku: 'L1-B', quantity: 1 },
    ])
    const first = inventory(stalled)[SUBJECTS.orderCreated](order, ctx) // holds L1-A, stalls before L1-B
    await sleep(LEASE_MS + 200)
    const second = await inventory()[SUBJECTS.orderCreated](order, ctx)
    expect(outcome(second)).toStrictEqual([[SUBJECTS.orderCancelled, 'out_of_stock']])
    // The other order lets L1-B go, so the stalled delivery's hold on it succeeds.
    await admin.changeHold('L1-B', (r) => releaseHold(r, 'another-order'))
    stall.open()
    expect(outcome(await first)).toStrictEqual([[SUBJECTS.orderCancelled, 'out_of_stock']])
    expect((await admin.getReservation(orderId))?.state).toBe('rejected')
    expect(await stockOf('L1-A')).toMatchObject({ reserved: 0, holds: {} })
    expect(await stockOf('L1-B')).toMatchObject({ reserved: 0, holds: {} })
  })

  it('claims no cancellation when the delivery that took over reserved the order after a restock', async () => {
    const admin = createStockStore(stockKv, reservationsKv)
    await admin.setStock('L2-A', { onHand: 0, priceCents: 100 })
    const stall = gate()
    const stalled = stalledStore('putReservation', stall.opened)
    const orderId = '00000000-0000-4000-8000-00000000b002'
    const order = created(orderId, [{ sku: 'L2-A', quantity: 2 }])
    const first = inventory(stalled)[SUBJECTS.orderCreated](order, ctx) // short; stalls before its record
    await sleep(LEASE_MS + 200)
    await admin.setStock('L2-A', { onHand: 5, priceCents: 100 })
    const p2 = inventory()
    expect(outcome(await p2[SUBJECTS.orderCreated](order, ctx))).toStrictEqual([
      [SUBJECTS.inventoryReserved, null],
    ])
    stall.open()
    // The stalled delivery says what stands, and claims nothing.
    expect(outcome(await first)).toStrictEqual([[SUBJECTS.inventoryReserved, null]])
    expect(await kvDecisionStore(decisionsKv).read(orderId)).toBeNull()
    expect(await stockOf('L2-A')).toMatchObject({ onHand: 5, reserved: 2 })
    // The sale finds its hold: the units sold are taken off hand.
    await p2[SUBJECTS.paymentCompleted](
      {
        version: 1,
        orderId,
        occurredAt: new Date().toISOString(),
        chargeId: 'ch_1',
        amountCents: 200,
        currency: 'USD',
      },
      ctx,
    )
    expect(await stockOf('L2-A')).toMatchObject({ onHand: 3, reserved: 0 })
  })

  it('gives back nothing the delivery that took over holds, after finding a sku short', async () => {
    const admin = createStockStore(stockKv, reservationsKv)
    await admin.setStock('L3-A', { onHand: 5, priceCents: 100 })
    await admin.setStock('L3-B', { onHand: 0, priceCents: 100 })
    const stall = gate()
    const stalled = stalledStore('putReservation', stall.opened)
    const orderId = '00000000-0000-4000-8000-00000000b003'
    const order = created(orderId, [
      { sku: 'L3-A', quantity: 1 },
      { sku: 'L3-B', quantity: 1 },
    ])
    // Holds L3-A, finds L3-B short, stalls before recording it (and before giving L3-A back).
    const first = inventory(stalled)[SUBJECTS.orderCreated](order, ctx)
    await sleep(LEASE_MS + 200)
    await admin.setStock('L3-B', { onHand: 5, priceCents: 100 })
    expect(outcome(await inventory()[SUBJECTS.orderCreated](order, ctx))).toStrictEqual([
      [SUBJECTS.inventoryReserved, null],
    ])
    stall.open()
    expect(outcome(await first)).toStrictEqual([[SUBJECTS.inventoryReserved, null]])
    expect(await kvDecisionStore(decisionsKv).read(orderId)).toBeNull()
    // Had it given its holds back before recording, the reserved order's holds would be gone.
    expect(await stockOf('L3-A')).toMatchObject({ reserved: 1 })
    expect(await stockOf('L3-B')).toMatchObject({ reserved: 1 })
  })

  it('repeats the reservation of the delivery that took over, holding nothing twice', async () => {
    const admin = createStockStore(stockKv, reservationsKv)
    await admin.setStock('L4-A', { onHand: 5, priceCents: 100 })
    await admin.setStock('L4-B', { onHand: 5, priceCents: 100 })
    const stall = gate()
    const stalled = stalledStore('takeHold', stall.opened, 'L4-B')
    const orderId = '00000000-0000-4000-8000-00000000b004'
    const order = created(orderId, [
      { sku: 'L4-A', quantity: 1 },
      { sku: 'L4-B', quantity: 2 },
    ])
    const first = inventory(stalled)[SUBJECTS.orderCreated](order, ctx)
    await sleep(LEASE_MS + 200)
    expect(outcome(await inventory()[SUBJECTS.orderCreated](order, ctx))).toStrictEqual([
      [SUBJECTS.inventoryReserved, null],
    ])
    stall.open()
    expect(outcome(await first)).toStrictEqual([[SUBJECTS.inventoryReserved, null]])
    expect(await stockOf('L4-A')).toMatchObject({ reserved: 1 })
    expect(await stockOf('L4-B')).toMatchObject({ reserved: 2 })
  })

  it('a cancellation claimed by the stalled delivery before the takeover stands for both', async () => {
    const admin = createStockStore(stockKv, reservationsKv)
    await admin.setStock('L5-A', { onHand: 0, priceCents: 100 })
    const stall = gate()
    const decisions = kvDecisionStore(decisionsKv)
    const stalledDecisions: typeof decisions = {
      ...decisions,
      update: async (...args) => {
        await stall.opened
        return decisions.update(...args)
      },
    }
    const p1 = createInventoryHandlers({
      store: createStockStore(stockKv, reservationsKv),
      decisions: stalledDecisions,
      currency: 'USD',
      deadlineMs: 600_000,
      scheduleDeadline: () => Promise.resolve(),
      leaseMs: LEASE_MS,
    })
    const orderId = '00000000-0000-4000-8000-00000000b005'
    const order = created(orderId, [{ sku: 'L5-A', quantity: 2 }])
    // Short: writes `rejected` under its lease, then stalls before claiming the cancellation.
    const first = p1[SUBJECTS.orderCreated](order, ctx)
    await sleep(LEASE_MS + 200)
    await admin.setStock('L5-A', { onHand: 5, priceCents: 100 })
    // A redelivery finds the order decided: it claims the cancellation the first could not yet.
    expect(outcome(await inventory()[SUBJECTS.orderCreated](order, ctx))).toStrictEqual([
      [SUBJECTS.orderCancelled, 'out_of_stock'],
    ])
    stall.open()
    expect(outcome(await first)).toStrictEqual([[SUBJECTS.orderCancelled, 'out_of_stock']])
    expect(await decisions.read(orderId)).toMatchObject({ decision: 'cancelled', reason: 'out_of_stock' })
    expect(await stockOf('L5-A')).toMatchObject({ reserved: 0 })
  })

  it('leaves its late hold to its redelivery when it dies before giving it back', async () => {
    const admin = createStockStore(stockKv, reservationsKv)
    await admin.setStock('L8-A', { onHand: 5, priceCents: 100 })
    await admin.setStock('L8-B', { onHand: 0, priceCents: 100 })
    const stall = gate()
    const own = createStockStore(stockKv, reservationsKv)
    const dying: StockStore = {
      ...own,
      takeHold: async (...args) => {
        await stall.opened
        return own.takeHold(...args)
      },
      // Killed while giving back (its process is gone): never settles.
      changeHold: () => new Promise(() => undefined),
    }
    const orderId = '00000000-0000-4000-8000-00000000b009'
    const order = created(orderId, [
      { sku: 'L8-A', quantity: 1 },
      { sku: 'L8-B', quantity: 1 },
    ])
    void inventory(dying)[SUBJECTS.orderCreated](order, ctx) // stalls before its first hold
    await sleep(LEASE_MS + 200)
    expect(outcome(await inventory()[SUBJECTS.orderCreated](order, ctx))).toStrictEqual([
      [SUBJECTS.orderCancelled, 'out_of_stock'],
    ])
    stall.open() // holds L8-A, finds L8-B short and the order decided, dies giving L8-A back
    await waitFor(async () => (await stockOf('L8-A'))?.reserved === 1, {
      timeoutMs: 5_000,
      message: 'the late hold',
    })
    // Its message comes back after the ack wait: the redelivery finds `rejected`, and gives the hold back.
    expect(outcome(await inventory()[SUBJECTS.orderCreated](order, ctx))).toStrictEqual([
      [SUBJECTS.orderCancelled, 'out_of_stock'],
    ])
    expect(await stockOf('L8-A')).toMatchObject({ reserved: 0 })
  })

  it('is given back at the deadline when the delivery that recorded the shortage died and nothing came back', async () => {
    const admin = createStockStore(stockKv, reservationsKv)
    await admin.setStock('L9-A', { onHand: 5, priceCents: 100 })
    await admin.setStock('L9-B', { onHand: 0, priceCents: 100 })
    const own = createStockStore(stockKv, reservationsKv)
    let dead = false
    const dying: StockStore = {
      ...own,
      putReservation: async (...args) => {
        const standing = await own.putReservation(...args)
        if (args[0].state !== 'rejected') return standing
        dead = true // killed right after recording the shortage, before any give-back
        return new Promise(() => undefined)
      },
      changeHold: (...args) => (dead ? new Promise(() => undefined) : own.changeHold(...args)),
    }
    const orderId = '00000000-0000-4000-8000-00000000b00a'
    void inventory(dying)[SUBJECTS.orderCreated](
      created(orderId, [
        { sku: 'L9-A', quantity: 1 },
        { sku: 'L9-B', quantity: 1 },
      ]),
      ctx,
    )
    await waitFor(async () => (await admin.getReservation(orderId))?.state === 'rejected', {
      timeoutMs: 5_000,
      message: 'the shortage recorded',
    })
    expect(await stockOf('L9-A')).toMatchObject({ reserved: 1 })
    // Its redelivery taken by an instance of an earlier release (it says out_of_stock and gives
    // nothing back), or its last delivery dead-lettered: what is left is the order's deadline.
    expect(await deadline(orderId)).toStrictEqual([])
    expect(await stockOf('L9-A')).toMatchObject({ reserved: 0 })
  })

  it('gives back a hold taken while a failed payment releases the order', async () => {
    const admin = createStockStore(stockKv, reservationsKv)
    await admin.setStock('L10-A', { onHand: 5, priceCents: 100 })
    const stall = gate()
    const stalled = stalledStore('takeHold', stall.opened)
    const orderId = '00000000-0000-4000-8000-00000000b00b'
    const order = created(orderId, [{ sku: 'L10-A', quantity: 2 }])
    const first = inventory(stalled)[SUBJECTS.orderCreated](order, ctx) // stalls before its hold
    await sleep(LEASE_MS + 200)
    expect(outcome(await inventory()[SUBJECTS.orderCreated](order, ctx))).toStrictEqual([
      [SUBJECTS.inventoryReserved, null],
    ])
    // The charge is declined: payments.failed is handled in two steps (the
    // record, the stock), and pauses between them.
    const between = gate()
    const resumed = gate()
    const third = createStockStore(stockKv, reservationsKv)
    let steps = 0
    const step =
      <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        if (steps++ === 1) {
          between.open()
          await resumed.opened
        }
        return call(...args)
      }
    const releasing: StockStore = {
      ...third,
      putReservation: step(third.putReservation),
      changeHold: step(third.changeHold),
    }
    const failed = inventory(releasing)[SUBJECTS.paymentFailed](
      { version: 1, orderId, occurredAt: new Date().toISOString(), reason: 'declined' },
      ctx,
    )
    await between.opened
    stall.open() // the stalled delivery takes its hold now
    await first
    resumed.open()
    expect(outcome(await failed)).toStrictEqual([[SUBJECTS.inventoryReleased, 'payment_failed']])
    expect((await admin.getReservation(orderId))?.state).toBe('released')
    expect(await stockOf('L10-A')).toMatchObject({ reserved: 0 })
  })

  it('is given back at the deadline when it took a hold late and died, the message acked by the other', async () => {
    const admin = createStockStore(stockKv, reservationsKv)
    await admin.setStock('L11-A', { onHand: 5, priceCents: 100 })
    const stall = gate()
    const dying = killedAfterItsHold(stall.opened)
    const orderId = '00000000-0000-4000-8000-00000000b00c'
    const order = created(orderId, [{ sku: 'L11-A', quantity: 2 }])
    void inventory(dying)[SUBJECTS.orderCreated](order, ctx)
    await sleep(LEASE_MS + 200)
    const p2 = inventory()
    expect(outcome(await p2[SUBJECTS.orderCreated](order, ctx))).toStrictEqual([
      [SUBJECTS.inventoryReserved, null],
    ])
    await p2[SUBJECTS.paymentFailed](
      { version: 1, orderId, occurredAt: new Date().toISOString(), reason: 'declined' },
      ctx,
    )
    stall.open() // takes a hold on the released order, then dies
    await waitFor(async () => (await stockOf('L11-A'))?.reserved === 2, {
      timeoutMs: 5_000,
      message: 'the late hold',
    })
    expect(await deadline(orderId)).toStrictEqual([])
    expect(await stockOf('L11-A')).toMatchObject({ reserved: 0 })
  })

  it('is given back at the deadline when a customer cancelled the order during the stall', async () => {
    const admin = createStockStore(stockKv, reservationsKv)
    await admin.setStock('L12-A', { onHand: 5, priceCents: 100 })
    const stall = gate()
    const dying = killedAfterItsHold(stall.opened)
    const orderId = '00000000-0000-4000-8000-00000000b00d'
    const order = created(orderId, [{ sku: 'L12-A', quantity: 2 }])
    void inventory(dying)[SUBJECTS.orderCreated](order, ctx) // its lease taken, stalls before its hold
    const p2 = inventory()
    const cancel = await p2[SUBJECTS.orderCancelRequested](
      { version: 1, orderId, occurredAt: new Date().toISOString(), reason: 'customer_request' },
      ctx,
    )
    expect(outcome(cancel)).toStrictEqual([[SUBJECTS.orderCancelled, 'customer_request']])
    await sleep(LEASE_MS + 200)
    // The redelivery takes over and records the order cancelled, holding nothing; its
    // orders.cancelled then finds nothing to release.
    expect(await p2[SUBJECTS.orderCreated](order, ctx)).toStrictEqual([])
    await p2[SUBJECTS.orderCancelled](cancel[0]!.payload as EventOf<typeof SUBJECTS.orderCancelled>, ctx)
    stall.open() // the stalled delivery takes its hold now, then dies
    await waitFor(async () => (await stockOf('L12-A'))?.reserved === 2, {
      timeoutMs: 5_000,
      message: 'the late hold',
    })
    expect(await deadline(orderId)).toStrictEqual([])
    expect(await stockOf('L12-A')).toMatchObject({ reserved: 0 })
  })
})

describe('the same delivery handled again', () => {
  it('takes its own lease again at once after the reply to the lease was lost', async () => {
    let lose = true
    const lossy = new Proxy(reservationsKv, {
      get(target, prop, receiver) {
        if (prop === 'create')
          return async (...args: Parameters<KV['create']>) => {
            const revision = await target.create(...args)
            if (lose) {
              lose = false
              throw new TimeoutError()
            }
            return revision
          }
        const value = Reflect.get(target, prop, receiver) as unknown
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
      },
    })
    const store = createStockStore(stockKv, lossy)
    await store.setStock('L6-A', { onHand: 5, priceCents: 100 })
    const handlers = inventory(store, 30_000)
    const order = created('00000000-0000-4000-8000-00000000b006', [{ sku: 'L6-A', quantity: 1 }])
    const delivery = { ...ctx, streamSequence: 42, deliveryCount: 1 }
    const error = await handlers[SUBJECTS.orderCreated](order, delivery).catch((e: unknown) => e)
    expect(isNatsUnavailable(error)).toBe(true) // the message loop handles it again
    expect(outcome(await handlers[SUBJECTS.orderCreated](order, delivery))).toStrictEqual([
      [SUBJECTS.inventoryReserved, null],
    ])
  })
})

describe('orders.created as consumed', () => {
  it('is refused when it names a sku on two lines (priced twice, held once)', () => {
    const result = v.safeParse(
      EVENT_SCHEMAS[SUBJECTS.orderCreated],
      created('00000000-0000-4000-8000-00000000b008', [
        { sku: 'L7-A', quantity: 1 },
        { sku: 'L7-A', quantity: 5 },
      ]),
    )
    expect(result.success).toBe(false)
    expect(result.issues?.map((i) => [v.getDotPath(i), i.message])).toStrictEqual([
      ['items', 'must not repeat a sku'],
    ])
  })
})
